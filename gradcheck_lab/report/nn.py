"""Reports of the nn checks: text (what ``check-nn`` prints) and HTML sections.

>>> import gradcheck_lab.nn.reference as ref
>>> from gradcheck_lab.nn import check_nn, in_process
>>> text = nn_text(check_nn(in_process(vars(ref))), "reference")
>>> text.splitlines()[0]
'reference: nn checks: structure ok, forward ok, gradients ok, training ok'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from ..checktable import fmt
from .curves import loss_curves_svg
from .html import escape, table

if TYPE_CHECKING:
    from ..nn.checks import NNResult

__all__ = ["nn_html", "nn_text"]

_EVIDENCE = ["where", "expected", "got", "the bug predicts"]


def _sections_line(result: NNResult) -> str:
    return ", ".join(f"{s.kind.value} {s.verdict}" for s in result.sections)


def nn_text(result: NNResult, subject: str) -> str:
    """Each check's section, then each code with its explanation and evidence."""
    from ..nn.bugs import NN_CATALOG

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
    from ..nn.bugs import NN_CATALOG

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


def _badge(verdict: str) -> str:
    """A section's verdict (ok, wrong, skipped, error) as a coloured label."""
    kind = {"ok": "ok", "skipped": "warn"}.get(verdict, "fail")
    return f'<span class="badge {kind}">{escape(verdict)}</span>'
