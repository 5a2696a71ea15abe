"""Checks of the other half of the assignment: ``nn.py`` (Neuron, Layer, MLP) and the training loop.

The contract
============

micrograd's ``nn.py`` is the de facto standard; a submission is the engine and this
module together (one file, a notebook, or a folder whose ``nn.py`` does
``from engine import Value``, the student's own engine):

- ``Module``: ``parameters()`` lists every weight and bias exactly once, in the same
  order on every call; ``zero_grad()`` sets every parameter's ``.grad`` to 0.
- ``Neuron(nin, nonlin=True)``: weights ``w`` (a list of ``nin`` Values) and a bias ``b``;
  ``neuron(x)`` is ``act(b + w0*x0 + w1*x1 + ...)`` (the lecture's
  ``sum((wi*xi for ...), self.b)``); ``parameters()`` is ``w + [b]``.
- ``Layer(nin, nout, **kwargs)``: ``neurons``, ``nout`` Neurons built with ``kwargs``;
  ``layer(x)`` is the list of their outputs (one Value when ``nout == 1``).
- ``MLP(nin, nouts)``: ``layers``, one Layer per size in ``nouts``; ``mlp(x)`` feeds ``x``
  (a list of numbers or of Values) through them in turn.
- optional: ``train(model, xs, ys, steps, lr)``, plain gradient descent on the whole batch
  (forward, loss, ``zero_grad()``, ``backward()``, ``p.data -= lr * p.grad``). Without
  one, the training check runs that loop itself on the submission's pieces.

The common variants are all accepted, and read from the submission: the activation
(``relu`` as micrograd, ``tanh`` as the lecture, ``sigmoid``; found by feeding the first
neuron known sums); a ``nonlin`` flag on ``Neuron`` means micrograd's MLP with a linear
output layer, its absence the lecture's network with the activation on every layer; a
``train`` function may minimise the summed or the mean squared error or micrograd's
hinge loss (found from its first step).

The checks (:mod:`.checks`) plan requests, the submission's code answers them
(:mod:`gradcheck_lab.submissions.nn_observe`, in process or in a sandboxed child) and the parent judges against the
network written as a :class:`~gradcheck_lab.program.Program` (:mod:`.network`): the
symbolic oracle, finite differences and exact gradient descent, as for any case. Named
bugs are :mod:`.bugs`; data is :mod:`.dataset` (two moons, generated in code).

>>> import gradcheck_lab.nn.reference as ref
>>> check_nn(in_process(vars(ref))).ok
True
"""

from __future__ import annotations

from .bugs import NN_CATALOG, NNBug, NNKind
from .checks import NNConfig, NNResult, NNSection, check_nn, in_process
from .dataset import two_moons
from .network import Activation, Loss, Network

__all__ = [
    "NN_CATALOG", "Activation", "Loss", "NNBug", "NNConfig", "NNKind", "NNResult", "NNSection", "Network", "check_nn",
    "in_process", "two_moons",
]
