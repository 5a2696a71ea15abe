"""Driving any ``Value`` class through a *lowered* program: the standard library only.

A lowered program (:func:`gradcheck_lab.executors.lower` makes one) says, per node, which Python
operator or method builds it (``+``, ``__radd__``, ``tanh``...) from which earlier nodes and numbers:
no rule, no derivative, nothing that could answer for a wrong engine. This module is the one code
that calls student engines: the in-process executor imports it, and the sandboxed child
(:mod:`gradcheck_lab.submissions.child`, started with ``python -I``) loads it as a plain file.

>>> class V:
...     def __init__(self, data): self.data, self.grad, self._prev = data, 0.0, ()
...     def __mul__(self, o): return V(self.data * o.data)
>>> lowered = {"inputs": ["x"], "output": 1, "titles": ["x", "x * x"],
...            "calls": [["mul", "__mul__", "mul", [["ref", 0], ["ref", 0]], ""]]}
>>> forward_value(V, lowered, {"x": 3.0})
9.0
"""

from __future__ import annotations

import math
import numbers
import operator
import sys

TYPE_CHECKING = False  # a sandboxed child imports this file at each start: only what it needs
if TYPE_CHECKING:
    import traceback
    from collections.abc import Callable, Mapping, Sequence

TYPE_CHECKING = False  # typing costs a sandboxed child ~3 ms at each start: for the type checker only
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Unsupported", "descent_step", "forward_value", "observe", "to_float", "where"]

_REAL_KINDS = ("f", "i", "u")  #: numpy dtype kinds that are real numbers (not bool, not complex)


class Unsupported(Exception):
    """The Value class lacks what an op needs (``op`` names it: ``sin``, ``rsub``...)."""

    def __init__(self, op: str) -> None:
        self.op = op
        super().__init__(f"the Value class has no {op}")


def to_float(x: Any) -> float | None:
    """A real number as a float (ints, numpy scalars and 0-d arrays of a real dtype); else None.

    >>> to_float(3), to_float(True), to_float("1.0"), to_float(complex(1, 0))
    (3.0, None, None, None)
    """
    if type(x) is float:  # the common case, without the slow checks below
        return x
    if isinstance(x, bool):
        return None
    if not isinstance(x, numbers.Real):  # a 0-d array of a real dtype (numpy's, or any array library's)
        dtype = getattr(x, "dtype", None)
        if getattr(x, "shape", None) != () or getattr(dtype, "kind", None) not in _REAL_KINDS:
            return None
    try:
        value = float(x)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if type(value) is float else None


def _label(node: Any, label: str) -> None:
    try:
        node.label = label
    except Exception:  # __slots__, properties: labels are a courtesy
        pass


class _BuildFailure(Exception):
    """Building node ``node`` raised ``cause``."""

    def __init__(self, node: int, cause: BaseException) -> None:
        self.node, self.cause = node, cause


def _apply(value_class: Any, python: str, method: str, name: str, args: list[Any]) -> Any:
    """One node: the Python operator named ``python`` (``add``, ``neg``...: the op table's
    ``Op.python``; its reflected method for a number on the left),
    else ``method`` called on the first operand; :class:`Unsupported` when the class lacks it."""
    if python:
        if isinstance(args[0], (int, float)):  # a number on the left: the reflected method (rpow's own)
            reflected = method if method.startswith("__r") else "__r" + method[2:]
            if not hasattr(type(args[1]), reflected):
                raise Unsupported(reflected.strip("_"))
        elif not hasattr(type(args[0]), method):
            raise Unsupported(name)
        return getattr(operator, python)(*args)
    if isinstance(args[0], (int, float)):  # (a tuple: ``int | float`` would be made at every node)
        args = [value_class(args[0]), *args[1:]]
    if not callable(getattr(type(args[0]), method, None)):
        raise Unsupported(name)
    return getattr(args[0], method)(*args[1:])


def _build(value_class: Any, lowered: Mapping[str, Any], point: Mapping[str, float]) -> list[Any]:
    """Every node of the program as a ``value_class`` graph; a failure names its node."""
    nodes: list[Any] = []
    for name in lowered["inputs"]:
        try:
            leaf = value_class(point[name])
        except Exception as exc:
            raise _BuildFailure(len(nodes), exc) from exc
        _label(leaf, name)
        nodes.append(leaf)
    for python, method, name, args, label in lowered["calls"]:
        values = []  # the operands: a loop, cheaper than a comprehension at every node (Python 3.11)
        for a in args:
            values.append(nodes[a[1]] if isinstance(a, list) else a)
        try:
            node = _apply(value_class, python, method, name, values)
        except Exception as exc:
            raise _BuildFailure(len(nodes), exc) from exc
        if label:
            _label(node, label)
        nodes.append(node)
    return nodes


#: Called before a traceback is formatted: the sandboxed child puts the submission's source
#: lines in place then (not at its start: :mod:`traceback` imports ``re``, ~10 ms).
before_traceback: Callable[[], None] = lambda: None
_FRAMES: dict[tuple[Any, ...], str] = {}  #: each frame's text (:func:`_frames_once`), by all it is made from
_frames_class: type[traceback.StackSummary] | None = None  #: made at the first traceback


def _frames_once(stack: traceback.StackSummary) -> traceback.StackSummary:
    """``stack``, formatting each distinct frame once in this process: the ~1,000 identical frames of a
    ``RecursionError``, or one error at every point of a case, cost one (~35 ms a frame, mostly its carets)."""
    global _frames_class
    if _frames_class is None:
        import traceback
        class FramesOnce(traceback.StackSummary):  # the text is the standard library's
            def format_frame_summary(self, f: traceback.FrameSummary, *args: Any, **kwargs: Any) -> str:
                key = (f.line, *(getattr(f, field, None) for field in f.__slots__))  # all a frame is formatted from
                if key not in _FRAMES:
                    if len(_FRAMES) > 4096:  # many distinct errors (a long session): start again
                        _FRAMES.clear()
                    _FRAMES[key] = super().format_frame_summary(f, *args, **kwargs)  # type: ignore[misc]  # 3.11+
                return _FRAMES[key]
        _frames_class = FramesOnce
    return _frames_class(stack)


def _short_traceback(exc: BaseException, limit: int = 6) -> str:
    """The last ``limit`` lines of ``exc``'s traceback (chained exceptions included)."""
    import traceback
    before_traceback()
    report = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    todo, seen = [report], set()
    while todo:  # the exception and every one chained to it
        te = todo.pop()
        if id(te) not in seen:
            seen.add(id(te))
            te.stack = _frames_once(te.stack)
            todo += [t for t in (te.__cause__, te.__context__) if t is not None]
    text = "".join(report.format()).rstrip().splitlines()
    return "\n".join(text[-limit:])


def where(exc: BaseException) -> tuple[str, int]:
    """The file and line the exception was raised at (its innermost frame).

    >>> try:
    ...     1 / 0
    ... except ZeroDivisionError as e:
    ...     where(e)[1] > 0
    True
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "", 0
    return tb.tb_frame.f_code.co_filename, tb.tb_lineno or 0


def _error_of(exc: BaseException, node: int | None, traced: bool = True) -> dict[str, Any]:
    """Why an observation failed: kind, message, node, traceback (if ``traced``), op, the exception's type and place."""
    if isinstance(exc, _BuildFailure):
        node, exc = exc.node, exc.cause
    file, line = where(exc)
    found = {"node": node, "type": type(exc).__name__, "file": file, "line": line}
    if isinstance(exc, Unsupported):
        return {"kind": "unsupported", "message": str(exc), "traceback": "", "op": exc.op, **found}
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, RecursionError):
        message += " (a recursive backward() on a deep graph?)"
    text = _short_traceback(exc) if traced else ""
    return {"kind": "exception", "message": message, "traceback": text, "op": "", **found}


def observe(
    value_class: Any, lowered: Mapping[str, Any], point: Mapping[str, float], backward_calls: int = 1,
    headroom: float = 1.0,
) -> dict[str, Any]:
    """Build a fresh graph at ``point``, call ``backward()`` on the output, read every node:
    ``{"data", "grads", "error", "notes", "seeded"}``.

    If ``backward()`` leaves the output's grad at 0 (it expects the caller to seed it),
    the graph is rebuilt, seeded with 1.0 by hand, and ``seeded`` says so.
    ``backward_calls=2`` calls it twice on the same graph (do gradients accumulate?).
    ``headroom`` below 1 leaves it that share of the frames below the recursion limit (its RecursionError untraced)."""
    notes: list[str] = []
    found: dict[str, Any] = {"data": [], "grads": [], "error": None, "notes": notes, "seeded": False}
    failure: Exception | None = None
    limit = _scale_recursion_limit(headroom) if headroom != 1.0 else 0
    try:
        for attempt in ("plain", "seeded"):
            try:  # (tracebacks show this file's lines: moving this call's line changes reports)
                nodes = _build(value_class, lowered, point)
                out = nodes[lowered["output"]]
                if attempt == "seeded":
                    out.grad = 1.0
                out.backward()
                for _ in range(backward_calls - 1):
                    out.backward()
            except Exception as exc:
                failure = exc
                break
            if attempt == "seeded" or to_float(getattr(out, "grad", None)) != 0.0:
                break
            notes.append("backward() did not set the output's grad to 1; seeded it by hand")
            found["seeded"] = True
    finally:
        if limit:  # put back before a traceback is formatted
            sys.setrecursionlimit(limit)
    if failure is not None:  # the RecursionError of a run on less headroom: its frames, of no use, cost most of it
        found["error"] = _error_of(failure, None, headroom == 1.0 or not isinstance(failure, RecursionError))
        return found
    # to_float of each node's .data and .grad, floats (nearly all) taken as they are, without a call
    data = found["data"] = [x if type(x := getattr(node, "data", None)) is float else to_float(x) for node in nodes]
    grads = found["grads"] = [x if type(x := getattr(node, "grad", None)) is float else to_float(x) for node in nodes]
    bad = [t for t, d, g in zip(lowered["titles"], data, grads) if d is None or g is None]
    if bad:
        notes.append(f"not a real number in .data or .grad of: {', '.join(bad)}")
    return found


MIN_HEADROOM = 100  #: frames a scaled recursion limit always leaves: an iterative backward() deep in calls runs


def _scale_recursion_limit(share: float) -> int:
    """Lower the recursion limit to leave ``share`` of the frames it left above the caller (never
    fewer than :data:`MIN_HEADROOM`, nor more than it left); the limit to put back, 0 if unchanged.
    Relative to the caller: a deep one (pytest, a notebook) gets the sandboxed child's answer. A
    recursive ``backward()`` of k frames a node fails on n nodes where it fails on n / share with
    all of them.

    >>> limit = sys.getrecursionlimit()
    >>> _scale_recursion_limit(0.25) == limit
    True
    >>> round((sys.getrecursionlimit() - _depth()) / (limit - _depth()), 2)
    0.25
    >>> sys.setrecursionlimit(limit)
    """
    limit, depth = sys.getrecursionlimit(), _depth()
    left = limit - depth
    try:
        sys.setrecursionlimit(depth + min(left, max(MIN_HEADROOM, int(left * share))))
    except RecursionError:  # C calls on the stack besides the frames counted: already as low as that
        return 0
    return limit


def _depth() -> int:
    """Frames on the stack below the caller's."""
    frame, depth = sys._getframe(1), 1
    while frame.f_back is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def forward_value(value_class: Any, lowered: Mapping[str, Any], point: Mapping[str, float]) -> float | None:
    """The output's ``.data`` after a forward pass at ``point``; None if it fails."""
    try:
        value = to_float(_build(value_class, lowered, point)[lowered["output"]].data)
    except Exception:
        return None
    return value if value is not None and math.isfinite(value) else None


def descent_step(
    inputs: Sequence[str], output: int, point: Mapping[str, float], data: Sequence[float | None],
    grads: Sequence[float | None], failed: bool, lr: float,
) -> dict[str, float] | None:
    """The point one gradient-descent step from ``point`` leads to by an observation's
    gradients; None where the descent stops (an error, a missing number, a parameter no
    longer finite).

    >>> descent_step(["x"], 1, {"x": 1.0}, [1.0, 1.0], [2.0, 1.0], False, 0.25)
    {'x': 0.5}
    """
    n = len(inputs)
    if failed or data[output] is None or any(g is None for g in grads[:n]):
        return None
    step = dict(zip(inputs, grads[:n]))
    new = {x: w - lr * step[x] for x, w in point.items()}  # type: ignore[operator]
    return new if all(math.isfinite(w) for w in new.values()) else None
