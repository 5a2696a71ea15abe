"""A correct student ``nn.py``, as text, and the same text with the named bugs put in.

The bug catalog (:mod:`.bugs`) changes marked lines of :data:`NN_SOURCE` (each line a
bug touches ends in a ``# MARK`` comment), so every code can be written out as the
ordinary file a student with that bug hands in (:func:`nn_source`, :func:`write_submission`),
and its prediction is that same text run in process with our engine (:func:`namespace`).
The text follows the de facto contract (micrograd's ``nn.py``; see :mod:`gradcheck_lab.nn`)
in our own words, with a ``train`` function as the course's loop writes it.

>>> ns = namespace()
>>> model = ns["MLP"](2, [3, 1])
>>> len(model.parameters()), type(model([1.0, 2.0])).__name__
(13, 'Value')
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .network import Activation, Loss

__all__ = ["LOSS_TEXT", "NN_SOURCE", "namespace", "nn_source", "write_submission"]

NN_SOURCE = '''\
"""A small neural-network library on top of our own Value engine."""
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
    """One unit: a weighted sum of its inputs plus a bias, then (optionally) {ACT}."""

    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]  # WEIGHTS
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        total = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return total.{ACT}() if self.nonlin else total

    def parameters(self):
        return self.w + [self.b]  # PARAMETERS


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
        loss = {LOSS}  # LOSS
        model.zero_grad()  # STEP-ZERO
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad  # UPDATE
        history.append(loss.data)
    return history
'''

#: How the template's ``train`` writes each loss (``scores``, ``ys``, ``xs`` in scope).
LOSS_TEXT = {
    Loss.MSE_SUM: "sum((s - y) ** 2 for s, y in zip(scores, ys))",
    Loss.MSE_MEAN: "sum((s - y) ** 2 for s, y in zip(scores, ys)) * (1.0 / len(ys))",
    Loss.HINGE: "sum((1 + -y * s).relu() for s, y in zip(scores, ys)) * (1.0 / len(ys))",
}


def nn_source(
    replacements: Iterable[tuple[str, str]] = (),
    *,
    activation: Activation = Activation.RELU,
    loss: Loss = Loss.MSE_MEAN,
    about: str = "",
) -> str:
    """The student file: the template with ``activation``, ``loss`` and each (marked line's
    old text, new text) replacement applied.

    >>> "p.data += lr * p.grad" in nn_source([("p.data -= lr * p.grad", "p.data += lr * p.grad")])
    True
    """
    text = NN_SOURCE.replace("{ACT}", activation.value).replace("{LOSS}", LOSS_TEXT[loss])
    for old, new in replacements:
        if old not in text:
            raise ValueError(f"the nn template has no {old!r} to replace")
        text = text.replace(old, new)
    if about:
        text = text.replace('"""A small neural-network library on top of our own Value engine."""',
                            f'"""A small neural-network library on top of our own Value engine.\n\n{about}\n"""')
    return text


def namespace(replacements: Iterable[tuple[str, str]] = (), **kwargs: Any) -> dict[str, Any]:
    """The template's names, run in this process on the reference engine (a prediction)."""
    from ..engine import Value

    source = nn_source(replacements, **kwargs).replace("from engine import Value\n", "")
    names: dict[str, Any] = {"Value": Value, "__name__": "nn"}
    exec(compile(source, "<nn template>", "exec"), names)
    return names


def write_submission(folder: Path, replacements: Iterable[tuple[str, str]] = (), **kwargs: Any) -> Path:
    """A student folder: ``engine.py`` (a correct engine, from the bug catalog) and ``nn.py``."""
    from ..diagnose.catalog import submission_source

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "engine.py").write_text(submission_source([]))
    (folder / "nn.py").write_text(nn_source(replacements, **kwargs))
    return folder
