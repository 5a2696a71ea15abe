"""Processes: a shell (fork_exec), signals through pidfds and kill, a new session, a bomb.
Each sees only its own pid namespace; the grader and the other children go on."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradcheck_lab.submissions.isolation import Cgroup
from tests.hostile.attacks import ENGINE, _in_backward, _once
from tests.hostile.conftest import Hostile, grade_of
from tests.test_sandbox import ROOT


@pytest.mark.parametrize("name", ["fork_exec", "pidfd_signals", "kill_everyone", "leave_the_group", "process_bomb"])
def test_process_attacks_end_with_their_own_verdict(hostile: Hostile, name: str) -> None:
    grade_of(hostile, name)


def test_a_shell_reaches_nothing_of_the_grader(hostile: Hostile) -> None:
    grade = grade_of(hostile, "fork_exec")
    assert not (hostile.canary / "fork_exec.txt").exists()
    assert hostile.secret not in grade.output


def test_signals_reach_only_the_attackers_own_tree(hostile: Hostile) -> None:
    # the submissions graded after them are graded as they are alone
    assert hostile.grades["zz_control_correct"].verdict == "correct"
    assert hostile.grades["zz_control_buggy"].verdict == "wrong"


def test_a_bomb_is_capped_and_leaves_nothing(hostile: Hostile) -> None:
    grade = grade_of(hostile, "process_bomb")
    if Cgroup.available():  # else only the timeout and the pid namespace end it
        assert grade.output.startswith("forked") and int(grade.output.split()[1]) < 300  # pids.max stopped it
    assert hostile.survivors() == []


def _marked(mark: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if mark.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_nothing_outlives_a_killed_grader(tmp_path: Path) -> None:
    """``grade`` killed mid-batch (SIGKILL: no cleanup of its own runs): the sandbox's whole
    process tree dies with it, a process that left its session included."""
    mark = "gradcheck-orphan-" + secrets.token_hex(4)
    source = _in_backward(ENGINE, _once(f'''
import os, time
if os.fork() == 0:
    os.setsid()
    os.execv("/usr/bin/sleep", ["{mark}", "120"])
time.sleep(120)
'''))
    (tmp_path / "s.py").write_text(source)
    driver = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from gradcheck_lab.grading import grade_batch
from gradcheck_lab.submissions import Limits, discover
from tests.test_sandbox import tiny_config
config = tiny_config(Path({str(tmp_path / "grading")!r}), probes=False, diagnose=False,
                     limits=Limits(timeout=100, request_timeout=100, audit_hook=False))
grade_batch(discover([{str(tmp_path / "s.py")!r}]), config, {str(tmp_path / "reports")!r})
"""
    grader = subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _marked(mark) and time.monotonic() < deadline and grader.poll() is None:
            time.sleep(0.1)
        assert _marked(mark), "the submission's process never started"
    finally:
        grader.kill()
        grader.wait()
    deadline = time.monotonic() + 5
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked(mark) == []
