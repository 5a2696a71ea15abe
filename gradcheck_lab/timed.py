"""A Value class run in this process under a time limit: for a student's own class object
(``check_engine(Value)`` in a notebook, the pytest plugin), where there is no file to hand
to a sandboxed child.

:class:`TimedExecutor` has the interface of the grader's sandboxed child (``start``,
``execute``, ``execute_batch`` with a ``budget``, ``output``, ``load_report``) and the same
budgets (:class:`~.submissions.Limits`: the whole check's, one request's, the probes' own),
so the grader's steps run on it unchanged. A request that runs out of time raises
:class:`~.submissions.ChildFailure` ``timeout``; after ``max_restarts + 1`` failures the
remaining requests are not run. What the class prints is captured, not shown.

The limit interrupts Python code (an endless loop in ``backward()``); a single C call
that never returns cannot be interrupted in-process: that is what ``grade``'s sandbox is for.

>>> from gradcheck_lab.cases import parse_source
>>> class Hangs:
...     def __init__(self, data): self.data, self.grad = data, 0.0
...     def __add__(self, other): return Hangs(self.data + other.data)
...     def backward(self):
...         while True: pass
>>> with TimedExecutor(Hangs, Limits(request_timeout=0.2)) as ex:
...     ex.execute(parse_source("L = x + y"), [{"x": 1.0, "y": 2.0}], [])
Traceback (most recent call last):
...
gradcheck_lab.submissions.sandbox.ChildFailure: a request ran longer than 0.2 s (an endless loop?)
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .batches import Request
from .executors import Execution, InProcessExecutor
from .program import Program
from .submissions.sandbox import ChildFailure, Limits, LoadReport

__all__ = ["OUTPUT_KEPT", "EngineTimeout", "Limits", "TimedExecutor", "time_limit"]

OUTPUT_KEPT = 16_000  #: characters of what the class printed that are kept


class EngineTimeout(BaseException):
    """Raised inside the engine's code when its time is up (a BaseException: an engine's
    ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`EngineTimeout` in the block after ``seconds``: by ``SIGALRM`` in the
    main thread (an outer alarm is restored after), else by an exception set
    asynchronously in this thread from a timer.

    >>> with time_limit(0.05):
    ...     while True:
    ...         pass
    Traceback (most recent call last):
    ...
    gradcheck_lab.timed.EngineTimeout
    """
    if seconds <= 0:
        raise EngineTimeout
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def alarm(signum: int, frame: Any) -> None:
            raise EngineTimeout

        previous = signal.signal(signal.SIGALRM, alarm)
        outer = signal.setitimer(signal.ITIMER_REAL, seconds)
        started = time.monotonic()
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer[0]:  # an alarm someone else set: give it back what is left of it
                signal.setitimer(signal.ITIMER_REAL, max(outer[0] - (time.monotonic() - started), 1e-3), outer[1])
        return
    lock, done, target = threading.Lock(), [False], threading.get_ident()

    def interrupt() -> None:
        with lock:
            if not done[0]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(EngineTimeout))

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            done[0] = True
        timer.cancel()


class TimedExecutor:
    """Runs ``value_class`` in this process, each request within ``limits.request_timeout``,
    all of them within ``limits.timeout`` (the probes' batch within its own ``budget``)."""

    network_namespace: bool | None = None  #: (as the sandbox reports it: not applicable)

    def __init__(self, value_class: Any, limits: Limits | None = None) -> None:
        self.value_class = value_class
        self.limits = limits = limits or Limits()
        self.output: list[str] = []  #: what the class printed, in order (bounded)
        self.load_report: LoadReport | None = None
        self._inner = InProcessExecutor(value_class)
        self._deadline: float | None = None
        self._whose = "the check's"
        self._seconds = limits.timeout
        self._failures: list[ChildFailure] = []
        self._kept = 0

    def __enter__(self) -> TimedExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self) -> LoadReport:
        """Start the clock and describe the class (its precision), as a child's loading does."""
        from .submissions.child import describe

        self._deadline = time.monotonic() + self.limits.timeout
        with self._running():
            facts = describe(self.value_class)
        self.load_report = LoadReport(**facts)
        return self.load_report

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        """One request: on the clock, its prints captured; a timeout becomes :class:`ChildFailure`."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.limits.timeout
        if len(self._failures) > self.limits.max_restarts:
            last = self._failures[-1]
            raise ChildFailure(last.kind, f"not run: the class failed {len(self._failures)} times "
                                          f"(last: {last.message})")
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ChildFailure("timeout", f"not run: {self._whose} {self._seconds:g} s are spent")
        seconds = min(self.limits.request_timeout, left)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed), time_limit(seconds):
                yield
        except EngineTimeout:
            whole = seconds < self.limits.request_timeout
            failure = ChildFailure("timeout", f"{self._whose} {self._seconds:g} s ran out" if whole else
                                   f"a request ran longer than {seconds:g} s (an endless loop?)")
            self._failures.append(failure)
            raise failure from None
        finally:
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
    ) -> Execution:
        with self._running():
            return self._inner.execute(program, observe_points, forward_points, backward_calls=backward_calls)

    def execute_batch(
        self, requests: Sequence[Request], *, budget: float | None = None
    ) -> list[Execution | ChildFailure]:
        """Each request's execution or failure; with ``budget``, on a clock of their own (the
        time they take is then added to the check's, as the sandbox does for the probes)."""
        if budget is not None:
            outer = (self._deadline, self._whose, self._seconds, self._failures)
            started = time.monotonic()
            self._deadline, self._whose, self._seconds, self._failures = started + budget, "the probes'", budget, []
            try:
                return self.execute_batch(requests)
            finally:
                self._deadline, self._whose, self._seconds, self._failures = outer
                if self._deadline is not None:
                    self._deadline += time.monotonic() - started
        found: list[Execution | ChildFailure] = []
        for r in requests:
            try:
                found.append(self.execute(r.program, r.observe, r.forward, backward_calls=r.backward_calls))
            except ChildFailure as failure:
                found.append(failure)
        return found
