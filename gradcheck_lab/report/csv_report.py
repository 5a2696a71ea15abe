"""``report.csv``: one row per case, point and node; ``training.csv``: one row per training
case and step. Every number in full precision.

``training.csv`` is a table of its own because its rows are steps, not nodes: a
spreadsheet charts ``loss`` against ``exact_loss`` over ``step`` straight away, and
filters on ``case``. Each parameter has two columns, ``param_NAME`` and
``exact_param_NAME`` (the parameters of every training case of the run, in order; a
case leaves another's blank). A descent that stopped leaves its cells blank from that
step on, and ``note`` says why at the step it stopped.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..harness import CaseResult, Run
    from ..training import Training, Trajectory

__all__ = ["CSV_COLUMNS", "TRAINING_COLUMNS", "csv_text", "training_csv_text", "training_rows"]

CSV_COLUMNS = [
    "case", "file", "point", "origin", "inputs", "node", "verdict", "symbolic_value", "value", "value_tol",
    "symbolic_grad", "grad", "fd_grad", "fd_error", "grad_tol", "error", "detail",
]
#: ``training.csv``'s first columns; ``param_NAME`` and ``exact_param_NAME`` per parameter follow.
TRAINING_COLUMNS = ["case", "file", "step", "loss", "exact_loss", "parted", "note"]


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


def _last_step(t: Training) -> int:
    """The last step with a row: the further descent's last, or the step where one stopped."""
    return min(t.steps, max(len(traj.losses) - 1 + bool(traj.error) for traj in (t.implementation, t.exact)))


def _stop_note(traj: Trajectory, step: int, who: str) -> str:
    return f"{who} stopped: {traj.error}" if traj.error and step == len(traj.losses) else ""


def training_rows(t: Training) -> list[dict[str, str]]:
    """One row per step of both descents (no ``case`` or ``file``), keyed by column.

    >>> from gradcheck_lab.training import Training, Trajectory
    >>> mine = Trajectory([{"w": 2.0}], [2.0], error="ValueError: no", error_kind="exception")
    >>> rows = training_rows(Training(1, 0.1, Trajectory([{"w": 2.0}, {"w": 1.8}], [2.0, 1.62]), mine, 1))
    >>> [(r["step"], r["loss"], r["exact_loss"], r["param_w"], r["parted"], r["note"]) for r in rows]
    [('0', '2.0', '2.0', '2.0', 'no', ''), ('1', '', '1.62', '', 'yes', 'yours stopped: ValueError: no')]
    """
    mine, exact, rows = t.implementation, t.exact, []
    names = list(dict.fromkeys(x for traj in (mine, exact) for p in traj.params for x in p))
    for step in range(_last_step(t) + 1):
        row = {"step": str(step), "loss": _num(_at(mine.losses, step)), "exact_loss": _num(_at(exact.losses, step)),
               "parted": "yes" if t.parted_at is not None and step >= t.parted_at else "no",
               "note": "; ".join(filter(None, [_stop_note(mine, step, "yours"), _stop_note(exact, step, "exact")]))}
        for traj, prefix in ((mine, "param_"), (exact, "exact_param_")):
            params = traj.params[step] if step < len(traj.params) else {}
            row.update({prefix + x: _num(params.get(x)) for x in names})
        rows.append(row)
    return rows


def _at(values: list[float], step: int) -> float | None:
    return values[step] if step < len(values) else None


def _parameter_columns(trained: list[CaseResult]) -> list[str]:
    names = dict.fromkeys(x for r in trained for x in r.case.program.inputs)
    return [c for x in names for c in (f"param_{x}", f"exact_param_{x}")]


def training_csv_text(run: Run) -> str:
    """``training.csv``: every training case's descents, one row per case and step
    (only the header when the run has no training case)."""
    trained = [r for r in run.results if r.training is not None]
    columns = TRAINING_COLUMNS + _parameter_columns(trained)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="", lineterminator="\n")
    writer.writeheader()
    for r in trained:
        assert r.training is not None
        writer.writerows({"case": r.case.name, "file": r.case.file, **row} for row in training_rows(r.training))
    return buffer.getvalue()
