"""Tables of text cells as tabulate draws them, each drawing done once per process.

A class's reports repeat most of their tables and cells (a case's nodes that most engines
get right, the same forms working, ``ok`` in 80 rows of 92), and tabulate's work is per
cell. So a table already drawn is reused; and a new GitHub table is drawn column by column,
each column once per set of distinct cells. That is exact: tabulate sizes and pads every
column on its own and draws a row on one line, so a table's lines are its columns' lines
side by side. A table with a cell that makes tabulate draw the whole table differently (a
line break, an ANSI code, its separating-line mark ``\\x01``) is drawn whole, as is every
table of another format.

>>> print(text_table(["node", "grad"], [["x", "1.0"], ["y", "1.0"], ["L", "1"]]))
| node   | grad   |
|--------|--------|
| x      | 1.0    |
| y      | 1.0    |
| L      | 1      |
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from itertools import chain

from tabulate import tabulate

__all__ = ["text_table"]

#: What may make tabulate draw a table as a whole, not as columns side by side: line breaks
#: (multi-line rows), ESC (ANSI codes change how widths are measured), ``\x01`` (a separating line).
_WHOLE = re.compile("[\r\n\x1b\x01]")


def text_table(headers: Sequence[str], rows: Iterable[Sequence[str]], tablefmt: str = "github") -> str:
    """``rows`` of text cells (shown as they are: no number parsed) as tabulate draws them.

    >>> print(text_table(["form", "verdict"], [["x + y", "ok"]], "simple"))
    form    verdict
    ------  ---------
    x + y   ok
    """
    return _drawn(tuple(headers), tuple(map(tuple, rows)), tablefmt)


@functools.lru_cache(maxsize=512)
def _drawn(headers: tuple[str, ...], rows: tuple[tuple[str, ...], ...], tablefmt: str) -> str:
    if (tablefmt != "github" or not rows or any(len(row) != len(headers) for row in rows)
            or _WHOLE.search("".join(chain(headers, *rows)))):
        return tabulate([list(row) for row in rows], headers, tablefmt=tablefmt, disable_numparse=True)
    columns = [_column_lines(header, cells) for header, cells in zip(headers, zip(*rows))]
    return "\n".join("".join(line[:-1] for line in lines) + "|" for lines in zip(*columns))  # "| a " "| b |"


def _column_lines(header: str, cells: tuple[str, ...]) -> list[str]:
    """A GitHub table's column as lines (``| cell  |``), header and rule first."""
    distinct = tuple(sorted(set(cells)))  # a column's lines depend on its set of cells, not their order
    head, rule, *lines = _column(header, distinct)
    line_of = dict(zip(distinct, lines))
    return [head, rule, *map(line_of.__getitem__, cells)]


@functools.lru_cache(maxsize=2048)
def _column(header: str, cells: tuple[str, ...]) -> list[str]:
    return tabulate([[cell] for cell in cells], [header], tablefmt="github", disable_numparse=True).split("\n")
