"""``report.json``: every number of a run. Its schema: ``report.schema.json`` beside this file.

Non-finite numbers are written as null (JSON has no NaN); ``schema_version`` changes
whenever a field changes meaning or goes away (new fields keep it). A training case's
``training`` holds both descents step by step, as columns ready to plot: ``losses[k]``
and ``params[name][k]`` are the loss and a parameter before step ``k + 1``. With
``check --diagnose`` the run also carries ``diagnosis``, ``unexplained`` and ``counterexample``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checktable import rerun_command
from ..compare import NodeCheck, PointCheck
from ..program import Program
from ..training import RTOL, Training, Trajectory
from ..version import __version__
from .tables import totals_line

if TYPE_CHECKING:
    from ..diagnose.findings import Findings
    from ..harness import CaseResult, Run

__all__ = ["SCHEMA_PATH", "SCHEMA_VERSION", "exit_code", "json_text", "run_to_json", "training_to_json"]

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def _num(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _node(n: NodeCheck, op: str) -> dict[str, Any]:
    return {
        "node": n.node, "name": n.name, "op": op, "verdict": n.verdict, "detail": n.detail,
        "value": {"symbolic": _num(n.symbolic_value), "autograd": _num(n.value), "tolerance": _num(n.value_tol)},
        "grad": {
            "symbolic": _num(n.symbolic_grad), "autograd": _num(n.grad), "finite_difference": _num(n.fd_grad),
            "finite_difference_error": _num(n.fd_error), "tolerance": _num(n.grad_tol), "error": _num(n.error),
        },
    }


def _point(p: PointCheck, ops: list[str], program: Program) -> dict[str, Any]:
    return {
        "index": p.index, "origin": p.origin, "inputs": p.point, "verdict": p.verdict, "message": p.message,
        "first_wrong": p.first_wrong(program),
        "traceback": p.traceback, "notes": p.notes, "nodes": [_node(n, ops[n.node]) for n in p.nodes],
    }


def _trajectory(t: Trajectory, names: list[str]) -> dict[str, Any]:
    return {
        "losses": [_num(x) for x in t.losses],
        "params": {x: [_num(p.get(x)) for p in t.params] for x in names},
        "error": t.error, "error_kind": t.error_kind,
    }


def training_to_json(t: Training) -> dict[str, Any]:
    """Both descents of a training case, as columns: ``implementation.losses[k]`` beside
    ``exact.losses[k]``, ``params[name][k]`` likewise; ``parted_at`` the first step apart.

    >>> from gradcheck_lab.training import Training, Trajectory
    >>> exact = Trajectory([{"w": 2.0}, {"w": 1.8}], [2.0, 1.62])
    >>> t = training_to_json(Training(1, 0.1, exact, Trajectory([{"w": 2.0}, {"w": 1.9}], [2.0, 1.805]), 1))
    >>> t["implementation"]["params"], t["exact"]["losses"], t["parted_at"], t["verdict"]
    ({'w': [2.0, 1.9]}, [2.0, 1.62], 1, 'grad-mismatch')
    """
    names = list(dict.fromkeys(x for traj in (t.exact, t.implementation) for p in traj.params for x in p))
    return {
        "steps": t.steps, "lr": t.lr, "rtol": RTOL, "verdict": t.verdict, "parted_at": t.parted_at,
        "summary": t.summary, "parameters": names,
        "implementation": _trajectory(t.implementation, names), "exact": _trajectory(t.exact, names),
    }


def _case(r: CaseResult, run: Run) -> dict[str, Any]:
    c = r.case
    ops = [n.op for n in c.program.nodes]
    return {
        "name": c.name, "file": c.file, "line": c.line, "selector": c.selector, "rerun": rerun_command(r, run),
        "about": c.about, "source": c.source, "tags": list(c.tags), "weight": c.weight, "hidden": c.hidden,
        "verdict": r.verdict, "nodes_checked": r.nodes_checked, "worst_error": _num(r.worst_error),
        "seconds": r.seconds, "notes": r.notes, "expect_errors": [str(e) for e in r.expect_errors],
        "points": [_point(p, ops, c.program) for p in r.points],
        "training": None if r.training is None else training_to_json(r.training),
    }


def exit_code(run: Run, findings: Findings | None = None) -> int:
    """The run's exit status, raised to 1 when the diagnosis found a bug that no case showed.

    A run with input errors keeps its 2; a clean run becomes 1 if the probes or the
    counterexample search disagree with the truth.
    """
    return max(run.exit_code, 1 if findings is not None and findings.found else 0)


def run_to_json(run: Run, findings: Findings | None = None) -> dict[str, Any]:
    """The run as JSON data; ``findings`` (``check --diagnose``) adds ``diagnosis``,
    ``unexplained`` and ``counterexample``."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gradcheck_lab", "version": __version__},
        "implementation": run.implementation,
        "seed": run.seed,
        "samples": run.samples,
        "unit_roundoff": run.unit_roundoff,
        "exit_code": exit_code(run, findings),
        "seconds": run.seconds,
        "totals": totals_line(run),
        "errors": [
            {"file": e.file, "case": e.case, "line": e.line, "col": e.col, "message": e.message} for e in run.errors
        ],
        "cases": [_case(r, run) for r in run.results],
    }
    return data if findings is None else {**data, **findings.to_json()}


def json_text(run: Run, findings: Findings | None = None) -> str:
    """``report.json``'s text: :func:`run_to_json` on one line."""
    return json.dumps(run_to_json(run, findings), allow_nan=False) + "\n"  # no indent: the C encoder, 5x faster
