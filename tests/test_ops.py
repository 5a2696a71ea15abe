"""The op table against the truth: every local rule and forward against SymPy."""

from __future__ import annotations

import math
import re

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_lab.engine import Value
from gradcheck_lab.ops import FUNCTIONS, HELPERS, OPS, Op
from gradcheck_lab.symbolic import to_sympy_number

PRIMITIVES = [op for op in OPS.values() if op.primitive]
EXPONENTS = [2, 3, -1, -2, 0.5, 1.5, -0.5]
BASES = [2, 0.5, 3.0, 10, 1.25]


def _args(op: Op, draw: st.DrawFn) -> tuple[float, ...]:
    lo, hi = op.sample
    if op.constant_exponent:
        return (draw(st.floats(0.2, 3.0)), draw(st.sampled_from(EXPONENTS)))
    if op.constant_base:
        return (draw(st.sampled_from(BASES)), draw(st.floats(lo, hi)))
    values = tuple(draw(st.floats(lo, hi)) for _ in range(op.arity))
    if op.kink is not None and abs(op.kink(*values)) < 1e-6:
        values = tuple(v + 0.5 for v in values[:1]) + values[1:]
    return values


@pytest.mark.parametrize("op", PRIMITIVES, ids=lambda op: op.name)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_local_rule_matches_sympy_diff(op: Op, data: st.DataObject) -> None:
    args = _args(op, data.draw)
    assume_domain = op.domain(*args)
    if not assume_domain:
        return
    symbols = sympy.symbols(f"a0:{op.arity}", real=True)
    exprs = list(symbols)
    if op.number_operand is not None:
        exprs[op.number_operand] = to_sympy_number(args[op.number_operand])
    f = op.sympy(*exprs)
    subs = {s: to_sympy_number(a) for s, a in zip(symbols, args, strict=False)}
    assert op.forward is not None and op.local is not None
    out = op.forward(*args)
    assert out == pytest.approx(float(f.evalf(30, subs=subs)), rel=1e-13, abs=1e-300)
    slopes = op.local(args, out)
    assert len(slopes) == len(op.value_operands)
    for slope, i in zip(slopes, op.value_operands):
        truth = float(sympy.diff(f, symbols[i]).evalf(30, subs=subs))
        assert slope == pytest.approx(truth, rel=1e-12, abs=1e-15), (op.name, args, i)


@pytest.mark.parametrize("op", list(OPS.values()), ids=lambda op: op.name)
def test_every_row_is_complete(op: Op) -> None:
    assert op.arity in (1, 2)
    assert (op.forward is None) == (op.local is None) == (op.compose is not None)
    if op.primitive:
        assert len(op.local_text) == len(op.value_operands)
    assert callable(getattr(Value, op.method))


#: What a displayed formula may call, by the name it shows (``cos``, ``Phi``): math's and the helpers.
SHOWN_NAMES = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")} | {
    name: eval(f"lambda x: {text}", {"math": math}) for name, (_, text) in HELPERS.items()}


@pytest.mark.parametrize("op", PRIMITIVES, ids=lambda op: op.name)
def test_the_displayed_formula_computes_the_rule(op: Op) -> None:
    # the walk-through shows op.formula; the engine runs op.local_text: substitute numbers into
    # the text a student reads and it must give the rule's value, so the two cannot drift
    points = [(0.7, 1.9), (1.3, 0.4), (-0.6, 2.2), (2.1, 2.1), (-1.7, -0.3)]
    if op.constant_exponent:
        points = [(0.7, 2.0), (1.3, 0.5), (2.2, -1.0), (0.4, 3.0), (1.9, -0.5)]
    if op.constant_base:
        points = [(2.0, 0.7), (0.5, -1.3), (3.0, 2.2), (10.0, 0.4), (1.25, -2.0)]
    assert op.forward is not None and op.local is not None
    for point in points:
        args = point[: op.arity]
        if not op.domain(*args):
            continue
        out = op.forward(*args)
        for formula, rule in zip(op.formula, op.local(args, out), strict=True):
            text = re.sub(r"\bout\b", f"({out!r})", formula.format(*(f"({a!r})" for a in args)))
            assert "math" not in text
            shown = eval(text, dict(SHOWN_NAMES))
            assert shown == pytest.approx(rule, rel=1e-14, abs=1e-300), (op.name, formula, args)


def test_formulas_read_as_a_student_writes_them() -> None:
    assert OPS["pow"].formula == ("{1} * {0}**({1} - 1)",)
    assert OPS["tanh"].formula == ("1 - out**2",)
    assert OPS["gelu"].formula == ("Phi({0}) + {0} * phi({0})",)
    assert OPS["mul"].formula == ("{1}", "{0}")


def test_functions_are_the_called_ops() -> None:
    assert set(FUNCTIONS) == {op.name for op in OPS.values() if not op.ast_node}
    assert {"exp", "log", "sin", "cos", "tanh", "relu", "abs", "sigmoid", "gelu", "max"} <= set(FUNCTIONS)


@pytest.mark.parametrize("op", [o for o in OPS.values() if not o.primitive], ids=lambda op: op.name)
def test_composites_compute_their_sympy_counterpart(op: Op) -> None:
    args = [1.7, 0.6][: op.arity]
    assert op.compose is not None
    got = op.compose(*(Value(a) for a in args)).data
    assert got == pytest.approx(float(op.sympy(*(to_sympy_number(a) for a in args))), rel=1e-15)


def test_sigmoid_is_stable_at_extremes() -> None:
    sig = OPS["sigmoid"].forward
    assert sig is not None
    assert sig(-1000.0) == 0.0 and sig(1000.0) == 1.0
    assert sig(-30.0) == pytest.approx(1 / (1 + math.exp(30.0)), rel=1e-15)
