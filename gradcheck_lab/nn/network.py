"""The network a check asks for, as a straight-line :class:`~gradcheck_lab.program.Program`.

A :class:`Network` is micrograd's ``MLP(nin, nouts)`` with one activation: every
neuron computes ``act = b + w0*x0 + w1*x1 + ...`` (``sum(..., self.b)``, in that order)
and applies the activation unless it sits in a linear output layer. :meth:`Network.program`
writes the network over a few samples, and a :class:`Loss` over its outputs, as one
program whose inputs are the parameters (``L0.N1.w0``, ``L0.N1.b``...) and whose numbers
are the samples. So the symbolic oracle, finite differences and the reference engine
check a network exactly as they check a case, node by node.

>>> net = Network(2, (2, 1), Activation.TANH)
>>> net.names()
('L0.N0.w0', 'L0.N0.w1', 'L0.N0.b', 'L0.N1.w0', 'L0.N1.w1', 'L0.N1.b', 'L1.N0.w0', 'L1.N0.w1', 'L1.N0.b')
>>> p = net.program([[1.0, -2.0]], [1.0], Loss.MSE_SUM)
>>> [n.title for n in p.nodes if n.name and n.op != "input"]
['s0.L0.N0', 's0.L0.N1', 's0.L1.N0', 'loss']
"""

from __future__ import annotations

import enum
import functools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..ops import OPS
from ..program import Arg, Node, Program, Ref

__all__ = ["Activation", "Loss", "Network", "loss_program"]


class Activation(enum.Enum):
    """What a neuron applies to its weighted sum (``LINEAR``: nothing)."""

    RELU = "relu"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    LINEAR = "linear"


class Loss(enum.Enum):
    """The losses a training loop may minimise; targets are -1 and +1.

    ``MSE_SUM`` is the lecture's ``sum((yout - ygt)**2 ...)``, ``MSE_MEAN`` the same
    divided by the number of samples, ``HINGE`` micrograd's demo's
    ``sum((1 + -yi*scorei).relu() ...) * (1.0 / n)`` (without its regularisation).
    """

    MSE_SUM = "mse-sum"
    MSE_MEAN = "mse-mean"
    HINGE = "hinge"


@dataclass(frozen=True)
class Network:
    """``MLP(nin, list(nouts))`` with ``activation`` on every hidden layer, and on the
    output layer too unless ``linear_output`` (micrograd's ``nonlin=False`` there)."""

    nin: int
    nouts: tuple[int, ...]
    activation: Activation
    linear_output: bool = True

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.nin, *self.nouts)

    def neurons(self) -> list[tuple[int, int, int]]:
        """Every neuron as (layer, index, inputs), in the contract's order."""
        return [(i, j, self.sizes[i]) for i in range(len(self.nouts)) for j in range(self.nouts[i])]

    def names(self) -> tuple[str, ...]:
        """The parameters in ``parameters()`` order: per layer, per neuron, its weights then its bias."""
        return tuple(name for i, j, nin in self.neurons()
                     for name in [*(f"L{i}.N{j}.w{k}" for k in range(nin)), f"L{i}.N{j}.b"])

    def nonlinear(self, layer: int) -> bool:
        last = layer == len(self.nouts) - 1
        return self.activation is not Activation.LINEAR and not (last and self.linear_output)

    def start(self, xs: Sequence[Sequence[float]], seed: int = 0) -> dict[str, float]:
        """Deterministic parameters (weights in [-1, 1], as micrograd draws them; biases in
        [-0.5, 0.5], so a missing bias shows) where the network is alive on ``xs``: every
        hidden neuron's sum is positive for some input, every sum keeps 0.05 from 0 (relu's
        kink), and every output stays inside (-0.9, 0.9) (the hinge loss is active).

        >>> net = Network(2, (3, 1), Activation.RELU)
        >>> net.start([[0.5, 1.0], [-1.0, 0.2]]) == net.start([[0.5, 1.0], [-1.0, 0.2]])
        True
        """
        return dict(_start(self, tuple(tuple(x) for x in xs), seed))

    def _draw(self, xs: Sequence[Sequence[float]], seed: int) -> dict[str, float]:
        rng = random.Random(f"nn-start:{seed}")
        last = len(self.nouts) - 1
        params: dict[str, float] = {}
        for _ in range(2000):
            params = {n: round(rng.uniform(-1.0, 1.0) if ".w" in n else rng.uniform(-0.5, 0.5), 4)
                      for n in self.names()}
            sums = [self.sums(params, x) for x in xs]
            alive = all(any(z[i][j] > 0.1 for z in sums) for i in range(last) for j in range(self.nouts[i]))
            clear = all(abs(v) > 0.05 for z in sums for layer in z for v in layer)
            if alive and clear and all(abs(v) < 0.9 for z in sums for v in z[last]):
                break
        return params

    def outputs(self, params: Mapping[str, float], x: Sequence[float]) -> list[float]:
        """The network's outputs at input ``x``, in floats.

        >>> Network(1, (1,), Activation.RELU).outputs({"L0.N0.w0": -2.0, "L0.N0.b": 0.5}, [3.0])
        [-5.5]
        """
        last = len(self.nouts) - 1
        op = OPS.get(self.activation.value)
        return [op.forward(z) if op is not None and op.forward and self.nonlinear(last) else z
                for z in self.sums(params, x)[last]]

    def sums(self, params: Mapping[str, float], x: Sequence[float]) -> list[list[float]]:
        """Every neuron's weighted sum (before its activation), layer by layer, in floats.

        >>> Network(1, (1,), Activation.RELU).sums({"L0.N0.w0": 2.0, "L0.N0.b": 0.5}, [3.0])
        [[6.5]]
        """
        found: list[list[float]] = []
        values = list(x)
        for i, size in enumerate(self.nouts):
            z = [params[f"L{i}.N{j}.b"] + sum(params[f"L{i}.N{j}.w{k}"] * v for k, v in enumerate(values))
                 for j in range(size)]
            found.append(z)
            op = OPS.get(self.activation.value)
            values = [op.forward(v) if op is not None and op.forward and self.nonlinear(i) else v for v in z]
        return found

    def program(self, xs: Sequence[Sequence[float]], ys: Sequence[float], loss: Loss | None) -> Program:
        """The network over every sample ``xs``, and ``loss`` against ``ys`` (None: the
        output is the first sample's first output)."""
        nodes = [Node("input", (), name) for name in self.names()]
        index = {name: k for k, name in enumerate(self.names())}

        def add(op: str, args: tuple[Arg, ...], name: str = "", text: str = "") -> Ref:
            nodes.append(Node(op, args, name, text))
            return Ref(len(nodes) - 1)

        outputs: list[Ref] = []
        for s, x in enumerate(xs):
            values: list[Arg] = [float(v) for v in x]
            for i, size in enumerate(self.nouts):
                layer: list[Arg] = []
                for j in range(size):
                    act: Ref = Ref(index[f"L{i}.N{j}.b"])
                    for k, v in enumerate(values):
                        w = Ref(index[f"L{i}.N{j}.w{k}"])
                        term = add("mul", (w, v), text=f"L{i}.N{j}.w{k} * {_title(nodes, v)}")
                        act = add("add", (act, term), text=f"s{s}.L{i}.N{j} sum to w{k}")
                    label = f"s{s}.L{i}.N{j}"
                    if self.nonlinear(i):
                        act = add(self.activation.value, (act,), label, f"{self.activation.value}(...)")
                    else:
                        nodes[act.index] = Node(nodes[act.index].op, nodes[act.index].args, label,
                                                nodes[act.index].text)
                    layer.append(act)
                values = layer
            outputs.extend(v for v in values if isinstance(v, Ref))
        if loss is None:
            return Program(tuple(nodes), outputs[0].index)
        out = _append_loss(nodes, outputs, ys, loss)
        return Program(tuple(nodes), out)


@functools.lru_cache(maxsize=64)
def _start(network: Network, xs: tuple[tuple[float, ...], ...], seed: int) -> tuple[tuple[str, float], ...]:
    """:meth:`Network.start`, drawn once per network, data and seed (a search of some draws)."""
    return tuple(network._draw(xs, seed).items())


def _title(nodes: list[Node], v: Arg) -> str:
    return nodes[v.index].title if isinstance(v, Ref) else f"{v:g}"


def _append_loss(nodes: list[Node], outputs: Sequence[Ref], ys: Sequence[float], loss: Loss) -> int:
    """Append ``loss`` of the network ``outputs`` against ``ys``; return the loss node.

    Every op keeps the student's Value on the left (``out - y``, ``score * -y + 1``), so a
    class without reflected operators can still be checked.
    """

    def add(op: str, args: tuple[Arg, ...], name: str = "", text: str = "") -> Ref:
        nodes.append(Node(op, args, name, text))
        return Ref(len(nodes) - 1)

    terms: list[Ref] = []
    for s, (out, y) in enumerate(zip(outputs, ys)):
        if loss is Loss.HINGE:
            margin = add("add", (add("mul", (out, -float(y)), text=f"-y{s} * out{s}"), 1.0), text=f"1 - y{s} * out{s}")
            terms.append(add("relu", (margin,), f"hinge{s}", f"relu(1 - y{s} * out{s})"))
        else:
            diff = add("sub", (out, float(y)), text=f"out{s} - y{s}")
            terms.append(add("pow", (diff, 2), f"err{s}", f"(out{s} - y{s})**2"))
    total = terms[0]
    for t in terms[1:]:
        total = add("add", (total, t), text="sum of the losses")
    if loss is not Loss.MSE_SUM:
        total = add("mul", (total, 1.0 / len(terms)), text=f"sum * (1.0 / {len(terms)})")
    nodes[total.index] = Node(nodes[total.index].op, nodes[total.index].args, "loss", nodes[total.index].text)
    return total.index


def loss_program(count: int, ys: Sequence[float], loss: Loss) -> Program:
    """``loss`` alone, over ``count`` network outputs as inputs (``out0``...): what a
    check builds with the student's Value after calling the student's network.

    >>> from gradcheck_lab.program import evaluate, float_apply
    >>> p = loss_program(2, [1.0, -1.0], Loss.MSE_MEAN)
    >>> evaluate(p, [0.5, 0.0], float_apply)[p.output]
    0.625
    """
    nodes = [Node("input", (), f"out{s}") for s in range(count)]
    out = _append_loss(nodes, [Ref(s) for s in range(count)], ys, loss)
    return Program(tuple(nodes), out)
