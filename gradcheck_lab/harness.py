"""The harness: run cases through an executor and judge them against the answer key.

For each case: its given points and ``samples`` random ones, the answer key at each
(cached), one batch of observations from the executor, then finite-difference stencils
planned in the parent and sent as a second batch, and a verdict per point and node.

>>> result = check("L = log(x1*x2) + sin(x1*x3) + x2*x3", {"x1": 2.0, "x2": 3.0, "x3": 4.0})
>>> result.verdict, result.nodes_checked
('ok', 10)
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .answer_keys import AnswerKeys
from .cases import Case, Literal
from .checktable import case_text
from .compare import FAILURES, PointCheck, judge, worst
from .errors import CaseError, GradientMismatch
from .executors import Executor, InProcessExecutor
from .finite_diff import FDEstimate, estimate, kink_distances, plan_steps
from .ops import OPS
from .program import Program, Ref
from .source import parse_source
from .truth import UNIT_ROUNDOFF, PointTruth

if TYPE_CHECKING:
    from .training import Training

__all__ = ["CaseResult", "Run", "assert_gradients", "check", "check_case", "check_cases", "sample_points"]

DEFAULT_RANGE = (-2.0, 2.0)
_KINK_MARGIN = 1e-3  # random points keep this far from relu(0) and max ties
_TRIES = 200


@dataclass
class CaseResult:
    """A case's checks at every point, and what its ``expect`` tables said."""

    case: Case
    points: list[PointCheck] = field(default_factory=list)
    expect_errors: list[CaseError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    training: Training | None = None  #: both descents, for a case with ``steps`` and ``lr``

    @property
    def verdict(self) -> str:
        trained = [self.training.verdict] if self.training else []
        return worst([*(p.verdict for p in self.points), *trained])

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings such as kinks are fine)."""
        return self.verdict not in FAILURES

    @property
    def nodes_checked(self) -> int:
        return sum(1 for p in self.points for n in p.nodes if n.verdict != "domain-error")

    @property
    def worst_error(self) -> float | None:
        judged = ("ok", "grad-mismatch")
        errors = [n.error for p in self.points for n in p.nodes if n.error is not None and n.verdict in judged]
        return max(errors, default=None)

    def table(self, failing_only: bool = True) -> str:
        """The per-node comparison as text (what :class:`GradientMismatch` shows)."""
        return case_text(self, failing_only=failing_only)


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


# --------------------------------------------------------------------------- points


def _input_ranges(case: Case) -> dict[str, tuple[float, float]]:
    """Where each input is drawn from: the case's ``sample``, else the ops that read it."""
    program = case.program
    ranges: dict[str, tuple[float, float]] = {}
    for k, name in enumerate(program.inputs):
        if name in case.sample:
            ranges[name] = case.sample[name]
            continue
        lo, hi = DEFAULT_RANGE
        for node in program.nodes[len(program.inputs):]:
            op = OPS[node.op]
            if any(node.args[i] == Ref(k) for i in op.sampled if i < len(node.args)):
                a, b = op.sample
                if (a, b) != DEFAULT_RANGE and max(lo, a) < min(hi, b):
                    lo, hi = max(lo, a), min(hi, b)
        ranges[name] = (lo, hi)
    return ranges


def sample_points(case: Case, n: int, seed: int) -> list[dict[str, float]]:
    """``n`` random points inside every op's domain and clear of kinks, reproducibly.

    Each case draws from its own stream (seeded by ``seed`` and its name), so adding a
    case never moves another case's points. Memoized: a grader asks again per submission.
    """
    key = (case.name, case.program.digest, tuple(sorted(case.sample.items())), n, seed)
    if key not in _SAMPLED:
        _SAMPLED[key] = _draw(case, n, seed)
    return [dict(p) for p in _SAMPLED[key]]


_SAMPLED: dict[tuple[object, ...], list[dict[str, float]]] = {}


def _draw(case: Case, n: int, seed: int) -> list[dict[str, float]]:
    rng = random.Random(f"{seed}:{case.name}")
    ranges = _input_ranges(case)
    found: list[dict[str, float]] = []
    for _ in range(n * _TRIES):
        if len(found) == n:
            break
        point = {x: round(rng.uniform(*ranges[x]), 4) for x in case.program.inputs}
        distances = kink_distances(case.program, point)
        if distances is not None and all(abs(d) > _KINK_MARGIN for d in distances):
            found.append(point)
    return found


# --------------------------------------------------------------------------- checks


def _check_expect(case: Case, truth: PointTruth) -> list[CaseError]:
    """The case author's published numbers against the symbolic truth at the first point."""
    errors = []
    index = {n.name: k for k, n in enumerate(case.program.nodes) if n.name}
    for key, table, values in (("expect", case.expect, truth.grads), ("expect_data", case.expect_data, truth.values)):
        for name, expected in table.items():
            if truth.domain_error:
                break
            actual = values[index[name]]
            tol = expected.tolerance() if isinstance(expected, Literal) else 1e-9 * max(1.0, abs(expected))
            if abs(actual - expected) > tol:
                what = "gradient dL/d" if key == "expect" else "value of "
                errors.append(CaseError(
                    f"{key}: {name} = {getattr(expected, 'text', expected)}, but the symbolic {what}{name} is "
                    f"{actual:.10g} (more than {tol:.2g} away)", file=case.file, case=case.name, line=case.line,
                ))
    return errors


def check_case(
    case: Case,
    executor: Executor,
    *,
    samples: int = 2,
    seed: int = 0,
    answer_keys: AnswerKeys | None = None,
    unit_roundoff: float = UNIT_ROUNDOFF,
    finite_differences: str = "always",
) -> CaseResult:
    """Judge one case: its given points plus ``samples`` random ones.

    ``finite_differences``: ``"always"`` (every point), ``"on-mismatch"`` (only where a
    gradient disagrees, to say which side is wrong), ``"first-mismatch"`` (only the first
    such point: one witness per case, the grader's economy) or ``"never"``.
    """
    started = time.perf_counter()
    keys = answer_keys or AnswerKeys()
    result = CaseResult(case)
    given = list(case.points)
    extra = sample_points(case, samples, seed) if samples else []
    if samples and len(extra) < samples:
        result.notes.append(f"found only {len(extra)} of {samples} random points inside every op's domain")
    points = given + extra
    truths = keys.get(case.program, points)
    result.expect_errors = _check_expect(case, truths[0])
    live = [i for i, t in enumerate(truths) if not t.domain_error]
    execution = executor.execute(case.program, [points[i] for i in live], [])
    observations = dict(zip(live, execution.observations))
    origins = ["given" if i < len(given) else "random" for i in range(len(points))]

    def verdicts(fds: dict[int, list[FDEstimate]]) -> list[PointCheck]:
        return [
            judge(case.program, truth, observations.get(i), fds.get(i, []), index=i, origin=origins[i],
                  unit_roundoff=unit_roundoff)
            for i, truth in enumerate(truths)
        ]

    checks = verdicts({})
    wanted = live if finite_differences == "always" else [i for i in live if checks[i].verdict == "grad-mismatch"]
    if finite_differences == "first-mismatch":
        wanted = wanted[:1]
    if wanted and finite_differences != "never":
        plans = {i: plan_steps(case.program, points[i]) for i in wanted}
        stencil = [q for i in wanted for q in plans[i].points]
        forwards = executor.execute(case.program, [], stencil).forwards
        fds, offset = {}, 0
        for i in wanted:
            count = len(plans[i].points)
            fds[i] = estimate(plans[i], forwards[offset : offset + count])
            offset += count
        checks = verdicts(fds)
    result.points = checks
    if case.steps:
        from .training import descend

        result.training = descend(case, executor, keys)
        if result.training.verdict != "ok":
            result.notes.append(result.training.summary)
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
    finite_differences: str = "always",
) -> Run:
    """Judge every case; one case's trouble never stops the others."""
    started = time.perf_counter()
    keys = answer_keys or AnswerKeys()
    results = [
        check_case(c, executor, samples=samples, seed=seed, answer_keys=keys, unit_roundoff=unit_roundoff,
                   finite_differences=finite_differences)
        for c in cases
    ]
    return Run(
        results, list(errors), implementation, seed, samples, unit_roundoff,
        time.perf_counter() - started, keys.computed,
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
    value_class: Any = None,
    *,
    samples: int = 0,
    seed: int = 0,
    unit_roundoff: float = UNIT_ROUNDOFF,
) -> CaseResult:
    """Check ``value_class`` (default: the reference engine) on one source at some points;
    ``unit_roundoff``: the engine's (2**-53 for float64, 2**-24 for a float32 engine).

    >>> from gradcheck_lab import Value
    >>> check("L = n + n", {"n": 4.0}, Value).ok
    True
    """
    if value_class is None:
        from .engine import Value

        value_class = Value
    return check_case(_as_case(source, points), InProcessExecutor(value_class), samples=samples, seed=seed,
                      unit_roundoff=unit_roundoff)


def assert_gradients(
    source: str | Program,
    points: Mapping[str, float] | Sequence[Mapping[str, float]],
    value_class: Any = None,
    *,
    samples: int = 0,
    seed: int = 0,
    unit_roundoff: float = UNIT_ROUNDOFF,
) -> CaseResult:
    """Like :func:`check`, but raise :class:`GradientMismatch` (an AssertionError) with the
    source, the points, the table of what disagreed and a line that reruns it, when any
    check fails. For pytest users.
    """
    result = check(source, points, value_class, samples=samples, seed=seed, unit_roundoff=unit_roundoff)
    if not result.ok:
        text = source if isinstance(source, str) else result.case.source or "(a Program)"
        rerun = f"gradcheck_lab.check({text!r}, {points!r}, Value, samples={samples}, seed={seed}).table()"
        raise GradientMismatch(f"source: {text}\npoints: {points}\n{result.table()}\nrerun: {rerun}")
    return result
