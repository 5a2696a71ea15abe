"""With the audit hook switched off (and its settings zeroed by the submission), the
operating system still refuses: no write outside, no shell reaching the grader's files."""

from __future__ import annotations

from tests.hostile.conftest import Hostile, grade_of


def test_a_disarmed_hook_changes_nothing(hostile: Hostile) -> None:
    grade = grade_of(hostile, "hook_disarmed")
    assert grade.verdict == "correct"
    assert not (hostile.canary / "hook_disarmed.txt").exists()
    assert not (hostile.canary / "hook_disarmed_system.txt").exists()
    assert any("bubblewrap" in n for n in grade.notes)  # the report says how it ran
