"""The Value class of seed 000 (the worked example notebook), verbatim."""

import math

class Value:
    """
    Stores a single scalar value and its gradient. Enables automatic differentiation
    by tracking the operations that created it (building a computation graph)
    and implementing the chain rule for gradient propagation during the backward pass.

    Attributes:
        data (float): The numerical value stored in this node.
        grad (float): The gradient of the final scalar output (often the loss L)
                      with respect to this node's value. Initialized to 0.
        _backward (callable): A function that computes the gradient contribution
                              of this node to its children (inputs). This is
                              defined by the operation that created this node.
        _prev (set): A set containing the 'Value' objects that were inputs to
                     the operation that created this 'Value' object (its parents
                     in the computation graph).
        _op (str): A string representation of the operation that created this
                   node (e.g., '+', '*', 'tanh'). Useful for debugging/visualization.
        label (str): An optional label for the node, helpful for diagrams.
    """

    def __init__(self, data, _children=(), _op='', label=''):
        """
        Initializes a Value object.

        Args:
            data (float or int): The numerical data for this value.
            _children (tuple): Internal argument. Tuple of parent Value objects
                               that produced this Value.
            _op (str): Internal argument. The operation that produced this Value.
            label (str): Optional descriptive label for this value.
        """
        self.data = float(data)
        self.grad = 0.0  # Initialize gradient to zero

        # Internal variables used for building the computation graph & backprop
        self._backward = lambda: None  # Default: leaf nodes have no backward function
        self._prev = set(_children)    # Set of input Value objects (parents)
        self._op = _op                 # Operation that produced this node
        self.label = label

    def __repr__(self):
        """Provides a readable representation of the Value object."""
        return f"Value(data={self.data:.4f}, grad={self.grad:.4f})"

    def __add__(self, other):
        """
        Overloads the '+' operator for Value objects.

        Handles addition with another Value object or a constant (int/float).
        """
        other = other if isinstance(other, Value) else Value(other) # Wrap constants
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            # Gradient of '+' is 1 for both inputs. Apply chain rule:
            # dL/dself = dL/dout * dout/dself = dL/dout * 1
            # dL/dother = dL/dout * dout/dother = dL/dout * 1
            self.grad += out.grad * 1.0
            other.grad += out.grad * 1.0
        out._backward = _backward

        return out

    def __mul__(self, other):
        """
        Overloads the '*' operator for Value objects.

        Handles multiplication with another Value object or a constant (int/float).
        """
        other = other if isinstance(other, Value) else Value(other) # Wrap constants
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            # Gradient of '*' uses the product rule (applied via chain rule):
            # dL/dself = dL/dout * dout/dself = dL/dout * other.data
            # dL/dother = dL/dout * dout/dother = dL/dout * self.data
            self.grad += out.grad * other.data
            other.grad += out.grad * self.data
        out._backward = _backward

        return out

    def __pow__(self, other):
        """
        Overloads the '**' operator for Value objects (raising self to a power).

        Args:
            other (int or float): The exponent (must be a constant).
        """
        assert isinstance(other, (int, float)), "Exponent must be int/float for this simple version"
        out = Value(self.data**other, (self,), f'**{other}')

        def _backward():
            # Gradient rule: d(x^n)/dx = n * x^(n-1)
            # dL/dself = dL/dout * dout/dself = dL/dout * (other * self.data**(other - 1))
            self.grad += out.grad * (other * self.data**(other - 1))
        out._backward = _backward

        return out

    def __truediv__(self, other):
        """
        Overloads the '/' operator (true division). Implemented as self * (other**-1).
        """
        return self * (other**-1)

    def __neg__(self):
        """Overloads the unary '-' operator (negation). Implemented as self * -1."""
        return self * -1

    def __sub__(self, other):
        """Overloads the binary '-' operator (subtraction). Implemented as self + (-other)."""
        return self + (-other)

    # --- Reflected operators for handling constants on the left ---

    def __radd__(self, other): # other + self
        """Handles addition when a constant is on the left (e.g., 2 + Value(3))."""
        return self + other

    def __rmul__(self, other): # other * self
        """Handles multiplication when a constant is on the left (e.g., 2 * Value(3))."""
        return self * other

    def __rsub__(self, other): # other - self
        """Handles subtraction when a constant is on the left (e.g., 2 - Value(3))."""
        return Value(other) + (-self) # Convert other to Value first

    def __rtruediv__(self, other): # other / self
        """Handles division when a constant is on the left (e.g., 2 / Value(3))."""
        return Value(other) * (self**-1) # Convert other to Value first

    # --- Activation and other mathematical functions ---

    def exp(self):
        """Applies the exponential function (e^x)."""
        x = self.data
        out = Value(math.exp(x), (self,), 'exp')

        def _backward():
            # Gradient rule: d(e^x)/dx = e^x
            # dL/dself = dL/dout * dout/dself = dL/dout * exp(self.data) = dL/dout * out.data
            self.grad += out.grad * out.data
        out._backward = _backward

        return out

    def log(self):
        """Applies the natural logarithm (ln(x))."""
        x = self.data
        if x <= 0:
            # Avoid math domain error and gradient issues with log(0) or log(negative)
            # In a real library, might add a small epsilon or handle differently.
            raise ValueError("Logarithm undefined for non-positive values.")
        out = Value(math.log(x), (self,), 'log')

        def _backward():
            # Gradient rule: d(ln(x))/dx = 1/x
            # dL/dself = dL/dout * dout/dself = dL/dout * (1 / self.data)
            self.grad += out.grad * (1.0 / self.data)
        out._backward = _backward

        return out

    def sin(self):
      """Applies the sine function (sin(x), assumes radians)."""
      x = self.data
      out = Value(math.sin(x), (self,), 'sin')

      def _backward():
          # Gradient rule: d(sin(x))/dx = cos(x)
          # dL/dself = dL/dout * dout/dself = dL/dout * cos(self.data)
          self.grad += out.grad * math.cos(self.data)
      out._backward = _backward

      return out

    def tanh(self):
        """Applies the hyperbolic tangent activation function."""
        x = self.data
        t = math.tanh(x)
        out = Value(t, (self,), 'tanh')

        def _backward():
            # Gradient rule: d(tanh(x))/dx = 1 - tanh(x)^2
            # dL/dself = dL/dout * dout/dself = dL/dout * (1 - out.data**2)
            self.grad += out.grad * (1 - out.data**2)
        out._backward = _backward

        return out

    def relu(self):
        """Applies the Rectified Linear Unit (ReLU) activation function."""
        out = Value(max(0, self.data), (self,), 'ReLU')

        def _backward():
            # Gradient rule: d(ReLU(x))/dx = 1 if x > 0, 0 otherwise
            # dL/dself = dL/dout * dout/dself = dL/dout * (1 if self.data > 0 else 0)
            # Note: Using out.data > 0 is also common and equivalent here.
            self.grad += out.grad * (1.0 if self.data > 0 else 0.0)
        out._backward = _backward

        return out

    def sigmoid(self):
      """Applies the sigmoid activation function."""
      x = self.data
      # Stable sigmoid implementation:
      if x >= 0:
          z = math.exp(-x)
          s = 1 / (1 + z)
      else:
          z = math.exp(x)
          s = z / (1 + z)
      out = Value(s, (self,), 'sigmoid')

      def _backward():
          # Gradient rule: d(sigmoid(x))/dx = sigmoid(x) * (1 - sigmoid(x))
          # dL/dself = dL/dout * dout/dself = dL/dout * (out.data * (1 - out.data))
          self.grad += out.grad * (out.data * (1 - out.data))
      out._backward = _backward

      return out


    # --- Backpropagation ---

    def backward(self):
        """
        Performs the backward pass (reverse-mode automatic differentiation)
        starting from this Value object. It computes the gradients of all
        nodes in the computation graph that led to this node.

        Assumes this node is the final scalar output (e.g., loss L).
        """

        # Step 1: Build a topologically sorted list of nodes
        topo = []
        visited = set()
        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v) # Add node *after* its children are processed

        build_topo(self)

        # Step 2: Initialize the gradient of the final node (self) to 1.0
        #         (dL/dL = 1). Gradients of all other nodes are already 0.
        self.grad = 1.0

        # Step 3: Iterate through the nodes in reverse topological order
        #         and apply the chain rule using the _backward functions.
        for node in reversed(topo):
            node._backward() # This calls the specific backward function defined
                             # by the operation that created 'node'.
