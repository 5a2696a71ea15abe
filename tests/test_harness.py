"""The harness end to end: correct engines pass every shipped case, buggy ones are caught
and named, and the three oracles side with the right party."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from gradcheck_lab import (
    Case,
    GradientMismatch,
    InProcessExecutor,
    Value,
    assert_gradients,
    check,
    check_cases,
    parse_source,
)
from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.cases import Literal
from gradcheck_lab.compare import FAILURES
from gradcheck_lab.diagnose.probes import forms_of
from gradcheck_lab.program import Program, Ref

from .conftest import OVERWRITE, lacking

SEED = "a = x1 * x2\nb = log(a)\nc = x1 * x3\nd = sin(c)\ne = x2 * x3\nf = b + d\nL = f + e"
SEED_POINT = {"x1": 2.0, "x2": 3.0, "x3": 4.0}


def reuses_a_node(program: Program) -> bool:
    uses = Counter(a.index for n in program.nodes for a in n.args if isinstance(a, Ref))
    return any(count > 1 for count in uses.values())


# ops whose backward, in the student engine, is the `+` or `*` backward for that operand
_PLUS_TIMES = {("add", 0), ("add", 1), ("mul", 0), ("mul", 1), ("sub", 0), ("sub", 1), ("div", 0), ("neg", 0)}


def overwrite_exposed(program: Program) -> bool:
    """Some node is read twice or more, and every read goes through a `+` or `*` backward."""
    reads: dict[int, list[tuple[str, int]]] = {}
    for n in program.nodes:
        for pos, a in enumerate(n.args):
            if isinstance(a, Ref):
                reads.setdefault(a.index, []).append((n.op, pos))
    return any(len(r) > 1 and all(x in _PLUS_TIMES for x in r) for r in reads.values())


def runnable(cases: list[Case], value_class: Any) -> list[Case]:
    """The cases whose op forms ``value_class`` has a method for."""
    missing = lacking(value_class)
    return [c for c in cases if not forms_of(c.program) & missing]


def run(cases: list[Case], value_class: Any, keys: AnswerKeys, samples: int = 2) -> Any:
    return check_cases(cases, InProcessExecutor(value_class), samples=samples, answer_keys=keys)


@pytest.mark.parametrize("engine", ["reference", "student"])
def test_correct_engines_pass_every_shipped_case(
    engine: str, shipped_cases: list[Case], answer_keys: AnswerKeys, student_class: Any
) -> None:
    # the student engine computes tanh as (e^2x - 1)/(e^2x + 1) and sigmoid as 1/(1 + e^-x);
    # it is judged on the cases of the ops it has (it predates any op added to the table since)
    value_class = Value if engine == "reference" else student_class
    result = run(runnable(shipped_cases, value_class), value_class, answer_keys)
    bad = {r.case.name: r.verdict for r in result.results if r.verdict not in ("ok", "nondifferentiable")}
    assert not bad
    assert result.exit_code == 0
    assert sum(r.nodes_checked for r in result.results) > 1000


def test_overwrite_bug_fails_fan_out_and_passes_trees(
    shipped_cases: list[Case], answer_keys: AnswerKeys, make_engine: Callable[..., Any]
) -> None:
    shipped_cases = runnable(shipped_cases, make_engine({}))
    result = run(shipped_cases, make_engine(OVERWRITE), answer_keys, samples=1)
    by_name = {r.case.name: r for r in result.results}
    fan_out = [c for c in shipped_cases if overwrite_exposed(c.program) and "kink" not in c.tags]
    assert len(fan_out) >= 10 and all("fan-out" in c.tags or "deep" in c.tags for c in fan_out)
    for case in fan_out:
        r = by_name[case.name]
        assert r.verdict == "grad-mismatch", case.name
        details = {n.detail for p in r.points for n in p.nodes if n.verdict == "grad-mismatch"}
        assert any("side with the symbolic value" in d for d in details), case.name
    trees = [c for c in shipped_cases if not reuses_a_node(c.program)]
    assert trees
    assert all(by_name[c.name].verdict in ("ok", "nondifferentiable") for c in trees)
    assert result.exit_code == 1


def test_the_overwrite_table_shows_all_three_oracles(make_engine: Callable[..., Any]) -> None:
    result = check("L = n + n", {"n": 4.0}, make_engine(OVERWRITE))
    node = result.points[0].nodes[0]
    assert (node.verdict, node.symbolic_grad, node.grad) == ("grad-mismatch", 2.0, 1.0)
    assert node.fd_grad == pytest.approx(2.0, abs=1e-9)
    table = result.table()
    assert "grad-mismatch" in table and "side with the symbolic value" in table


def test_a_one_in_a_million_gradient_error_fails(make_engine: Callable[..., Any]) -> None:
    off = make_engine({"self.grad += other.data * out.grad  # MUL-SELF":
                       "self.grad += other.data * out.grad * (1 + 1e-6)  # MUL-SELF"})
    result = check(SEED, SEED_POINT, off)
    assert result.verdict == "grad-mismatch"
    worst = max(n.error for p in result.points for n in p.nodes if n.error is not None)
    assert 5e-7 < worst < 1e-5


def test_a_wrong_forward_is_a_forward_mismatch(make_engine: Callable[..., Any]) -> None:
    wrong = make_engine({'out = Value(math.sin(self.data), (self,), "sin")':
                         'out = Value(math.sin(self.data) + 1e-3, (self,), "sin")'})
    result = check(SEED, SEED_POINT, wrong)
    verdicts = {n.name: n.verdict for n in result.points[0].nodes}
    assert verdicts["d"] == "forward-mismatch" and verdicts["c"] == "ok"


def test_a_consistent_wrong_function_has_finite_differences_side_with_autograd(
    make_engine: Callable[..., Any],
) -> None:
    # exp computes 2*exp(x) and differentiates that consistently: FD agrees with autograd
    wrong = make_engine({
        'out = Value(math.exp(self.data), (self,), "exp")': 'out = Value(2 * math.exp(self.data), (self,), "exp")',
    })
    result = check("L = exp(x) * y", {"x": 0.5, "y": 1.5}, wrong)
    x = result.points[0].nodes[0]
    assert x.verdict == "grad-mismatch" and "side with autograd" in x.detail


def test_missing_ops_are_unsupported(make_engine: Callable[..., Any]) -> None:
    no_gelu = make_engine({"def gelu(self):": "def _no_gelu(self):", "def __rsub__(self, other):": "def _no(self, o):"})
    r1 = check("L = gelu(x) * 2", {"x": 1.0}, no_gelu)
    assert r1.verdict == "unsupported" and "no gelu" in r1.points[0].message
    r2 = check("L = 2 - x", {"x": 1.0}, no_gelu)
    assert r2.verdict == "unsupported" and "no rsub" in r2.points[0].message


def test_exceptions_are_caught_with_a_traceback(make_engine: Callable[..., Any]) -> None:
    broken = make_engine({"self.grad += math.cos(self.data) * out.grad": "raise RuntimeError('oops')"})
    result = check(SEED, SEED_POINT, broken)
    point = result.points[0]
    assert result.verdict == "exception" and "RuntimeError: oops" in point.message
    assert "in backward()" in point.message and "raise RuntimeError" in point.traceback


def test_backward_without_seed_is_noted_and_still_judged(make_engine: Callable[..., Any]) -> None:
    lazy = make_engine({"        self.grad = 1.0\n        for node": "        for node"})
    result = check(SEED, SEED_POINT, lazy)
    assert result.verdict == "ok"
    assert any("did not set the output's grad" in n for n in result.points[0].notes)


def test_kinks_warn_and_domain_errors_are_reported_not_failed() -> None:
    kink = check("L = relu(x) * y", {"x": 0.0, "y": 2.0})
    assert kink.verdict == "nondifferentiable" and kink.ok
    assert {n.name: n.verdict for n in kink.points[0].nodes}["y"] == "ok"
    domain = check("L = log(x)", {"x": -1.0})
    assert domain.verdict == "domain-error" and "log needs a positive argument" in domain.points[0].message


def test_random_points_are_reproducible_and_inside_domains() -> None:
    program = parse_source("L = log(x) + 1 / y")
    case = Case("c", program, ({"x": 1.0, "y": 1.0},), sample={"y": (0.5, 2.0)})
    from gradcheck_lab.harness import sample_points

    first = sample_points(case, 5, seed=7)
    assert first == sample_points(case, 5, seed=7) != sample_points(case, 5, seed=8)
    assert all(p["x"] > 0 and 0.5 <= p["y"] <= 2.0 for p in first)


def test_expect_mismatch_is_an_input_error() -> None:
    case = Case("c", parse_source("L = x * x"), ({"x": 3.0},), expect={"x": Literal("6.5")}, file="f.toml")
    result = check_cases([case], InProcessExecutor(Value), samples=0)
    assert result.exit_code == 2
    assert "expect: x = 6.5, but the symbolic gradient dL/dx is 6" in str(result.results[0].expect_errors[0])


def test_assert_gradients_raises_an_assertion_with_the_table(make_engine: Callable[..., Any]) -> None:
    assert_gradients("L = x * x", {"x": 3.0})
    with pytest.raises(AssertionError) as info:
        assert_gradients("L = x * x", [{"x": 3.0}, {"x": -1.0}], make_engine(OVERWRITE))
    assert isinstance(info.value, GradientMismatch)
    assert "grad-mismatch" in str(info.value) and "symbolic" in str(info.value)
    message = str(info.value)
    assert message.startswith("source: L = x * x\npoints: [{'x': 3.0}, {'x': -1.0}]\n")
    rerun = message.rsplit("rerun: ", 1)[1]
    assert rerun.startswith("gradcheck_lab.check('L = x * x', [{'x': 3.0}, {'x': -1.0}], Value")
    import gradcheck_lab

    assert "grad-mismatch" in eval(rerun, {"gradcheck_lab": gradcheck_lab, "Value": make_engine(OVERWRITE)})


def test_a_float32_unit_roundoff_loosens_the_tolerance() -> None:
    strict = check("L = x * x", {"x": 3.0})
    loose = check("L = x * x", {"x": 3.0}, unit_roundoff=2.0**-24)
    assert loose.points[0].nodes[0].grad_tol > 1e8 * strict.points[0].nodes[0].grad_tol


def test_finite_differences_only_on_mismatch(make_engine: Callable[..., Any]) -> None:
    from gradcheck_lab.harness import check_case

    case = Case("c", parse_source("L = x * x + y"), ({"x": 3.0, "y": 1.0},))
    ok = check_case(case, InProcessExecutor(Value), samples=0, finite_differences="on-mismatch")
    assert all(n.fd_grad is None for n in ok.points[0].nodes)
    bad = check_case(case, InProcessExecutor(make_engine(OVERWRITE)), samples=0, finite_differences="on-mismatch")
    assert bad.points[0].nodes[0].fd_grad == pytest.approx(6.0)
    assert all(r.verdict not in FAILURES for r in [ok])


def test_first_wrong_node_is_where_accumulation_fails(make_engine: Callable[..., Any]) -> None:
    # a = x*y is read twice (by a*a and by the final +): its gradient is the first to go wrong
    result = check("a = x * y\nL = a * a + a", {"x": 1.5, "y": -2.0}, make_engine(OVERWRITE))
    program = result.case.program
    assert [program.nodes[k].title for k in result.points[0].first_wrong(program)] == ["a"]
    assert "the backward pass first goes wrong at: a" in result.table()


def test_nodes_made_when_first_read_are_the_nodes_judging_says(
    shipped_cases: list[Case], answer_keys: AnswerKeys, make_engine: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a point's node checks are made when first read (a grader only counts their verdicts),
    # and where every node agrees, judged all at once in C: its verdict and tally, read
    # before, are what its nodes say, and its nodes are those of the node-by-node pass, on
    # a correct engine and on buggy ones
    from gradcheck_lab import compare
    from gradcheck_lab.batches import execute_all
    from gradcheck_lab.plan import Session, judge

    engines = {
        "correct": Value,
        "overwrite": make_engine(OVERWRITE),
        "one in a million": make_engine({"self.grad += other.data * out.grad  # MUL-SELF":
                                         "self.grad += other.data * out.grad * (1 + 1e-6)  # MUL-SELF"}),
        "wrong sin": make_engine({'out = Value(math.sin(self.data), (self,), "sin")':
                                  'out = Value(math.sin(self.data) + 1e-3, (self,), "sin")'}),
    }
    session = Session(answer_keys)
    cases = runnable(shipped_cases, make_engine({}))[::3]
    for name, value_class in engines.items():
        agreed = disagreed = 0
        for case in cases:
            plan = session.plan(case, 1, 0)
            results = execute_all(InProcessExecutor(value_class), plan.requests)
            for options in ({}, {"relative_floor": 1e-7}, {"unit_roundoff": 2.0**-24}):
                lazy = judge(plan, results, **options)
                summaries = [(p.verdict, p.tally()) for p in lazy.points]
                firsts = [p.first_failing() for p in lazy.points]
                assert all(p._nodes is None for p in lazy.points if not p.message), (name, case.name)  # not made
                assert firsts == [next((n for n in p.nodes if n.verdict in FAILURES), None) for p in lazy.points]
                with monkeypatch.context() as m:  # every point judged node by node
                    m.setattr(compare, "_agree", lambda *args: False)
                    slow = judge(plan, results, **options)
                made = [(p.verdict, p.tally()) for p in slow.points for _ in [p.nodes]]
                assert summaries == made, (name, case.name)
                assert lazy == slow and repr(lazy) == repr(slow), (name, case.name)
                quiet = judge(plan, results, **options, explain=False)  # no witness asked
                for p, q in zip(lazy.points, quiet.points):
                    assert [(n.verdict, "" if n.verdict == "grad-mismatch" else n.detail) for n in p.nodes] == \
                           [(n.verdict, n.detail) for n in q.nodes]
                agreed += sum(v == "ok" for v, _ in summaries)
                disagreed += sum(v != "ok" for v, _ in summaries)
        assert agreed > 100, name  # every engine agrees at most points
        if name != "correct":
            assert disagreed > 10, name
