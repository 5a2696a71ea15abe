"""Rows shared by every report: the summary grid and the totals line (the per-node table is
:mod:`gradcheck_lab.checktable`'s)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..checktable import fmt
from ..compare import WARNINGS

if TYPE_CHECKING:
    from ..harness import CaseResult, Run

__all__ = ["SUMMARY_HEADERS", "plural", "summary_rows", "totals_line"]

SUMMARY_HEADERS = ["case", "points", "nodes checked", "worst error", "verdict"]

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
