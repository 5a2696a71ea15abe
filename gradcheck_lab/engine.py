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

from .ops import OPS, REFLECTED, Op, compile_rule

__all__ = ["Value", "stepper", "topological_order"]


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
        self._prev = _children if type(_children) is tuple else tuple(_children)
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
        self.grad = 1.0
        for node in reversed(_interior_order(self)):
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


def _interior_order(root: Value) -> list[Value]:
    """Like :func:`topological_order` without the leaves (they have no step to run).

    >>> a = Value(1.0); b = a * a; [n._op for n in _interior_order(b + a)]
    ['*', '+']
    """
    order: list[Value] = []
    seen = {root}
    add, stack = seen.add, [(root, iter(root._prev))]
    push, pop, out = stack.append, stack.pop, order.append
    while stack:
        node, operands = stack[-1]
        for operand in operands:
            prev = operand._prev
            if prev and operand not in seen:
                add(operand)
                push((operand, iter(prev)))
                break
        else:
            pop()
            out(node)
    return order


def stepper(op: Op) -> Callable[[Value], None]:
    """The chain-rule step of ``op``: each operand's grad += local slope * out.grad."""
    local = op.local
    assert local is not None
    if op.constant_exponent:

        def step_power(out: Value) -> None:
            (x,) = out._prev
            x.grad += local((x.data, out._const[0]), out.data)[0] * out.grad

        return step_power
    if op.constant_base:

        def step_base_power(out: Value) -> None:
            (x,) = out._prev
            x.grad += local((out._const[0], x.data), out.data)[0] * out.grad

        return step_base_power
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


def _method(op: Op) -> Callable[..., Value]:
    """The method of primitive ``op``: forward, record the operands and the chain-rule step."""
    step, forward, symbol = stepper(op), op.forward, op.symbol
    assert forward is not None
    if op.constant_exponent:

        def power(self: Value, k: float) -> Value:
            if isinstance(k, Value):
                raise TypeError("Value ** Value is not supported: the exponent must be a number")
            out = Value(forward(self.data, k), (self,), f"{symbol}{k}")
            out._step, out._const = step, (k,)
            return out

        return power
    if op.constant_base:

        def base_power(self: Value, c: float) -> Value:
            if isinstance(c, Value):
                raise TypeError("Value ** Value is not supported: the base or the exponent must be a number")
            out = Value(forward(c, self.data), (self,), f"{c}{symbol}")
            out._step, out._const = step, (c,)
            return out

        return base_power
    if op.arity == 1:

        def unary(self: Value) -> Value:
            out = Value(forward(self.data), (self,), symbol)
            out._step = step
            return out

        return unary

    def binary(self: Value, other: Any) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        out = Value(forward(self.data, other.data), (self, other), symbol)
        out._step = step
        return out

    return binary


def _install() -> None:
    """Give ``Value`` a method per row of the table: primitives, composites, reflected forms."""
    for op in OPS.values():
        setattr(Value, op.method, op.compose if op.compose is not None else _method(op))
    for method, text in REFLECTED.items():
        setattr(Value, method, compile_rule(("self", "other"), text))


_install()
