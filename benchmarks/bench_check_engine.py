"""check_engine on the corpus's real bug patterns (tests/fixtures/real_patterns): does it
pass every correct engine (no false alarm) and fail every buggy one, and how long it takes.

    python benchmarks/bench_check_engine.py [--cases cases/]

Prints one line per engine (ok, verdict, the codes named besides missing ops, seconds) and
the totals. Roomy limits: this measures the diagnosis, not a busy machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from gradcheck_lab import check_engine, collect_cases
from gradcheck_lab.implementations import load_value_class
from gradcheck_lab.inprocess import Limits

ROOT = Path(__file__).resolve().parent.parent
PATTERNS = ROOT / "tests/fixtures/real_patterns"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=str(ROOT / "cases"), help="the cases (default: cases/)")
    args = parser.parse_args()
    cases, errors = collect_cases([args.cases])
    if errors:
        print(errors[0], file=sys.stderr)
        return 2
    table = tomllib.loads((PATTERNS / "patterns.toml").read_text())
    entries = next(iter(table.values()))
    limits = Limits(timeout=60, request_timeout=10, probe_timeout=30)
    false_alarms = missed = 0
    seconds = []
    for entry in entries:
        value_class = load_value_class(PATTERNS / entry["file"])
        started = time.perf_counter()
        found = check_engine(value_class, cases, limits=limits)
        seconds.append(time.perf_counter() - started)
        correct = not entry.get("expected")
        false_alarms += correct and not found.ok
        missed += not correct and found.ok
        named = [c for c in found.codes if not c.startswith("unsupported:")]
        print(f"{entry['file']:32} ok={found.ok!s:5} {found.verdict:8} {' '.join(named) or '-':50} {seconds[-1]:.2f} s")
    seconds.sort()
    print(f"{len(entries)} engines: {false_alarms} correct ones failed (false alarms), {missed} buggy ones passed; "
          f"median {seconds[len(seconds) // 2]:.2f} s per check_engine ({len(cases)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
