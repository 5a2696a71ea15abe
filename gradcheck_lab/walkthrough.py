"""The explain trace's computation: backprop through a case node by node, as seed 000 teaches it.

:func:`walk` records per operand the local derivative (the op table's formula and number),
the contribution and the gradient before and after ``+=``; ``by_hand`` rounds as a hand
calculation does. :mod:`gradcheck_lab.report.walkthrough` renders it.

>>> from gradcheck_lab.source import parse_source
>>> p = parse_source("a = x1 * x2\\nb = log(a)\\nc = x1 * x3\\nd = sin(c)\\ne = x2 * x3\\nf = b + d\\nL = f + e")
>>> w = walk(p, {"x1": 2.0, "x2": 3.0, "x3": 4.0}, by_hand=True)
>>> w.steps[6].formula, w.steps[6].filled, number(w.steps[6].local)
('cos(c)', 'cos(8.0)', '-0.1455')
>>> [number(g) for g in w.grads[:3]]
['-0.0819', '4.3334', '2.7090']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from .compare import FAILURES
from .ops import OPS, Op
from .program import Program, Ref, evaluate, float_apply

if TYPE_CHECKING:
    from .compare import PointCheck
    from .harness import CaseResult

__all__ = ["Step", "Walkthrough", "atom", "case_walk", "constant_text", "local_rule", "number", "parting_node", "walk"]


@dataclass(frozen=True)
class Step:
    """One chain-rule step: ``operand.grad += node.grad * d node / d operand``."""

    node: int
    position: int  #: which argument of the node (``x * x`` has two steps into x)
    operand: int
    formula: str  #: the local derivative in names: ``cos(c)``
    filled: str  #: the same with numbers: ``cos(8.0)``
    local: float
    upstream: float  #: node.grad, complete when the node is visited
    contribution: float
    before: float
    after: float
    accumulates: bool  #: the operand had a contribution already
    last: bool = False  #: no later step adds to the operand: ``after`` is its gradient


@dataclass
class Walkthrough:
    """A case's forward values and backward steps at one point."""

    program: Program
    point: dict[str, float]
    values: list[float]
    grads: list[float]  #: what the walk accumulated
    steps: list[Step]
    order: list[int]  #: the nodes visited, output first
    digits: int = 4
    by_hand: bool = False
    checks: PointCheck | None = None  #: an implementation's numbers at this point
    exact_grads: list[float] | None = None  #: the answer key's, shown beside hand-rounded ones


# --------------------------------------------------------------------------- numbers and names


def number(x: float | None, digits: int = 4) -> str:
    """A number as the worked examples write it: ``8.0``, ``-0.1455``, ``2.7090``.

    >>> number(8.0), number(-0.14550003), number(2.709), number(2.2e-07), number(None)
    ('8.0', '-0.1455', '2.7090', '2.2e-07', '-')
    """
    if x is None:
        return "-"
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{x:.1f}"
    if 10.0**-digits <= abs(x) < 1e6:
        return f"{x:.{digits}f}"
    return f"{x:.{digits}g}"


def constant_text(x: int | float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}" if float(x) == float(f"{x:g}") else repr(x)


def atom(text: str) -> str:
    """``text`` ready to stand inside a larger formula: wrapped unless a name or a positive number."""
    if re.fullmatch(r"[A-Za-z_]\w*|\d+(\.\d*)?([eE][-+]?\d+)?", text):
        return text
    return f"({text})"


_SLOT = re.compile(r"\((\{\d\}|out)\)|\{(\d)\}|\bout\b")


def _fill(template: str, args: Sequence[str], out: str) -> str:
    """Put operand texts into a formula template (``{0}``, ``{1}``, ``out``).

    >>> _fill("cos({0})", ["x1*x3"], "d"), _fill("{1} * {0}**({1} - 1)", ["-2.0", "2"], "b")
    ('cos(x1*x3)', '2 * (-2.0)**(2 - 1)')
    """

    def put(m: re.Match[str]) -> str:
        if m.group(1):
            inner = m.group(1)
            return "(" + (out if inner == "out" else args[int(inner[1])]) + ")"
        return atom(args[int(m.group(2))] if m.group(2) is not None else out)

    return _SLOT.sub(put, template)


# --------------------------------------------------------------------------- local rules


@cache
def _composite(name: str) -> tuple[tuple[str, ...], Callable[..., Any]]:
    """A composite op's local derivatives per argument: templates and a float function."""
    import sympy  # deferred: only composites need it

    op = OPS[name]
    symbols = sympy.symbols(f"p0:{op.arity}")
    firsts = [sympy.diff(op.sympy(*symbols), s) for s in symbols]
    templates = tuple(re.sub(r"\bp(\d)\b", r"{\1}", str(d)) for d in firsts)
    return templates, sympy.lambdify(symbols, firsts, "math")


def local_rule(op: Op, args: Sequence[float], out: float) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The local derivative of ``op`` by each argument: templates, and numbers at ``args``.

    >>> local_rule(OPS["sin"], [8.0], 0.9894)
    (('cos({0})',), (-0.14550003380861354,))
    >>> local_rule(OPS["div"], [1.0, 4.0], 0.25)
    (('1/{1}', '-{0}/{1}**2'), (0.25, -0.0625))
    """
    if op.local is not None:  # one per Value operand; a number operand (pow's exponent) gets "0"
        forms, slopes = iter(op.formula), iter(op.local(tuple(args), out))
        pairs = [(next(forms), next(slopes)) if i in op.value_operands else ("0", 0.0) for i in range(op.arity)]
        return tuple(f for f, _ in pairs), tuple(v for _, v in pairs)
    templates, fn = _composite(op.name)
    return templates, tuple(float(v) for v in fn(*args))


# --------------------------------------------------------------------------- the walk


def walk(
    program: Program,
    point: Mapping[str, float],
    *,
    values: Sequence[float] | None = None,
    checks: PointCheck | None = None,
    exact_grads: Sequence[float] | None = None,
    by_hand: bool = False,
    digits: int = 4,
) -> Walkthrough:
    """Backprop through ``program`` at ``point``, one recorded step per operand of each node.

    ``values``: every node's value (the answer key's); computed in floats when absent,
    and always recomputed, rounded, when ``by_hand``.
    """

    def r(x: float) -> float:
        return round(x, digits) if by_hand else x

    if by_hand or values is None:
        start = [r(point[x]) for x in program.inputs]
        values = evaluate(program, start, lambda op, args: r(float_apply(op, args)))
    vals = [float(v) for v in values]
    live = program.ancestors(program.output) | {program.output}
    order = [k for k in range(len(program.nodes) - 1, -1, -1) if k in live]
    grads = [0.0] * len(program.nodes)
    grads[program.output] = 1.0
    steps: list[Step] = []
    received: set[int] = set()
    for k in order:
        node = program.nodes[k]
        if node.op == "input":
            continue
        args = [vals[a.index] if isinstance(a, Ref) else float(a) for a in node.args]
        texts = [program.nodes[a.index].title if isinstance(a, Ref) else constant_text(a) for a in node.args]
        shown = [number(v, digits) if isinstance(a, Ref) else constant_text(a) for a, v in zip(node.args, args)]
        templates, locals_ = local_rule(OPS[node.op], args, vals[k])
        for i, a in enumerate(node.args):
            if not isinstance(a, Ref):
                continue
            local = r(locals_[i])
            contribution = r(grads[k] * local)
            before = grads[a.index]
            grads[a.index] = r(before + contribution)
            steps.append(Step(
                k, i, a.index, _fill(templates[i], texts, program.nodes[k].title),
                _fill(templates[i], shown, number(vals[k], digits)), local, grads[k], contribution, before,
                grads[a.index], a.index in received,
            ))
            received.add(a.index)
    lasts = {s.operand: i for i, s in enumerate(steps)}
    steps = [replace(s, last=lasts[s.operand] == i) for i, s in enumerate(steps)]
    return Walkthrough(
        program, dict(point), vals, grads, steps, order, digits, by_hand, checks,
        list(exact_grads) if exact_grads is not None else None,
    )


def case_walk(result: CaseResult) -> Walkthrough | None:
    """A judged case's walk-through at the point its reports show: the first failing
    point, else the first; None when no point can be walked (all outside the domain)."""
    usable = [p for p in result.points if p.verdict != "domain-error" and p.nodes]
    if not usable:
        return None
    shown = ([p for p in usable if p.verdict in FAILURES] or usable)[0]
    values = [n.symbolic_value for n in shown.nodes]
    known = [v for v in values if v is not None]
    try:
        return walk(result.case.program, shown.point, checks=shown, values=known if len(known) == len(values) else None)
    except (ArithmeticError, ValueError):  # a float forward pass failing where the truth did not
        return None


def parting_node(w: Walkthrough) -> int | None:
    """The first node where an implementation parts from the truth: the first wrong value
    in the forward order, else the first wrong gradient in the backward walk's order
    (:meth:`~gradcheck_lab.compare.PointCheck.first_wrong`)."""
    if w.checks is None:
        return None
    forward = [k for k, nc in enumerate(w.checks.nodes) if nc.verdict == "forward-mismatch"]
    found = forward or w.checks.first_wrong(w.program)
    return found[0] if found else None
