"""The reference engine: a micrograd-style ``Value``, one method per op of the table.

GENERATED from the op table (gradcheck_lab/ops.py) by the generator that writes the bug
catalog's student files; do not edit. Regenerate with ``python -c "from
gradcheck_lab.diagnose.faults import reference_source as r; print(r(), end='')" >
gradcheck_lab/engine.py``.

Each method computes its op's forward and records a ``_backward`` that adds the local
derivative times ``out.grad`` to each operand's grad; ``-``, ``/``, negation and the
reflected operators are built from them, as micrograd builds them. ``backward()`` sorts
the graph with an explicit stack, so a graph a million nodes deep is fine.

>>> x1, x2, x3 = Value(2.0), Value(3.0), Value(4.0)
>>> L = (x1 * x2).log() + (x1 * x3).sin() + x2 * x3
>>> L.backward()
>>> round(x1.grad, 4), round(x2.grad, 4), round(x3.grad, 4)
(-0.082, 4.3333, 2.709)
>>> n = Value(4.0); m = n + n; m.backward(); n.grad
2.0
"""

import math


def Phi(x):
    """The standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def phi(x):
    """The standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


class Value:
    """A scalar that remembers how it was made, for backpropagation."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        y = a + b
        out = Value(y, (self, other), "+")

        def _backward():
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        y = a * b
        out = Value(y, (self, other), "*")

        def _backward():
            self.grad += b * out.grad
            other.grad += a * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        assert isinstance(k, (int, float)), "only int and float powers"
        a = self.data
        y = a ** k
        out = Value(y, (self,), f"**{k}")

        def _backward():
            self.grad += (k * a ** (k - 1)) * out.grad

        out._backward = _backward
        return out

    def __rpow__(self, k):
        assert isinstance(k, (int, float)), "only int and float bases"
        a = self.data
        y = k ** a
        out = Value(y, (self,), f"{k}**")

        def _backward():
            self.grad += (y * math.log(k)) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        a = self.data
        y = math.exp(a)
        out = Value(y, (self,), "exp")

        def _backward():
            self.grad += y * out.grad

        out._backward = _backward
        return out

    def log(self):
        a = self.data
        y = math.log(a)
        out = Value(y, (self,), "log")

        def _backward():
            self.grad += (1.0 / a) * out.grad

        out._backward = _backward
        return out

    def sin(self):
        a = self.data
        y = math.sin(a)
        out = Value(y, (self,), "sin")

        def _backward():
            self.grad += math.cos(a) * out.grad

        out._backward = _backward
        return out

    def cos(self):
        a = self.data
        y = math.cos(a)
        out = Value(y, (self,), "cos")

        def _backward():
            self.grad += -math.sin(a) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        a = self.data
        y = math.tanh(a)
        out = Value(y, (self,), "tanh")

        def _backward():
            self.grad += (1.0 - y**2) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        a = self.data
        y = a if a > 0.0 else 0.0
        out = Value(y, (self,), "relu")

        def _backward():
            self.grad += (1.0 if a > 0.0 else 0.0) * out.grad

        out._backward = _backward
        return out

    def __abs__(self):
        a = self.data
        y = a if a >= 0.0 else -a
        out = Value(y, (self,), "abs")

        def _backward():
            self.grad += (1.0 if a > 0.0 else -1.0) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self):
        a = self.data
        y = 1.0 / (1.0 + math.exp(-a)) if a >= 0.0 else math.exp(a) / (1.0 + math.exp(a))
        out = Value(y, (self,), "sigmoid")

        def _backward():
            self.grad += (y * (1.0 - y)) * out.grad

        out._backward = _backward
        return out

    def gelu(self):
        a = self.data
        y = a * Phi(a)
        out = Value(y, (self,), "gelu")

        def _backward():
            self.grad += (Phi(a) + a * phi(a)) * out.grad

        out._backward = _backward
        return out

    def max(self, other):
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        y = a if a >= b else b
        out = Value(y, (self, other), "max")

        def _backward():
            self.grad += (1.0 if a >= b else 0.0) * out.grad
            other.grad += (0.0 if a >= b else 1.0) * out.grad

        out._backward = _backward
        return out

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * other ** -1

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return other + (-self)

    def __rtruediv__(self, other):
        return other * self ** -1

    def backward(self):
        topo = []
        visited = {self}
        stack = [(self, iter(self._prev))]  # no recursion: deep graphs are fine
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child._prev)))
                    break
            else:
                stack.pop()
                topo.append(node)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
