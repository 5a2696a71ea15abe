"""One training step of a tiny network, explained: forward table, backward in reverse
topological order, then the update ``p.data -= lr * p.grad`` of every parameter.

The network is ``MLP(2, [2, 1])`` in the submission's variant, on the first two-moons
point with the squared error: small enough to follow by hand. The forward and backward
tables are :mod:`gradcheck_lab.report.walkthrough`'s, on the network's program.

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
from ..report.walkthrough import Walkthrough, number, walk
from .checks import observed_point
from .dataset import two_moons
from .network import Loss, Network

if TYPE_CHECKING:
    from .checks import NNConfig, NNResult, Runner

__all__ = ["one_step", "step_html", "step_text"]


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


def _yours(new: float, mine: float | None) -> str:
    from ..report.walkthrough import RIGHT, WRONG

    if mine is None:
        return "-"
    return f"{number(mine)} {RIGHT if abs(mine - new) <= 1e-9 * (1 + abs(new)) else WRONG}"


def step_text(
    network: Network, *, lr: float, seed: int = 0, keys: AnswerKeys | None = None, run: Runner | None = None
) -> str:
    """The step as text: the walk-through's tables, then the update (with ``run``, the
    student's numbers beside the truth).

    >>> from gradcheck_lab.nn.network import Activation, Network
    >>> print(step_text(Network(2, (2, 1), Activation.RELU), lr=0.1).splitlines()[-1].split()[0])
    L1.N0.b
    """
    from tabulate import tabulate

    from ..report.walkthrough import walkthrough_text

    w, updates = one_step(network, lr=lr, seed=seed, keys=keys, run=run)
    rows = [[name, number(d), number(g), number(new), *([_yours(new, mine)] if run else [])]
            for name, d, g, new, mine in updates]
    headers = ["parameter", "data", "grad", "data after", *(["yours after one step"] if run else [])]
    return (walkthrough_text(w) + f"\n\nThe update, p.data -= {lr:g} * p.grad\n"
            + tabulate(rows, headers, tablefmt="simple", disable_numparse=True))


def step_html(result: NNResult, config: NNConfig, keys: AnswerKeys | None = None, run: Runner | None = None) -> str:
    """The step as an HTML fold for the nn report ('' when the network is unknown); with
    ``run``, the student's numbers beside the truth."""
    from ..report.html import escape, table, walkthrough_html
    from ..report.walkthrough import WRONG

    if result.network is None:
        return ""
    w, updates = one_step(result.network, lr=config.lr, seed=config.seed, keys=keys, run=run)
    rows = [[name, number(d), number(g), number(new), *([_yours(new, mine)] if run else [])]
            for name, d, g, new, mine in updates]
    headers = ["parameter", "data", "grad", "data after", *(["yours after one step"] if run else [])]
    wrong = ["fail" if WRONG in row[-1] else "" for row in rows]
    update = (f"<h4>The update: p.data -= {escape(f'{config.lr:g}')} * p.grad</h4>"
              + table(headers, rows, row_classes=wrong))
    title = "One training step explained: MLP(2, [2, 1]) on one point, squared error"
    return f"<details><summary>{escape(title)}</summary>{walkthrough_html(w)}{update}</details>"
