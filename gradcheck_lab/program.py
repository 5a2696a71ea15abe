"""A case as a small straight-line program, and the one interpreter every build uses.

A :class:`Program` lists its nodes in order: the inputs first, then one node per
sub-expression of the case source. :func:`evaluate` runs it over any algebra (a
student's ``Value`` class, SymPy, plain floats), so node *k* of every build is the
same sub-expression: the twin-node correspondence the harness compares.

Programs are plain data (JSON round-trip, stable hash): they are what a sandboxed
child receives, and it never needs SymPy to run one.

>>> p = Program((Node("input", (), "x"), Node("mul", (Ref(0), Ref(0)), "y", "x * x")), 1)
>>> evaluate(p, [3.0], float_apply)
[3.0, 9.0]
>>> Program.from_json(p.to_json()) == p
True
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .ops import OPS, Op

__all__ = ["Node", "Program", "Ref", "evaluate", "float_apply", "python_operator"]


@dataclass(frozen=True)
class Ref:
    """An operand that is the value of node ``index``."""

    index: int


Arg = Ref | int | float


@dataclass(frozen=True)
class Node:
    """One node: an input (``op == "input"``) or one op applied to earlier nodes and numbers."""

    op: str
    args: tuple[Arg, ...]
    name: str = ""  #: input name or assigned label; "" for an anonymous sub-expression
    text: str = ""  #: its source text, e.g. "x1 * x2"
    line: int = 0  #: where it stands in the case file (1-based; 0 when unknown)
    col: int = 0

    @property
    def title(self) -> str:
        """What reports call the node: its name, or its source text."""
        return self.name or self.text


@dataclass(frozen=True)
class Program:
    """The nodes of a case, inputs first, and which node is the output."""

    nodes: tuple[Node, ...]
    output: int
    _inputs: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_inputs", tuple(n.name for n in self.nodes if n.op == "input"))

    @property
    def inputs(self) -> tuple[str, ...]:
        return self._inputs

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "nodes": [
                [n.op, [["ref", a.index] if isinstance(a, Ref) else a for a in n.args], n.name, n.text, n.line, n.col]
                for n in self.nodes
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Program:
        nodes = tuple(
            Node(op, tuple(Ref(a[1]) if isinstance(a, list) else a for a in args), name, text, line, col)
            for op, args, name, text, line, col in data["nodes"]
        )
        return cls(nodes, data["output"])

    @functools.cached_property  # computed once: answer-key lookups ask for it per point
    def digest(self) -> str:
        """A stable hash of what the program computes (names and positions included)."""
        blob = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @functools.cached_property  # computed once: every point of every case is judged node by node
    def titles(self) -> tuple[str, ...]:
        """Every node's title, in order.

        >>> from gradcheck_lab.source import parse_source
        >>> parse_source("L = 2 * x").titles
        ('x', 'L')
        """
        return tuple(n.title for n in self.nodes)

    @functools.cached_property  # computed once per program: every observation runs it, every child is sent it
    def lowered(self) -> dict[str, Any]:
        """The program as :mod:`gradcheck_lab.drive` runs it: per node, the Python operator or
        method that builds it, from which nodes and numbers (JSON; no rule, no derivative).

        >>> from gradcheck_lab.source import parse_source
        >>> parse_source("L = 2 * x").lowered["calls"]
        [['mul', '__mul__', 'mul', [2, ['ref', 0]], 'L']]
        """
        calls = []
        for node in self.nodes[len(self.inputs):]:
            op = OPS[node.op]
            args = [["ref", a.index] if isinstance(a, Ref) else float(a) if isinstance(a, float) else a
                    for a in node.args]  # plain numbers (a case file's are a float subclass)
            calls.append([op.python, op.method, op.name, args, node.name])
        return {"inputs": list(self.inputs), "output": self.output, "calls": calls,
                "titles": list(self.titles)}

    def operands(self, index: int) -> list[int]:
        """Node indices that node ``index`` reads (with repeats, as in ``x * x``)."""
        return [a.index for a in self.nodes[index].args if isinstance(a, Ref)]

    def ancestors(self, index: int) -> set[int]:
        """Every node that node ``index`` depends on, not including itself."""
        found: set[int] = set()
        todo = self.operands(index)
        while todo:
            i = todo.pop()
            if i not in found:
                found.add(i)
                todo.extend(self.operands(i))
        return found


def python_operator(op: Op) -> Callable[..., Any] | None:
    """The Python operator that writes ``op`` (``operator.add`` for add), or None for calls.

    >>> python_operator(OPS["div"]), python_operator(OPS["exp"])
    (<built-in function truediv>, None)
    """
    return getattr(operator, op.python) if op.python else None


def evaluate(program: Program, inputs: Sequence[Any], apply: Callable[[Op, list[Any]], Any]) -> list[Any]:
    """Every node's value: ``inputs`` for the inputs, ``apply(op, args)`` for the rest.

    ``args`` hold earlier nodes' values and the program's numbers, in source order.
    """
    values = list(inputs)
    for node in program.nodes[len(values):]:
        args = [values[a.index] if isinstance(a, Ref) else a for a in node.args]
        values.append(apply(OPS[node.op], args))
    return values


def float_apply(op: Op, args: list[Any]) -> float:
    """Plain-float algebra: primitives by their table forward, composite operators by Python's
    (``a / b``), other composites by their composition (``square``: ``self * self``).

    >>> float_apply(OPS["div"], [1.0, 4.0]), float_apply(OPS["neg"], [2.0])
    (0.25, -2.0)
    """
    if op.forward is not None:
        return op.forward(*args)
    python = python_operator(op)
    if python is not None:
        return float(python(*args))
    assert op.compose is not None
    return float(op.compose(*args))
