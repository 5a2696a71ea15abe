"""The deep-chain probe: 275 additions run on a quarter of the frames the recursion limit leaves
name a recursive backward() (``recursion-limit``) exactly where 1,100 additions on all of them
would, never an iterative one; in process (at any depth of the caller's stack) and in the sandbox."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gradcheck_lab import drive
from gradcheck_lab.diagnose import PROBES, diagnose
from gradcheck_lab.diagnose.match import _catalog_digest, run_probes
from gradcheck_lab.diagnose.probes import CHAIN, DEEP
from gradcheck_lab.executors import InProcessExecutor, Observation
from gradcheck_lab.inprocess import InProcessRunner
from gradcheck_lab.program import Node, Program, Ref
from gradcheck_lab.submissions import Limits, SandboxExecutor, extract_source

from .test_sandbox import ENGINE, engine_with

PROBE = next(p for p in PROBES if p.name == "deep-chain")

#: The correct engine with an iterative sort (the tests' own engine sorts by recursion: kept, unused).
ITERATIVE = engine_with(replace={"    def backward(self):\n": """    def backward(self):
        order, seen, todo = [], set(), [(self, False)]
        while todo:
            v, done = todo.pop()
            if done:
                order.append(v)
            elif id(v) not in seen:
                seen.add(id(v))
                todo.append((v, True))
                todo.extend((c, False) for c in v._prev)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()

    def recursive_backward(self):
"""})
RECURSIVE = ENGINE
#: Each node two frames deep: visit calls a helper that calls visit.
TWO_FRAMES = engine_with(replace={"visit(c)\n": "step(c)\n",
                                  "        visit(self)": "        def step(c):\n            visit(c)\n\n"
                                                         "        visit(self)"})
#: Recursive, but with the limit raised at import, as some students do: the 1,100 chain passes.
RAISED = "import sys\nsys.setrecursionlimit(10_000)\n" + RECURSIVE
#: Recursive, raising the limit in backward() itself: it passes too.
RAISED_IN_BACKWARD = engine_with(replace={"    def backward(self):\n": "    def backward(self):\n        import sys\n"
                                                                       "        sys.setrecursionlimit(10_000)\n"})
#: Two frames a node under a limit of 2,500: 2,200 frames pass, as they do on the 1,100 chain.
TWO_FRAMES_RAISED = "import sys\nsys.setrecursionlimit(2_500)\n" + TWO_FRAMES
#: ... and under 2,100, they do not.
TWO_FRAMES_2100 = "import sys\nsys.setrecursionlimit(2_100)\n" + TWO_FRAMES

ENGINES = {  # source -> does backward() fail on the deep chain
    "iterative": (ITERATIVE, False), "recursive": (RECURSIVE, True), "two-frames": (TWO_FRAMES, True),
    "raised": (RAISED, False), "raised-in-backward": (RAISED_IN_BACKWARD, False),
    "two-frames-2500": (TWO_FRAMES_RAISED, False),
    "two-frames-2100": (TWO_FRAMES_2100, True),
}


@pytest.fixture(autouse=True)
def _limit() -> Iterator[None]:
    limit = sys.getrecursionlimit()
    yield
    sys.setrecursionlimit(limit)  # an engine raised it at import: later tests need the default


def _class(source: str) -> Any:
    namespace: dict[str, Any] = {"__name__": "student"}
    exec(compile(source, "student.py", "exec"), namespace)
    return namespace["Value"]


def _deep(depth: int, run: Callable[[], Any]) -> Any:
    """``run()`` called ``depth`` frames further down the stack."""
    return run() if depth <= 0 else _deep(depth - 1, run)


def _whole_chain() -> Program:
    """The probe as it was: 1,100 additions on the whole limit."""
    nodes = [Node("input", (), "x", "x")] + [Node("add", (Ref(i), Ref(0)), "", f"a{i + 1}") for i in range(DEEP)]
    return Program(tuple(nodes), DEEP)


def test_the_probe_is_a_quarter_of_the_chain_on_a_quarter_of_the_headroom() -> None:
    assert len(PROBE.program.nodes) == CHAIN + 1 == 276 and PROBE.headroom == 0.25 == PROBE.request.headroom
    assert PROBE.source == "x + x + ... + x (275 additions on 1/4 of the recursion limit)"


@pytest.mark.parametrize("depth", [0, 400])
@pytest.mark.parametrize("name", ENGINES)
def test_in_process_it_fails_where_the_whole_chain_fails(name: str, depth: int) -> None:
    source, fails = ENGINES[name]
    value_class = _class(source)
    limit = sys.getrecursionlimit()
    whole = _deep(depth, lambda: InProcessExecutor(value_class).execute(_whole_chain(), [PROBE.point], []))
    sys.setrecursionlimit(limit)  # (where backward() raised it)
    short = _deep(depth, lambda: run_probes(InProcessExecutor(value_class), [PROBE])["deep-chain"])
    assert sys.getrecursionlimit() == limit  # put back, whatever backward() did
    errors = [o.error.type if o.error else None for o in (whole.observations[0], short)]
    assert errors[0] == errors[1]
    if depth == 0:  # deeper down, less is left below the limit (2,500 less 400 frames is not 2,200)
        assert errors == (["RecursionError"] * 2 if fails else [None, None])
    if errors[1] is None:
        assert short.grads[0] == CHAIN + 1


def test_without_the_headroom_a_recursive_sort_passes_the_short_chain() -> None:
    """What the tests above lean on: the quarter of the headroom is what makes the short chain fail."""
    found = drive.observe(_class(RECURSIVE), PROBE.program.lowered, PROBE.point)
    assert found["error"] is None and found["grads"][0] == CHAIN + 1


def test_the_shortened_runs_recursion_error_is_placed_but_not_traced() -> None:
    """Its frames (a quarter of them) are of no use to read: its place is what the report shows."""
    found = drive.observe(_class(RECURSIVE), PROBE.program.lowered, PROBE.point, 1, PROBE.headroom)
    error = found["error"]
    assert error["type"] == "RecursionError" and "a recursive backward() on a deep graph?" in error["message"]
    assert error["file"] == "student.py" and error["line"] > 0 and error["traceback"] == ""
    whole = drive.observe(_class(RECURSIVE), _whole_chain().lowered, PROBE.point)["error"]
    assert (whole["file"], whole["line"]) == (error["file"], error["line"])
    assert "Previous line repeated" in whole["traceback"] and "in visit" in whole["traceback"]


def test_other_errors_on_less_headroom_are_traced_as_ever() -> None:
    raises = _class(ITERATIVE.replace("        self.grad = 1.0\n", "        raise ValueError('no')\n"))
    error = drive.observe(raises, PROBE.program.lowered, PROBE.point, 1, PROBE.headroom)["error"]
    assert error["message"] == "ValueError: no" and error["traceback"].endswith("ValueError: no")
    assert error["traceback"] == drive.observe(raises, PROBE.program.lowered, PROBE.point)["error"]["traceback"]


def _diagnosed(executor: Any) -> list[str]:
    """The codes the probes name, but the ops these engines lack (they have ``+ * exp tanh``)."""
    return _named(run_probes(executor))


def _named(observations: dict[str, Observation]) -> list[str]:
    return [c for c in diagnose(observations).codes if not c.startswith("unsupported:")]


@pytest.mark.parametrize("name", ["iterative", "recursive", "raised", "two-frames"])
def test_the_diagnosis_in_process(name: str) -> None:
    source, fails = ENGINES[name]
    with InProcessRunner(_class(source)) as runner:
        runner.start()
        codes = _deep(300, lambda: _diagnosed(runner))  # deeper than pytest's own stack
    assert codes == (["recursion-limit"] if fails else [])


@pytest.mark.parametrize("name", ["iterative", "recursive", "raised", "raised-in-backward", "two-frames",
                                  "two-frames-2500"])
def test_the_diagnosis_in_the_sandbox(name: str) -> None:
    source, fails = ENGINES[name]
    with SandboxExecutor(extract_source(name, source), Limits(timeout=30.0, request_timeout=10.0),
                         shared=[p.program for p in PROBES]) as child:
        child.start()
        observations: dict[str, Observation] = run_probes(child)
    deep = observations["deep-chain"]
    assert (deep.error.type if deep.error else None) == ("RecursionError" if fails else None)
    assert _named(observations) == (["recursion-limit"] if fails else [])


def test_a_changed_drive_is_never_served_stale_predictions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """How deep drive lets a backward() recurse changes what the catalog's engines do: it keys the cache."""
    before = _catalog_digest.__wrapped__()
    changed = tmp_path / "drive.py"
    changed.write_text(Path(drive.__file__).read_text() + "\nMIN_HEADROOM = 50\n")
    monkeypatch.setattr(drive, "__file__", str(changed))
    assert _catalog_digest.__wrapped__() != before
