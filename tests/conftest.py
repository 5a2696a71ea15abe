"""Shared fixtures: the shipped cases, one answer-key cache per session, and student
engines (a correct one in the seeds' style, and buggy variants derived from its text)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradcheck_lab import Case, collect_cases
from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.diagnose.catalog import OP_NAMES, form_method
from gradcheck_lab.implementations import load_value_class

ROOT = Path(__file__).resolve().parent.parent
ENGINES = Path(__file__).resolve().parent / "engines"
STUDENT = ENGINES / "student_value.py"

SEED_ENGINES = Path(__file__).resolve().parent / "data" / "seed_engines"


def seed004_before(folder: Path) -> Path:
    """Seed 004's Value "before correction" (= where += belongs, as the notebook shows), written to ``folder``."""
    text = (SEED_ENGINES / "seed004.py").read_text()
    path = folder / "seed004_before.py"
    path.write_text(text.replace("self.grad += ", "self.grad = ").replace("other.grad += ", "other.grad = "))
    return path


def lacking(value_class: Any) -> frozenset[str]:
    """The op forms (``exp``, ``rsub``) a Value class has no method for: a hand-written engine
    lacks every op added to the table after it was written, and its diagnosis says so."""
    return frozenset(n for n in OP_NAMES if not callable(getattr(value_class, form_method(n), None)))


def unsupported(value_class: Any) -> set[str]:
    """The ``unsupported:FORM`` codes a diagnosis of ``value_class`` names: one per form it lacks."""
    return {f"unsupported:{n}" for n in lacking(value_class)}


#: `=` instead of `+=` in the backward of + and * (the seeds' classic bug).
OVERWRITE = {
    "self.grad += out.grad  # ADD-SELF": "self.grad = out.grad  # ADD-SELF",
    "other.grad += out.grad  # ADD-OTHER": "other.grad = out.grad  # ADD-OTHER",
    "self.grad += other.data * out.grad  # MUL-SELF": "self.grad = other.data * out.grad  # MUL-SELF",
    "other.grad += self.data * out.grad  # MUL-OTHER": "other.grad = self.data * out.grad  # MUL-OTHER",
}


@pytest.fixture(scope="session")
def shipped_cases() -> list[Case]:
    cases, errors = collect_cases([ROOT / "cases"])
    assert not errors, "\n".join(map(str, errors))
    return cases


@pytest.fixture(scope="session")
def answer_keys(tmp_path_factory: pytest.TempPathFactory) -> AnswerKeys:
    """One answer-key cache for the whole session: SymPy runs once per case and point."""
    return AnswerKeys(tmp_path_factory.mktemp("answer_keys"))


@pytest.fixture(scope="session")
def make_engine(tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, str]], Any]:
    """A Value class from the student engine's text with some lines replaced."""
    folder = tmp_path_factory.mktemp("engines")

    def make(replacements: dict[str, str]) -> Any:
        text = STUDENT.read_text()
        for old, new in replacements.items():
            assert old in text, old
            text = text.replace(old, new)
        path = folder / f"variant_{abs(hash(tuple(sorted(replacements.items()))))}.py"
        path.write_text(text)
        return load_value_class(path)

    return make


@pytest.fixture(scope="session")
def student_class() -> Any:
    return load_value_class(STUDENT)
