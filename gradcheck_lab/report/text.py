"""``summary.txt`` and the terminal summary: a tabulate grid, then what failed and how to rerun it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from ..compare import FAILURES
from .tables import SUMMARY_HEADERS, case_text, summary_rows, totals_line

if TYPE_CHECKING:
    from ..harness import Run

__all__ = ["run_header", "summary_text"]


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
