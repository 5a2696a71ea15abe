"""``report.json``: every number of a run. Its schema: ``report.schema.json`` beside this file.

Non-finite numbers are written as null (JSON has no NaN); ``schema_version`` changes
whenever a field changes meaning or goes away.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..compare import NodeCheck, PointCheck
from ..program import Program
from .tables import rerun_command, totals_line

if TYPE_CHECKING:
    from ..harness import CaseResult, Run

__all__ = ["SCHEMA_PATH", "SCHEMA_VERSION", "json_text", "run_to_json"]

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


def _case(r: CaseResult, run: Run) -> dict[str, Any]:
    c = r.case
    ops = [n.op for n in c.program.nodes]
    return {
        "name": c.name, "file": c.file, "line": c.line, "selector": c.selector, "rerun": rerun_command(r, run),
        "about": c.about, "source": c.source, "tags": list(c.tags), "weight": c.weight, "hidden": c.hidden,
        "verdict": r.verdict, "nodes_checked": r.nodes_checked, "worst_error": _num(r.worst_error),
        "seconds": r.seconds, "notes": r.notes, "expect_errors": [str(e) for e in r.expect_errors],
        "points": [_point(p, ops, c.program) for p in r.points],
    }


def run_to_json(run: Run) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gradcheck_lab", "version": __version__},
        "implementation": run.implementation,
        "seed": run.seed,
        "samples": run.samples,
        "unit_roundoff": run.unit_roundoff,
        "exit_code": run.exit_code,
        "seconds": run.seconds,
        "totals": totals_line(run),
        "errors": [
            {"file": e.file, "case": e.case, "line": e.line, "col": e.col, "message": e.message} for e in run.errors
        ],
        "cases": [_case(r, run) for r in run.results],
    }


def json_text(run: Run) -> str:
    return json.dumps(run_to_json(run), allow_nan=False) + "\n"  # no indent: the C encoder, 5x faster
