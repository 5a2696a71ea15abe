"""Training cases: the ``steps``/``lr`` keys, seed 002's descent with exact and implemented
gradients, where a slightly wrong engine parts, and the loss-curve picture."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gradcheck_lab import CaseError, InProcessExecutor, Value, check_case, collect_cases, load_case_file
from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.cases import Case
from gradcheck_lab.implementations import load_value_class
from gradcheck_lab.report.curves import loss_curves_svg
from gradcheck_lab.training import descend
from tests.slightly_wrong import POW_BIAS, engine_file

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def descent() -> Case:
    cases, errors = collect_cases([ROOT / "cases/training.toml::descent-quadratic"])
    assert not errors
    return cases[0]


def test_the_seed_descent_case(descent: Case) -> None:
    assert (descent.steps, descent.lr, descent.points[0]) == (100, 0.1, {"w1": 2.0, "w2": 3.0})


def test_exact_descent_follows_the_closed_form(descent: Case) -> None:
    t = descend(descent, InProcessExecutor(Value), AnswerKeys())
    # Each step shrinks (w1 - 1, w2 - 5) by 0.9, so seed 002's "Iteration i: loss" is 2.5 * 0.81**i.
    assert len(t.exact.losses) == len(t.implementation.losses) == 101
    for i, loss in enumerate(t.exact.losses):
        assert math.isclose(loss, 2.5 * 0.81**i, rel_tol=1e-9), i
    assert [f"{loss:.4f}" for loss in t.exact.losses[:3]] == ["2.5000", "2.0250", "1.6402"]  # as the seed prints
    assert t.exact.params[100] == pytest.approx({"w1": 1 + 0.9**100, "w2": 5 - 2 * 0.9**100})
    assert (t.verdict, t.parted_at) == ("ok", None)
    assert t.implementation.losses == pytest.approx(t.exact.losses, rel=1e-12)


def test_a_slightly_wrong_engine_parts_at_once_and_stalls(descent: Case, tmp_path: Path) -> None:
    wrong = load_value_class(engine_file(tmp_path, POW_BIAS))
    result = check_case(descent, InProcessExecutor(wrong), samples=0, answer_keys=AnswerKeys())
    t = result.training
    assert t is not None and t.parted_at == 1 and t.verdict == "grad-mismatch"
    # Its fixed point is w - target = -0.025 for both parameters: loss 0.5 * 2 * 0.025**2.
    assert t.implementation.losses[-1] == pytest.approx(6.25e-4, rel=1e-2)
    assert t.exact.losses[-1] < 1e-8
    assert result.verdict == "grad-mismatch" and t.summary in result.notes
    svg = loss_curves_svg([("exact", t.exact.losses), ("yours", t.implementation.losses)], parted_at=t.parted_at)
    assert svg.count("<polyline") == 2 and "loss (log scale)" in svg and "parts at step 1" in svg


def test_an_engine_that_fails_stops_its_descent(descent: Case, tmp_path: Path) -> None:
    broken = engine_file(tmp_path, {"def __pow__(self, k):": "def __pow__(self, k):\n        raise ValueError('no')"})
    t = descend(descent, InProcessExecutor(load_value_class(broken)), AnswerKeys())
    assert t.verdict == "exception" and t.implementation.losses == [] and "ValueError: no" in t.implementation.error


def test_linear_scale_for_a_loss_that_does_not_shrink_much() -> None:
    svg = loss_curves_svg([("exact", [3.0, 2.0, 1.5])])
    assert "loss (log scale)" not in svg and svg.count("<polyline") == 1 and "parts at" not in svg


@pytest.mark.parametrize(("keys", "message"), [
    ("steps = 100", "steps and lr go together"),
    ("lr = 0.1", "steps and lr go together"),
    ("steps = 1.5\nlr = 0.1", "steps must be a whole number"),
    ("steps = true\nlr = 0.1", "steps must be a whole number"),
    ("steps = 20000\nlr = 0.1", "1 to 10000"),
    ("steps = 10\nlr = -0.1", "lr must be a positive number"),
    ("steps = 10\nlr = \"fast\"", "lr must be a positive number"),
])
def test_invalid_training_keys(tmp_path: Path, keys: str, message: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(f'[[case]]\nname = "t"\nsource = "L = w * w"\npoints = [{{w = 1.0}}]\n{keys}\n')
    cases, errors = load_case_file(path)
    assert cases == [] and len(errors) == 1
    assert isinstance(errors[0], CaseError) and message in str(errors[0])
    assert str(errors[0]).startswith(f"{path}:")
