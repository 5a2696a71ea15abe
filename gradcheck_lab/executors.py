"""Executors observe a case with some Value class: node data and grads, and forward values.

The parent judges; an executor only runs. :class:`InProcessExecutor` runs a class in
this process (the reference engine, or a trusted ``--impl`` file); the grader's
sandboxed child implements the same :class:`Executor` protocol. This module never
imports SymPy, so a child can use :func:`observe` and :func:`forward_value` cheaply.

Many calls at once (batches, whole gradient descents) are :mod:`gradcheck_lab.batches`.

Only ``Value(x)``, the operators and methods a case uses, ``backward()``, ``.data``
and ``.grad`` are relied on; nodes are tracked by position, never hashed or compared.

>>> from gradcheck_lab.cases import parse_source
>>> from gradcheck_lab.engine import Value
>>> obs = observe(Value, parse_source("L = x * x + x"), {"x": 3.0})
>>> obs.data, obs.grads
([3.0, 9.0, 12.0], [7.0, 1.0, 1.0])
"""

from __future__ import annotations

import math
import numbers
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .ops import Op
from .program import Program, evaluate, python_operator

__all__ = [
    "ExecError", "Execution", "Executor", "InProcessExecutor", "Observation", "Unsupported", "descent_step",
    "forward_value", "observe", "to_float",
]


class Unsupported(Exception):
    """The Value class lacks what an op needs (``op`` names it: ``sin``, ``rsub``...)."""

    def __init__(self, op: str) -> None:
        self.op = op
        super().__init__(f"the Value class has no {op}")


@dataclass
class ExecError:
    """Why an observation failed: ``unsupported`` (a missing op) or ``exception``."""

    kind: str
    message: str
    node: int | None = None  #: the node being built, or None (during backward())
    traceback: str = ""
    op: str = ""  #: for ``unsupported``: which op


@dataclass
class Observation:
    """What one fresh graph held after one ``backward()``: per node data and grad."""

    data: list[float | None] = field(default_factory=list)
    grads: list[float | None] = field(default_factory=list)
    error: ExecError | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Execution:
    """An executor's answer: one observation per observed point, one forward value
    per forward point (None where it failed)."""

    observations: list[Observation]
    forwards: list[float | None]


class Executor(Protocol):
    """Runs a case's program with some implementation. Parents judge the numbers."""

    def execute(
        self,
        program: Program,
        observe: Sequence[Mapping[str, float]],
        forward: Sequence[Mapping[str, float]],
        *,
        backward_calls: int = 1,
    ) -> Execution:
        """Observe ``program`` at each ``observe`` point (``backward_calls`` calls of
        backward() on one graph) and give the output's value at each ``forward`` point."""
        ...


def descent_step(
    program: Program, point: Mapping[str, float], obs: Observation, lr: float
) -> dict[str, float] | None:
    """The point one gradient-descent step from ``point`` leads to by ``obs``'s gradients,
    as :mod:`gradcheck_lab.training` steps; None where its descent stops (an error, a
    missing number, a parameter no longer finite).

    >>> descent_step(Program((), 0), {}, Observation(error=ExecError("exception", "boom")), 0.1) is None
    True
    """
    n = len(program.inputs)
    if obs.error is not None or obs.data[program.output] is None or any(g is None for g in obs.grads[:n]):
        return None
    grads = {x: g for x, g in zip(program.inputs, obs.grads[:n]) if g is not None}
    new = {x: w - lr * grads[x] for x, w in point.items()}
    return new if all(math.isfinite(w) for w in new.values()) else None


def to_float(x: Any) -> float | None:
    """A real number as a float (ints, numpy scalars, float32 included); else None.

    >>> to_float(3), to_float(True), to_float("1.0"), to_float(complex(1, 0))
    (3.0, None, None, None)
    """
    if type(x) is float:  # the common case, without the slow ABC check below
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return None


def _value_apply(value_class: Any) -> Callable[[Op, list[Any]], Any]:
    def apply(op: Op, args: list[Any]) -> Any:
        python = python_operator(op)
        if python is not None:
            if isinstance(args[0], int | float):  # a number on the left: the reflected method
                method = op.method if op.constant_base else "__r" + op.method[2:]
                if not hasattr(type(args[1]), method):
                    raise Unsupported(method.strip("_"))
            elif not hasattr(type(args[0]), op.method):
                raise Unsupported(op.name)
            return python(*args)
        if isinstance(args[0], int | float):
            args = [value_class(args[0]), *args[1:]]
        if not callable(getattr(type(args[0]), op.method, None)):
            raise Unsupported(op.name)
        return getattr(args[0], op.method)(*args[1:])

    return apply


class _BuildFailure(Exception):
    def __init__(self, node: int, cause: BaseException) -> None:
        self.node, self.cause = node, cause


def _build(value_class: Any, program: Program, point: Mapping[str, float]) -> list[Any]:
    """Every node of the program as a ``value_class`` graph; failures name the node."""
    leaves = []
    for k, name in enumerate(program.inputs):
        try:
            leaf = value_class(point[name])
        except Exception as exc:
            raise _BuildFailure(k, exc) from exc
        _set_label(leaf, name)
        leaves.append(leaf)
    apply = _value_apply(value_class)
    built = [len(leaves)]

    def tracked(op: Op, args: list[Any]) -> Any:
        try:
            result = apply(op, args)
        except Exception as exc:
            raise _BuildFailure(built[0], exc) from exc
        built[0] += 1
        return result

    nodes = evaluate(program, leaves, tracked)
    for node, spec in zip(nodes, program.nodes):
        if spec.name and spec.op != "input":
            _set_label(node, spec.name)
    return nodes


def _set_label(node: Any, label: str) -> None:
    try:
        node.label = label
    except Exception:  # __slots__, properties: labels are a courtesy
        pass


class _FramesOnce(traceback.StackSummary):
    """Formats each distinct frame once: the ~1,000 identical frames of a ``RecursionError``
    cost one (formatting each took ~35 ms). The text is the standard library's. (Python
    3.10 formats without this hook: the same text, at the old cost.)"""

    def format_frame_summary(self, frame_summary: traceback.FrameSummary, *args: Any, **kwargs: Any) -> str:
        f = frame_summary
        key = (f.filename, f.lineno, f.name, *(getattr(f, a, None) for a in ("end_lineno", "colno", "end_colno")))
        done: dict[tuple[Any, ...], str] = self.__dict__.setdefault("done", {})
        if key not in done:
            done[key] = super().format_frame_summary(f, *args, **kwargs)  # type: ignore[misc]  # 3.11+
        return done[key]


def _short_traceback(exc: BaseException, limit: int = 6) -> str:
    report = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    todo, seen = [report], set()
    while todo:  # the exception and every one chained to it
        te = todo.pop()
        if id(te) not in seen:
            seen.add(id(te))
            te.stack = _FramesOnce(te.stack)
            todo += [t for t in (te.__cause__, te.__context__) if t is not None]
    text = "".join(report.format()).rstrip().splitlines()
    return "\n".join(text[-limit:])


def _failed(exc: BaseException, node: int | None) -> ExecError:
    if isinstance(exc, _BuildFailure):
        node, exc = exc.node, exc.cause
    if isinstance(exc, Unsupported):
        return ExecError("unsupported", str(exc), node, op=exc.op)
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, RecursionError):
        message += " (a recursive backward() on a deep graph?)"
    return ExecError("exception", message, node, _short_traceback(exc))


def observe(
    value_class: Any, program: Program, point: Mapping[str, float], backward_calls: int = 1
) -> Observation:
    """Build a fresh graph at ``point``, call ``backward()`` on the output, read every node.

    If ``backward()`` leaves the output's grad at 0 (it expects the caller to seed it),
    the graph is rebuilt, seeded with 1.0 by hand, and the finding is noted.
    ``backward_calls=2`` calls it twice on the same graph (do gradients accumulate?).
    """
    obs = Observation()
    for attempt in ("plain", "seeded"):
        try:
            nodes = _build(value_class, program, point)
        except Exception as exc:
            obs.error = _failed(exc, None)
            return obs
        out = nodes[program.output]
        try:
            if attempt == "seeded":
                out.grad = 1.0
            out.backward()
            for _ in range(backward_calls - 1):
                out.backward()
        except Exception as exc:
            obs.error = _failed(exc, None)
            return obs
        if attempt == "seeded" or to_float(getattr(out, "grad", None)) != 0.0:
            break
        obs.notes.append("backward() did not set the output's grad to 1; seeded it by hand")
    for node in nodes:
        data, grad = to_float(getattr(node, "data", None)), to_float(getattr(node, "grad", None))
        obs.data.append(data)
        obs.grads.append(grad)
    bad = [program.nodes[k].title for k, (d, g) in enumerate(zip(obs.data, obs.grads)) if d is None or g is None]
    if bad:
        obs.notes.append(f"not a real number in .data or .grad of: {', '.join(bad)}")
    return obs


def forward_value(value_class: Any, program: Program, point: Mapping[str, float]) -> float | None:
    """The output's ``.data`` after a forward pass at ``point``; None if it fails."""
    try:
        value = to_float(_build(value_class, program, point)[program.output].data)
    except Exception:
        return None
    return value if value is not None and math.isfinite(value) else None


class InProcessExecutor:
    """Runs a Value class in this process: for the reference engine and trusted code."""

    def __init__(self, value_class: Any) -> None:
        self.value_class = value_class

    def execute(
        self,
        program: Program,
        observe_points: Sequence[Mapping[str, float]],
        forward_points: Sequence[Mapping[str, float]],
        *,
        backward_calls: int = 1,
    ) -> Execution:
        return Execution(
            [observe(self.value_class, program, p, backward_calls) for p in observe_points],
            [forward_value(self.value_class, program, p) for p in forward_points],
        )
