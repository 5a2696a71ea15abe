"""A small neural-network library on top of our own Value engine.

nn-bias-not-in-parameters: parameters() leaves out the bias: it is never trained nor reset.
"""
import random

from engine import Value


class Module:
    """Anything with parameters: it can list them and clear their gradients."""

    def parameters(self):
        return []

    def zero_grad(self):
        for p in self.parameters():  # ZERO-GRAD
            p.grad = 0.0


class Neuron(Module):
    """One unit: a weighted sum of its inputs plus a bias, then (optionally) relu."""

    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]  # WEIGHTS
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        total = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return total.relu() if self.nonlin else total

    def parameters(self):
        return self.w  # PARAMETERS


class Layer(Module):
    """Several neurons reading the same inputs."""

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]  # NEURONS

    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    """Layers one after the other; the last one is linear."""

    def __init__(self, nin, nouts):
        sizes = [nin] + nouts
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1)  # OUTPUT
                       for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def train(model, xs, ys, steps, lr):
    """Plain gradient descent on the whole batch; returns the loss before each step."""
    history = []
    for _ in range(steps):
        scores = [model(x) for x in xs]
        loss = sum((s - y) ** 2 for s, y in zip(scores, ys)) * (1.0 / len(ys))  # LOSS
        model.zero_grad()  # STEP-ZERO
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad  # UPDATE
        history.append(loss.data)
    return history
