"""Minimal counterexamples: one for every catalog bug a case can show, small, real, and a
valid case that ``check`` fails; none for the reference engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from gradcheck_lab import Value, check, load_case_file, parse_source
from gradcheck_lab.cli import main
from gradcheck_lab.diagnose import CATALOG
from gradcheck_lab.diagnose.counterexample import (
    Counterexample,
    confirm,
    counterexample_for,
    counterexample_from,
    focus_of,
    minimal_counterexample,
)
from gradcheck_lab.diagnose.strategies import EXTREME, Step, input_ranges, programs_and_points, render
from gradcheck_lab.errors import CaseError
from gradcheck_lab.executors import InProcessExecutor
from gradcheck_lab.ops import OPS
from gradcheck_lab.program import Program

#: Simulated bugs no case can show, and why (see gradcheck_lab.diagnose.counterexample).
NOT_SHOWN = {
    "zeroes-on-backward": "a note: only a second backward() call shows it",
    "recursion-limit": "needs a graph over 1,000 nodes deep",
    "no-seed-grad": "the harness seeds the output's grad by hand (and notes it)",
    **{code: "it raises (or its output is no Value): an error, which the diagnosis names with its line"
       for code, bug in CATALOG.items() if bug.faults is not None and not bug.wrong_number},
}
COVERED = [code for code, bug in CATALOG.items() if bug.faults is not None and code not in NOT_SHOWN]

_UNARY = tuple(op.name for op in OPS.values() if op.primitive and op.is_function and op.arity == 1)
#: The nodes (inputs included) of each code's counterexample, as measured: the op alone
#: for a wrong rule or forward (``L = exp(x)``); a second reader of the op's input for
#: ``=`` instead of ``+=`` (``L = exp(x) + x``); a reader that scales the op's gradient for
#: a missing chain factor (``L = exp(exp(x))``); a diamond for a sort without a visited set.
NODES = {
    "grad-overwrite": 2, "topo-revisit": 4, "topo-order": 3,
    **{f"grad-overwrite:{op}": 2 for op in ("add", "mul", "pow")},
    **{f"grad-overwrite:{op}": 3 for op in (*_UNARY, "max", "rpow")},
    **{code: 3 for code in COVERED if code.startswith("missing-chain:")},
    **{code: 2 for code in COVERED if code.split(":")[0] in ("wrong-local", "forward")},
    # a form of two Values (x + y, max(x, y)) may need both; the others are the form alone
    **{code: 2 for code in COVERED if code.split(":")[0] in ("no-backward", "grad-not-number")},
    **{f"{family}:{op}": 3 for family in ("wrong-local", "forward", "no-backward", "grad-not-number")
       for op in ("add", "mul", "max", "sub", "div")},
    "backward-noop": 2, "data-attribute": 2, "no-graph-walk": 3, "opt-in-grad": 2, "children-by-value": 3,
    "grad-overwrite:sub": 2, "grad-overwrite:div": 2,
}


def _shape(program: Program) -> list[tuple[object, ...]]:
    """What a program computes, without where its nodes stand in a file."""
    return [(n.op, n.args, n.name) for n in program.nodes]


def test_every_simulated_bug_is_covered_or_said_why_not() -> None:
    simulated = {code for code, bug in CATALOG.items() if bug.faults is not None}
    assert simulated == set(COVERED) | set(NOT_SHOWN)
    assert set(NODES) == set(COVERED)


#: Each bug a search is run for here: every one but the two families that repeat one pattern
#: per op form (a form that records no way back, a grad that is no number), three forms of those.
SEARCHED = [c for c in COVERED if not c.startswith(("no-backward:", "grad-not-number:"))
            or c.partition(":")[2] in ("add", "neg", "tanh")]


@pytest.mark.parametrize("code", SEARCHED)
def test_every_catalog_bug_has_a_small_counterexample_that_check_fails(code: str, tmp_path: Path) -> None:
    found = counterexample_for((code,))
    assert found is not None, f"no counterexample for {code}"
    assert found.nodes <= NODES[code], found.source
    # it disagrees on the bug's engine however backward() orders a node's operands
    engine = CATALOG[code].engine(order_seed=11)
    assert confirm(InProcessExecutor(engine), found) is not None
    # and is a case that check fails: inside every domain, clear of every kink
    (tmp_path / "c.toml").write_text(found.as_case())
    (case,), errors = load_case_file(tmp_path / "c.toml")
    assert not errors
    assert _shape(case.program) == _shape(parse_source(found.source)) and case.points == (found.point,)
    assert check(case.program, case.points, engine).verdict in ("grad-mismatch", "forward-mismatch", "exception")


def test_a_bug_whose_probes_hold_no_number_is_shown_by_its_smallest_probe() -> None:
    """A gradient that is no number is a wrong number too: its smallest probe is the
    counterexample, with nothing to search."""
    from gradcheck_lab.diagnose import diagnose, observe_probes

    for code in ("grad-not-number:add", "grad-not-number:tanh", "data-attribute"):
        example = counterexample_from(diagnose(observe_probes(CATALOG[code].engine())))
        assert example is not None, code
        assert example.got.endswith("is not a number") and example.nodes <= 3, (code, example)
        assert confirm(InProcessExecutor(CATALOG[code].engine()), example) is not None  # the engine fails it
        assert confirm(InProcessExecutor(Value), example) is None  # and the reference passes


def test_the_overwrite_bug_of_add_gives_x_plus_x() -> None:
    found = minimal_counterexample(InProcessExecutor(CATALOG["grad-overwrite:add"].engine()))
    assert found is not None and (found.source, found.nodes) == ("L = x + x", 2)
    assert (found.expected, found.got) == ("x.grad = 2", "x.grad = 1.0")


@pytest.mark.parametrize("focus", [(), ("sigmoid", "tanh", "max")])
def test_no_counterexample_for_the_reference_engine(focus: tuple[str, ...]) -> None:
    assert minimal_counterexample(InProcessExecutor(Value), max_examples=300, focus=focus) is None


def test_no_seed_grad_shows_in_no_case() -> None:
    # the harness seeds the output itself: the gradients then agree
    assert minimal_counterexample(InProcessExecutor(CATALOG["no-seed-grad"].engine()), max_examples=100) is None


def test_focus_names_the_ops_of_the_codes() -> None:
    assert focus_of(("forward:rtruediv", "grad-overwrite:exp", "topo-revisit")) == ("div", "exp")


@pytest.mark.parametrize(
    "source",
    ["L = x + x", "a = x + x\nL = a + x + a", "a = exp(x)\nb = sin(a) * y\nL = b * b + a"],
)
def test_as_case_round_trips_through_the_case_parser(source: str, tmp_path: Path) -> None:
    point = {x: v for x, v in (("x", 0.1), ("y", -1000.0)) if x in parse_source(source).inputs}
    got = 'AttributeError: "Value" object has no attribute \'exp\'\\ (line 1)'
    found = Counterexample(source, point, 9, "x.grad = 2", got)
    (tmp_path / "c.toml").write_text(found.as_case("round-trip") + "\n" + found.as_case("again"))
    cases, errors = load_case_file(tmp_path / "c.toml")
    assert not errors and [c.name for c in cases] == ["round-trip", "again"]
    case = cases[0]
    assert _shape(case.program) == _shape(parse_source(source)) and case.points == (point,)
    assert case.about == f"found by gradcheck_lab: {got}; the truth: x.grad = 2" and case.tags == ("counterexample",)
    assert ('source = """' in found.as_case()) == ("\n" in source)


@pytest.mark.parametrize("code", ["topo-revisit", "grad-overwrite:exp", "no-backward:neg"])
def test_check_on_the_pasted_case_shows_the_disagreement(code: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    found = counterexample_for((code,))
    assert found is not None
    (tmp_path / "cases.toml").write_text(found.as_case())
    (tmp_path / "student.py").write_text(CATALOG[code].source())
    exit_code = main(["check", str(tmp_path / "cases.toml"), "--impl", str(tmp_path / "student.py"),
                      "--report-dir", str(tmp_path / "reports"), "--cache-dir", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert exit_code == 1 and "1 failed" in out
    assert "counterexample: grad-mismatch" in out


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(programs_and_points(("x", "y"), 6))
def test_generated_programs_parse_and_points_keep_to_the_ops_ranges(example: tuple[tuple[Step, ...], dict[str, float]],
                                                                    ) -> None:
    steps, point = example
    try:
        program = parse_source(render(steps))
    except CaseError as exc:  # only a program of constants alone
        assert "must be computed from the inputs" in exc.message
        return
    ranges = input_ranges(steps, ("x", "y"))
    for x in program.inputs:
        lo, hi = ranges[x]
        assert lo <= point[x] <= hi or abs(point[x]) == EXTREME
