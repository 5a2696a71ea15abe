"""Gradescope's results.json: every field per the autograder specification, hidden cases
after the due date, and the example run_autograder producing it end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from gradcheck_lab.cli import main
from gradcheck_lab.grading import GradeConfig, grade_submission
from gradcheck_lab.report.gradescope import VISIBILITIES, results_json
from gradcheck_lab.submissions import SubmissionRef

from .test_sandbox import ENGINE, ROOT, TINY_CASES, engine_with, tiny_config

_VISIBILITY = {"enum": list(VISIBILITIES)}
_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
#: Gradescope's results.json, field by field as its autograder specification lists them.
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": _FORMAT,
        "test_output_format": _FORMAT,
        "test_name_format": _FORMAT,
        "visibility": _VISIBILITY,
        "stdout_visibility": _VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": _FORMAT,
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": _FORMAT,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": _VISIBILITY,
                    "extra_data": {"type": "object"},
                },
            },
        },
        "leaderboard": {"type": "array"},
    },
    "anyOf": [{"required": ["score"]}, {"required": ["tests"]}],
}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> GradeConfig:
    return tiny_config(tmp_path_factory.getbasetemp() / "tiny-grading", probes=False)


def _results(tmp_path: Path, config: GradeConfig, source: str, **options: str) -> dict:  # type: ignore[type-arg]
    path = tmp_path / "submission.py"
    path.write_text(source)
    results = results_json(grade_submission(SubmissionRef("s", path), config).grade, **options)
    jsonschema.validate(results, SCHEMA)
    json.dumps(results, allow_nan=False)
    return results


def test_a_correct_submission(tmp_path: Path, config: GradeConfig) -> None:
    results = _results(tmp_path, config, ENGINE)
    assert results["score"] == 4.0 and isinstance(results["execution_time"], float)
    assert results["visibility"] == "visible" and results["stdout_visibility"] == "hidden"
    loads, *rest = results["tests"]
    assert loads["status"] == "passed" and "score" not in loads
    cases = [t for t in rest if "score" in t]  # a "Diagnosis: known bugs" entry carries no score
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in cases] == [
        ("reuse", 1.0, 1.0, "passed"), ("exp-chain", 2.0, 2.0, "passed"), ("secret-tanh", 1.0, 1.0, "passed")]
    assert sum(t["score"] for t in cases) == results["score"]
    assert "verdict: correct" in results["output"]


def test_hidden_cases_show_after_the_due_date(tmp_path: Path, config: GradeConfig) -> None:
    results = _results(tmp_path, config, ENGINE, visibility="after_published", stdout_visibility="visible")
    by_name = {t["name"]: t for t in results["tests"]}
    assert "hidden = true" in TINY_CASES
    assert by_name["secret-tanh"]["visibility"] == "after_due_date"
    assert by_name["reuse"]["visibility"] == "after_published"
    assert results["stdout_visibility"] == "visible"


def test_a_wrong_submission_fails_with_the_tables(tmp_path: Path, config: GradeConfig) -> None:
    buggy = engine_with(replace={"            self.grad += out.grad\n": "            self.grad = out.grad\n"})
    results = _results(tmp_path, config, buggy)
    reuse = next(t for t in results["tests"] if t["name"] == "reuse")
    assert reuse["status"] == "failed" and 0 < reuse["score"] < reuse["max_score"]
    assert "grad-mismatch" in reuse["output"] and "finite difference" in reuse["output"]
    assert "python -m gradcheck_lab grade" in reuse["output"]


def test_a_submission_that_does_not_load(tmp_path: Path, config: GradeConfig) -> None:
    results = _results(tmp_path, config, "class Value:\n    raise ValueError('nope')\n")
    assert results["score"] == 0 and results["tests"][0]["status"] == "failed"
    assert "ValueError: nope" in results["tests"][0]["output"]
    assert all(t["status"] == "failed" for t in results["tests"])


def test_visibility_must_be_gradescopes() -> None:
    from gradcheck_lab.grading import SubmissionGrade

    with pytest.raises(ValueError, match="visibility"):
        results_json(SubmissionGrade("s", "s.py", "", "correct", 0.0, 0.0, ""), visibility="students")


def test_the_command_line_writes_results_json(tmp_path: Path, config: GradeConfig) -> None:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "engine.py").write_text(ENGINE)
    cases = Path(config.cases[0].file)
    out = tmp_path / "results" / "results.json"
    assert main(["grade", str(folder), "--cases", str(cases), "--cache-dir", str(config.cache_dir), "--report-dir",
                 str(tmp_path / "reports"), "--gradescope", str(out), "--visibility", "hidden", "-q"]) == 0
    results = json.loads(out.read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 4.0 and results["visibility"] == "hidden"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_example_run_autograder(tmp_path: Path, config: GradeConfig) -> None:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "source").mkdir()
    shutil.copy(ROOT / "examples" / "submissions" / "notebook.ipynb", root / "submission" / "lab2.ipynb")
    shutil.copytree(Path(config.cases[0].file).parent, root / "source" / "cases", ignore=shutil.ignore_patterns("keys"))
    shutil.copytree(str(config.cache_dir), root / "source" / "answer_keys")
    python = tmp_path / "bin"
    python.mkdir()
    # A wrapper, not a symlink: a venv's interpreter linked from outside the venv runs as the
    # base interpreter (no pyvenv.cfg beside the link), without this venv's packages.
    (python / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (python / "python3").chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHONPATH": str(ROOT),
           "PATH": f"{python}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(ROOT / "examples" / "gradescope" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 4.0
    assert (root / "results" / "reports" / "submissions" / "submission" / "report.md").exists()
    assert os.access(ROOT / "examples" / "gradescope" / "setup.sh", os.X_OK)


def test_per_node_tables_for_every_failing_case_only_when_asked(
    tmp_path: Path, config: GradeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A class batch keeps the tables of the cases its reports show in full (rendering every
    failing case's was most of a wrong engine's grading time); Gradescope mode keeps them all."""
    from dataclasses import replace

    import gradcheck_lab.grading.run as run

    monkeypatch.setattr(run, "MAX_DETAILED", 0)  # no case shown in full: only ``feedback`` can keep a table
    path = tmp_path / "submission.py"
    path.write_text(engine_with(replace={"            self.grad += out.grad\n": "            self.grad = out.grad\n"}))
    for feedback in (False, True):
        grade = grade_submission(SubmissionRef("s", path), replace(config, feedback=feedback)).grade
        failed = [c for c in grade.cases if not c.passed]
        assert failed and all(("grad-mismatch" in c.feedback) is feedback for c in failed)
