"""Scoring: a judged case becomes points and a verdict; a submission's cases, its verdict
and the one line that says what matters most.

A case is worth its ``weight`` (default 1). Its score is the weight times the share of
(point, node) checks that agree (``Rubric.partial_credit``; otherwise all or nothing); a
case that needs an op the class lacks earns ``Rubric.unsupported_credit`` of its weight;
a case that timed out, crashed or ran out of memory earns nothing.

A submission's verdict is the first that applies of: ``invalid`` (no gradable Value),
``crash``, ``timeout``, ``memory`` (while loading, or in any case), ``wrong`` (a case
disagrees or raises), ``partial`` (some cases need unsupported ops), ``correct``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..cases import Case
from ..compare import FAILURES, WARNINGS, PointCheck
from ..harness import CaseResult, Run
from ..submissions import ChildFailure
from .assignment import Rubric
from .model import SUBMISSION_VERDICTS, CaseGrade, SubmissionGrade

__all__ = ["INCIDENTS", "first_problem", "grade_case", "incident_grade", "submission_finding", "submission_verdict"]

INCIDENTS = ("crash", "timeout", "memory")


def first_problem(result: CaseResult) -> str:
    """The first thing that went wrong in a judged case, in one line."""
    from ..report.tables import fmt, point_title

    for p in result.points:
        if p.verdict not in FAILURES:
            continue
        if p.message:
            return f"{point_title(p)}: {p.message}"
        n = next(n for n in p.nodes if n.verdict in FAILURES)
        if n.verdict == "forward-mismatch":
            return f"{point_title(p)}: {n.name}: .data {fmt(n.value)}, the truth {fmt(n.symbolic_value)}"
        return (f"{point_title(p)}: dL/d{n.name} is {fmt(n.grad)}, the truth {fmt(n.symbolic_grad)}"
                + (f" ({n.detail})" if n.detail else ""))
    return "; ".join(result.notes[:1])


def core_verdict(points: Sequence[PointCheck], verdict: str) -> str:
    """The core's ``exception`` split: ``MemoryError`` is ``memory``, ``RecursionError`` a ``crash``."""
    if verdict == "exception":
        for p in points:
            if p.message.startswith("MemoryError"):
                return "memory"
            if p.message.startswith("RecursionError"):
                return "crash"
    return verdict


def grade_case(result: CaseResult, rubric: Rubric, run: Run | None = None) -> CaseGrade:
    """Score one judged case.

    >>> from gradcheck_lab import check
    >>> g = grade_case(check("L = n + n", {"n": 4.0}), Rubric())
    >>> g.verdict, g.score, (g.agreed, g.judged)
    ('ok', 1.0, (2, 2))
    """
    from ..report.tables import case_text

    case = result.case
    verdicts = [n.verdict for p in result.points for n in p.nodes if n.verdict not in WARNINGS]
    if result.training is not None:  # the descent counts as one more check
        verdicts.append(result.training.verdict)
    judged, agreed = len(verdicts), verdicts.count("ok")
    verdict = core_verdict(result.points, result.verdict)
    if verdict == "unsupported":
        score = case.weight * rubric.unsupported_credit
    elif verdict in INCIDENTS:
        score = 0.0
    elif rubric.partial_credit:
        score = case.weight * (agreed / judged if judged else 1.0)
    else:
        score = case.weight if verdict not in FAILURES else 0.0
    failed = verdict in FAILURES or verdict in INCIDENTS
    return CaseGrade(
        case.name, case.selector, case.weight, case.hidden, verdict, round(score, 6), agreed, judged,
        first_problem(result) if failed else "", case_text(result, run=run) if failed else "",
    )


def incident_grade(case: Case, failure: ChildFailure) -> CaseGrade:
    """A case the child never answered (a crash, timeout, memory failure, or no Value)."""
    return CaseGrade(case.name, case.selector, case.weight, case.hidden, failure.kind, 0.0, 0, 0,
                     failure.message, failure.message + ("\n" + failure.traceback if failure.traceback else ""))


def _worst(verdicts: Sequence[str]) -> str:
    return max(verdicts, key=SUBMISSION_VERDICTS.index, default="correct")


def submission_verdict(cases: Sequence[CaseGrade]) -> str:
    """The submission's verdict from its cases' verdicts."""
    found = ["partial" if c.verdict == "unsupported" else c.verdict if c.verdict in INCIDENTS else
             "wrong" if c.verdict in FAILURES else "correct" for c in cases]
    return _worst(found)


def submission_finding(grade: SubmissionGrade) -> str:
    """The one line ``grades.csv`` shows: what matters most about this submission."""
    cases = grade.cases
    if grade.verdict == "invalid" or (grade.verdict in INCIDENTS and not any(c.judged for c in cases)
                                      and grade.finding):
        return grade.finding
    for kind in INCIDENTS:
        hit = [c for c in cases if c.verdict == kind]
        if grade.verdict == kind and hit:
            return f"{kind} in {len(hit)} of {len(cases)} cases; first, {grade.incident or hit[0].message}"
    if grade.verdict == "wrong":
        bad = [c for c in cases if c.verdict in FAILURES and c.verdict != "unsupported"]
        small = min(bad, key=lambda c: c.judged)  # the smallest failing case shows the bug best
        named = [c for c in grade.codes if not c.startswith("unsupported:")]
        prefix = f"{', '.join(named)}: " if named else ""
        return f"{prefix}{len(bad)} of {len(cases)} cases disagree; e.g. {small.name}: {small.message}"
    if grade.verdict == "partial":
        missing = sorted({c.form for c in grade.capabilities if c.verdict == "unsupported"}
                         or {m.group(1) for c in cases if (m := re.search(r"has no (\w+)", c.message))})
        need = sum(1 for c in cases if c.verdict == "unsupported")
        return f"unsupported: {', '.join(missing) or 'some ops'} ({need} of {len(cases)} cases need them)"
    return f"all {len(cases)} cases agree"
