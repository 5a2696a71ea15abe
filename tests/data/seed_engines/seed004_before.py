"""Seed 004 "before correction": its Value class with = where += belongs, as the notebook describes."""

import math

class Value():
    def __init__(self, data, _children=(), _op = '', label=''):
        self.data = data
        self._prev = set(_children)
        self._op = _op
        self.label = label
        self.grad = 0.0     # x.grad means derivative of loss fn (final node) wrt x
        self._backward = lambda: None # it is defined None function as default in case it is used for a leaf node

    def __repr__(self):
        return f'Value {self.label}(data = {self.data})'

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')
        
        def _backward():
            '''
            if  x = y + z (think of it in terms of graph, will be easier)
            then gradient of x wrt y or z will be 1, i.e.,
            gradient of an addition operator propagates to its components, 
            therefore gradient of loss fn wrt components (y or z) will be
            equal to gradient of loss fn wrt x
            '''
            self.grad = 1.0 * out.grad      #since it is backpropagation, we already know gradient of loss fn wrt out
            other.grad = 1.0 * out.grad    # += because gradients accumulate, helful when a same node is used multiple times

        out._backward = _backward       #since self._backward is already defined as a function, therefore _backward not _backward()
        return out
    
    def __radd__(self, other):
        '''python redirects addition to radd when it sees 
        it can't handle addition in one order but can perform it in reverse order'''
        return self + other

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            '''
            if  x = y * z (think of it in terms of graph, will be easier)
            then gradient of x wrt y and z will be z and y respectively, 
            therefore gradient of loss fn wrt components y or z will be
            equal to gradient of loss fn wrt x * z or gradient of loss fn wrt x * y,
            respectively
            '''
            self.grad = other.data * out.grad      
            other.grad = self.data * out.grad

        out._backward = _backward
        return out
    
    def __rmul__(self, other):
        '''python redirects multiplication to rmul when it sees 
        it can't handle multiplication in one order but can perform it in reverse order'''
        return self * other

    def exp(self): #e^self
        out = Value(math.exp(self.data), (self, ), _op = 'exp')

        def _backward():
            self.grad = out.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, other): #self**other
        assert isinstance(other, (int, float)), 'Power operator only supports int or float'

        out = Value(self.data**other, (self, ), _op = f'**{other}')

        def _backward():
            self.grad = other * self.data**(other-1) * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other): #self/other
        return self * other**-1

    def __neg__(self):  #-self
        return self * -1 

    def __sub__(self, other):   #self - other
        return self + (-other)

    def tanh(self):
        x = self.data
        t = (math.exp(2*x) - 1)/(math.exp(2*x) + 1)
        out = Value(t, (self, ), 'tanh')

        def _backward():
            self.grad = (1 - t**2)*out.grad
        out._backward = _backward
        return out
    
    def backward(self):
        self.grad = 1.0

        # using topological sort to arrange nodes in topological order
        topo = []
        visited = set()
        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)

        print('Gradients before backprop')
        for node in topo:
            print(node, node.grad)

        for node in reversed(topo):
            node._backward()

        print('\nGradients after backprop')
        for node in topo:
            print(node, node.grad)

## Using tanh fuunction

### A workflow where a, b and c are three leaf nodes, d and e are intermediary results and f is the final output
