"""Homework 2: a scalar autograd engine.

Every operation stores its parents and the local derivative with respect to each of
them when it is built; backward() walks the graph once in reverse topological order
(an explicit stack, so deep graphs need no recursion) and applies the chain rule.
"""

import math


class Value:
    __slots__ = ("data", "grad", "label", "_parents", "_local")

    def __init__(self, data, label=""):
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self._parents = ()
        self._local = ()

    @classmethod
    def _node(cls, data, parents, local):
        out = cls(data)
        out._parents = parents
        out._local = local
        return out

    @staticmethod
    def _wrap(x):
        return x if isinstance(x, Value) else Value(x)

    # Values compare by their numbers, so they are not hashable: backward() tracks ids.
    def __eq__(self, other):
        return isinstance(other, Value) and self.data == other.data

    __hash__ = None

    def __repr__(self):
        return f"Value({self.data:.6g}, grad={self.grad:.6g})"

    # ---- arithmetic
    def __add__(self, other):
        other = self._wrap(other)
        return Value._node(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = self._wrap(other)
        return Value._node(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            return NotImplemented
        return Value._node(self.data**k, (self,), (k * self.data ** (k - 1),))

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-self._wrap(other))

    def __truediv__(self, other):
        return self * self._wrap(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value(other) - self

    def __rtruediv__(self, other):
        return Value(other) / self

    # ---- functions
    def exp(self):
        e = math.exp(self.data)
        return Value._node(e, (self,), (e,))

    def log(self):
        return Value._node(math.log(self.data), (self,), (1.0 / self.data,))

    def sin(self):
        return Value._node(math.sin(self.data), (self,), (math.cos(self.data),))

    def cos(self):
        return Value._node(math.cos(self.data), (self,), (-math.sin(self.data),))

    def tanh(self):
        t = math.tanh(self.data)
        return Value._node(t, (self,), (1.0 - t * t,))

    def relu(self):
        x = self.data
        return Value._node(x if x > 0 else 0.0, (self,), (1.0 if x > 0 else 0.0,))

    def sigmoid(self):
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Value._node(s, (self,), (s * (1.0 - s),))

    def gelu(self):
        x = self.data
        cdf = 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
        pdf = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return Value._node(x * cdf, (self,), (cdf + x * pdf,))

    def max(self, other):
        other = self._wrap(other)
        first = self.data >= other.data
        return Value._node(self.data if first else other.data, (self, other), (float(first), float(not first)))

    # ---- the backward pass
    def backward(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents)
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in zip(node._parents, node._local):
                parent.grad += local * node.grad


if __name__ == "__main__":
    x = Value(2.0, "x")
    y = x * x + x.exp()
    y.backward()
    print(y, x)
