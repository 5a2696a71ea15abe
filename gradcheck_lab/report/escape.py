r"""Text that student code may have written (exception messages, findings, printed
output) made inert where reports show it: Markdown that renders no link, image, HTML or
heading of its own, code blocks it cannot close, CSV cells no spreadsheet runs.

>>> print(inert("![x](http://e.com) <b>|"), csv_cell("=1+1"))
\!\[x\](http://e.com) \<b\>\| '=1+1
"""

from __future__ import annotations

import functools

__all__ = ["csv_cell", "fenced", "inert", "inert_cells"]

#: Each of these gets a backslash (links, images, HTML, code, tables, headings); a line break becomes a space.
_INERT = str.maketrans({**{c: "\\" + c for c in "\\`[]<>|#!"}, "\r": " ", "\n": " "})
#: A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    r"""``text`` as inert Markdown on one line (its punctuation escaped).

    >>> print(inert("# 2\\3 |\r\n`x`"))
    \# 2\\3 \|  \`x\`
    """
    return text.translate(_INERT)  # one pass: ~3 times quicker than a regex, and reports escape ~900 cells each


@functools.lru_cache(maxsize=4096)
def inert_cells(row: tuple[str, ...]) -> tuple[str, ...]:
    r"""A table row's cells, each :func:`inert`; once per process for each distinct row (a class's reports
    repeat most of theirs: a case that passes, a node every engine gets right).

    >>> inert_cells(("x|y", "1"))
    ('x\\|y', '1')
    """
    return tuple(map(inert, row))


def fenced(text: str) -> list[str]:
    """``text`` as a Markdown code block it cannot close early."""
    return ["```", text.rstrip().replace("```", "'''"), "```"]


def csv_cell(text: str) -> str:
    """A CSV text cell that no spreadsheet runs as a formula: one starting with ``= + - @``
    (or a tab or carriage return) gets a leading apostrophe.

    >>> print(csv_cell("all 3 cases agree"))
    all 3 cases agree
    """
    return "'" + text if text.startswith(_FORMULA_START) else text
