"""The by-hand backprop table of seed 000, as a CSV a student fills, and its line-by-line check.

One row per line of the worked example: ``forward`` rows (each node's value), ``backward``
rows (one chain-rule step: ``input.grad += node.grad * d node / d input``, with the
upstream gradient, the local derivative, the contribution, and the input's gradient
before and after), ``final`` rows (each input's gradient). The program is the forward
rows' ``expression`` column, so a filled table is checked on its own.

Each line is judged against the student's *own* earlier lines, rounded as a hand
calculation is (``digits`` decimals; a line is right within 1.5 units of its last
decimal): an error is blamed once, on its line, and the lines computed from it correctly
are right. What is wrong is named: a wrong local derivative, a missing chain factor, a
contribution replacing the gradient instead of adding to it.

>>> rows = blank_rows(parse_source("a = x * y\\nL = a + x"), {"x": 2.0, "y": 3.0})
>>> [(r["part"], r["node"], r["input"], r["value"]) for r in rows][:3]
[('forward', 'x', '', '2.0'), ('forward', 'y', '', '3.0'), ('forward', 'a', '', '')]
>>> [(r["part"], r["node"], r["input"]) for r in rows][4:6]
[('backward', 'L', 'a'), ('backward', 'L', 'x')]
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GradcheckError
from ..ops import OPS
from ..program import Program, Ref, float_apply
from ..source import parse_source
from ..walkthrough import local_rule, number, walk

if TYPE_CHECKING:
    from ..grading import SubmissionGrade

__all__ = [
    "COLUMNS", "FILLED", "Line", "TableCheck", "blank_rows", "check_rows", "check_table", "key_rows", "read_rows",
    "rows_csv", "table_grade",
]

COLUMNS = ["part", "step", "node", "input", "expression", "value", "upstream", "local", "contribution", "before",
           "after"]
FILLED = {"forward": ["value"], "backward": ["upstream", "local", "contribution", "before", "after"],
          "final": ["value"]}  #: the cells a student fills, per part


def _local_name(program: Program, k: int, i: int) -> str:
    node, operand = program.nodes[k], program.nodes[program.nodes[k].args[i].index]  # type: ignore[union-attr]
    return f"d{node.name}/d{operand.name}"


def blank_rows(program: Program, point: Mapping[str, float]) -> list[dict[str, str]]:
    """The table to fill: inputs given, every other number blank; backward steps in reverse
    topological order (the order the walk-through visits them)."""
    w = walk(program, point)
    inputs = sorted(program.inputs)
    rows = [{"part": "forward", "node": x, "expression": "input", "value": str(float(point[x]))} for x in inputs]
    rows += [{"part": "forward", "node": n.name, "expression": n.text} for n in program.nodes if n.op != "input"]
    for n, s in enumerate(w.steps, 1):
        u, v = program.nodes[s.node].name, program.nodes[s.operand].name
        rows.append({"part": "backward", "step": str(n), "node": u, "input": v,
                     "expression": f"{v}.grad += {u}.grad * {_local_name(program, s.node, s.position)}"})
    rows += [{"part": "final", "node": name, "expression": f"dL/d{name}"} for name in inputs]
    return [{c: r.get(c, "") for c in COLUMNS} for r in rows]


def key_rows(program: Program, point: Mapping[str, float], digits: int = 4) -> list[dict[str, str]]:
    """The same table filled in as a hand calculation does (``digits`` decimals): the answer key."""
    w = walk(program, point, by_hand=True, digits=digits)
    index = {n.name: k for k, n in enumerate(program.nodes)}
    rows = blank_rows(program, point)
    steps = iter(w.steps)
    for row in rows:
        if row["part"] == "forward" and row["expression"] != "input":
            row["value"] = number(w.values[index[row["node"]]], digits)
        elif row["part"] == "backward":
            s = next(steps)
            row.update(upstream=number(s.upstream, digits), local=number(s.local, digits),
                       contribution=number(s.contribution, digits), before=number(s.before, digits),
                       after=number(s.after, digits))
        elif row["part"] == "final":
            row["value"] = number(w.grads[index[row["node"]]], digits)
    return rows


def rows_csv(rows: Sequence[Mapping[str, str]]) -> str:
    """Rows as CSV text with the header :data:`COLUMNS`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """A filled table's rows (each with its CSV line number as ``line``); a clear error if it is no such table."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GradcheckError(f"{path}: cannot read it: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise GradcheckError(f"{path}: not a backprop table: no column {', '.join(missing)} (the columns: "
                             f"{', '.join(COLUMNS)})")
    rows = []
    for row in reader:
        rows.append({**{c: (row.get(c) or "").strip() for c in COLUMNS}, "line": str(reader.line_num)})
    return rows


@dataclass
class Line:
    """One line of the table, judged."""

    line: int  #: its line in the CSV file
    part: str
    label: str  #: what it is, as the worked example writes it: ``c.grad += d.grad * dd/dc``
    ok: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class TableCheck:
    """A filled table, judged line by line."""

    source: str
    point: dict[str, float]
    lines: list[Line]
    digits: int
    notes: list[str] = field(default_factory=list)

    @property
    def right(self) -> int:
        return sum(line.ok for line in self.lines)

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines) and not self.notes

    def text(self) -> str:
        """Each wrong line and what is wrong with it, then the count."""
        out = [f"line {w.line} ({w.label}): {problem}" for w in self.lines if not w.ok for problem in w.problems]
        out += self.notes
        out.append(f"{self.right} of {len(self.lines)} lines right" + (": the table is correct" if self.ok else ""))
        return "\n".join(out) + "\n"


def _num(text: str) -> float | None:
    """A number as a hand calculation writes it: ``-0.1455``, ``−0.1455``, ``2,7090`` (a decimal comma).

    >>> _num("2,7090"), _num("−0.5"), _num(" "), _num("1/6")
    (2.709, -0.5, None, None)
    """
    text = text.strip().replace("\u2212", "-")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _empty(row: Mapping[str, str], column: str) -> str:
    """What is wrong with a cell that holds no number: blank, or not a number (nothing else said)."""
    return f"{column} is blank" if not row[column] else f"{column} is not a number: {row[column]!r}"


def _program(rows: Sequence[Mapping[str, str]]) -> tuple[Program, dict[str, float], str]:
    forward = [r for r in rows if r["part"] == "forward"]
    inputs = {r["node"]: _num(r["value"]) for r in forward if r["expression"] == "input"}
    if not forward or None in inputs.values():
        raise GradcheckError("the forward rows must give every input's value (expression 'input')")
    source = "\n".join(f"{r['node']} = {r['expression']}" for r in forward if r["expression"] != "input")
    program = parse_source(source)
    unknown = [x for x in program.inputs if x not in inputs]
    if unknown:
        raise GradcheckError(f"no forward row gives the input {', '.join(unknown)}")
    return program, {x: float(inputs[x]) for x in program.inputs}, source  # type: ignore[arg-type]


def check_rows(rows: Sequence[Mapping[str, str]], digits: int = 4) -> TableCheck:
    """Judge every line against the student's own earlier lines (see the module's doc)."""
    program, point, source = _program(rows)
    tol = 1.5 * 10.0**-digits + 1e-12
    index = {n.name: k for k, n in enumerate(program.nodes)}
    values: dict[int, float] = {index[x]: v for x, v in point.items()}
    grads: dict[int, float] = {program.output: 1.0}  #: each node's gradient as the student's lines left it
    pending = {k: sum(1 for j in range(len(program.nodes)) for a in program.nodes[j].args
                      if isinstance(a, Ref) and a.index == k) for k in range(len(program.nodes))}
    seen_steps: set[tuple[int, int]] = set()
    lines: list[Line] = []
    notes: list[str] = []

    def near(x: float | None, want: float) -> bool:
        return x is not None and abs(x - want) <= tol * max(1.0, abs(want) / 100)

    def show(x: float) -> str:
        return number(x, digits)

    for r in rows:
        line, part = int(r["line"]), r["part"]
        node = r["node"]
        if node not in index:
            lines.append(Line(line, part, node, False, [f"no node {node!r} in the program"]))
            continue
        k = index[node]
        spec = program.nodes[k]
        given = {c: _num(r[c]) for c in FILLED.get(part, [])}
        blank = [c for c, v in given.items() if v is None]
        if part == "forward":
            label = f"{node} = {r['expression']}"
            if spec.op == "input":
                continue
            args = [values.get(a.index, math.nan) if isinstance(a, Ref) else float(a) for a in spec.args]
            try:
                want = float_apply(OPS[spec.op], args)
            except (ArithmeticError, ValueError):
                want = math.nan
            got = given["value"]
            values[k] = got if got is not None else want
            if got is None:
                lines.append(Line(line, part, label, False, [f"{node}.data: {_empty(r, 'value')}"]))
            elif not near(got, want):
                lines.append(Line(line, part, label, False, [f"{node}.data should be {spec.text} = {show(want)}, "
                                                              f"you wrote {r['value']}"]))
            else:
                lines.append(Line(line, part, label, True))
        elif part == "backward":
            v = r["input"]
            positions = [i for i, a in enumerate(spec.args) if isinstance(a, Ref) and program.nodes[a.index].name == v]
            label = r["expression"] or f"{v}.grad += {node}.grad * d{node}/d{v}"
            position = next((i for i in positions if (k, i) not in seen_steps), None)
            if position is None:
                lines.append(Line(line, part, label, False, [f"{v} is not an input of {node} = {spec.text}"
                                                             if not positions else f"a step {node} -> {v} too many"]))
                continue
            seen_steps.add((k, position))
            problems = [_empty(r, c) for c in blank]  # (the other cells are judged; a blank gives nothing away)
            j = index[v]
            if pending[k] and k != program.output:
                problems.append(f"{node} is processed before every node that uses it passed its gradient back: "
                                "follow reverse topological order")
            args = [values.get(a.index, math.nan) if isinstance(a, Ref) else float(a) for a in spec.args]
            forms, slopes = local_rule(OPS[spec.op], args, values.get(k, math.nan))
            local_want = slopes[position]
            up_want = grads.get(k, 0.0)
            up, local, contribution, before, after = (given[c] for c in FILLED["backward"])
            if up is not None and not near(up, up_want):
                problems.append(f"the upstream gradient {node}.grad is {show(up_want)} (from your earlier lines), "
                                f"you wrote {r['upstream']}")
            up = up if up is not None else up_want
            if local is not None and not near(local, local_want):
                names = [program.nodes[a.index].name if isinstance(a, Ref) else a for a in spec.args]
                problems.append(f"wrong local derivative: d{node}/d{v} for {spec.text} is "
                                f"{forms[position].format(*names)} = {show(local_want)}, you wrote {r['local']}")
            local = local if local is not None else local_want
            c_want = up * local
            if contribution is not None and not near(contribution, c_want):
                if near(contribution, local) and not near(up, 1.0):
                    problems.append(f"missing chain factor: the contribution is {node}.grad * d{node}/d{v} = "
                                    f"{show(up)} * {show(local)} = {show(c_want)}, you wrote only the local "
                                    f"derivative {r['contribution']}")
                else:
                    problems.append(f"the contribution is {show(up)} * {show(local)} = {show(c_want)}, you wrote "
                                    f"{r['contribution']}")
            contribution = contribution if contribution is not None else c_want
            b_want = grads.get(j, 0.0)
            if before is not None and not near(before, b_want):
                problems.append(f"{v}.grad before this step is {show(b_want)} (from your earlier lines), you wrote "
                                f"{r['before']}")
            before = before if before is not None else b_want
            a_want = before + contribution
            if after is not None and not near(after, a_want):
                if near(after, contribution) and not near(before, 0.0):
                    problems.append(f"{v}.grad should be {show(before)} + ({show(contribution)}) = {show(a_want)}: "
                                    "you replaced it (= where += belongs)")
                else:
                    problems.append(f"{v}.grad should be {show(before)} + ({show(contribution)}) = {show(a_want)}, "
                                    f"you wrote {r['after']}")
            grads[j] = after if after is not None else a_want
            pending[j] -= 1
            lines.append(Line(line, part, label, not problems, problems))
        elif part == "final":
            label = f"dL/d{node}"
            want = grads.get(k, 0.0)
            got = given["value"]
            if pending[k]:
                notes.append(f"{node} still waits for {pending[k]} backward step(s) that the table lacks")
            if got is None:
                lines.append(Line(line, part, label, False, [f"dL/d{node}: {_empty(r, 'value')}"]))
            elif not near(got, want):
                lines.append(Line(line, part, label, False, [
                    f"dL/d{node} is {node}.grad after its last step: {show(want)}, you wrote {r['value']}"]))
            else:
                lines.append(Line(line, part, label, True))
        else:
            lines.append(Line(line, part, node, False, [f"unknown part {part!r} (forward, backward or final)"]))
    missing = len([s for s in walk(program, point).steps]) - len(seen_steps)
    if missing > 0:
        notes.append(f"{missing} backward step(s) are missing from the table")
    return TableCheck(source, point, lines, digits, notes)


def check_table(path: str | Path, digits: int = 4) -> TableCheck:
    """:func:`check_rows` on a filled CSV file."""
    return check_rows(read_rows(path), digits)


_PARTS = {"forward": "Forward pass", "backward": "Backward pass", "final": "Final gradients"}


def table_grade(check: TableCheck, sub_id: str, path: str) -> SubmissionGrade:
    """A judged table as a grade (one point per line; a "case" per part of the table), for
    ``grades.csv`` and Gradescope's ``results.json`` (the grader's own report writers)."""
    from ..grading import CaseGrade, SubmissionGrade, Verdict

    cases = []
    for part, title in _PARTS.items():
        mine = [w for w in check.lines if w.part == part]
        wrong = [w for w in mine if not w.ok]
        feedback = "\n".join(f"line {w.line} ({w.label}): {p}" for w in wrong for p in w.problems)
        cases.append(CaseGrade(title, part, float(len(mine)), False, "grad-mismatch" if wrong else "ok",
                               float(len(mine) - len(wrong)), len(mine) - len(wrong), len(mine),
                               feedback.split("\n", 1)[0], feedback))
    first = next((f"line {w.line} ({w.label}): {w.problems[0]}" for w in check.lines if w.problems), "")
    finding = check.notes[0] if check.notes else first or f"all {len(check.lines)} lines right"
    return SubmissionGrade(sub_id, path, "", Verdict.CORRECT if check.ok else Verdict.WRONG, float(check.right),
                           float(len(check.lines)), finding, cases=cases, notes=list(check.notes))
