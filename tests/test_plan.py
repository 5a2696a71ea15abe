"""Plans and judgements: a judgement is pure, the grader batches every case's requests into
one message to the child and judges each from its results by position, and the tolerance
model's relative floor changes a verdict end to end."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from gradcheck_lab import GradientMismatch, assert_gradients, check
from gradcheck_lab.batches import Descend, Request, execute_all
from gradcheck_lab.cases import collect_cases
from gradcheck_lab.diagnose.catalog import submission_source
from gradcheck_lab.engine import Value
from gradcheck_lab.executors import Execution, InProcessExecutor
from gradcheck_lab.grading import GradeConfig, SubmissionGrade, Verdict, warm_answer_keys
from gradcheck_lab.grading.run import judge_submission
from gradcheck_lab.harness import Run
from gradcheck_lab.implementations import load_value_class
from gradcheck_lab.plan import FiniteDifferences, Session, failure_of, judge, plan_case, plan_witness
from gradcheck_lab.submissions import Limits, SandboxExecutor, extract_source
from tests.slightly_wrong import SIN_SIGN, engine_file

ROOT = Path(__file__).resolve().parent.parent


class Counting:
    """An executor that counts what reaches the one it wraps: batches, single calls, descents."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.batches: list[list[Request]] = []
        self.calls = 0
        self.descents = 0

    def execute_batch(self, requests: Sequence[Request], **options: Any) -> list[Any]:
        self.batches.append(list(requests))
        return self.executor.execute_batch(requests, **options)

    def descend(self, program: Any, start: Mapping[str, float], steps: int, lr: float) -> Any:
        self.descents += 1
        return self.executor.descend(program, start, steps, lr)

    def execute(self, *args: Any, **kwargs: Any) -> Execution:
        self.calls += 1
        result: Execution = self.executor.execute(*args, **kwargs)
        return result


def test_judging_a_plan_twice_gives_equal_results_and_runs_nothing(tmp_path: Path) -> None:
    [case], errors = collect_cases([ROOT / "cases/worked_examples.toml::log-sin-product"])
    assert not errors
    wrong = InProcessExecutor(load_value_class(engine_file(tmp_path, SIN_SIGN)))
    plan = plan_case(case, Session(), samples=2, seed=3)
    assert plan == plan_case(case, Session(), samples=2, seed=3)  # the plan is a function of its inputs
    results = execute_all(wrong, plan.requests)
    kept = copy.deepcopy(results)
    first, again = judge(plan, results), judge(plan, results)
    assert first == again and first is not again and results == kept  # nothing read but its inputs, nothing changed
    assert first.verdict == "grad-mismatch"  # the sign slip in sin's backward is seen
    witness = plan_witness(plan, first, FiniteDifferences.FIRST_MISMATCH)
    assert witness is not None and len(witness.wanted) == 1 and not witness.request.observe
    [execution] = execute_all(wrong, [witness.request])
    assert isinstance(execution, Execution)
    seen = judge(plan, results, witness=(witness, execution))
    assert seen == judge(plan, results, witness=(witness, execution))
    details = {n.detail for p in seen.points for n in p.nodes if n.verdict == "grad-mismatch"}
    assert "finite differences side with the symbolic value: the backward pass is wrong" in details


def test_a_training_plan_holds_its_descent() -> None:
    [case], errors = collect_cases([ROOT / "cases/training.toml::descent-quadratic"])
    assert not errors
    plan = plan_case(case, Session(), samples=0)
    assert plan.descent == Descend(case.program, case.points[0], 100, 0.1) and plan.requests[1] == plan.descent
    assert plan.exact is not None and len(plan.exact.losses) == 101
    results = execute_all(InProcessExecutor(Value), plan.requests)
    assert failure_of(results) is None
    t = judge(plan, results).training
    assert t is not None and (t.verdict, t.parted_at) == ("ok", None)


def test_the_grader_sends_every_case_in_one_batch(tmp_path: Path) -> None:
    """All shipped cases (training included) against a buggy engine in the sandbox: one
    batch holds every case's request, in the cases' order; each descent is one message; no
    single call goes to the child."""
    cases, errors = collect_cases([ROOT / "cases"])
    assert not errors
    config = GradeConfig(tuple(cases), limits=Limits(timeout=60.0, request_timeout=10.0, memory_mb=512), samples=1,
                         cache_dir=str(tmp_path / "keys"), hidden=(str(tmp_path),), diagnose=False)
    warm_answer_keys(config)
    source = submission_source(["wrong-local:tanh"])
    grade = SubmissionGrade("s", "s.py", "", Verdict.CORRECT, 0.0, 0.0, "")
    with SandboxExecutor(extract_source("s", source), config.limits) as child:
        child.start()
        ex = Counting(child)
        results = judge_submission(ex, grade, config, Run([], [], "s", 0, 1))  # type: ignore[arg-type]
    programs = [[r.program for r in batch] for batch in ex.batches]
    plans = [plan_case(c, config.session, samples=1) for c in cases]
    assert [[p.request.program for p in plans]] == [b for b in programs if len(b) == len(cases)]
    assert ex.batches[-1] and all(not r.observe and r.forward for r in ex.batches[-1])  # the witnesses: one batch
    assert ex.calls == 0 and ex.descents == sum(1 for c in cases if c.steps)
    assert len(ex.batches) <= 4  # the probes, their witnesses, the cases, the cases' witnesses
    assert grade.verdict is Verdict.WRONG and any(r.verdict == "grad-mismatch" for r in results)
    assert any("tanh" in r.case.source and r.verdict == "grad-mismatch" for r in results)


def test_a_relative_floor_changes_a_verdict(tmp_path: Path) -> None:
    """An engine whose sin slope is off by 1e-9 (relative) fails the error bounds alone and
    passes with a relative floor of 1e-6; ``assert_gradients`` follows and its rerun line
    carries the knob."""
    close = load_value_class(engine_file(tmp_path, {
        "self.grad += math.cos(self.data) * out.grad": "self.grad += math.cos(self.data) * (1 + 1e-9) * out.grad",
    }))
    source, point = "L = sin(x) * 3", {"x": 0.7}
    assert check(source, point, close).verdict == "grad-mismatch"
    assert check(source, point, close, relative_floor=1e-6).verdict == "ok"
    assert check(source, point, close, relative_floor=1e-12).verdict == "grad-mismatch"
    assert_gradients(source, point, close, relative_floor=1e-6)
    with pytest.raises(GradientMismatch, match=r"relative_floor=1e-10\)"):
        assert_gradients(source, point, close, relative_floor=1e-10)
