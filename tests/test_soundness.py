"""No false alarm, by construction: the reference engine on random programs heavy in reuse and
cancellation, the answer key against an independent 50-digit evaluation, and a 1e-9 error
in one local rule still caught."""

from __future__ import annotations

from dataclasses import replace

import mpmath
import pytest
import sympy

from gradcheck_lab import Value, check
from gradcheck_lab.diagnose.faults import Faults, compile_engine
from gradcheck_lab.finite_diff import estimate, plan_steps
from gradcheck_lab.ops import OPS, Op
from gradcheck_lab.program import evaluate, float_apply
from gradcheck_lab.soundness import MPMATH, run
from gradcheck_lab.source import parse_source
from gradcheck_lab.symbolic import answer_key, to_sympy_number


@pytest.mark.parametrize("op", list(OPS.values()), ids=lambda op: op.name)
def test_every_row_has_an_mpmath_form_that_agrees_with_its_sympy(op: Op) -> None:
    # two forms written apart in the row: the independent check is only worth as much as they agree
    assert MPMATH[op.name] is op.mpmath
    lo, hi = op.sample
    for t in (0.15, 0.5, 0.85):
        args = [lo + t * (hi - lo), 1.3 - t][: op.arity]
        if op.number_operand is not None:
            args[op.number_operand] = 3 if op.constant_exponent else 2
            args[1 - op.number_operand] = lo + t * (hi - lo)
        with mpmath.workdps(40):
            ours = op.mpmath(*map(mpmath.mpf, args))
            truth = sympy.N(op.sympy(*map(to_sympy_number, args)), 40)
            assert abs(ours - mpmath.mpf(str(truth))) <= mpmath.mpf(10) ** -30 * (1 + abs(ours)), (op.name, args)


def test_no_false_alarm_in_random_programs_and_the_answer_key_agrees_with_mpmath() -> None:
    report = run(range(1500), all_nodes=False)
    assert report.judged > 900
    assert (report.false_alarms, report.disagreements) == (0, 0), report.examples[:3]
    assert report.worst_ratio < 1.0


def test_every_node_gradient_agrees_with_mpmath_diff() -> None:
    report = run(range(10_000, 10_150))
    assert (report.false_alarms, report.disagreements) == (0, 0), report.examples[:3]


@pytest.mark.parametrize("source", ["L = x / x", "a = x * y; L = a / a + y", "L = x - x + log(exp(x))",
                                    "a = x * 3; L = relu(a) / a * x"])
def test_cancellation_sympy_sees_is_no_false_alarm(source: str) -> None:
    result = check(source.replace("; ", "\n"), {"x": 0.7, "y": -1.3}, Value, samples=300, seed=1)
    assert result.ok, result.table()
    assert result.nodes_checked > 300


def test_exact_zeros_are_zeros() -> None:
    key = answer_key(parse_source("t0 = tanh(x)\nt1 = relu(t0)\nL = t1 / t0"), {"x": 0.7})
    assert key.grads[:2] == [0.0, 0.0] and key.exact_grads[0] == "0.0"


def test_second_order_rounding_is_covered() -> None:
    # log(relu(e)/e) is exactly 0 and so is tanh of 8 times it; floats give 1e-16 each, their product 1e-31
    source = "a = exp(z)\nb = relu(a) / a\nc = log(b)\nd = tanh(8 * log(exp(c)))\nL = d * c + 2 ** c"
    assert check(source, {"z": 1.3287}, Value, samples=200).ok


def test_a_divisor_within_rounding_of_zero_is_a_domain_warning_not_an_exception() -> None:
    # gelu(-11.39) is -2.7e-29 exactly, 0.0 in floats: a correct engine divides by zero
    result = check("a = gelu(y)\nb = relu(a) / a\nL = b + y", {"y": -11.3886}, Value)
    assert result.ok and result.verdict == "domain-error"
    assert "within rounding of a pole" in result.points[0].message


@pytest.mark.parametrize("source", ["L = 1 / (x + 0.2)", "L = log(x + 0.2)", "L = (x + 0.2) ** -2",
                                    "L = (x + 0.2) ** 0.5", "L = 1 / x"])
@pytest.mark.parametrize("x", [-0.199, -0.1999, -0.19, 0.3])
def test_finite_differences_keep_honest_error_bars_near_poles(source: str, x: float) -> None:
    program = parse_source(source)
    point = {"x": x}
    truth = answer_key(program, point)
    if truth.domain_error:
        return
    plan = plan_steps(program, point)
    values = [evaluate(program, [q["x"]], float_apply)[program.output] for q in plan.points]
    (est,) = estimate(plan, values)
    assert est.value is not None
    assert abs(est.value - truth.grads[0]) <= 4 * est.error  # compare's witness margin
    assert abs(est.value - truth.grads[0]) <= 1e-6 * abs(truth.grads[0])


_SOURCES = {"pow": "L = x ** 3", "rpow": "L = 2 ** x", "max": "L = max(x, y)"}


@pytest.mark.parametrize("name", [n for n, op in OPS.items() if op.primitive])
def test_a_relative_error_of_1e9_in_one_local_rule_is_caught(name: str) -> None:
    op = OPS[name]
    rule = (f"({op.local_text[0]}) * (1.0 + 1e-9)", *op.local_text[1:])
    engine = compile_engine(Faults(rows=((name, replace(op, local_text=rule)),)))
    source = _SOURCES.get(name, f"L = {op.symbol}(x)" if op.arity == 1 else f"L = x {op.symbol} y")
    result = check(source, {"x": 0.7, "y": 0.3}, engine, samples=5)
    assert result.verdict == "grad-mismatch", result.table(failing_only=False)
    assert check(source, {"x": 0.7, "y": 0.3}, compile_engine(), samples=5).ok
