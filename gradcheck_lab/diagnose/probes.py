"""Probes: the small designed set of graphs the grader runs first on every submission, in one batch.

>>> names = [p.name for p in PROBES]
>>> "reuse:add" in names and "deep-chain" in names and "twice" in names
True
>>> [p.form for p in PROBES][:4]
['x + y', 'x + 2', '2 + x', 'x * y']
>>> PROBES[2].name, PROBES[2].op, PROBES[2].program.nodes[-1].text
('form:2 + x', 'add', '2 + x')
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache, lru_cache

from ..batches import Request
from ..cases import Case
from ..ops import FUNCTIONS, OPERATORS, OPS, REFLECTED, UNARY
from ..program import Node, Program, Ref, python_operator
from ..source import parse_source

__all__ = ["CONSTANT_LEFT", "CONSTANT_RIGHT", "FORMS", "PROBES", "PROBE_POINT", "Probe", "composed_of", "forms_of",
           "probe_cases"]

CONSTANT_RIGHT, CONSTANT_LEFT = "constant-right", "constant-left"  #: pseudo-forms: a number beside a Value

DEEP = 1100  #: how deep the deep chain stands for: past the default recursion limit of 1,000
#: Nodes it has: run on a quarter of the frames the recursion limit leaves, a recursive backward()
#: fails on it exactly where it fails on ``DEEP`` nodes with all of them, at a quarter of the cost.
CHAIN = DEEP // 4
#: Where every op form is probed: inside every op's domain and clear of every kink.
PROBE_POINT = {"x": 0.61803, "y": 1.3247}  #: five decimals: a forward that rounds its input shows


@dataclass(frozen=True)
class Probe:
    """A program, a point, and how many times to call backward()."""

    name: str
    program: Program
    point: dict[str, float]
    backward_calls: int = 1
    source: str = ""  #: the case source, one line (``;`` between statements)
    form: str = ""  #: for the capability table: the op form this probe is (``x + 2``)
    op: str = ""  #: ... and its op's name (``add``)
    uses: frozenset[str] = field(default=frozenset(), compare=False)  #: the forms it writes (:func:`forms_of`)
    headroom: float = 1.0  #: :attr:`.batches.Request.headroom`

    @property
    def form_name(self) -> str:
        """The operator form a form probe isolates: ``radd`` for ``2 + x``, ``add`` for ``x + 2``.

        >>> [p.form_name for p in PROBES if p.form in ("x + 2", "2 + x", "2 / x", "-x")]
        ['add', 'radd', 'rtruediv', 'neg']
        """
        return next(iter(self.uses - {CONSTANT_LEFT, CONSTANT_RIGHT}), "") if self.form else ""

    @property
    def request(self) -> Request:
        """What the executor is asked to run."""
        return Request(self.program, (self.point,), (), self.backward_calls, self.headroom)


def forms_of(program: Program) -> frozenset[str]:
    """The operator forms a program writes, with a number on either side as pseudo-forms.

    >>> sorted(forms_of(parse_source("L = (2 - x) * 3")))
    ['constant-left', 'constant-right', 'mul', 'rsub']
    """
    found: set[str] = set()
    for node in program.nodes:
        if node.op == "input":
            continue
        numbers = [not isinstance(a, Ref) for a in node.args]
        op = OPS[node.op]
        binary = len(node.args) == 2 and python_operator(op) is not None and op.number_operand is None
        if binary and numbers[0]:
            found |= {op.reflected_form, CONSTANT_LEFT}
        else:
            found.add(node.op)
            if binary and numbers[1]:
                found.add(CONSTANT_RIGHT)
    return frozenset(found)


@cache
def composed_of(form: str) -> frozenset[str]:
    """The forms micrograd builds ``form`` from (the op table's composition texts): a bug in
    one of them shows in ``form`` too.

    >>> sorted(composed_of("sub")), sorted(composed_of("rtruediv"))
    (['add', 'neg'], ['pow', 'rmul'])
    """
    op = OPS.get(form)
    text = op.compose_text if op is not None else REFLECTED.get(f"__{form}__")
    if text is None:
        return frozenset()
    methods = {op.method: op for op in OPS.values() if op.is_function}
    found: set[str] = set()
    for node in ast.walk(ast.parse(text, mode="eval")):
        if isinstance(node, ast.BinOp) and (used := OPERATORS.get(type(node.op).__name__)):
            # in a reflected form's text ``other`` is the number: ``other + (-self)`` is 2 + (-x)
            left_number = op is None and isinstance(node.left, ast.Name) and node.left.id == "other"
            found.add(used.reflected_form if left_number else used.name)
        elif isinstance(node, ast.UnaryOp) and (used := UNARY.get(type(node.op).__name__)):
            if not isinstance(node.operand, ast.Constant):  # -1 is a number, not a negation
                found.add(used.name)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
            found.add(methods[node.func.attr].name)  # self.exp()
    return frozenset(found)


def _depth(form: str) -> int:
    """How many layers of composition ``form`` is above the primitives (``sub``: 2, via neg)."""
    return 1 + max(map(_depth, composed_of(form))) if composed_of(form) else 0


def _probe(name: str, source: str, point: dict[str, float], calls: int = 1, form: str = "", op: str = "") -> Probe:
    program = parse_source(source)
    text = "; ".join(line.removeprefix("L = ") for line in source.splitlines())
    return Probe(name, program, {x: point[x] for x in program.inputs}, calls, text, form, op, forms_of(program))


def _forms() -> list[tuple[str, str]]:
    """(form, op name) for every op, in table order: binary operators with a variable, a
    constant on the right and one on the left (the reflected method)."""
    forms: list[tuple[str, str]] = []
    for op in OPS.values():
        s = op.symbol
        if op.arity == 2 and python_operator(op) is not None:
            written = ([f"x {s} 3"] if op.constant_exponent else [f"2 {s} x"] if op.constant_base
                       else [f"x {s} y", f"x {s} 2", f"2 {s} x"])
        elif op.arity == 1 and not op.is_function:
            written = [f"{s}x"]
        else:
            written = [f"{s}({', '.join('xy'[: op.arity])})"]
        forms.extend((form, op.name) for form in written)
    return forms


def _deep_chain() -> Program:
    """``x + x + ... + x``: Values only, so a number not made a Value cannot hide a recursive sort."""
    nodes = [Node("input", (), "x", "x")]
    for i in range(CHAIN):
        nodes.append(Node("add", (Ref(i), Ref(0)), "", f"a{i + 1}"))
    return Program(tuple(nodes), CHAIN)


def _points(name: str) -> dict[str, float]:
    lo, hi = OPS[name].sample
    x = 0.7 if lo < 0.7 < hi else (lo + hi) / 2
    return {"x": x, "y": 1.9}


def _build() -> list[Probe]:
    # Every form an op can be written in, alone (x + y, x + 2, 2 + x, ..., exp(x), max(x, y)): is it
    # supported, right, wrong, or does it raise. Then, to tell the catalog's bugs apart, for every op:
    # the op alone, scaled by 3 so that a missing chain factor shows; the op reading one node twice
    # (f(x) + f(x), x * x), so that = instead of += shows; the constant on the left (reflected
    # operators). Then a diamond (a sort without a visited set runs a node twice), a second
    # backward() call (do gradients accumulate?), a chain deeper than Python's recursion limit, and
    # extreme inputs where naive formulas overflow.
    probes = [_probe(f"form:{form}", f"L = {form}", PROBE_POINT, form=form, op=op) for form, op in _forms()]
    for name, op in FUNCTIONS.items():
        point = _points(name)
        if op.arity == 1:
            probes.append(_probe(f"alone:{name}", f"L = {name}(x) * 3", point))
            probes.append(_probe(f"reuse:{name}", f"L = {name}(x) + {name}(x)", point))
        else:
            probes.append(_probe(f"alone:{name}", f"L = {name}(x, y) * 3", point))
            probes.append(_probe(f"alone:{name}:second", f"L = {name}(y, x) * 3", point))
            probes.append(_probe(f"reuse:{name}", f"L = {name}(x, y) + {name}(x, y)", point))
    xy = {"x": 0.7, "y": 1.9}
    for op in OPS.values():  # the operators between two Values, and a number on the left
        if op.arity == 2 and op.python and op.number_operand is None:
            probes.append(_probe(f"alone:{op.name}", f"L = (x {op.symbol} y) * 3", xy))
            probes.append(_probe(f"left:{op.name}", f"L = (2 {op.symbol} x) * 3", xy))
    probes.append(_probe("alone:relu:negative", "L = relu(x) * 3", {"x": -0.6}))  # the wrong side shows only here
    probes += [_probe(f"alone:{op.name}", f"L = ({op.symbol}x) * 3", xy) for op in UNARY.values()]
    probes += [
        _probe("alone:pow", "L = x ** 3 * 3", xy),
        _probe("alone:pow-half", "L = x ** 0.5 * 3", xy),
        _probe("reuse:add", "L = x + x", xy),
        _probe("reuse:mul", "L = x * x", xy),
        _probe("reuse:sub", "L = (x - y) + (x - y)", xy),  # - and / as nodes of their own, reused
        _probe("reuse:div", "L = x / y + x / y", xy),
        _probe("reuse:pow", "L = x ** 2 + x ** 3", xy),
        _probe("alone:rpow", "L = 2 ** x * 3", xy),
        _probe("reuse:rpow", "L = 2 ** x + 0.5 ** x", xy),
        _probe("reuse:mixed", "a = x * y\nL = a * 2 + exp(a)", xy),
        _probe("diamond", "a = x * 1.5\nb = a * y\nc = a + y\nL = b * c", xy),
        _probe("diamond:add", "a = x + y\nb = a + x\nL = a + b", xy),  # the same with + alone
        _probe("twice", "L = x * y + x", xy, calls=2),
        _probe("extreme:sigmoid", "L = sigmoid(x) * 3", {"x": -1000.0}),
        _probe("extreme:tanh", "L = tanh(x) * 3", {"x": 400.0}),
        Probe("deep-chain", _deep_chain(), {"x": 0.5}, uses=frozenset({"add"}), headroom=CHAIN / DEEP,
              source=f"x + x + ... + x ({CHAIN} additions on 1/4 of the recursion limit)"),
    ]
    return probes


PROBES: tuple[Probe, ...] = tuple(_build())
#: Every operator form a probe isolates, primitives before the forms micrograd composes of them.
FORMS: tuple[str, ...] = tuple(sorted(dict.fromkeys(p.form_name for p in PROBES if p.form), key=lambda f: _depth(f)))


@lru_cache(maxsize=1)
def probe_cases() -> tuple[Case, ...]:
    """The op-form probes as cases the grader judges (its capability table): named by their form,
    tagged ``probe`` and ``op:<name>``, each holding its probe's own program (so the probes' batch answers them).

    >>> [c.name for c in probe_cases()][:4]
    ['x + y', 'x + 2', '2 + x', 'x * y']
    >>> probe_cases()[2].program.nodes[-1].text, probe_cases()[2].tags
    ('2 + x', ('probe', 'op:add'))
    """
    return tuple(
        Case(name=p.form, program=p.program, points=(p.point,), source=f"L = {p.form}", tags=("probe", f"op:{p.op}"),
             about=f"can the Value class do {p.form}?")
        for p in PROBES if p.form
    )
