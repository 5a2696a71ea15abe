"""Grading: scores and verdicts, batches on any executor, resuming after an interruption,
the class reports, and the examples graded from the command line."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import gc
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from gradcheck_lab import check
from gradcheck_lab.cli import main
from gradcheck_lab.grading import (
    GradeConfig,
    Rubric,
    SubmissionGrade,
    grade_batch,
    grade_case,
    read_grade,
)
from gradcheck_lab.grading.run import warm_process
from gradcheck_lab.report.grades import GRADES_COLUMNS, class_summary_html, class_summary_text
from gradcheck_lab.submissions import discover

from .test_sandbox import ENGINE, EXAMPLES, ROOT, engine_with, tiny_config

BUGGY = engine_with(replace={"            self.grad += out.grad\n            other.grad += out.grad\n":
                             "            self.grad = out.grad\n            other.grad = out.grad\n"})
NO_EXP = engine_with(replace={"    def exp(self):": "    def _exp(self):"})


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> GradeConfig:
    return tiny_config(tmp_path_factory.getbasetemp() / "tiny-grading", probes=False)


@pytest.fixture()
def klass(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.py").write_text(ENGINE)
    (folder / "bob.py").write_text(BUGGY)
    (folder / "cat.py").write_text(NO_EXP)
    (folder / "dan.py").write_text("print('no class here')\n")
    return folder


# --------------------------------------------------------------------------- scores


def test_partial_credit_is_the_share_of_checks_that_agree() -> None:
    ok = grade_case(check("L = n * n + n", {"n": 2.0}), Rubric())
    assert (ok.verdict, ok.score, ok.agreed, ok.judged) == ("ok", 1.0, 3, 3)


def test_batch_verdicts_scores_and_class_reports(tmp_path: Path, config: GradeConfig, klass: Path) -> None:
    batch = grade_batch(discover([klass]), config, tmp_path / "reports")
    grades = {g.id: g for g in batch.grades}
    assert {k: g.verdict for k, g in grades.items()} == {"ann": "correct", "bob": "wrong", "cat": "partial",
                                                           "dan": "invalid"}
    assert grades["ann"].score == 4.0 and grades["dan"].score == 0.0
    bob = {c.name: c for c in grades["bob"].cases}
    assert bob["reuse"].verdict == "grad-mismatch" and 0 < bob["reuse"].score < 1  # partial credit
    assert (bob["reuse"].agreed, bob["reuse"].judged) == (4, 6)  # x is wrong at both points
    assert "finite differences side with the symbolic value" in bob["reuse"].message
    cat = {c.name: c for c in grades["cat"].cases}
    assert cat["exp-chain"].verdict == "unsupported" and cat["exp-chain"].score == 0.0
    assert grades["cat"].score == 2.0 and "1 of 3 cases need forms the class lacks" in grades["cat"].finding

    assert not (tmp_path / "reports" / "grades.csv").exists()  # grade_batch writes per submission; the CLI the rest
    for sub_id in grades:
        folder = tmp_path / "reports" / "submissions" / sub_id
        assert {p.name for p in folder.iterdir()} == {"report.md", "report.json", "grade.json"}
    report = json.loads((tmp_path / "reports" / "submissions" / "bob" / "report.json").read_text())
    assert report["submission"]["verdict"] == "wrong"
    assert [c["name"] for c in report["details"]["cases"]] == ["reuse"]  # the smallest failing case, in full
    assert report["details"]["cases"][0]["points"][0]["nodes"][0]["grad"]["finite_difference"] is not None
    md = (tmp_path / "reports" / "submissions" / "bob" / "report.md").read_text()
    assert "## Per-node tables" in md and "### reuse: grad-mismatch" in md
    for sub_id in grades:  # the grade is made into JSON once, for both files: each as json.dumps writes its data
        folder = tmp_path / "reports" / "submissions" / sub_id
        text, stored = (folder / "report.json").read_text(), (folder / "grade.json").read_text()
        report = json.loads(text)
        assert text == json.dumps(report, separators=(",", ":")) + "\n"
        assert stored == json.dumps(grades[sub_id].to_json(), separators=(",", ":")) + "\n"
        assert json.loads(stored) == report["submission"] and list(report) == ["kind", "schema_version",
                                                                                "submission", "details"]


def test_the_rubric_options(tmp_path: Path, config: GradeConfig, klass: Path) -> None:
    strict = GradeConfig(config.cases, Rubric(partial_credit=False, unsupported_credit=0.5), config.limits,
                         config.samples, config.seed, config.cache_dir, config.hidden, probes=False)
    grades = {g.id: g for g in grade_batch(discover([klass]), strict, tmp_path / "r").grades}
    assert {c.name: c.score for c in grades["bob"].cases}["reuse"] == 0.0
    assert {c.name: c.score for c in grades["cat"].cases}["exp-chain"] == 1.0  # half of weight 2


def _student(name: str, ok: bool, cap: str, codes: tuple[str, ...] = (), finding: str = "f") -> SubmissionGrade:
    from gradcheck_lab.grading import Capability, CaseGrade

    cases = [CaseGrade("a", "f::a", 1.0, False, "ok", 1.0, 1, 1),
             CaseGrade("b", "f::b", 1.0, False, "ok" if ok else "grad-mismatch", float(ok), 1, 1)]
    return SubmissionGrade(name, name, "", "correct" if ok else "wrong", 1.0 + ok, 2.0, finding, cases,
                           [Capability("exp(x)", "exp", cap)],
                           diagnosis=[{"code": c, "explanation": "", "evidence": []} for c in codes],
                           assignment="micrograd lecture (the default)")


CLASS = [_student("s1", True, "ok"), _student("s2", False, "unsupported", ("grad-overwrite:mul",)),
         _student("s3", False, "grad-mismatch", ("grad-overwrite:mul", "topo-order"), "word " * 60)]


def test_class_summary_tables() -> None:
    text = class_summary_text(CLASS)
    assert "- 3 submissions: correct 1, wrong 2" in text and "- assignment: micrograd lecture (the default)" in text
    assert "- score: mean 67%, median 50%, lowest 50%, highest 100%" in text
    section = lambda title: text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    assert "| 50-60%  | 2          | ███" in section("Score distribution")
    bugs = section("Bugs: how many students have each")
    assert bugs.index("grad-overwrite:mul | 2          | 67%") < bugs.index("topo-order ")
    groups = section("Students grouped by diagnosis")
    assert "| (no bug found)  " in groups and "| grad-overwrite:mul + topo-order | 1 " in groups
    assert "| exp  | 1       | 1        | 1       | 33%" in section("Ops: failure rates")  # wrong, absent, works
    assert "| b      | 1/3      | 33%" in section("Cases that fail most")
    finding = next(line for line in section("Students").splitlines() if line.startswith("| s3"))
    assert "word word…" in finding and len(finding) < 300  # clipped at a word, with an ellipsis


def test_class_summary_html_is_real_tables() -> None:
    from html.parser import HTMLParser

    page = class_summary_html(CLASS)
    assert "<pre" not in page and "## " not in page  # no Markdown in a <pre>
    for title in ("Score distribution", "Students", "Bugs: how many students have each",
                  "Students grouped by diagnosis", "Ops: failure rates", "Cases: pass rate"):
        assert f"<h2>{title}</h2>" in page
    assert page.count("<table>") == 7 and 'href="submissions/s2/report.html"' in page

    cells: list[str] = []

    class Cells(HTMLParser):
        def handle_data(self, data: str) -> None:
            cells.append(data)

    Cells().feed(page)
    clipped = [c for c in cells if c.startswith("word word")]
    assert clipped and all(c.endswith("word…") for c in clipped)


# --------------------------------------------------------------------------- batches


def test_any_executor_works(tmp_path: Path, config: GradeConfig, klass: Path) -> None:
    with cf.ThreadPoolExecutor(2) as pool:
        batch = grade_batch(discover([klass]), config, tmp_path / "r", executor=pool)
    assert [g.verdict for g in batch.grades] == ["correct", "wrong", "partial", "invalid"]


def test_a_warm_process_sets_its_plans_aside_from_the_garbage_collector(config: GradeConfig) -> None:
    gc.unfreeze()  # what an earlier batch in this process set aside
    plan = config.session.plan(config.cases[0], config.samples, config.seed)
    assert any(o is plan for o in gc.get_objects())  # walked by every full collection
    thresholds = gc.get_threshold()
    try:
        warm_process(config)
        assert config.session.plan(config.cases[0], config.samples, config.seed) is plan
        assert gc.get_freeze_count() > 0 and not any(o is plan for o in gc.get_objects())
        assert gc.get_threshold()[0] > 700
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_process_pool_of_two(tmp_path: Path, config: GradeConfig, klass: Path) -> None:
    batch = grade_batch(discover([klass]), config, tmp_path / "r", jobs=2)
    assert [g.verdict for g in batch.grades] == ["correct", "wrong", "partial", "invalid"]


def test_resume_after_an_interrupted_batch(tmp_path: Path, config: GradeConfig, klass: Path) -> None:
    refs = discover([klass])
    seen: list[str] = []

    def stop_after_two(grade: SubmissionGrade, reused: bool) -> None:
        seen.append(grade.id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_batch(refs, config, tmp_path / "r", on_result=stop_after_two)
    assert [p.name for p in sorted((tmp_path / "r" / "submissions").iterdir())] == ["ann", "bob"]
    # a submission whose reports were written but not its grade.json counts as not graded
    (tmp_path / "r" / "submissions" / "bob" / "grade.json").unlink()

    batch = grade_batch(refs, config, tmp_path / "r")
    assert batch.reused == {"ann"}
    assert [g.verdict for g in batch.grades] == ["correct", "wrong", "partial", "invalid"]

    again = grade_batch(refs, config, tmp_path / "r")
    assert again.reused == {"ann", "bob", "cat", "dan"}
    assert [g.to_json() for g in again.grades] == [g.to_json() for g in batch.grades]

    (klass / "cat.py").write_text(ENGINE)  # cat fixed her engine
    changed = grade_batch(refs, config, tmp_path / "r")
    assert changed.reused == {"ann", "bob", "dan"}
    assert read_grade(tmp_path / "r", "cat").verdict == "correct"  # type: ignore[union-attr]
    assert grade_batch(refs, config, tmp_path / "r", force=True).reused == set()


def test_a_changed_case_set_regrades(tmp_path: Path, config: GradeConfig, klass: Path) -> None:
    refs = discover([klass])[:1]
    grade_batch(refs, config, tmp_path / "r")
    fewer = GradeConfig(config.cases[:2], config.rubric, config.limits, config.samples, config.seed,
                        config.cache_dir, config.hidden, probes=False)
    assert grade_batch(refs, fewer, tmp_path / "r").reused == set()


# --------------------------------------------------------------------------- the command line


def test_grade_the_examples_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m gradcheck_lab grade examples/submissions/`: every example gets its verdict,
    the hanging one within its timeout, and a rerun grades nothing."""
    cases = tmp_path / "cases"
    cases.mkdir()
    for name in ("worked_examples.toml", "fan_out.toml"):
        shutil.copy(ROOT / "cases" / name, cases / name)
    reports, cache = tmp_path / "reports", tmp_path / "cache"
    args = ["grade", str(EXAMPLES), "--cases", str(cases), "--report-dir", str(reports), "--cache-dir", str(cache),
            "--case-timeout", "0.6", "--timeout", "5", "--jobs", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO((reports / "grades.csv").read_text())))
    assert list(rows[0]) == GRADES_COLUMNS
    verdicts = {r["id"]: r["verdict"] for r in rows}
    assert verdicts == {"correct": "correct", "dana": "correct", "hangs": "timeout", "missing_ops": "partial",
                        "notebook": "correct", "overwrite_bug": "wrong"}
    assert "ran longer than 0.6 s" in {r["id"]: r["finding"] for r in rows}["hangs"]
    codes = {r["id"]: r["diagnosis"].split() for r in rows}
    assert "grad-overwrite" in codes["overwrite_bug"] and codes["hangs"] == ["timeout"]
    assert not [c for c in codes["correct"] if not c.startswith(("recursion", "numerics", "unsupported:"))]
    assert {r["id"]: r["finding"] for r in rows}["overwrite_bug"].startswith("grad-overwrite")
    assert re.search(r"^\| grad-overwrite +\| 1 ", (reports / "class_summary.md").read_text(), re.M)
    feedback = (reports / "submissions" / "overwrite_bug" / "report.md").read_text()
    assert "## Diagnosis" in feedback and 'source = "L = x + x"' in feedback
    assert "| reuse:add " in feedback  # the evidence, smallest probe first: expected, got, what the bug predicts
    summary = (reports / "class_summary.md").read_text()
    assert "## Ops: failure rates" in summary and "| hangs " in summary
    assert re.search(r"^\| [^|]*grad-overwrite[^|]*\| 1 +\| wrong 1 +\| overwrite_bug", summary, re.M)  # grouped
    notebook = (reports / "submissions" / "notebook" / "report.md").read_text()
    assert "notebook cells used: 6, 8" in notebook and "grading the last" in notebook
    assert re.search(r"^\[\d/6\] correct: correct", out, re.M)  # plain progress lines (no terminal)
    assert "6 submissions: 6 graded, 0 unchanged" in out

    assert main([*args, "-q"]) == 0
    assert "6 submissions: 0 graded, 6 unchanged" in capsys.readouterr().out
    assert (reports / "grades.csv").read_text().count("\n") == 7


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", str(tmp_path), "--cases", str(ROOT / "cases" / "ops.toml")]) == 2
    assert "no submissions found" in capsys.readouterr().err
    (tmp_path / "a.py").write_text(ENGINE)
    (tmp_path / "b.py").write_text(ENGINE)
    assert main(["grade", str(tmp_path / "a.py"), str(tmp_path / "b.py"), "--gradescope", str(tmp_path / "r.json"),
                 "--cases", str(ROOT / "cases" / "ops.toml")]) == 2
    assert "one submission" in capsys.readouterr().err
    assert main(["grade", str(tmp_path / "a.py"), "--cases", str(tmp_path / "none")]) == 2


def test_the_seed_notebooks_engines(tmp_path: Path, config: GradeConfig) -> None:
    """Seed 004's engine prints inside backward() (captured, reported); its version from
    before the correction has the `=` bug."""
    from gradcheck_lab.grading import grade_submission
    from gradcheck_lab.submissions import SubmissionRef

    from .conftest import SEED_ENGINES, seed004_before

    grades = {p.stem: grade_submission(SubmissionRef(p.stem, p), config).grade
              for p in (SEED_ENGINES / "seed004.py", seed004_before(tmp_path))}
    assert grades["seed004"].verdict == "correct"
    assert "Gradients after backprop" in grades["seed004"].output
    assert grades["seed004_before"].verdict == "wrong"
