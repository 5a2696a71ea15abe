"""The explain trace: a case's forward pass, then backprop node by node as seed 000 teaches it.

:func:`walk` visits the nodes in reverse topological order (the program's own order,
reversed). For each node it takes the upstream gradient ``node.grad``, and for each
operand the local derivative as a formula and a number, the contribution
``node.grad * local``, and the operand's gradient before and after ``+=``, marking where
contributions accumulate. Local derivatives come from the op table: a primitive's
``Op.formula`` and ``Op.local``; a composite's (``-``, ``/``, negation) from
``sympy.diff`` of its ``Op.sympy``. With ``by_hand=True`` every number is rounded to
``digits`` decimals before it is used again, as a person with a calculator (and the
seed's worked example) does.

With an implementation's :class:`~gradcheck_lab.compare.PointCheck`, the tables carry
its numbers beside the truth and :func:`parting` names the first node where they part.

>>> from gradcheck_lab.cases import parse_source
>>> p = parse_source("a = x1 * x2\\nb = log(a)\\nc = x1 * x3\\nd = sin(c)\\ne = x2 * x3\\nf = b + d\\nL = f + e")
>>> w = walk(p, {"x1": 2.0, "x2": 3.0, "x3": 4.0}, by_hand=True)
>>> print(step_text(w, w.steps[6]))
d sin(c)/dc = cos(c) = cos(8.0) = -0.1455
>>> [accumulated(w, s) for s in w.steps if s.operand == 2]
['x3.grad: 0.0 -> 3.0', 'x3.grad: 3.0 -> 2.7090 (accumulates)']
>>> [number(g) for g in w.grads[:3]]
['-0.0819', '4.3334', '2.7090']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from ..ops import OPS, Op
from ..program import Node, Program, Ref, evaluate, float_apply
from .escape import inert

if TYPE_CHECKING:
    from ..compare import NodeCheck, PointCheck
    from ..harness import CaseResult

__all__ = [
    "RIGHT", "WRONG", "Section", "Step", "Walkthrough", "accumulated", "case_walk", "local_rule", "number", "op_label",
    "parting", "parting_node", "sections", "step_text", "walk", "walkthrough_markdown", "walkthrough_text",
]

RIGHT, WRONG = "✓", "✗"


@dataclass(frozen=True)
class Step:
    """One chain-rule step: ``operand.grad += node.grad * d node / d operand``."""

    node: int
    position: int  #: which argument of the node (``x * x`` has two steps into x)
    operand: int
    formula: str  #: the local derivative in names: ``cos(c)``
    filled: str  #: the same with numbers: ``cos(8.0)``
    local: float
    upstream: float  #: node.grad, complete when the node is visited
    contribution: float
    before: float
    after: float
    accumulates: bool  #: the operand had a contribution already
    last: bool = False  #: no later step adds to the operand: ``after`` is its gradient


@dataclass
class Walkthrough:
    """A case's forward values and backward steps at one point."""

    program: Program
    point: dict[str, float]
    values: list[float]
    grads: list[float]  #: what the walk accumulated
    steps: list[Step]
    order: list[int]  #: the nodes visited, output first
    digits: int = 4
    by_hand: bool = False
    checks: PointCheck | None = None  #: an implementation's numbers at this point
    exact_grads: list[float] | None = None  #: the answer key's, shown beside hand-rounded ones


@dataclass(frozen=True)
class Section:
    """A titled table of a walk-through, with notes under it; any report format renders it."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- numbers and names


def number(x: float | None, digits: int = 4) -> str:
    """A number as the worked examples write it: ``8.0``, ``-0.1455``, ``2.7090``.

    >>> number(8.0), number(-0.14550003), number(2.709), number(2.2e-07), number(None)
    ('8.0', '-0.1455', '2.7090', '2.2e-07', '-')
    """
    if x is None:
        return "-"
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{x:.1f}"
    if 10.0**-digits <= abs(x) < 1e6:
        return f"{x:.{digits}f}"
    return f"{x:.{digits}g}"


def _constant(x: int | float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}" if float(x) == float(f"{x:g}") else repr(x)


def _atom(text: str) -> str:
    """``text`` ready to stand inside a larger formula: wrapped unless a name or a positive number."""
    if re.fullmatch(r"[A-Za-z_]\w*|\d+(\.\d*)?([eE][-+]?\d+)?", text):
        return text
    return f"({text})"


def _d(text: str) -> str:
    """What follows the ``d`` of a derivative: ``c``, `` sin(c)``, ``(f + e)``."""
    if re.fullmatch(r"[A-Za-z_]\w*", text):
        return text
    if re.fullmatch(r"[A-Za-z_][\w.]*\([^()]*\)", text):
        return " " + text
    return f"({text})"


_SLOT = re.compile(r"\((\{\d\}|out)\)|\{(\d)\}|\bout\b")


def _fill(template: str, args: Sequence[str], out: str) -> str:
    """Put operand texts into a formula template (``{0}``, ``{1}``, ``out``).

    >>> _fill("cos({0})", ["x1*x3"], "d"), _fill("{1} * {0}**({1} - 1)", ["-2.0", "2"], "b")
    ('cos(x1*x3)', '2 * (-2.0)**(2 - 1)')
    """

    def put(m: re.Match[str]) -> str:
        if m.group(1):
            inner = m.group(1)
            return "(" + (out if inner == "out" else args[int(inner[1])]) + ")"
        return _atom(args[int(m.group(2))] if m.group(2) is not None else out)

    return _SLOT.sub(put, template)


def op_label(node: Node) -> str:
    """What an op node shows: ``*``, ``tanh``, ``**2`` (pow folds in its exponent), ``neg``."""
    op = OPS[node.op]
    if op.constant_exponent:
        return f"{op.symbol}{node.args[1]}"
    return "neg" if op.name == "neg" else op.symbol


def _title(program: Program, index: int) -> str:
    return program.nodes[index].title


def _heading(node: Node) -> str:
    return f"{node.name} = {node.text}" if node.name and node.name != node.text else node.text


# --------------------------------------------------------------------------- local rules


@cache
def _composite(name: str) -> tuple[tuple[str, ...], Callable[..., Any]]:
    """A composite op's local derivatives per argument: templates and a float function."""
    import sympy  # deferred: only composites need it

    op = OPS[name]
    symbols = sympy.symbols(f"p0:{op.arity}")
    firsts = [sympy.diff(op.sympy(*symbols), s) for s in symbols]
    templates = tuple(re.sub(r"\bp(\d)\b", r"{\1}", str(d)) for d in firsts)
    return templates, sympy.lambdify(symbols, firsts, "math")


def local_rule(op: Op, args: Sequence[float], out: float) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The local derivative of ``op`` by each argument: templates, and numbers at ``args``.

    >>> local_rule(OPS["sin"], [8.0], 0.9894)
    (('cos({0})',), (-0.14550003380861354,))
    >>> local_rule(OPS["div"], [1.0, 4.0], 0.25)
    (('1/{1}', '-{0}/{1}**2'), (0.25, -0.0625))
    """
    if op.local is not None:  # one per Value operand; a number operand (pow's exponent) gets "0"
        forms, slopes = iter(op.formula), iter(op.local(tuple(args), out))
        pairs = [(next(forms), next(slopes)) if i in op.value_operands else ("0", 0.0) for i in range(op.arity)]
        return tuple(f for f, _ in pairs), tuple(v for _, v in pairs)
    templates, fn = _composite(op.name)
    return templates, tuple(float(v) for v in fn(*args))


# --------------------------------------------------------------------------- the walk


def walk(
    program: Program,
    point: Mapping[str, float],
    *,
    values: Sequence[float] | None = None,
    checks: PointCheck | None = None,
    exact_grads: Sequence[float] | None = None,
    by_hand: bool = False,
    digits: int = 4,
) -> Walkthrough:
    """Backprop through ``program`` at ``point``, one recorded step per operand of each node.

    ``values``: every node's value (the answer key's); computed in floats when absent,
    and always recomputed, rounded, when ``by_hand``.
    """

    def r(x: float) -> float:
        return round(x, digits) if by_hand else x

    if by_hand or values is None:
        start = [r(point[x]) for x in program.inputs]
        values = evaluate(program, start, lambda op, args: r(float_apply(op, args)))
    vals = [float(v) for v in values]
    live = program.ancestors(program.output) | {program.output}
    order = [k for k in range(len(program.nodes) - 1, -1, -1) if k in live]
    grads = [0.0] * len(program.nodes)
    grads[program.output] = 1.0
    steps: list[Step] = []
    received: set[int] = set()
    for k in order:
        node = program.nodes[k]
        if node.op == "input":
            continue
        args = [vals[a.index] if isinstance(a, Ref) else float(a) for a in node.args]
        texts = [_title(program, a.index) if isinstance(a, Ref) else _constant(a) for a in node.args]
        shown = [number(v, digits) if isinstance(a, Ref) else _constant(a) for a, v in zip(node.args, args)]
        templates, locals_ = local_rule(OPS[node.op], args, vals[k])
        for i, a in enumerate(node.args):
            if not isinstance(a, Ref):
                continue
            local = r(locals_[i])
            contribution = r(grads[k] * local)
            before = grads[a.index]
            grads[a.index] = r(before + contribution)
            steps.append(Step(
                k, i, a.index, _fill(templates[i], texts, _title(program, k)),
                _fill(templates[i], shown, number(vals[k], digits)), local, grads[k], contribution, before,
                grads[a.index], a.index in received,
            ))
            received.add(a.index)
    lasts = {s.operand: i for i, s in enumerate(steps)}
    steps = [replace(s, last=lasts[s.operand] == i) for i, s in enumerate(steps)]
    return Walkthrough(
        program, dict(point), vals, grads, steps, order, digits, by_hand, checks,
        list(exact_grads) if exact_grads is not None else None,
    )


def case_walk(result: CaseResult) -> Walkthrough | None:
    """A judged case's walk-through at the point its reports show: the first failing
    point, else the first; None when no point can be walked (all outside the domain)."""
    from ..compare import FAILURES

    usable = [p for p in result.points if p.verdict != "domain-error" and p.nodes]
    if not usable:
        return None
    shown = ([p for p in usable if p.verdict in FAILURES] or usable)[0]
    values = [n.symbolic_value for n in shown.nodes]
    known = [v for v in values if v is not None]
    try:
        return walk(result.case.program, shown.point, checks=shown, values=known if len(known) == len(values) else None)
    except (ArithmeticError, ValueError):  # a float forward pass failing where the truth did not
        return None


def step_text(w: Walkthrough, s: Step) -> str:
    """``d sin(c)/dc = cos(c) = cos(8.0) = -0.1455``: the local derivative of one step."""
    node = w.program.nodes[s.node]
    parts = [f"d{_d(node.text)}/d{_d(_title(w.program, s.operand))}", s.formula]
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
    text = f"{_atom(_title(w.program, s.operand))}.grad: {number(s.before, w.digits)} -> {number(s.after, w.digits)}"
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


def parting_node(w: Walkthrough) -> int | None:
    """The first node where an implementation parts from the truth: the first wrong value
    in the forward order, else the first wrong gradient in the backward walk's order
    (:meth:`~gradcheck_lab.compare.PointCheck.first_wrong`)."""
    if w.checks is None:
        return None
    forward = [k for k, nc in enumerate(w.checks.nodes) if nc.verdict == "forward-mismatch"]
    found = forward or w.checks.first_wrong(w.program)
    return found[0] if found else None


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
    title = _title(p, k)
    head = (f"Your engine parts from the truth first in the backward pass, at {title}: "
            f"{_atom(title)}.grad should be {_number(nc.symbolic_grad)}, yours is {_number(nc.grad)}.")
    into = [s for s in w.steps if s.operand == k]
    if not into:
        return head + " It is the output: backward() should set its grad to 1."
    sources = "; ".join(f"{_heading(p.nodes[s.node])} ({step_text(w, s)})" for s in into)
    where = "that step's local rule" if len(into) == 1 else "those steps' local rules, and that they add up (+=)"
    others = [_title(p, j) for j in checks.first_wrong(p) if j != k]
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
            inputs = ", ".join(
                f"{_title(p, a.index)} = {number(w.values[a.index], dg)}" if isinstance(a, Ref) else _constant(a)
                for a in node.args
            )
        row = [_title(p, k), op, inputs, number(w.values[k], dg)]
        forward.append(row + ([_yours(_node_check(w, k), False, dg)] if mine else []))
    rounding = [f"by hand: every number rounded to {dg} decimals before it is used again"] if w.by_hand else []
    out = p.output
    parted = parting_node(w)
    backward = []
    for i, s in enumerate(w.steps, 1):
        first = i == 1 or w.steps[i - 2].node != s.node
        node = p.nodes[s.node]
        upstream = f"{_atom(node.title)}.grad = {number(s.upstream, dg)}" if first else ""
        if first and mine and s.node == out:
            upstream += f" (yours: {_yours(_node_check(w, out), True, dg)})"
        row = [str(i), _heading(node) if first else "", upstream, step_text(w, s), _contribution(w, s),
               accumulated(w, s)]
        yours = _yours(_node_check(w, s.operand), True, dg) if s.last else ""
        backward.append(row + ([yours + (" first to part" if s.last and s.operand == parted else "")] if mine else []))
    leaves = [_title(p, k) for k in w.order if p.nodes[k].op == "input"]
    notes = [
        f"Order: {', '.join(_title(p, k) for k in w.order)} (reverse topological). "
        f"Start: {_atom(_title(p, out))}.grad = 1 (dL/dL), every other grad 0.",
    ]
    if leaves:
        notes.append(f"{', '.join(leaves)}: inputs; nothing to propagate.")
    final = []
    for k, name in enumerate(p.inputs):
        row = [f"d{_d(_title(p, out))}/d{_d(name)}", number(w.grads[k], dg)]
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
    from tabulate import tabulate

    parts = []
    for sec in sections(w):
        rows = [[cell(c) for c in row] for row in sec.rows]
        table = tabulate(rows, sec.headers, tablefmt=tablefmt, disable_numparse=True)
        parts.append("\n\n".join([heading(sec.title), table, *map(note, sec.notes)]))
    return "\n\n".join(parts) + "\n"


def walkthrough_text(w: Walkthrough) -> str:
    """The walk-through as plain-text tables, for a terminal."""
    return _render(w, "simple", lambda title: f"{title}\n{'-' * len(title)}")


def walkthrough_markdown(w: Walkthrough, level: int = 4) -> str:
    """The walk-through as GitHub markdown tables under ``level`` headings."""
    return _render(w, "github", lambda title: f"{'#' * level} {title}", lambda text: text.replace("|", "\\|"),
                   inert)
