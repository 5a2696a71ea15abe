"""The report files: schema-valid JSON, one CSV row per node, Markdown tables, atomic writes."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gradcheck_lab import Case, InProcessExecutor, check_cases, collect_cases
from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.report import write_reports
from gradcheck_lab.report.csv_report import CSV_COLUMNS
from gradcheck_lab.report.json_report import SCHEMA_PATH

from .conftest import OVERWRITE, ROOT


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
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_json_matches_its_schema_and_holds_every_number(buggy_run: Any, tmp_path: Path) -> None:
    write_reports(buggy_run, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["schema_version"] == 1 and data["exit_code"] == 2
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
