"""The exception tree.

::

    GradcheckError                      base of everything this package raises on purpose
    ├── CaseError (ValueError)          a case file or case source is malformed
    ├── SubmissionError                 a Value implementation could not be loaded
    └── GradientMismatch (AssertionError)
                                        assert_gradients() found disagreements

Every message says where (file, case, line, column) and what to do about it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CaseError", "GradcheckError", "GradientMismatch", "SubmissionError"]


class GradcheckError(Exception):
    """Base class of every error gradcheck_lab raises on purpose."""


class CaseError(GradcheckError, ValueError):
    """A malformed case file or case source, located as precisely as we can.

    >>> print(CaseError("unknown op 'abs'", file="cases/a.toml", case="c1", line=4, col=9))
    cases/a.toml:4:9: case 'c1': unknown op 'abs'
    """

    def __init__(
        self, message: str, *, file: str | Path = "", case: str = "", line: int = 0, col: int = 0
    ) -> None:
        self.message = message
        self.file = str(file)
        self.case = case
        self.line = line
        self.col = col
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<source>"
        if self.line:
            where += f":{self.line}" + (f":{self.col}" if self.col else "")
        case = f"case {self.case!r}: " if self.case else ""
        return f"{where}: {case}{self.message}"


class SubmissionError(GradcheckError):
    """A Value implementation could not be loaded (missing file, no ``class Value``...)."""


class GradientMismatch(GradcheckError, AssertionError):
    """Raised by :func:`gradcheck_lab.assert_gradients`; the message is the table of disagreements."""
