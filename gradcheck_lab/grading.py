"""Grading student submissions: rubric, scores, verdicts, and batches that resume.

:func:`grade_submission` grades one submission: it is cut by :mod:`.submissions.loading`,
run in a sandboxed child (:class:`~.submissions.SandboxExecutor`), probed first (the one
probe set of :mod:`.diagnose.probes`, sent in one batch on a time budget of its own: its op
forms make the capability table, all of it the diagnosis), and judged case by case by the
same harness as ``check`` (every case's first call sent ahead in one batch; finite
differences only at the first point of a case where a gradient disagrees: one witness per
case).
:func:`grade_batch` grades many on any :class:`concurrent.futures.Executor`, writes each
submission's reports as it finishes, and skips those whose content and case set are
unchanged since the last run.

Scores: a case is worth its ``weight`` (default 1). Its score is the weight times the
share of (point, node) checks that agree (``Rubric.partial_credit``; otherwise all or
nothing); a case that needs an op the class lacks earns ``Rubric.unsupported_credit``
of its weight; a case that timed out, crashed or ran out of memory earns nothing.

A submission's verdict is the first that applies of: ``invalid`` (no gradable Value),
``crash``, ``timeout``, ``memory`` (while loading, or in any case), ``wrong`` (a case
disagrees or raises), ``partial`` (some cases need unsupported ops), ``correct``.

To grade on a cluster, pass its executor, e.g. with dask.distributed::

    from dask.distributed import Client
    with Client("scheduler:8786") as client:
        grade_batch(refs, config, "reports", executor=client.get_executor())

Workers need gradcheck_lab installed and the submissions' paths readable; answer keys
are computed once by the caller and reach workers through ``config.cache_dir`` when it
is shared (otherwise each worker computes its own, once).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import pickle
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .answer_keys import AnswerKeys
from .atomic import write_text
from .batches import Prepared, Request, execute_all
from .cases import Case
from .compare import FAILURES, WARNINGS, PointCheck
from .executors import Observation
from .harness import CaseResult, Run, check_case, sample_points
from .submissions import (
    ChildFailure,
    Limits,
    SandboxExecutor,
    Submission,
    SubmissionRef,
    content_digest,
    load_submission,
    probe_cases,
)
from .submissions.sandbox import TrustedExecutor
from .truth import UNIT_ROUNDOFF

if TYPE_CHECKING:
    from .diagnose.probes import Probe

__all__ = [
    "GRADER_VERSION", "SUBMISSION_VERDICTS", "BatchResult", "Capability", "CaseGrade", "GradeConfig", "GradeOutcome",
    "Rubric", "SubmissionGrade", "grade_batch", "grade_case", "grade_submission", "read_grade", "warm_answer_keys",
    "write_outcome",
]

GRADER_VERSION = "2"  #: bump when grades' meaning changes: every stored grade is then redone
#: From best to worst.
SUBMISSION_VERDICTS = ("correct", "partial", "wrong", "memory", "timeout", "crash", "invalid")
FLOAT32_ROUNDOFF = 2.0**-24
MAX_DETAILED = 5  #: cases whose per-node tables a submission's reports show (the smallest that did not pass)
_INCIDENTS = ("crash", "timeout", "memory")


@dataclass(frozen=True)
class Rubric:
    """How checks become points."""

    partial_credit: bool = True  #: a case earns the share of its checks that agree
    unsupported_credit: float = 0.0  #: share of a case's weight when it needs a missing op


@dataclass(frozen=True)
class GradeConfig:
    """Everything that decides a grade besides the submission itself (picklable, for workers)."""

    cases: tuple[Case, ...]
    rubric: Rubric = field(default_factory=Rubric)
    limits: Limits = field(default_factory=Limits)
    samples: int = 2
    seed: int = 0
    cache_dir: str | None = None  #: answer-key cache shared by all workers (None: memory only)
    hidden: tuple[str, ...] = ()  #: folders the child may not read (caches, reports, cases...)
    probes: bool = True  #: the capability table (the probes' op forms)
    diagnose: bool = True  #: name known bugs (every probe) and search a minimal counterexample
    html: bool = False  #: also write each submission's report.html (and the class's)
    sandbox: bool = True  #: False runs submissions in the grader's process: trusted code only (benchmarks)

    @cached_property
    def digest(self) -> str:
        """A hash of the case set, the rubric and the limits: stored grades are redone when it changes."""
        cases = [
            [c.selector, c.program.digest, [sorted(p.items()) for p in c.points], c.weight, c.hidden,
             sorted(c.sample.items()), c.steps, c.lr]
            for c in self.cases
        ]
        blob = json.dumps([GRADER_VERSION, __version__, cases, asdict(self.rubric), asdict(self.limits),
                           self.samples, self.seed, self.probes, self.diagnose, self.html], sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class CaseGrade:
    """One case of one submission: its score and why."""

    name: str
    selector: str
    weight: float
    hidden: bool
    verdict: str  #: a core verdict (``ok``, ``grad-mismatch``...) or ``timeout``/``crash``/``memory``
    score: float
    agreed: int = 0  #: (point, node) checks that agree
    judged: int = 0  #: checks judged (warnings such as kinks are not)
    message: str = ""  #: the first thing that went wrong
    feedback: str = ""  #: the failing points' tables, as text

    @property
    def max_score(self) -> float:
        return self.weight

    @property
    def passed(self) -> bool:
        return self.verdict == "ok" or self.verdict in WARNINGS


@dataclass
class Capability:
    """One probe: can the class do ``form`` (``x + 2``, ``exp(x)``...), and is it right."""

    form: str
    op: str
    verdict: str
    message: str = ""


@dataclass
class SubmissionGrade:
    """A submission's grade: what ``grade.json`` holds and every report is made from."""

    id: str
    path: str
    hash: str
    verdict: str
    score: float
    max_score: float
    finding: str
    cases: list[CaseGrade] = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)
    main: str = ""
    precision: str = "float64"
    output: str = ""  #: what the submission printed (bounded)
    error: str = ""  #: the loading failure's traceback, if any
    incident: str = ""  #: the first crash, timeout or memory failure: where and what
    diagnosis: list[dict[str, Any]] = field(default_factory=list)  #: codes, explanations, evidence
    unexplained: list[dict[str, Any]] = field(default_factory=list)  #: probes no known bug explains
    counterexample: str = ""  #: a minimal disagreeing case, as a [[case]] table
    seconds: float = 0.0

    @property
    def codes(self) -> list[str]:
        """The diagnosis codes, e.g. ``["grad-overwrite:mul"]``."""
        return [d["code"] for d in self.diagnosis]

    def to_json(self) -> dict[str, Any]:
        """As ``dataclasses.asdict`` gives it, without its deep copies (a grade is written twice)."""
        return {**vars(self), "cases": [dict(vars(c)) for c in self.cases],
                "capabilities": [dict(vars(c)) for c in self.capabilities]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubmissionGrade:
        fields = dict(data)
        fields["cases"] = [CaseGrade(**c) for c in fields.get("cases", [])]
        fields["capabilities"] = [Capability(**c) for c in fields.get("capabilities", [])]
        return cls(**fields)


@dataclass
class GradeOutcome:
    """What a worker sends back: the grade and its rendered per-submission reports."""

    grade: SubmissionGrade
    report_md: str
    report_json: str
    report_html: str = ""


@dataclass
class BatchResult:
    """A batch: every submission's grade in input order, and which were reused."""

    grades: list[SubmissionGrade]
    reused: set[str]
    seconds: float
    errors: dict[str, str] = field(default_factory=dict)  #: id -> why the grader itself failed


# --------------------------------------------------------------------------- one case


def _first_problem(result: CaseResult) -> str:
    from .report.tables import fmt, point_title

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


def _core_verdict(points: Sequence[PointCheck], verdict: str) -> str:
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
    from .report.tables import case_text

    case = result.case
    verdicts = [n.verdict for p in result.points for n in p.nodes if n.verdict not in WARNINGS]
    if result.training is not None:  # the descent counts as one more check
        verdicts.append(result.training.verdict)
    judged, agreed = len(verdicts), verdicts.count("ok")
    verdict = _core_verdict(result.points, result.verdict)
    if verdict == "unsupported":
        score = case.weight * rubric.unsupported_credit
    elif verdict in _INCIDENTS:
        score = 0.0
    elif rubric.partial_credit:
        score = case.weight * (agreed / judged if judged else 1.0)
    else:
        score = case.weight if verdict not in FAILURES else 0.0
    failed = verdict in FAILURES or verdict in _INCIDENTS
    return CaseGrade(
        case.name, case.selector, case.weight, case.hidden, verdict, round(score, 6), agreed, judged,
        _first_problem(result) if failed else "", case_text(result, run=run) if failed else "",
    )


def _incident(case: Case, failure: ChildFailure) -> CaseGrade:
    return CaseGrade(case.name, case.selector, case.weight, case.hidden, failure.kind, 0.0, 0, 0,
                     failure.message, failure.message + ("\n" + failure.traceback if failure.traceback else ""))


# --------------------------------------------------------------------------- one submission


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
    from .engine import Value
    from .executors import InProcessExecutor

    keys = _answer_keys(config.cache_dir)
    before = keys.computed
    executor = InProcessExecutor(Value)
    for cases, samples in ((config.cases, config.samples), (probe_cases() if config.probes else (), 0)):
        for case in cases:
            check_case(case, executor, samples=samples, seed=config.seed, answer_keys=keys,
                       finite_differences="never")
    if config.diagnose:
        from .diagnose.match import warm_predictions

        warm_predictions(config.cache_dir)  # the bug catalog's predictions, stored beside the keys
    return keys.computed - before


def _worst(verdicts: Sequence[str]) -> str:
    return max(verdicts, key=SUBMISSION_VERDICTS.index, default="correct")


def _verdict(cases: Sequence[CaseGrade]) -> str:
    found = ["partial" if c.verdict == "unsupported" else c.verdict if c.verdict in _INCIDENTS else
             "wrong" if c.verdict in FAILURES else "correct" for c in cases]
    return _worst(found)


def _finding(grade: SubmissionGrade) -> str:
    """The one line ``grades.csv`` shows: what matters most about this submission."""
    cases = grade.cases
    if grade.verdict == "invalid" or (grade.verdict in _INCIDENTS and not any(c.judged for c in cases)
                                      and grade.finding):
        return grade.finding
    for kind in _INCIDENTS:
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
    if ex.network_namespace is False:
        grade.notes.append("ran without a network namespace (unshare -rn is not available here)")


def _probes(config: GradeConfig) -> tuple[Probe, ...]:
    """What to probe: every probe for a diagnosis, else the op forms for the capability table."""
    from .diagnose import PROBES

    if config.diagnose:
        return PROBES
    return tuple(p for p in PROBES if p.form) if config.probes else ()


def _probe(ex: Prepared, grade: SubmissionGrade, config: GradeConfig, run: Run) -> dict[str, Observation]:
    """Run the probes before anything else, in one batch on a budget of their own (so slow
    cases cannot starve them, nor a hanging probe the cases); fill the capability table from
    the op forms' results, judged against their answer keys like cases; return every probe's
    observation, for the diagnosis."""
    from .diagnose import run_probes

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
            grade.capabilities.append(Capability(case.name, op, _core_verdict(r.points, r.verdict), _first_problem(r)))
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
            grade.cases.append(_incident(case, failure))
        else:
            results.append(r)
            grade.cases.append(grade_case(r, config.rubric, run))
    grade.verdict = _verdict(grade.cases)
    return results


def _diagnose(ex: Prepared, grade: SubmissionGrade, observations: dict[str, Observation], unit_roundoff: float,
              cache_dir: str | None) -> None:
    """Name known bugs from the probes' observations; for a wrong submission, or one with a
    bug that makes numbers wrong (whether or not the cases show it), find a minimal
    counterexample. Skipped after a timeout, crash or memory failure in the cases (what
    the probes saw would only repeat it)."""
    from .diagnose import CATALOG, diagnose
    from .diagnose.counterexample import counterexample_of
    from .diagnose.match import warm_predictions

    if grade.verdict in _INCIDENTS:
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
    from .report.grades import render_submission, submission_html

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
        grade.cases = [_incident(c, ChildFailure("invalid", sub.problem)) for c in config.cases]
    else:
        runner = SandboxExecutor if config.sandbox else TrustedExecutor
        hidden = [Path(h) for h in (*config.hidden, *([config.cache_dir] if config.cache_dir else []))]
        shared = [p.program for p in _probes(config)] + [c.program for c in config.cases]
        with runner(sub, config.limits, hidden=hidden, shared=shared) as child:
            try:
                load = child.start()
            except ChildFailure as failure:
                grade.verdict, grade.finding, grade.error = failure.kind, failure.message, failure.traceback
                grade.cases = [_incident(c, failure) for c in config.cases]
            else:
                run = replace(run, unit_roundoff=FLOAT32_ROUNDOFF if load.float32 else UNIT_ROUNDOFF)
                ex = Prepared(child)  # answers the harness's calls from the batches run ahead
                observations = _probe(ex, grade, config, run)
                results = _judge_all(ex, grade, config, run)
                if config.diagnose:
                    _diagnose(ex, grade, observations, run.unit_roundoff, config.cache_dir)
            grade.output = "".join(child.output)[:16_000]
            _notes(grade, sub, results, child)
    if grade.verdict in _INCIDENTS and grade.verdict not in grade.codes:
        from .diagnose import CATALOG

        grade.diagnosis.insert(0, {"code": grade.verdict, "explanation": CATALOG[grade.verdict].explanation,
                                   "evidence": []})
    grade.score = round(sum(c.score for c in grade.cases), 6)
    grade.finding = _finding(grade)
    grade.seconds = time.perf_counter() - started
    failing = [r for r in results if r.verdict not in ("ok", "unsupported")]
    detailed = sorted(failing, key=lambda r: len(r.case.program.nodes))[:MAX_DETAILED]  # the smallest teach best
    shown = replace(run, results=detailed, seconds=grade.seconds)
    report_md, report_json = render_submission(grade, shown)
    return GradeOutcome(grade, report_md, report_json, submission_html(grade, shown) if config.html else "")


# --------------------------------------------------------------------------- batches


def submission_dir(report_dir: str | Path, sub_id: str) -> Path:
    return Path(report_dir) / "submissions" / sub_id


def read_grade(report_dir: str | Path, sub_id: str) -> SubmissionGrade | None:
    """The stored grade of a submission (``grade.json``, written last), or None."""
    path = submission_dir(report_dir, sub_id) / "grade.json"
    try:
        return SubmissionGrade.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_outcome(report_dir: str | Path, outcome: GradeOutcome) -> None:
    """Write a submission's reports, each atomically, ``grade.json`` last: a batch stopped
    at any moment leaves every submission either done (and skipped next time) or not."""
    folder = submission_dir(report_dir, outcome.grade.id)
    write_text(folder / "report.md", outcome.report_md)
    write_text(folder / "report.json", outcome.report_json)
    if outcome.report_html:
        write_text(folder / "report.html", outcome.report_html)
    write_text(folder / "grade.json", json.dumps(outcome.grade.to_json(), separators=(",", ":")) + "\n")


def _failed_grade(ref: SubmissionRef, config: GradeConfig, exc: BaseException) -> SubmissionGrade:
    message = f"the grader failed on this submission: {type(exc).__name__}: {exc}"
    return SubmissionGrade(ref.id, str(ref.path), "", "crash", 0.0, sum(c.weight for c in config.cases), message)


_CONFIGS: dict[str, GradeConfig] = {}  #: configs already unpickled in this process, by digest


class _Shipped:
    """A config as tasks carry it: pickled once per batch, unpickled once per worker
    process (a config holds every case: rebuilding it per task cost more than grading)."""

    def __init__(self, config: GradeConfig) -> None:
        self.config = config
        self._blob: bytes | None = None

    def __reduce__(self) -> tuple[Any, tuple[str, bytes]]:
        if self._blob is None:
            self._blob = pickle.dumps(self.config)
        return _unship, (self.config.digest, self._blob)


def _unship(digest: str, blob: bytes) -> _Shipped:
    if digest not in _CONFIGS:
        _CONFIGS[digest] = pickle.loads(blob)
    return _Shipped(_CONFIGS[digest])


def _grade_task(ref: SubmissionRef, shipped: _Shipped, digest: str) -> GradeOutcome:
    return grade_submission(ref, shipped.config, digest)


def _pool(jobs: int) -> cf.ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["gradcheck_lab.grading"])
    return cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context)


def grade_batch(
    refs: Sequence[SubmissionRef],
    config: GradeConfig,
    report_dir: str | Path,
    *,
    executor: cf.Executor | None = None,
    jobs: int = 1,
    force: bool = False,
    on_result: Callable[[SubmissionGrade, bool], None] | None = None,
) -> BatchResult:
    """Grade ``refs``: reuse stored grades whose hash matches (unless ``force``), grade the
    rest on ``executor`` (else a pool of ``jobs`` processes, else in this process), and
    write each one's reports as it finishes. ``on_result(grade, reused)`` reports progress.

    Interrupted (Ctrl-C), it keeps what is written: the next run skips those.
    """
    started = time.perf_counter()
    hashes = {r.id: hashlib.sha256((content_digest(r.path) + config.digest).encode()).hexdigest() for r in refs}
    grades: dict[str, SubmissionGrade] = {}
    reused: set[str] = set()
    todo = []
    for ref in refs:
        stored = None if force else read_grade(report_dir, ref.id)
        if stored is not None and stored.hash == hashes[ref.id]:
            grades[ref.id] = stored
            reused.add(ref.id)
            if on_result:
                on_result(stored, True)
        else:
            todo.append(ref)
    errors: dict[str, str] = {}

    def finish(ref: SubmissionRef, outcome: GradeOutcome | BaseException) -> None:
        if isinstance(outcome, BaseException):
            grade = _failed_grade(ref, config, outcome)
            errors[ref.id] = grade.finding
        else:
            write_outcome(report_dir, outcome)
            grade = outcome.grade
        grades[ref.id] = grade
        if on_result:
            on_result(grade, False)

    if todo:
        warm_answer_keys(config)
        own = executor is None and jobs > 1
        pool = _pool(jobs) if own else executor
        try:
            if pool is None:
                for ref in todo:
                    outcome: GradeOutcome | BaseException
                    try:
                        outcome = grade_submission(ref, config, hashes[ref.id])
                    except Exception as exc:
                        outcome = exc
                    finish(ref, outcome)
            else:
                shipped = _Shipped(config)
                futures = {pool.submit(_grade_task, ref, shipped, hashes[ref.id]): ref for ref in todo}
                try:
                    for future in cf.as_completed(futures):
                        error = future.exception()
                        finish(futures[future], error if error is not None else future.result())
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            if own and pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    ordered = [grades[r.id] for r in refs if r.id in grades]
    return BatchResult(ordered, reused, time.perf_counter() - started, errors)
