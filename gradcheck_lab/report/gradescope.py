"""``results.json`` for a Gradescope autograder, per Gradescope's autograder specification.

Top level: ``score``, numeric ``execution_time`` (seconds), ``output`` (the verdict, the
finding, notes and the capability table, as text), ``visibility``,
``stdout_visibility`` and ``tests``. One test per case: ``name``, ``number``,
``score``, ``max_score``, ``status`` (``passed``/``failed``), ``output`` (the failing
points' tables), ``tags`` and ``visibility``: the assignment's, except that a case marked
``hidden = true`` in its case file is shown ``after_due_date``. A first, unscored test
says whether the submission loaded. Every key is one the specification defines.

>>> from gradcheck_lab.grading import CaseGrade, SubmissionGrade
>>> g = SubmissionGrade("s", "s.py", "", "correct", 1.0, 1.0, "all 1 cases agree",
...                     cases=[CaseGrade("a", "c.toml::a", 1.0, True, "ok", 1.0)])
>>> r = results_json(g)
>>> r["score"], r["tests"][1]["status"], r["tests"][1]["visibility"]
(1.0, 'passed', 'after_due_date')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from ..atomic import write_text
from .grades import grade_diagnosis, grade_header

if TYPE_CHECKING:
    from ..grading.model import SubmissionGrade

__all__ = ["VISIBILITIES", "results_json", "write_results"]

#: The values Gradescope accepts for ``visibility`` and ``stdout_visibility``.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
_OUTPUT_LIMIT = 20_000


def _clip(text: str) -> str:
    return text if len(text) <= _OUTPUT_LIMIT else text[:_OUTPUT_LIMIT] + "\n[... cut]"


def results_json(
    grade: SubmissionGrade, *, visibility: str = "visible", stdout_visibility: str = "hidden"
) -> dict[str, Any]:
    """The ``results.json`` object of one graded submission."""
    if visibility not in VISIBILITIES or stdout_visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    summary = [*grade_header(grade), *(f"note: {n}" for n in grade.notes)]
    if grade.diagnosis or grade.unexplained or grade.counterexample:
        summary += ["", "Diagnosis:", *grade_diagnosis(grade, markdown=False)]
    if grade.capabilities:
        rows = [[c.form, c.verdict, c.message] for c in grade.capabilities]
        summary += ["", "What the Value class can do:", tabulate(rows, ["form", "verdict", "detail"],
                                                                 disable_numparse=True)]
    loaded = grade.verdict != "invalid" and not grade.error
    tests: list[dict[str, Any]] = [{
        "name": "The submission loads and defines Value",
        "status": "passed" if loaded else "failed",
        "output": _clip("\n".join(grade_header(grade)[:3]) + (f"\n\n{grade.error}" if grade.error else "")),
        "visibility": visibility,
    }]
    if grade.diagnosis:
        tests.append({
            "name": "Diagnosis: known bugs",
            # as the verdict: a code that costs (or an incident) fails it, a warning or a missing form does not
            "status": "failed" if grade.deductions or any(
                c not in grade.warnings and not c.startswith("unsupported:") for c in grade.codes) else "passed",
            "output": _clip("\n".join(grade_diagnosis(grade, markdown=False))),
            "tags": grade.codes,
            "visibility": visibility,
        })
    for k, c in enumerate(grade.cases, 1):
        tests.append({
            "name": c.name,
            "number": str(k),
            "score": c.score,
            "max_score": c.max_score,
            "status": "passed" if c.passed else "failed",
            "output": _clip(f"excused: {c.excused}" if c.excused else
                            c.feedback or f"{c.verdict}: {c.agreed} of {c.judged} checks agree"),
            "tags": [c.verdict],
            "visibility": "after_due_date" if c.hidden else visibility,
        })
    return {
        "score": grade.score,
        "execution_time": round(grade.seconds, 3),
        "output": _clip("\n".join(summary)),
        "output_format": "text",
        "test_output_format": "text",
        "visibility": visibility,
        "stdout_visibility": stdout_visibility,
        "tests": tests,
    }


def write_results(path: str | Path, grade: SubmissionGrade, **options: str) -> Path:
    """Write ``results.json`` atomically (Gradescope reads ``/autograder/results/results.json``)."""
    return write_text(path, json.dumps(results_json(grade, **options), indent=1, allow_nan=False) + "\n")
