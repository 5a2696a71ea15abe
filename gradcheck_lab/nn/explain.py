"""One training step of a tiny network, explained: forward table, backward in reverse
topological order, then the update ``p.data -= lr * p.grad`` of every parameter.

The network is ``MLP(2, [2, 1])`` in the submission's variant, on the first two-moons
point with the squared error: small enough to follow by hand. The forward and backward
tables are :mod:`gradcheck_lab.report.walkthrough`'s, on the network's program.

>>> from gradcheck_lab.nn.network import Activation, Network
>>> w, updates = one_step(Network(2, (2, 1), Activation.TANH), lr=0.1)
>>> len(updates), updates[0][0]
(9, 'L0.N0.w0')
>>> all(abs(new - (old - 0.1 * g)) < 1e-12 for _, old, g, new in updates)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..answer_keys import AnswerKeys
from ..report.walkthrough import Walkthrough, number, walk
from .dataset import two_moons
from .network import Loss, Network

if TYPE_CHECKING:
    from .checks import NNConfig, NNResult

__all__ = ["one_step", "step_html", "step_text"]


def one_step(
    network: Network, *, lr: float, seed: int = 0, keys: AnswerKeys | None = None
) -> tuple[Walkthrough, list[tuple[str, float, float, float]]]:
    """The walk-through of one step of ``MLP(nin, [2, 1])`` in ``network``'s variant, and
    each parameter's (name, data, grad, data after the update)."""
    tiny = Network(network.nin, (2, 1), network.activation, network.linear_output)
    xs, ys = two_moons(1, seed=seed)
    program = tiny.program(xs, ys, Loss.MSE_SUM)
    start = tiny.start(xs, seed)
    truth = (keys or AnswerKeys()).get(program, [start])[0]
    w = walk(program, start, values=truth.values, exact_grads=truth.grads)
    n = len(program.inputs)
    updates = [(name, start[name], g, start[name] - lr * g) for name, g in zip(program.inputs, truth.grads[:n])]
    return w, updates


def step_text(network: Network, *, lr: float, seed: int = 0) -> str:
    """The step as text: the walk-through's tables, then the update.

    >>> from gradcheck_lab.nn.network import Activation, Network
    >>> print(step_text(Network(2, (2, 1), Activation.RELU), lr=0.1).splitlines()[-1].split()[0])
    L1.N0.b
    """
    from tabulate import tabulate

    from ..report.walkthrough import walkthrough_text

    w, updates = one_step(network, lr=lr, seed=seed)
    rows = [[name, number(d), number(g), number(new)] for name, d, g, new in updates]
    return (walkthrough_text(w) + f"\n\nThe update, p.data -= {lr:g} * p.grad\n"
            + tabulate(rows, ["parameter", "data", "grad", "data after"], tablefmt="simple"))


def step_html(result: NNResult, config: NNConfig, keys: AnswerKeys | None = None) -> str:
    """The step as an HTML fold for the nn report ('' when the network is unknown)."""
    from ..report.html import escape, table, walkthrough_html

    if result.network is None:
        return ""
    w, updates = one_step(result.network, lr=config.lr, seed=config.seed, keys=keys)
    rows = [[name, number(d), number(g), number(new)] for name, d, g, new in updates]
    update = (f"<h4>The update: p.data -= {escape(f'{config.lr:g}')} * p.grad</h4>"
              + table(["parameter", "data", "grad", "data after"], rows))
    title = "One training step explained: MLP(2, [2, 1]) on one point, squared error"
    return (f"<details><summary>{escape(title)}</summary>{walkthrough_html(w)}{update}</details>")
