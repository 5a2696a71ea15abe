"""Loading and running a Value implementation in this process, for ``check --impl``,
``explain --impl`` and ``diagnose`` (your own code: trusted, but perhaps broken).

Student submissions are never loaded this way: the grader runs them in a sandboxed
child process. Here the implementation runs in the command's own process, under a
time limit (:func:`time_limit`: an endless ``backward()`` becomes a clear error, not
a hang) with what it prints kept off the command's output (:func:`captured`).

Why in process and not the child: these commands are for the author's own code, they
show its tracebacks and are fast (no child to start); a watchdog is all a trusted
loop needs. ``SIGALRM`` interrupts pure-Python code in the main thread, which is where
an endless ``while``/recursion in a micrograd-style engine spins.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import SubmissionError
from .valuelike import ValueLike

__all__ = ["DEFAULT_TIME_LIMIT", "TimeLimit", "TimedExecutor", "captured", "limit_message",
           "load_implementation", "load_value_class", "time_limit"]

#: Seconds one call into the implementation may run (``--time-limit``).
DEFAULT_TIME_LIMIT = 20.0


class TimeLimit(BaseException):
    """An implementation ran past its time limit. A ``BaseException``, as ``KeyboardInterrupt``
    is, so an ``except Exception`` in the implementation (or in our harness, which turns
    exceptions into verdicts) cannot swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`TimeLimit` in this thread if the block runs longer than ``seconds``
    (no limit where signals cannot be used: not the main thread, or no ``SIGALRM``).

    >>> with time_limit(0.05, "a loop"):
    ...     while True:
    ...         pass
    Traceback (most recent call last):
    ...
    gradcheck_lab.implementations.TimeLimit: a loop ran longer than 0.05 s
    """
    usable = (seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))  # none already running (no nesting)
    if not usable:
        yield
        return

    message = f"{what} ran longer than {seconds:g} s"
    state = {"fired": False, "done": False}

    def expired(signum: int, frame: Any) -> None:
        if not state["done"]:  # once the block has ended, a late alarm does nothing
            state["fired"] = True
            raise TimeLimit(message)

    previous = signal.signal(signal.SIGALRM, expired)
    # Then again every 0.1 s: a raise that lands where it is swallowed (a gc callback) is not the last.
    signal.setitimer(signal.ITIMER_REAL, float(seconds or 0), 0.1)
    try:
        yield
    except BaseException as exc:
        if state["fired"] and not isinstance(exc, TimeLimit):  # a library (Hypothesis) wrapped ours in its own
            raise TimeLimit(message) from exc
        raise
    finally:
        while True:  # a raise landing here would skip the cleanup: retried until the alarm is silenced
            try:
                state["done"] = True
                break
            except TimeLimit:
                continue
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if state["fired"]:  # someone swallowed it: what the block computed is not to be trusted
        raise TimeLimit(message)


class TimedExecutor:
    """An executor whose every call is under :func:`time_limit` (one call: one case's points)."""

    def __init__(self, inner: Any, seconds: float | None, what: str) -> None:
        self.inner, self.seconds, self.what = inner, seconds, what

    def execute(self, program: Any, observe_points: Sequence[Mapping[str, float]],
                forward_points: Sequence[Mapping[str, float]], *, backward_calls: int = 1,
                headroom: float = 1.0) -> Any:
        with time_limit(self.seconds, self.what):
            return self.inner.execute(program, observe_points, forward_points, backward_calls=backward_calls,
                                      headroom=headroom)


@contextlib.contextmanager
def captured(label: str) -> Iterator[None]:
    """What the implementation prints is not ours to show: it goes nowhere, and one line on
    stderr says how much there was (so a ``print`` in ``backward()`` cannot garble a table)."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        lines = buffer.getvalue().count("\n")
        if lines:
            print(f"note: {label} printed {lines} line{'s' * (lines != 1)} (not shown)", file=sys.stderr)


def load_value_class(path: str | Path, name: str = "Value") -> type[ValueLike]:
    """Import ``path`` as a module and return its ``Value`` class.

    The file's folder is put first on ``sys.path`` while it loads, so sibling modules
    it imports are found.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file")
    module_name = "gradcheck_impl_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SubmissionError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SubmissionError(f"{path}: importing it raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.pop(0)
    value_class = getattr(module, name, None)
    if not isinstance(value_class, type):
        raise SubmissionError(f"{path}: defines no class {name}")
    return value_class


def load_implementation(path: str | Path, seconds: float | None = DEFAULT_TIME_LIMIT) -> tuple[Any, str]:
    """The ``Value`` class of whatever ``grade`` accepts: a ``.py`` file, a notebook, or a
    folder (the file in it that defines ``Value``, as the grader picks it), loaded under
    :func:`time_limit` with its prints :func:`captured`; and a label saying what was loaded.
    """
    from .submissions.loading import SubmissionRef, load_submission

    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such file or folder")
    with captured(str(path)), time_limit(seconds, f"loading {path}"):
        if path.is_file() and path.suffix == ".py":
            return load_value_class(path), str(path)
        sub = load_submission(SubmissionRef(path.stem or "submission", path))
        if sub.problem or sub.main is None:
            raise SubmissionError(sub.problem or f"{path}: nothing to load")
        label = str(sub.main) + "".join(f" ({note})" for note in sub.notes if "define Value" in note)
        if sub.main.suffix == ".py":
            return load_value_class(sub.main), label
        from .submissions.child import load_chunks

        sys.path.insert(0, str(sub.main.parent.resolve()))  # sibling modules a notebook imports
        try:
            value_class, failure, _ = load_chunks([c.to_json() for c in sub.chunks], f"gradcheck_impl_{sub.id}")
        finally:
            sys.path.pop(0)
        if failure is not None:
            if failure.get("type") == "KeyboardInterrupt":  # the child's loader records these; here they stop us
                raise KeyboardInterrupt
            if failure.get("type") == TimeLimit.__name__:
                raise TimeLimit(f"loading {path} ran longer than {seconds:g} s")
            raise SubmissionError(f"{sub.main}: {failure['message']}")
        return value_class, label


def limit_message(exc: TimeLimit) -> str:
    """The one line a command prints when an implementation ran past its limit."""
    return f"{exc} (an endless loop?): stopped; --time-limit S allows more"
