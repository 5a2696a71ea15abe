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
import functools
import io
import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import write_text
from ..compare import FAILURES
from ..drawing import text_table
from .diagnosis import diagnosis_lines
from .escape import csv_cell, fenced, inert, inert_cells
from .json_report import run_to_json
from .markdown import markdown_text

if TYPE_CHECKING:
    from ..grading.model import SubmissionGrade
    from ..harness import Run

__all__ = [
    "GRADES_COLUMNS", "Section", "class_summary_html", "class_summary_text", "class_view", "clip", "grade_diagnosis",
    "grade_header", "grades_csv_text", "render_submission", "score_rows", "submission_html", "write_class_reports",
]

GRADES_COLUMNS = ["id", "score", "max_score", "verdict", "finding", "diagnosis"]
REPORT_KIND = "gradcheck_lab.grade"
REPORT_VERSION = 1
_OUTPUT_SHOWN = 4000


_cell = inert


def clip(text: str, width: int = 160) -> str:
    """``text`` cut at a word boundary to at most ``width`` characters, with an ellipsis.

    >>> clip("the backward pass of mul is wrong", 20)
    'the backward pass…'
    """
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


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


def score_rows(grade: SubmissionGrade) -> list[tuple[str, ...]]:
    """One row per case: name, score, verdict, share of checks that agree, first problem."""
    return [_score_row(c.name, c.hidden, f"{_points(c.score)} / {_points(c.max_score)}", c.verdict, c.agreed, c.judged,
                       c.message, c.excused) for c in grade.cases]


@functools.lru_cache(maxsize=4096)
def _score_row(name: str, hidden: bool, score: str, verdict: str, agreed: int, judged: int, message: str,
               excused: str) -> tuple[str, ...]:
    """A case's row, made once per process for each distinct one: a class's reports share most."""
    return (name + " (hidden)" * hidden, score, verdict + " (excused)" * bool(excused),
            f"{agreed}/{judged}" if judged and verdict != "unsupported" else "-",
            f"{excused}: {message}" if excused else message)


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


def _submission_markdown(grade: SubmissionGrade, run: Run) -> str:
    out = [f"# {grade.id}: {grade.verdict}, {_points(grade.score)} / {_points(grade.max_score)}", "",
           *(f"- {_cell(line)}" for line in grade_header(grade))]
    if grade.diagnosis or grade.unexplained or grade.counterexample:
        out += ["", "## Diagnosis", "", *grade_diagnosis(grade)]
    if grade.notes:
        out += ["", "## Notes", "", *(f"- {_cell(n)}" for n in grade.notes)]
    if grade.error:
        out += ["", "## Loading failed", "", *fenced(grade.error)]
    if grade.deductions:
        rows = [[f"`{d.code}`", f"-{_points(d.points)}", _cell(d.why)] for d in grade.deductions]
        out += ["", "## Deductions", "", "Bugs the probes prove cost points beyond the cases:", "",
                text_table(["code", "points", "why"], rows)]
    if grade.capabilities:
        rows = [[f"`{c.form}`", _cell(c.verdict), _cell(c.message)] for c in grade.capabilities]
        out += ["", "## Capabilities", "", text_table(["form", "verdict", "detail"], rows)]
    if grade.cases:
        out += ["", "## Cases", "", text_table(["case", "score", "verdict", "checks agreeing", "first problem"],
                                               map(inert_cells, score_rows(grade)))]
    if grade.output:
        shown = grade.output[:_OUTPUT_SHOWN]
        more = f" (first {_OUTPUT_SHOWN} characters)" if len(grade.output) > _OUTPUT_SHOWN else ""
        out += ["", f"## Printed output{more}", "", "```", shown.rstrip().replace("```", "'''"), "```"]
    if run.results:
        out += ["", "## Per-node tables of the smallest cases that did not pass", "", *_demote(markdown_text(run))]
    return "\n".join(out) + "\n"


def _json(data: Any) -> str:
    """``data`` on one line as :func:`json.dumps` writes it with ``(",", ":")``: an object is
    its members' texts joined, so one object's text can go into another's as it is."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)  # the C encoder: fast


def render_submission(grade: SubmissionGrade, run: Run) -> tuple[str, str, str]:
    """``report.md``, ``report.json`` and ``grade.json`` of one submission; the grade is made
    into JSON once, for ``grade.json`` and ``report.json``'s ``submission`` both."""
    graded = _json(grade.to_json())
    report = (f'{{"kind":{_json(REPORT_KIND)},"schema_version":{_json(REPORT_VERSION)},"submission":{graded},'
              f'"details":{_json(run_to_json(run))}}}')
    return _submission_markdown(grade, run), report + "\n", graded + "\n"


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


@dataclass
class Section:
    """One part of the class view: a table (or a sentence when it has no rows)."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    empty: str = ""  #: said instead of an empty table
    intro: str = ""


def _share(k: float, n: float) -> str:
    return f"{100 * k / n:.0f}%" if n else "-"


def _bar(k: int, most: int, width: int = 30) -> str:
    return "█" * max(1 if k else 0, round(width * k / most)) if most else ""


def class_view(grades: Sequence[SubmissionGrade]) -> tuple[list[str], list[Section]]:
    """The class as an instructor reads it: summary lines, then the score distribution,
    the students, how many have each bug code, the students grouped by diagnosis, each op's
    failure rate and each case's pass rate. Markdown and HTML render the same sections."""
    from ..diagnose import CATALOG
    from ..diagnose.catalog import Effect

    n = len(grades)
    verdicts = Counter(g.verdict for g in grades)
    scores = sorted(100 * g.score / g.max_score for g in grades if g.max_score)
    assignments = sorted({g.assignment for g in grades if g.assignment})
    lines = [f"{n} submission{'s' * (n != 1)}: " + ", ".join(f"{v.value} {k}" for v, k in
                                                             sorted(verdicts.items(), key=lambda vk: vk[0].severity))]
    if scores:
        lines.append(f"score: mean {statistics.mean(scores):.0f}%, median {statistics.median(scores):.0f}%, "
                     f"lowest {scores[0]:.0f}%, highest {scores[-1]:.0f}%")
    if assignments:
        lines.append(f"assignment: {'; '.join(assignments)}")
    sections = []

    buckets = Counter(min(int(x // 10), 9) for x in scores)  # 100% joins 90-100%
    most = max(buckets.values(), default=0)
    sections.append(Section("Score distribution", ["score", "students", ""], [
        [f"{10 * b}-{10 * b + 10}%", str(buckets[b]), _bar(buckets[b], most)] for b in range(9, -1, -1)],
        "No submission has a score."))

    sections.append(Section("Students", ["id", "score", "%", "verdict", "finding", "diagnosis"], [
        [g.id, f"{_points(g.score)} / {_points(g.max_score)}", _share(round(g.score, 6), round(g.max_score, 6))
         if g.max_score else "-", g.verdict.value, clip(g.finding), " ".join(_shown_codes(g))] for g in grades]))

    graded = [g for g in grades if g.verdict.students_fault and g.verdict.value != "invalid"]
    by_code: dict[str, list[str]] = {}
    for g in graded:
        for code in g.codes:
            by_code.setdefault(code, []).append(g.id)
    effect = {code: (CATALOG[code].effect.value if code in CATALOG else Effect.WRONG.value) for code in by_code}
    ranked = sorted(by_code.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    sections.append(Section(
        "Bugs: how many students have each", ["code", "students", "share", "kind", "what it means"],
        [[code, str(len(ids)), _share(len(ids), len(graded)), effect[code],
          CATALOG[code].explanation if code in CATALOG else ""] for code, ids in ranked],
        "No known bug in any gradable submission.", f"Over the {len(graded)} gradable submissions."))

    groups: dict[tuple[str, ...], list[SubmissionGrade]] = {}
    for g in graded:
        groups.setdefault(tuple(_shown_codes(g)), []).append(g)
    sections.append(Section("Students grouped by diagnosis", ["diagnosis", "students", "verdicts", "who"], [
        [" + ".join(codes) or "(no bug found)", str(len(members)),
         ", ".join(f"{v} {k}" for v, k in Counter(m.verdict.value for m in members).most_common()),
         clip(", ".join(m.id for m in members), 120)]
        for codes, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        "No gradable submission."))

    ops: dict[str, Counter[str]] = {}
    for g in graded:
        state: dict[str, str] = {}
        for cap in g.capabilities:
            if cap.verdict in ("unsupported", "exception"):
                state.setdefault(cap.op, "absent")
            elif cap.verdict in FAILURES:
                state[cap.op] = "wrong"
            else:
                state.setdefault(cap.op, "works")
        for code in g.codes:  # a bug the probes prove on an op the capability table found working
            op = code.partition(":")[2]
            if op in state and (code not in CATALOG or CATALOG[code].effect is Effect.WRONG):
                state[op] = "wrong"
        for op, how in state.items():
            ops.setdefault(op, Counter())[how] += 1
    op_rows = sorted(ops.items(), key=lambda kv: (-kv[1]["wrong"] / sum(kv[1].values()), -kv[1]["absent"], kv[0]))
    sections.append(Section(
        "Ops: failure rates", ["op", "wrong", "absent", "works", "failure rate"],
        [[op, str(how["wrong"]), str(how["absent"]), str(how["works"]), _share(how["wrong"], sum(how.values()))]
         for op, how in op_rows],
        "No capability table (probes off).",
        "Per op of the assignment, over the gradable submissions: wrong (a form or a proven bug), absent, works."))

    per_case: dict[str, list[tuple[bool, float, float]]] = {}
    for g in graded:
        for c in g.cases:
            per_case.setdefault(c.name, []).append((c.passed, c.score, c.max_score))
    stats = []  # (name, passed, seen, share of points earned)
    for name, seen in per_case.items():
        top = sum(m for _, _, m in seen)
        stats.append((name, sum(p for p, _, _ in seen), len(seen), sum(s for _, s, _ in seen) / top if top else 1.0))

    def case_rows(chosen: Sequence[tuple[str, int, int, float]]) -> list[list[str]]:
        return [[name, f"{passed}/{seen}", _share(passed, seen), f"{100 * earned:.0f}%"]
                for name, passed, seen, earned in chosen]

    worst = sorted((s for s in stats if s[1] < s[2]), key=lambda s: (s[1] / s[2], s[3], s[0]))[:10]
    sections.append(Section("Cases that fail most", ["case", "passed", "pass rate", "points earned"],
                            case_rows(worst), "Every case passes in every gradable submission."))
    sections.append(Section("Cases: pass rate", ["case", "passed", "pass rate", "points earned"], case_rows(stats),
                            "No case was graded.", f"Over the {len(graded)} gradable submissions."))
    return lines, sections


def _shown_codes(grade: SubmissionGrade) -> list[str]:
    """The codes worth a column: every code but a missing form (the capability table says those)."""
    return [c for c in grade.codes if not c.startswith("unsupported:")]


def class_summary_text(grades: Sequence[SubmissionGrade]) -> str:
    """``class_summary.md``: :func:`class_view` as Markdown."""
    lines, sections = class_view(grades)
    out = ["# Class summary", "", *(f"- {line}" for line in lines)]
    for sec in sections:
        out += ["", f"## {sec.title}", ""] + ([sec.intro, ""] if sec.intro and sec.rows else [])
        out.append(text_table(sec.headers, [[_cell(x) for x in row] for row in sec.rows]) if sec.rows else sec.empty)
    return "\n".join(out) + "\n"


def submission_html(grade: SubmissionGrade, run: Run) -> str:
    """A submission's report as one self-contained HTML page: the grade, the diagnosis with
    its evidence and counterexample, every case's score, and the per-node tables and graphs
    of the smallest cases that did not pass."""
    from .html import escape, page, run_sections, table

    back = '<p><a href="../../class_summary.html">&larr; the class summary</a></p>'  # submissions/<id>/
    parts = [back + "".join(f'<p class="meta">{escape(line)}</p>' for line in grade_header(grade))]
    if grade.diagnosis or grade.unexplained or grade.counterexample:
        parts.append(f'<div class="diagnosis"><strong>Diagnosis</strong><pre>'
                     f'{escape(chr(10).join(grade_diagnosis(grade, markdown=False)))}</pre></div>')
    parts.append("<h2>Cases</h2>" + table(["case", "score", "verdict", "checks agreeing", "first problem"],
                                          map(_score_html, score_rows(grade)), raw=True))
    if run.results:
        parts.append("<h2>The smallest cases that did not pass</h2>" + run_sections(run))
    title = f"{grade.id}: {grade.verdict}, {_points(grade.score)} / {_points(grade.max_score)}"
    return page(title, "\n".join(parts))


@functools.lru_cache(maxsize=4096)
def _score_html(row: tuple[str, ...]) -> tuple[str, ...]:
    """A case's row (:func:`score_rows`) as HTML cells, its verdict a badge; once per process per distinct row."""
    from .html import badge, escape

    name, score, verdict, checks, problem = row
    return escape(name), escape(score), badge(verdict), escape(checks), escape(problem)


def class_summary_html(grades: Sequence[SubmissionGrade]) -> str:
    """:func:`class_view` as one self-contained HTML page of real tables, each student
    linked to their report, each verdict a badge."""
    from .html import badge, escape, page, table

    lines, sections = class_view(grades)
    parts = ["".join(f'<p class="meta">{escape(line)}</p>' for line in lines)]
    for sec in sections:
        parts.append(f"<h2>{escape(sec.title)}</h2>")
        if not sec.rows:
            parts.append(f"<p>{escape(sec.empty)}</p>")
            continue
        if sec.intro:
            parts.append(f"<p>{escape(sec.intro)}</p>")
        rows = [[escape(x) for x in row] for row in sec.rows]
        if sec.title == "Students":
            for row, g in zip(rows, grades):
                row[0] = f'<a href="submissions/{escape(g.id)}/report.html">{escape(g.id)}</a>'
                row[3] = badge(g.verdict.value)
        parts.append(table(sec.headers, rows, raw=True))
    return page("Class summary", "\n".join(parts))


def write_class_reports(report_dir: str | Path, grades: Sequence[SubmissionGrade], html: bool = False) -> list[Path]:
    """Write ``grades.csv`` and ``class_summary.md`` (and ``class_summary.html``), atomically."""
    directory = Path(report_dir)
    paths = [write_text(directory / "grades.csv", grades_csv_text(grades)),
             write_text(directory / "class_summary.md", class_summary_text(grades))]
    if html:
        paths.append(write_text(directory / "class_summary.html", class_summary_html(grades)))
    return paths
