"""Personal by-hand backprop exercises in seed 000's format, reproducible from a student id.

An exercise is a straight-line program of ``size`` operations over three inputs (every
input used, at least one node read twice, so that a gradient accumulates), at a point of
simple numbers inside every op's domain; written as Markdown and HTML (the blank forward
and backward tables) and a fillable CSV for the student, and the filled-in key for the
instructor, in a separate folder.

>>> e = make_exercise("ada", size=5)
>>> e == make_exercise("ada", size=5), e.source == make_exercise("bob", size=5).source
(True, False)
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..atomic import write_text
from ..errors import GradcheckError
from ..program import Program, Ref, float_apply
from ..source import parse_source
from .table import blank_rows, key_rows, rows_csv

__all__ = ["DEFAULT_OPS", "Exercise", "make_exercise", "write_exercise"]

DEFAULT_OPS = ("add", "mul", "log", "sin", "cos", "exp", "tanh")  #: the seeds' ops
_BINARY = {"add": "+", "mul": "*", "sub": "-", "div": "/"}
_UNARY = ("log", "sin", "cos", "exp", "tanh", "relu", "sigmoid")
_VALUES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, -1.0, -0.5)


@dataclass(frozen=True)
class Exercise:
    """One student's expression and point."""

    student: str
    source: str
    point: dict[str, float]

    @cached_property
    def program(self) -> Program:
        return parse_source(self.source)


def _rng(student: str, seed: int) -> random.Random:
    return random.Random(hashlib.sha256(f"{seed}:{student}".encode()).hexdigest())


def make_exercise(student: str, size: int = 7, ops: Sequence[str] = DEFAULT_OPS, seed: int = 0) -> Exercise:
    """The exercise of ``student``: ``size`` operations drawn from ``ops``; the same id, size,
    ops and seed give the same exercise."""
    unknown = [op for op in ops if op not in _BINARY and op not in _UNARY]
    if unknown or not any(op in _BINARY for op in ops):
        raise GradcheckError(f"ops must include a binary op; known: {', '.join([*_BINARY, *_UNARY])}"
                             + (f" (not {', '.join(unknown)})" if unknown else ""))
    if not 3 <= size <= 26:
        raise GradcheckError("size must be 3 to 26 operations")
    rng = _rng(student, seed)
    for _ in range(1000):  # redraw until every value stays in a hand-friendly range
        found = _draw(rng, size, list(ops))
        if found is not None:
            return Exercise(student, *found)
    raise GradcheckError(f"no exercise of {size} operations from {', '.join(ops)} stays in range; add ops")


def _draw(rng: random.Random, size: int, ops: list[str]) -> tuple[str, dict[str, float]] | None:
    point = {x: rng.choice(_VALUES[:6]) for x in ("x1", "x2", "x3")}
    values = dict(point)
    uses = dict.fromkeys(point, 0)
    lines = []
    names = iter("abcdefghijkmnopqrstuvwxyz")
    binary = [op for op in ops if op in _BINARY]
    for step in range(size):
        last = step == size - 1
        unused = [n for n, c in uses.items() if c == 0]
        op = rng.choice(binary if last or len(unused) > size - step else ops)
        pool = sorted(values, key=lambda n: (uses[n], rng.random()))
        if op in _BINARY:
            a, b = pool[0], pool[1] if not last else (unused[1] if len(unused) > 1 else rng.choice(pool[1:]))
            if last and len(unused) == 1 and unused[0] != a:
                b = unused[0]
            text = f"{a} {_BINARY[op]} {b}"
            args = [values[a], values[b]]
            reads = [a, b]
        else:
            a = pool[0]
            text, args, reads = f"{op}({a})", [values[a]], [a]
        try:
            out = float_apply(_op(op), args)
        except (ArithmeticError, ValueError):
            return None
        if not 1e-3 < abs(out) < 1e3:
            return None
        name = "L" if last else next(names)
        for r in reads:
            uses[r] += 1
        values[name], uses[name] = out, 0
        lines.append(f"{name} = {text}")
    if any(c == 0 for n, c in uses.items() if n != "L") or max(uses.values()) < 2:
        return None  # a dead node, or no gradient that accumulates
    source = "\n".join(lines)
    program = parse_source(source)
    if any(not isinstance(a, Ref) for n in program.nodes for a in n.args):
        return None
    return source, point


def _op(name: str):  # type: ignore[no-untyped-def]
    from ..ops import OPS

    return OPS[name]


def _markdown(e: Exercise, rows: list[dict[str, str]]) -> str:
    point = ", ".join(f"`{x} = {v}`" for x, v in e.point.items())
    forward = [r for r in rows if r["part"] == "forward"]
    backward = [r for r in rows if r["part"] == "backward"]
    out = [f"# Backpropagation by hand: exercise for {e.student}", "",
           f"Compute the gradients of `L` with respect to `x1`, `x2`, `x3` at {point}, as in the worked example "
           "(seed 000): the forward pass, then each chain-rule step in the order given, "
           "`input.grad += node.grad * (d node / d input)`, rounding every number to 4 decimals before using it "
           "again. `log` is the natural logarithm; `sin`/`cos` take radians.", "", "```", e.source, "```", "",
           "Fill in the CSV file (the same tables) and check it: `python -m gradcheck_lab check-table FILE.csv`.",
           "", "## 1. Forward pass", "", "| node | expression | data |", "|---|---|---|"]
    out += [f"| `{r['node']}` | `{r['expression']}` | {r['value']} |" for r in forward]
    out += ["", "## 2. Backward pass (reverse topological order; every grad starts at 0, `L.grad = 1`)", "",
            "| step | update | upstream (node.grad) | local derivative | contribution | grad before | grad after |",
            "|---|---|---|---|---|---|---|"]
    out += [f"| {r['step']} | `{r['expression']}` | | | | | |" for r in backward]
    out += ["", "## 3. Final gradients", "", "| gradient | value |", "|---|---|"]
    out += [f"| `{r['expression']}` | |" for r in rows if r["part"] == "final"]
    return "\n".join(out) + "\n"


def _html(e: Exercise, markdown: str) -> str:
    from ..report.html import escape, page, table

    rows = blank_rows(e.program, e.point)
    forward = [[r["node"], r["expression"], r["value"]] for r in rows if r["part"] == "forward"]
    finals = [[r["expression"], ""] for r in rows if r["part"] == "final"]
    backward = [[r["step"], r["expression"], "", "", "", "", ""] for r in rows if r["part"] == "backward"]
    intro = markdown.split("## 1.")[0].split("\n", 2)[2]
    prose = re.sub(r"`([^`]*)`", r"<code>\1</code>", escape(intro.split("```")[0].strip()))
    body = (f"<p>{prose}</p><pre>{escape(e.source)}</pre>"
            f"<h2>1. Forward pass</h2>{table(['node', 'expression', 'data'], forward)}"
            f"<h2>2. Backward pass</h2>{table(['step', 'update', 'upstream', 'local derivative', 'contribution', 'grad before', 'grad after'], backward)}"  # noqa: E501
            f"<h2>3. Final gradients</h2>{table(['gradient', 'value'], finals)}")
    return page(f"Backpropagation by hand: exercise for {e.student}", body)


def write_exercise(e: Exercise, out_dir: str | Path, key_dir: str | Path) -> list[Path]:
    """Write the student's ``ID.md``, ``ID.html`` and ``ID.csv`` to ``out_dir`` and the key
    ``ID.key.csv`` to ``key_dir`` (which must be another folder: the student never gets it)."""
    out_dir, key_dir = Path(out_dir), Path(key_dir)
    if out_dir.resolve() == key_dir.resolve():
        raise GradcheckError("the answer key must go to another folder than the exercise (--key-dir)")
    rows = blank_rows(e.program, e.point)
    markdown = _markdown(e, rows)
    return [write_text(out_dir / f"{e.student}.md", markdown), write_text(out_dir / f"{e.student}.html",
                                                                          _html(e, markdown)),
            write_text(out_dir / f"{e.student}.csv", rows_csv(rows)),
            write_text(key_dir / f"{e.student}.key.csv", rows_csv(key_rows(e.program, e.point)))]
