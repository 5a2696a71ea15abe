"""The explain walk-through: seed 000's worked example, number for number, and the
``explain`` command with and without an implementation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gradcheck_lab import Case, collect_cases, parse_source
from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.cli import main
from gradcheck_lab.ops import OPS
from gradcheck_lab.report.walkthrough import accumulated, sections, step_text, walkthrough_markdown
from gradcheck_lab.walkthrough import local_rule, number, walk
from tests.slightly_wrong import LOG10, SIN_SIGN, engine_file

ROOT = Path(__file__).resolve().parent.parent
SEED = "cases/worked_examples.toml::log-sin-product"
POINT = {"x1": 2.0, "x2": 3.0, "x3": 4.0}


@pytest.fixture(scope="module")
def seed_case() -> Case:
    cases, errors = collect_cases([ROOT / "cases/worked_examples.toml::log-sin-product"])
    assert not errors and len(cases) == 1
    return cases[0]


def _by_name(case: Case) -> dict[str, int]:
    return {n.name: k for k, n in enumerate(case.program.nodes)}


def test_by_hand_reproduces_every_number_the_seed_publishes(seed_case: Case) -> None:
    w = walk(seed_case.program, POINT, by_hand=True)
    k = _by_name(seed_case)
    # 2. Forward pass, as published.
    forward = {"a": "6.0", "b": "1.7918", "c": "8.0", "d": "0.9894", "e": "12.0", "f": "2.7812", "L": "14.7812"}
    assert {name: number(w.values[k[name]]) for name in forward} == forward
    # 4. The backward pass, step by step: (node, operand) -> local derivative text and the accumulation.
    steps = {(w.program.nodes[s.node].name, w.program.nodes[s.operand].name): s for s in w.steps}
    assert step_text(w, steps["d", "c"]) == "d sin(c)/dc = cos(c) = cos(8.0) = -0.1455"
    assert step_text(w, steps["b", "a"]) == "d log(a)/da = 1 / a = 1 / 6.0 = 0.1667"
    assert step_text(w, steps["e", "x2"]) == "d(x2 * x3)/dx2 = x3 = 4.0"
    published = {
        ("L", "f"): "f.grad: 0.0 -> 1.0", ("L", "e"): "e.grad: 0.0 -> 1.0",
        ("e", "x2"): "x2.grad: 0.0 -> 4.0", ("e", "x3"): "x3.grad: 0.0 -> 3.0",
        ("d", "c"): "c.grad: 0.0 -> -0.1455",
        ("c", "x1"): "x1.grad: 0.0 -> -0.5820",
        ("c", "x3"): "x3.grad: 3.0 -> 2.7090 (accumulates)",
        ("b", "a"): "a.grad: 0.0 -> 0.1667",
        ("a", "x1"): "x1.grad: -0.5820 -> -0.0819 (accumulates)",
        ("a", "x2"): "x2.grad: 4.0 -> 4.3334 (accumulates)",
    }
    assert {key: accumulated(w, steps[key]) for key in published} == published
    # 5. Final result: -0.0819, 4.3334, 2.7090.
    assert [number(g) for g in w.grads[:3]] == ["-0.0819", "4.3334", "2.7090"]


def test_exact_walk_is_the_answer_key_and_within_the_seeds_rounding(seed_case: Case) -> None:
    truth = AnswerKeys().get(seed_case.program, [POINT])[0]
    w = walk(seed_case.program, POINT, values=truth.values)
    assert w.grads == pytest.approx(truth.grads, rel=1e-12, abs=1e-15)
    for name, published in seed_case.expect.items():  # -0.0819, 4.3334, 2.7090 by hand
        assert abs(w.grads[_by_name(seed_case)[name]] - published) <= published.tolerance()  # type: ignore[attr-defined]
    # The exact walk differs from the hand-rounded one only in the 4th decimal of x1 and x2.
    assert [number(g) for g in w.grads[:3]] == ["-0.0820", "4.3333", "2.7090"]


def test_walk_order_is_reverse_topological_and_marks_accumulation() -> None:
    p = parse_source("m = n + n\nq = m * n")
    w = walk(p, {"n": 4.0})
    assert [p.nodes[k].title for k in w.order] == ["q", "m", "n"]
    into_n = [s for s in w.steps if s.operand == 0]
    assert [s.accumulates for s in into_n] == [False, True, True]  # q's step, then n + n twice
    assert [s.last for s in into_n] == [False, False, True]
    assert w.grads[0] == 16.0  # q = 2n**2, dq/dn = 4n
    assert accumulated(w, into_n[-1]) == "n.grad: 12.0 -> 16.0 (accumulates)"


@pytest.mark.parametrize(("op", "args", "templates", "numbers"), [
    ("sub", [5.0, 2.0], ("1", "-1"), (1.0, -1.0)),
    ("div", [1.0, 4.0], ("1/{1}", "-{0}/{1}**2"), (0.25, -0.0625)),
    ("neg", [3.0], ("-1",), (-1.0,)),
    ("mul", [3.0, 4.0], ("{1}", "{0}"), (4.0, 3.0)),
])
def test_local_rules_come_from_the_op_table(op: str, args: list[float], templates: tuple[str, ...],
                                            numbers: tuple[float, ...]) -> None:
    assert local_rule(OPS[op], args, 0.0) == (templates, numbers)


def test_formulas_with_constants_and_negative_numbers() -> None:
    p = parse_source("a = w - 5\nb = a**2\nloss = 0.5 * b")
    w = walk(p, {"w": 3.0})
    texts = [step_text(w, s) for s in w.steps]
    assert texts == ["d(0.5 * b)/db = 0.5", "d(a**2)/da = 2 * a**(2 - 1) = 2 * (-2.0)**(2 - 1) = -4.0",
                     "d(w - 5)/dw = 1"]
    assert w.grads[0] == -2.0


def test_the_walk_agrees_with_the_answer_key_on_every_shipped_case(
    shipped_cases: list[Case], answer_keys: AnswerKeys
) -> None:
    for case in shipped_cases:
        truth = answer_keys.get(case.program, [case.points[0]])[0]
        if truth.domain_error:
            continue
        w = walk(case.program, case.points[0], values=truth.values)
        skip = truth.nondifferentiable(case.program)
        for k, (mine, exact) in enumerate(zip(w.grads, truth.grads)):
            if k not in skip:
                assert math.isclose(mine, exact, rel_tol=1e-9, abs_tol=1e-12), (case.name, k, mine, exact)


def test_markdown_walkthrough_escapes_pipes(seed_case: Case) -> None:
    text = walkthrough_markdown(walk(seed_case.program, POINT), level=3)
    assert text.startswith("### Forward pass")
    assert "| step " in text and "#### " not in text
    assert [s.title for s in sections(walk(seed_case.program, POINT))] == [
        "Forward pass", "Backward pass", "Final gradients"]


# --------------------------------------------------------------------------- the command


def test_explain_by_hand_prints_the_seeds_table(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["explain", SEED, "--by-hand", "--no-cache"]) == 0
    out = capsys.readouterr().out
    for line in ("d sin(c)/dc = cos(c) = cos(8.0) = -0.1455", "x3.grad: 3.0 -> 2.7090 (accumulates)",
                 "x1.grad: -0.5820 -> -0.0819 (accumulates)", "x2.grad: 4.0 -> 4.3334 (accumulates)",
                 "Order: L, f, e, d, c, b, a, x3, x2, x1"):
        assert line in out
    final = out[out.index("Final gradients"):]
    assert "-0.0819" in final and "-0.082000" in final  # by hand, and exact beside it


def test_explain_with_an_implementation_points_at_the_first_wrong_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    impl = engine_file(tmp_path, SIN_SIGN)
    assert main(["explain", SEED, "--impl", str(impl), "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert "0.1455 ✗ first to part" in out  # c.grad: yours +0.1455, the truth -0.1455
    assert "at c: c.grad should be -0.1455, yours is 0.1455" in out
    assert "d = sin(c) (d sin(c)/dc = cos(c) = cos(8.0) = -0.1455): check that step's local rule" in out
    assert "3.2910 ✗" in out and "4.3333 ✓" in out  # x3 wrong, x2 right


def test_explain_names_a_forward_pass_bug(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["explain", SEED, "--impl", str(engine_file(tmp_path, LOG10)), "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert "first in the forward pass, at b = log(a): its data should be 1.79176, yours is 0.778151" in out


def test_explain_formats_and_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    md, page = tmp_path / "w.md", tmp_path / "w.html"
    assert main(["explain", SEED, "--format", "markdown", "-o", str(md), "--graph", str(tmp_path / "g.dot")]) == 0
    assert md.read_text().startswith("# log-sin-product at x1 = 2, x2 = 3, x3 = 4 (point 1 of 1)")
    assert (tmp_path / "g.dot").read_text().startswith('digraph "log-sin-product" {')
    assert main(["explain", SEED, "--format", "html", "-o", str(page)]) == 0
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<h4>Backward pass</h4>" in html
    assert "graph: " in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["explain", "cases/worked_examples.toml"], "holds"),
    (["explain", SEED, "--point", "2"], "--point must be 1 to 1"),
    (["explain", "cases/worked_examples.toml::nope"], "no case named 'nope'"),
])
def test_explain_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
