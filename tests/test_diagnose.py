"""Diagnosis: every catalog bug is named exactly, pairs too, and real engines get the right codes."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from gradcheck_lab import Value
from gradcheck_lab.diagnose import CATALOG, PROBES, diagnose, observe_probes
from gradcheck_lab.diagnose.faults import compile_engine
from gradcheck_lab.implementations import load_value_class

from .conftest import SEED_ENGINES, STUDENT, seed004_before, unsupported

SIMULATED = [code for code, bug in CATALOG.items() if bug.faults is not None]


def codes_of(value_class: object) -> list[str]:
    with contextlib.redirect_stdout(io.StringIO()):  # seed 004's backward() prints
        return diagnose(observe_probes(value_class)).codes


def test_the_reference_engine_gets_no_code() -> None:
    assert codes_of(Value) == []


@pytest.mark.parametrize("code", SIMULATED)
def test_every_catalog_bug_is_diagnosed_as_itself_and_nothing_else(code: str) -> None:
    # a visit order other than the predictions' first, as a set-ordered student engine would have
    assert codes_of(CATALOG[code].engine(order_seed=11)) == [code]


@pytest.mark.parametrize(
    "pair",
    [
        ("grad-overwrite:add", "wrong-local:tanh"),
        ("grad-overwrite:mul", "grad-overwrite:add"),
        ("missing-chain:exp", "forward:rsub"),
        ("no-seed-grad", "wrong-local:pow"),
        ("recursion-limit", "wrong-local:relu"),
        ("numerics:sigmoid", "numerics:tanh"),
        ("topo-revisit", "wrong-local:mul"),
        ("zeroes-on-backward", "wrong-local:div"),
        ("recursion-limit", "topo-order"),
        ("recursion-limit", "topo-revisit"),
        ("recursion-limit", "no-seed-grad"),
        ("topo-order", "no-seed-grad"),
        ("topo-order", "missing-chain:sigmoid"),
        ("no-coerce:right", "wrong-local:sigmoid"),
        ("raises:log", "wrong-local:exp"),
        ("not-a-value:tanh", "grad-overwrite:mul"),
        ("forward:rpow", "wrong-local:rsub"),
        ("no-backward:neg", "wrong-local:rtruediv"),
    ],
)
def test_two_bugs_at_once_are_both_named(pair: tuple[str, str]) -> None:
    a, b = (CATALOG[c].faults for c in pair)
    assert a is not None and b is not None and not a.clashes(b)
    assert sorted(codes_of(compile_engine(a + b, 7))) == sorted(pair)


def test_a_student_engine_with_naive_formulas() -> None:
    # tanh via exp(2x), sigmoid as 1/(1+exp(-x)), a recursive topological sort
    student = load_value_class(STUDENT)
    assert set(codes_of(student)) == {"numerics:sigmoid", "numerics:tanh", "recursion-limit"} | unsupported(student)


@pytest.mark.parametrize(
    ("seed", "codes"),
    [
        ("seed000.py", {"recursion-limit", "unsupported:cos", "unsupported:gelu", "unsupported:max"}),
        ("seed004.py", {"recursion-limit", "numerics:tanh"}),
        ("seed004_before.py", {"grad-overwrite", "recursion-limit", "numerics:tanh"}),
    ],
)
def test_the_seeds_value_classes(seed: str, codes: set[str], tmp_path: Path) -> None:
    path = seed004_before(tmp_path) if seed == "seed004_before.py" else SEED_ENGINES / seed
    found = set(codes_of(load_value_class(path)))
    assert codes <= found
    assert all(c in codes or c.startswith("unsupported:") for c in found)


def test_evidence_names_the_probe_and_the_numbers() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        d = diagnose(observe_probes(CATALOG["grad-overwrite:add"].engine()))
    evidence = {e.probe: e for e in d.evidence["grad-overwrite:add"]}
    e = evidence["reuse:add"]
    assert (e.source, e.expected, e.got) == ("x + x", "x.grad = 2", "x.grad = 1")
    assert "one path's gradient" in d.explanations()["grad-overwrite:add"]


def test_probes_are_a_compact_designed_set() -> None:
    assert 30 <= len(PROBES) <= 80
    assert len({p.name for p in PROBES}) == len(PROBES)


def test_matching_runs_no_engine_once_the_predictions_are_ready() -> None:
    """Each code is named from its own probes against its own single prediction: matching
    several bugs at once builds no joint engine (what made diagnosis cost 3x grading)."""
    from gradcheck_lab.diagnose import match

    match.warm_predictions()  # every single bug's, once per process
    a, b = CATALOG["grad-overwrite:add"].faults, CATALOG["wrong-local:tanh"].faults
    assert a is not None and b is not None
    observed = observe_probes(compile_engine(a + b, 7))
    before = compile_engine.cache_info().misses
    assert sorted(diagnose(observed).codes) == ["grad-overwrite:add", "wrong-local:tanh"]
    assert compile_engine.cache_info().misses == before


def test_order_sensitive_bugs_are_predicted_on_every_path() -> None:
    """Where two paths meet, which one's gradient lands last depends on the visit order: the
    prediction holds each (x ** 2 + x ** 3 under `=` instead of `+=`: 2x or 3x**2), from
    many orders there and a few where the order cannot matter."""
    from gradcheck_lab.diagnose.match import _orders, predictions

    assert _orders("reuse:pow") == _orders("diamond") > _orders("alone:add") == _orders("deep-chain") >= 2
    x = 0.7
    outcomes = {round(sig[2][0], 9) for sig in predictions(CATALOG["grad-overwrite"])["reuse:pow"]}
    assert outcomes == {round(2 * x, 9), round(3 * x**2, 9)}
