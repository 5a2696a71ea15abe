"""Scoring: a judged case becomes points; a submission's cases, capability table and
diagnosis become its verdict, its deductions and its score, under an assignment.

A case is worth its points (the assignment's, else its ``weight``). It earns the share of
its (point, node) checks that agree (``Rubric.partial_credit``; otherwise all or nothing);
one that needs a required form the class lacks earns ``Rubric.unsupported_credit`` of its
points; one that needs only optional forms the class lacks, or that fails only by a bug
the assignment calls a warning (``recursion-limit``), is excused: it costs nothing. A case
that timed out, crashed or ran out of memory earns nothing.

A bug the probes prove (a diagnosis code the assignment calls wrong, or a form whose value
or gradient is wrong) costs as much as one failed case of its op, beyond the cases: the
score is the cases' points less these deductions (never below 0).

The verdict is the worst (:class:`~.model.Verdict`) of every case's, every required form's
and every proven code's; each is decided from typed facts, and anything unknown is an
error, never a pass.
"""

from __future__ import annotations

import operator
import statistics
from collections.abc import Sequence

from ..cases import Case
from ..checktable import case_text, fmt, point_title
from ..compare import FAILURES, WARNINGS, PointCheck
from ..diagnose.catalog import CATALOG, Effect
from ..harness import CaseResult, Run
from ..ops import OPS
from ..submissions import ChildFailure
from .assignment import Assignment, Cost, Rubric, forms_of
from .model import Capability, CaseGrade, Deduction, SubmissionGrade, Verdict

__all__ = ["INCIDENTS", "core_verdict", "first_problem", "grade_case", "incident_grade", "settle"]

INCIDENTS = ("crash", "timeout", "memory")
MISSING = ("unsupported", "exception")  #: a form probed with these is absent (or unusable: ``x + 2`` raising)
RECURSION = "recursion-limit"  #: a case's verdict when it failed by Python's recursion limit
_OP_OF = operator.attrgetter("op")


def first_problem(result: CaseResult) -> str:
    """The first thing that went wrong in a judged case, in one line."""
    for p in result.points:
        if p.verdict not in FAILURES:
            continue
        if p.message:
            return f"{point_title(p)}: {p.message}"
        n = p.first_failing()
        assert n is not None  # a failing point without a message: a node failed
        if n.verdict == "forward-mismatch":
            return f"{point_title(p)}: {n.name}: .data {fmt(n.value)}, the truth {fmt(n.symbolic_value)}"
        return (f"{point_title(p)}: dL/d{n.name} is {fmt(n.grad)}, the truth {fmt(n.symbolic_grad)}"
                + (f" ({n.detail})" if n.detail else ""))
    return "; ".join(result.notes[:1])


def core_verdict(points: Sequence[PointCheck], verdict: str) -> str:
    """The core's ``exception`` split by the exception's type: ``MemoryError`` is
    ``memory``, ``RecursionError`` is ``recursion-limit``."""
    if verdict == "exception":
        for p in points:
            if p.error_type == "MemoryError":
                return "memory"
            if p.error_type == "RecursionError":
                return RECURSION
    return verdict


def grade_case(
    result: CaseResult, rubric: Rubric, run: Run | None = None, points: float | None = None, *, feedback: bool = True
) -> CaseGrade:
    """Score one judged case (worth ``points``, else its weight); ``feedback``: keep a failing
    case's per-node tables as text (rendering them is most of a wrong engine's grading time).

    >>> from gradcheck_lab import check
    >>> g = grade_case(check("L = n + n", {"n": 4.0}), Rubric())
    >>> g.verdict, g.score, (g.agreed, g.judged)
    ('ok', 1.0, (2, 2))
    """
    case = result.case
    worth = case.weight if points is None else points
    tallies = [p.tally() for p in result.points]
    judged, agreed = sum(j for j, _ in tallies), sum(a for _, a in tallies)
    if result.training is not None:  # the descent counts as one more check
        judged, agreed = judged + 1, agreed + (result.training.verdict == "ok")
    verdict = core_verdict(result.points, result.verdict)
    if verdict == "unsupported":
        score = worth * rubric.unsupported_credit
    elif verdict in (*INCIDENTS, RECURSION):
        score = 0.0
    elif rubric.partial_credit:
        score = worth * (agreed / judged if judged else 1.0)
    else:
        score = worth if verdict not in FAILURES else 0.0
    failed = verdict in FAILURES or verdict in (*INCIDENTS, RECURSION)
    return CaseGrade(
        case.name, case.selector, worth, case.hidden, verdict, round(score, 6), agreed, judged,
        first_problem(result) if failed else "", case_text(result, run=run) if failed and feedback else "",
    )


def incident_grade(case: Case, failure: ChildFailure, points: float | None = None) -> CaseGrade:
    """A case the child never answered (a crash, timeout, memory failure, or no Value)."""
    return CaseGrade(case.name, case.selector, case.weight if points is None else points, case.hidden, failure.kind,
                     0.0, 0, 0, failure.message,
                     failure.message + ("\n" + failure.traceback if failure.traceback else ""))


def _case_verdict(c: CaseGrade) -> Verdict:
    """What one case says about the submission; an unknown case verdict is an error."""
    if c.excused or c.verdict == "ok" or c.verdict in WARNINGS:
        return Verdict.CORRECT
    if c.verdict == "unsupported":
        return Verdict.PARTIAL
    if c.verdict in FAILURES:
        return Verdict.WRONG
    if c.verdict == RECURSION:  # not the deep-graph warning the probes prove: endless recursion, a crash
        return Verdict.CRASH
    return Verdict(c.verdict)  # crash, timeout, memory, invalid; anything else raises


def _op_of(code: str) -> str:
    """The op a code names (``sub`` for ``wrong-local:rsub``), or ""."""
    op = code.partition(":")[2]
    op = {"rsub": "sub", "rtruediv": "div"}.get(op, op)
    return op if op in OPS else ""


def _op_points(op: str, cases: Sequence[Case], assignment: Assignment) -> float:
    """What one failed case of ``op`` costs: its cases' largest points (the median case's
    when no case uses it; 1 with no cases)."""
    points = [assignment.points(c) for c in cases if op in map(_OP_OF, c.program.nodes)]  # a scan in C
    if points:
        return max(points)
    return statistics.median(assignment.points(c) for c in cases) if cases else 1.0


def _missing_forms(capabilities: Sequence[Capability]) -> set[str]:
    """The forms the capability table found absent or unusable."""
    return {c.form for c in capabilities if c.verdict in MISSING}


def settle(grade: SubmissionGrade, cases: Sequence[Case], assignment: Assignment, rubric: Rubric) -> None:
    """Decide ``grade``'s excused cases, deductions, warnings, verdict and score from its
    cases, capability table and diagnosis, under ``assignment`` (again from scratch when
    called again, e.g. once the diagnosis is in)."""
    if grade.verdict in (Verdict.INVALID, Verdict.ENVIRONMENT) or not grade.cases:
        grade.score = round(sum(c.score for c in grade.cases), 6)
        return
    required, optional = set(assignment.required), set(assignment.optional)
    absent = _missing_forms(grade.capabilities)
    verdicts = [Verdict.PARTIAL for f in absent if f in required]
    warned = {code for code in grade.codes if assignment.cost(code).cost is Cost.WARNING}
    for case, c in zip(cases, grade.cases):
        c.excused = ""
        lacking = forms_of(case.program) & absent if absent and c.verdict in MISSING else set()
        if c.verdict in MISSING and lacking and lacking <= optional:
            c.excused = f"needs {', '.join(sorted(lacking))}, optional and absent here"
        elif c.verdict in MISSING and lacking:
            c.verdict = "unsupported"  # a required form absent: partial, not wrong
            c.score = round(c.weight * rubric.unsupported_credit, 6)
        elif c.verdict == RECURSION and RECURSION in warned:  # proven by the probes: deep graphs only
            c.excused = "deeper than Python's recursion limit: a warning under this assignment"
        if c.excused:
            c.score = c.weight
    proven = RECURSION in grade.codes  # a deep graph's RecursionError, the probes say: wrong if not a warning
    verdicts += [Verdict.WRONG if c.verdict == RECURSION and proven else _case_verdict(c) for c in grade.cases]

    grade.deductions, grade.warnings = [], sorted(warned)
    charged: set[str] = set()
    for code in grade.codes:
        if code.startswith("nn-"):  # the nn checks' own cases cost their points (gradcheck_lab.grading.nn)
            continue
        effect = CATALOG[code].effect if code in CATALOG else Effect.WRONG
        if effect in (Effect.MISSING, Effect.INCIDENT) or code in warned:
            continue  # the capability table and the cases say these
        verdicts.append(Verdict.WRONG)
        cost, op = assignment.cost(code), _op_of(code)
        if op and op in charged and cost.points is None:
            continue
        charged.add(op)
        points = cost.points if cost.points is not None else _op_points(op, cases, assignment)
        grade.deductions.append(Deduction(code, points, f"the probes prove {code}"
                                          + (f" (one failed case of {op})" if op and cost.points is None else "")))
    general = "" in charged  # a bug of no one op (the sort, the seeding) explains wrong forms too
    for cap in grade.capabilities:
        if cap.verdict in FAILURES and cap.verdict not in MISSING:
            verdicts.append(Verdict.WRONG)
            if cap.op not in charged and not general:
                charged.add(cap.op)
                grade.deductions.append(Deduction(f"form:{cap.form}", _op_points(cap.op, cases, assignment),
                                                  f"{cap.form} is wrong ({cap.verdict}; one failed case of {cap.op})"))
    grade.verdict = Verdict.worst({grade.verdict if grade.verdict.severity > Verdict.WRONG.severity
                                   else Verdict.CORRECT, *verdicts})  # a set: each verdict weighed once
    earned = sum(c.score for c in grade.cases) - sum(d.points for d in grade.deductions)
    grade.score = round(max(0.0, earned), 6)
    grade.finding = _submission_finding(grade, absent, assignment)


def _submission_finding(grade: SubmissionGrade, absent: set[str], assignment: Assignment) -> str:
    """The one line ``grades.csv`` shows: what matters most about this submission."""
    cases = grade.cases
    if grade.verdict.severity > Verdict.WRONG.severity and grade.finding and not any(c.judged for c in cases):
        return grade.finding  # it failed before any case: what failed says it
    for kind in INCIDENTS:
        hit = [c for c in cases if c.verdict == kind or (kind == "crash" and c.verdict == RECURSION and not c.excused)]
        if grade.verdict == kind and hit:
            return f"{kind} in {len(hit)} of {len(cases)} cases; first, {grade.incident or hit[0].message}"
    if grade.verdict.severity > Verdict.WRONG.severity:
        return grade.finding
    lacking = sorted(absent & set(assignment.required), key=list(assignment.required).index)
    missing_note = f"; required forms missing: {', '.join(lacking)}" if lacking else ""
    if grade.verdict is Verdict.WRONG:
        bad = [c for c in cases if c.verdict in (*FAILURES, RECURSION) and not c.excused and c.verdict != "unsupported"]
        named = [d.code for d in grade.deductions]
        prefix = f"{', '.join(named)}: " if named else ""
        if not bad:
            return f"{prefix}the probes prove it, though all {len(cases)} cases agree{missing_note}"
        small = min(bad, key=lambda c: c.judged)  # the smallest failing case shows the bug best
        return f"{prefix}{len(bad)} of {len(cases)} cases disagree; e.g. {small.name}: {small.message}{missing_note}"
    optional = sorted(absent & set(assignment.optional))
    absent_note = f" (optional, absent: {', '.join(optional)})" if optional else ""
    if grade.verdict is Verdict.PARTIAL:
        need = sum(1 for c in cases if c.verdict == "unsupported" and not c.excused)
        if not grade.capabilities:
            return f"{need} of {len(cases)} cases need forms the class lacks (no capability table: probes off)"
        return f"required forms missing: {', '.join(lacking)} ({need} of {len(cases)} cases need them)"
    excused = sum(1 for c in cases if c.excused)
    agree = f"all {len(cases) - excused} cases it can run agree" if excused else f"all {len(cases)} cases agree"
    return (agree + (f"; {excused} excused" if excused else "") + absent_note
            + (f"; warnings: {', '.join(grade.warnings)}" if grade.warnings else ""))
