"""The file system: dir_fd escapes, special files, sqlite and readline writes, reading the
grader's files, writing its reports, symbolic links in a folder submission."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.hostile.conftest import Hostile, grade_of


@pytest.mark.parametrize("name", ["dir_fd_escape", "special_files", "read_the_grader", "write_the_reports",
                                  "symlinked_sibling"])
def test_file_attacks_reach_nothing(hostile: Hostile, name: str) -> None:
    grade = grade_of(hostile, name)
    assert hostile.secret not in grade.output and "root:" not in grade.output
    assert sorted(p.name for p in hostile.canary.iterdir()) == ["secret.txt"]


def test_the_grader_files_are_not_even_visible(hostile: Hostile) -> None:
    output = grade_of(hostile, "read_the_grader").output
    assert "[[case]]" not in output and "reuse" not in output  # no case file read
    assert "zz_control" not in output  # nor another submission


def test_results_are_written_by_the_grader_only(hostile: Hostile) -> None:
    assert hostile.mark not in hostile.report_texts()
    rows = list(csv.DictReader(io.StringIO((hostile.reports / "grades.csv").read_text())))
    assert {r["id"]: r["verdict"] for r in rows}["zz_control_correct"] == "correct"
    stored = json.loads((hostile.reports / "submissions" / "zz_control_correct" / "grade.json").read_text())
    assert stored["verdict"] == "correct"


def test_symbolic_links_are_never_followed(hostile: Hostile) -> None:
    grade = grade_of(hostile, "symlinked_sibling")
    assert "no secret" in grade.output and "secret.py" not in grade.output and "'up'" not in grade.output
    linked = hostile.grades["linked_entry"]
    assert linked.verdict == "invalid" and "symbolic link" in linked.finding
