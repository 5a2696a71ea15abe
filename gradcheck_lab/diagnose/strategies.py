"""Hypothesis strategies for random case sources, derived from the op table.

Two kinds. :func:`expressions` makes expression trees: every op of the table appears,
ops with a restricted domain wrapped so their argument stays inside it (log and
fractional powers of 1 + a**2, division by 1 + b**2, exp of a bounded argument).

:func:`straight_line` makes straight-line programs: a few steps, each one op of the
table (binary ones twice as often) applied to inputs, constants and the results of
earlier steps. A first operand mostly continues from the latest result, a second one
mostly reads a node already in the graph, so nodes get shared: ``L = exp(x) + x``,
``a = exp(x)`` then ``L = a + a``, diamonds. Nothing is wrapped, so reusing an op's
input or output is never hidden: the points of :func:`programs_and_points` are drawn
inside the ``sample`` range of every op an input feeds (the caller skips the examples
that still leave a domain). Simpler forms come first, and a step read once is written
inline, so Hypothesis shrinks towards tiny programs such as ``L = x + x``;
:func:`smaller` lists the programs one node smaller, for a search to try next.

>>> steps = (Step("exp", ("x",)), Step("add", ("t0", "t0")))
>>> print(render(steps))
a = exp(x)
L = a + a
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from ..ops import OPS

__all__ = [
    "CONSTANTS", "EXTREME", "INPUTS", "Step", "expressions", "input_ranges", "op_choices", "programs_and_points",
    "reads", "render", "simple_values", "smaller", "straight_line", "substitute",
]

INPUTS = ("x", "y", "z")
CONSTANTS = ("0.5", "2", "3", "1.5", "0.25")

_EXPONENTS = ("2", "3", "-1", "0.5", "1.5")


def _template(name: str) -> str:
    """Each op of the table as a template over its operands, its domain kept by its row's wrapper."""
    op = OPS[name]
    if op.wrapped:
        return op.wrapped
    if op.is_function:
        return f"{name}({{0}})" if op.arity == 1 else f"{name}({{0}}, {{1}})"
    return "-({0})" if op.arity == 1 else f"({{0}}) {op.symbol} ({{1}})"


#: Op names, simplest first: Hypothesis shrinks an op towards the front of this list. A new
#: row of the table goes after these, in table order, so it never reorders the search
#: (and never changes the counterexamples of the others' bugs).
_FIRST = ("add", "mul", "sub", "cos", "div", "exp", "gelu", "log", "max", "neg", "pow", "relu", "sigmoid", "sin",
          "tanh")
_ORDER = (*_FIRST, *(name for name in OPS if name not in _FIRST))
_FORMS = [(name, _template(name)) for name in _ORDER]


def _apply(form: tuple[str, str], a: str, b: str, k: str) -> str:
    name, template = form
    if name == "pow":  # a constant exponent; fractional and negative ones on a positive base
        return f"({a})**{k}" if k in ("2", "3") else f"(1 + ({a})**2)**{k}"
    return template.format(a, b)


def expressions(leaves: st.SearchStrategy[str], max_leaves: int = 10) -> st.SearchStrategy[str]:
    """Random expressions over ``leaves``: each node an op of the table, drawn uniformly."""

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.builds(_apply, st.sampled_from(_FORMS), children, children, st.sampled_from(_EXPONENTS))

    return st.recursive(leaves, extend, max_leaves=max_leaves)


# --------------------------------------------------------------------------- straight-line programs

Operand = str | float  #: an input name, ``t<k>`` (the result of step k), or a number
EXTREME = 1000.0  #: the far point an input may take: sigmoid(-1000), tanh(1000) overflow naive formulas
_STEP_CONSTANTS = (2.0, 0.5)
_POW_EXPONENTS = (2.0, 3.0, -1.0, 0.5, 1.5)
_POW_BASES = (2.0, 0.5, 3.0)
_DEFAULT_RANGE = (-2.0, 2.0)


@dataclass(frozen=True)
class Step:
    """One assignment of a straight-line program: an op of the table and its operands.

    >>> Step("pow", ("x", 3.0)).expr({}).__class__.__name__
    'BinOp'
    """

    op: str
    args: tuple[Operand, ...]

    def expr(self, env: dict[str, ast.expr]) -> ast.expr:
        """This step as an ``ast`` expression; ``env`` gives each earlier step's."""
        args = [env.get(a, ast.Name(a)) if isinstance(a, str) else _number(a) for a in self.args]
        op = OPS[self.op]
        if op.is_function:
            return ast.Call(ast.Name(self.op), args, [])
        if op.arity == 1:
            return ast.UnaryOp(getattr(ast, op.ast_node)(), args[0])
        return ast.BinOp(args[0], getattr(ast, op.ast_node)(), args[1])


def _number(value: float) -> ast.expr:
    return ast.Constant(int(value) if value.is_integer() else value)


def _live(steps: Sequence[Step]) -> list[int]:
    """The steps the last one depends on (itself included), in order."""
    live = {len(steps) - 1}
    for k in range(len(steps) - 1, -1, -1):
        if k in live:
            live |= {int(a[1:]) for a in steps[k].args if isinstance(a, str) and a.startswith("t")}
    return sorted(live)


def render(steps: Sequence[Step], output: str = "L") -> str:
    """The case source of ``steps``: dead steps dropped, a step read once written inline,
    one read twice or more named (``a``, ``b``, ...); the last step is ``output``.

    >>> print(render([Step("mul", ("x", "y")), Step("sin", ("t0",)), Step("add", ("t1", "t0"))]))
    a = x * y
    L = sin(a) + a
    """
    live = _live(steps)
    readers = Counter(a for k in live for a in steps[k].args if isinstance(a, str) and a.startswith("t"))
    names = iter(n for n in "abcdefghijkmnpqrsuvw" if n not in INPUTS and n != output)
    env: dict[str, ast.expr] = {}
    lines = []
    for k in live:
        expr = steps[k].expr(env)
        if k == live[-1]:
            lines.append(f"{output} = {ast.unparse(expr)}")
        elif readers[f"t{k}"] > 1:
            name = next(names)
            lines.append(f"{name} = {ast.unparse(expr)}")
            env[f"t{k}"] = ast.Name(name)
        else:
            env[f"t{k}"] = expr
    return "\n".join(lines)


def input_ranges(steps: Sequence[Step], inputs: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Where each input's points come from: the ``sample`` ranges of the ops it feeds
    directly, narrowed from (-2, 2) as the harness draws its random points.

    >>> input_ranges([Step("log", ("x",)), Step("add", ("t0", "y"))], ("x", "y"))
    {'x': (0.25, 2.0), 'y': (-2.0, 2.0)}
    """
    ranges = dict.fromkeys(inputs, _DEFAULT_RANGE)
    for k in _live(steps):
        op = OPS[steps[k].op]
        for i in op.sampled:
            arg = steps[k].args[i] if i < len(steps[k].args) else None
            if isinstance(arg, str) and arg in ranges and op.sample != _DEFAULT_RANGE:
                lo, hi = max(ranges[arg][0], op.sample[0]), min(ranges[arg][1], op.sample[1])
                if lo < hi:
                    ranges[arg] = (lo, hi)
    return ranges


def _value(n: int, lo: float, hi: float) -> float:
    """Tenths around the range's simplest point (0, else its middle), kept inside it; for
    ``|n| > 20``, ``±EXTREME`` (outside every range: the caller's domain check decides).

    >>> _value(3, 0.25, 3.0), _value(-19, 0.25, 3.0), _value(-21, 0.25, 3.0)
    (1.9, 0.25, -1000.0)
    """
    if abs(n) > 20:
        return -EXTREME if n < 0 else EXTREME
    centre = 0.0 if lo < 0.0 < hi else round((lo + hi) / 2, 1)
    return round(min(max(centre + n / 10, lo), hi), 10)


#: What an operand code picks, in order of preference when shrinking; repeats weight the draw.
#: A first operand mostly continues from the latest result, so most steps stay live; a
#: second one mostly reads a node already in the graph, so nodes get shared.
_FIRST_PICKS = ("unread", "unread", "unread", "unread", "unread", "unread", "unread", "read", "input0", "const0")
_PICKS = ("read", "unread", "input0", "before", "read", "input1", "before", "input0", "const0", "const1")
#: Binary ops: a second operand is where a node gets shared.
_BINARY = tuple(n for n in _ORDER if OPS[n].arity == 2 and OPS[n].number_operand is None)


def op_choices(focus: Sequence[str] = ()) -> tuple[str, ...]:
    """The ops a step draws from, simplest first: every op of the table, the binary ones
    twice; ``focus`` ops first and about as often as the others together.

    >>> op_choices()[:4], len(op_choices()) == len(OPS) + len(_BINARY)
    (('add', 'mul', 'sub', 'cos'), True)
    >>> 2 * op_choices(("exp",)).count("exp") >= len(op_choices())
    True
    """
    base = (*_ORDER, *_BINARY)
    if not focus:
        return base
    return (*focus, *base, *tuple(focus) * max(1, len(base) // (2 * len(focus))))


def _operand(pick: str, k: int, steps: Sequence[Step], unread: list[str], inputs: Sequence[str]) -> Operand:
    """The operand ``pick`` of step ``k``: ``unread`` the latest result no step has read yet
    (else the latest), so every step stays live; ``read`` what the latest step read first,
    so a node is shared; an input; ``before`` the result before the latest, for a diamond;
    a constant. With no result yet: the first input."""
    read = [a for a in steps[k - 1].args if isinstance(a, str)] if k else []
    if pick == "unread" and k:
        return unread.pop() if unread else f"t{k - 1}"
    if pick == "read" and read:
        return read[0]
    if pick == "before" and k > 1:
        return f"t{k - 2}"
    if pick.startswith("input"):
        return inputs[int(pick[-1]) % len(inputs)]
    if pick.startswith("const"):
        return _STEP_CONSTANTS[int(pick[-1])]
    return inputs[0]


def _resolve(raw: Sequence[tuple[int, int, int]], inputs: Sequence[str], ops: Sequence[str]) -> tuple[Step, ...]:
    """Steps from raw draws (op, operand code, operand code); a power's exponent is
    the second code's pick of the exponents."""
    steps: list[Step] = []
    unread: list[str] = []
    for k, (o, a, b) in enumerate(raw):
        op = OPS[ops[o]]
        picks = (_FIRST_PICKS[a], _PICKS[b])
        args = [_operand(pick, k, steps, unread, inputs) for pick in picks[: op.arity]]
        if op.constant_exponent:
            args[1] = _POW_EXPONENTS[b % len(_POW_EXPONENTS)]
        elif op.constant_base:
            args = [_POW_BASES[b % len(_POW_BASES)], args[0]]
        unread[:] = [t for t in unread if t not in args] + [f"t{k}"]
        steps.append(Step(op.name, tuple(args)))
    return tuple(steps)


def straight_line(inputs: Sequence[str] = ("x", "y"), max_steps: int = 6,
                  focus: Sequence[str] = ()) -> st.SearchStrategy[tuple[Step, ...]]:
    """1 to ``max_steps`` steps, each an op of :func:`op_choices` whose operands may be
    earlier results: three draws a step, so Hypothesis deletes steps cleanly."""
    ops = op_choices(focus)
    raw = st.tuples(st.integers(0, len(ops) - 1), st.integers(0, len(_FIRST_PICKS) - 1),
                    st.integers(0, len(_PICKS) - 1))
    return st.lists(raw, min_size=1, max_size=max_steps).map(lambda r: _resolve(r, inputs, ops))


@st.composite
def programs_and_points(draw: st.DrawFn, inputs: Sequence[str] = ("x", "y"), max_steps: int = 6,
                        focus: Sequence[str] = ()) -> tuple[tuple[Step, ...], dict[str, float]]:
    """A straight-line program (:func:`render` gives its source) and a point for it (every
    input in ``inputs``; the program may read fewer), each input inside the ranges of the
    ops it feeds or, now and then, at ``±EXTREME``."""
    steps = draw(straight_line(inputs, max_steps, focus))
    ranges = input_ranges(steps, inputs)
    return steps, {x: _value(draw(st.integers(-24, 24)), *ranges[x]) for x in inputs}


# --------------------------------------------------------------------------- smaller programs


def simple_values(lo: float, hi: float) -> list[float]:
    """Every value :func:`programs_and_points` may draw in (lo, hi), simplest first.

    >>> simple_values(-2.0, 2.0)[:5], simple_values(0.5, 2.5)[:3]
    ([0.0, 0.1, -0.1, 0.2, -0.2], [1.5, 1.6, 1.4])
    """
    values = [_value(n, lo, hi) for m in range(25) for n in dict.fromkeys((m, -m))]
    return list(dict.fromkeys(values))


def substitute(steps: Sequence[Step], old: str, new: Operand, drop: int | None = None) -> tuple[Step, ...]:
    """``steps`` reading ``new`` where they read ``old``; step ``drop`` removed (later
    results renumbered).

    >>> render(substitute([Step("sin", ("y",)), Step("mul", ("t0", "y"))], "y", "x"))
    'L = sin(x) * x'
    """

    def sub(a: Operand) -> Operand:
        if a == old:
            return new
        if drop is not None and isinstance(a, str) and a.startswith("t") and int(a[1:]) > drop:
            return f"t{int(a[1:]) - 1}"
        return a

    return tuple(Step(s.op, tuple(sub(a) for a in s.args)) for k, s in enumerate(steps) if k != drop)


def smaller(steps: Sequence[Step], inputs: Sequence[str] = ("x", "y")) -> list[tuple[Step, ...]]:
    """Programs one op node or one input smaller: a step bypassed (its readers read one of
    its operands, or a constant, instead), the output's step dropped (the step before is
    the output), an input read as the first one.

    >>> [render(s) for s in smaller([Step("sin", ("y",)), Step("mul", ("t0", "x"))])]
    ['L = y * x', 'L = 2 * x', 'L = 0.5 * x', 'L = sin(y)', 'L = sin(x) * x']
    """
    live = _live(steps)
    found = [substitute(steps, f"t{k}", a, drop=k) for k in live[:-1]
             for a in dict.fromkeys((*(steps[k].args[i] for i in OPS[steps[k].op].value_operands),
                                     *_STEP_CONSTANTS))]
    if len(steps) > 1:
        found.append(tuple(steps[:-1]))
    found += [substitute(steps, x, inputs[0]) for x in inputs[1:] if x in reads(steps)]
    return found


def reads(steps: Sequence[Step]) -> set[str]:
    """The inputs and results the live steps read."""
    return {a for k in _live(steps) for a in steps[k].args if isinstance(a, str)}
