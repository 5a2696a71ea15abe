"""Loading: sparse files, 60,000 statements, nesting that breaks Python's parser,
colliding ids. The grader reads what it must, in linear time, and says what is wrong."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gradcheck_lab.errors import GradcheckError
from gradcheck_lab.submissions import SubmissionRef, discover, load_submission
from tests.hostile.attacks import ENGINE
from tests.hostile.conftest import Hostile, grade_of


@pytest.mark.parametrize("name", ["deep_nesting", "deep_lists", "deep_unary", "deep_sum", "sparse_main"])
def test_unparseable_or_huge_submissions_are_invalid(hostile: Hostile, name: str) -> None:
    grade = grade_of(hostile, name)
    assert grade.verdict == "invalid" and grade.finding


def test_a_sparse_sibling_is_left_out(hostile: Hostile) -> None:
    assert grade_of(hostile, "sparse_sibling").verdict == "correct"


def test_60000_statements_load_in_linear_time(hostile: Hostile, tmp_path: Path) -> None:
    assert grade_of(hostile, "many_statements").verdict == "correct"
    timings = []
    for n in (15_000, 60_000):
        path = tmp_path / f"s{n}.py"
        path.write_text("".join(f"a{k} = {k}\n" for k in range(n)) + ENGINE)
        started = time.perf_counter()
        sub = load_submission(SubmissionRef("s", path))
        timings.append(time.perf_counter() - started)
        assert not sub.problem
    assert timings[1] < 8 * timings[0] + 0.5, timings  # 4x the statements: about 4x the time, not 16x


def test_colliding_ids_are_refused(tmp_path: Path) -> None:
    for name in ("collide x.py", "collide_x.py"):
        (tmp_path / name).write_text(ENGINE)
    with pytest.raises(GradcheckError, match="share one id"):
        discover([tmp_path])
