"""Reports of a run: ``summary.txt``, ``report.md``, ``report.json``, ``report.csv``.

Every file is written atomically (a temporary file and a rename), so a reader or an
interrupted run never leaves half a report. ``report.json``'s schema is
``report.schema.json`` beside this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import write_text
from .csv_report import csv_text
from .json_report import json_text
from .markdown import markdown_text
from .text import summary_text

if TYPE_CHECKING:
    from ..harness import Run

__all__ = ["csv_text", "json_text", "markdown_text", "summary_text", "write_reports"]


def write_reports(run: Run, directory: str | Path) -> list[Path]:
    """Write every report of ``run`` into ``directory``; return their paths."""
    directory = Path(directory)
    writers = {
        "summary.txt": summary_text, "report.md": markdown_text, "report.json": json_text, "report.csv": csv_text,
    }
    return [write_text(directory / name, write(run)) for name, write in writers.items()]
