"""One training step of a tiny network, explained: the walk-through of its forward and backward
pass, then the update ``p.data -= lr * p.grad`` of every parameter (rendered by :mod:`gradcheck_lab.report.nn`).

The network is ``MLP(2, [2, 1])`` in the submission's variant, on the first two-moons
point with the squared error: small enough to follow by hand.

>>> from gradcheck_lab.nn.network import Activation, Network
>>> w, updates = one_step(Network(2, (2, 1), Activation.TANH), lr=0.1)
>>> len(updates), updates[0][0]
(9, 'L0.N0.w0')
>>> all(abs(new - (old - 0.1 * g)) < 1e-12 for _, old, g, new, _ in updates)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..answer_keys import AnswerKeys
from ..walkthrough import Walkthrough, walk
from .checks import observed_point
from .dataset import two_moons
from .network import Loss, Network

if TYPE_CHECKING:
    from .checks import Runner

__all__ = ["one_step"]


def one_step(
    network: Network, *, lr: float, seed: int = 0, keys: AnswerKeys | None = None, run: Runner | None = None
) -> tuple[Walkthrough, list[tuple[str, float, float, float, float | None]]]:
    """The walk-through of one step of ``MLP(nin, [2, 1])`` in ``network``'s variant, and
    each parameter's (name, data, grad, data after the update, the student's data after it).

    With ``run`` (a runner over the student's code), the walk-through carries the student's
    numbers (parameters' grads, neuron outputs) and the update the student's one step."""
    tiny = Network(network.nin, (2, 1), network.activation, network.linear_output)
    xs, ys = two_moons(1, seed=seed)
    program = tiny.program(xs, ys, Loss.MSE_SUM)
    start = tiny.start(xs, seed)
    truth = (keys or AnswerKeys()).get(program, [start])[0]
    checks, after = None, dict[str, Any]()
    if run is not None:
        request = {"nin": tiny.nin, "nouts": list(tiny.nouts), "xs": xs, "ys": ys, "params": start}
        got = run({"kind": "gradients", "losses": [Loss.MSE_SUM.value], **request})
        if "error" not in got and "grads" in got.get(Loss.MSE_SUM.value, {}):
            checks = observed_point(program, truth, start, got[Loss.MSE_SUM.value])
        trained = run({"kind": "train", "steps": 1, "lr": lr, "loss": Loss.MSE_SUM.value, **request})
        after = trained.get("final", {}) if "error" not in trained else {}
    w = walk(program, start, values=truth.values, checks=checks, exact_grads=truth.grads)
    n = len(program.inputs)
    updates = [(name, start[name], g, start[name] - lr * g, after.get(name))
               for name, g in zip(program.inputs, truth.grads[:n])]
    return w, updates
