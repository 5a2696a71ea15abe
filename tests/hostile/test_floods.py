"""Floods: printed output, replies larger than any the grader reads, a full tmpfs, memfd
files. Each is bounded where it starts; the grader keeps at most what it needs."""

from __future__ import annotations

from tests.hostile.conftest import Hostile, grade_of


def test_printed_output_is_bounded(hostile: Hostile) -> None:
    grade = grade_of(hostile, "output_flood")
    assert len(grade.output) <= 16_000


def test_replies_too_large_are_refused_unread(hostile: Hostile) -> None:
    for name in ("huge_reply", "huge_header"):
        grade = grade_of(hostile, name)
        assert "refused" in grade.finding or grade.verdict == "timeout", (name, grade.finding)
    assert hostile.peak_mb < 1024


def test_the_working_folder_has_a_quota(hostile: Hostile) -> None:
    output = grade_of(hostile, "tmp_quota").output
    assert "stopped after" in output and int(output.split()[2]) <= 64


def test_memfd_files_are_capped(hostile: Hostile) -> None:
    grade = grade_of(hostile, "memfd_hoard")
    if grade.output.startswith("held"):
        assert int(grade.output.split()[1]) < 1024
