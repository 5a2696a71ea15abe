"""Many calls at once: a child's round trip costs more than a small graph does.

:func:`execute_all` runs many :class:`Request` s in one go where the executor can
(``execute_batch``: the sandbox sends them in one message), :func:`descend_all` a whole
gradient descent (``descend``: the child steps it, one reply per step), and
:class:`Prepared` answers the calls a judge (the harness, the training) makes later from
what they returned. Executors without those methods are called one call at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .executors import Execution, Executor, descent_step
from .program import Program

__all__ = ["Descent", "Prepared", "Request", "descend_all", "execute_all"]


def _points_key(points: Sequence[Mapping[str, float]]) -> tuple[tuple[tuple[str, float], ...], ...]:
    return tuple(tuple(p.items()) for p in points)  # in the points' own order: another order only misses


@dataclass(frozen=True)
class Request:
    """One ``execute`` call, as data: so that many can travel to a child at once."""

    program: Program
    observe: tuple[Mapping[str, float], ...] = ()
    forward: tuple[Mapping[str, float], ...] = ()
    backward_calls: int = 1

    @property
    def key(self) -> tuple[Any, ...]:
        """Equal for equal calls on the same program object (points compared by value, in order)."""
        return id(self.program), _points_key(self.observe), _points_key(self.forward), self.backward_calls


def execute_all(executor: Executor, requests: Sequence[Request], **options: Any) -> list[Execution | Exception]:
    """Every request's execution, or the exception that stopped it (a sandbox's ``ChildFailure``):
    in one go where ``executor`` has ``execute_batch`` (``options`` go to it), else one by one.

    >>> from gradcheck_lab.source import parse_source
    >>> from gradcheck_lab.engine import Value
    >>> from gradcheck_lab.executors import InProcessExecutor
    >>> [result] = execute_all(InProcessExecutor(Value), [Request(parse_source("L = x * x"), ({"x": 3.0},))])
    >>> result.observations[0].grads
    [6.0, 1.0]
    """
    batch = getattr(executor, "execute_batch", None)
    if batch is not None:
        return list(batch(requests, **options))
    found: list[Execution | Exception] = []
    for r in requests:
        try:
            found.append(executor.execute(r.program, r.observe, r.forward, backward_calls=r.backward_calls))
        except Exception as exc:
            found.append(exc)
    return found


Descent = list[tuple[dict[str, float], Execution | Exception]]  #: each step's point and what it gave


def descend_all(executor: Executor, program: Program, start: Mapping[str, float], steps: int, lr: float) -> Descent:
    """The calls a gradient descent of ``steps`` steps from ``start`` makes, run ahead: in one
    message where ``executor`` has ``descend``, else call by call. Each step's point (the
    next from the one before, by :func:`descent_step`) and its execution, until the
    descent stops or a call fails (its exception is the last result).

    >>> from gradcheck_lab.source import parse_source
    >>> from gradcheck_lab.engine import Value
    >>> from gradcheck_lab.executors import InProcessExecutor
    >>> steps = descend_all(InProcessExecutor(Value), parse_source("L = x * x"), {"x": 1.0}, 2, 0.25)
    >>> [point for point, _ in steps]
    [{'x': 1.0}, {'x': 0.5}, {'x': 0.25}]
    """
    run = getattr(executor, "descend", None)
    if run is not None:
        return list(run(program, start, steps, lr))
    found: Descent = []
    point: dict[str, float] | None = dict(start)
    for _ in range(steps + 1):
        assert point is not None
        try:
            result = executor.execute(program, [point], [])
        except Exception as exc:
            found.append((point, exc))
            break
        found.append((point, result))
        point = descent_step(program, point, result.observations[0], lr)
        if point is None:
            break
    return found


class Prepared:
    """An executor that keeps what its batches returned: a batch (:meth:`execute_batch`, as
    :func:`execute_all` sends it) or a descent (:meth:`descend`) runs ahead of the judge,
    whose later ``execute`` calls are answered from it. A call is answered only when it
    matches a request run ahead exactly
    (same program object, same points, same calls); any other goes on to ``executor``, so
    a judge that asks for something else costs a round trip, never a wrong answer.

    >>> from gradcheck_lab.source import parse_source
    >>> from gradcheck_lab.engine import Value
    >>> from gradcheck_lab.executors import InProcessExecutor
    >>> program = parse_source("L = x * x")
    >>> ex = Prepared(InProcessExecutor(Value))
    >>> _ = execute_all(ex, [Request(program, ({"x": 3.0},))])
    >>> ex.execute(program, [{"x": 3.0}], []).observations[0].grads, ex.answered
    ([6.0, 1.0], 1)
    """

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.answered = 0  #: calls answered from a batch
        self._results: dict[tuple[Any, ...], Execution | Exception] = {}
        self._requests: list[Request] = []  #: keeps the programs alive: keys hold their ids

    def execute_batch(self, requests: Sequence[Request], **options: Any) -> list[Execution | Exception]:
        """Run the requests not run yet in one batch (``options`` go to ``executor``'s
        ``execute_batch``), keep every result, and return them in order."""
        todo = list({r.key: r for r in requests if r.key not in self._results}.values())
        self._results.update(zip((r.key for r in todo), execute_all(self.executor, todo, **options)))
        self._requests += todo
        return [self._results[r.key] for r in requests]

    def descend(self, program: Program, start: Mapping[str, float], steps: int, lr: float) -> Descent:
        """Run a gradient descent ahead (:func:`descend_all`) and keep each step's result."""
        found = descend_all(self.executor, program, start, steps, lr)
        for point, result in found:
            request = Request(program, (point,))
            self._requests.append(request)
            self._results[request.key] = result
        return found

    def execute(
        self,
        program: Program,
        observe: Sequence[Mapping[str, float]],
        forward: Sequence[Mapping[str, float]],
        *,
        backward_calls: int = 1,
    ) -> Execution:
        found = self._results.get(Request(program, tuple(observe), tuple(forward), backward_calls).key)
        if found is None:
            return self.executor.execute(program, observe, forward, backward_calls=backward_calls)
        self.answered += 1
        if isinstance(found, Exception):
            raise found
        return found


