"""One submission: cut by :mod:`..submissions.loading`, run in a sandboxed child
(:class:`~..submissions.SandboxExecutor`), probed first (the one probe set of
:mod:`..diagnose.probes`, sent in one batch on a time budget of its own: its op forms make
the capability table, all of it the diagnosis), and judged case by case by the same harness
as ``check`` (every case's first call sent ahead in one batch; finite differences only at
the first point of a case where a gradient disagrees: one witness per case).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..answer_keys import AnswerKeys
from ..batches import Prepared, Request, execute_all
from ..executors import Observation
from ..harness import CaseResult, Run, check_case, sample_points
from ..submissions import ChildFailure, SandboxExecutor, Submission, SubmissionRef, load_submission, probe_cases
from ..submissions.sandbox import TrustedExecutor
from ..truth import UNIT_ROUNDOFF
from .assignment import GradeConfig
from .model import Capability, GradeOutcome, SubmissionGrade
from .score import (
    INCIDENTS,
    core_verdict,
    first_problem,
    grade_case,
    incident_grade,
    submission_finding,
    submission_verdict,
)

if TYPE_CHECKING:
    from ..diagnose.probes import Probe

__all__ = ["MAX_DETAILED", "grade_submission", "warm_answer_keys"]

FLOAT32_ROUNDOFF = 2.0**-24
MAX_DETAILED = 5  #: cases whose per-node tables a submission's reports show (the smallest that did not pass)


_KEYS: dict[str | None, AnswerKeys] = {}


def _answer_keys(cache_dir: str | None) -> AnswerKeys:
    """One answer-key store per cache folder and process: loaded from disk once."""
    if cache_dir not in _KEYS:
        _KEYS[cache_dir] = AnswerKeys(Path(cache_dir) if cache_dir else None)
    return _KEYS[cache_dir]


def warm_answer_keys(config: GradeConfig) -> int:
    """Compute every answer key the batch will need, once, before it starts (the
    reference engine walks every case, probes included), and the bug catalog's
    predictions; return how many answer keys were new."""
    from ..engine import Value
    from ..executors import InProcessExecutor

    keys = _answer_keys(config.cache_dir)
    before = keys.computed
    executor = InProcessExecutor(Value)
    for cases, samples in ((config.cases, config.samples), (probe_cases() if config.probes else (), 0)):
        for case in cases:
            check_case(case, executor, samples=samples, seed=config.seed, answer_keys=keys,
                       finite_differences="never")
    if config.diagnose:
        from ..diagnose.match import warm_predictions

        warm_predictions(config.cache_dir)  # the bug catalog's predictions, stored beside the keys
    return keys.computed - before


def _notes(
    grade: SubmissionGrade, sub: Submission, results: Sequence[CaseResult], ex: SandboxExecutor | TrustedExecutor
) -> None:
    if sub.borrowed:
        grade.notes.append(f"imports {', '.join(sub.borrowed)}: this Value may not be the student's own")
    if ex.load_report is not None:
        grade.notes.extend(ex.load_report.notes)
        if ex.load_report.float32:
            grade.precision = "float32"
            grade.notes.append(f".data holds float32 ({ex.load_report.data_type}): judged with float32 error "
                               "bounds (unit roundoff 2^-24)")
    seeded = any("seeded it by hand" in n for r in results for p in r.points for n in p.notes)
    if seeded:
        grade.notes.append("backward() does not set the output's grad to 1 itself; gradients were judged after "
                           "seeding it by hand")
    if grade.output:
        lines = grade.output.count("\n")
        grade.notes.append(f"the code prints while it runs ({lines} lines captured; see 'Printed output')")
    grade.notes.append(f"the code ran {ex.isolation}")


def _probes(config: GradeConfig) -> tuple[Probe, ...]:
    """What to probe: every probe for a diagnosis, else the op forms for the capability table."""
    from ..diagnose import PROBES

    if config.diagnose:
        return PROBES
    return tuple(p for p in PROBES if p.form) if config.probes else ()


def _probe(ex: Prepared, grade: SubmissionGrade, config: GradeConfig, run: Run) -> dict[str, Observation]:
    """Run the probes before anything else, in one batch on a budget of their own (so slow
    cases cannot starve them, nor a hanging probe the cases); fill the capability table from
    the op forms' results, judged against their answer keys like cases; return every probe's
    observation, for the diagnosis."""
    from ..diagnose import run_probes

    found = run_probes(ex, _probes(config), budget=config.limits.probe_timeout)
    keys = _answer_keys(config.cache_dir)
    for case in probe_cases() if config.probes else ():
        op = case.tags[-1].removeprefix("op:")
        try:  # answered from the batch (finite differences, if a gradient disagrees, cost one more call)
            r = check_case(case, ex, samples=0, seed=config.seed, answer_keys=keys, unit_roundoff=run.unit_roundoff,
                           finite_differences="first-mismatch")
        except ChildFailure as failure:
            grade.capabilities.append(Capability(case.name, op, failure.kind, failure.message))
        else:
            grade.capabilities.append(Capability(case.name, op, core_verdict(r.points, r.verdict), first_problem(r)))
    return found


_FIRST_CALLS: dict[str, list[Request]] = {}  #: by config digest, this process


def _first_calls(config: GradeConfig) -> list[Request]:
    """Each case's first call as :func:`~.harness.check_case` makes it (its points where the
    answer key is defined), to run ahead in one batch; the same for every submission.
    Should the harness ask otherwise, its calls simply go to the child one by one."""
    if config.digest not in _FIRST_CALLS:
        keys = _answer_keys(config.cache_dir)
        requests = []
        for case in config.cases:
            points = [*case.points, *(sample_points(case, config.samples, config.seed) if config.samples else [])]
            live = tuple(p for p, truth in zip(points, keys.get(case.program, points)) if not truth.domain_error)
            requests.append(Request(case.program, live))
        _FIRST_CALLS[config.digest] = requests
    return _FIRST_CALLS[config.digest]


def _judge_all(ex: Prepared, grade: SubmissionGrade, config: GradeConfig, run: Run) -> list[CaseResult]:
    """Judge every case (their first calls run ahead in one batch, each training case's
    descent in one message); fill ``grade``; return the results."""
    keys = _answer_keys(config.cache_dir)
    for case, first in zip(config.cases, execute_all(ex, _first_calls(config))):
        if case.steps and not isinstance(first, Exception):  # (a case that failed stops before its descent)
            ex.descend(case.program, case.points[0], case.steps, case.lr)
    results = []
    for case in config.cases:
        try:
            r = check_case(case, ex, samples=config.samples, seed=config.seed, answer_keys=keys,
                           unit_roundoff=run.unit_roundoff, finite_differences="first-mismatch")
        except ChildFailure as failure:
            if not grade.incident and not failure.message.startswith("not run"):
                grade.incident = f"{case.name}: {failure.message}"
            grade.cases.append(incident_grade(case, failure))
        else:
            results.append(r)
            grade.cases.append(grade_case(r, config.rubric, run))
    grade.verdict = submission_verdict(grade.cases)
    return results


def _diagnose(ex: Prepared, grade: SubmissionGrade, observations: dict[str, Observation], unit_roundoff: float,
              cache_dir: str | None) -> None:
    """Name known bugs from the probes' observations; for a wrong submission, or one with a
    bug that makes numbers wrong (whether or not the cases show it), find a minimal
    counterexample. Skipped after a timeout, crash or memory failure in the cases (what
    the probes saw would only repeat it)."""
    from ..diagnose import CATALOG, diagnose
    from ..diagnose.counterexample import counterexample_of
    from ..diagnose.match import warm_predictions

    if grade.verdict in INCIDENTS:
        return
    warm_predictions(cache_dir)  # loaded from the cache once per process
    rel = 1e-6 if unit_roundoff <= UNIT_ROUNDOFF else 1e-3
    found = diagnose(observations, rel=rel)
    grade.diagnosis = found.to_json()
    grade.unexplained = [dict(e.__dict__) for e in found.unexplained]
    wrong_numbers = [c for c in found.codes if CATALOG[c].faults is not None and not CATALOG[c].note_only]
    if grade.verdict == "wrong" or wrong_numbers:
        try:
            # no case shows it: only the named bugs' own counterexample, no blind search through
            # the child (150 calls, ~0.35 s, in vain for bugs no small program shows)
            example = counterexample_of(ex, found.codes, rel=rel, max_examples=150,
                                        search=grade.verdict == "wrong")
        except Exception:  # an extra: a child that dies mid-search must not sink the grade
            example = None
        if example is not None:
            grade.counterexample = example.as_case()


def grade_submission(ref: SubmissionRef, config: GradeConfig, digest: str = "") -> GradeOutcome:
    """Grade one submission in a sandboxed child; never raises for anything the submission does."""
    from ..report.grades import render_submission, submission_html

    started = time.perf_counter()
    sub = load_submission(ref)
    grade = SubmissionGrade(ref.id, str(ref.path), digest, "correct", 0.0, sum(c.weight for c in config.cases), "",
                            notes=list(sub.notes), cells=list(sub.cells), main=str(sub.main or ""))
    options = [*(["--seed", str(config.seed)] if config.seed else []),
               *(["--samples", str(config.samples)] if config.samples != 2 else []),
               *(["--single"] if ref.path.is_dir() else [])]
    run = Run([], [], sub.label, config.seed, config.samples,
              rerun=("python", "-m", "gradcheck_lab", "grade", *options, str(ref.path), "--cases"))
    results: list[CaseResult] = []
    if sub.problem:
        grade.verdict, grade.finding = "invalid", sub.problem
        grade.cases = [incident_grade(c, ChildFailure("invalid", sub.problem)) for c in config.cases]
    else:
        runner = SandboxExecutor if config.sandbox else TrustedExecutor
        hidden = [Path(h) for h in (*config.hidden, *([config.cache_dir] if config.cache_dir else []))]
        shared = [p.program for p in _probes(config)] + [c.program for c in config.cases]
        with runner(sub, config.limits, hidden=hidden, shared=shared) as child:
            try:
                load = child.start()
            except ChildFailure as failure:
                grade.verdict, grade.finding, grade.error = failure.kind, failure.message, failure.traceback
                grade.cases = [incident_grade(c, failure) for c in config.cases]
            else:
                run = replace(run, unit_roundoff=FLOAT32_ROUNDOFF if load.float32 else UNIT_ROUNDOFF)
                ex = Prepared(child)  # answers the harness's calls from the batches run ahead
                observations = _probe(ex, grade, config, run)
                results = _judge_all(ex, grade, config, run)
                if config.diagnose:
                    _diagnose(ex, grade, observations, run.unit_roundoff, config.cache_dir)
            grade.output = "".join(child.output)[:16_000]
            _notes(grade, sub, results, child)
    if grade.verdict in INCIDENTS and grade.verdict not in grade.codes:
        from ..diagnose import CATALOG

        grade.diagnosis.insert(0, {"code": grade.verdict, "explanation": CATALOG[grade.verdict].explanation,
                                   "evidence": []})
    grade.score = round(sum(c.score for c in grade.cases), 6)
    grade.finding = submission_finding(grade)
    grade.seconds = time.perf_counter() - started
    failing = [r for r in results if r.verdict not in ("ok", "unsupported")]
    detailed = sorted(failing, key=lambda r: len(r.case.program.nodes))[:MAX_DETAILED]  # the smallest teach best
    shown = replace(run, results=detailed, seconds=grade.seconds)
    report_md, report_json = render_submission(grade, shown)
    return GradeOutcome(grade, report_md, report_json, submission_html(grade, shown) if config.html else "")
