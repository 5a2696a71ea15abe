"""The batch as a whole: every submission ends with its own verdict, the controls' grades are
the ones they get alone, the grader stays under 1 GB, nothing an attack started survives."""

from __future__ import annotations

from tests.hostile.attacks import ATTACKS
from tests.hostile.conftest import CONTROLS, Hostile, grade_of


def test_every_submission_ends_with_its_own_verdict(hostile: Hostile) -> None:
    assert not hostile.batch.errors  # the grader itself never failed
    for attack in ATTACKS:
        grade_of(hostile, attack.name)
    assert len(hostile.grades) == len(ATTACKS) + len(CONTROLS) + 2  # + the CSV injection, the linked entry


def test_the_controls_keep_their_grades(hostile: Hostile) -> None:
    for name, (_, verdict) in CONTROLS.items():
        grade = hostile.grades[name]
        assert grade.verdict == verdict, (name, grade.finding)
        assert grade.score == (grade.max_score if verdict == "correct" else grade.score)
    assert hostile.grades["aa_control_correct"].score == hostile.grades["zz_control_correct"].score


def test_the_grader_stays_under_1_gb_and_finishes(hostile: Hostile) -> None:
    assert hostile.peak_mb < 1024, hostile.peak_mb
    assert (hostile.reports / "grades.csv").exists()


def test_nothing_an_attack_started_outlives_the_batch(hostile: Hostile) -> None:
    assert hostile.survivors() == []


def test_nothing_was_written_outside_and_the_secret_never_read(hostile: Hostile) -> None:
    assert sorted(p.name for p in hostile.canary.iterdir()) == ["secret.txt"]
    assert hostile.secret not in hostile.report_texts()
    assert all(hostile.secret not in g.output for g in hostile.grades.values())
