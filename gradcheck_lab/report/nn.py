"""Reports of the nn checks: text (what ``check-nn`` prints), HTML sections, one training step explained.

>>> import gradcheck_lab.nn.reference as ref
>>> from gradcheck_lab.nn import check_nn, in_process
>>> text = nn_text(check_nn(in_process(vars(ref))), "reference")
>>> text.splitlines()[0]
'reference: nn checks: structure ok, forward ok, gradients ok, training ok'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from ..answer_keys import AnswerKeys
from ..checktable import fmt
from ..nn.bugs import NN_CATALOG
from ..nn.explain import one_step
from ..nn.network import Network
from ..walkthrough import number
from .curves import loss_curves_svg
from .html import escape, table, walkthrough_html
from .walkthrough import RIGHT, WRONG, walkthrough_text

if TYPE_CHECKING:
    from ..nn.checks import NNConfig, NNResult, Runner

__all__ = ["nn_html", "nn_step_html", "nn_step_text", "nn_text"]

_EVIDENCE = ["where", "expected", "got", "the bug predicts"]


def _sections_line(result: NNResult) -> str:
    return ", ".join(f"{s.kind.value} {s.verdict}" for s in result.sections)


def nn_text(result: NNResult, subject: str) -> str:
    """Each check's section, then each code with its explanation and evidence."""
    out = [f"{subject}: nn checks: {_sections_line(result)}"]
    for section in result.sections:
        out.append(f"\n{section.kind.value}: {section.verdict}")
        out += [f"  {line}" for text in section.lines for line in text.splitlines()]
        if section.table:
            rows = [[n.name, fmt(n.symbolic_value), fmt(n.value), fmt(n.symbolic_grad), fmt(n.grad), fmt(n.fd_grad),
                     n.verdict + (f": {n.detail}" if n.detail else "")] for n in section.table[:12]]
            out.append(tabulate(rows, ["node", "value", "yours", "d loss/d node", "yours", "finite difference",
                                       "verdict"], tablefmt="simple"))
    for code in result.codes:
        out.append(f"\n{code}: {NN_CATALOG[code].explanation}")
        rows = [[e.where, e.expected, e.got, e.predicted] for e in result.evidence[code][:6]]
        out.append(tabulate(rows, _EVIDENCE, tablefmt="simple"))
    if result.ok:
        out.append("\nno known nn bug found")
    return "\n".join(out) + "\n"


def nn_html(result: NNResult, *, walkthrough: str = "") -> str:
    """The nn checks as HTML: a section per check, the codes with evidence, the loss curves
    of the student's run against exact descent, and a one-step walk-through if given."""
    out = [f"<h2>Neural network (nn.py) {_badge('ok' if result.ok else 'wrong')}</h2>"]
    if result.network is not None:
        n = result.network
        out.append(f"<p class='meta'>MLP({n.nin}, {list(n.nouts)}), {escape(n.activation.value)} neurons, "
                   f"{'a linear' if n.linear_output else 'a nonlinear'} output layer</p>")
    for code in result.codes:
        rows = [[e.where, e.expected, e.got, e.predicted] for e in result.evidence[code][:6]]
        out.append(f"<div class='diagnosis'><p><code>{escape(code)}</code>: {escape(NN_CATALOG[code].explanation)}"
                   f"</p>{table(_EVIDENCE, rows)}</div>")
    for section in result.sections:
        out.append(f"<h3>{escape(section.kind.value)} {_badge(section.verdict)}</h3>")
        out += [f"<p>{escape(line)}</p>" if "\n" not in line else f"<pre>{escape(line)}</pre>"
                for line in section.lines]
        if section.table:
            rows = [[n.name, fmt(n.symbolic_value), fmt(n.value), fmt(n.symbolic_grad), fmt(n.grad), fmt(n.fd_grad),
                     n.verdict + (f": {n.detail}" if n.detail else "")] for n in section.table[:12]]
            out.append(table(["node", "value", "yours", "d loss/d node", "yours", "finite difference", "verdict"],
                             rows))
        if section.kind.value == "training" and result.training is not None:
            t = result.training
            curves = [("exact gradient descent", t.exact.losses), ("your training", t.implementation.losses)]
            loss = result.loss.value if result.loss else ""
            svg = loss_curves_svg(curves, parted_at=t.parted_at, title=f"loss per step ({loss})")
            out.append(f"<figure>{svg}<figcaption>{escape(t.summary)}</figcaption></figure>")
    if walkthrough:
        out.append(walkthrough)
    return "\n".join(out)


def _yours(new: float, mine: float | None) -> str:
    if mine is None:
        return "-"
    return f"{number(mine)} {RIGHT if abs(mine - new) <= 1e-9 * (1 + abs(new)) else WRONG}"


def nn_step_text(
    network: Network, *, lr: float, seed: int = 0, keys: AnswerKeys | None = None, run: Runner | None = None
) -> str:
    """The step as text: the walk-through's tables, then the update (with ``run``, the
    student's numbers beside the truth).

    >>> from gradcheck_lab.nn.network import Activation, Network
    >>> print(nn_step_text(Network(2, (2, 1), Activation.RELU), lr=0.1).splitlines()[-1].split()[0])
    L1.N0.b
    """
    w, updates = one_step(network, lr=lr, seed=seed, keys=keys, run=run)
    rows = [[name, number(d), number(g), number(new), *([_yours(new, mine)] if run else [])]
            for name, d, g, new, mine in updates]
    headers = ["parameter", "data", "grad", "data after", *(["yours after one step"] if run else [])]
    return (walkthrough_text(w) + f"\n\nThe update, p.data -= {lr:g} * p.grad\n"
            + tabulate(rows, headers, tablefmt="simple", disable_numparse=True))


def nn_step_html(result: NNResult, config: NNConfig, keys: AnswerKeys | None = None, run: Runner | None = None) -> str:
    """The step as an HTML fold for the nn report ('' when the network is unknown); with
    ``run``, the student's numbers beside the truth."""
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


def _badge(verdict: str) -> str:
    """A section's verdict (ok, wrong, skipped, error) as a coloured label."""
    kind = {"ok": "ok", "skipped": "warn"}.get(verdict, "fail")
    return f'<span class="badge {kind}">{escape(verdict)}</span>'
