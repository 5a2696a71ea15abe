"""The plain-text table of a checked case: what :class:`GradientMismatch` and every report show.

>>> from gradcheck_lab import check
>>> print(case_text(check("L = x * x", {"x": 3.0}), failing_only=False))
check: ok
  point 1 (given: x=3): ok
    node    symbolic    autograd    finite difference    error    verdict
    ------  ----------  ----------  -------------------  -------  ---------
    x       6           6           6 ± 4e-13            0        ok
    L       1           1           -                    0        ok
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from .compare import FAILURES, NodeCheck, PointCheck
from .drawing import text_table

if TYPE_CHECKING:
    from .harness import CaseResult, Run

__all__ = ["NODE_HEADERS", "case_text", "fmt", "node_row", "point_title", "rerun_command"]

NODE_HEADERS = ["node", "symbolic", "autograd", "finite difference", "error", "verdict"]


def fmt(x: float | None, digits: int = 10) -> str:
    """A number for a table: ``-`` for none, else ``digits`` significant digits.

    >>> fmt(None), fmt(0.1 + 0.2), fmt(-0.08200006761)
    ('-', '0.3', '-0.08200006761')
    """
    return "-" if x is None else f"{x:.{digits}g}"


def point_title(point: PointCheck) -> str:
    inputs = ", ".join(f"{k}={v:g}" for k, v in point.point.items())
    return f"point {point.index + 1} ({point.origin}: {inputs})"


def node_row(n: NodeCheck) -> list[str]:
    """One node at one point: gradients from the three oracles, the error, the verdict."""
    verdict = n.verdict + (f": {n.detail}" if n.detail else "")
    if n.verdict == "forward-mismatch":
        return [n.name, f"data {fmt(n.symbolic_value)}", f"data {fmt(n.value)}", "-", "-", verdict]
    fd = "-" if n.fd_grad is None else f"{fmt(n.fd_grad)} ± {n.fd_error:.1g}"
    return [n.name, fmt(n.symbolic_grad), fmt(n.grad), fd, fmt(n.error, 2), verdict]


def rerun_command(result: CaseResult, run: Run | None = None) -> str:
    """The command that reruns just this case, as this run ran it."""
    if run is not None and run.rerun:
        return shlex.join([*run.rerun, result.case.selector])
    words = ["python", "-m", "gradcheck_lab", result.case.selector]
    if run is not None:
        if not run.implementation.startswith("gradcheck_lab.Value"):
            words += ["--impl", run.implementation]
        if run.seed:
            words += ["--seed", str(run.seed)]
        if run.samples != 2:
            words += ["--samples", str(run.samples)]
    return shlex.join(words)


def case_text(result: CaseResult, failing_only: bool = True, run: Run | None = None) -> str:
    """A case's points as plain-text tables (only the points that failed, by default)."""
    lines = [f"{result.case.name}: {result.verdict}"]
    for p in result.points:
        if failing_only and p.verdict not in FAILURES:
            continue
        lines.append(f"  {point_title(p)}: {p.verdict}" + (f" ({p.message})" if p.message else ""))
        first = p.first_wrong(result.case.program)
        if first:
            names = ", ".join(result.case.program.nodes[k].title for k in first)
            lines.append(f"    the backward pass first goes wrong at: {names}")
        rows = [node_row(n) for n in p.nodes if not failing_only or n.verdict in FAILURES]
        if rows and p.verdict not in ("exception", "unsupported", "domain-error"):
            lines.append(_indent(text_table(NODE_HEADERS, rows, "simple")))
        if p.traceback:
            lines.append(_indent(p.traceback))
    if result.case.file:
        lines.append(f"  rerun: {rerun_command(result, run)}")
    return "\n".join(lines)


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())
