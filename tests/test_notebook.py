"""check_engine(Value) and explain(Value, ...) on class objects, in process, under the
grader's time limits: the same diagnosis as grade, shown as text and as an HTML fragment."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from gradcheck_lab import Value, check_engine, collect_cases, explain
from gradcheck_lab.implementations import load_value_class
from gradcheck_lab.inprocess import InProcessRunner, Limits
from gradcheck_lab.report.notebook import SCOPE
from gradcheck_lab.submissions import ChildFailure
from tests.conftest import ROOT, SEED_ENGINES, seed004_before

#: For the tests that are not about time: a loaded machine must not turn a probe into a timeout.
ROOMY = Limits(timeout=300.0, request_timeout=60.0, probe_timeout=120.0)


@pytest.fixture(scope="module")
def fan_out() -> list[Any]:
    cases, errors = collect_cases([ROOT / "cases/fan_out.toml"])
    assert not errors
    return cases


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_seed004_before_correction_is_named_grad_overwrite(tmp_path: Path, fan_out: list[Any], cache: Path) -> None:
    found = check_engine(load_value_class(seed004_before(tmp_path)), fan_out, cache_dir=cache, limits=ROOMY)
    assert not found.ok and found.verdict == "wrong"
    assert found.codes[0] == "grad-overwrite"
    assert found.showcase is not None and found.showcase.case.name == "counterexample"
    assert found.showcase.case.program.nodes[-1].op in ("add", "mul")  # x + x or x * x: two nodes
    text = str(found)
    assert repr(found) == text
    assert "grad-overwrite: = instead of += in every backward" in text
    assert "reuse:add  x + x" in text  # the evidence, probe by probe
    assert 'source = "L = x' in text  # the counterexample to paste
    assert "Your engine parts from the truth first in the backward pass, at x" in text
    missing = next(line for line in text.splitlines() if line.startswith("Missing operator forms (not wrong, "))
    assert {"cos", "log", "sin", "rsub"} <= set(missing.split(": ")[1].split(", "))
    page = found._repr_html_()
    assert page.startswith(f'<div class="{SCOPE}"><style>') and "<html" not in page and "<body" not in page
    assert "<code>grad-overwrite</code>" in page and "Walk-through: backprop step by step" in page
    assert "Gradients before backprop" in page  # what the class printed, kept apart
    data = json.loads(json.dumps(found.to_json()))
    assert data["ok"] is False and data["codes"] == found.codes and data["grade"]["verdict"] == "wrong"


def test_seed004_corrected_passes(fan_out: list[Any], cache: Path) -> None:
    found = check_engine(load_value_class(SEED_ENGINES / "seed004.py"), fan_out, cache_dir=cache, limits=ROOMY)
    assert found.ok, str(found)
    assert found.verdict == "partial"  # it has no sin, log, relu...: absent, not wrong
    assert "grad-overwrite" not in found.codes
    assert "unsupported:sin" in found.codes
    assert found.to_json()["ok"] is True


def test_the_reference_engine_on_grades_default_cases_is_correct(cache: Path) -> None:
    found = check_engine(Value, cache_dir=cache, limits=ROOMY)
    assert found.ok and found.verdict == "correct" and found.codes == []
    assert found.grade.score == found.grade.max_score
    assert found.showcase is None
    assert str(found).startswith("gradcheck_lab.engine.Value: correct\nscore: ")
    assert f"finding: all {len(found.grade.cases)} cases agree" in str(found)


HANGS = '''
import math
class Value:
    def __init__(self, data, _children=()):
        self.data, self.grad, self._prev = data, 0.0, _children
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other))
    def backward(self):
        while True:
            pass
'''


def test_a_hanging_engine_times_out_within_the_limits(tmp_path: Path, fan_out: list[Any], cache: Path) -> None:
    (tmp_path / "hangs.py").write_text(HANGS)
    started = time.monotonic()
    limits = Limits(timeout=2.0, request_timeout=0.3, probe_timeout=1.0)
    found = check_engine(load_value_class(tmp_path / "hangs.py"), fan_out, limits=limits, cache_dir=cache)
    assert time.monotonic() - started < 15
    assert found.verdict == "timeout" and not found.ok
    assert found.codes[0] == "timeout"


def test_the_probes_budget_is_their_own() -> None:
    from gradcheck_lab.batches import Request
    from gradcheck_lab.source import parse_source

    ex = InProcessRunner(load_hangs(), Limits(timeout=5.0, request_timeout=0.2, probe_timeout=0.3, max_restarts=30))
    ex.start()
    program = parse_source("L = x + y")
    found = ex.execute_batch([Request(program, ({"x": 1.0, "y": 2.0},))] * 30, budget=0.3)
    assert [f.kind for f in found if isinstance(f, ChildFailure)] == ["timeout"] * 30
    # each spin costs up to 0.2 s of CPU time: the probes' 0.3 s are spent after a few, the rest are not run
    assert "not run: the probes' 0.3 s are spent" in str(found[-1])
    with pytest.raises(ChildFailure, match=r"ran longer than 0\.2 s"):  # the check's own budget is untouched
        ex.execute(program, [{"x": 1.0, "y": 2.0}], [])


def load_hangs() -> Any:
    namespace: dict[str, Any] = {}
    exec(HANGS, namespace)
    return namespace["Value"]


def test_check_engine_wants_the_class() -> None:
    from gradcheck_lab import GradcheckError

    with pytest.raises(GradcheckError, match=r"the class itself"):
        check_engine(Value(1.0))


def test_explain_is_a_rich_object(tmp_path: Path) -> None:
    wrong = load_value_class(seed004_before(tmp_path))
    e = explain(wrong, "L = n + n", {"n": 4.0})
    assert not e.ok and e.verdict == "grad-mismatch"
    assert "n.grad should be 2, yours is 1" in str(e)
    assert "Backward pass" in str(e) and "<h4>Backward pass</h4>" in e._repr_html_()
    assert explain(Value, "L = log(x1*x2) + sin(x1*x3) + x2*x3", {"x1": 2.0, "x2": 3.0, "x3": 4.0}, by_hand=True) \
        .walkthrough.grads[:3] == [-0.0819, 4.3334, 2.709]
    with pytest.raises(Exception, match="no value for m"):
        explain(Value, "L = n * m", {"n": 1.0})
