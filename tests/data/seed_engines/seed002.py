"""The Value class of seed 002 (gradient descent), verbatim."""

class Value:
    def __init__(self, data, _children=(), _op=''):
        """
        Initialize a Value object.
        data: the numeric value (scalar) this node holds.
        _children: the nodes that produced this value (for building the graph).
        _op: the operation that produced this value (for debug/tracing purposes).
        """
        self.data = data                  # the actual scalar value
        self.grad = 0.0                   # gradient of the loss w.rt this value (to be computed in backprop)
        self._prev = set(_children)       # set of parent nodes (inputs to the operation that produced this node)
        self._op = _op                    # op name (optional, useful for debug)
        self._backward = lambda: None     # function to backpropagate gradient from this node to its _prev
    
    def __repr__(self):
        # For convenience, when we print a Value it will show its data
        return f"Value(data={self.data})"

    def __add__(self, other):
        # Support addition: Value + Value or Value + scalar
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), _op='+')
        # Define the backward function for addition
        def _backward():
            # Gradient of the output w.rt each input is 1 (∂(a+b)/∂a = 1, ∂(a+b)/∂b = 1)
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __radd__(self, other):
        # Ensure commutativity: allows scalar + Value to use __add__
        return self + other

    def __mul__(self, other):
        # Support multiplication: Value * Value or Value * scalar
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), _op='*')
        def _backward():
            # ∂(a*b)/∂a = b, ∂(a*b)/∂b = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __rmul__(self, other):
        # Ensure commutativity for scalar * Value
        return self * other

    def __sub__(self, other):
        # Define subtraction in terms of addition: a - b = a + (-b)
        return self + (-1 * other)

    def __pow__(self, exponent):
        # Only support exponent as int or float (scalar exponent)
        assert isinstance(exponent, (int, float)), "Only supporting int/float exponents for simplicity."
        out = Value(self.data ** exponent, (self,), _op=f'**{exponent}')
        def _backward():
            # ∂(a^k)/∂a = k * a^(k-1)
            self.grad += exponent * (self.data ** (exponent - 1)) * out.grad
        out._backward = _backward
        return out
    
    def backward(self):
        # Compute gradients of all values in the graph w.rt this Value (self).
        # 1. Topologically sort the graph of dependencies
        topo = []
        visited = set()
        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        # 2. Initialize the output node's gradient
        self.grad = 1.0
        # 3. Traverse nodes in reverse topological order and propagate gradients
        for node in reversed(topo):
            node._backward()
