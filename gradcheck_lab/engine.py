"""The reference engine: a micrograd-compatible ``Value`` generated from the op table.

Every primitive of :data:`gradcheck_lab.ops.OPS` becomes a method (``__add__``,
``tanh``, ``max``...) whose backward step applies that row's ``local`` rule;
composites (``-``, ``/``, negation and the reflected forms) are built from primitives,
as micrograd builds them. ``backward()`` sorts the graph without recursion, so a
graph of a million nodes is fine (micrograd's recursive sort stops near 1,000).

>>> x1, x2, x3 = Value(2.0), Value(3.0), Value(4.0)
>>> L = (x1 * x2).log() + (x1 * x3).sin() + x2 * x3
>>> L.backward()
>>> round(x1.grad, 4), round(x2.grad, 4), round(x3.grad, 4)
(-0.082, 4.3333, 2.709)
>>> n = Value(4.0); m = n + n; m.backward(); n.grad
2.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .ops import OPS, Op

__all__ = ["Value", "topological_order"]


class Value:
    """A scalar node of a computation graph: ``data``, ``grad`` and how it was made.

    Attributes follow micrograd: ``data``, ``grad``, ``_prev`` (the operands, a tuple
    here, so a node used twice by one op appears twice), ``_op`` (a label such as
    ``'+'``, ``'**3'`` or ``'tanh'``), ``label`` and ``_backward()``.
    """

    __slots__ = ("_const", "_op", "_prev", "_step", "data", "grad", "label")

    data: Any
    grad: float
    _prev: tuple[Value, ...]
    _op: str
    label: str
    _step: Callable[[Value], None] | None
    _const: tuple[float, ...]

    def __init__(self, data: Any, _children: Iterable[Value] = (), _op: str = "", label: str = "") -> None:
        self.data = data
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self.label = label
        self._step = None
        self._const = ()

    def __repr__(self) -> str:
        label = f"{self.label}: " if self.label else ""
        return f"Value({label}data={self.data}, grad={self.grad})"

    def _backward(self) -> None:
        """Add this node's contribution to its operands' gradients (one chain-rule step)."""
        if self._step is not None:
            self._step(self)

    def backward(self) -> None:
        """Set this node's grad to 1 and propagate to every node it depends on.

        Gradients accumulate across calls, as in micrograd and PyTorch.
        """
        order = topological_order(self)
        self.grad = 1.0
        for node in reversed(order):
            step = node._step
            if step is not None:
                step(node)


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after its operands; no recursion.

    >>> a = Value(1.0); b = a * a; [n.data for n in topological_order(b + a)]
    [1.0, 1.0, 2.0]
    """
    order: list[Value] = []
    seen = {root}
    stack = [(root, iter(root._prev))]
    while stack:
        node, operands = stack[-1]
        for operand in operands:
            if operand not in seen:
                seen.add(operand)
                stack.append((operand, iter(operand._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _stepper(op: Op) -> Callable[[Value], None]:
    """The chain-rule step of ``op``: operands' grads += local slope * out.grad."""
    local = op.local
    assert local is not None
    if op.constant_exponent:

        def step_power(out: Value) -> None:
            (x,) = out._prev
            x.grad += local((x.data, out._const[0]), out.data)[0] * out.grad

        return step_power
    if op.arity == 1:

        def step_unary(out: Value) -> None:
            (x,) = out._prev
            x.grad += local((x.data,), out.data)[0] * out.grad

        return step_unary

    def step_binary(out: Value) -> None:
        a, b = out._prev
        da, db = local((a.data, b.data), out.data)
        g = out.grad
        a.grad += da * g
        b.grad += db * g

    return step_binary


def _node(op: Op, operands: tuple[Value, ...], const: tuple[float, ...], label: str) -> Value:
    forward = op.forward
    assert forward is not None
    out = Value(forward(*(v.data for v in operands), *const), operands, label)
    out._step = _STEPS[op.name]
    out._const = const
    return out


def _as_value(x: Any) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _method(op: Op) -> Callable[..., Value]:
    """The Value method for a primitive row of the table."""
    if op.constant_exponent:

        def power(self: Value, k: float) -> Value:
            if isinstance(k, Value):
                raise TypeError("Value ** Value is not supported: the exponent must be a number")
            return _node(op, (self,), (k,), f"{op.symbol}{k}")

        return power
    if op.arity == 1:
        return lambda self: _node(op, (self,), (), op.symbol)
    return lambda self, other: _node(op, (self, _as_value(other)), (), op.symbol)


_STEPS = {op.name: _stepper(op) for op in OPS.values() if op.primitive}

for _op in OPS.values():
    if _op.primitive:
        setattr(Value, _op.method, _method(_op))
    else:
        setattr(Value, _op.method, lambda self, *other, _c=_op.compose: _c(self, *other))

# Reflected forms: the constant on the left.
Value.__radd__ = lambda self, other: self + other  # type: ignore[attr-defined]
Value.__rmul__ = lambda self, other: self * other  # type: ignore[attr-defined]
Value.__rsub__ = lambda self, other: Value(other) + (-self)  # type: ignore[attr-defined]
Value.__rtruediv__ = lambda self, other: Value(other) * self**-1  # type: ignore[attr-defined]
