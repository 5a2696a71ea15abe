"""Verdicts: compare autograd with the symbolic truth, node by node, with finite differences
as the witness that says which side is wrong.

A value passes within ``SAFETY * u * value_bound`` of the truth and a gradient within
``SAFETY * u * grad_bound`` (bounds from :mod:`.symbolic`; ``u`` the engine's unit
roundoff), or within a ``relative_floor`` of its size where the caller asks for one. On
a gradient mismatch at an input, finite differences over the implementation's own
forward pass side with autograd (the forward computes another function, consistently)
or with the symbolic value (the backward is wrong).

>>> VERDICTS
('ok', 'nondifferentiable', 'domain-error', 'grad-mismatch', 'forward-mismatch', 'unsupported', 'exception')
>>> worst(["ok", "nondifferentiable", "grad-mismatch"])
'grad-mismatch'
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .executors import Observation
from .finite_diff import FDEstimate
from .ops import OPS
from .program import Program
from .truth import SAFETY, UNIT_ROUNDOFF, PointTruth

__all__ = ["FAILURES", "VERDICTS", "WARNINGS", "Limits", "NodeCheck", "PointCheck", "judge", "worst"]

#: From best to worst; a case's verdict is the worst of its nodes'.
VERDICTS = ("ok", "nondifferentiable", "domain-error", "grad-mismatch", "forward-mismatch", "unsupported", "exception")
#: Verdicts that say the point, not the engine, is the problem: reported, never failed.
WARNINGS = frozenset({"nondifferentiable", "domain-error"})
#: Verdicts that fail a check.
FAILURES = frozenset(VERDICTS) - WARNINGS - {"ok"}
_FD_SAFETY = 4.0
_WORST_FIRST = VERDICTS[:0:-1]  #: every verdict but ``ok``, the most severe first


_VERDICT_OF = operator.attrgetter("verdict")


def worst(verdicts: Iterable[str]) -> str:
    """The most severe verdict of several (``ok`` for none).

    >>> worst(["ok", "grad-mismatch", "nondifferentiable"]), worst([])
    ('grad-mismatch', 'ok')
    """
    found = set(verdicts)  # a set, then one look per verdict: a case asks this for every point, often
    for verdict in _WORST_FIRST:
        if verdict in found:
            return verdict
    return "ok"


@dataclass(slots=True)  # a grader makes ~5,000 per submission: slots make each a third cheaper
class NodeCheck:
    """One node at one point: the three oracles side by side, and the verdict."""

    node: int
    name: str
    verdict: str
    symbolic_value: float | None = None
    value: float | None = None  #: the implementation's .data
    symbolic_grad: float | None = None
    grad: float | None = None  #: the implementation's .grad after backward()
    fd_grad: float | None = None  #: finite differences (inputs only)
    fd_error: float | None = None
    value_tol: float | None = None
    grad_tol: float | None = None
    detail: str = ""

    @property
    def error(self) -> float | None:
        """|autograd - symbolic| relative to |symbolic| (absolute when that is 0)."""
        if self.grad is None or self.symbolic_grad is None:
            return None
        diff = abs(self.grad - self.symbolic_grad)
        return diff / abs(self.symbolic_grad) if self.symbolic_grad else diff


class _Nodes:
    """:attr:`PointCheck.nodes`: a list, which :func:`judge` makes only when first read (a
    grader judges ~4,600 nodes per submission, and its grade only counts their verdicts)."""

    def __get__(self, point: PointCheck | None, owner: type | None = None) -> Any:
        if point is None:
            return self  # the dataclass's default: ``__set__`` makes it an empty list
        if point._nodes is None:
            assert point._judged is not None
            point._nodes = point._judged.checks()
        return point._nodes

    def __set__(self, point: PointCheck, nodes: list[NodeCheck] | _Judged | _Nodes) -> None:
        if isinstance(nodes, _Judged):  # the checks made when first read
            point._nodes, point._judged = None, nodes
        else:
            point._nodes, point._judged = [] if isinstance(nodes, _Nodes) else nodes, None


@dataclass
class PointCheck:
    """Every node of a case at one point."""

    index: int
    point: dict[str, float]
    origin: str  #: "given" (from the case file) or "random"
    nodes: list[NodeCheck] = _Nodes()  # type: ignore[assignment]  # a descriptor: a list when read
    message: str = ""  #: a domain error, an exception, a missing op
    traceback: str = ""
    notes: list[str] = field(default_factory=list)
    error_type: str = ""  #: the exception's type name (``RecursionError``) when the implementation raised
    _nodes: list[NodeCheck] | None = field(init=False, repr=False, compare=False)  #: None: not made yet
    _judged: _Judged | None = field(init=False, repr=False, compare=False)  #: then, what makes them

    @property
    def verdict(self) -> str:
        return worst(self._verdicts())

    def tally(self) -> tuple[int, int]:
        """How many nodes were judged (their verdict is no warning), and how many of them agree.

        >>> PointCheck(0, {}, "given", [NodeCheck(0, "x", "ok"), NodeCheck(1, "L", "nondifferentiable")]).tally()
        (1, 1)
        """
        if self._nodes is None and self._judged is not None and self._judged.verdicts is None:
            return len(self._judged.names), len(self._judged.names)  # every node agreed
        verdicts = [v for v in self._verdicts() if v not in WARNINGS]
        return len(verdicts), verdicts.count("ok")

    def first_failing(self) -> NodeCheck | None:
        """The first node whose verdict fails (made alone if the nodes are not made).

        >>> point = PointCheck(0, {}, "given", [NodeCheck(0, "x", "ok"), NodeCheck(1, "L", "grad-mismatch")])
        >>> point.first_failing().name
        'L'
        """
        if self._nodes is not None:
            return next((n for n in self._nodes if n.verdict in FAILURES), None)
        assert self._judged is not None
        k = next((k for k, v in enumerate(self._judged.verdicts or ()) if v in FAILURES), None)
        return None if k is None else self._judged.check(k)

    def _verdicts(self) -> Sequence[str]:
        """Every node's verdict, without making the nodes that are not made."""
        if self._nodes is not None:
            return list(map(_VERDICT_OF, self._nodes))
        assert self._judged is not None
        return self._judged.verdicts or ()  # None: every node agreed

    def first_wrong(self, program: Program) -> list[int]:
        """Where the backward pass first goes wrong: nodes whose gradient mismatches while
        every node that reads them is right, latest in backward order first.

        >>> from gradcheck_lab.source import parse_source
        >>> p = parse_source("a = x * y; L = a * a + a")
        >>> pc = PointCheck(0, {}, "given", [NodeCheck(k, "", v) for k, v in
        ...     enumerate(["grad-mismatch", "grad-mismatch", "grad-mismatch", "ok", "ok"])])
        >>> pc.first_wrong(p)
        [2]
        """
        wrong = {n.node for n in self.nodes if n.verdict == "grad-mismatch"}
        readers: dict[int, set[int]] = {}
        for k in range(len(program.nodes)):
            for j in program.operands(k):
                readers.setdefault(j, set()).add(k)
        return sorted((k for k in wrong if not readers.get(k, set()) & wrong), reverse=True)


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def _all_close(got: Sequence[float | None], truth: Sequence[float], tols: Sequence[float]) -> bool:
    """:func:`_close` at every position, in C (False for a None; equal lengths).

    >>> _all_close([1.0, 2.5], [1.0, 2.0], [0.0, 0.5]), _all_close([1.0, None], [1.0, 2.0], [0.0, 9.0])
    (True, False)
    """
    try:
        return all(map(operator.le, map(abs, map(operator.sub, got, truth)), tols))  # type: ignore[arg-type]
    except TypeError:  # a None
        return False


@dataclass(frozen=True)
class Limits:
    """How one point is judged at one unit roundoff, whatever the engine's numbers: why it is
    outside the domain ("" if it is not), each node's value and gradient tolerance, the nodes
    upstream of a kink and the kinks' names. The same for every submission a grader judges
    (:meth:`.plan.Plan.limits` keeps them).

    >>> from gradcheck_lab.symbolic import answer_key
    >>> from gradcheck_lab.source import parse_source
    >>> p = parse_source("L = log(x)")
    >>> truth = answer_key(p, {"x": 2.0})
    >>> Limits.of(p, truth).grad_tols == [SAFETY * 2.0**-53 * b for b in truth.grad_bounds]
    True
    >>> Limits.of(p, answer_key(p, {"x": -1.0})).outside
    'L: log needs a positive argument (log of -1)'
    """

    outside: str
    value_tols: list[float]
    grad_tols: list[float]
    kinked: set[int]
    kinks: str

    @classmethod
    def of(
        cls, program: Program, truth: PointTruth, unit_roundoff: float = UNIT_ROUNDOFF, relative_floor: float = 0.0
    ) -> Limits:
        """A value or gradient passes within ``SAFETY * unit_roundoff`` times its error bound,
        or ``relative_floor`` times its size if that is more (0: the bound alone)."""
        outside = truth.domain_error or truth.near_pole(program, unit_roundoff)
        if outside:
            return cls(outside, [], [], set(), "")
        scale = SAFETY * unit_roundoff
        value_tols = [scale * b for b in truth.value_bounds]
        grad_tols = [scale * b for b in truth.grad_bounds]
        if relative_floor:
            value_tols = [max(t, relative_floor * abs(v)) for t, v in zip(value_tols, truth.values, strict=True)]
            grad_tols = [max(t, relative_floor * abs(g)) for t, g in zip(grad_tols, truth.grads, strict=True)]
        at_kinks = truth.at_kinks(unit_roundoff)
        kinked = truth.nondifferentiable(program, unit_roundoff) if at_kinks else set()
        kinks = " and ".join(f"{program.nodes[k].text or program.titles[k]} ({OPS[program.nodes[k].op].kink_text})"
                             for k in at_kinks)
        return cls("", value_tols, grad_tols, kinked, kinks)


def _agree(names: Sequence[str], truth: PointTruth, observation: Observation, limits: Limits) -> bool:
    """Whether every node's verdict is ``ok`` (:func:`_verdicts` would say so), in C."""
    return (not limits.kinked and len(observation.data) == len(observation.grads) == len(truth.values)
            == len(truth.grads) == len(limits.value_tols) == len(limits.grad_tols) == len(names)
            and _all_close(observation.data, truth.values, limits.value_tols)
            and _all_close(observation.grads, truth.grads, limits.grad_tols))


def _verdicts(names: Sequence[str], truth: PointTruth, observation: Observation, limits: Limits) -> list[str]:
    """Every node's verdict, in one pass (everything read once)."""
    kinked, verdicts = limits.kinked, []
    rows = zip(names, truth.values, observation.data, truth.grads, observation.grads, limits.value_tols,
               limits.grad_tols, strict=True)
    for k, (_, true_value, value, true_grad, grad, value_tol, grad_tol) in enumerate(rows):
        if value is None or grad is None:
            verdicts.append("exception")
        elif not _close(value, true_value, value_tol):
            verdicts.append("forward-mismatch")
        elif k in kinked:
            verdicts.append("nondifferentiable")
        elif not _close(grad, true_grad, grad_tol):
            verdicts.append("grad-mismatch")
        else:
            verdicts.append("ok")
    return verdicts


class _Judged(NamedTuple):
    """One point judged: its nodes' verdicts, and what their checks are made from when read."""

    names: Sequence[str]
    truth: PointTruth
    observation: Observation
    fd: list[FDEstimate] | None
    limits: Limits
    verdicts: list[str] | None  #: None: every node agreed

    def checks(self) -> list[NodeCheck]:
        """Every node's check."""
        return [self.check(k) for k in range(len(self.names))]

    def check(self, k: int) -> NodeCheck:
        """Node ``k``'s check: the three oracles, the verdict, and why."""
        truth, observation, limits = self.truth, self.observation, self.limits
        verdict = self.verdicts[k] if self.verdicts else "ok"
        est = self.fd[k] if self.fd and k < len(self.fd) else None  # inputs are nodes 0..n-1, in order
        value = observation.data[k]
        nc = NodeCheck(k, self.names[k], verdict, truth.values[k], value, truth.grads[k], observation.grads[k],
                       None if est is None else est.value, None if est is None or est.value is None else est.error,
                       limits.value_tols[k], limits.grad_tols[k])
        if verdict == "exception":
            nc.detail = "not a real number in .data or .grad"
        elif verdict == "forward-mismatch":
            nc.detail = f".data is {value!r}, the truth {truth.exact_values[k]}"
        elif verdict == "nondifferentiable":
            nc.detail = f"at the kink of {limits.kinks}"
        elif verdict == "grad-mismatch" and self.fd is not None:
            nc.detail = _fd_witness(nc, est)
        return nc


def judge(
    program: Program,
    truth: PointTruth,
    observation: Observation | None,
    fd: list[FDEstimate] | None,
    *,
    index: int = 0,
    origin: str = "given",
    unit_roundoff: float = UNIT_ROUNDOFF,
    relative_floor: float = 0.0,
    limits: Limits | None = None,
) -> PointCheck:
    """The verdict of every node of ``program`` at one point, within :class:`Limits` (at
    ``unit_roundoff`` and ``relative_floor``; ``limits``: those, made before). ``fd``: the
    inputs' finite differences, to say which side a gradient mismatch takes; None: no
    witness was asked, and a mismatch says nothing of one. The nodes' checks are made when
    first read."""
    limits = limits or Limits.of(program, truth, unit_roundoff, relative_floor)
    names = program.titles
    if limits.outside:
        return PointCheck(index, truth.point, origin,
                          [NodeCheck(k, name, "domain-error") for k, name in enumerate(names)],
                          f"outside the domain: {limits.outside}")
    assert observation is not None
    err = observation.error
    if err is not None:
        where = f" at {names[err.node]}" if err.node is not None else " in backward()"
        return PointCheck(index, truth.point, origin, [NodeCheck(k, name, err.kind) for k, name in enumerate(names)],
                          f"{err.message}{where}", err.traceback, list(observation.notes), err.type)
    verdicts = None if _agree(names, truth, observation, limits) else _verdicts(names, truth, observation, limits)
    return PointCheck(index, truth.point, origin, _Judged(names, truth, observation, fd, limits, verdicts),  # type: ignore[arg-type]
                      notes=list(observation.notes))  # see _Nodes


def _fd_witness(nc: NodeCheck, est: FDEstimate | None) -> str:
    """Which side finite differences take in a gradient mismatch."""
    if est is None:
        return "autograd differs from the symbolic gradient (no finite difference for an intermediate node)"
    if est.value is None:
        return f"autograd differs from the symbolic gradient; no finite difference: {est.note}"
    assert nc.grad is not None and nc.symbolic_grad is not None
    tol = _FD_SAFETY * est.error + 1e-300
    with_autograd = _close(est.value, nc.grad, tol)
    with_symbolic = _close(est.value, nc.symbolic_grad, tol)
    if with_symbolic and not with_autograd:
        return "finite differences side with the symbolic value: the backward pass is wrong"
    if with_autograd and not with_symbolic:
        return "finite differences side with autograd: the forward pass computes another function"
    if not math.isfinite(est.error) or (with_autograd and with_symbolic):
        return "finite differences cannot tell (their error is larger than the mismatch)"
    return "finite differences agree with neither"
