"""By-hand backprop tables: seed 000's own table is right; each classic slip is named on
its line, and the lines computed from it are not blamed; exercises are personal and
reproducible, their keys kept apart; tables are graded in batches (grades.csv, Gradescope)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from gradcheck_lab.cli import main
from gradcheck_lab.exercises import check_rows, check_table, make_exercise
from gradcheck_lab.exercises.table import COLUMNS, blank_rows, key_rows, read_rows

SEED000 = Path(__file__).resolve().parent / "data/tables/seed000.csv"


def slip(tmp_path: Path, changes: dict[tuple[str, str], dict[str, str]]) -> Path:
    """Seed 000's table with some cells changed: (node, input) -> {column: text}."""
    rows = list(csv.DictReader(io.StringIO(SEED000.read_text())))
    for row in rows:
        row.update(changes.get((row["node"], row["input"]), {}) if row["part"] == "backward" else
                   changes.get((row["part"], row["node"]), {}))
    path = tmp_path / "filled.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def wrong(path: Path) -> dict[int, list[str]]:
    return {w.line: w.problems for w in check_table(path).lines if not w.ok}


def test_seed000_table_as_typed_is_correct() -> None:
    found = check_table(SEED000)
    assert found.ok and found.right == len(found.lines) == 22
    assert found.text() == "22 of 22 lines right: the table is correct\n"


def test_overwrite_instead_of_accumulate_is_named_and_not_carried(tmp_path: Path) -> None:
    # step 10 (CSV line 21): x3.grad = -0.2910 instead of 3.0 + (-0.2910); the final dL/dx3 follows from it
    path = slip(tmp_path, {("c", "x3"): {"after": "-0.2910"}, ("final", "x3"): {"value": "-0.2910"}})
    assert wrong(path) == {21: ["x3.grad should be 3.0 + (-0.2910) = 2.7090: you replaced it (= where += belongs)"]}


def test_missing_chain_factor_is_named(tmp_path: Path) -> None:
    # step 9 (line 20): contribution 4.0 (the local derivative alone) instead of -0.1455 * 4.0;
    # the student carries it on: x1.grad 4.0, then 4.0 + 0.5001 = 4.5001
    path = slip(tmp_path, {("c", "x1"): {"contribution": "4.0", "after": "4.0"},
                           ("a", "x1"): {"before": "4.0", "after": "4.5001"}, ("final", "x1"): {"value": "4.5001"}})
    [(line, problems)] = wrong(path).items()
    assert line == 20
    assert problems == ["missing chain factor: the contribution is c.grad * dc/dx1 = -0.1455 * 4.0 = -0.5820, "
                        "you wrote only the local derivative 4.0"]


def test_wrong_local_rule_is_named(tmp_path: Path) -> None:
    # step 7 (line 18): d(sin c)/dc written as sin(8.0) = 0.9894; everything after follows from it
    path = slip(tmp_path, {("d", "c"): {"local": "0.9894", "contribution": "0.9894", "after": "0.9894"},
                           ("c", "x1"): {"upstream": "0.9894", "contribution": "3.9576", "after": "3.9576"},
                           ("c", "x3"): {"upstream": "0.9894", "contribution": "1.9788", "after": "4.9788"},
                           ("a", "x1"): {"before": "3.9576", "after": "4.4577"},
                           ("final", "x1"): {"value": "4.4577"}, ("final", "x3"): {"value": "4.9788"}})
    assert wrong(path) == {18: ["wrong local derivative: dd/dc for sin(c) is cos(c) = -0.1455, you wrote 0.9894"]}


def test_a_rounding_error_within_tolerance_is_fine(tmp_path: Path) -> None:
    path = slip(tmp_path, {("b", "a"): {"local": "0.1666"}, ("final", "x2"): {"value": "4.3333"}})
    assert wrong(path) == {}


def test_a_wrong_value_is_blamed_once_and_carried_forward(tmp_path: Path) -> None:
    # d.data (line 8) miscomputed; f and L are computed correctly from it
    path = slip(tmp_path, {("forward", "d"): {"value": "0.9000"}, ("forward", "f"): {"value": "2.6918"},
                           ("forward", "L"): {"value": "14.6918"}})
    assert wrong(path) == {8: ["d.data should be sin(c) = 0.9894, you wrote 0.9000"]}


def test_blank_cells_give_nothing_away() -> None:
    e = make_exercise("ada")
    rows = [{**r, "line": str(i + 2)} for i, r in enumerate(blank_rows(e.program, e.point))]
    found = check_rows(rows)
    assert not found.ok and found.right == 0
    assert all("blank" in p and "=" not in p.split("blank")[1] for w in found.lines for p in w.problems[:1])


def test_exercises_are_personal_reproducible_and_their_keys_check_correct() -> None:
    sources = {make_exercise(s).source for s in ("ada", "bob", "cy", "dee")}
    assert len(sources) == 4
    assert make_exercise("ada", size=5, ops=["add", "mul", "sin"]) == make_exercise("ada", size=5,
                                                                                     ops=["add", "mul", "sin"])
    for s in ("ada", "bob", "cy", "dee"):
        e = make_exercise(s, size=6)
        assert len(e.program.nodes) - len(e.program.inputs) == 6
        rows = [{**r, "line": str(i + 2)} for i, r in enumerate(key_rows(e.program, e.point))]
        assert check_rows(rows).ok


def test_exercise_and_check_table_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, keys = tmp_path / "ex", tmp_path / "keys"
    assert main(["exercise", "--student", "ada", "--student", "bob", "--out-dir", str(out), "--key-dir",
                 str(keys)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ada.csv", "ada.html", "ada.md", "bob.csv", "bob.html", "bob.md"]
    assert sorted(p.name for p in keys.iterdir()) == ["ada.key.csv", "bob.key.csv"]
    assert "## 2. Backward pass" in (out / "ada.md").read_text()
    assert read_rows(out / "ada.csv")[0]["expression"] == "input"
    filled = tmp_path / "filled"
    filled.mkdir()
    (filled / "ada.csv").write_text((keys / "ada.key.csv").read_text())  # ada hands in a correct table
    (filled / "bob.csv").write_text((keys / "ada.key.csv").read_text())  # bob hands in ada's
    report = tmp_path / "reports"
    capsys.readouterr()
    assert main(["check-table", str(filled), "--key-dir", str(keys), "--report-dir", str(report)]) == 1
    grades = list(csv.DictReader(io.StringIO((report / "grades.csv").read_text())))
    assert [(g["id"], g["verdict"]) for g in grades] == [("ada", "correct"), ("bob", "wrong")]
    assert grades[1]["finding"] == "this table's expression or point is not bob's exercise"
    assert (grades[0]["score"], grades[1]["score"]) == ("21", "0")
    capsys.readouterr()
    results = tmp_path / "results.json"
    assert main(["check-table", str(SEED000), "--gradescope", str(results)]) == 0
    data = json.loads(results.read_text())
    assert data["score"] == 22 and data["output"].startswith("22 of 22 lines right")
    assert [(t["name"], t["score"], t["max_score"]) for t in data["tests"]] == [
        ("Forward pass", 7.0, 7.0), ("Backward pass", 12.0, 12.0), ("Final gradients", 3.0, 3.0)]
    assert (report / "tables" / "bob.txt").read_text().startswith("this table's expression or point is not bob's")
    assert capsys.readouterr().out.startswith("22 of 22 lines right")
    assert main(["check-table", str(tmp_path / "nowhere.csv")]) == 2
    (filled / "junk.csv").write_text("a,b\n1,2\n")
    assert main(["check-table", str(filled / "junk.csv")]) == 2
    assert "not a backprop table: no column part" in capsys.readouterr().err
    assert main(["check-table", str(filled), "--report-dir", str(report)]) == 1  # the batch goes on
    junk = next(g for g in csv.DictReader(io.StringIO((report / "grades.csv").read_text())) if g["id"] == "junk")
    assert junk["score"] == "0" and "not a backprop table" in junk["finding"]


def test_another_reverse_topological_order_is_fine_but_a_node_too_early_is_named(tmp_path: Path) -> None:
    lines = SEED000.read_text().splitlines()
    b_step, c_x1, c_x3 = lines[18], lines[19], lines[20]  # seed's steps 8 (b), 9 and 10 (c)
    swapped = [*lines[:18], c_x1, c_x3, b_step, *lines[21:]]  # c before b: also reverse topological
    (tmp_path / "order.csv").write_text("\n".join(swapped) + "\n")
    assert check_table(tmp_path / "order.csv").ok
    early = [*lines[:17], c_x1, lines[17], lines[18], *lines[20:]]  # c's first step before d's
    (tmp_path / "early.csv").write_text("\n".join(early) + "\n")
    problems = wrong(tmp_path / "early.csv")
    assert list(problems) == [18]
    assert "c is processed before every node that uses it passed its gradient back" in problems[18][0]


def test_a_missing_step_is_said(tmp_path: Path) -> None:
    lines = SEED000.read_text().splitlines()
    (tmp_path / "short.csv").write_text("\n".join(lines[:21] + lines[22:]) + "\n")  # no step 11 (a -> x1)
    found = check_table(tmp_path / "short.csv")
    assert not found.ok
    assert "1 backward step(s) are missing from the table" in found.text()


@pytest.mark.parametrize("student", [f"s{k}" for k in range(8)])
def test_in_any_exercise_an_overwrite_is_the_first_line_blamed(student: str) -> None:
    e = make_exercise(student, size=6)
    rows = [{**r, "line": str(i + 2)} for i, r in enumerate(key_rows(e.program, e.point))]
    step = next(r for r in rows if r["part"] == "backward" and float(r["before"]) != 0.0)
    step["after"] = step["contribution"]
    first = next(w for w in check_rows(rows).lines if not w.ok)
    assert first.line == int(step["line"])
    assert first.problems[0].endswith("you replaced it (= where += belongs)")


def test_numbers_as_spreadsheets_write_them_and_cells_that_are_no_number(tmp_path: Path) -> None:
    assert wrong(slip(tmp_path, {("c", "x3"): {"after": "2,7090"}, ("final", "x3"): {"value": "2,7090"}})) == {}
    assert wrong(slip(tmp_path, {("b", "a"): {"local": "1/6"}})) == {19: ["local is not a number: '1/6'"]}
