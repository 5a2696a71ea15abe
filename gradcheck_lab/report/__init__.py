"""Reports of a run: ``summary.txt``, ``report.md``, ``report.json``, ``report.csv`` and
``training.csv`` (the training cases' descents, step by step).

Every file is written atomically (a temporary file and a rename), so a reader or an
interrupted run never leaves half a report. ``report.json``'s schema is
``report.schema.json`` beside this file. With ``findings`` (``check --diagnose``),
``report.md`` and ``report.json`` also carry the diagnosis and the minimal counterexample.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import write_text
from .csv_report import csv_text, training_csv_text
from .json_report import json_text
from .markdown import markdown_text
from .text import summary_text

if TYPE_CHECKING:
    from ..diagnose.findings import Findings
    from ..harness import Run

__all__ = ["REPORT_FILES", "csv_text", "json_text", "markdown_text", "summary_text", "training_csv_text",
           "write_reports"]

#: Every file :func:`write_reports` writes, in order.
REPORT_FILES = ("summary.txt", "report.md", "report.json", "report.csv", "training.csv")


def write_reports(run: Run, directory: str | Path, findings: Findings | None = None) -> list[Path]:
    """Write every report of ``run`` (:data:`REPORT_FILES`) into ``directory``; return their paths."""
    directory = Path(directory)
    writers: dict[str, Callable[[], str]] = {
        "summary.txt": lambda: summary_text(run), "report.md": lambda: markdown_text(run, findings),
        "report.json": lambda: json_text(run, findings), "report.csv": lambda: csv_text(run),
        "training.csv": lambda: training_csv_text(run),
    }
    return [write_text(directory / name, writers[name]()) for name in REPORT_FILES]
