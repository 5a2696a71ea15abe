"""Check your engine where you write it: ``check_engine(Value)`` on the class object itself.

In a notebook cell, after the cell that defines ``Value``::

    from gradcheck_lab import check_engine, explain
    check_engine(Value)                           # the verdict, the bug named, where it goes wrong
    explain(Value, "L = n + n", {"n": 4.0})       # backprop step by step, yours beside the truth

:func:`check_engine` runs what ``grade`` runs (the probes, every case, the diagnosis and
a minimal counterexample, by the grader's own steps) in this process, under the grader's
time limits (:mod:`.inprocess`); its result shows as HTML in Jupyter and as text elsewhere.
Only for your own code: a class from someone else belongs in ``grade``'s sandbox.

>>> from gradcheck_lab import Value
>>> found = check_engine(Value, cases=[])
>>> found.ok, found.codes, found.verdict
(True, [], 'correct')
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cases import Case, collect_cases, load_cases
from .errors import GradcheckError
from .inprocess import InProcessRunner, Limits
from .source import parse_source
from .valuelike import ValueLike

if TYPE_CHECKING:
    from .compare import PointCheck
    from .grading import SubmissionGrade
    from .harness import CaseResult, Run
    from .plan import Session
    from .walkthrough import Walkthrough

__all__ = ["EngineCheck", "Explanation", "check_engine", "default_cases", "explain"]

#: The cases ``grade`` uses by default: the repository's ``cases/`` folder.
CASES_DIR = Path(__file__).resolve().parent.parent / "cases"


def default_cases() -> list[Case]:
    """The cases ``grade`` checks by default (``cases/`` beside the package).

    >>> len(default_cases()) > 50
    True
    """
    if not CASES_DIR.is_dir():
        raise GradcheckError(f"no case folder at {CASES_DIR} (an installed copy without the repository's cases/); "
                             "pass cases=collect_cases([...])[0]")
    cases, errors = collect_cases([CASES_DIR])
    if errors:
        raise GradcheckError(f"the default cases do not load: {errors[0]}")
    return cases


def _name(value_class: object) -> str:
    module = getattr(value_class, "__module__", "") or ""
    qualname = getattr(value_class, "__qualname__", repr(value_class))
    return qualname if module in ("__main__", "builtins") else f"{module}.{qualname}"


@dataclass
class EngineCheck:
    """What :func:`check_engine` found: the grade (as ``grade`` makes it), the failing cases
    it shows, and the case that shows the bug best (the minimal counterexample, else the
    smallest failing case), judged node by node."""

    grade: SubmissionGrade
    details: Run  #: the smallest cases that did not pass, judged node by node
    showcase: CaseResult | None = None
    uid: str = field(default="", repr=False)

    @property
    def verdict(self) -> str:
        """``grade``'s verdict (``correct``, ``partial``: ops missing, ``wrong``, ``timeout``...), but
        ``wrong`` when the probes prove a wrong number that no case showed."""
        if self.grade.verdict in ("correct", "partial") and self._wrong_codes():
            return "wrong"
        return self.grade.verdict.value

    def _wrong_codes(self) -> list[str]:
        from .diagnose import CATALOG
        from .diagnose.catalog import Effect

        return [c for c in self.codes if c not in CATALOG or CATALOG[c].effect in (Effect.WRONG, Effect.INCIDENT)]

    @property
    def codes(self) -> list[str]:
        """The diagnosis codes, e.g. ``["grad-overwrite:add"]`` (``unsupported:OP`` included)."""
        return self.grade.codes

    @property
    def ok(self) -> bool:
        """True when nothing is wrong: no case disagrees and no probe shows a wrong number, a
        crash or a timeout. Missing operator forms (``unsupported:OP``) and warnings
        (``recursion-limit``) are not wrong: the course's engines lack ``sin``."""
        return self.verdict in ("correct", "partial") and not self.grade.unexplained

    def to_json(self) -> dict[str, Any]:
        """``ok``, ``codes`` and the grade as ``grade.json`` holds it.

        >>> from gradcheck_lab import Value
        >>> sorted(check_engine(Value, cases=[]).to_json())[:4]
        ['codes', 'grade', 'ok', 'showcase']
        """
        shown = None if self.showcase is None else {"case": self.showcase.case.name,
                                                    "source": self.showcase.case.source}
        return {"ok": self.ok, "codes": self.codes, "grade": self.grade.to_json(), "showcase": shown}

    def text(self) -> str:
        """The result as plain text (what ``print`` and a terminal show)."""
        from .report.notebook import engine_check_text

        return engine_check_text(self)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        from .report.notebook import engine_check_html

        return engine_check_html(self)


def _showcase(runner: InProcessRunner, grade: SubmissionGrade, results: list[CaseResult], session: Session,
              unit_roundoff: float) -> CaseResult | None:
    """The counterexample judged node by node (it is the smallest), else the smallest failing case."""
    from .harness import check_case
    from .submissions import ChildFailure

    if grade.counterexample:
        try:
            [case], _ = load_cases(grade.counterexample)
            with runner.own_budget(runner.limits.request_timeout, "the counterexample's"):
                return check_case(case, runner, samples=0, unit_roundoff=unit_roundoff, session=session)
        except (ChildFailure, GradcheckError, ValueError, KeyError):
            pass
    failing = [r for r in results if not r.ok and r.verdict != "unsupported"]
    return min(failing, key=lambda r: len(r.case.program.nodes), default=None)


def check_engine(
    value_class: type[ValueLike],
    cases: Iterable[Case] | None = None,
    *,
    samples: int = 2,
    seed: int = 0,
    limits: Limits | None = None,
    diagnose: bool = True,
    cache_dir: str | Path | None = None,
) -> EngineCheck:
    """Check a Value class as ``grade`` would, in this process: the probes, the cases
    (default: :func:`default_cases`), the diagnosis and a minimal counterexample, within
    ``limits`` (``grade``'s defaults: 10 s in all, 2 s a request, 3 s for the probes).
    ``cache_dir``: answer keys and the bug catalog's predictions (default: the user cache).
    """
    from . import grading
    from .answer_keys import default_cache_dir
    from .grading import run as grade_run
    from .harness import Run
    from .truth import UNIT_ROUNDOFF

    if not isinstance(value_class, type):
        raise GradcheckError(f"check_engine wants the class itself (check_engine(Value)), not {type(value_class)}")
    started = time.perf_counter()
    limits = limits or Limits()
    cache = str(cache_dir or default_cache_dir())
    config = grading.GradeConfig(tuple(default_cases() if cases is None else cases), limits=limits, samples=samples,
                                 seed=seed, cache_dir=cache, diagnose=diagnose, sandbox=False)
    label = _name(value_class)
    grade = grading.SubmissionGrade(label, label, "", grading.Verdict.CORRECT, 0.0,
                                    sum(config.assignment.points(c) for c in config.cases), "",
                                    assignment=config.assignment.title)
    run = Run([], [], label, seed, samples, rerun=())
    results: list[CaseResult] = []
    showcase = None
    grading.warm_answer_keys(config)  # SymPy and the catalog's predictions, off the class's clock (cached on disk)
    with InProcessRunner(value_class, limits) as runner:
        load = runner.start()
        run = replace(run, unit_roundoff=grade_run.FLOAT32_ROUNDOFF if load.float32 else UNIT_ROUNDOFF)
        if load.float32:
            grade.precision = "float32"
        results = grade_run.judge_submission(runner, grade, config, run)
        showcase = _showcase(runner, grade, results, config.session, run.unit_roundoff)
    grade.output = "".join(runner.output)
    grade_run.conclude(grade)
    grade.seconds = time.perf_counter() - started
    return EngineCheck(grade, replace(run, results=grade_run.detailed(grade, results), seconds=grade.seconds), showcase,
                       uid=f"gc{id(grade):x}-")


# --------------------------------------------------------------------------- explain


@dataclass
class Explanation:
    """Backprop through one expression at one point, step by step, with an implementation's
    numbers beside the truth: shows as HTML in Jupyter (the graph, where it parts from the
    truth, the tables) and as text elsewhere."""

    case: Case
    walkthrough: Walkthrough
    checks: PointCheck | None
    uid: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        """True when the implementation agrees with the truth at every node (or none was given)."""
        from .compare import FAILURES

        return self.checks is None or self.checks.verdict not in FAILURES

    @property
    def verdict(self) -> str:
        return "ok" if self.checks is None else self.checks.verdict

    def text(self) -> str:
        from .report.notebook import explanation_text

        return explanation_text(self)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        from .report.notebook import explanation_html

        return explanation_html(self)


def explain(
    value_class: type[ValueLike] | None, source: str, point: Mapping[str, float], *, by_hand: bool = False,
    digits: int = 4, timeout: float = 10.0,
) -> Explanation:
    """Walk through backprop on ``source`` at ``point`` as the course's worked example does,
    with ``value_class``'s numbers beside the truth (None: the truth alone). ``by_hand``
    rounds every number to ``digits`` decimals before using it again.

    >>> from gradcheck_lab import Value
    >>> e = explain(Value, "L = n + n", {"n": 4.0})
    >>> e.ok, e.walkthrough.grads
    (True, [2.0, 1.0])
    """
    from .answer_keys import AnswerKeys, default_cache_dir
    from .harness import check_case
    from .submissions import ChildFailure
    from .walkthrough import walk

    program = parse_source(source)
    missing = [x for x in program.inputs if x not in point]
    if missing:
        raise GradcheckError(f"the point gives no value for {', '.join(missing)} (inputs: {', '.join(program.inputs)})")
    where = {x: float(point[x]) for x in program.inputs}
    case = Case(name="explain", program=program, points=(where,), source=source)
    keys = AnswerKeys(default_cache_dir())
    truth = keys.get(program, [where])[0]
    if truth.domain_error:
        raise GradcheckError(f"{source!r} is not defined at {where}: {truth.domain_error}")
    checks = None
    if value_class is not None:
        limits = Limits(timeout=timeout, request_timeout=timeout)
        try:
            checks = check_case(case, InProcessRunner(value_class, limits), samples=0, answer_keys=keys).points[0]
        except ChildFailure as failure:
            from .compare import judge
            from .executors import ExecError, Observation

            checks = judge(program, truth, Observation(error=ExecError("exception", failure.message)), [])
    w = walk(program, where, values=truth.values, checks=checks, exact_grads=truth.grads, by_hand=by_hand,
             digits=digits)
    return Explanation(case, w, checks, uid=f"gx{id(w):x}-")
