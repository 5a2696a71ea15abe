"""The answer key against differentiating whole formulas with the node replaced by a
fresh symbol (the definition of dL/dnode), and against the seeds' numbers."""

from __future__ import annotations

import mpmath
import pytest
import sympy
from hypothesis import HealthCheck, given, settings

from gradcheck_lab import parse_source
from gradcheck_lab.ops import OPS
from gradcheck_lab.program import Program, Ref
from gradcheck_lab.symbolic import answer_key, to_sympy_number

from .strategies import points, programs


def fresh_symbol_gradient(program: Program, point: dict[str, float], k: int) -> float:
    """dL/dnode_k: L as a formula with node k replaced by a fresh symbol, differentiated."""
    s = sympy.Symbol("s", real=True)
    values: list[sympy.Expr] = [to_sympy_number(point[x]) for x in program.inputs]
    if k < len(values):
        values[k] = s
    exact_k = None
    for j, node in enumerate(program.nodes[len(values):], start=len(values)):
        args = [values[a.index] if isinstance(a, Ref) else to_sympy_number(a) for a in node.args]
        value = OPS[node.op].sympy(*args)
        if j == k:
            exact_k, value = value, s
        values.append(value)
    at = to_sympy_number(point[program.inputs[k]]) if k < len(program.inputs) else exact_k
    derivative = sympy.diff(values[program.output], s).subs(s, at)
    return float(sympy.N(derivative, 30))


def test_seed_worked_example_every_node() -> None:
    p = parse_source("a = x1 * x2\nb = log(a)\nc = x1 * x3\nd = sin(c)\ne = x2 * x3\nf = b + d\nL = f + e")
    key = answer_key(p, {"x1": 2.0, "x2": 3.0, "x3": 4.0})
    grads = dict(zip([n.title for n in p.nodes], key.grads, strict=True))
    values = dict(zip([n.title for n in p.nodes], key.values, strict=True))
    # the seed's table, to its digits
    assert {k: round(v, 4) for k, v in grads.items()} == {
        "x1": -0.082, "x2": 4.3333, "x3": 2.709, "a": 0.1667, "b": 1.0, "c": -0.1455, "d": 1.0,
        "e": 1.0, "f": 1.0, "L": 1.0,
    }
    assert values["L"] == pytest.approx(14.7812, abs=1.5e-4)  # the seed sums rounded terms
    assert round(values["d"], 4) == 0.9894


def test_exact_digits_are_kept() -> None:
    key = answer_key(parse_source("L = x * x + x"), {"x": 0.1})
    with mpmath.workdps(30):
        exact = 2 * mpmath.mpf(0.1) + 1
        assert mpmath.mpf(key.exact_grads[0]) == pytest.approx(exact, rel=1e-19)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs(), point=points)
def test_reverse_accumulation_equals_fresh_symbol_derivative(source: str, point: dict[str, float]) -> None:
    program = parse_source(source)
    point = {x: point[x] for x in program.inputs}
    key = answer_key(program, point)
    if key.domain_error or key.nondifferentiable(program):
        return
    for k in range(len(program.nodes)):
        truth = fresh_symbol_gradient(program, point, k)
        assert key.grads[k] == pytest.approx(truth, rel=1e-12, abs=1e-12), (source, point, program.nodes[k].title)


def test_kinks_are_flagged_not_guessed() -> None:
    p = parse_source("a = x - y\nL = relu(a) * x + max(x, y)")
    key = answer_key(p, {"x": 1.0, "y": 1.0})
    assert key.nondifferentiable(p) == {0, 1, 2}  # x, y and a = x - y sit upstream of relu(0) and max(1, 1)
    assert answer_key(p, {"x": 2.0, "y": 1.0}).nondifferentiable(p) == set()


def test_domain_errors_name_the_node() -> None:
    key = answer_key(parse_source("a = x - 2\nL = log(a)"), {"x": 1.0})
    assert "log needs a positive argument" in key.domain_error and key.domain_error.startswith("L: ")
