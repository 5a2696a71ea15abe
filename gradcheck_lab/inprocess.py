"""A Value class run in this process under a time limit: for a student's own class object
(``check_engine(Value)`` in a notebook, the pytest plugin), where there is no file to hand
to a sandboxed child.

:class:`InProcessRunner` has the interface of the grader's sandboxed child (``start``,
``execute``, ``execute_batch`` with a ``budget``, ``output``, ``load_report``) and the same
budgets (:class:`~.submissions.Limits`: the whole check's, one request's, the probes' own),
so the grader's steps run on it unchanged. A request that runs out of time raises
:class:`~.submissions.ChildFailure` ``timeout``; after ``max_restarts + 1`` failures the
remaining requests are not run. What the class prints is captured, not shown.

The limit is :func:`~.implementations.time_limit` (``SIGALRM``, main thread): it interrupts
Python code (an endless loop in ``backward()``); off the main thread, or a C call that never
returns, is not interrupted in process: that is what ``grade``'s sandbox is for.

>>> from gradcheck_lab.source import parse_source
>>> class Hangs:
...     def __init__(self, data): self.data, self.grad = data, 0.0
...     def __add__(self, other): return Hangs(self.data + other.data)
...     def backward(self):
...         while True: pass
>>> with InProcessRunner(Hangs, Limits(request_timeout=0.2)) as ex:
...     ex.execute(parse_source("L = x + y"), [{"x": 1.0, "y": 2.0}], [])
Traceback (most recent call last):
...
gradcheck_lab.submissions.sandbox.ChildFailure: a request ran longer than 0.2 s (an endless loop?)
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from .batches import Request
from .executors import Execution, InProcessExecutor
from .implementations import TimeLimit, time_limit
from .program import Program
from .submissions.sandbox import ChildFailure, Limits, LoadReport
from .valuelike import ValueLike

__all__ = ["OUTPUT_KEPT", "InProcessRunner", "Limits"]

OUTPUT_KEPT = 16_000  #: characters of what the class printed that are kept


@dataclass
class _Budget:
    """Seconds the class may spend inside requests, what it spent, and its failures under them."""

    seconds: float
    whose: str  #: for messages: "the check's"
    spent: float = 0.0
    failures: list[ChildFailure] = field(default_factory=list)


class InProcessRunner:
    """Runs ``value_class`` in this process, each request within ``limits.request_timeout``,
    all of them within ``limits.timeout`` of the class's own CPU time (the time spent judging
    between requests, or waiting for a core, does not count: a busy machine must not turn a
    correct class into a timeout), a batch with a ``budget`` (the probes) on a budget of its own."""

    isolation = "in this process, on a clock (no sandbox: the notebook's own code)"

    def __init__(self, value_class: type[ValueLike], limits: Limits | None = None) -> None:
        self.value_class = value_class
        self.limits = limits = limits or Limits()
        self.output: list[str] = []  #: what the class printed, in order (bounded)
        self.load_report: LoadReport | None = None
        self._inner = InProcessExecutor(value_class)
        self._budget = _Budget(limits.timeout, "the check's")
        self._kept = 0

    def __enter__(self) -> InProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self) -> LoadReport:
        """Describe the class (its precision), as a child's loading does."""
        from .submissions.child import describe

        with self._running():
            facts = describe(self.value_class)
        self.load_report = LoadReport(**facts)
        return self.load_report

    @contextlib.contextmanager
    def own_budget(self, seconds: float, whose: str) -> Iterator[None]:
        """Requests on a budget of their own (the probes'; a last look at a counterexample)."""
        outer, self._budget = self._budget, _Budget(seconds, whose)
        try:
            yield
        finally:
            self._budget = outer

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        """One request: on the clock, its prints captured; a timeout becomes :class:`ChildFailure`."""
        budget = self._budget
        if len(budget.failures) > self.limits.max_restarts:
            last = budget.failures[-1]
            raise ChildFailure(last.kind, f"not run: the class failed {len(budget.failures)} times "
                                          f"(last: {last.message})")
        left = budget.seconds - budget.spent
        if left <= 0:
            raise ChildFailure("timeout", f"not run: {budget.whose} {budget.seconds:g} s are spent")
        seconds = min(self.limits.request_timeout, left)
        printed = io.StringIO()
        started = time.thread_time()
        try:
            with contextlib.redirect_stdout(printed), time_limit(seconds, "a request"):
                yield
        except TimeLimit:
            whole = seconds < self.limits.request_timeout
            failure = ChildFailure("timeout", f"{budget.whose} {budget.seconds:g} s ran out" if whole else
                                   f"a request ran longer than {seconds:g} s (an endless loop?)")
            budget.failures.append(failure)
            raise failure from None
        finally:
            budget.spent += time.thread_time() - started
            self._keep(printed.getvalue())

    def _keep(self, text: str) -> None:
        if text and self._kept < OUTPUT_KEPT:
            text = text[: OUTPUT_KEPT - self._kept]
            self.output.append(text)
            self._kept += len(text)

    def execute(
        self,
        program: Program,
        observe_points: Sequence[Mapping[str, float]],
        forward_points: Sequence[Mapping[str, float]],
        *,
        backward_calls: int = 1,
        headroom: float = 1.0,
    ) -> Execution:
        with self._running():
            return self._inner.execute(program, observe_points, forward_points, backward_calls=backward_calls,
                                       headroom=headroom)

    def execute_batch(
        self, requests: Sequence[Request], *, budget: float | None = None
    ) -> list[Execution | ChildFailure]:
        """Each request's execution or failure; with ``budget``, on a budget of their own."""
        if budget is not None:
            with self.own_budget(budget, "the probes'"):
                return self.execute_batch(requests)
        found: list[Execution | ChildFailure] = []
        for r in requests:
            try:
                found.append(self.execute(r.program, r.observe, r.forward, backward_calls=r.backward_calls,
                                          headroom=r.headroom))
            except ChildFailure as failure:
                found.append(failure)
        return found
