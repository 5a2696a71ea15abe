"""Grading reports: per submission ``report.md``/``report.json``, and ``grades.csv`` and
``class_summary.md`` for the class.

A submission's reports lead with its grade (verdict, score, finding, notes, capability
table, per-case scores with each failing case's first problem) and then reuse the core's
builders (:func:`.markdown.markdown_text`, :func:`.json_report.run_to_json`) for the
per-node tables of the few smallest cases that did not pass (``MAX_DETAILED`` in
:mod:`gradcheck_lab.grading.run`): small graphs teach best, and a class's reports stay small
and quick to write.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from ..atomic import write_text
from .diagnosis import diagnosis_lines
from .json_report import run_to_json
from .markdown import markdown_text
from .tables import fmt

if TYPE_CHECKING:
    from ..grading.model import SubmissionGrade
    from ..harness import Run

__all__ = [
    "GRADES_COLUMNS", "class_summary_html", "class_summary_text", "grade_diagnosis", "grades_csv_text",
    "render_submission", "submission_html", "write_class_reports",
]

GRADES_COLUMNS = ["id", "score", "max_score", "verdict", "finding", "diagnosis"]
REPORT_KIND = "gradcheck_lab.grade"
REPORT_VERSION = 1
_OUTPUT_SHOWN = 4000


_MARKDOWN = re.compile(r"([\\`\[\]<>|#!])")  #: links, images, HTML, code, tables, headings


def _cell(text: str) -> str:
    r"""Text a submission may have written (exception messages, findings, notes) as inert
    Markdown (no link, image, HTML, code span, table cell or heading of its own), on one line.

    >>> print(_cell("![x](http://e.com) <b>|"))
    \!\[x\](http://e.com) \<b\>\|
    """
    return _MARKDOWN.sub(r"\\\1", text).replace("\r", " ").replace("\n", " ")


#: A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A text cell of ``grades.csv`` that no spreadsheet runs as a formula: one starting
    with ``= + - @`` (or a tab or carriage return) gets a leading apostrophe.

    >>> print(csv_cell("=HYPERLINK(1)"), csv_cell("all 3 cases agree"))
    '=HYPERLINK(1) all 3 cases agree
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def _clip(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _points(x: float) -> str:
    return f"{x:.4g}"


def _demote(markdown: str) -> list[str]:
    """The core's markdown one heading level down (outside code fences)."""
    out, fenced = [], False
    for line in markdown.rstrip().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if line.startswith("#") and not fenced else line)
    return out


def score_rows(grade: SubmissionGrade) -> list[list[str]]:
    """One row per case: name, score, verdict, share of checks that agree, first problem."""
    return [
        [c.name + " (hidden)" * c.hidden, f"{_points(c.score)} / {_points(c.max_score)}",
         c.verdict + " (excused)" * bool(c.excused),
         f"{c.agreed}/{c.judged}" if c.judged and c.verdict != "unsupported" else "-",
         f"{c.excused}: {c.message}" if c.excused else c.message]
        for c in grade.cases
    ]


def grade_header(grade: SubmissionGrade) -> list[str]:
    """The grade's lines, as every per-submission report starts."""
    lines = [
        f"verdict: {grade.verdict}",
        f"score: {_points(grade.score)} / {_points(grade.max_score)}",
        f"finding: {grade.finding}",
        f"submission: {grade.path}" + (f" (graded file: {grade.main})" if grade.main and grade.main != grade.path
                                       else ""),
    ]
    if grade.cells:
        lines.append(f"notebook cells used: {', '.join(map(str, grade.cells))}")
    if grade.assignment:
        lines.append(f"assignment: {grade.assignment}")
    if grade.deductions:
        lines.append("deductions: " + "; ".join(f"{d.code} -{_points(d.points)}" for d in grade.deductions))
    if grade.warnings:
        lines.append(f"warnings (cost nothing under this assignment): {', '.join(grade.warnings)}")
    lines.append(f"precision judged: {grade.precision}; {grade.seconds:.2f} s")
    return lines


def grade_diagnosis(grade: SubmissionGrade, *, markdown: bool = True) -> list[str]:
    """A grade's diagnosis as every report shows it (:func:`.diagnosis.diagnosis_lines`)."""
    return diagnosis_lines(grade.diagnosis, grade.unexplained, grade.counterexample, markdown=markdown)


def submission_markdown(grade: SubmissionGrade, run: Run) -> str:
    out = [f"# {grade.id}: {grade.verdict}, {_points(grade.score)} / {_points(grade.max_score)}", "",
           *(f"- {_cell(line)}" for line in grade_header(grade))]
    if grade.diagnosis or grade.unexplained or grade.counterexample:
        out += ["", "## Diagnosis", "", *grade_diagnosis(grade)]
    if grade.notes:
        out += ["", "## Notes", "", *(f"- {_cell(n)}" for n in grade.notes)]
    if grade.error:
        out += ["", "## Loading failed", "", "```", grade.error.rstrip().replace("```", "'''"), "```"]
    if grade.deductions:
        rows = [[f"`{d.code}`", f"-{_points(d.points)}", _cell(d.why)] for d in grade.deductions]
        out += ["", "## Deductions", "", "Bugs the probes prove cost points beyond the cases:", "",
                tabulate(rows, ["code", "points", "why"], tablefmt="github", disable_numparse=True)]
    if grade.capabilities:
        rows = [[f"`{c.form}`", _cell(c.verdict), _cell(c.message)] for c in grade.capabilities]
        out += ["", "## Capabilities", "", tabulate(rows, ["form", "verdict", "detail"], tablefmt="github",
                                                     disable_numparse=True)]
    if grade.cases:
        rows = [[_cell(x) for x in row] for row in score_rows(grade)]
        out += ["", "## Cases", "", tabulate(rows, ["case", "score", "verdict", "checks agreeing", "first problem"],
                                             tablefmt="github", disable_numparse=True)]
    if grade.output:
        shown = grade.output[:_OUTPUT_SHOWN]
        more = f" (first {_OUTPUT_SHOWN} characters)" if len(grade.output) > _OUTPUT_SHOWN else ""
        out += ["", f"## Printed output{more}", "", "```", shown.rstrip().replace("```", "'''"), "```"]
    if run.results:
        out += ["", "## Per-node tables of the smallest cases that did not pass", "", *_demote(markdown_text(run))]
    return "\n".join(out) + "\n"


def submission_json(grade: SubmissionGrade, run: Run) -> dict[str, Any]:
    return {
        "kind": REPORT_KIND, "schema_version": REPORT_VERSION, "submission": grade.to_json(),
        "details": run_to_json(run),
    }


def render_submission(grade: SubmissionGrade, run: Run) -> tuple[str, str]:
    """``report.md`` and ``report.json`` of one submission."""
    blob = json.dumps(submission_json(grade, run), separators=(",", ":"), allow_nan=False)  # C encoder: fast
    return submission_markdown(grade, run), blob + "\n"


# --------------------------------------------------------------------------- the class


def grades_csv_text(grades: Sequence[SubmissionGrade]) -> str:
    """``grades.csv``: id, score, max_score, verdict, finding.

    >>> from gradcheck_lab.grading import SubmissionGrade
    >>> print(grades_csv_text([SubmissionGrade("ann", "ann.py", "", "correct", 3.0, 3.0, "all 3 cases agree")]))
    id,score,max_score,verdict,finding,diagnosis
    ann,3,3,correct,all 3 cases agree,
    <BLANKLINE>
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(GRADES_COLUMNS)
    for g in grades:
        writer.writerow([csv_cell(g.id), f"{g.score:.6g}", f"{g.max_score:.6g}", csv_cell(g.verdict),
                         csv_cell(g.finding), csv_cell(" ".join(g.codes))])
    return buffer.getvalue()


def class_summary_text(grades: Sequence[SubmissionGrade]) -> str:
    """``class_summary.md``: students, each case's pass rate, the ops and cases that fail most."""
    n = len(grades)
    verdicts = Counter(g.verdict for g in grades)
    mean = sum(g.score for g in grades) / n if n else 0.0
    top = max((g.max_score for g in grades), default=0.0)
    out = ["# Class summary", "",
           f"- {n} submission{'s' * (n != 1)}: " + ", ".join(f"{k} {v}" for k, v in verdicts.most_common()),
           f"- mean score {fmt(mean, 4)} of {fmt(top, 4)}", "", "## Students", ""]
    rows = [[g.id, _points(g.score), _points(g.max_score), f"{100 * g.score / g.max_score:.0f}%" if g.max_score
             else "-", g.verdict, _cell(_clip(g.finding))] for g in grades]
    out.append(tabulate(rows, ["id", "score", "max", "%", "verdict", "finding"], tablefmt="github",
                        disable_numparse=True))

    graded = [g for g in grades if g.verdict != "invalid"]
    per_case: dict[str, list[tuple[bool, float, float]]] = {}
    for g in graded:
        for c in g.cases:
            per_case.setdefault(c.name, []).append((c.passed, c.score, c.max_score))
    stats = []  # (name, passed, seen, share of points earned)
    for name, seen in per_case.items():
        most = sum(m for _, _, m in seen)
        stats.append((name, sum(p for p, _, _ in seen), len(seen), sum(s for _, s, _ in seen) / most if most else 1.0))

    def case_rows(chosen: Sequence[tuple[str, int, int, float]]) -> str:
        rows = [[name, f"{passed}/{seen}", f"{100 * passed / seen:.0f}%", f"{100 * earned:.0f}%"]
                for name, passed, seen, earned in chosen]
        return tabulate(rows, ["case", "passed", "pass rate", "points earned"], tablefmt="github",
                        disable_numparse=True)

    out += ["", "## Cases: pass rate", "", f"Over the {len(graded)} gradable submissions.", "", case_rows(stats)]

    failing_ops: dict[tuple[str, str], Counter[str]] = {}
    for g in graded:
        for cap in g.capabilities:
            if cap.verdict != "ok":
                failing_ops.setdefault((cap.form, cap.op), Counter())[cap.verdict] += 1
    op_rows = [[f"`{form}`", op, str(sum(how.values())), ", ".join(f"{k} {v}" for k, v in how.most_common())]
               for (form, op), how in sorted(failing_ops.items(), key=lambda kv: -sum(kv[1].values()))]
    out += ["", "## Ops that fail most", ""]
    out.append(tabulate(op_rows, ["form", "op", "students", "how"], tablefmt="github", disable_numparse=True)
               if op_rows else "Every probed op works in every gradable submission.")

    by_code: dict[str, list[str]] = {}
    for g in graded:
        for code in g.codes:
            by_code.setdefault(code, []).append(g.id)
    out += ["", "## Diagnoses", ""]
    if by_code:
        from ..diagnose import CATALOG

        ranked = sorted(by_code.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        out += [f"- {len(ids)} student{'s' * (len(ids) != 1)}: `{code}` ({_cell(_clip(', '.join(ids), 120))}): "
                f"{CATALOG[code].explanation if code in CATALOG else ''}" for code, ids in ranked]
    else:
        out.append("No known bug in any gradable submission.")

    worst = sorted((s for s in stats if s[1] < s[2]), key=lambda s: (s[1] / s[2], s[3], s[0]))[:10]
    out += ["", "## Cases that fail most", ""]
    out.append(case_rows(worst) if worst else "Every case passes in every gradable submission.")
    return "\n".join(out) + "\n"


def submission_html(grade: SubmissionGrade, run: Run) -> str:
    """A submission's report as one self-contained HTML page: the grade, the diagnosis with
    its evidence and counterexample, every case's score, and the per-node tables and graphs
    of the smallest cases that did not pass."""
    from .html import badge, escape, page, run_sections, table

    back = '<p><a href="../../class_summary.html">&larr; the class summary</a></p>'  # submissions/<id>/
    parts = [back + "".join(f'<p class="meta">{escape(line)}</p>' for line in grade_header(grade))]
    if grade.diagnosis or grade.unexplained or grade.counterexample:
        parts.append(f'<div class="diagnosis"><strong>Diagnosis</strong><pre>'
                     f'{escape(chr(10).join(grade_diagnosis(grade, markdown=False)))}</pre></div>')
    rows = [[escape(r[0]), escape(r[1]), badge(r[2]), escape(r[3]), escape(r[4])] for r in score_rows(grade)]
    parts.append("<h2>Cases</h2>" + table(["case", "score", "verdict", "checks agreeing", "first problem"], rows,
                                          raw=True))
    if run.results:
        parts.append("<h2>The smallest cases that did not pass</h2>" + run_sections(run))
    title = f"{grade.id}: {grade.verdict}, {_points(grade.score)} / {_points(grade.max_score)}"
    return page(title, "\n".join(parts))


def class_summary_html(grades: Sequence[SubmissionGrade]) -> str:
    """The class summary as one self-contained HTML page, each student linked to their report."""
    from .html import badge, escape, page, table

    rows = [[f'<a href="submissions/{escape(g.id)}/report.html">{escape(g.id)}</a>',
             f"{_points(g.score)} / {_points(g.max_score)}", badge(g.verdict), escape(_clip(g.finding)),
             escape(" ".join(c for c in g.codes if not c.startswith("unsupported:")))] for g in grades]
    students = table(["id", "score", "verdict", "finding", "diagnosis"], rows, raw=True)
    summary = class_summary_text(grades).split("## Cases: pass rate", 1)[-1]
    return page("Class summary", f"<h2>Students</h2>{students}<h2>Cases: pass rate, ops, diagnoses</h2>"
                                 f"<pre>{escape(summary.strip())}</pre>")


def write_class_reports(report_dir: str | Path, grades: Sequence[SubmissionGrade], html: bool = False) -> list[Path]:
    """Write ``grades.csv`` and ``class_summary.md`` (and ``class_summary.html``), atomically."""
    directory = Path(report_dir)
    paths = [write_text(directory / "grades.csv", grades_csv_text(grades)),
             write_text(directory / "class_summary.md", class_summary_text(grades))]
    if html:
        paths.append(write_text(directory / "class_summary.html", class_summary_html(grades)))
    return paths
