import math

from activations import gelu, gelu_slope, sigmoid


class Value:
    """A scalar that remembers how it was computed."""

    def __init__(self, data, children=(), op=""):
        self.data = data
        self.grad = 0
        self.children = children
        self.op = op
        self._back = None

    def _out(self, data, children, op, back):
        out = Value(data, children, op)
        out._back = back
        return out

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)

        def back(out):
            self.grad += out.grad
            other.grad += out.grad
        return self._out(self.data + other.data, (self, other), "+", back)

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)

        def back(out):
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        return self._out(self.data * other.data, (self, other), "*", back)

    __rmul__ = __mul__

    def __pow__(self, k):
        def back(out):
            self.grad += k * self.data ** (k - 1) * out.grad
        return self._out(self.data**k, (self,), f"**{k}", back)

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + -other

    def __rsub__(self, other):
        return -self + other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return self**-1 * other

    def _unary(self, value, slope, op):
        def back(out):
            self.grad += slope * out.grad
        return self._out(value, (self,), op, back)

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self):
        return self._unary(math.log(self.data), 1 / self.data, "log")

    def sin(self):
        return self._unary(math.sin(self.data), math.cos(self.data), "sin")

    def cos(self):
        return self._unary(math.cos(self.data), -math.sin(self.data), "cos")

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t, "tanh")

    def relu(self):
        return self._unary(max(self.data, 0), 1 if self.data > 0 else 0, "relu")

    def sigmoid(self):
        s = sigmoid(self.data)
        return self._unary(s, s * (1 - s), "sigmoid")

    def gelu(self):
        return self._unary(gelu(self.data), gelu_slope(self.data), "gelu")

    def max(self, other):
        other = other if isinstance(other, Value) else Value(other)

        def back(out):
            if self.data >= other.data:
                self.grad += out.grad
            else:
                other.grad += out.grad
        return self._out(max(self.data, other.data), (self, other), "max", back)

    def backward(self):
        order, seen = [], set()

        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for c in v.children:
                    visit(c)
                order.append(v)
        visit(self)
        self.grad = 1
        for v in reversed(order):
            if v._back is not None:
                v._back(v)
