"""Forged scores: a wrong engine that rebuilds the reference engine from the child's
modules, reads the answer keys, or rounds one value to float32 is still graded wrong."""

from __future__ import annotations

from tests.hostile.conftest import Hostile, grade_of


def test_the_child_holds_no_reference_engine(hostile: Hostile) -> None:
    assert grade_of(hostile, "rebuild_the_reference").verdict == "wrong"


def test_the_answer_keys_are_out_of_reach(hostile: Hostile) -> None:
    grade = grade_of(hostile, "answer_from_the_keys")
    assert grade.verdict == "wrong" and "keys found: 0" in grade.output


def test_one_float32_value_does_not_loosen_the_tolerances(hostile: Hostile) -> None:
    for name in ("float32_one_value", "float32_off_by_1e7"):
        grade = grade_of(hostile, name)
        assert grade.verdict == "wrong" and grade.precision == "float64", (name, grade.finding)
