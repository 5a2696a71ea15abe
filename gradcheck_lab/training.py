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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .drive import descent_step
from .executors import Execution, Executor

if TYPE_CHECKING:
    from .answer_keys import AnswerKeys
    from .batches import Descent
    from .cases import Case
    from .program import Program

__all__ = ["RTOL", "Training", "Trajectory", "descend", "exact_descent", "judge_descent"]

RTOL = 1e-6  #: how far (relative) the two trajectories may drift apart before they part

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


def exact_descent(
    program: Program, start: Mapping[str, float], steps: int, lr: float, answer_keys: AnswerKeys
) -> Trajectory:
    """Gradient descent on exact gradients (the answer key at each step) from ``start``."""
    trajectory, point = Trajectory(), dict(start)
    for step in range(steps + 1):
        truth = answer_keys.get(program, [point])[0]
        if truth.domain_error:
            trajectory.error = truth.domain_error
            break
        trajectory.params.append(dict(point))
        trajectory.losses.append(truth.values[program.output])
        if step < steps:
            following = descent_step(program.inputs, program.output, point, truth.values, truth.grads, False, lr)
            if following is None:
                trajectory.error = f"a parameter is no longer finite after step {step + 1}"
                break
            point = following
    return trajectory


def _implemented(case: Case, descent: Descent) -> tuple[Trajectory, str]:
    """The implementation's trajectory from its descent's steps, and the verdict of an early stop."""
    program, n = case.program, len(case.program.inputs)
    trajectory = Trajectory()
    for step, (point, result) in enumerate(descent):
        assert isinstance(result, Execution), "judge a descent whose steps hold no failure"
        obs = result.observations[0]
        if obs.error is not None:
            trajectory.error = obs.error.message
            return trajectory, obs.error.kind
        loss, grads = obs.data[program.output], obs.grads[:n]
        if loss is None or any(g is None for g in grads):
            trajectory.error = "not a real number in the loss's .data or a parameter's .grad"
            return trajectory, "exception"
        trajectory.params.append(dict(point))
        trajectory.losses.append(loss)
        if step < case.steps and descent_step(program.inputs, program.output, point, obs.data, obs.grads, False,
                                              case.lr) is None:
            trajectory.error = f"a parameter is no longer finite after step {step + 1}"
            return trajectory, ""
    return trajectory, ""


def _parted(a: Trajectory, b: Trajectory) -> int | None:
    """The first step where ``a`` and ``b`` differ by more than ``RTOL``; None if never."""

    def far(x: float, y: float) -> bool:
        return not abs(x - y) <= RTOL * (1.0 + abs(y))  # also true for nan

    for step, (pa, pb, la, lb) in enumerate(zip(a.params, b.params, a.losses, b.losses)):
        if far(la, lb) or any(far(pa[x], pb[x]) for x in pb):
            return step
    return None


def judge_descent(case: Case, exact: Trajectory, descent: Descent) -> Training:
    """Compare the implementation's ``descent`` (its steps, none a failure) with the ``exact`` one."""
    mine, stop = _implemented(case, descent)
    same_stop = exact.error and len(mine.losses) == len(exact.losses)
    mine.error_kind = "" if same_stop else stop  # both left the domain at the same step: not the engine
    parted = _parted(mine, exact)
    if parted is None and mine.error and not same_stop and not mine.error_kind:
        parted = len(mine.losses)  # the implementation's descent blew up where the exact one did not
    return Training(case.steps, case.lr, exact, mine, parted)


def descend(case: Case, executor: Executor, answer_keys: AnswerKeys | None = None) -> Training:
    """Train ``case`` with ``executor``'s gradients and with exact ones, and compare; raises
    what stopped the executor (a sandbox's ``ChildFailure``)."""
    from .answer_keys import AnswerKeys
    from .batches import Descend, descend_all

    descent = descend_all(executor, Descend(case.program, case.points[0], case.steps, case.lr))
    failed = next((r for _, r in descent if isinstance(r, Exception)), None)
    if failed is not None:
        raise failed
    exact = exact_descent(case.program, case.points[0], case.steps, case.lr, answer_keys or AnswerKeys())
    return judge_descent(case, exact, descent)
