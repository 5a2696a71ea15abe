"""No false alarm: the reference engine judged on random programs heavy in reuse and
cancellation, the answer key held against an independent 50-digit mpmath evaluation.

Run: ``python benchmarks/bench_soundness.py`` (100,000 programs on 2 processes, about 10
minutes on a 2-core machine; ``-n 2000`` for a quick look). Prints the false alarms (must be
0), the answer key's disagreements with mpmath (values and input gradients; must be 0), the
worst error / tolerance ratio of any value or gradient, and, for every primitive op, whether
an engine with a relative error of 1e-9 in that op's local rule is flagged, alone and in the
random programs that use it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the working tree's gradcheck_lab, installed or not

from tabulate import tabulate

from gradcheck_lab import check
from gradcheck_lab.diagnose.faults import Faults, compile_engine
from gradcheck_lab.ops import OPS
from gradcheck_lab.soundness import Report, random_program, run, summary

_CHUNK = 500


def _chunk(start: int) -> Report:
    return run(range(start, start + _CHUNK), all_nodes=False)


def _merge(reports: list[Report]) -> Report:
    total = Report()
    for r in reports:
        total.programs += r.programs
        total.judged += r.judged
        total.nodes += r.nodes
        total.false_alarms += r.false_alarms
        total.disagreements += r.disagreements
        total.too_large += r.too_large
        total.unusable += r.unusable
        total.examples += r.examples
        if r.worst_ratio > total.worst_ratio:
            total.worst_ratio, total.worst = r.worst_ratio, r.worst
    return total


def _one_rule_off(name: str) -> type:
    """The reference engine's student file with ``name``'s first local rule off by 1e-9 (relative)."""
    op = OPS[name]
    rule = (f"({op.local_text[0]}) * (1.0 + 1e-9)", *op.local_text[1:])
    return compile_engine(Faults(rows=((name, replace(op, local_text=rule)),)))


def _caught(programs: int) -> list[list[object]]:
    rows = []
    sources = {"pow": "L = x ** 3", "rpow": "L = 2 ** x", "max": "L = max(x, y)"}
    for name, op in OPS.items():
        if not op.primitive:
            continue
        engine = _one_rule_off(name)
        source = sources.get(name, f"L = {op.symbol}(x)" if op.arity == 1 else f"L = x {op.symbol} y")
        alone = check(source, {"x": 0.7, "y": 0.3}, engine, samples=5).verdict
        report = run(range(programs), engine, all_nodes=False)
        using = sum(name in {n.op for n in random_program(random.Random(seed)).nodes} for seed in range(programs))
        rows.append([name, source, alone, f"{report.false_alarms} of {report.judged} ({using} use {name})"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="random programs (default 100,000)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--fault-programs", type=int, default=500, help="random programs per 1e-9 fault")
    args = parser.parse_args()
    started = time.perf_counter()
    starts = list(range(0, args.n, _CHUNK))
    with ProcessPoolExecutor(args.jobs) as pool:
        report = _merge(list(pool.map(_chunk, starts)))
    print("\n".join(summary(report, time.perf_counter() - started)))
    print()
    print("an engine with a relative error of 1e-9 in one local rule (flagged: any failing verdict):")
    print(tabulate(_caught(args.fault_programs), ["op", "alone", "verdict", "random programs flagged (of judged)"]))
    return 0 if report.false_alarms == 0 and report.disagreements == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
