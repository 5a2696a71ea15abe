"""First use and careless input (issue 9): every everyday slip ends in a clear one-line
error or the right behaviour, with the exit status of :class:`gradcheck_lab.cli.Exit`;
nothing already written is lost, nothing hangs, nothing is written where not asked."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradcheck_lab.atomic import write_text
from gradcheck_lab.cli import SUBCOMMANDS, Exit, build_parser, main

from .conftest import OVERWRITE, ROOT, STUDENT

CASE = f"{ROOT / 'cases' / 'worked_examples.toml'}::log-sin-product"
HANG = STUDENT.read_text().replace("    def backward(self):\n", "    def backward(self):\n        while True:\n"
                                                                 "            pass\n", 1)
PRINTS = 'print("hello from my module")\n' + STUDENT.read_text()


@pytest.fixture()
def cli(tmp_path: Path, answer_keys: object, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """main() with the session's answer keys; returns (status, stdout, stderr)."""
    cache = str(getattr(answer_keys, "directory"))

    def run(*args: str, report_dir: bool = True) -> tuple[int, str, str]:
        extra = ["--cache-dir", cache] if args and args[0] != "diagnose" else []
        if report_dir and (not args or args[0] in ("check", "grade") or args[0] not in SUBCOMMANDS):
            extra += ["--report-dir", str(tmp_path / "reports")]
        code = main([*args, *extra])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- 2, 3, 4: bad paths


def test_a_missing_case_folder_is_an_error_and_keeps_the_reports(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli(CASE, "--samples", "0")[0] == Exit.OK
    summary = (tmp_path / "reports" / "summary.txt").read_text()
    code, out, err = cli("nonexistent/", "-q")
    assert code == Exit.USAGE and out == ""
    assert err == "error: no such file or folder: nonexistent/\n"  # printed even with -q
    assert (tmp_path / "reports" / "summary.txt").read_text() == summary


def test_only_broken_case_files_write_nothing_and_say_why_with_quiet(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli(CASE, "--samples", "0")[0] == Exit.OK
    summary = (tmp_path / "reports" / "summary.txt").read_text()
    bad = _write(tmp_path, "bad.toml", '[[case]]\nname = "a"\nsource = "L = sqrt(x)"\npoints = [{x = 1.0}]\n')
    code, _out, err = cli(str(bad), "-q")
    assert code == Exit.USAGE and "unknown" in err.lower() and "bad.toml:3" in err and "nothing written" in err
    assert (tmp_path / "reports" / "summary.txt").read_text() == summary


def test_quiet_still_prints_the_case_file_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _write(tmp_path, "bad.toml", '[[case]]\nname = "a"\nsource = "L = sqrt(x)"\npoints = [{x = 1.0}]\n')
    code, out, err = cli(CASE, str(bad), "-q", "--samples", "0")
    assert code == Exit.USAGE and "1 case: 1 ok" in out and "1 case-file error" in out
    assert "bad.toml:3" in err  # the error itself, not only its count


def test_grade_of_a_missing_folder_grades_nobody(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = cli("grade", "nonexistent/", "--cases", CASE)
    assert code == Exit.USAGE and err == "error: no such file or folder: nonexistent/\n"
    assert not (tmp_path / "reports" / "grades.csv").exists()


@pytest.mark.parametrize("command", ["check", "grade"])
def test_an_unusable_report_dir_is_a_one_line_error(cli, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    a_file = _write(tmp_path, "a-file", "")
    target = [CASE] if command == "check" else [str(ROOT / "examples" / "submissions" / "correct.py"), "--cases", CASE]
    for where, why in [(a_file, "is a file, not a folder"), (a_file / "sub", "cannot write there"),
                       (Path("/proc/gradcheck-lab-reports"), "cannot write there")]:
        code, _out, err = cli(command, *target, "--report-dir", str(where), report_dir=False)
        assert code == Exit.USAGE, err
        assert err.startswith(f"error: --report-dir {where}: {why}") and err.count("\n") == 1, err
    assert a_file.read_text() == ""


# --------------------------------------------------------------------------- 5: hangs, Ctrl-C, prints


@pytest.mark.parametrize("command", ["check", "explain", "diagnose"])
def test_an_endless_backward_meets_the_time_limit(cli, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    hang = _write(tmp_path, "hang.py", HANG)
    args = {"check": [CASE, "--impl", str(hang)], "explain": ["explain", CASE, "--impl", str(hang)],
            "diagnose": ["diagnose", str(hang)]}[command]
    started = time.monotonic()
    code, _out, err = cli(*args, "--time-limit", "0.5")
    assert time.monotonic() - started < 30
    assert code == Exit.USAGE and "ran longer than 0.5 s" in err and "--time-limit" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_time_limit_caught_or_wrapped_by_the_code_it_stops_still_stops_it() -> None:
    from gradcheck_lab.implementations import TimeLimit, time_limit

    with pytest.raises(TimeLimit, match=r"ran longer than 0\.05 s"), time_limit(0.05, "a search"):
        try:
            while True:
                pass
        except BaseException as exc:  # as Hypothesis does: its own error around ours
            raise RuntimeError("Inconsistent data generation!") from exc
    with pytest.raises(TimeLimit), time_limit(0.05, "a loop"):
        try:
            while True:
                pass
        except BaseException:  # swallowed: the block's result is not to be trusted
            pass


def test_ctrl_c_ends_with_130_a_line_and_no_traceback(tmp_path: Path) -> None:
    inside = tmp_path / "inside-backward"  # the engine says when it is in its endless backward()
    signal_it = f"        open({str(inside)!r}, 'w').close()\n        while True:\n"
    hang = _write(tmp_path, "hang.py", HANG.replace("        while True:\n", signal_it, 1))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradcheck_lab", CASE, "--impl", str(hang), "--time-limit", "120",
         "--report-dir", str(tmp_path / "reports"), "--cache-dir", str(tmp_path / "cache")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 100
        while not inside.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert inside.exists(), proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == Exit.INTERRUPTED, err
    assert "Traceback" not in err and err.strip().startswith("interrupted:") and err.strip().count("\n") == 0
    assert not (tmp_path / "reports" / "summary.txt").exists()  # no half report


def test_module_level_prints_stay_out_of_explain(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    impl = _write(tmp_path, "my_value.py", PRINTS)
    code, out, err = cli("explain", CASE, "--impl", str(impl))
    assert code == Exit.OK and "hello from my module" not in out + err
    assert "printed 1 line (not shown)" in err


# --------------------------------------------------------------------------- 6: diagnose takes what grade takes


@pytest.mark.parametrize("submission", ["dana", "notebook.ipynb", "overwrite_bug.py"])
def test_diagnose_takes_a_file_a_notebook_or_a_folder(cli, submission: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("diagnose", str(ROOT / "examples" / "submissions" / submission), "--no-counterexample")
    assert code in (Exit.OK, Exit.DISCREPANCY), err
    assert "error" not in err
    if submission == "overwrite_bug.py":
        assert "grad-overwrite" in out
    if submission == "dana":
        assert "diagnosing" in err and "engine.py" in err  # which file of the folder, said


def test_diagnose_of_a_folder_without_value_is_a_clear_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty").mkdir()
    code, _out, err = cli("diagnose", str(tmp_path / "empty"))
    assert code == Exit.USAGE and err.startswith("error: ") and "no .py or .ipynb" in err


# --------------------------------------------------------------------------- 7: Gradescope mode


def test_gradescope_mode_leaves_the_class_results_alone(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(STUDENT, folder / "engine.py")
    shutil.copy(STUDENT, folder / "old_attempt.py")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "grades.csv").write_text("the class's grades\n")
    code, out, err = cli("grade", str(folder), "--cases", CASE, "--gradescope", str(tmp_path / "results.json"))
    assert code == Exit.OK, err
    assert (reports / "grades.csv").read_text() == "the class's grades\n"
    assert not (reports / "class_summary.md").exists()
    assert (tmp_path / "results.json").exists()
    line = next(x for x in out.splitlines() if x.startswith("gradescope: graded"))
    assert "engine.py" in line and "2 files define Value" in line and "one submission" in line


# --------------------------------------------------------------------------- 9, 10: what is written, where


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert stat.S_IMODE(write_text(tmp_path / "a.txt", "x").stat().st_mode) == 0o644
        os.umask(0o077)
        assert stat.S_IMODE(write_text(tmp_path / "b.txt", "x").stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temporary file left


def test_no_hypothesis_folder_in_the_current_folder(tmp_path: Path) -> None:
    impl = STUDENT.read_text()
    for old, new in OVERWRITE.items():
        impl = impl.replace(old, new)
    _write(tmp_path, "my_value.py", impl)
    env = {**os.environ, "GRADCHECK_CACHE": str(tmp_path / "cache")}
    env.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    for args in (["diagnose", "my_value.py"], [CASE, "--impl", "my_value.py", "--diagnose", "-q"]):
        subprocess.run([sys.executable, "-m", "gradcheck_lab", *args], cwd=tmp_path, env=env, timeout=300,
                       capture_output=True)
    assert not (tmp_path / ".hypothesis").exists()


# --------------------------------------------------------------------------- 11: TOML errors, where they are


def test_a_toml_syntax_error_has_its_real_line_and_column(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _write(tmp_path, "bad.toml", '[[case]]\nname = "a"\nsource = "L = x * x"\npoints = [{x = 1.0},\n\n'
                                       '[[case]]\nname = "b"\nsource = "L = x + x"\npoints = [{x = 1.0}]\n')
    code, out, err = cli(str(bad), "-q")
    assert code == Exit.USAGE and f"{bad}:4:10: case 'a': TOML: this '[' is never closed" in err
    assert "1 case: 1 ok" in out  # case b still ran


# --------------------------------------------------------------------------- 12: options first


def test_options_may_come_before_the_cases(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("--impl", str(STUDENT), "-q", "--samples", "0", CASE)
    assert code == Exit.OK and "1 case: 1 ok" in out
    code, out, _ = cli("-q", "--samples", "0", CASE)
    assert code == Exit.OK and out.startswith("1 case: 1 ok")


def test_quiet_alone_asks_for_cases(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["-q"])
    assert exit_.value.code == Exit.USAGE and "cases" in capsys.readouterr().err


# --------------------------------------------------------------------------- 13: the terminal summary, the README


def test_the_terminal_summary_is_one_line_per_case_failures_first(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    impl = STUDENT.read_text()
    for old, new in OVERWRITE.items():
        impl = impl.replace(old, new)
    my_value = _write(tmp_path, "my_value.py", impl)
    code, out, _ = cli(str(ROOT / "cases" / "kinks.toml"), str(ROOT / "cases" / "fan_out.toml"), "--impl",
                       str(my_value), "--samples", "0")
    assert code == Exit.DISCREPANCY
    lines = out.split("\n\n")[1].splitlines()  # after the header: one line per case
    verdicts = [line.split()[0] for line in lines]
    ranks = [0 if v not in ("ok", "nondifferentiable", "domain-error") else 1 if v != "ok" else 2 for v in verdicts]
    assert ranks == sorted(ranks) and 0 in ranks and 1 in ranks
    warning = next(line for line in lines if line.startswith("nondifferentiable"))
    assert re.search(r"point \d \(given: .*\): at the kink of (relu|max)\(", warning), warning
    assert "+---" not in out  # the grid is summary.txt's
    assert "+---" in (tmp_path / "reports" / "summary.txt").read_text()


def _flags(parser: object) -> set[str]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _flags(sub)
        found |= {s for s in action.option_strings if s.startswith("--") and s not in ("--help", "--version")}
    return found


def test_every_flag_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = sorted(f for f in _flags(build_parser()) if not re.search(re.escape(f) + r"\b", readme))
    assert missing == []


def test_ci_finds_the_readmes_two_commands() -> None:
    """.ci/run copies the two commands out of the README's "Two commands" section: both are there,
    each makes its own venv, and CI runs them with nothing of its own added."""
    ci = (ROOT / ".ci" / "run").read_text()
    section = (ROOT / "README.md").read_text().split("\n## Two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", section, re.S)
    assert len(blocks) == 2 and all(b.startswith("python3 -m venv .venv && . .venv/bin/activate") for b in blocks)
    assert blocks[0].endswith("python -m gradcheck_lab cases/") and blocks[1].endswith("pytest")
    assert 'limited bash -c "$command"' in ci and "Two commands" in ci


def test_every_flag_in_the_readme_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    usage = readme.split("## Usage", 1)[1].split("```", 2)[1]  # the usage block
    assert sorted(set(re.findall(r"--[a-z][a-z-]*", usage)) - _flags(build_parser())) == []


def test_help_quotes_no_figure_the_readme_does_not(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    for command in SUBCOMMANDS:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for figure in re.findall(r"[\d.]+ (?:instead of [\d.]+ )?submissions/s", text):
            assert figure in readme, f"{command} --help quotes {figure!r}, the README does not"


def test_a_time_limit_swallowed_once_fires_again_and_never_after_the_block() -> None:
    from gradcheck_lab.implementations import TimeLimit, time_limit

    swallowed = []
    with pytest.raises(TimeLimit), time_limit(0.05, "a loop"):
        while True:
            try:
                while True:
                    pass
            except TimeLimit:  # as a gc callback would: the first alarm is lost
                if swallowed:
                    raise
                swallowed.append(1)
    assert swallowed == [1]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # nothing left to fire into the caller
    time.sleep(0.3)
