"""The report files: schema-valid JSON, one CSV row per node, Markdown tables, atomic writes;
the training cases' descents in report.json and training.csv; a diagnosis in report.json and report.md."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from gradcheck_lab import Case, InProcessExecutor, Value, check_cases, collect_cases, parse_source
from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.diagnose.findings import Findings, find_bugs
from gradcheck_lab.drawing import text_table
from gradcheck_lab.report import REPORT_FILES, write_reports
from gradcheck_lab.report.csv_report import CSV_COLUMNS, TRAINING_COLUMNS
from gradcheck_lab.report.json_report import SCHEMA_PATH
from gradcheck_lab.training import descend

from .conftest import OVERWRITE, ROOT

SCHEMA = json.loads(SCHEMA_PATH.read_text())


@pytest.fixture(scope="module")
def buggy_run(shipped_cases: list[Case], answer_keys: AnswerKeys, make_engine: Callable[..., Any]) -> Any:
    bad_file = ROOT / "tests" / "data" / "mixed.toml"
    extra, errors = collect_cases([bad_file])
    return check_cases(
        [*shipped_cases[:12], *extra], InProcessExecutor(make_engine(OVERWRITE)), errors=errors,
        samples=1, answer_keys=answer_keys, implementation="my_value.py",
    )


def test_reports_are_written_atomically(buggy_run: Any, tmp_path: Path) -> None:
    paths = write_reports(buggy_run, tmp_path / "out")
    assert [p.name for p in paths] == list(REPORT_FILES) and "training.csv" in REPORT_FILES
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_json_matches_its_schema_and_holds_every_number(buggy_run: Any, tmp_path: Path) -> None:
    write_reports(buggy_run, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["schema_version"] == 1 and data["exit_code"] == 2
    assert all(c["training"] is None for c in data["cases"]) and "diagnosis" not in data
    assert data["errors"][0]["line"] > 0
    verdicts = {c["verdict"] for c in data["cases"]}
    assert {"grad-mismatch", "ok", "domain-error", "nondifferentiable"} <= verdicts
    failing = next(c for c in data["cases"] if c["verdict"] == "grad-mismatch")
    assert failing["rerun"].startswith("python -m gradcheck_lab ") and "--impl my_value.py" in failing["rerun"]
    node = failing["points"][0]["nodes"][0]
    assert set(node["grad"]) == {"symbolic", "autograd", "finite_difference", "finite_difference_error",
                                 "tolerance", "error"}


def test_csv_has_one_row_per_case_point_and_node(buggy_run: Any, tmp_path: Path) -> None:
    write_reports(buggy_run, tmp_path)
    with (tmp_path / "report.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == sum(len(p.nodes) for r in buggy_run.results for p in r.points)
    mismatch = next(r for r in rows if r["verdict"] == "grad-mismatch")
    assert float(mismatch["grad"]) != float(mismatch["symbolic_grad"])


def test_markdown_and_summary(buggy_run: Any, tmp_path: Path) -> None:
    write_reports(buggy_run, tmp_path)
    md = (tmp_path / "report.md").read_text()
    import re

    assert re.search(r"\| node +\| symbolic +\| autograd +\| finite difference +\| error +\| verdict +\|", md)
    assert "Rerun just this case: `python -m gradcheck_lab" in md
    summary = (tmp_path / "summary.txt").read_text()
    assert "| case" in summary and "worst error" in summary and "Case-file errors" in summary
    assert summary.rstrip().splitlines()[-1].endswith("1 case-file error")


#: Cells as reports hold them (numbers as text, blanks, wide and combining characters, escaped pipes, "True"),
#: and what makes tabulate draw a whole table differently: line breaks, ANSI codes, its separating-line mark.
CELLS = st.one_of(st.sampled_from(["", "1", "-0.5", "1e-12", "True", "ok", "x₁", "界", "e\u0301", "\\|", " pad ",
                                   "a\nb", "\x1b[31mred\x1b[0m", " \x01 "]), st.text(max_size=12))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: st.tuples(
    st.lists(st.text(min_size=1, max_size=8), min_size=k, max_size=k),
    st.lists(st.lists(CELLS, min_size=k, max_size=k), max_size=6))), st.sampled_from(["github", "simple"]))
def test_a_table_is_drawn_as_tabulate_draws_it(table: tuple[list[str], list[list[str]]], tablefmt: str) -> None:
    """Drawn column by column, each column once per distinct cell, and again from the process's memo."""
    headers, rows = table
    expected = tabulate(rows, headers, tablefmt=tablefmt, disable_numparse=True)
    assert text_table(headers, rows, tablefmt) == expected
    assert text_table(headers, (row for row in rows), tablefmt) == expected
    if rows:  # a table one cell apart is drawn anew
        changed = [row[:] for row in rows]
        changed[-1][0] += "z"
        assert text_table(headers, changed, tablefmt) == tabulate(changed, headers, tablefmt=tablefmt,
                                                                 disable_numparse=True)


# --------------------------------------------------------------------------- training trajectories

#: `d` and `b` are each read twice by `*`: with `=` instead of `+=` their gradients are d and b, not 2d and 2b,
#: so that engine's descent takes half steps.
REUSE = Case("reuse-descent", parse_source("d = w - 3\nloss = d * d + b * b"), ({"w": 1.0, "b": 2.0},),
             source="d = w - 3\nloss = d * d + b * b", steps=20, lr=0.1)


@pytest.fixture(scope="module")
def training_cases(shipped_cases: list[Case]) -> list[Case]:
    return [REUSE, next(c for c in shipped_cases if c.name == "descent-quadratic")]


def _trained(cases: list[Case], value_class: Any, keys: AnswerKeys) -> Any:
    return check_cases(cases, InProcessExecutor(value_class), samples=0, answer_keys=keys)


@pytest.fixture(scope="module")
def reference_training(training_cases: list[Case], answer_keys: AnswerKeys) -> Any:
    return _trained(training_cases, Value, answer_keys)


@pytest.fixture(scope="module")
def overwrite_training(training_cases: list[Case], answer_keys: AnswerKeys, make_engine: Callable[..., Any]) -> Any:
    return _trained(training_cases, make_engine(OVERWRITE), answer_keys)


def _report_json(run: Any, folder: Path, findings: Findings | None = None) -> dict[str, Any]:
    write_reports(run, folder, findings)
    data: dict[str, Any] = json.loads((folder / "report.json").read_text())
    jsonschema.validate(data, SCHEMA)
    return data


def _training_csv(folder: Path) -> list[dict[str, str]]:
    with (folder / "training.csv").open() as f:
        return list(csv.DictReader(f))


def test_json_trajectories_are_what_training_computes(reference_training: Any, answer_keys: AnswerKeys,
                                                      tmp_path: Path) -> None:
    data = _report_json(reference_training, tmp_path)
    for case, entry in zip([r.case for r in reference_training.results], data["cases"]):
        again = descend(case, InProcessExecutor(Value), answer_keys)
        t = entry["training"]
        assert (t["steps"], t["lr"], t["verdict"], t["parted_at"]) == (case.steps, case.lr, "ok", None)
        assert t["parameters"] == list(case.program.inputs)
        for side, traj in (("implementation", again.implementation), ("exact", again.exact)):
            assert t[side]["losses"] == traj.losses and len(traj.losses) == case.steps + 1
            assert t[side]["params"] == {x: [p[x] for p in traj.params] for x in case.program.inputs}
            assert (t[side]["error"], t[side]["error_kind"]) == ("", "")
    quadratic = data["cases"][1]["training"]["exact"]
    assert [round(x, 4) for x in quadratic["losses"][:3]] == [2.5, 2.025, 1.6402]  # seed 002's printout


def test_json_trajectories_part_for_the_overwrite_engine(overwrite_training: Any, tmp_path: Path) -> None:
    data = _report_json(overwrite_training, tmp_path)
    reuse, quadratic = (c["training"] for c in data["cases"])
    assert (reuse["verdict"], reuse["parted_at"]) == ("grad-mismatch", 1)
    assert data["cases"][0]["verdict"] == "grad-mismatch" and data["exit_code"] == 1
    # Step 1 from w = 1: the exact gradient 2(w - 3) = -4 moves w to 1.4; the engine's -2 only to 1.2.
    assert reuse["exact"]["params"]["w"][:2] == pytest.approx([1.0, 1.4])
    assert reuse["implementation"]["params"]["w"][:2] == pytest.approx([1.0, 1.2])
    assert (reuse["exact"]["params"]["b"][1], reuse["implementation"]["params"]["b"][1]) == pytest.approx((1.6, 1.8))
    mine, exact = reuse["implementation"]["losses"], reuse["exact"]["losses"]
    assert mine[0] == exact[0] == 8.0 and all(m > e for m, e in zip(mine[1:], exact[1:]))
    assert quadratic["parted_at"] is None  # no node is read twice there: = and += agree


def test_training_csv_has_one_row_per_case_and_step(overwrite_training: Any, tmp_path: Path) -> None:
    write_reports(overwrite_training, tmp_path)
    rows = _training_csv(tmp_path)
    assert list(rows[0]) == [*TRAINING_COLUMNS, "param_w", "exact_param_w", "param_b", "exact_param_b",
                             "param_w1", "exact_param_w1", "param_w2", "exact_param_w2"]
    assert len(rows) == 21 + 101
    reuse = [r for r in rows if r["case"] == "reuse-descent"]
    t = overwrite_training.results[0].training
    assert [float(r["loss"]) for r in reuse] == t.implementation.losses
    assert [float(r["exact_loss"]) for r in reuse] == t.exact.losses
    assert [float(r["param_w"]) for r in reuse] == [p["w"] for p in t.implementation.params]
    assert [r["parted"] for r in reuse[:3]] == ["no", "yes", "yes"]
    assert all(r["param_w1"] == "" for r in reuse)  # another case's parameter
    quadratic = [r for r in rows if r["case"] == "descent-quadratic"]
    assert quadratic[0]["file"].endswith("training.toml") and {r["parted"] for r in quadratic} == {"no"}


def test_a_stopped_descent_leaves_blanks_and_says_why(training_cases: list[Case], answer_keys: AnswerKeys,
                                                      make_engine: Callable[..., Any], tmp_path: Path) -> None:
    broken = make_engine({"def __mul__(self, other):": "def __mul__(self, other):\n        raise ValueError('no')"})
    data = _report_json(_trained(training_cases[:1], broken, answer_keys), tmp_path)
    t = data["cases"][0]["training"]
    assert t["implementation"]["losses"] == [] and t["implementation"]["error_kind"] == "exception"
    assert len(t["exact"]["losses"]) == 21
    rows = _training_csv(tmp_path)
    assert len(rows) == 21 and rows[0]["loss"] == "" and rows[0]["exact_loss"] == "8.0"
    assert rows[0]["note"].startswith("yours stopped: ValueError: no") and rows[1]["note"] == ""


def test_markdown_points_to_every_step(overwrite_training: Any, tmp_path: Path) -> None:
    write_reports(overwrite_training, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "parts from the exact descent at step 1" in md
    assert md.count("every step of both descents: `training` in `report.json`") == 2


# --------------------------------------------------------------------------- diagnosis


@pytest.fixture(scope="module")
def overwrite_findings(make_engine: Callable[..., Any]) -> Findings:
    return find_bugs(make_engine(OVERWRITE))


def test_json_and_markdown_carry_the_diagnosis(buggy_run: Any, overwrite_findings: Findings, tmp_path: Path) -> None:
    data = _report_json(buggy_run, tmp_path, overwrite_findings)
    codes = [d["code"] for d in data["diagnosis"]]
    assert {"grad-overwrite:add", "grad-overwrite:mul"} <= set(codes)
    add = next(d for d in data["diagnosis"] if d["code"] == "grad-overwrite:add")
    assert add["explanation"].startswith("= instead of += in the backward of +")
    assert any(e["probe"] == "reuse:add" and e["got"] == "x.grad = 1" for e in add["evidence"])
    assert data["diagnosis"] == overwrite_findings.diagnosis.to_json() and data["unexplained"] == []
    example = data["counterexample"]
    # the named bugs' own minimal counterexample: a node read twice by + or by *
    assert example["nodes"] == 2 and example["source"] in ("L = x + x", "L = x * x")
    assert f'source = "{example["source"]}"' in example["case"]
    md = (tmp_path / "report.md").read_text()
    assert md.index("## Diagnosis") < md.index("## " + buggy_run.results[0].case.name)
    assert "- `grad-overwrite:add`: = instead of += in the backward of +" in md
    assert "| reuse:add " in md and '```toml\n[[case]]\nname = "counterexample"' in md


def test_a_clean_diagnosis_still_validates_and_says_so(reference_training: Any, tmp_path: Path) -> None:
    data = _report_json(reference_training, tmp_path, find_bugs(Value, counterexample=False))
    assert (data["diagnosis"], data["unexplained"], data["counterexample"], data["exit_code"]) == ([], [], None, 0)
    assert "No known bug found by the probes" in (tmp_path / "report.md").read_text()
