"""Checking a case as data: a plan of requests, and a pure judgement of what they return.

:func:`plan_case` turns a case into a :class:`Plan` (its points and where each came from,
the answer key at each, the points where the key is defined, the requests to run: one
observation request, and for a training case a descent). Whoever executes the requests
(:func:`~gradcheck_lab.harness.check_case` in this process, the grader's sandboxed child
for all of a submission's cases in one batch) only runs them; :func:`judge` turns the plan
and the executions into a :class:`CaseResult` with no I/O of its own. The finite-difference
witness is a second step: :func:`plan_witness` (stencils where the first judgement wants
them) and :func:`judge` again with its execution.

A :class:`Session` holds what checking remembers between cases: the answer keys and the
random points drawn.

>>> from gradcheck_lab.batches import execute_all
>>> from gradcheck_lab.cases import Case
>>> from gradcheck_lab.source import parse_source
>>> from gradcheck_lab.engine import Value
>>> from gradcheck_lab.executors import InProcessExecutor
>>> plan = plan_case(Case("c", parse_source("L = x * x"), ({"x": 3.0},)), Session())
>>> judge(plan, execute_all(InProcessExecutor(Value), plan.requests)).verdict
'ok'
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from .answer_keys import AnswerKeys
from .batches import Descend, Request, Result
from .cases import Case, Literal
from .checktable import case_text
from .compare import FAILURES, Limits, PointCheck, worst
from .compare import judge as judge_point
from .errors import CaseError
from .executors import Execution
from .finite_diff import FDEstimate, StepPlan, estimate, kink_distances, plan_steps
from .ops import OPS
from .program import Ref
from .training import Training, Trajectory, exact_descent, judge_descent
from .truth import UNIT_ROUNDOFF, PointTruth

__all__ = [
    "CaseResult", "FiniteDifferences", "Plan", "Session", "Witness", "failure_of", "judge", "plan_case",
    "plan_witness", "sample_points",
]

DEFAULT_RANGE = (-2.0, 2.0)
_KINK_MARGIN = 1e-3  # random points keep this far from relu(0) and max ties
_TRIES = 200


class FiniteDifferences(str, Enum):
    """Where finite differences witness: every point, only where a gradient disagrees, only
    the first such point (one witness per case, the grader's economy), or nowhere."""

    ALWAYS = "always"
    ON_MISMATCH = "on-mismatch"
    FIRST_MISMATCH = "first-mismatch"
    NEVER = "never"


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
    case never moves another case's points.

    >>> from gradcheck_lab.source import parse_source
    >>> sample_points(Case("c", parse_source("L = log(x)"), ()), 2, seed=0)
    [{'x': 0.8598}, {'x': 1.1323}]
    """
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


class Session:
    """What checking remembers between cases, in one process: the answer keys (in memory,
    and on disk where ``answer_keys`` has a folder) and the random points drawn per case.

    >>> from gradcheck_lab.source import parse_source
    >>> session, case = Session(), Case("c", parse_source("L = log(x)"), ())
    >>> session.points(case, 2, seed=0) == sample_points(case, 2, seed=0)
    True
    """

    def __init__(self, answer_keys: AnswerKeys | None = None) -> None:
        self.answer_keys = answer_keys if answer_keys is not None else AnswerKeys()
        self._points: dict[tuple[object, ...], list[dict[str, float]]] = {}
        self._plans: dict[tuple[int, int, int], tuple[Case, Plan]] = {}

    def plan(self, case: Case, samples: int, seed: int) -> Plan:
        """:func:`plan_case`, made once per case object: a plan is immutable, and a grader
        judges every submission by the same plans.

        >>> from gradcheck_lab.source import parse_source
        >>> session, case = Session(), Case("c", parse_source("L = log(x)"), ({"x": 2.0},))
        >>> session.plan(case, 2, 0) is session.plan(case, 2, 0), session.plan(case, 2, 0) == plan_case(case, session)
        (True, True)
        """
        key = (id(case), samples, seed)  # the case is kept beside its plan: its id stays its own
        if key not in self._plans:
            self._plans[key] = (case, plan_case(case, self, samples=samples, seed=seed))
        return self._plans[key][1]

    def points(self, case: Case, n: int, seed: int) -> list[dict[str, float]]:
        """:func:`sample_points`, drawn once per case (a grader asks again per submission)."""
        key = (case.name, case.program.digest, tuple(sorted(case.sample.items())), n, seed)
        if key not in self._points:
            self._points[key] = sample_points(case, n, seed)
        return [dict(p) for p in self._points[key]]


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """What checking one case asks for, and what it judges the answers by."""

    case: Case
    points: tuple[dict[str, float], ...]  #: the case's given points, then the random ones
    origins: tuple[str, ...]  #: per point: ``given`` or ``random``
    truths: tuple[PointTruth, ...]  #: the answer key at each point
    live: tuple[int, ...]  #: the points where the answer key is defined: the ones observed
    notes: tuple[str, ...] = ()
    expect_errors: tuple[CaseError, ...] = ()
    exact: Trajectory | None = None  #: for a training case: the descent on exact gradients
    _limits: dict[tuple[float, float], tuple[Limits, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def limits(self, unit_roundoff: float = UNIT_ROUNDOFF, relative_floor: float = 0.0) -> tuple[Limits, ...]:
        """How each point is judged (:class:`~.compare.Limits`), made once: a grader judges
        every submission by the same plans."""
        key = (unit_roundoff, relative_floor)
        if key not in self._limits:
            program = self.case.program
            self._limits[key] = tuple(Limits.of(program, t, unit_roundoff, relative_floor) for t in self.truths)
        return self._limits[key]

    @functools.cached_property  # made once: a grader sends the same for every submission
    def request(self) -> Request:
        """The observation of every live point, in one request."""
        return Request(self.case.program, tuple(self.points[i] for i in self.live))

    @functools.cached_property
    def descent(self) -> Descend | None:
        """For a training case: its gradient descent with the implementation's gradients."""
        case = self.case
        return Descend(case.program, case.points[0], case.steps, case.lr) if case.steps else None

    @property
    def requests(self) -> tuple[Request | Descend, ...]:
        """Everything to run, in the order :func:`judge` reads the results."""
        return (self.request,) if self.descent is None else (self.request, self.descent)


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


def plan_case(case: Case, session: Session, *, samples: int = 2, seed: int = 0) -> Plan:
    """The plan of ``case``: its given points plus ``samples`` random ones, with the answer
    key at each (from ``session``'s store: computed once).

    >>> from gradcheck_lab.source import parse_source
    >>> plan = plan_case(Case("c", parse_source("L = log(x)"), ({"x": -1.0}, {"x": 2.0})), Session(), samples=0)
    >>> plan.live, plan.request.observe
    ((1,), ({'x': 2.0},))
    """
    given = list(case.points)
    extra = session.points(case, samples, seed) if samples else []
    notes = []
    if samples and len(extra) < samples:
        notes.append(f"found only {len(extra)} of {samples} random points inside every op's domain")
    points = given + extra
    truths = session.answer_keys.get(case.program, points)
    keys = session.answer_keys
    exact = exact_descent(case.program, case.points[0], case.steps, case.lr, keys) if case.steps else None
    return Plan(
        case, tuple(points), tuple("given" if i < len(given) else "random" for i in range(len(points))),
        tuple(truths), tuple(i for i, t in enumerate(truths) if not t.domain_error), tuple(notes),
        tuple(_check_expect(case, truths[0])), exact,
    )


# --------------------------------------------------------------------------- the witness


@dataclass(frozen=True)
class Witness:
    """Finite-difference stencils at some of a plan's points, as one forward request."""

    wanted: tuple[int, ...]  #: the plan's points they witness
    stencils: tuple[StepPlan, ...]
    request: Request

    def estimates(self, execution: Execution) -> dict[int, list[FDEstimate]]:
        """Each wanted point's finite differences from ``execution``'s forward values."""
        found, offset = {}, 0
        for i, stencil in zip(self.wanted, self.stencils):
            count = len(stencil.points)
            found[i] = estimate(stencil, execution.forwards[offset : offset + count])
            offset += count
        return found


def plan_witness(plan: Plan, first: CaseResult, mode: FiniteDifferences | str) -> Witness | None:
    """The stencils ``mode`` wants after the first judgement ``first`` (None: no witness).

    >>> from gradcheck_lab.batches import execute_all
    >>> from gradcheck_lab.engine import Value
    >>> from gradcheck_lab.executors import InProcessExecutor
    >>> from gradcheck_lab.source import parse_source
    >>> plan = plan_case(Case("c", parse_source("L = x * x"), ({"x": 3.0},)), Session(), samples=0)
    >>> first = judge(plan, execute_all(InProcessExecutor(Value), plan.requests))
    >>> plan_witness(plan, first, "on-mismatch") is None, plan_witness(plan, first, "always").wanted
    (True, (0,))
    """
    mode = FiniteDifferences(mode)
    if mode is FiniteDifferences.NEVER:
        return None
    wanted = list(plan.live)
    if mode is not FiniteDifferences.ALWAYS:
        wanted = [i for i in wanted if first.points[i].verdict == "grad-mismatch"]
    if mode is FiniteDifferences.FIRST_MISMATCH:
        wanted = wanted[:1]
    if not wanted:
        return None
    stencils = tuple(plan_steps(plan.case.program, plan.points[i]) for i in wanted)
    stencil = tuple(q for s in stencils for q in s.points)
    return Witness(tuple(wanted), stencils, Request(plan.case.program, (), stencil))


# --------------------------------------------------------------------------- the judgement


def failure_of(results: Sequence[Result]) -> Exception | None:
    """The first failure among a plan's results (a sandbox's ``ChildFailure``), or None.

    >>> failure_of([TimeoutError("slow")])
    TimeoutError('slow')
    """
    for result in results:
        steps = [r for _, r in result] if isinstance(result, list) else [result]
        for r in steps:
            if isinstance(r, Exception):
                return r
    return None


def judge(
    plan: Plan,
    results: Sequence[Result],
    *,
    unit_roundoff: float = UNIT_ROUNDOFF,
    relative_floor: float = 0.0,
    witness: tuple[Witness, Execution] | None = None,
    explain: bool = True,
) -> CaseResult:
    """The verdicts of ``plan`` from ``results`` (one per :attr:`Plan.requests`, none a
    failure: see :func:`failure_of`) and, if given, a witness and its execution. Pure:
    it reads nothing else and runs nothing. ``explain=False``: a gradient mismatch says
    nothing of finite differences (a first judgement, its witness still to come)."""
    first = results[0]
    assert isinstance(first, Execution), "judge a plan whose results hold no failure (failure_of)"
    observations = dict(zip(plan.live, first.observations))
    fds = witness[0].estimates(witness[1]) if witness else {}
    program, origins = plan.case.program, plan.origins
    result = CaseResult(plan.case, [
        judge_point(program, truth, observations.get(i), fds.get(i, []) if explain else None, index=i,
                    origin=origins[i], limits=limits)
        for i, (truth, limits) in enumerate(zip(plan.truths, plan.limits(unit_roundoff, relative_floor)))
    ], list(plan.expect_errors), list(plan.notes))
    if plan.exact is not None:
        descent = results[1]
        assert isinstance(descent, list)
        result.training = judge_descent(plan.case, plan.exact, descent)
        if result.training.verdict != "ok":
            result.notes.append(result.training.summary)
    return result
