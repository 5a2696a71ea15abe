"""Diagnosis validation and cost: the confusion matrix of the bug catalog, pairs of bugs,
time per diagnosis, and each simulated bug's minimal counterexample (nodes, search time).

    python benchmarks/bench_diagnosis.py [--pairs N] [--seed S]

Every simulated catalog bug, run as an engine, must be diagnosed as itself and nothing
else; so must pairs of compatible bugs, except where one bug hides the other from every
probe (e.g. a backward() in forward order zeroes every gradient a wrong local rule would
change): those are printed as "masked" with the proof that their predictions coincide.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tabulate import tabulate

from gradcheck_lab.diagnose import CATALOG, diagnose, observe_probes
from gradcheck_lab.diagnose.catalog import Faults
from gradcheck_lab.diagnose.counterexample import counterexample_for, minimal_counterexample
from gradcheck_lab.diagnose.faults import compile_engine
from gradcheck_lab.diagnose.match import _predict, same
from gradcheck_lab.engine import Value
from gradcheck_lab.executors import InProcessExecutor


def codes_of(engine: type) -> list[str]:
    with contextlib.redirect_stdout(io.StringIO()):
        return diagnose(observe_probes(engine)).codes


def equivalent(a: Faults, b: Faults) -> bool:
    """The two fault sets make every probe do the same (so no probe can tell them apart)."""
    pa, pb = _predict(a, True), _predict(b, True)
    return all(any(same(x, y) for x in pa[k] for y in pb[k]) for k in pa)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=200, help="random compatible pairs to try (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    simulated = [b for b in CATALOG.values() if b.faults is not None]

    started = time.perf_counter()
    codes_of(Value)  # the reference: no deviation, no prediction needed
    for b in simulated:
        _predict(b.faults, b.order_sensitive)
    warm_up = time.perf_counter() - started

    rows, times = [], []
    for bug in simulated:
        t = time.perf_counter()
        found = codes_of(bug.engine(order_seed=11))
        times.append(time.perf_counter() - t)
        rows.append([bug.code, ", ".join(found) or "(none)", "yes" if found == [bug.code] else "NO"])
    singles_ok = sum(r[2] == "yes" for r in rows)

    rng = random.Random(args.seed)
    pairs = [(a, b) for a, b in itertools.combinations(simulated, 2)
             if a.faults is not None and b.faults is not None and not a.faults.clashes(b.faults)]
    sample = rng.sample(pairs, min(args.pairs, len(pairs)))
    pair_ok = masked = 0
    wrong = []
    pair_times = []
    for a, b in sample:
        assert a.faults is not None and b.faults is not None
        t = time.perf_counter()
        found = codes_of(compile_engine(a.faults + b.faults, 5))
        pair_times.append(time.perf_counter() - t)
        if sorted(found) == sorted([a.code, b.code]):
            pair_ok += 1
            continue
        named = Faults()
        for code in found:
            faults = CATALOG[code].faults
            named = named + faults if faults is not None else named
        if found and equivalent(named, a.faults + b.faults):
            masked += 1
            wrong.append([f"{a.code} + {b.code}", ", ".join(found), "masked: every probe does the same"])
        else:
            wrong.append([f"{a.code} + {b.code}", ", ".join(found) or "(none)", "WRONG"])

    print(f"bug catalog: {len(CATALOG)} codes, {len(simulated)} simulated as engines; "
          f"predictions warm-up {warm_up:.2f} s")
    print(tabulate(rows, ["bug (as an engine)", "diagnosed as", "exact"], tablefmt="simple"))
    print(f"\nsingle bugs diagnosed exactly: {singles_ok} of {len(rows)}")
    print(f"pairs: {pair_ok} of {len(sample)} exact, {masked} masked (one bug hides the other from every probe), "
          f"{len(sample) - pair_ok - masked} wrong; {len(pairs)} compatible pairs in all")
    if wrong:
        print(tabulate(wrong, ["pair", "diagnosed as", ""], tablefmt="simple"))

    cx_rows, cx_times = [], []
    for bug in simulated:  # each bug's own search, as grading runs it for the bugs it names
        t = time.perf_counter()
        found = counterexample_for((bug.code,))
        cx_times.append(time.perf_counter() - t)
        cx_rows.append([bug.code, found.nodes if found else "-", f"{cx_times[-1]:.2f}",
                        found.source.replace("\n", "; ") if found else "(none)"])
    print()
    print(tabulate(cx_rows, ["bug (as an engine)", "nodes", "seconds", "minimal counterexample"], tablefmt="simple"))
    found_times = [s for s, row in zip(cx_times, cx_rows) if row[1] != "-"]
    t = time.perf_counter()
    found_cx = minimal_counterexample(InProcessExecutor(CATALOG["grad-overwrite:add"].engine()))
    cx_seconds = time.perf_counter() - t
    print()
    print(tabulate([
        ["diagnosis per submission, single bug (median)", f"{statistics.median(times) * 1000:.0f} ms"],
        ["diagnosis per submission, two bugs (median)", f"{statistics.median(pair_times) * 1000:.0f} ms"],
        ["diagnosis per submission, two bugs (worst)", f"{max(pair_times) * 1000:.0f} ms"],
        ["minimal counterexample, grad-overwrite:add (no focus)",
         f"{found_cx.source if found_cx else None} ({found_cx.nodes if found_cx else '-'} nodes) "
         f"in {cx_seconds:.2f} s"],
        ["minimal counterexamples, every simulated bug",
         f"{len(found_times)} of {len(cx_rows)} found; worst {max(found_times):.2f} s, all {sum(found_times):.1f} s"],
    ], ["measure", "value"], tablefmt="simple"))


if __name__ == "__main__":
    main()
