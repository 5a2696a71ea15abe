"""Training cases: gradient descent with an implementation's gradients and with exact ones.

A case with ``steps`` and ``lr`` is also trained, as seed 002 trains its quadratic:
from the case's first point, every input is a parameter; each step builds a fresh
graph (so the grads start at zero), calls ``backward()`` and moves every parameter by
``-lr * grad``. The same descent runs on the answer key's exact gradients, and the
two trajectories are compared step by step.

The comparison is relative, ``RTOL`` of the parameters' and loss's size: rounding
errors of a correct float64 engine stay near 1e-15 on a stable descent, while an
engine whose gradients are slightly wrong moves off at once.

>>> from gradcheck_lab.cases import Case
>>> from gradcheck_lab.source import parse_source
>>> from gradcheck_lab.engine import Value
>>> from gradcheck_lab.executors import InProcessExecutor
>>> case = Case("q", parse_source("loss = 0.5 * ((w1 - 1)**2 + (w2 - 5)**2)"), ({"w1": 2.0, "w2": 3.0},),
...             steps=100, lr=0.1)
>>> t = descend(case, InProcessExecutor(Value))
>>> t.verdict, round(t.exact.losses[1], 4), t.implementation.params[-1]["w1"] == t.exact.params[-1]["w1"]
('ok', 2.025, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .executors import Executor

if TYPE_CHECKING:
    from .answer_keys import AnswerKeys
    from .cases import Case

__all__ = ["RTOL", "Training", "Trajectory", "descend"]

RTOL = 1e-6  #: how far (relative) the two trajectories may drift apart before they part

#: One step's evaluation: (loss, gradients by input, what went wrong or "").
Gradient = Callable[[Mapping[str, float]], tuple[float, dict[str, float], str]]


@dataclass
class Trajectory:
    """The parameters and loss before each step (``steps + 1`` of them), or fewer if it stopped."""

    params: list[dict[str, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    error: str = ""  #: why the descent stopped early, if it did
    error_kind: str = ""  #: the verdict of that stop: ``exception``, ``unsupported``, ``domain-error``


@dataclass
class Training:
    """Both descents of one case, and the first step where they part."""

    steps: int
    lr: float
    exact: Trajectory
    implementation: Trajectory
    parted_at: int | None = None  #: the first step whose parameters or loss differ

    @property
    def verdict(self) -> str:
        """``ok``, or the verdict that fails the case (a :data:`~gradcheck_lab.compare.VERDICTS` name)."""
        if self.implementation.error_kind:
            return self.implementation.error_kind
        return "ok" if self.parted_at is None else "grad-mismatch"

    @property
    def summary(self) -> str:
        """One line: how each descent ended, and where they part.

        >>> t = Training(2, 0.1, Trajectory(losses=[2.5, 2.0, 1.6]), Trajectory(losses=[2.5, 2.2, 1.9]), 1)
        >>> print(t.summary.replace("; ", ";\\n"))
        gradient descent, 2 steps at lr 0.1: final loss 1.9 (exact gradients: 1.6);
        parts from the exact descent at step 1
        """
        final = self.implementation.losses[-1] if self.implementation.losses else math.nan
        exact = self.exact.losses[-1] if self.exact.losses else math.nan
        line = f"gradient descent, {self.steps} steps at lr {self.lr:g}: final loss {final:.6g}"
        line += f" (exact gradients: {exact:.6g})"
        if self.implementation.error:
            line += f"; stopped at step {len(self.implementation.losses)}: {self.implementation.error}"
        if self.parted_at is not None:
            line += f"; parts from the exact descent at step {self.parted_at}"
        elif self.exact.error:
            line += f"; the exact descent stopped at step {len(self.exact.losses)}: {self.exact.error}"
        return line


def _run(start: Mapping[str, float], steps: int, lr: float, gradient: Gradient) -> Trajectory:
    trajectory = Trajectory()
    point = dict(start)
    for step in range(steps + 1):
        loss, grads, error = gradient(point)
        if error:
            trajectory.error = error
            return trajectory
        trajectory.params.append(dict(point))
        trajectory.losses.append(loss)
        if step < steps:
            point = {x: w - lr * grads[x] for x, w in point.items()}
            if not all(math.isfinite(w) for w in point.values()):
                trajectory.error = f"a parameter is no longer finite after step {step + 1}"
                return trajectory
    return trajectory


def _parted(a: Trajectory, b: Trajectory) -> int | None:
    """The first step where ``a`` and ``b`` differ by more than ``RTOL``; None if never."""

    def far(x: float, y: float) -> bool:
        return not abs(x - y) <= RTOL * (1.0 + abs(y))  # also true for nan

    for step, (pa, pb, la, lb) in enumerate(zip(a.params, b.params, a.losses, b.losses)):
        if far(la, lb) or any(far(pa[x], pb[x]) for x in pb):
            return step
    return None


def descend(case: Case, executor: Executor, answer_keys: AnswerKeys | None = None) -> Training:
    """Train ``case`` with ``executor``'s gradients and with exact ones, and compare."""
    from .answer_keys import AnswerKeys

    keys = answer_keys or AnswerKeys()
    program = case.program
    n = len(program.inputs)

    def exact(point: Mapping[str, float]) -> tuple[float, dict[str, float], str]:
        truth = keys.get(program, [point])[0]
        if truth.domain_error:
            return math.nan, {}, truth.domain_error
        return truth.values[program.output], dict(zip(program.inputs, truth.grads[:n])), ""

    stop = [""]

    def implemented(point: Mapping[str, float]) -> tuple[float, dict[str, float], str]:
        obs = executor.execute(program, [point], []).observations[0]
        if obs.error is not None:
            stop[0] = obs.error.kind
            return math.nan, {}, obs.error.message
        loss, grads = obs.data[program.output], obs.grads[:n]
        if loss is None or any(g is None for g in grads):
            stop[0] = "exception"
            return math.nan, {}, "not a real number in the loss's .data or a parameter's .grad"
        return loss, {x: g for x, g in zip(program.inputs, grads) if g is not None}, ""

    start = case.points[0]
    truth = _run(start, case.steps, case.lr, exact)
    mine = _run(start, case.steps, case.lr, implemented)
    same_stop = truth.error and len(mine.losses) == len(truth.losses)
    mine.error_kind = "" if same_stop else stop[0]  # both left the domain at the same step: not the engine
    parted = _parted(mine, truth)
    if parted is None and mine.error and not same_stop and not mine.error_kind:
        parted = len(mine.losses)  # the implementation's descent blew up where the exact one did not
    return Training(case.steps, case.lr, truth, mine, parted)
