"""Every catalog bug, written out as an ordinary student file, graded through the sandbox.

    python benchmarks/validate_catalog.py [--pairs N] [--seed S] [--out DIR] [--jobs N]

Writes one file per catalog code (unsupported:OP, timeout, memory and crash included),
random pairs of compatible bugs and a correct engine into ``DIR/submissions``, runs
``python -m gradcheck_lab grade`` on that folder (sandboxed children, the real reports),
then reads ``grades.csv`` and prints the confusion matrix: the bug written out against
the codes the grader named. It also checks that each wrong submission's report carries
a minimal counterexample. Exits 1 if any file is misdiagnosed.
"""

from __future__ import annotations

import argparse
import collections
import csv
import itertools
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tabulate import tabulate

from gradcheck_lab.commands.diagnose import write_bugs
from gradcheck_lab.diagnose.catalog import CATALOG, submission_file

ROOT = Path(__file__).resolve().parent.parent

#: Codes with no counterexample to show: no wrong number on a small graph (a missing op, a
#: grad the checker can seed by hand, a second backward() call, a deep graph, a dead child).
NO_COUNTEREXAMPLE = {c for c, bug in CATALOG.items() if not bug.wrong_number}


def pairs(count: int, seed: int) -> list[tuple[str, ...]]:
    """Random pairs of simulated bugs that can coexist, none hiding the other from every probe."""
    from bench_diagnosis import equivalent  # the masking test: the same predictions on every probe

    simulated = [b for b in CATALOG.values() if b.faults is not None and b.code != "recursion-limit"]
    candidates = [(a, b) for a, b in itertools.combinations(simulated, 2)
                  if a.faults is not None and b.faults is not None and not a.faults.clashes(b.faults)]
    chosen: list[tuple[str, ...]] = []
    for a, b in random.Random(seed).sample(candidates, len(candidates)):
        assert a.faults is not None and b.faults is not None
        if not (equivalent(a.faults + b.faults, a.faults) or equivalent(a.faults + b.faults, b.faults)):
            chosen.append((a.code, b.code))
        if len(chosen) == count:
            break
    return chosen


def family(code: str) -> str:
    return CATALOG[code].family if code in CATALOG else code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=30, help="random pairs of bugs (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="where files and reports go (default: a temporary folder)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cases", default=str(ROOT / "cases" / "worked_examples.toml"))
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="gradcheck-catalog-"))

    suites: list[tuple[str, ...]] = [(), *((code,) for code in CATALOG), *pairs(args.pairs, args.seed)]
    write_bugs(out / "submissions", suites[1:])
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gradcheck_lab", "grade", str(out / "submissions"), "--cases", args.cases,
                    "--report-dir", str(out / "reports"), "--jobs", str(args.jobs), "--timeout", "6", "--force",
                    "-q"], check=False, cwd=ROOT)
    seconds = time.perf_counter() - started

    with open(out / "reports" / "grades.csv", newline="") as handle:
        named = {row["id"]: tuple(sorted(row["diagnosis"].split())) for row in csv.DictReader(handle)}
    rows, confusion, wrong, missing_examples = [], collections.Counter[tuple[str, str]](), 0, []
    for codes in suites:
        sid = submission_file(codes).removesuffix(".py")
        found = named.get(sid, ("(not graded)",))
        exact = found == tuple(sorted(codes))
        wrong += not exact
        if len(codes) <= 1:
            confusion[(family(codes[0]) if codes else "(none)", " ".join(map(family, found)) or "(none)")] += 1
        report = out / "reports" / "submissions" / sid / "report.md"
        wants_example = codes and not set(codes) & NO_COUNTEREXAMPLE
        if wants_example and (not report.exists() or "[[case]]" not in report.read_text()):
            missing_examples.append(sid)
        if not exact or len(codes) > 1:
            rows.append([" + ".join(codes) or "(correct)", " ".join(found) or "(none)", "yes" if exact else "NO"])

    families = sorted({f for pair in confusion for f in pair})
    matrix = [[f, *(confusion.get((f, g), "") for g in families)] for f in families]
    singles = len(CATALOG) + 1
    singles_exact = singles - sum(r[2] == "NO" and " + " not in r[0] for r in rows)
    print(f"{len(suites)} submission files ({len(CATALOG)} codes, {len(suites) - singles} pairs, "
          f"1 correct) graded in {seconds:.1f} s with --jobs {args.jobs}; files and reports in {out}\n")
    print("Confusion matrix of the single bugs, by family (rows: the bug written out; columns: what the grader "
          "named;\nevery code counts in its family's row, so an off-diagonal cell is a misdiagnosis):")
    print(tabulate(matrix, ["written \\ named", *families], tablefmt="simple"))
    print(f"\nsingle bugs (and the correct engine) named exactly: {singles_exact} of {singles}")
    print("\nPairs of bugs, and any misdiagnosis:")
    print(tabulate(rows, ["written out", "named", "exact"], tablefmt="simple"))
    print(f"\nexact: {len(suites) - wrong} of {len(suites)}; "
          f"counterexample missing from {len(missing_examples)} wrong submissions' reports"
          + (f": {', '.join(missing_examples)}" if missing_examples else ""))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
