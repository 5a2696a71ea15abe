"""The sandbox: every hostile behaviour ends as a verdict, the grader's files stay untouched,
and nothing but plain floats from the child ever reaches a verdict.

The helpers at the top (a tiny case set, a grading config, grading one source) are
shared by the other ``test_grading*``/``test_gradescope*`` modules.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_lab.batches import Descend, Request, descend_all, execute_all
from gradcheck_lab.cases import Case, collect_cases
from gradcheck_lab.engine import Value
from gradcheck_lab.executors import Execution, InProcessExecutor
from gradcheck_lab.grading import GradeConfig, SubmissionGrade, grade_batch, grade_submission, warm_answer_keys
from gradcheck_lab.source import parse_source
from gradcheck_lab.submissions import ChildFailure, Limits, SandboxExecutor, SubmissionRef, discover, extract_source
from gradcheck_lab.submissions.child import HEADER
from gradcheck_lab.submissions.protocol import (
    MAX_REPLY,
    ChannelClosed,
    ChannelTimeout,
    ProtocolError,
    Replies,
    TooLarge,
    execution_from_json,
    pack,
    unpack,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "submissions"

TINY_CASES = '''
[[case]]
name = "reuse"
source = "L = (x + x) * x"
points = [{x = 1.5}]

[[case]]
name = "exp-chain"
source = """
a = x * y
L = exp(a) + a
"""
points = [{x = 0.5, y = -0.3}]
weight = 2

[[case]]
name = "secret-tanh"
source = "L = tanh(x) * 3"
points = [{x = 0.2}]
hidden = true
'''

#: A correct engine with the ops the tiny cases need; hostile variants are built from it.
ENGINE = '''
import math


class Value:
    def __init__(self, data, _children=()):
        self.data = data
        self.grad = 0.0
        self._prev = tuple(_children)
        self._backward = lambda: None

    def _wrap(self, other):
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other):
        other = self._wrap(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    __radd__ = __add__

    def __mul__(self, other):
        other = self._wrap(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    __rmul__ = __mul__

    def exp(self):
        out = Value(math.exp(self.data), (self,))

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward():
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        order, seen = [], set()

        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for c in v._prev:
                    visit(c)
                order.append(v)
        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()
'''


def tiny_config(root: Path, **options: object) -> GradeConfig:
    """The tiny case set with its answer keys cached under ``root`` (computed once)."""
    root.mkdir(parents=True, exist_ok=True)
    cases_file = root / "tiny.toml"
    if not cases_file.exists():
        cases_file.write_text(TINY_CASES)
    cases, errors = collect_cases([cases_file])
    assert not errors
    limits = options.pop("limits", Limits(timeout=6.0, request_timeout=1.0, memory_mb=512, max_restarts=1))
    config = GradeConfig(tuple(cases), limits=limits, samples=1, cache_dir=str(root / "keys"),  # type: ignore[arg-type]
                         hidden=(str(root),), **options)  # type: ignore[arg-type]
    warm_answer_keys(config)
    return config


def engine_with(body: str = "", *, replace: dict[str, str] | None = None) -> str:
    """The correct engine, with text replaced and ``body`` appended (top-level code)."""
    text = ENGINE
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return text + body


def grade_source(tmp_path: Path, config: GradeConfig, source: str, name: str = "student.py") -> SubmissionGrade:
    path = tmp_path / name
    path.write_text(source)
    return grade_submission(SubmissionRef(path.stem, path), config).grade


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> GradeConfig:
    return tiny_config(tmp_path_factory.getbasetemp() / "tiny-grading", probes=False)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the baseline


def test_the_correct_engine_is_correct(tmp_path: Path, config: GradeConfig) -> None:
    grade = grade_source(tmp_path, config, ENGINE)
    assert grade.verdict == "correct", grade.finding
    assert grade.score == grade.max_score == 4.0
    assert [c.verdict for c in grade.cases] == ["ok", "ok", "ok"]


def test_the_child_never_imports_sympy_nor_the_package_init(tmp_path: Path, config: GradeConfig) -> None:
    source = engine_with("\nimport sys\nSEEN = print(sorted(m for m in sys.modules if m.startswith(('sympy', "
                         "'gradcheck_lab'))))\n", replace={"import math": "import math\nimport sys"})
    source = source.replace("    def backward(self):", "    def backward(self):\n        SEEN", 1)
    grade = grade_source(tmp_path, config, source)
    assert "sympy" not in grade.output
    assert grade.output == "[]\n"  # a clean child: nothing of the grader's package, nor SymPy


# --------------------------------------------------------------------------- hostile behaviours


def test_printing_is_captured_and_cannot_fake_a_reply(tmp_path: Path, config: GradeConfig) -> None:
    fake = json.dumps({"ok": True, "observations": [{"data": [1.0], "grads": [1.0]}]})
    source = engine_with(replace={"        self.grad = 1.0\n": f"        self.grad = 1.0\n        print({fake!r})\n"})
    grade = grade_source(tmp_path, config, source)
    assert grade.verdict == "correct"
    assert '"ok": true' in grade.output
    assert any("prints while it runs" in n for n in grade.notes)


def test_writes_outside_the_temporary_folder_are_refused(tmp_path: Path, config: GradeConfig) -> None:
    target = tmp_path / "grader_owned.txt"
    target.write_text("the grader's")
    outside = tmp_path / "new_file.txt"
    writer = (f"        open({str(target)!r}, 'w').write('pwned')\n"
              f"        import pathlib; pathlib.Path({str(outside)!r}).write_text('x')\n")
    source = engine_with(replace={"    def backward(self):\n": "    def backward(self):\n" + writer})
    before = _snapshot(tmp_path)
    grade = grade_source(tmp_path, config, source)
    assert grade.verdict == "wrong"
    assert "PermissionError" in grade.cases[0].message and "sandbox refuses" in grade.cases[0].message
    assert target.read_text() == "the grader's" and not outside.exists()
    assert _snapshot(tmp_path) == {**before, str(tmp_path / "student.py"): (tmp_path / "student.py").read_bytes()}


def test_files_inside_its_own_folder_are_fine(tmp_path: Path, config: GradeConfig) -> None:
    writer = "        open('scratch.txt', 'w').write('ok')\n        open('scratch.txt').read()\n"
    source = engine_with(replace={"    def backward(self):\n": "    def backward(self):\n" + writer})
    assert grade_source(tmp_path, config, source).verdict == "correct"
    assert not (tmp_path / "scratch.txt").exists()


@pytest.mark.parametrize("attack, refused", [
    ("import subprocess; subprocess.run(['touch', MARK])", "importing _posixsubprocess"),
    ("import os; os.system('touch ' + MARK)", "os.system"),
    ("import os; os.kill(os.getppid(), 9)", "os.kill"),
    ("import socket; socket.socket()", "socket"),
    ("import ctypes", "ctypes"),
    ("import os; os.remove(MARK + '.keep')", "os.remove"),
    ("import resource; resource.setrlimit(resource.RLIMIT_CPU, (-1, -1))", "resource.setrlimit"),
    ("open(CACHE + '/x.json')", "outside what a submission may read"),
    ("open('/etc/shadow')", "outside what a submission may read"),
    ("import os; os.listdir(os.path.dirname(MARK))", "outside what a submission may read"),
    ("import gradcheck_lab.engine", "refuses importing gradcheck_lab"),
])
def test_the_audit_hook_refuses(tmp_path: Path, config: GradeConfig, attack: str, refused: str) -> None:
    mark = tmp_path / "marker"
    (tmp_path / "marker.keep").write_text("keep")
    prelude = f"MARK = {str(mark)!r}\nCACHE = {config.cache_dir!r}\n"
    backward = "    def backward(self):\n"
    source = prelude + engine_with(replace={backward: f"{backward}        {attack}\n"})
    grade = grade_source(tmp_path, config, source)
    assert grade.verdict == "wrong"
    assert refused in grade.cases[0].message, grade.cases[0].message
    assert not mark.exists() and (tmp_path / "marker.keep").exists()


@pytest.mark.parametrize("where, code, verdict, words", [
    ("class", "raise RuntimeError('boom at import')", "crash", "RuntimeError: boom at import"),
    ("class", "import sys; sys.exit(3)", "crash", "sys.exit(3)"),
    ("class", "import os; os._exit(4)", "crash", "exit status 4"),
    ("class", "x = bytearray(2**33)", "memory", "MemoryError"),
    ("backward", "import os; os._exit(5)", "crash", "exit status 5"),
    ("backward", "import sys; sys.exit(0)", "crash", "sys.exit(0)"),
    ("backward", "junk = []\n        while True: junk.append(bytes(10**8))", "memory", "MemoryError"),
    ("backward", "while True: pass", "timeout", "ran longer than"),
    ("backward", "import time; time.sleep(60)", "timeout", "ran longer than"),
    ("init", "Value(data)", "crash", "RecursionError"),
])
def test_each_failure_is_a_verdict(tmp_path: Path, config: GradeConfig, where: str, code: str, verdict: str,
                                   words: str) -> None:
    anchor = {"class": "class Value:\n", "backward": "    def backward(self):\n",
              "init": "    def __init__(self, data, _children=()):\n"}[where]
    indent = "    " if where == "class" else "        "
    source = engine_with(replace={anchor: anchor + indent + code + "\n"})
    started = time.monotonic()
    grade = grade_source(tmp_path, config, source)
    assert time.monotonic() - started < config.limits.timeout + 3
    assert grade.verdict == verdict, (grade.verdict, grade.finding)
    assert grade.score == 0.0
    assert words in grade.finding + grade.error, grade.finding


def test_a_case_that_hangs_does_not_stop_the_others(tmp_path: Path, config: GradeConfig) -> None:
    source = engine_with(replace={"    def tanh(self):\n": "    def tanh(self):\n        while True: pass\n"})
    grade = grade_source(tmp_path, config, source)
    assert [c.verdict for c in grade.cases] == ["ok", "ok", "timeout"]
    assert grade.verdict == "timeout" and grade.score == 3.0


def test_forged_replies_are_refused(tmp_path: Path, config: GradeConfig) -> None:
    forge = (
        "import json, os, struct\n\n\n"
        "def forge():\n"
        "    body = json.dumps({'nonce': 'guess', 'ok': True, 'result': {'observations': [], 'forwards': []}})\n"
        "    for fd in range(3, 64):\n"
        "        try: os.write(fd, struct.pack('>I', len(body)) + body.encode())\n"
        "        except OSError: pass\n"
    )
    source = forge + engine_with(replace={"    def backward(self):\n": "    def backward(self):\n        forge()\n"})
    grade = grade_source(tmp_path, config, source)
    assert grade.verdict == "crash"
    assert "refused" in grade.finding
    assert grade.score == 0.0


def test_grads_that_are_not_numbers_are_not_accepted(tmp_path: Path, config: GradeConfig) -> None:
    source = engine_with(replace={"        for v in reversed(order):\n            v._backward()\n":
                                  "        for v in reversed(order):\n            v._backward()\n"
                                  "        for v in order:\n            v.grad = str(v.grad)\n"})
    grade = grade_source(tmp_path, config, source)
    assert grade.verdict == "wrong"
    assert all(c.verdict == "exception" for c in grade.cases)


# --------------------------------------------------------------------------- the flexible contract


def test_float32_engines_are_judged_by_float32_bounds(tmp_path: Path, config: GradeConfig) -> None:
    rounding = "import struct\n\ndef f32(x):\n    return struct.unpack('f', struct.pack('f', float(x)))[0]\n"
    source = rounding + engine_with(replace={
        "        self.data = data\n": "        self.data = f32(data)\n",
        "        self.grad += out.grad\n": "        self.grad = f32(self.grad + out.grad)\n",
    })
    grade = grade_source(tmp_path, config, source)
    assert grade.precision == "float32"
    assert any("float32" in n for n in grade.notes)
    assert grade.verdict == "correct", grade.finding


def test_a_backward_that_needs_seeding_is_judged_seeded(tmp_path: Path, config: GradeConfig) -> None:
    grade = grade_source(tmp_path, config, engine_with(replace={"        self.grad = 1.0\n": ""}))
    assert all(c.passed for c in grade.cases)  # judged seeded: every case agrees...
    assert grade.verdict == "wrong" and "no-seed-grad" in grade.codes  # ...but the default assignment wants it seeded
    assert any("seeding it by hand" in n for n in grade.notes)


def test_odd_but_legal_classes_are_graded(tmp_path: Path, config: GradeConfig) -> None:
    """__slots__ (no label attribute), an __eq__ that makes nodes unhashable, a broken
    __repr__, int grads, and a backward() that clears the graph afterwards."""
    odd = engine_with(replace={
        "class Value:\n": "class Value:\n    __slots__ = ('data', 'grad', '_prev', '_backward')\n\n"
                          "    def __repr__(self):\n        raise RuntimeError('no repr')\n\n"
                          "    def __eq__(self, other):\n        return Value(0)\n\n    __hash__ = None\n\n",
        "        self.grad = 0.0\n": "        self.grad = 0\n",
        "        self.grad = 1.0\n": "        self.grad = 1\n",
        "        for v in reversed(order):\n            v._backward()\n":
            "        for v in reversed(order):\n            v._backward()\n        for v in order:\n"
            "            v._prev = ()\n",
    })
    grade = grade_source(tmp_path, config, odd)
    assert grade.verdict == "correct", grade.finding


def test_sibling_modules_of_a_folder_are_importable_and_copied(tmp_path: Path, config: GradeConfig) -> None:
    folder = tmp_path / "erin"
    folder.mkdir()
    (folder / "helpers.py").write_text("import math\n\ndef slope_of_tanh(t):\n    return 1 - t * t\n")
    (folder / "engine.py").write_text(engine_with(replace={
        "import math\n": "import math\nfrom helpers import slope_of_tanh\n",
        "(1 - t * t)": "slope_of_tanh(t)",
    }))
    before = _snapshot(folder)
    grade = grade_submission(SubmissionRef("erin", folder), config).grade
    assert grade.verdict == "correct", grade.finding
    assert grade.main.endswith("engine.py")
    assert _snapshot(folder) == before  # no __pycache__ or anything else written beside the originals


def test_the_examples_run_in_the_sandbox(tmp_path: Path, config: GradeConfig) -> None:
    grades = {p.stem: grade_submission(SubmissionRef(p.stem, p), config).grade
              for p in (EXAMPLES / "correct.py", EXAMPLES / "notebook.ipynb", EXAMPLES / "dana")}
    assert {k: g.verdict for k, g in grades.items()} == {"correct": "correct", "notebook": "correct",
                                                          "dana": "correct"}


# --------------------------------------------------------------------------- the executor itself


def test_the_executor_restarts_after_a_failure_then_gives_up(tmp_path: Path) -> None:
    sub = extract_source("s", engine_with(replace={"    def exp(self):\n": "    def exp(self):\n        import os; "
                                                                          "os._exit(9)\n"}))
    program, exp = parse_source("L = x * x"), parse_source("L = exp(x)")
    with SandboxExecutor(sub, Limits(timeout=10, request_timeout=2, max_restarts=1)) as ex:
        ex.start()
        assert ex.execute(program, [{"x": 2.0}], []).observations[0].grads == [4.0, 1.0]
        with pytest.raises(ChildFailure, match="exit status 9"):
            ex.execute(exp, [{"x": 1.0}], [])
        assert ex.execute(program, [{"x": 3.0}], []).observations[0].grads == [6.0, 1.0]  # a fresh child
        with pytest.raises(ChildFailure, match="exit status 9"):
            ex.execute(exp, [{"x": 1.0}], [])
        with pytest.raises(ChildFailure, match="not run"):
            ex.execute(program, [{"x": 3.0}], [])
        assert ex.restarts == 1


def test_the_whole_budget_bounds_a_slow_submission(tmp_path: Path) -> None:
    sub = extract_source("s", engine_with(replace={"    def backward(self):\n": "    def backward(self):\n"
                                                                                 "        import time; "
                                                                                 "time.sleep(0.4)\n"}))
    program = parse_source("L = x * x")
    started = time.monotonic()
    with SandboxExecutor(sub, Limits(timeout=1.0, request_timeout=1.0)) as ex:
        ex.start()
        with pytest.raises(ChildFailure) as failure:
            for _ in range(10):
                ex.execute(program, [{"x": 2.0}], [])
    assert failure.value.kind == "timeout"
    assert time.monotonic() - started < 2.5


def test_a_batch_answers_as_the_calls_one_by_one_would(tmp_path: Path) -> None:
    """One message for many requests: a request that ends the child gets its failure, the
    rest go to a fresh child, and the restarts are counted as for single calls."""
    sub = extract_source("s", engine_with(replace={"    def exp(self):\n": "    def exp(self):\n        import os; "
                                                                          "os._exit(9)\n"}))
    square, exp = parse_source("L = x * x"), parse_source("L = exp(x)")
    requests = [Request(square, ({"x": 2.0},)), Request(exp, ({"x": 1.0},)), Request(square, ({"x": 3.0}, {"x": 4.0}))]
    with SandboxExecutor(sub, Limits(timeout=10, request_timeout=2, max_restarts=1)) as ex:
        ex.start()
        first, failed, last = ex.execute_batch(requests)
        assert isinstance(first, Execution) and first.observations[0].grads == [4.0, 1.0]
        assert isinstance(failed, ChildFailure) and "exit status 9" in failed.message
        assert isinstance(last, Execution) and [o.grads for o in last.observations] == [[6.0, 1.0], [8.0, 1.0]]
        assert ex.restarts == 1
        crashed, skipped = ex.execute_batch(requests[1:])
        assert isinstance(crashed, ChildFailure) and "exit status 9" in crashed.message
        assert isinstance(skipped, ChildFailure) and "not run" in skipped.message


def test_the_probes_budget_is_their_own(tmp_path: Path) -> None:
    """Requests run on a budget of their own spend neither the submission's budget nor its
    restarts: slow probes (or a hanging one) cannot starve the cases, nor the cases them."""
    sleepy = extract_source("s", engine_with(replace={"    def backward(self):\n": "    def backward(self):\n"
                                                                                    "        import time; "
                                                                                    "time.sleep(0.5)\n"}))
    program = parse_source("L = x * x")
    probes = [Request(program, ({"x": float(k)},)) for k in range(5)]  # 2.5 s: more than the submission's 2 s
    with SandboxExecutor(sleepy, Limits(timeout=2.0, request_timeout=2.0, probe_timeout=3.0)) as ex:
        ex.start()
        assert all(isinstance(r, Execution) for r in ex.execute_batch(probes, budget=3.0))
        assert all(isinstance(r, Execution) for r in ex.execute_batch(probes[:2]))  # 1 s of the submission's 2 s
        done, late, skipped = ex.execute_batch(probes[:3])  # 0.5 s more fit (after the start), not 1 s
        assert isinstance(done, Execution) and isinstance(late, ChildFailure) and isinstance(skipped, ChildFailure)
        assert late.kind == "timeout" and "the submission's time budget (2 s)" in late.message
        assert skipped.message == "not run: the submission's 2 s are spent"


def test_a_descent_is_one_message_with_a_deadline_per_step(tmp_path: Path) -> None:
    """The child steps a gradient descent itself (one reply per step, the points the parent
    would have sent); a step that hangs times out like a single call."""
    program = parse_source("L = x * x")
    expected = descend_all(InProcessExecutor(Value), Descend(program, {"x": 1.0}, 5, 0.25))
    with SandboxExecutor(extract_source("s", ENGINE)) as ex:
        ex.start()
        found = ex.descend(program, {"x": 1.0}, 5, 0.25)
    assert [p for p, _ in found] == [p for p, _ in expected] and len(found) == 6
    assert [r.observations[0].grads for _, r in found] == [r.observations[0].grads for _, r in expected]  # type: ignore[union-attr]
    stuck = extract_source("s", engine_with(replace={"    def backward(self):\n": "    def backward(self):\n"
                                                                                    "        while self.data < 0.01: "
                                                                                    "pass\n"}))
    with SandboxExecutor(stuck, Limits(timeout=10, request_timeout=0.5)) as ex:
        ex.start()
        found = ex.descend(program, {"x": 1.0}, 5, 0.25)
    assert [isinstance(r, ChildFailure) for _, r in found] == [False, False, False, False, True]
    assert "ran longer than 0.5 s" in found[-1][1].message  # type: ignore[union-attr]


def test_shared_programs_travel_with_the_submission(tmp_path: Path) -> None:
    program = parse_source("L = x * x + x")
    for _ in range(2):
        with SandboxExecutor(extract_source("s", ENGINE), shared=[program]) as ex:
            ex.start()
            assert "program" not in ex._wire(program)  # the load request brought it: only its key travels
            assert ex.execute(program, [{"x": 3.0}], []).observations[0].grads == [7.0, 1.0, 1.0]


def test_execute_all_answers_by_position_descents_included() -> None:
    """Requests go in one batch, descents after it, and each result comes back where its request stood."""
    batches: list[int] = []

    class Counting(InProcessExecutor):
        def execute_batch(self, requests, **options):  # type: ignore[no-untyped-def]
            batches.append(len(requests))
            return [self.execute(r.program, r.observe, r.forward, backward_calls=r.backward_calls) for r in requests]

    square, cube = parse_source("L = x * x"), parse_source("L = x * x * x")
    found = execute_all(Counting(Value), [Request(square, ({"x": 3.0},)), Descend(square, {"x": 1.0}, 2, 0.25),
                                          Request(cube, ({"x": 2.0},))])
    assert batches == [2]
    assert found[0].observations[0].grads == [6.0, 1.0]  # type: ignore[union-attr]
    assert [p for p, _ in found[1]] == [{"x": 1.0}, {"x": 0.5}, {"x": 0.25}]  # type: ignore[union-attr]
    assert found[2].observations[0].grads == [12.0, 2.0, 1.0]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the parent's checks


def _reply(numbers: object = (1.0, 2.0, 3.0, 4.0), **extra: object) -> dict[str, object]:
    """One observation of a two-node program: .data 1, 2 and .grads 3, 4 unless told otherwise."""
    return {"observations": [{"notes": [], **extra}], "numbers": pack(list(numbers)) if isinstance(numbers, tuple)
            else numbers, "forwards": pack([0.5])}


@pytest.mark.parametrize("reply", [
    _reply(numbers=["1.0", 2.0, 3.0, 4.0]),
    _reply(numbers=[1.0, 2.0, 3.0, 4.0]),  # plain JSON numbers are not how numbers travel
    _reply(numbers=(1.0, 2.0, 3.0)),  # three doubles, not four
    _reply(numbers=()),  # an observation without an error brings its numbers
    _reply(numbers={"f64": "not base64!", "none": []}),
    _reply(numbers={**pack([1.0, 2.0, 3.0, 4.0]), "none": [4]}),
    _reply(numbers={**pack([1.0, 2.0, 3.0, 4.0]), "none": [True]}),
    _reply(error={"kind": "ok-really", "message": ""}),
    _reply(error={"kind": "exception", "message": "x", "node": 7}),
    _reply(numbers=(), error={"kind": "exception", "message": "x", "node": 7}),
    _reply(notes="not a list"),
    _reply(seeded="yes"),
    {"observations": [], "numbers": pack([]), "forwards": pack([0.5])},
    {**_reply(), "observations": _reply()["observations"] * 2},
    {**_reply(), "observations": ["not an object"]},
    {**_reply(), "forwards": [0.5]},
    "not even an object",
])
def test_malformed_replies_raise(reply: object) -> None:
    with pytest.raises(ProtocolError):
        execution_from_json(reply, nodes=2, observed=1, forwarded=1)


def test_a_well_formed_reply_is_rebuilt() -> None:
    execution = execution_from_json(_reply(), nodes=2, observed=1, forwarded=1)
    assert execution.observations[0].data == [1.0, 2.0] and execution.observations[0].grads == [3.0, 4.0]
    assert execution.forwards == [0.5]
    failed = {"kind": "exception", "message": "x", "node": 1}
    two = {"observations": [{"error": failed}, {"seeded": True}], "numbers": pack([1.0, None, 3.0, 4.0]),
           "forwards": pack([])}  # the failed observation brings no numbers: the second's come first
    first, second = execution_from_json(two, nodes=2, observed=2, forwarded=0).observations
    assert first.error is not None and first.error.node == 1 and first.data == []
    assert second.seeded and second.data == [1.0, None] and second.grads == [3.0, 4.0]
    bare = {**_reply(), "observations": [{}]}  # what most observations are: numbers, nothing else to say
    assert execution_from_json(bare, nodes=2, observed=1, forwarded=1) == execution


@given(st.lists(st.none() | st.floats(allow_nan=True, allow_infinity=True), max_size=50))
def test_numbers_travel_bit_for_bit(values: list[float | None]) -> None:
    back = unpack(pack(values), len(values), "numbers")
    assert [None if v is None else struct.pack("d", v) for v in back] == \
           [None if v is None else struct.pack("d", v) for v in values]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["observations", "forwards", "numbers", "notes", "error", "kind", "node", "f64", "none"]),
        inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_anything_the_child_sends_is_refused_or_plain_floats(reply: object) -> None:
    try:
        execution = execution_from_json(reply, nodes=2, observed=1, forwarded=1)
    except ProtocolError:
        return
    for obs in execution.observations:
        for x in [*obs.data, *obs.grads]:
            assert x is None or type(x) is float
    assert all(x is None or (type(x) is float and math.isfinite(x)) for x in execution.forwards)


def test_the_sandbox_module_documents_its_layers() -> None:
    from gradcheck_lab.submissions import sandbox

    doc = sandbox.__doc__ or ""
    assert doc.count("*Not stopped:*") >= 5
    assert sys.executable and os.path.exists(sandbox.CHILD)


def test_a_child_failure_survives_pickling() -> None:
    # a grading worker sends it back to the parent; unpicklable, it broke the whole process pool
    import pickle

    failure = pickle.loads(pickle.dumps(ChildFailure("timeout", "ran longer than 2 s", "tb")))
    assert (failure.kind, failure.message, failure.traceback) == ("timeout", "ran longer than 2 s", "tb")


def test_child_errors_come_back_structured(tmp_path: Path) -> None:
    """Exception type, message, file and line, from the child's own traceback: the diagnosis
    classifies them."""
    source = engine_with(replace={"        self.grad = 1.0\n": "        self.grad = 1.0\n        1 / 0\n"})
    line = source.splitlines().index("        1 / 0") + 1
    with SandboxExecutor(extract_source("s", source, "alice.py")) as ex:
        ex.start()
        error = ex.execute(parse_source("L = x * x"), [{"x": 1.0}], []).observations[0].error
    assert error is not None and error.type == "ZeroDivisionError" and "division by zero" in error.message
    assert (error.file, error.line) == ("alice.py", line)


def test_a_missing_module_is_named_with_its_line(tmp_path: Path) -> None:
    """An import the class needs but the grading environment lacks: a note naming the module
    and the line (loading goes on: the ops that need it fail on their own)."""
    source = engine_with(replace={"import math": "import math\nimport no_such_module_here as nsm",
                                  "        t = math.tanh(self.data)": "        t = nsm.tanh(self.data)"})
    with SandboxExecutor(extract_source("s", source, "bob.py")) as ex:
        notes = ex.start().notes
    assert any("bob.py" in n and "line 3" in n and "'no_such_module_here' is not installed where submissions "
               "are graded" in n for n in notes), notes


class _Array0d:
    """A 0-d array of a real dtype, as numpy's (and any array library's) looks to the child."""

    shape = ()

    class dtype:
        kind = "f"

    def __init__(self, x: float) -> None:
        self.x = float(x)

    def __float__(self) -> float:
        return self.x


def test_0d_arrays_and_numpy_like_scalars_are_numbers() -> None:
    from gradcheck_lab.drive import to_float

    assert to_float(_Array0d(0.25)) == 0.25
    bad = _Array0d(1.0)
    bad.shape = (1,)  # type: ignore[assignment]
    assert to_float(bad) is None and to_float(complex(1, 0)) is None and to_float(True) is None


ARRAYS_0D = '''

class Array0d:
    """A 0-d array of a real dtype, as numpy's looks."""
    shape = ()

    class dtype:
        kind = "f"

    def __init__(self, x):
        self.x = float(x)

    def __float__(self):
        return self.x


def _graph(v, seen):
    if id(v) not in seen:
        seen.add(id(v))
        yield v
        for c in v._prev:
            yield from _graph(c, seen)


_plain_backward = Value.backward


def _backward_into_arrays(self):
    _plain_backward(self)
    for v in _graph(self, set()):
        v.data, v.grad = Array0d(v.data), Array0d(v.grad)


Value.backward = _backward_into_arrays
'''


def test_an_engine_of_0d_arrays_is_graded_at_float64(tmp_path: Path, config: GradeConfig) -> None:
    grade = grade_source(tmp_path, config, engine_with(ARRAYS_0D))
    assert grade.verdict == "correct" and grade.precision == "float64", grade.finding


def test_grade_refuses_to_run_unisolated_without_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from gradcheck_lab.cli import main
    from gradcheck_lab.submissions import isolation

    isolation.bubblewrap.cache_clear()
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)  # no bwrap on this machine
    try:
        (tmp_path / "s.py").write_text(ENGINE)
        (tmp_path / "cases.toml").write_text(TINY_CASES)
        args = ["grade", str(tmp_path / "s.py"), "--cases", str(tmp_path / "cases.toml"), "--report-dir",
                str(tmp_path / "reports"), "--no-cache", "-q", "--no-diagnose"]
        assert main(args) == 2
        assert "--unsafe-no-sandbox" in capsys.readouterr().err
        assert not (tmp_path / "reports").exists()
        with pytest.raises(Exception, match="cannot be isolated"):
            SandboxExecutor(extract_source("s", ENGINE))
        assert main([*args, "--unsafe-no-sandbox"]) == 0
        assert "UNSAFELY" in capsys.readouterr().err
        report = (tmp_path / "reports" / "submissions" / "s" / "report.md").read_text()
        assert "UNSAFELY, without a sandbox" in report
    finally:
        isolation.bubblewrap.cache_clear()


def test_replies_are_read_in_bulk_whole_and_within_the_deadline() -> None:
    """The parent reads what the child wrote all at once, returns replies one by one and
    whole, waits no longer than the deadline, and tells a closed pipe from a slow one."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    replies = Replies(r)
    body = json.dumps({"nonce": "a"}).encode()
    frame = HEADER.pack(len(body)) + body
    started = time.monotonic()
    with pytest.raises(ChannelTimeout):
        replies.read_message(started + 0.05, MAX_REPLY)
    assert 0.05 <= time.monotonic() - started < 1.0
    os.write(w, frame + frame + frame[:3])  # two whole replies and the start of a third
    assert [replies.read_message(time.monotonic() + 1, MAX_REPLY) for _ in range(2)] == [{"nonce": "a"}] * 2
    with pytest.raises(ChannelTimeout):  # the third is not whole yet
        replies.read_message(time.monotonic() + 0.05, MAX_REPLY)
    os.write(w, frame[3:] + HEADER.pack(MAX_REPLY + 1))
    assert replies.read_message(time.monotonic() + 1, MAX_REPLY) == {"nonce": "a"}
    with pytest.raises(TooLarge):
        replies.read_message(time.monotonic() + 1, MAX_REPLY)
    r2, w2 = os.pipe()
    os.set_blocking(r2, False)
    os.write(w2, frame[:5])
    os.close(w2)
    with pytest.raises(ChannelClosed, match="mid-message"):
        Replies(r2).read_message(time.monotonic() + 1, MAX_REPLY)
    for fd in (r, w, r2):
        os.close(fd)


def test_a_child_makes_its_objects_at_the_same_addresses_each_time(tmp_path: Path) -> None:
    """Not only at its start: nothing in the child makes objects at moments that vary from
    run to run (its watcher thread did, while it started), nor in numbers that vary with the
    grader's state (its descriptors' numbers did: Python keeps "7" ready-made and makes "12"), so
    the addresses an engine's objects get, and its numbers where they follow them, are the same
    in every child. A fresh grader, as a pool worker is, with few descriptors open, then more."""
    import gradcheck_lab.submissions.isolation as isolation

    if not isolation.same_addresses():
        pytest.skip("no setarch here: children start at random addresses")
    printing = "    def backward(self):\n        print(id(self), id([]))\n"
    (tmp_path / "engine.py").write_text(engine_with(replace={"    def backward(self):\n": printing}))
    grader = """if True:
        import os, sys
        from gradcheck_lab.source import parse_source
        from gradcheck_lab.submissions.loading import extract_source
        from gradcheck_lab.submissions.sandbox import SandboxExecutor
        source, held = open(sys.argv[1]).read(), []
        for k in range(4):
            held += [os.open(os.devnull, os.O_RDONLY) for _ in range(4 * k)]  # the grader's descriptors move up
            with SandboxExecutor(extract_source("s", source)) as ex:
                ex.start()
                for _ in range(2):
                    ex.execute(parse_source("L = x * y + x"), [{"x": 1.0, "y": 2.0}, {"x": 3.0, "y": -1.0}], [])
                print(repr("".join(ex.output)))
    """
    done = subprocess.run([sys.executable, "-c", grader, str(tmp_path / "engine.py")], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    outputs = done.stdout.splitlines()
    assert len(outputs) == 4 and "None" not in outputs[0] and len(set(outputs)) == 1, outputs


@pytest.mark.slow
def test_a_pool_worker_grades_as_the_grader_itself_does(tmp_path: Path, shipped_cases: list[Case]) -> None:
    """The same requests reach a child in the same bytes whichever process grades: a
    ``--jobs 1`` grader and a pool worker refer to the same values from other places, and the
    marshal format they wrote marked such values as shared, so the two children read other
    bytes, made other objects, and engines whose numbers follow object addresses (``=`` for
    ``+=`` in a sort that walks a set) graded differently under ``--jobs 1`` and ``--jobs 2``."""
    from gradcheck_lab.diagnose.catalog import submission_source

    folder = tmp_path / "class"
    folder.mkdir()
    for code in ("grad-overwrite:add", "grad-overwrite:mul"):
        (folder / f"{code.replace(':', '_')}.py").write_text(submission_source([code]))
    config = GradeConfig(tuple(shipped_cases))  # the shipped cases, the probes and the diagnosis: what grade runs
    refs = discover([folder])
    alone = grade_batch(refs, config, tmp_path / "alone", jobs=1)
    pooled = grade_batch(refs, config, tmp_path / "pooled", jobs=2)
    assert not alone.errors and not pooled.errors
    numbers = [[(c.name, c.score, c.agreed, c.message) for c in g.cases] for g in alone.grades]
    assert numbers == [[(c.name, c.score, c.agreed, c.message) for c in g.cases] for g in pooled.grades]
    assert [g.score for g in alone.grades] == [g.score for g in pooled.grades]


def test_a_child_collects_garbage_by_the_memory_it_holds() -> None:
    """The child's collector runs rarely by the count of objects (a submission's graphs are
    cycles all, and collecting them cost ~9 ms a child), so it also runs by memory: an engine
    whose every backward() leaves a 4 MB buffer in a cycle is observed 150 times (600 MB of
    garbage) in 256 MB without running out (counting objects alone, it did)."""
    hoarding = ("    def backward(self):\n        junk = [bytearray(4 << 20)]\n        junk.append(junk)\n")
    source = engine_with(replace={"    def backward(self):\n": hoarding})
    points = [{"x": 1.0 + k / 100, "y": 2.0} for k in range(150)]
    with SandboxExecutor(extract_source("s", source), Limits(memory_mb=256, timeout=60, request_timeout=30)) as ex:
        ex.start()
        found = ex.execute(parse_source("L = x * y + x"), points, [])
    assert all(o.error is None for o in found.observations), found.observations[-1].error
    assert [o.grads[0] for o in found.observations[:2]] == [3.0, 3.0]


def test_the_parent_waits_on_done_and_still_sees_replies_without_it() -> None:
    """A byte on ``done`` wakes the reader at once; replies written without one are still read
    within a poll; a closed ``done`` leaves the reader waiting on the reply pipe itself."""
    r, w = os.pipe()
    done_r, done_w = os.pipe()
    for fd in (r, done_r):
        os.set_blocking(fd, False)
    replies = Replies(r, done_r)
    body = json.dumps({"nonce": "a"}).encode()
    frame = HEADER.pack(len(body)) + body

    def later(seconds: float, *writes: tuple[int, bytes]) -> threading.Thread:
        def run() -> None:
            time.sleep(seconds)
            for fd, data in writes:
                os.write(fd, data)
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    for writes in ([(w, frame), (done_w, b".")], [(w, frame)]):  # with a done byte, and without one
        started = time.monotonic()
        thread = later(0.2, *writes)
        assert replies.read_message(started + 5, MAX_REPLY) == {"nonce": "a"}
        assert 0.2 <= time.monotonic() - started < 0.2 + 0.5
        thread.join()
    os.close(done_w)
    thread = later(0.2, (w, frame))
    assert replies.read_message(time.monotonic() + 5, MAX_REPLY) == {"nonce": "a"}
    assert replies.done is None  # it saw done close, and went on with the pipe
    thread.join()
    for fd in (r, w, done_r):
        os.close(fd)


@pytest.mark.parametrize("randomized", [False, True])
def test_a_child_starts_at_the_same_addresses_each_time(monkeypatch: pytest.MonkeyPatch, randomized: bool) -> None:
    """Address randomization is off in the child (``setarch -R``): an engine whose numbers
    follow object addresses (a set of Values walked in hash order) grades the same at every
    regrade. With it on (``randomized``, as before), the same code sees other addresses."""
    import gradcheck_lab.submissions.isolation as isolation

    if randomized:
        monkeypatch.setattr(isolation, "same_addresses", lambda: [])
    elif not isolation.same_addresses():
        pytest.skip("no setarch here: children start at random addresses")
    source = engine_with(replace={"class Value:\n": "class Value:\n    print('page', id(object()) >> 12)\n"})
    seen = set()
    for _ in range(3):
        with SandboxExecutor(extract_source("s", source)) as ex:
            ex.start()
            seen.add("".join(ex.output))
    assert all("page" in s for s in seen)
    assert len(seen) == (3 if randomized else 1)
