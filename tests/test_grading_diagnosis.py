"""Diagnosis in the grading path: catalog bugs written out as submission files are named,
and the codes reach report.json, grades.csv, the class summary and Gradescope's results."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_lab.diagnose import CATALOG
from gradcheck_lab.grading import GradeConfig, grade_submission
from gradcheck_lab.grading.assignment import parse_assignment
from gradcheck_lab.report.gradescope import results_json
from gradcheck_lab.submissions import Limits, SubmissionRef

from .test_sandbox import ENGINE, engine_with, grade_source, tiny_config

#: The seed-style student engine with `=` for `+=` in the backward of +.
OVERWRITE_ADD = ((Path(__file__).parent / "engines" / "student_value.py").read_text()
                 .replace("self.grad += out.grad  # ADD-SELF", "self.grad = out.grad  # ADD-SELF")
                 .replace("other.grad += out.grad  # ADD-OTHER", "other.grad = out.grad  # ADD-OTHER"))

#: One bug of every family, written as a submission file that builds its engine from the catalog.
CODES = ["grad-overwrite:mul", "topo-revisit", "topo-order", "missing-chain:tanh", "wrong-local:tanh",
         "forward:rsub", "no-seed-grad", "zeroes-on-backward", "numerics:sigmoid", "wrong-local:div"]


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory) -> GradeConfig:
    # sandbox=False: the child refuses to import gradcheck_lab (a student must not submit our engine),
    # so files that build the catalog's engines are graded in process, through the same pipeline
    return tiny_config(tmp_path_factory.getbasetemp() / "tiny-diagnosis", probes=False, sandbox=False)


@pytest.mark.parametrize("code", CODES)
def test_catalog_bugs_as_submissions_are_named(code: str, trusted: GradeConfig, tmp_path: Path) -> None:
    path = tmp_path / f"{code.replace(':', '_')}.py"
    path.write_text(f"from gradcheck_lab.diagnose.catalog import CATALOG\n\n"
                    f"class Value(CATALOG[{code!r}].engine(order_seed=3)):\n    __slots__ = ()\n")
    grade = grade_submission(SubmissionRef(path.stem, path), trusted).grade
    assert grade.codes == [code]
    entry = grade.diagnosis[0]
    assert entry["explanation"] == CATALOG[code].explanation and entry["evidence"]


def test_codes_reach_gradescope_and_the_finding(tmp_path: Path) -> None:
    # a generous budget: the counterexample search runs after the cases, within the submission's time limit
    config = tiny_config(tmp_path / "tiny", limits=Limits(timeout=60.0, request_timeout=10.0, memory_mb=512))
    path = tmp_path / "ow.py"
    path.write_text(OVERWRITE_ADD)
    grade = grade_submission(SubmissionRef("ow", path), config).grade
    assert grade.verdict == "wrong"
    charged = [d.code for d in grade.deductions]  # the codes that cost points lead the finding
    assert "grad-overwrite:add" in charged and grade.finding.startswith(", ".join(charged) + ": ")
    assert "recursion-limit" in grade.codes and "recursion-limit" in grade.warnings  # said, and free
    assert 'source = "L = x + x"' in grade.counterexample
    results = results_json(grade)
    diagnosis = next(t for t in results["tests"] if t["name"] == "Diagnosis: known bugs")
    assert diagnosis["status"] == "failed" and "grad-overwrite:add" in diagnosis["tags"]
    assert "grad-overwrite:add: = instead of += in the backward of +" in results["output"]


def test_html_reports_for_a_submission_and_the_class(tmp_path: Path) -> None:
    import re
    from dataclasses import replace

    from gradcheck_lab.report.grades import class_summary_html

    config = replace(tiny_config(tmp_path / "tiny", limits=Limits(timeout=60.0, request_timeout=10.0)), html=True)
    path = tmp_path / "ow.py"
    path.write_text(OVERWRITE_ADD)
    outcome = grade_submission(SubmissionRef("ow", path), config)
    html = outcome.report_html
    assert html.startswith("<!DOCTYPE html>") and "<strong>Diagnosis</strong>" in html
    assert "grad-overwrite:add" in html and "L = x + x" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # self-contained: nothing fetched
    page = class_summary_html([outcome.grade])
    assert 'href="submissions/ow/report.html"' in page and "grad-overwrite:add" in page


def test_a_slow_submission_does_not_starve_the_probes(tmp_path: Path) -> None:
    """The probes run first on a budget of their own: a submission slower than its case
    budget allows for probes and cases together still has every probe answered, and its
    cases get their whole budget."""
    backward = "    def backward(self):\n"
    slow = ENGINE.replace(backward, backward + "        import time; time.sleep(0.05)\n")
    limits = Limits(timeout=1.0, request_timeout=1.0, probe_timeout=5.0, memory_mb=512, max_restarts=1)
    tiny = parse_assignment('[ops]\nrequired = ["add", "mul", "exp", "tanh"]\noptional = ["*"]')  # the ENGINE's ops
    grade = grade_source(tmp_path, tiny_config(tmp_path / "tiny", limits=limits, assignment=tiny), slow)
    assert grade.verdict == "correct" and grade.seconds > limits.timeout  # the probes alone took longer
    assert not grade.unexplained  # no probe timed out: each is explained (the ENGINE's sort is recursive)
    assert grade.codes[0] == "recursion-limit" and all(c.startswith("unsupported:") for c in grade.codes[1:])
    assert {c.verdict for c in grade.capabilities} <= {"ok", "unsupported"}


def test_the_graders_own_lines_are_never_named_as_the_students(tmp_path_factory: pytest.TempPathFactory,
                                                               tmp_path: Path) -> None:
    """Where an error is raised in the grader's own code (a method the class lacks; an op
    that returns None, whose backward() the grader then calls), the diagnosis names no line:
    the line would be the sandbox's drive.py, of no use to the student."""
    sandboxed = tiny_config(tmp_path_factory.getbasetemp() / "tiny-diagnosis-sandboxed", probes=False)
    for name, source in (("lacks_exp", engine_with(replace={"    def exp(self):\n": "    def _exp(self):\n"})),
                         ("exp_none", engine_with(replace={"    def exp(self):\n": "    def exp(self):\n"
                                                                                  "        return None\n"}))):
        grade = grade_source(tmp_path, sandboxed, source, f"{name}.py")
        said = [e["got"] for d in grade.diagnosis for e in d["evidence"]]
        assert said and not [s for s in said if "drive.py" in s or "child.py" in s], (name, said)
