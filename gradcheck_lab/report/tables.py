"""Rows and tables shared by every report: the summary grid and the per-node comparison."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tabulate import tabulate

from ..compare import FAILURES, WARNINGS, NodeCheck, PointCheck

if TYPE_CHECKING:
    from ..harness import CaseResult, Run

__all__ = [
    "NODE_HEADERS", "SUMMARY_HEADERS", "case_text", "fmt", "node_row", "plural", "point_title", "rerun_command",
    "summary_rows", "totals_line",
]

SUMMARY_HEADERS = ["case", "points", "nodes checked", "worst error", "verdict"]
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
            lines.append(_indent(tabulate(rows, NODE_HEADERS, tablefmt="simple", disable_numparse=True)))
        if p.traceback:
            lines.append(_indent(p.traceback))
    if result.case.file:
        lines.append(f"  rerun: {rerun_command(result, run)}")
    return "\n".join(lines)


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def summary_rows(results: Sequence[CaseResult]) -> list[list[str]]:
    return [
        [r.case.name, str(len(r.points)), str(r.nodes_checked), fmt(r.worst_error, 2), r.verdict]
        for r in results
    ]


def plural(n: int, noun: str) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1.

    >>> plural(1, "case"), plural(0, "case"), plural(2, "submission")
    ('1 case', '0 cases', '2 submissions')
    """
    return f"{n} {noun}{'s' * (n != 1)}"


def totals_line(run: Run) -> str:
    """``35 cases: 33 ok, 2 with warnings, 0 failed; 1 case-file error``."""
    ok = sum(1 for r in run.results if r.verdict == "ok")
    warned = sum(1 for r in run.results if r.verdict in WARNINGS)
    failed = len(run.failed)
    errors = len(run.errors) + sum(len(r.expect_errors) for r in run.results)
    line = f"{plural(len(run.results), 'case')}: {ok} ok, {warned} with warnings, {failed} failed"
    if errors:
        line += f"; {plural(errors, 'case-file error')}"
    return line
