"""The bug catalog written out as ordinary student files: standalone Python that imports
only math, loaded like any submission, and named as exactly its own bug, in process and
through the sandboxed grading path."""

from __future__ import annotations

import ast
import contextlib
import difflib
import io
import math
from pathlib import Path

import pytest

from gradcheck_lab.diagnose import CATALOG, diagnose, observe_probes
from gradcheck_lab.diagnose.catalog import submission_file, submission_source
from gradcheck_lab.grading import grade_batch
from gradcheck_lab.implementations import load_value_class
from gradcheck_lab.submissions import Limits, SubmissionRef

from .test_sandbox import tiny_config

HOSTILE = ("timeout", "memory", "crash")
IN_PROCESS = [code for code in CATALOG if code not in HOSTILE]


def write(folder: Path, codes: list[str]) -> Path:
    path = folder / submission_file(codes)
    path.write_text(submission_source(codes))
    return path


def codes_of(path: Path) -> list[str]:
    with contextlib.redirect_stdout(io.StringIO()):
        return diagnose(observe_probes(load_value_class(path))).codes


def test_a_file_imports_only_math_and_needs_nothing_of_ours() -> None:
    for code in CATALOG:
        tree = ast.parse(submission_source([code]))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
                    for a in getattr(n, "names", [])}
        assert imported <= {"math", "os"}, (code, imported)  # os: crash's os._exit
        assert "gradcheck_lab" not in submission_source([code]).replace("by gradcheck_lab", "")


def test_the_file_with_no_bug_reproduces_the_seed(tmp_path: Path) -> None:
    V = load_value_class(write(tmp_path, []))
    x1, x2, x3 = V(2.0), V(3.0), V(4.0)
    L = (x1 * x2).log() + (x1 * x3).sin() + x2 * x3
    L.backward()
    # hand-derived: dL/dx1 = 1/x1 + x3 cos(x1 x3), dL/dx2 = 1/x2 + x3, dL/dx3 = x1 cos(x1 x3) + x2
    assert x1.grad == pytest.approx(0.5 + 4 * math.cos(8.0), rel=1e-15)
    assert round(x1.grad, 4) == -0.082 and round(x2.grad, 4) == 4.3333 and round(x3.grad, 4) == 2.709
    assert codes_of(tmp_path / "correct.py") == []


@pytest.mark.parametrize("code", IN_PROCESS)
def test_every_code_written_out_is_named_as_itself(code: str, tmp_path: Path) -> None:
    # the real set() of the file orders operands by object id, unlike the predictions' seeded orders
    assert codes_of(write(tmp_path, [code])) == [code]


def test_the_files_differ_only_where_the_bug_is() -> None:
    def code(source: str) -> list[str]:
        return source.split('"""', 2)[2].splitlines()  # past the docstring

    correct = code(submission_source([]))
    for bug in ("grad-overwrite:mul", "missing-chain:tanh", "wrong-local:relu", "forward:rsub", "topo-order"):
        changed = [d for d in difflib.ndiff(correct, code(submission_source([bug]))) if d[:2] in ("+ ", "- ")]
        assert 2 <= len(changed) <= 4, (bug, changed)  # one or two lines replaced


def test_a_folder_of_catalog_files_graded_in_the_sandbox(tmp_path: Path) -> None:
    """The issue's 'done when': every file named correctly through the whole grading path,
    hostile ones by their verdict, with a minimal counterexample in the wrong ones' reports."""
    suites = [[], ["grad-overwrite:add"], ["topo-revisit"], ["wrong-local:tanh"], ["forward:rsub"],
              ["numerics:sigmoid"], ["unsupported:exp"], ["zeroes-on-backward"],
              ["grad-overwrite:mul", "wrong-local:div"], ["timeout"], ["memory"], ["crash"]]
    folder = tmp_path / "submissions"
    folder.mkdir()
    refs = [SubmissionRef(path.stem, path) for path in (write(folder, s) for s in suites)]
    # budgets generous enough for a loaded machine: the probes and the search share the submission's
    config = tiny_config(tmp_path / "tiny", limits=Limits(timeout=30.0, request_timeout=5.0, memory_mb=512,
                                                           max_restarts=1))
    result = grade_batch(refs, config, tmp_path / "reports", jobs=2)
    assert not result.errors, result.errors
    named = {grade.id: sorted(grade.codes) for grade in result.grades}
    why = [(g.id, g.verdict, g.finding, [(u["probe"], u["got"]) for u in g.unexplained]) for g in result.grades]
    assert named == {ref.id: sorted(s) for ref, s in zip(refs, suites)}, why
    assert {g.id: g.verdict for g in result.grades if g.verdict in HOSTILE} == {c: c for c in HOSTILE}
    report = (tmp_path / "reports" / "submissions" / "grad-overwrite_add" / "report.md").read_text()
    assert "[[case]]" in report and 'source = "L = x + x"' in report


def test_the_diagnose_command_lists_and_writes_the_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gradcheck_lab.cli import main

    assert main(["diagnose", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(code in listed for code in CATALOG)
    assert main(["diagnose", "--write-bugs", str(tmp_path), "--codes", "wrong-local:exp", "crash"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["correct.py", "crash.py", "wrong-local_exp.py"]
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "wrong-local_exp.py"), "--no-counterexample"]) == 1
    assert capsys.readouterr().out.startswith("wrong-local:exp: exp's derivative uses its input")
    assert main(["diagnose", "--write-bugs", str(tmp_path), "--codes", "no-such-bug"]) == 2
    assert "no such code: no-such-bug" in capsys.readouterr().err
