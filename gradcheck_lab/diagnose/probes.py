"""Probes: a small designed set of graphs and calls that tell the catalog's bugs apart.

For every op: the op alone, scaled by 3 so that a missing chain factor shows; the op
reading one node twice (``f(x) + f(x)``, ``x * x``), so that ``=`` instead of ``+=``
shows; the constant on the left (reflected operators). Then a diamond (a node reached
by two paths: a sort without a visited set runs it twice), a second ``backward()`` call
(do gradients accumulate?), a chain deeper than Python's recursion limit, and extreme
inputs where naive formulas overflow.

>>> names = [p.name for p in PROBES]
>>> "reuse:add" in names and "deep-chain" in names and "twice" in names
True
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cases import parse_source
from ..ops import FUNCTIONS, OPS
from ..program import Node, Program, Ref

__all__ = ["PROBES", "Probe"]

DEEP = 1100  #: nodes in the deep chain: past the default recursion limit of 1,000


@dataclass(frozen=True)
class Probe:
    """A program, a point, and how many times to call backward()."""

    name: str
    program: Program
    point: dict[str, float]
    backward_calls: int = 1
    source: str = ""  #: the case source, one line (``;`` between statements)


def _probe(name: str, source: str, point: dict[str, float], calls: int = 1) -> Probe:
    program = parse_source(source)
    text = "; ".join(line.removeprefix("L = ") for line in source.splitlines())
    return Probe(name, program, {x: point[x] for x in program.inputs}, calls, text)


def _deep_chain() -> Program:
    nodes = [Node("input", (), "x", "x")]
    for i in range(DEEP):
        nodes.append(Node("add", (Ref(i), 1.0), "", f"a{i + 1}"))
    return Program(tuple(nodes), DEEP)


def _points(name: str) -> dict[str, float]:
    lo, hi = OPS[name].sample
    x = 0.7 if lo < 0.7 < hi else (lo + hi) / 2
    return {"x": x, "y": 1.9}


def _build() -> list[Probe]:
    probes: list[Probe] = []
    for name, op in FUNCTIONS.items():
        point = _points(name)
        if op.arity == 1:
            probes.append(_probe(f"alone:{name}", f"L = {name}(x) * 3", point))
            probes.append(_probe(f"reuse:{name}", f"L = {name}(x) + {name}(x)", point))
        else:
            probes.append(_probe(f"alone:{name}", f"L = {name}(x, y) * 3", point))
            probes.append(_probe(f"alone:{name}:second", f"L = {name}(y, x) * 3", point))
            probes.append(_probe(f"reuse:{name}", f"L = {name}(x, y) + {name}(x, y)", point))
    xy = {"x": 0.7, "y": 1.9}
    for name, symbol in (("add", "+"), ("mul", "*"), ("sub", "-"), ("div", "/")):
        probes.append(_probe(f"alone:{name}", f"L = (x {symbol} y) * 3", xy))
        probes.append(_probe(f"left:{name}", f"L = (2 {symbol} x) * 3", xy))
    probes += [
        _probe("alone:neg", "L = (-x) * 3", xy),
        _probe("alone:pow", "L = x ** 3 * 3", xy),
        _probe("alone:pow-half", "L = x ** 0.5 * 3", xy),
        _probe("reuse:add", "L = x + x", xy),
        _probe("reuse:mul", "L = x * x", xy),
        _probe("reuse:pow", "L = x ** 2 + x ** 3", xy),
        _probe("reuse:mixed", "a = x * y\nL = a * 2 + exp(a)", xy),
        _probe("diamond", "a = x * 1.5\nb = a * y\nc = a + y\nL = b * c", xy),
        _probe("twice", "L = x * y + x", xy, calls=2),
        _probe("extreme:sigmoid", "L = sigmoid(x) * 3", {"x": -1000.0}),
        _probe("extreme:tanh", "L = tanh(x) * 3", {"x": 400.0}),
        Probe("deep-chain", _deep_chain(), {"x": 0.5}, source=f"x + 1 + 1 + ... ({DEEP} additions)"),
    ]
    return probes


PROBES: tuple[Probe, ...] = tuple(_build())
