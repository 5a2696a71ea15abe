"""Finite-difference accuracy over the shipped cases, against the symbolic truth.

Run: ``python benchmarks/bench_fd.py``.

Every shipped case is checked with the reference engine exactly as
``python -m gradcheck_lab cases/`` checks it (its given points plus 2 random ones,
seed 0). For every case, point and input that has both a finite-difference estimate
and a symbolic gradient (nondifferentiable and domain-error nodes are skipped), the
error is |fd - symbolic| / |symbolic|, or |fd - symbolic| when the symbolic gradient
is 0. The table gives the count, median, 90th percentile and worst, how often the
estimate's own error bound covered the actual error, and the five worst estimates.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the working tree's gradcheck_lab, installed or not

MEDIAN_GOAL = 1e-10  #: issue 2
SKIPPED = frozenset({"nondifferentiable", "domain-error"})


@dataclass
class Sample:
    case: str  #: file.toml::name, as the CLI reruns it
    point: str
    node: str
    symbolic: float
    fd: float
    fd_bound: float  #: the estimate's own error estimate
    error: float  #: relative (absolute when the symbolic gradient is 0)

    @property
    def absolute(self) -> float:
        return abs(self.fd - self.symbolic)


def collect(samples: int, seed: int) -> tuple[list[Sample], int, int, float]:
    """Every finite-difference estimate of the shipped cases; cases, points and seconds."""
    from gradcheck_lab import InProcessExecutor, Value, check_cases, collect_cases

    cases, errors = collect_cases([ROOT / "cases"])
    if errors:
        print(f"note: {len(errors)} case file errors; those cases are left out", file=sys.stderr)
    started = time.perf_counter()
    run = check_cases(cases, InProcessExecutor(Value), errors=errors, samples=samples, seed=seed)
    seconds = time.perf_counter() - started
    found = []
    points = 0
    for result in run.results:
        where = f"{os.path.relpath(result.case.file, ROOT)}::{result.case.name}"
        for pc in result.points:
            points += 1
            for nc in pc.nodes:
                if nc.verdict in SKIPPED or nc.fd_grad is None or nc.symbolic_grad is None:
                    continue
                diff = abs(nc.fd_grad - nc.symbolic_grad)
                error = diff / max(abs(nc.symbolic_grad), 1e-300) if nc.symbolic_grad != 0 else diff
                coords = ", ".join(f"{k}={v:g}" for k, v in pc.point.items())
                found.append(Sample(where, f"#{pc.index} {pc.origin} ({coords})", nc.name, nc.symbolic_grad,
                                    nc.fd_grad, nc.fd_error if nc.fd_error is not None else float("inf"), error))
    return found, len(run.results), points, seconds


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between order statistics."""
    k = (len(sorted_values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2, help="random extra points per case (default: 2, as the CLI)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random points (default: 0, as the CLI)")
    parser.add_argument("--worst", type=int, default=5, help="how many of the worst estimates to list (default: 5)")
    args = parser.parse_args(argv)
    found, n_cases, n_points, seconds = collect(args.samples, args.seed)
    if not found:
        print("no finite-difference estimates found")
        return 1
    errors = sorted(s.error for s in found)
    median = statistics.median(errors)
    verdict = "met" if median < MEDIAN_GOAL else "MISSED"
    covered = sum(1 for s in found if s.absolute <= s.fd_bound)
    exact = sum(1 for e in errors if e == 0.0)
    summary = [
        ["cases / points checked", f"{n_cases} / {n_points} ({args.samples} random per case, seed {args.seed})"],
        ["estimates compared (case, point, input)", f"{len(found)}"],
        ["median relative error", f"{median:.2e}  (goal < {MEDIAN_GOAL:.0e}: {verdict})"],
        ["90th percentile", f"{percentile(errors, 0.9):.2e}"],
        ["worst", f"{errors[-1]:.2e}"],
        ["exactly equal to the symbolic value", f"{exact} ({exact / len(found):.0%})"],
        ["below 1e-10 / 1e-8 / 1e-6", " / ".join(f"{sum(e < t for e in errors) / len(errors):.1%}"
                                              for t in (1e-10, 1e-8, 1e-6))],
        ["actual error within the estimate's own bound", f"{covered} of {len(found)} ({covered / len(found):.1%})"],
        ["check_cases time (answer keys computed)", f"{seconds:.1f} s"],
    ]
    print("finite differences (Richardson-extrapolated central differences) vs the symbolic gradient, per input")
    print(tabulate(summary, tablefmt="simple", disable_numparse=True))
    print()
    worst = sorted(found, key=lambda s: s.error, reverse=True)[: args.worst]
    rows = [
        [s.case, s.point, s.node, f"{s.symbolic:.17g}", f"{s.fd:.17g}", f"{s.error:.2e}", f"{s.fd_bound:.1e}"]
        for s in worst
    ]
    print(f"the {len(rows)} worst:")
    print(tabulate(rows, headers=["case", "point", "input", "symbolic", "finite difference", "rel. error",
                                  "fd's own bound (abs)"], disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
