"""One submission: cut by :mod:`..submissions.loading`, run in a sandboxed child
(:class:`~..submissions.SandboxExecutor`), probed first (the one probe set of
:mod:`..diagnose.probes`, sent in one batch on a time budget of its own: its op forms make
the capability table, all of it the diagnosis), then judged by the same plans as ``check``
(:mod:`..plan`): every case's requests in one batch, each judged from its results by
position, and the finite-difference witnesses of the cases the reports show in one more.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..batches import Result, execute_all
from ..cases import Case
from ..diagnose.probes import probe_cases
from ..executors import Execution, Executor, Observation
from ..harness import Run
from ..plan import CaseResult, FiniteDifferences, Plan, Session, failure_of, judge, plan_witness
from ..submissions import ChildFailure, SandboxExecutor, Submission, SubmissionRef, load_submission
from ..submissions.sandbox import TrustedExecutor
from ..truth import UNIT_ROUNDOFF
from .assignment import GradeConfig
from .model import Capability, GradeOutcome, SubmissionGrade, Verdict
from .score import INCIDENTS, core_verdict, first_problem, grade_case, incident_grade, settle

if TYPE_CHECKING:
    from ..diagnose.probes import Probe

__all__ = [
    "MAX_DETAILED", "conclude", "detailed", "grade_submission", "judge_submission", "missing_modules",
    "warm_answer_keys", "warm_process",
]

FLOAT32_ROUNDOFF = 2.0**-24
MAX_DETAILED = 5  #: cases whose per-node tables a submission's reports show (the smallest that did not pass)


def warm_answer_keys(config: GradeConfig) -> int:
    """Compute every answer key the batch will need, once, before it starts (the
    reference engine walks every case, probes included), and the bug catalog's
    predictions; return how many answer keys were new."""
    session = config.session
    before = session.answer_keys.computed
    _plans(config.cases, session, config.samples, config.seed)
    _plans(_form_cases(config), session, 0, config.seed)
    if config.diagnose:
        from ..diagnose.match import warm_predictions

        warm_predictions(config.cache_dir)  # the bug catalog's predictions, stored beside the keys
    if config.assignment.nn is not None:  # the nn checks' answer keys and exact descents, on the reference
        from ..nn import check_nn, in_process
        from ..nn.template import namespace

        check_nn(in_process(namespace()), config.assignment.nn.config, session.answer_keys)
    return session.answer_keys.computed - before


_YOUNG = 10_000  #: objects a grading process allocates (net) before the collector looks at the young ones


def warm_process(config: GradeConfig) -> None:
    """Ready this process to grade many submissions by ``config``: :func:`warm_answer_keys`,
    then everything alive (the cases, their plans and answer keys, the modules) set aside from
    the garbage collector (``gc.freeze``): it lives as long as the process, and every full
    collection walked all of it again (~10 ms of a grader's ~90 ms per submission). Young
    objects are collected after :data:`_YOUNG` allocations, not 700: judging a submission
    makes thousands at once (its results), alive until it is graded, and walked again and
    again meanwhile (~4 ms per submission)."""
    warm_answer_keys(config)
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG, *gc.get_threshold()[1:])


def _plans(cases: Sequence[Case], session: Session, samples: int, seed: int) -> list[Plan]:
    """Every case's plan (made once per process: every submission is judged by the same)."""
    return [session.plan(c, samples, seed) for c in cases]


def _form_cases(config: GradeConfig) -> tuple[Case, ...]:
    """The capability table's cases: the assignment's operator forms."""
    if not config.probes:
        return ()
    forms = set(config.assignment.forms)
    return tuple(c for c in probe_cases() if c.name in forms)


def missing_modules(sub: Submission) -> list[str]:
    """Modules the submission imports that the grading environment lacks (neither the
    standard library, nor installed, nor one of the submission's own files).

    >>> from gradcheck_lab.submissions.loading import extract_source
    >>> source = "import math, no_such_module as np\\nclass Value:\\n    def f(self):\\n        return np.e\\n"
    >>> missing_modules(extract_source("s", source))
    ['no_such_module']
    """
    own = {Path(name).parts[0].removesuffix(".py") for name, _ in sub.files}
    return sorted(m for m in set(sub.imports) - own - set(sys.stdlib_module_names)
                  if importlib.util.find_spec(m) is None)


def _notes(grade: SubmissionGrade, sub: Submission, config: GradeConfig, ex: SandboxExecutor | TrustedExecutor) -> None:
    if sub.borrowed:
        grade.notes.append(f"imports {', '.join(sub.borrowed)}: this Value may not be the student's own")
    if ex.load_report is not None:
        grade.notes.extend(ex.load_report.notes)
        if ex.load_report.float32:
            grade.precision = "float32"
            grade.notes.append(f".data holds float32 ({ex.load_report.data_type}): judged with float32 error "
                               "bounds (unit roundoff 2^-24)")
    if "no-seed-grad" in grade.codes:
        allowed = "allowed by this assignment" if config.assignment.seed_by_hand else "the assignment requires it"
        grade.notes.append(f"backward() does not set the output's grad to 1 itself ({allowed}); gradients were "
                           "judged after seeding it by hand")
    if not config.diagnose and grade.verdict.severity <= Verdict.WRONG.severity:
        grade.notes.append("graded without a diagnosis: bugs no case shows, and the seeding contract, were not "
                           "checked")
    if grade.output:
        lines = grade.output.count("\n")
        grade.notes.append(f"the code prints while it runs ({lines} lines captured; see 'Printed output')")
    grade.notes.append(f"the code ran {ex.isolation}")


def _probes(config: GradeConfig) -> tuple[Probe, ...]:
    """What to probe: the assignment's probes for a diagnosis, else its op forms for the capability table."""
    probes = config.assignment.probes()
    if config.diagnose:
        return probes
    return tuple(p for p in probes if p.form) if config.probes else ()


def _probe(ex: Executor, grade: SubmissionGrade, config: GradeConfig, run: Run) -> dict[str, Observation]:
    """Run the probes before anything else, in one batch on a budget of their own (so slow
    cases cannot starve them, nor a hanging probe the cases); fill the capability table from
    the op forms' plans, judged from the same batch (a form case asks exactly what its probe
    asks: one request serves both), their finite-difference witnesses in one more; return
    every probe's observation, for the diagnosis."""
    from ..diagnose.match import probe_observations

    probes = _probes(config)
    forms = _form_cases(config)
    plans = _plans(forms, config.session, 0, config.seed)
    requests = [p.request for p in probes]
    slot = {r.key: k for k, r in enumerate(requests)}
    for plan in plans:
        if plan.request.key not in slot:
            slot[plan.request.key] = len(requests)
            requests.append(plan.request)
    results = execute_all(ex, requests, budget=config.limits.probe_timeout)
    found: dict[int, CaseResult | ChildFailure] = {}
    runnable: list[tuple[Plan, list[Result]]] = []
    for k, plan in enumerate(plans):
        first = [results[slot[plan.request.key]]]
        failure = failure_of(first)
        if failure is not None:
            found[k] = _failure(failure)
        else:
            runnable.append((plan, first))
    ran = iter(_witnessed(ex, runnable, run))
    for k, case in enumerate(forms):
        r = found[k] if k in found else next(ran)
        op = case.tags[-1].removeprefix("op:")
        if isinstance(r, ChildFailure):
            grade.capabilities.append(Capability(case.name, op, r.kind, r.message))
        else:
            grade.capabilities.append(Capability(case.name, op, core_verdict(r.points, r.verdict), first_problem(r)))
    return probe_observations(probes, results)


def _failure(found: Exception) -> ChildFailure:
    """A child's failure, to grade; any other exception is the grader's own bug: raised."""
    if isinstance(found, ChildFailure):
        return found
    raise found


def _witnessed(
    ex: Executor, judged: Sequence[tuple[Plan, Sequence[Result]]], run: Run
) -> list[CaseResult | ChildFailure]:
    """Each plan judged from its results with finite differences at its first point where a
    gradient disagrees (the stencils of all in one batch); where a witness fails, its failure."""
    firsts = [judge(plan, got, unit_roundoff=run.unit_roundoff) for plan, got in judged]
    witnesses = [plan_witness(plan, r, FiniteDifferences.FIRST_MISMATCH) for (plan, _), r in zip(judged, firsts)]
    ran = iter(execute_all(ex, [w.request for w in witnesses if w is not None]))
    found: list[CaseResult | ChildFailure] = []
    for (plan, got), first, witness in zip(judged, firsts, witnesses):
        execution = next(ran) if witness is not None else None
        if witness is None or execution is None:
            found.append(first)
        elif isinstance(execution, Execution):
            found.append(judge(plan, got, unit_roundoff=run.unit_roundoff, witness=(witness, execution)))
        else:
            assert isinstance(execution, Exception)
            found.append(_failure(execution))
    return found


def _judge_all(ex: Executor, grade: SubmissionGrade, config: GradeConfig, run: Run) -> list[CaseResult]:
    """Judge every case: the plans' requests in one batch (then each training case's
    descent in one message, unless its first request failed), each judged from its results
    by position; fill ``grade``; return the results.

    Finite differences only witness which pass is wrong (no verdict depends on them), so
    they are run for the cases the reports show in full (:func:`detailed`), at their first
    disagreeing point, in one more batch: a varied class is mostly wrong engines, and
    witnesses for every failing case cost a quarter of the grading time."""
    plans = _plans(config.cases, config.session, config.samples, config.seed)
    firsts = execute_all(ex, [p.request for p in plans])
    trained = [k for k, (p, first) in enumerate(zip(plans, firsts)) if p.descent and not isinstance(first, Exception)]
    descents = dict(zip(trained, execute_all(ex, [d for k in trained if (d := plans[k].descent)])))
    results: list[CaseResult] = []
    ran: dict[str, tuple[Plan, list[Result]]] = {}  #: by case selector: what each judged result was judged from
    for k, (case, plan) in enumerate(zip(config.cases, plans)):
        got = [firsts[k], *([descents[k]] if k in descents else [])]
        failure = failure_of(got)
        if failure is not None:
            failed = _failure(failure)
            if not grade.incident and not failed.message.startswith("not run"):
                grade.incident = f"{case.name}: {failed.message}"
            grade.cases.append(incident_grade(case, failed, config.assignment.points(case)))
            continue
        r = judge(plan, got, unit_roundoff=run.unit_roundoff, explain=False)  # no witness yet: say nothing of one
        results.append(r)
        ran[case.selector] = (plan, got)
        grade.cases.append(grade_case(r, config.rubric, run, config.assignment.points(case),
                                      feedback=config.feedback))
    settle(grade, config.cases, config.assignment, config.rubric)
    where = {c.selector: k for k, c in enumerate(grade.cases)}
    position = {r.case.selector: k for k, r in enumerate(results)}
    shown = detailed(grade, results)
    for r, witnessed in zip(shown, _witnessed(ex, [ran[r.case.selector] for r in shown], run)):
        if isinstance(witnessed, ChildFailure):  # a child that dies now keeps the result it gave
            continue
        results[position[r.case.selector]] = witnessed
        grade.cases[where[r.case.selector]] = grade_case(witnessed, config.rubric, run,
                                                         config.assignment.points(r.case))
    return results


def _diagnose(ex: Executor, grade: SubmissionGrade, observations: dict[str, Observation], unit_roundoff: float,
              cache_dir: str | None) -> None:
    """Name known bugs from the probes' observations; for a wrong submission, or one with a
    bug that makes numbers wrong (whether or not the cases show it), find a minimal
    counterexample. Skipped after a timeout, crash or memory failure in the cases (what
    the probes saw would only repeat it)."""
    from ..diagnose import CATALOG, diagnose
    from ..diagnose.counterexample import counterexample_from, counterexample_of
    from ..diagnose.match import warm_predictions

    if any(c.verdict in INCIDENTS for c in grade.cases):  # the process failed: the probes would only repeat it
        return
    warm_predictions(cache_dir)  # loaded from the cache once per process
    rel = 1e-6 if unit_roundoff <= UNIT_ROUNDOFF else 1e-3
    found = diagnose(observations, rel=rel)
    grade.diagnosis = found.to_json()
    grade.unexplained = [dict(e.__dict__) for e in found.unexplained]
    wrong_numbers = [c for c in found.codes if CATALOG[c].wrong_number]
    # a search through the child only for a wrong number no named code stands for (the codes
    # that raise, or a missing op, explain a wrong verdict without one: the counterexample is never an error)
    search = grade.verdict is Verdict.WRONG and bool(wrong_numbers or found.unexplained or not found.codes)
    if search or wrong_numbers:
        try:
            # no case shows it: only the named bugs' own counterexample, no blind search through
            # the child (150 calls, ~0.35 s, in vain for bugs no small program shows)
            example = counterexample_from(found) or counterexample_of(ex, found.codes, rel=rel, max_examples=150,
                                                                     search=search)
        except Exception:  # an extra: a child that dies mid-search must not sink the grade
            example = None
        if example is not None:
            grade.counterexample = example.as_case()


def judge_submission(ex: Executor, grade: SubmissionGrade, config: GradeConfig, run: Run) -> list[CaseResult]:
    """Everything between loading a submission and its reports, on any executor (the
    requests of all cases in one batch): the probes, every case, the diagnosis; fill ``grade`` (its
    verdict and score settled under the assignment); return the cases' results."""
    observations = _probe(ex, grade, config, run)
    results = _judge_all(ex, grade, config, run)
    if config.diagnose:
        _diagnose(ex, grade, observations, run.unit_roundoff, config.cache_dir)
    _seeding(grade, config, observations)
    settle(grade, config.cases, config.assignment, config.rubric)
    return results


def _seeding(grade: SubmissionGrade, config: GradeConfig, observations: dict[str, Observation]) -> None:
    """The seeding contract, checked on its own: a probe whose backward() left the output's
    grad at 0 (the executor seeded it by hand) proves ``no-seed-grad``, whatever else the
    diagnosis names or leaves unexplained."""
    from ..diagnose import CATALOG

    seeded = [p for p in _probes(config) if p.name in observations and observations[p.name].seeded]
    if not seeded or {"no-seed-grad", "backward-noop"} & set(grade.codes):  # backward-noop: nothing runs at all
        return
    evidence = [{"probe": p.name, "source": p.source, "point": p.point, "expected": "backward() sets L.grad = 1",
                 "got": "L.grad left at 0 (seeded by hand)", "predicted": "L.grad left at 0"} for p in seeded[:3]]
    grade.diagnosis.append({"code": "no-seed-grad", "explanation": CATALOG["no-seed-grad"].explanation,
                            "evidence": evidence})


def conclude(grade: SubmissionGrade, lacking: Sequence[str] = ()) -> None:
    """The last word on a judged grade: a crash, timeout or memory failure named as a
    diagnosis code; ``lacking`` modules (missing from the grading environment) make a
    grade that is not correct the environment's fault; the score."""
    from ..diagnose import CATALOG

    if grade.verdict.value in INCIDENTS and grade.verdict.value not in grade.codes:
        grade.diagnosis.insert(0, {"code": grade.verdict.value, "explanation": CATALOG[grade.verdict].explanation,
                                   "evidence": []})
    if lacking and grade.verdict is not Verdict.CORRECT:
        grade.verdict = Verdict.ENVIRONMENT
        grade.finding = (f"the grading environment lacks {', '.join(lacking)}, which the submission imports: not "
                         f"the student's fault; install it where grading runs and grade again (as it ran: "
                         f"{grade.finding})")
    grade.score = round(max(0.0, sum(c.score for c in grade.cases) - sum(d.points for d in grade.deductions)), 6)


def detailed(grade: SubmissionGrade, results: Sequence[CaseResult]) -> list[CaseResult]:
    """The cases the reports show in full: the smallest that did not pass (they teach best)."""
    excused = {c.selector for c in grade.cases if c.excused}
    failing = [r for r in results if r.verdict not in ("ok", "unsupported") and r.case.selector not in excused]
    return sorted(failing, key=lambda r: len(r.case.program.nodes))[:MAX_DETAILED]


def grade_submission(ref: SubmissionRef, config: GradeConfig, digest: str = "") -> GradeOutcome:
    """Grade one submission in a sandboxed child; never raises for anything the submission does."""
    from ..report.grades import render_submission, submission_html
    from .nn import NN_NAMES, grade_nn, nn_failed_grades

    started = time.perf_counter()
    nn = config.assignment.nn
    sub = load_submission(ref, NN_NAMES if nn else ())
    points = [config.assignment.points(c) for c in config.cases]
    nn_points = sum(nn.points.values()) if nn else 0.0
    grade = SubmissionGrade(ref.id, str(ref.path), digest, Verdict.CORRECT, 0.0, sum(points) + nn_points, "",
                            notes=list(sub.notes), cells=list(sub.cells), main=str(sub.main or ""),
                            assignment=config.assignment.title)
    options = [*(["--seed", str(config.seed)] if config.seed else []),
               *(["--samples", str(config.samples)] if config.samples != 2 else []),
               *(["--single"] if ref.path.is_dir() else [])]
    run = Run([], [], sub.label, config.seed, config.samples,
              rerun=("python", "-m", "gradcheck_lab", "grade", *options, str(ref.path), "--cases"))
    results: list[CaseResult] = []
    nn_section = ""
    if sub.problem:
        grade.verdict, grade.finding = Verdict.INVALID, sub.problem
        grade.cases = [incident_grade(c, ChildFailure("invalid", sub.problem), p) for c, p in zip(config.cases, points)]
        grade.cases += nn_failed_grades(nn, "invalid", sub.problem) if nn else []
    else:
        runner = SandboxExecutor if config.sandbox else TrustedExecutor
        hidden = [Path(h) for h in (*config.hidden, *([config.cache_dir] if config.cache_dir else []))]
        shared = [p.program for p in _probes(config)] + [c.program for c in config.cases]
        with runner(sub, config.limits, hidden=hidden, shared=shared) as child:
            try:
                load = child.start()
            except ChildFailure as failure:
                grade.verdict, grade.finding, grade.error = Verdict(failure.kind), failure.message, failure.traceback
                grade.cases = [incident_grade(c, failure, p) for c, p in zip(config.cases, points)]
                grade.cases += nn_failed_grades(nn, failure.kind, failure.message) if nn else []
            else:
                run = replace(run, unit_roundoff=FLOAT32_ROUNDOFF if load.float32 else UNIT_ROUNDOFF)
                results = judge_submission(child, grade, config, run)
                if nn:  # the nn.py checks in the same child, graded as cases of their own
                    graded = grade_nn(child, nn, config.session.answer_keys, html=config.html,
                                      unit_roundoff=run.unit_roundoff)
                    grade.cases += graded.cases
                    grade.diagnosis += graded.diagnosis
                    nn_section = graded.html
                    settle(grade, config.cases, config.assignment, config.rubric)
            grade.output = "".join(child.output)[:16_000]
            _notes(grade, sub, config, child)
    conclude(grade, missing_modules(sub))
    grade.seconds = time.perf_counter() - started
    shown = replace(run, results=detailed(grade, results), seconds=grade.seconds)
    report_md, report_json, grade_json = render_submission(grade, shown)
    html = submission_html(grade, shown).replace("</body>", f"{nn_section}</body>", 1) if config.html else ""
    return GradeOutcome(grade, report_md, report_json, html, grade_json)
