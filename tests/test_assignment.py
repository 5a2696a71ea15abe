"""Grading answers an assignment: required and optional forms, points, what each proven bug
costs, the seeding contract; verdicts from typed facts that agree with the diagnosis, in
every output."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from gradcheck_lab.cases import collect_cases
from gradcheck_lab.cli import main
from gradcheck_lab.diagnose.catalog import CATALOG, Effect, submission_source
from gradcheck_lab.grading import GradeConfig, SubmissionGrade, Verdict, grade_submission, read_grade, warm_answer_keys
from gradcheck_lab.grading.assignment import (
    AssignmentError,
    default_assignment,
    find_assignment,
    op_forms,
    parse_assignment,
)
from gradcheck_lab.report.gradescope import results_json
from gradcheck_lab.submissions import Limits, SubmissionRef

ROOT = Path(__file__).resolve().parent.parent
MICROGRAD = (Path(__file__).parent / "engines" / "micrograd_style.py").read_text()
#: The same engine without the lecture's exp and tanh (as micrograd's own engine.py).
NO_EXP_TANH = MICROGRAD.replace("    def exp(self):  # EXP", "    def _exp(self):").replace(
    "    def tanh(self):  # TANH", "    def _tanh(self):")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> GradeConfig:
    """The shipped op and worked-example cases, the default assignment, sandboxed."""
    cases, errors = collect_cases([ROOT / "cases" / "ops.toml", ROOT / "cases" / "worked_examples.toml"])
    assert not errors
    keys = tmp_path_factory.getbasetemp() / "assignment-keys"
    config = GradeConfig(tuple(cases), limits=Limits(timeout=30.0, request_timeout=5.0, memory_mb=512), samples=1,
                         cache_dir=str(keys), hidden=(str(keys),))
    warm_answer_keys(config)
    return config


def grade(tmp_path: Path, config: GradeConfig, source: str, name: str = "student") -> SubmissionGrade:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return grade_submission(SubmissionRef(name, path), config).grade


# --------------------------------------------------------------------------- the file


def test_the_default_follows_the_lecture() -> None:
    a = default_assignment()
    assert {"x + y", "x + 2", "2 + x", "x - y", "2 - x", "2 * x", "x / y", "2 / x", "x ** 3", "-x", "exp(x)",
            "tanh(x)"} <= set(a.required)
    assert {"log(x)", "sin(x)", "cos(x)", "relu(x)", "sigmoid(x)", "gelu(x)", "max(x, y)"} <= set(a.optional)
    assert set(a.forms) == set(op_forms())  # "*": every other op of the table is optional
    assert not a.seed_by_hand and a.title == "micrograd lecture (the default)"


@pytest.mark.parametrize(("text", "says"), [
    ('[ops]\nrequired = ["plus"]', "'plus' is neither an op nor a form"),
    ('[ops]\nrequired = []', "names no form"),
    ('colour = "red"\n[ops]\nrequired = ["add"]', "unknown keys colour"),
    ('[ops]\nrequired = ["add"]\n[costs]\n"grad-overwrite:zz" = "wrong"', "is not a diagnosis code"),
    ('[ops]\nrequired = ["add"]\n[costs]\n"topo-order" = "cheap"', 'must be "wrong", "warning" or a number'),
    ('[ops]\nrequired = ["add"]\n[points]\ncases = { a = -1 }', "points (numbers of 0 or more)"),
    ('[ops\nrequired', "not valid TOML"),
])
def test_a_bad_assignment_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(AssignmentError, match="assignment") as info:
        parse_assignment(text, "assignment")
    assert says in str(info.value)


def test_points_and_costs() -> None:
    a = parse_assignment('[ops]\nrequired = ["add", "radd"]\noptional = ["tanh"]\n'
                         '[points]\ncases = { big = 5 }\ntags = { chain = 2 }\n'
                         '[costs]\n"recursion-limit" = "wrong"\n"topo-order" = 3\n"numerics:*" = "wrong"')
    cases, _ = collect_cases([ROOT / "cases" / "worked_examples.toml"])
    case = cases[0]
    assert a.points(replace(case, name="big")) == 5.0 and a.points(replace(case, tags=("x", "chain"))) == 2.0
    assert a.points(replace(case, name="other", tags=())) == case.weight
    assert a.cost("recursion-limit").cost.value == "wrong" and a.cost("topo-order").points == 3.0
    assert a.cost("numerics:sigmoid").cost.value == "wrong" and a.cost("zeroes-on-backward").cost.value == "warning"
    assert {p.form for p in a.probes() if p.form} == {"x + y", "x + 2", "2 + x", "tanh(x)"}
    assert all({n.op for n in p.program.nodes} <= {"input", "add", "tanh"} for p in a.probes())


def test_the_assignment_beside_the_cases_is_found_and_not_read_as_cases(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "a.toml").write_text('[[case]]\nname = "a"\nsource = "L = x * x"\npoints = [{x = 2.0}]\n')
    (tmp_path / "cases" / "assignment.toml").write_text('[ops]\nrequired = ["mul"]\n')
    cases, errors = collect_cases([tmp_path / "cases"])
    assert [c.name for c in cases] == ["a"] and not errors
    assert find_assignment([tmp_path / "cases"]) == (tmp_path / "cases" / "assignment.toml").resolve()
    assert find_assignment([tmp_path / "cases" / "a.toml"]) == (tmp_path / "cases" / "assignment.toml").resolve()


def test_cases_outside_the_assignment_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.py").write_text(MICROGRAD)
    (tmp_path / "only_mul.toml").write_text('[ops]\nrequired = ["mul"]\n')
    code = main(["grade", str(tmp_path / "s.py"), "--cases", str(ROOT / "cases" / "worked_examples.toml"),
                 "--assignment", str(tmp_path / "only_mul.toml"), "--report-dir", str(tmp_path / "r"), "-q"])
    assert code == 2
    assert "neither requires nor allows" in capsys.readouterr().err


def test_an_unknown_verdict_is_never_read_as_a_pass(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SubmissionGrade("s", "s.py", "", "great", 1.0, 1.0, "")  # type: ignore[arg-type]
    folder = tmp_path / "submissions" / "s"
    folder.mkdir(parents=True)
    data = SubmissionGrade("s", "s.py", "", Verdict.CORRECT, 1.0, 1.0, "").to_json()
    (folder / "grade.json").write_text(json.dumps({**data, "verdict": "great"}))
    assert read_grade(tmp_path, "s") is None  # graded again, not trusted
    (folder / "grade.json").write_text(json.dumps(data))
    assert read_grade(tmp_path, "s").verdict is Verdict.CORRECT  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the real path


def test_a_correct_lecture_engine_is_correct(tmp_path: Path, config: GradeConfig) -> None:
    g = grade(tmp_path, config, MICROGRAD)
    assert g.verdict is Verdict.CORRECT and g.score == g.max_score and not g.deductions
    absent = {c.form for c in g.capabilities if c.verdict == "unsupported"}
    assert {"log(x)", "sin(x)", "cos(x)", "sigmoid(x)", "gelu(x)", "max(x, y)", "2 ** x"} <= absent
    assert absent <= set(default_assignment().optional)  # optional: they cost nothing
    excused = [c for c in g.cases if c.excused]
    assert excused and all(c.score == c.max_score and "optional" in c.excused for c in excused)
    assert "all" in g.finding and "cases it can run agree" in g.finding
    assert g.assignment == "micrograd lecture (the default)"


def test_required_forms_missing_is_partial_and_an_assignment_can_drop_them(tmp_path: Path,
                                                                            config: GradeConfig) -> None:
    g = grade(tmp_path, config, NO_EXP_TANH)
    assert g.verdict is Verdict.PARTIAL and not g.deductions and g.score < g.max_score
    assert g.finding.startswith("required forms missing: exp(x), tanh(x)")
    repo = parse_assignment('name = "micrograd repo"\n[ops]\nrequired = ["add", "sub", "mul", "div", "pow", '
                            '"neg", "relu"]\noptional = ["*"]', "repo.toml")
    g = grade(tmp_path, replace(config, assignment=repo), NO_EXP_TANH)
    assert g.verdict is Verdict.CORRECT and g.score == g.max_score and g.assignment == "micrograd repo (repo.toml)"


@pytest.mark.parametrize("code", ["grad-overwrite:exp", "no-seed-grad", "topo-revisit", "forward:rsub",
                                  "missing-chain:tanh", "wrong-local:div"])
def test_every_bug_the_diagnosis_proves_is_wrong(tmp_path: Path, config: GradeConfig, code: str) -> None:
    assert CATALOG[code].effect is Effect.WRONG
    g = grade(tmp_path, config, submission_source([code]), code.replace(":", "_"))
    assert code in g.codes and g.verdict is Verdict.WRONG
    assert g.score < g.max_score and code in g.finding
    assert any(d.code == code for d in g.deductions)  # it costs, whether or not a case shows it


def test_the_seeding_contract(tmp_path: Path, config: GradeConfig) -> None:
    g = grade(tmp_path, config, submission_source(["no-seed-grad"]))
    assert g.verdict is Verdict.WRONG and all(c.passed for c in g.cases)  # only the contract is broken
    assert any("the assignment requires it" in n for n in g.notes)
    g = grade(tmp_path, replace(config, diagnose=False), submission_source(["no-seed-grad"]))
    assert g.verdict is Verdict.WRONG and g.codes == ["no-seed-grad"]  # checked on its own, diagnosis or not
    allowed = replace(default_assignment(), seed_by_hand=True)
    g = grade(tmp_path, replace(config, assignment=allowed), submission_source(["no-seed-grad"]))
    assert g.verdict is Verdict.CORRECT and g.warnings == ["no-seed-grad"] and g.score == g.max_score


def test_warnings_cost_nothing_unless_the_assignment_says(tmp_path: Path, config: GradeConfig) -> None:
    g = grade(tmp_path, config, submission_source(["recursion-limit"]))
    assert g.verdict is Verdict.CORRECT and g.warnings == ["recursion-limit"] and g.score == g.max_score
    strict = parse_assignment('[ops]\nrequired = ["add", "sub", "mul", "div", "pow", "neg", "exp", "tanh"]\n'
                              'optional = ["*"]\n[costs]\n"recursion-limit" = 2')
    g = grade(tmp_path, replace(config, assignment=strict), submission_source(["recursion-limit"]))
    assert g.verdict is Verdict.WRONG and [(d.code, d.points) for d in g.deductions] == [("recursion-limit", 2.0)]


def test_a_module_missing_from_the_grading_environment_is_not_the_students_fault(tmp_path: Path,
                                                                                   config: GradeConfig) -> None:
    source = "import gradcheck_no_such_module as gm\n" + MICROGRAD.replace(
        "        t = math.tanh(self.data)", "        t = gm.tanh(self.data)")
    g = grade(tmp_path, config, source)
    assert g.verdict is Verdict.ENVIRONMENT and not g.verdict.students_fault
    assert "lacks gradcheck_no_such_module" in g.finding


# --------------------------------------------------------------------------- every output agrees


def test_every_output_agrees(tmp_path: Path, config: GradeConfig) -> None:
    klass = tmp_path / "class"
    klass.mkdir()
    (klass / "ann.py").write_text(MICROGRAD)
    (klass / "bob.py").write_text(submission_source(["grad-overwrite:exp"]))
    (klass / "cat.py").write_text(NO_EXP_TANH)
    (klass / "dan.py").write_text(submission_source(["no-seed-grad"]))
    reports = tmp_path / "reports"
    assert main(["grade", str(klass), "--cases", str(ROOT / "cases" / "ops.toml"), "--cases",
                 str(ROOT / "cases" / "worked_examples.toml"), "--samples", "1", "--cache-dir", str(config.cache_dir),
                 "--report-dir", str(reports), "--timeout", "30", "--case-timeout", "5", "--html", "-q"]) == 0
    rows = {r["id"]: r for r in csv.DictReader((reports / "grades.csv").read_text().splitlines())}
    assert {k: r["verdict"] for k, r in rows.items()} == {"ann": "correct", "bob": "wrong", "cat": "partial",
                                                          "dan": "wrong"}
    for sub_id, row in rows.items():
        stored = read_grade(reports, sub_id)
        assert stored is not None
        report = json.loads((reports / "submissions" / sub_id / "report.json").read_text())["submission"]
        md = (reports / "submissions" / sub_id / "report.md").read_text()
        html = (reports / "submissions" / sub_id / "report.html").read_text()
        gradescope = results_json(stored)
        assert report["verdict"] == stored.verdict.value == row["verdict"]
        assert report["score"] == stored.score == float(row["score"]) == gradescope["score"]
        assert row["diagnosis"].split() == stored.codes == [d["code"] for d in report["diagnosis"]]
        assert md.startswith(f"# {sub_id}: {row['verdict']}, ") and "assignment: micrograd lecture" in md
        assert f"verdict: {row['verdict']}" in html and "assignment: micrograd lecture" in html
        assert f"verdict: {row['verdict']}" in gradescope["output"]
        for d in stored.deductions:
            assert d.code in md and d.code in gradescope["output"]
        diagnosis = [t for t in gradescope["tests"] if t["name"] == "Diagnosis: known bugs"]
        assert all((t["status"] == "failed") == (row["verdict"] == "wrong") for t in diagnosis)
    summary = (reports / "class_summary.md").read_text()
    assert "grad-overwrite:exp" in summary and "no-seed-grad" in summary
