"""Buggy engines for the explain, graph, HTML and training tests, made from the student
engine's text (tests/engines/student_value.py) with one line changed each."""

from __future__ import annotations

from pathlib import Path

STUDENT = Path(__file__).resolve().parent / "engines" / "student_value.py"

#: sin backpropagates -cos(x): a sign slip.
SIN_SIGN = {"self.grad += math.cos(self.data) * out.grad": "self.grad += -math.cos(self.data) * out.grad"}
#: ** adds 0.05 to its local slope: slightly wrong, so seed 002's descent stalls near loss 6.25e-4.
POW_BIAS = {
    "self.grad += k * self.data ** (k - 1) * out.grad": "self.grad += (k * self.data ** (k - 1) + 0.05) * out.grad",
}
#: log's forward computes log10: every value after it is wrong.
LOG10 = {"out = Value(math.log(self.data), (self,), \"log\")": "out = Value(math.log10(self.data), (self,), \"log\")"}


def engine_file(folder: Path, *bugs: dict[str, str]) -> Path:
    """The student engine with ``bugs`` applied, written into ``folder``; its path."""
    text = STUDENT.read_text()
    for bug in bugs:
        for old, new in bug.items():
            assert old in text, old
            text = text.replace(old, new)
    path = folder / f"engine_{abs(hash(text)) % 10**8}.py"
    path.write_text(text)
    return path
