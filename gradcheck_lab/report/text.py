"""``summary.txt`` (a tabulate grid, then what failed and how to rerun it) and the terminal
summary (one line per case, failures first, each warning with its reason)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from ..checktable import case_text, point_title
from ..compare import FAILURES, WARNINGS
from .tables import SUMMARY_HEADERS, plural, summary_rows, totals_line

if TYPE_CHECKING:
    from ..harness import CaseResult, Run

__all__ = ["run_header", "summary_text", "terminal_summary"]

#: Failing cases whose tables the terminal shows (summary.txt has them all).
TERMINAL_DETAILS = 5


def run_header(run: Run) -> str:
    seed = f"seed {run.seed}, {run.samples} random point{'s' * (run.samples != 1)} per case"
    precision = "float64" if run.unit_roundoff == 2.0**-53 else f"unit roundoff {run.unit_roundoff:.3g}"
    return f"implementation: {run.implementation}\n{seed} (--seed, --samples); tolerances for {precision}"


def summary_text(run: Run, *, details: bool = True) -> str:
    """The run as a grid of cases, the failing points' tables, and the case-file errors."""
    parts = [run_header(run), tabulate(summary_rows(run.results), SUMMARY_HEADERS, tablefmt="grid",
                                       disable_numparse=True)]
    failing = [r for r in run.results if r.verdict in FAILURES]
    if details and failing:
        parts.append("Failed:\n" + "\n\n".join(case_text(r, run=run) for r in failing))
    errors = [*run.errors, *(e for r in run.results for e in r.expect_errors)]
    if errors:
        parts.append("Case-file errors (these cases did not run, or their expect tables are wrong):\n"
                     + "\n".join(f"  {e}" for e in errors))
    parts.append(totals_line(run))
    return "\n\n".join(parts) + "\n"


def _why(result: CaseResult) -> str:
    """What went wrong, or what warns, at the case's first such point, in a few words."""
    bad = [p for p in result.points if p.verdict != "ok"]
    if not bad:
        return ""
    p = next((p for p in bad if p.verdict in FAILURES), bad[0])
    where = point_title(p) + (f" and {plural(len(bad) - 1, 'other point')}" if len(bad) > 1 else "")
    if p.message:
        return f"{where}: {p.message.splitlines()[0]}"
    nodes = [n for n in p.nodes if n.verdict == p.verdict]
    if p.verdict in WARNINGS:
        return f"{where}: {nodes[0].detail}" if nodes and nodes[0].detail else where
    names = ", ".join(n.name for n in nodes[:4]) + ", ..." * (len(nodes) > 4)
    first = p.first_wrong(result.case.program)
    parts = f"; first wrong at {result.case.program.nodes[first[0]].title}" if first else ""
    return f"{where}: {p.verdict} at {names}{parts}"


def terminal_summary(run: Run) -> str:
    """The run for a terminal: one line per case (failures, then warnings, then the rest),
    the first failing cases' tables, the case-file errors and the totals."""
    order = {"fail": 0, "warn": 1, "ok": 2}

    def rank(r: CaseResult) -> int:
        return order["fail" if r.verdict in FAILURES else "warn" if r.verdict in WARNINGS else "ok"]

    rows = [[r.verdict, r.case.name, _why(r)] for r in sorted(run.results, key=rank)]
    parts = [run_header(run), tabulate(rows, tablefmt="plain", disable_numparse=True)]
    failing = [r for r in run.results if r.verdict in FAILURES]
    if failing:
        more = len(failing) - TERMINAL_DETAILS
        parts.append("\n\n".join(case_text(r, run=run) for r in failing[:TERMINAL_DETAILS])
                     + (f"\n\n({plural(more, 'more failing case')} in summary.txt)" if more > 0 else ""))
    errors = [*run.errors, *(e for r in run.results for e in r.expect_errors)]
    if errors:
        parts.append("Case-file errors (these cases did not run, or their expect tables are wrong):\n"
                     + "\n".join(f"  {e}" for e in errors))
    parts.append(totals_line(run))
    return "\n\n".join(parts) + "\n"
