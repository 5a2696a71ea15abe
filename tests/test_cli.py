"""The command line as a user runs it: exit codes, what it prints, what it writes."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from gradcheck_lab.cli import main
from gradcheck_lab.report.json_report import SCHEMA_PATH

from .conftest import OVERWRITE, ROOT, STUDENT


@pytest.fixture()
def run_cli(tmp_path: Path, answer_keys: object, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    cache = getattr(answer_keys, "directory")

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--report-dir", str(tmp_path / "reports"), "--cache-dir", str(cache)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_python_dash_m_on_the_shipped_cases(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gradcheck_lab", "cases/", "--report-dir", str(tmp_path), "-q",
         "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "report.csv", "report.json", "report.md", "summary.txt", "training.csv",
    ]  # no temporary file left behind: every report is written atomically
    with (tmp_path / "training.csv").open() as f:
        assert {r["case"] for r in csv.DictReader(f)} == {"descent-quadratic"}
    data = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert len(next(c for c in data["cases"] if c["training"])["training"]["exact"]["losses"]) == 101


def _overwrite_impl(folder: Path) -> Path:
    """The student engine with `=` instead of `+=` in the backward of + and *, as my_value.py."""
    text = STUDENT.read_text()
    for old, new in OVERWRITE.items():
        text = text.replace(old, new)
    impl = folder / "my_value.py"
    impl.write_text(text)
    return impl


def test_overwrite_impl_exits_1_with_the_oracles_side_by_side(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    impl = _overwrite_impl(tmp_path)
    code, out, _ = run_cli(str(ROOT / "cases" / "fan_out.toml"), "--impl", str(impl))
    assert code == 1
    assert "grad-mismatch" in out and "finite differences side with the symbolic value" in out
    assert "symbolic" in out and "autograd" in out and "finite difference" in out
    assert f"rerun: python -m gradcheck_lab {ROOT / 'cases' / 'fan_out.toml'}::" in out
    assert f"--impl {impl}" in out


def test_rerun_selector_runs_one_case(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(f"{ROOT / 'cases' / 'worked_examples.toml'}::log-sin-product", "--samples", "0")
    assert code == 0 and "1 case: 1 ok" in out and "log-sin-product" in out


def test_malformed_file_exits_2_and_the_rest_still_runs(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "good.toml").write_text('[[case]]\nname = "g"\nsource = "L = x * x"\npoints = [{x = 2.0}]\n')
    (cases / "bad.toml").write_text('[[case]]\nname = "b"\nsource = "L = os.system(1)"\npoints = [{x = 2.0}]\n')
    code, out, _ = run_cli(str(cases))
    assert code == 2
    assert "1 case: 1 ok" in out
    assert f"{cases / 'bad.toml'}:3:15: case 'b': call to unknown function 'system'" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere/"], "no such file or folder"),
        (["cases/", "--impl", "missing.py"], "no such file"),
        (["cases/", "--tag", "no-such-tag"], "no cases to run"),
    ],
)
def test_input_errors_exit_2(args: list[str], message: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(*[str(ROOT / a) if a == "cases/" else a for a in args])
    assert code == 2 and message in out + err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "cases/", "--samples", "many"])
    assert info.value.code == 2
    assert main([]) == 2


def test_tag_filter_and_student_impl(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(str(ROOT / "cases"), "--tag", "seed", "--impl", str(STUDENT))
    assert code == 0 and "failed" in out
    assert "implementation: " + str(STUDENT) in out


def test_diagnose_names_the_bug_and_prints_a_pasteable_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    impl = _overwrite_impl(tmp_path)
    assert main(["diagnose", str(impl)]) == 1
    out = capsys.readouterr().out
    assert "grad-overwrite:add: = instead of += in the backward of +" in out
    assert "grad-overwrite:mul" in out and "recursion-limit" in out
    assert re.search(r'source = "L = x [+*] x"', out)  # = in both + and *: either shows it
    reference = tmp_path / "reference.py"
    reference.write_text("from gradcheck_lab import Value\n")
    assert main(["diagnose", str(reference), "--no-counterexample"]) == 0
    assert "no known bug found" in capsys.readouterr().out


def test_check_diagnose_prints_the_diagnosis_after_the_cases_and_reports_it(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_cli
) -> None:
    impl = _overwrite_impl(tmp_path)
    code, out, _ = run_cli(f"{ROOT / 'cases' / 'ops.toml'}::exp-alone", "--impl", str(impl),
                           "--samples", "0", "--diagnose")
    assert code == 1  # the one case passes (no node is read twice there), but the probes find the bug
    assert "1 case: 1 ok" in out
    diagnosis = out[out.index("1 case: 1 ok"):]
    assert "grad-overwrite:add: = instead of += in the backward of +" in diagnosis
    assert "reuse:add" in diagnosis and "the bug predicts" in diagnosis
    found = re.search(r'source = "(L = x [+*] x)"', diagnosis)  # = in both + and *: either shows it
    assert found and found.start() < diagnosis.index("reports: ")
    data = json.loads((tmp_path / "reports" / "report.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["exit_code"] == 1 and data["cases"][0]["verdict"] == "ok"
    assert any(d["code"].startswith("grad-overwrite") for d in data["diagnosis"])
    assert data["counterexample"]["source"] == found.group(1)
    md = (tmp_path / "reports" / "report.md").read_text()
    assert "## Diagnosis" in md and "`grad-overwrite:add`" in md


def test_check_diagnose_on_the_reference_engine_has_nothing_to_diagnose(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(f"{ROOT / 'cases' / 'worked_examples.toml'}::log-sin-product", "--samples", "0",
                           "--diagnose", "-q")
    assert code == 0 and out.splitlines()[-1] == "diagnosis: no known bug"
    data = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert (data["diagnosis"], data["counterexample"]) == ([], None)
    code, out, _ = run_cli(f"{ROOT / 'cases' / 'worked_examples.toml'}::log-sin-product", "--samples", "0",
                           "--diagnose")
    assert code == 0 and "reference engine): nothing to diagnose" in out and "--impl FILE" in out
