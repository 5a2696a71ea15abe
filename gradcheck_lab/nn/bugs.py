"""The nn bug catalog: what students get wrong in ``nn.py`` and the training loop.

Each :class:`NNBug` has a stable code, a one-line explanation for a student, the
:class:`~gradcheck_lab.diagnose.catalog.Effect` grading maps to a verdict, the check
(:class:`NNKind`) whose evidence names it, and the replacements that put it into the
correct template (:mod:`.template`). So every code is also an ordinary student folder
(:meth:`NNBug.write`), and a training bug's prediction is that folder's text run here.

>>> NN_CATALOG["nn-missing-zero-grad"].effect, NN_CATALOG["nn-missing-zero-grad"].kind
(<Effect.WRONG: 'wrong'>, <NNKind.TRAINING: 'training'>)
>>> "p.data += lr * p.grad" in NN_CATALOG["nn-update-sign"].source()
True
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..diagnose.catalog import Effect
from .network import Activation, Loss
from .template import namespace, nn_source, write_submission

__all__ = ["NN_CATALOG", "NNBug", "NNKind"]


class NNKind(enum.Enum):
    """The nn checks, each a case kind with its own report section."""

    STRUCTURE = "structure"
    FORWARD = "forward"
    GRADIENTS = "gradients"
    TRAINING = "training"


@dataclass(frozen=True)
class NNBug:
    """A catalog entry: a stable code, what it means, and how a student file gets it."""

    code: str
    explanation: str
    kind: NNKind
    replacements: tuple[tuple[str, str], ...] = ()
    effect: Effect = Effect.WRONG

    def source(self, **kwargs: Any) -> str:
        """This bug written out as a student's ``nn.py``."""
        return nn_source(self.replacements, about=f"{self.code}: {self.explanation}.", **kwargs)

    def namespace(self, activation: Activation = Activation.RELU, loss: Loss = Loss.MSE_MEAN) -> dict[str, Any]:
        """This bug's ``nn.py`` run here on the reference engine: its prediction."""
        return namespace(self.replacements, activation=activation, loss=loss)

    def write(self, folder: Path, **kwargs: Any) -> Path:
        """An ordinary student folder with this bug: ``engine.py`` and ``nn.py``."""
        return write_submission(folder, self.replacements, about=f"{self.code}: {self.explanation}.", **kwargs)


_LAYER_ZERO = '''
    def zero_grad(self):
        for n in self.neurons:
            for wi in n.w:
                wi.grad = 0.0

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):'''

_MLP_ZERO = '''
    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def train('''

_BUGS = [
    NNBug("nn-missing-zero-grad", "the training loop never calls zero_grad(): backward() adds to .grad, so "
          "step k's gradients include every earlier step's", NNKind.TRAINING,
          (("        model.zero_grad()  # STEP-ZERO\n", ""),)),
    NNBug("nn-zero-grad-after-backward", "zero_grad() runs between backward() and the update: every gradient is 0 "
          "when the update reads it, so nothing trains", NNKind.TRAINING,
          (("        model.zero_grad()  # STEP-ZERO\n        loss.backward()\n",
            "        loss.backward()\n        model.zero_grad()  # STEP-ZERO\n"),)),
    NNBug("nn-partial-zero-grad", "zero_grad() resets only some parameters' grads (the weights, not the biases): "
          "the others accumulate across steps", NNKind.STRUCTURE,
          (("\n    def parameters(self):\n        return [p for n in self.neurons for p in n.parameters()]\n\n\n"
            "class MLP(Module):", _LAYER_ZERO),
           ("\n    def parameters(self):\n        return [p for layer in self.layers for p in layer.parameters()]\n"
            "\n\ndef train(", _MLP_ZERO))),
    NNBug("nn-update-sign", "the update adds lr * grad: it climbs the loss; p.data -= lr * p.grad descends",
          NNKind.TRAINING, (("p.data -= lr * p.grad", "p.data += lr * p.grad"),)),
    NNBug("nn-update-grad", "the update changes p.grad instead of p.data: the parameters never move",
          NNKind.TRAINING, (("p.data -= lr * p.grad", "p.grad -= lr * p.grad"),)),
    NNBug("nn-bias-not-in-parameters", "parameters() leaves out the bias: it is never trained nor reset",
          NNKind.STRUCTURE, (("return self.w + [self.b]  # PARAMETERS", "return self.w  # PARAMETERS"),)),
    NNBug("nn-output-nonlin", "the output layer applies the nonlinearity; the contract's last layer is linear "
          "(nonlin=False), so the network cannot output what it should", NNKind.FORWARD,
          (("nonlin=i != len(nouts) - 1)", "nonlin=True)"),)),
    NNBug("nn-bias-unused", "the neuron's sum leaves out its bias: sum(wi*xi) must start from self.b", NNKind.FORWARD,
          (("sum((wi * xi for wi, xi in zip(self.w, x)), self.b)", "sum(wi * xi for wi, xi in zip(self.w, x))"),)),
    NNBug("nn-shared-weights", "neurons share their Values (one neuron or weight list reused): they cannot learn "
          "different weights", NNKind.STRUCTURE,
          (("self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]",
            "self.neurons = [Neuron(nin, **kwargs)] * nout"),)),
    NNBug("nn-loss-int-div", "the loss is averaged with integer division: 1 // n is 0, so the loss and every "
          "gradient are 0 and nothing trains", NNKind.TRAINING, (("(1.0 / len(ys))", "(1 // len(ys))"),)),
    NNBug("nn-parameters", "parameters() does not list every weight and bias exactly once, in a stable order",
          NNKind.STRUCTURE),
    NNBug("nn-forward", "the network computes another function than the contract's MLP", NNKind.FORWARD),
    NNBug("nn-gradients", "a parameter's gradient differs from the exact one", NNKind.GRADIENTS),
    NNBug("nn-training", "training parts from exact gradient descent, and no known bug explains how", NNKind.TRAINING),
    NNBug("nn-contract", "the submission lacks what the nn contract names (MLP(nin, nouts), layers, neurons, w, b, "
          "parameters(), zero_grad())", NNKind.STRUCTURE, effect=Effect.MISSING),
    NNBug("nn-exception", "the nn code raised an exception", NNKind.STRUCTURE),
]

#: Every nn code, in the order a report names them.
NN_CATALOG: dict[str, NNBug] = {b.code: b for b in _BUGS}
