"""Processes: a shell (fork_exec), signals through pidfds and kill, a new session, a bomb.
Each sees only its own pid namespace; the grader and the other children go on."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import Hostile, grade_of


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
    if grade.output.startswith("forked"):
        assert int(grade.output.split()[1]) < 300  # the cgroup's process limit stopped it
    assert hostile.survivors() == []
