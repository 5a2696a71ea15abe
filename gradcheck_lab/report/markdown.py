"""``report.md``: a GitHub summary table, the diagnosis (``check --diagnose``), then one
table per case and point; a training case says how its descent went and where to find
every step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..checktable import NODE_HEADERS, node_row, point_title, rerun_command
from ..compare import FAILURES
from ..drawing import text_table
from ..walkthrough import case_walk
from .escape import fenced, inert, inert_cells
from .tables import SUMMARY_HEADERS, summary_rows, totals_line
from .text import run_header
from .walkthrough import walkthrough_markdown

if TYPE_CHECKING:
    from ..diagnose.findings import Findings
    from ..harness import CaseResult, Run

__all__ = ["diagnosis_markdown", "markdown_text"]

_cell = inert


def diagnosis_markdown(found: Findings, implementation: str) -> list[str]:
    """The diagnosis as the grading reports show it: each code, its explanation and
    evidence table, the unexplained probes, the minimal counterexample as a ``[[case]]``."""
    from .diagnosis import diagnosis_lines

    data = found.to_json()
    example = found.counterexample.as_case() if found.counterexample else ""
    return (diagnosis_lines(data["diagnosis"], data["unexplained"], example)
            or [f"No known bug found by the probes in `{implementation}`."])


def _training_lines(r: CaseResult) -> list[str]:
    if r.training is None:
        return []
    said = r.training.summary in r.notes
    return [*([] if said else [f"- {r.training.summary}"]),
            "- every step of both descents: `training` in `report.json` (and `training.csv` from `check`)"]


def markdown_text(run: Run, findings: Findings | None = None) -> str:
    out = ["# gradcheck_lab report", "", *(f"- {line}" for line in run_header(run).splitlines()),
           f"- {totals_line(run)}", "", "## Summary", "",
           text_table(SUMMARY_HEADERS, summary_rows(run.results))]
    errors = [*run.errors, *(e for r in run.results for e in r.expect_errors)]
    if errors:
        out += ["", "## Case-file errors", "", *(f"- `{e}`" for e in errors)]
    if findings is not None:
        out += ["", "## Diagnosis", "", *diagnosis_markdown(findings, run.implementation)]
    for r in run.results:
        out += ["", f"## {r.case.name}: {r.verdict}", ""]
        if r.case.about:
            out += [r.case.about, ""]
        out += ["```", r.case.source.strip(), "```"]
        if r.verdict in FAILURES:
            out += ["", f"Rerun just this case: `{rerun_command(r, run)}`"]
        out += [f"- {note}" for note in r.notes]
        out += _training_lines(r)
        for p in r.points:
            out += ["", f"### {point_title(p)}: {p.verdict}"]
            if p.message:
                out += ["", f"> {_cell(p.message)}"]
            if p.traceback:
                out += ["", *fenced(p.traceback)]
            out += [f"- note: {note}" for note in p.notes]
            if p.verdict in ("ok", "nondifferentiable", "grad-mismatch", "forward-mismatch"):
                rows = [inert_cells(tuple(node_row(n))) for n in p.nodes]
                out += ["", text_table(NODE_HEADERS, rows)]
        walked = case_walk(r) if r.verdict in FAILURES else None
        if walked is not None and walked.checks is not None:
            out += ["", f"### Walk-through at {point_title(walked.checks)}", "", walkthrough_markdown(walked).rstrip()]
    return "\n".join(out) + "\n"
