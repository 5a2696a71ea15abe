"""The explain trace rendered: its tables (:func:`sections`) and sentences, as text and markdown.

With an implementation's numbers (a :class:`~gradcheck_lab.compare.PointCheck`) beside the
truth, :func:`parting` names the first node where they part. The HTML is :mod:`.html`'s.

>>> from gradcheck_lab.source import parse_source
>>> from gradcheck_lab.walkthrough import walk
>>> p = parse_source("a = x1 * x2\\nb = log(a)\\nc = x1 * x3\\nd = sin(c)\\ne = x2 * x3\\nf = b + d\\nL = f + e")
>>> w = walk(p, {"x1": 2.0, "x2": 3.0, "x3": 4.0}, by_hand=True)
>>> print(step_text(w, w.steps[6]))
d sin(c)/dc = cos(c) = cos(8.0) = -0.1455
>>> [accumulated(w, s) for s in w.steps if s.operand == 2]
['x3.grad: 0.0 -> 3.0', 'x3.grad: 3.0 -> 2.7090 (accumulates)']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..drawing import text_table
from ..ops import OPS
from ..program import Node, Ref
from ..walkthrough import Step, Walkthrough, atom, constant_text, number, parting_node
from .escape import inert

if TYPE_CHECKING:
    from ..compare import NodeCheck

__all__ = [
    "RIGHT", "WRONG", "Section", "accumulated", "op_label", "parting", "sections", "step_text", "walkthrough_markdown",
    "walkthrough_text",
]

RIGHT, WRONG = "✓", "✗"


@dataclass(frozen=True)
class Section:
    """A titled table of a walk-through, with notes under it; any report format renders it."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- names


def _d(text: str) -> str:
    """What follows the ``d`` of a derivative: ``c``, `` sin(c)``, ``(f + e)``."""
    if re.fullmatch(r"[A-Za-z_]\w*", text):
        return text
    if re.fullmatch(r"[A-Za-z_][\w.]*\([^()]*\)", text):
        return " " + text
    return f"({text})"


def op_label(node: Node) -> str:
    """What an op node shows: ``*``, ``tanh``, ``**2`` (pow folds in its exponent), ``neg``."""
    op = OPS[node.op]
    if op.constant_exponent:
        return f"{op.symbol}{node.args[1]}"
    return "neg" if op.name == "neg" else op.symbol


def _heading(node: Node) -> str:
    return f"{node.name} = {node.text}" if node.name and node.name != node.text else node.text


# --------------------------------------------------------------------------- steps


def step_text(w: Walkthrough, s: Step) -> str:
    """``d sin(c)/dc = cos(c) = cos(8.0) = -0.1455``: the local derivative of one step."""
    node = w.program.nodes[s.node]
    parts = [f"d{_d(node.text)}/d{_d(w.program.nodes[s.operand].title)}", s.formula]
    if s.filled != s.formula:
        parts.append(s.filled)
    shown = number(s.local, w.digits)
    try:
        same = float(parts[-1]) == float(shown)
    except ValueError:
        same = False
    if not same:
        parts.append(shown)
    return " = ".join(parts)


def accumulated(w: Walkthrough, s: Step) -> str:
    """``x3.grad: 3.0 -> 2.7090 (accumulates)``: the operand's gradient before and after."""
    text = f"{atom(w.program.nodes[s.operand].title)}.grad: {number(s.before, w.digits)} -> {number(s.after, w.digits)}"
    return text + " (accumulates)" if s.accumulates else text


def _contribution(w: Walkthrough, s: Step) -> str:
    local = number(s.local, w.digits)
    local = f"({local})" if local.startswith("-") else local
    return f"{number(s.upstream, w.digits)} * {local} = {number(s.contribution, w.digits)}"


# --------------------------------------------------------------------------- an implementation beside


def _node_check(w: Walkthrough, k: int) -> NodeCheck | None:
    if w.checks is None or k >= len(w.checks.nodes):
        return None
    return w.checks.nodes[k]


def _yours(nc: NodeCheck | None, grad: bool, digits: int) -> str:
    if nc is None:
        return ""
    mine = nc.grad if grad else nc.value
    if mine is None:
        return "-"
    if grad and nc.verdict == "nondifferentiable":
        return f"{number(mine, digits)} (undefined here: a kink)"
    wrong = nc.verdict == "forward-mismatch" if not grad else nc.verdict == "grad-mismatch"
    return f"{number(mine, digits)} {WRONG if wrong else RIGHT}"


def _number(x: object) -> str:
    """A number as the walk-through writes it, whatever a child sent (None, inf, nan).

    >>> _number(0.1 + 0.2), _number(None), _number(float("nan"))
    ('0.3', 'none', 'nan')
    """
    return f"{x:.6g}" if isinstance(x, int | float) else "none"


def parting(w: Walkthrough) -> str:
    """Where an implementation first parts from the truth, and where to look; "" without one."""
    checks = w.checks
    if checks is None:
        return ""
    if checks.verdict in ("exception", "unsupported"):
        return f"Your engine did not finish: {checks.message}"
    k = parting_node(w)
    if k is None:
        return "Your engine agrees with the truth at every node."
    p, nc = w.program, checks.nodes[k]
    if nc.verdict == "forward-mismatch":
        node = p.nodes[k]
        where = ("Value(...) does not keep the number it is given" if node.op not in OPS
                 else f"Look at the forward computation of {OPS[node.op].name}")
        return (f"Your engine parts from the truth first in the forward pass, at {_heading(node)}: "
                f"its data should be {_number(nc.symbolic_value)}, yours is {_number(nc.value)}. "
                f"{where}; every node after it differs too.")
    title = p.nodes[k].title
    head = (f"Your engine parts from the truth first in the backward pass, at {title}: "
            f"{atom(title)}.grad should be {_number(nc.symbolic_grad)}, yours is {_number(nc.grad)}.")
    into = [s for s in w.steps if s.operand == k]
    if not into:
        return head + " It is the output: backward() should set its grad to 1."
    sources = "; ".join(f"{_heading(p.nodes[s.node])} ({step_text(w, s)})" for s in into)
    where = "that step's local rule" if len(into) == 1 else "those steps' local rules, and that they add up (+=)"
    others = [p.nodes[j].title for j in checks.first_wrong(p) if j != k]
    also = f" It also goes wrong first at {', '.join(others)}, independently." if others else ""
    return f"{head} Its gradient comes from {sources}: check {where}.{also}"


# --------------------------------------------------------------------------- tables


def sections(w: Walkthrough) -> list[Section]:
    """The walk-through as tables: forward pass, backward pass, final gradients."""
    p, dg = w.program, w.digits
    mine = w.checks is not None
    forward = []
    for k, node in enumerate(p.nodes):
        if node.op == "input":
            op, inputs = "input", ""
        else:
            op = op_label(node)
            inputs = ", ".join(f"{p.nodes[a.index].title} = {number(w.values[a.index], dg)}"
                               if isinstance(a, Ref) else constant_text(a) for a in node.args)
        row = [p.nodes[k].title, op, inputs, number(w.values[k], dg)]
        forward.append(row + ([_yours(_node_check(w, k), False, dg)] if mine else []))
    rounding = [f"by hand: every number rounded to {dg} decimals before it is used again"] if w.by_hand else []
    out = p.output
    parted = parting_node(w)
    backward = []
    for i, s in enumerate(w.steps, 1):
        first = i == 1 or w.steps[i - 2].node != s.node
        node = p.nodes[s.node]
        upstream = f"{atom(node.title)}.grad = {number(s.upstream, dg)}" if first else ""
        if first and mine and s.node == out:
            upstream += f" (yours: {_yours(_node_check(w, out), True, dg)})"
        row = [str(i), _heading(node) if first else "", upstream, step_text(w, s), _contribution(w, s),
               accumulated(w, s)]
        yours = _yours(_node_check(w, s.operand), True, dg) if s.last else ""
        backward.append(row + ([yours + (" first to part" if s.last and s.operand == parted else "")] if mine else []))
    leaves = [p.nodes[k].title for k in w.order if p.nodes[k].op == "input"]
    notes = [
        f"Order: {', '.join(p.nodes[k].title for k in w.order)} (reverse topological). "
        f"Start: {atom(p.nodes[out].title)}.grad = 1 (dL/dL), every other grad 0.",
    ]
    if leaves:
        notes.append(f"{', '.join(leaves)}: inputs; nothing to propagate.")
    final = []
    for k, name in enumerate(p.inputs):
        row = [f"d{_d(p.nodes[out].title)}/d{_d(name)}", number(w.grads[k], dg)]
        if w.by_hand and w.exact_grads is not None:
            row.append(number(w.exact_grads[k], dg + 2))
        final.append(row + ([_yours(_node_check(w, k), True, dg)] if mine else []))
    final_headers = ["gradient", "by hand" if w.by_hand else "value"]
    final_headers += ["exact"] if w.by_hand and w.exact_grads is not None else []
    said = parting(w)
    return [
        Section("Forward pass", ["node", "op", "inputs", "data"] + (["yours"] if mine else []), forward, rounding),
        Section("Backward pass", ["step", "node", "upstream", "local derivative", "contribution",
                                  "accumulated grad"] + (["yours"] if mine else []), backward, notes),
        Section("Final gradients", final_headers + (["yours"] if mine else []), final, [said] if said else []),
    ]


def _render(w: Walkthrough, tablefmt: str, heading: Callable[[str], str], cell: Callable[[str], str] = str,
            note: Callable[[str], str] = str) -> str:
    parts = []
    for sec in sections(w):
        table = text_table(sec.headers, [[cell(c) for c in row] for row in sec.rows], tablefmt)
        parts.append("\n\n".join([heading(sec.title), table, *map(note, sec.notes)]))
    return "\n\n".join(parts) + "\n"


def walkthrough_text(w: Walkthrough) -> str:
    """The walk-through as plain-text tables, for a terminal."""
    return _render(w, "simple", lambda title: f"{title}\n{'-' * len(title)}")


def walkthrough_markdown(w: Walkthrough, level: int = 4) -> str:
    """The walk-through as GitHub markdown tables under ``level`` headings."""
    return _render(w, "github", lambda title: f"{'#' * level} {title}", lambda text: text.replace("|", "\\|"),
                   inert)
