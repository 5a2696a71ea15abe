"""``report.csv``: one row per case, point and node, every number in full precision."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..harness import Run

__all__ = ["CSV_COLUMNS", "csv_text"]

CSV_COLUMNS = [
    "case", "file", "point", "origin", "inputs", "node", "verdict", "symbolic_value", "value", "value_tol",
    "symbolic_grad", "grad", "fd_grad", "fd_error", "grad_tol", "error", "detail",
]


def _num(x: float | None) -> str:
    return "" if x is None else repr(x)


def csv_text(run: Run) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in run.results:
        for p in r.points:
            inputs = json.dumps(p.point)
            for n in p.nodes:
                writer.writerow([
                    r.case.name, r.case.file, p.index + 1, p.origin, inputs, n.name, n.verdict,
                    _num(n.symbolic_value), _num(n.value), _num(n.value_tol), _num(n.symbolic_grad), _num(n.grad),
                    _num(n.fd_grad), _num(n.fd_error), _num(n.grad_tol), _num(n.error), n.detail or p.message,
                ])
    return buffer.getvalue()
