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
from collections.abc import Iterable
from dataclasses import dataclass, field

from .executors import Observation
from .finite_diff import FDEstimate
from .ops import OPS
from .program import Program
from .truth import SAFETY, UNIT_ROUNDOFF, PointTruth

__all__ = ["FAILURES", "VERDICTS", "WARNINGS", "NodeCheck", "PointCheck", "judge", "worst"]

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


@dataclass
class PointCheck:
    """Every node of a case at one point."""

    index: int
    point: dict[str, float]
    origin: str  #: "given" (from the case file) or "random"
    nodes: list[NodeCheck] = field(default_factory=list)
    message: str = ""  #: a domain error, an exception, a missing op
    traceback: str = ""
    notes: list[str] = field(default_factory=list)
    error_type: str = ""  #: the exception's type name (``RecursionError``) when the implementation raised

    @property
    def verdict(self) -> str:
        return worst(map(_VERDICT_OF, self.nodes))

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


def judge(
    program: Program,
    truth: PointTruth,
    observation: Observation | None,
    fd: list[FDEstimate],
    *,
    index: int = 0,
    origin: str = "given",
    unit_roundoff: float = UNIT_ROUNDOFF,
    relative_floor: float = 0.0,
) -> PointCheck:
    """The verdict of every node of ``program`` at one point: a value or gradient passes
    within ``SAFETY * unit_roundoff`` times its error bound, or ``relative_floor`` times its
    size if that is more (0: the bound alone)."""
    check = PointCheck(index, truth.point, origin)
    names = program.titles
    outside = truth.domain_error or truth.near_pole(program, unit_roundoff)
    if outside:
        check.message = f"outside the domain: {outside}"
        check.nodes = [NodeCheck(k, names[k], "domain-error") for k in range(len(names))]
        return check
    assert observation is not None
    check.notes = list(observation.notes)
    if observation.error is not None:
        err = observation.error
        where = f" at {names[err.node]}" if err.node is not None else " in backward()"
        check.message = f"{err.message}{where}"
        check.traceback = err.traceback
        check.error_type = err.type
        check.nodes = [NodeCheck(k, names[k], err.kind) for k in range(len(names))]
        return check
    scale = SAFETY * unit_roundoff
    at_kinks = truth.at_kinks(unit_roundoff)
    kinked = truth.nondifferentiable(program, unit_roundoff) if at_kinks else set()
    kinks = " and ".join(f"{program.nodes[k].text or names[k]} ({OPS[program.nodes[k].op].kink_text})"
                         for k in at_kinks)
    witnessed = len(fd)  # inputs are nodes 0..n-1, in order
    # one pass over the nodes, everything read once (a grader judges ~5,000 nodes per submission)
    rows = zip(names, truth.values, observation.data, truth.grads, observation.grads, truth.value_bounds,
               truth.grad_bounds, strict=True)
    nodes = check.nodes
    for k, (name, true_value, value, true_grad, grad, value_bound, grad_bound) in enumerate(rows):
        value_tol, grad_tol = scale * value_bound, scale * grad_bound
        if relative_floor:
            value_tol = max(value_tol, relative_floor * abs(true_value))
            grad_tol = max(grad_tol, relative_floor * abs(true_grad))
        est = fd[k] if k < witnessed else None
        nc = NodeCheck(k, name, "ok", true_value, value, true_grad, grad, None if est is None else est.value,
                       None if est is None or est.value is None else est.error, value_tol, grad_tol)
        if value is None or grad is None:
            nc.verdict, nc.detail = "exception", "not a real number in .data or .grad"
        elif not _close(value, true_value, value_tol):
            nc.verdict = "forward-mismatch"
            nc.detail = f".data is {value!r}, the truth {truth.exact_values[k]}"
        elif k in kinked:
            nc.verdict, nc.detail = "nondifferentiable", f"at the kink of {kinks}"
        elif not _close(grad, true_grad, grad_tol):
            nc.verdict = "grad-mismatch"
            nc.detail = _fd_witness(nc, est)
        nodes.append(nc)
    return check


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
