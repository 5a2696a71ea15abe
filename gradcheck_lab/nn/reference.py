"""The reference ``nn.py`` (the template, correct, on our engine), importable for doctests and tests.

>>> MLP(2, [2, 1]).layers[-1].neurons[0].nonlin
False
"""

from __future__ import annotations

from .template import namespace

_NAMES = namespace()
Value, Module, Neuron, Layer, MLP, train = (_NAMES[n] for n in ("Value", "Module", "Neuron", "Layer", "MLP", "train"))

__all__ = ["MLP", "Layer", "Module", "Neuron", "Value", "train"]
