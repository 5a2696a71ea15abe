"""The harness: run cases' plans through an executor, in this process, and judge them.

For each case, :func:`~gradcheck_lab.plan.plan_case` makes its plan (its given points and
``samples`` random ones, the answer key at each), the executor runs the plan's requests,
:func:`~gradcheck_lab.plan.judge` gives a verdict per point and node, and the
finite-difference witness is planned from that judgement, run, and judged again.

>>> result = check("L = log(x1*x2) + sin(x1*x3) + x2*x3", {"x1": 2.0, "x2": 3.0, "x3": 4.0})
>>> result.verdict, result.nodes_checked
('ok', 10)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .answer_keys import AnswerKeys
from .batches import execute_all
from .cases import Case
from .errors import CaseError, GradientMismatch
from .executors import Execution, Executor, InProcessExecutor
from .plan import CaseResult, FiniteDifferences, Session, failure_of, judge, plan_case, plan_witness, sample_points
from .program import Program
from .source import parse_source
from .truth import UNIT_ROUNDOFF
from .valuelike import ValueLike

__all__ = ["CaseResult", "Run", "assert_gradients", "check", "check_case", "check_cases", "sample_points"]


@dataclass
class Run:
    """A whole run: every case's result, the case files' errors, and how it was made."""

    results: list[CaseResult]
    errors: list[CaseError]
    implementation: str
    seed: int
    samples: int
    unit_roundoff: float = UNIT_ROUNDOFF
    seconds: float = 0.0
    keys_computed: int = 0
    rerun: tuple[str, ...] = ()  #: words that rerun one case when its selector follows (() : ``--impl``)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.ok]

    @property
    def exit_code(self) -> int:
        """2 for input errors (malformed cases, wrong ``expect``), 1 for any failed check, else 0."""
        if self.errors or any(r.expect_errors for r in self.results):
            return 2
        return 1 if self.failed else 0


# --------------------------------------------------------------------------- running plans


def check_case(
    case: Case,
    executor: Executor,
    *,
    samples: int = 2,
    seed: int = 0,
    answer_keys: AnswerKeys | None = None,
    unit_roundoff: float = UNIT_ROUNDOFF,
    relative_floor: float = 0.0,
    finite_differences: FiniteDifferences | str = "always",
    session: Session | None = None,
) -> CaseResult:
    """Judge one case: its given points plus ``samples`` random ones (plan, execute, judge).

    ``finite_differences``: ``"always"`` (every point), ``"on-mismatch"`` (only where a
    gradient disagrees, to say which side is wrong), ``"first-mismatch"`` (only the first
    such point: one witness per case, the grader's economy) or ``"never"``. ``session``
    (default: a new one over ``answer_keys``) keeps answer keys and random points between calls.
    """
    started = time.perf_counter()
    session = session or Session(answer_keys)
    plan = plan_case(case, session, samples=samples, seed=seed)
    results = execute_all(executor, plan.requests)
    failed = failure_of(results)
    if failed is not None:
        raise failed
    result = judge(plan, results, unit_roundoff=unit_roundoff, relative_floor=relative_floor)
    witness = plan_witness(plan, result, finite_differences)
    if witness is not None:
        [found] = execute_all(executor, [witness.request])
        if isinstance(found, Exception):
            raise found
        assert isinstance(found, Execution)
        result = judge(plan, results, unit_roundoff=unit_roundoff, relative_floor=relative_floor,
                       witness=(witness, found))
    result.seconds = time.perf_counter() - started
    return result


def check_cases(
    cases: Iterable[Case],
    executor: Executor,
    *,
    errors: Sequence[CaseError] = (),
    implementation: str = "gradcheck_lab.Value (reference engine)",
    samples: int = 2,
    seed: int = 0,
    answer_keys: AnswerKeys | None = None,
    unit_roundoff: float = UNIT_ROUNDOFF,
    relative_floor: float = 0.0,
    finite_differences: FiniteDifferences | str = "always",
) -> Run:
    """Judge every case; one case's trouble never stops the others."""
    started = time.perf_counter()
    session = Session(answer_keys)
    results = [
        check_case(c, executor, samples=samples, seed=seed, unit_roundoff=unit_roundoff,
                   relative_floor=relative_floor, finite_differences=finite_differences, session=session)
        for c in cases
    ]
    return Run(
        results, list(errors), implementation, seed, samples, unit_roundoff,
        time.perf_counter() - started, session.answer_keys.computed,
    )


# --------------------------------------------------------------------------- library use


def _as_case(source: str | Program, points: Mapping[str, float] | Sequence[Mapping[str, float]]) -> Case:
    program = parse_source(source) if isinstance(source, str) else source
    plist = [points] if isinstance(points, Mapping) else list(points)
    clean = tuple({x: float(p[x]) for x in program.inputs} for p in plist)
    return Case(name="check", program=program, points=clean, source=source if isinstance(source, str) else "")


def check(
    source: str | Program,
    points: Mapping[str, float] | Sequence[Mapping[str, float]],
    value_class: type[ValueLike] | None = None,
    *,
    samples: int = 0,
    seed: int = 0,
    unit_roundoff: float = UNIT_ROUNDOFF,
    relative_floor: float = 0.0,
) -> CaseResult:
    """Check ``value_class`` (default: the reference engine) on one source at some points.

    The tolerance model's knobs: ``unit_roundoff``, the engine's (2**-53 for float64,
    2**-24 for a float32 engine), scales every node's error bound; ``relative_floor``
    (default 0: the bounds alone) lets a value or gradient within that fraction of its
    size pass, for an engine that is only meant to be close (a series, a float16 engine).

    >>> from gradcheck_lab import Value
    >>> check("L = n + n", {"n": 4.0}, Value).ok
    True
    """
    if value_class is None:
        from .engine import Value

        value_class = Value
    return check_case(_as_case(source, points), InProcessExecutor(value_class), samples=samples, seed=seed,
                      unit_roundoff=unit_roundoff, relative_floor=relative_floor)


def assert_gradients(
    source: str | Program,
    points: Mapping[str, float] | Sequence[Mapping[str, float]],
    value_class: type[ValueLike] | None = None,
    *,
    samples: int = 0,
    seed: int = 0,
    unit_roundoff: float = UNIT_ROUNDOFF,
    relative_floor: float = 0.0,
) -> CaseResult:
    """Like :func:`check` (the same tolerance knobs), but raise :class:`GradientMismatch` (an AssertionError) with the
    source, the points, the table of what disagreed and a line that reruns it, when any
    check fails. For pytest users.
    """
    result = check(source, points, value_class, samples=samples, seed=seed, unit_roundoff=unit_roundoff,
                   relative_floor=relative_floor)
    if not result.ok:
        text = source if isinstance(source, str) else result.case.source or "(a Program)"
        knobs = "".join(f", {name}={value!r}" for name, value, default in (
            ("unit_roundoff", unit_roundoff, UNIT_ROUNDOFF), ("relative_floor", relative_floor, 0.0))
            if value != default)
        rerun = f"gradcheck_lab.check({text!r}, {points!r}, Value, samples={samples}, seed={seed}{knobs}).table()"
        raise GradientMismatch(f"source: {text}\npoints: {points}\n{result.table()}\nrerun: {rerun}")
    return result
