"""Requests as data, and running many at once: a child's round trip costs more than a small graph does.

A :class:`Request` observes a program at some points and evaluates it at others; a
:class:`Descend` runs a whole gradient descent with the implementation's gradients.
:func:`execute_all` runs a list of both in as few messages as the executor allows
(``execute_batch``: the sandbox sends every :class:`Request` in one message; ``descend``:
the child steps a descent itself, one reply per step) and returns their results by
position. Executors without those methods are called one call at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .drive import descent_step
from .executors import Execution, Executor
from .program import Program

__all__ = ["Descend", "Descent", "Request", "Result", "descend_all", "execute_all"]


@dataclass(frozen=True)
class Request:
    """One ``execute`` call, as data: so that many can travel to a child at once."""

    program: Program
    observe: tuple[Mapping[str, float], ...] = ()
    forward: tuple[Mapping[str, float], ...] = ()
    backward_calls: int = 1
    #: the share of the frames left below the recursion limit it runs with
    #: (:func:`~gradcheck_lab.drive.observe`): the deep-chain probe's quarter
    headroom: float = 1.0

    @property
    def key(self) -> tuple[Any, ...]:
        """Equal for requests that ask the same (the program by its digest, points by value, in order).

        >>> from gradcheck_lab.source import parse_source
        >>> a, b = (Request(parse_source("L = x * x"), ({"x": 1.0},)) for _ in range(2))
        >>> a.key == b.key and a.program is not b.program
        True
        """
        points = tuple(tuple(tuple(p.items()) for p in ps) for ps in (self.observe, self.forward))
        return self.program.digest, points, self.backward_calls, self.headroom


@dataclass(frozen=True)
class Descend:
    """A gradient descent of ``steps`` steps from ``start`` at learning rate ``lr``, as data."""

    program: Program
    start: Mapping[str, float]
    steps: int
    lr: float


Descent = list[tuple[dict[str, float], Execution | Exception]]  #: each step's point and what it gave
Result = Execution | Exception | Descent  #: what running a request gave (a sandbox's failure is an Exception)


def execute_all(executor: Executor, requests: Sequence[Request | Descend], **options: Any) -> list[Result]:
    """Every request's result, by position: an :class:`Execution` (or the exception that
    stopped it, a sandbox's ``ChildFailure``) per :class:`Request`, a :data:`Descent` per
    :class:`Descend`. Every :class:`Request` goes in one batch where ``executor`` has
    ``execute_batch`` (``options`` go to it), then each descent in one message where it
    has ``descend``; else call by call.

    >>> from gradcheck_lab.source import parse_source
    >>> from gradcheck_lab.engine import Value
    >>> from gradcheck_lab.executors import InProcessExecutor
    >>> [result] = execute_all(InProcessExecutor(Value), [Request(parse_source("L = x * x"), ({"x": 3.0},))])
    >>> result.observations[0].grads
    [6.0, 1.0]
    """
    calls = [r for r in requests if isinstance(r, Request)]
    batch = getattr(executor, "execute_batch", None)
    if batch is not None:
        done: list[Result] = list(batch(calls, **options)) if calls else []
    else:
        done = []
        for r in calls:
            try:
                done.append(executor.execute(r.program, r.observe, r.forward, backward_calls=r.backward_calls,
                                             headroom=r.headroom))
            except Exception as exc:
                done.append(exc)
    found = iter(done)
    return [next(found) if isinstance(r, Request) else descend_all(executor, r) for r in requests]


def descend_all(executor: Executor, descent: Descend) -> Descent:
    """The calls a gradient descent makes, each step's point (the next from the one before,
    by :func:`~gradcheck_lab.drive.descent_step`) and its execution, until the descent stops
    or a call fails (its exception is the last result): in one message where ``executor``
    has ``descend``, else call by call.

    >>> from gradcheck_lab.source import parse_source
    >>> from gradcheck_lab.engine import Value
    >>> from gradcheck_lab.executors import InProcessExecutor
    >>> steps = descend_all(InProcessExecutor(Value), Descend(parse_source("L = x * x"), {"x": 1.0}, 2, 0.25))
    >>> [point for point, _ in steps]
    [{'x': 1.0}, {'x': 0.5}, {'x': 0.25}]
    """
    program = descent.program
    run = getattr(executor, "descend", None)
    if run is not None:
        return list(run(program, descent.start, descent.steps, descent.lr))
    found: Descent = []
    point: dict[str, float] | None = dict(descent.start)
    for _ in range(descent.steps + 1):
        assert point is not None
        try:
            result = executor.execute(program, [point], [])
        except Exception as exc:
            found.append((point, exc))
            break
        found.append((point, result))
        obs = result.observations[0]
        point = descent_step(program.inputs, program.output, point, obs.data, obs.grads, obs.error is not None,
                             descent.lr)
        if point is None:
            break
    return found
