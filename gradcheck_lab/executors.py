"""Executors observe a case with some Value class: node data and grads, and forward values.

The parent judges; an executor only runs. :class:`InProcessExecutor` runs a class in
this process (the reference engine, or a trusted ``--impl`` file); the grader's
sandboxed child implements the same :class:`Executor` protocol. Both call student
engines through :mod:`gradcheck_lab.drive` (the standard library only), over programs
:func:`lower` ed to the operators and methods that build each node.

Many calls at once (batches, whole gradient descents) are :mod:`gradcheck_lab.batches`.

Only ``Value(x)``, the operators and methods a case uses, ``backward()``, ``.data``
and ``.grad`` are relied on; nodes are tracked by position, never hashed or compared.

>>> from gradcheck_lab.source import parse_source
>>> from gradcheck_lab.engine import Value
>>> obs = observe(Value, parse_source("L = x * x + x"), {"x": 3.0})
>>> obs.data, obs.grads
([3.0, 9.0, 12.0], [7.0, 1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import drive
from .drive import Unsupported, to_float
from .program import Program
from .valuelike import ValueLike

__all__ = [
    "ExecError", "Execution", "Executor", "InProcessExecutor", "Observation", "Unsupported", "forward_value",
    "lower", "observation", "observe", "to_float",
]


@dataclass
class ExecError:
    """Why an observation failed: ``unsupported`` (a missing op) or ``exception``."""

    kind: str
    message: str
    node: int | None = None  #: the node being built, or None (during backward())
    traceback: str = ""
    op: str = ""  #: for ``unsupported``: which op
    type: str = ""  #: the exception's type name (``ZeroDivisionError``)
    file: str = ""  #: where it was raised: the file (``alice.py``)...
    line: int = 0  #: ...and the line


@dataclass
class Observation:
    """What one fresh graph held after one ``backward()``: per node data and grad."""

    data: list[float | None] = field(default_factory=list)
    grads: list[float | None] = field(default_factory=list)
    error: ExecError | None = None
    notes: list[str] = field(default_factory=list)
    seeded: bool = False  #: backward() left the output's grad at 0: it was seeded with 1 by hand


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
        headroom: float = 1.0,
    ) -> Execution:
        """Observe ``program`` at each ``observe`` point (``backward_calls`` calls of
        backward() on one graph, with ``headroom``: :attr:`.batches.Request.headroom`) and give
        the output's value at each ``forward`` point."""
        ...




def lower(program: Program) -> dict[str, Any]:
    """``program`` as :mod:`gradcheck_lab.drive` runs it (:attr:`Program.lowered`, made once per program).

    >>> from gradcheck_lab.source import parse_source
    >>> lower(parse_source("L = 2 * x"))["calls"]
    [['mul', '__mul__', 'mul', [2, ['ref', 0]], 'L']]
    """
    return program.lowered


def observation(found: Mapping[str, Any]) -> Observation:
    """:func:`gradcheck_lab.drive.observe`'s answer as an :class:`Observation`."""
    error = found["error"]
    return Observation(found["data"], found["grads"], None if error is None else ExecError(**error), found["notes"],
                       found["seeded"])


def observe(
    value_class: type[ValueLike], program: Program, point: Mapping[str, float], backward_calls: int = 1,
    headroom: float = 1.0,
) -> Observation:
    """Build a fresh graph at ``point``, call ``backward()`` on the output, read every node
    (:func:`gradcheck_lab.drive.observe`: a ``backward()`` that does not seed the output's
    grad is seeded by hand, and noted).

    >>> from gradcheck_lab.source import parse_source
    >>> from gradcheck_lab.engine import Value
    >>> observe(Value, parse_source("L = x * 3"), {"x": 2.0}).grads
    [3.0, 1.0]
    """
    return observation(drive.observe(value_class, lower(program), point, backward_calls, headroom))


def forward_value(value_class: type[ValueLike], program: Program, point: Mapping[str, float]) -> float | None:
    """The output's ``.data`` after a forward pass at ``point``; None if it fails."""
    return drive.forward_value(value_class, lower(program), point)


class InProcessExecutor:
    """Runs a Value class in this process: for the reference engine and trusted code."""

    def __init__(self, value_class: type[ValueLike]) -> None:
        self.value_class = value_class

    def execute(
        self,
        program: Program,
        observe_points: Sequence[Mapping[str, float]],
        forward_points: Sequence[Mapping[str, float]],
        *,
        backward_calls: int = 1,
        headroom: float = 1.0,
    ) -> Execution:
        return Execution(
            [observe(self.value_class, program, p, backward_calls, headroom) for p in observe_points],
            [forward_value(self.value_class, program, p) for p in forward_points],
        )
