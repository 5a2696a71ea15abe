"""Properties over random expressions built dually (a Value graph and SymPy) from one source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gradcheck_lab import Value, check, parse_source
from gradcheck_lab.diagnose.probes import forms_of

from .conftest import OVERWRITE, lacking
from .strategies import points, programs, tree_sources

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.function_scoped_fixture])


def _point(source: str, values: dict[str, float]) -> dict[str, float]:
    return {x: values.get(x, 0.3) for x in parse_source(source).inputs}


def _passing(source: str, value_class: Any) -> tuple[str, ...]:
    """The verdicts of a correct engine; "unsupported" too where ``source`` uses an op it lacks
    (the student engine predates any op added to the table since)."""
    lacks = forms_of(parse_source(source)) & lacking(value_class)
    return ("ok", "nondifferentiable", "domain-error", *(("unsupported",) if lacks else ()))


@_SETTINGS
@given(source=programs(), values=points)
def test_reference_engine_agrees_with_sympy(source: str, values: dict[str, float]) -> None:
    result = check(source, _point(source, values))
    assert result.verdict in ("ok", "nondifferentiable", "domain-error"), result.table(failing_only=True)


@_SETTINGS
@given(source=programs(), values=points)
def test_student_engine_agrees_with_sympy(source: str, values: dict[str, float], student_class: Any) -> None:
    result = check(source, _point(source, values), student_class)
    assert result.verdict in _passing(source, student_class), result.table(failing_only=True)


@_SETTINGS
@given(source=tree_sources(), data=st.data())
def test_overwrite_bug_is_invisible_on_trees(source: str, data: st.DataObject, make_engine: Callable[..., Any]) -> None:
    # every node used once: `=` and `+=` give the same gradients
    program = parse_source(source)
    point = {x: data.draw(st.floats(-2, 2).map(lambda v: round(v, 3))) for x in program.inputs}
    engine = make_engine(OVERWRITE)
    result = check(program, point, engine)
    assert result.verdict in _passing(source, engine), (source, result.table())


@_SETTINGS
@given(source=programs(), values=points)
# found by Hypothesis: 1 + z**4 rounds away z**4's digits, a noise the error estimate must cover
@example(source="a0 = (x) + (x)\na1 = log(1 + ((z) * (z))**2)\nL = a1 + 0", values={"x": 0.0, "y": 0.0, "z": 0.008})
def test_finite_differences_agree_with_sympy(source: str, values: dict[str, float]) -> None:
    result = check(source, _point(source, values))
    for point in result.points:
        for node in point.nodes:
            if node.fd_grad is None or node.verdict != "ok":
                continue
            assert node.symbolic_grad is not None and node.fd_error is not None
            assert abs(node.fd_grad - node.symbolic_grad) <= 4 * node.fd_error + 1e-9 * abs(node.symbolic_grad)


def test_reference_engine_matches_tree_of_every_op() -> None:
    # a deterministic example touching every function op at once
    source = "L = exp(sin(x)) * log(1 + y**2) + tanh(x) / (1 + z**2) - relu(y) + sigmoid(z) * gelu(x) + max(x, y)"
    result = check(source, {"x": 0.3, "y": -1.2, "z": 0.7}, Value, samples=3)
    assert result.verdict == "ok"


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**6), min_size=1, max_size=4))
def test_answer_key_point_keys_are_json(values: list[float]) -> None:
    """Stored answer keys are found by the point's JSON text: the fast path writes the same."""
    import json

    from gradcheck_lab.answer_keys import _point_key
    from gradcheck_lab.cases import parse_source

    names = [f"x{k}" for k in range(len(values))]
    program = parse_source("L = " + " + ".join([*names, "0"]))
    assert _point_key(program, dict(zip(names, values))) == json.dumps(values)
