"""Reports: a finding that a spreadsheet would run, exception text that would be Markdown,
a Value that rounds its own input (it crashed the walk-through)."""

from __future__ import annotations

import csv
import io

from tests.hostile.conftest import Hostile, grade_of


def test_csv_cells_never_start_a_formula(hostile: Hostile) -> None:
    rows = list(csv.DictReader(io.StringIO((hostile.reports / "grades.csv").read_text())))
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@")), row
    assert any(r["finding"].startswith("'=HYPERLINK") for r in rows)


def _outside_code_blocks(markdown: str) -> str:
    """The Markdown that renders as Markdown (code blocks left out: they render verbatim)."""
    kept, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    assert not fenced, "a code block left open"
    return "\n".join(kept)


def test_exception_text_is_inert_markdown(hostile: Hostile) -> None:
    grade_of(hostile, "markdown_injection")
    report = _outside_code_blocks((hostile.reports / "submissions" / "markdown_injection" / "report.md").read_text())
    assert "evil.example" in report
    assert "![x](" not in report and "<script>" not in report and "[click](" not in report


def test_a_value_that_rounds_its_input_gets_its_report(hostile: Hostile) -> None:
    grade = grade_of(hostile, "self_rounding")
    assert grade.verdict == "wrong"
    assert (hostile.reports / "submissions" / "self_rounding" / "report.md").exists()
