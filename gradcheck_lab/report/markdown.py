"""``report.md``: a GitHub summary table, then one table per case and point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from ..compare import FAILURES
from .tables import NODE_HEADERS, SUMMARY_HEADERS, node_row, point_title, rerun_command, summary_rows, totals_line
from .text import run_header
from .walkthrough import case_walk, walkthrough_markdown

if TYPE_CHECKING:
    from ..harness import Run

__all__ = ["markdown_text"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_text(run: Run) -> str:
    out = ["# gradcheck_lab report", "", *(f"- {line}" for line in run_header(run).splitlines()),
           f"- {totals_line(run)}", "", "## Summary", "",
           tabulate(summary_rows(run.results), SUMMARY_HEADERS, tablefmt="github", disable_numparse=True)]
    errors = [*run.errors, *(e for r in run.results for e in r.expect_errors)]
    if errors:
        out += ["", "## Case-file errors", "", *(f"- `{e}`" for e in errors)]
    for r in run.results:
        out += ["", f"## {r.case.name}: {r.verdict}", ""]
        if r.case.about:
            out += [r.case.about, ""]
        out += ["```", r.case.source.strip(), "```"]
        if r.verdict in FAILURES:
            out += ["", f"Rerun just this case: `{rerun_command(r, run)}`"]
        out += [f"- {note}" for note in r.notes]
        for p in r.points:
            out += ["", f"### {point_title(p)}: {p.verdict}"]
            if p.message:
                out += ["", f"> {_cell(p.message)}"]
            if p.traceback:
                out += ["", "```", p.traceback, "```"]
            out += [f"- note: {note}" for note in p.notes]
            if p.verdict in ("ok", "nondifferentiable", "grad-mismatch", "forward-mismatch"):
                rows = [[_cell(c) for c in node_row(n)] for n in p.nodes]
                out += ["", tabulate(rows, NODE_HEADERS, tablefmt="github", disable_numparse=True)]
        walked = case_walk(r) if r.verdict in FAILURES else None
        if walked is not None and walked.checks is not None:
            out += ["", f"### Walk-through at {point_title(walked.checks)}", "", walkthrough_markdown(walked).rstrip()]
    return "\n".join(out) + "\n"
