"""Wall time of ``python -m gradcheck_lab cases/ -q``, cold and with the answer key cached.

Run: ``python benchmarks/bench_cli.py``.

Each run is a fresh subprocess (interpreter start included), from the repository root,
with ``--cache-dir`` and ``--report-dir`` in a temporary directory (nothing is written
into the repository or ``~/.cache``). *Cold*: an empty cache directory each time, so
every answer key is computed with SymPy. *Warm*: the same directory again, so no key is
computed and SymPy is never imported. For scale, the table starts with the bare
interpreter and ``import gradcheck_lab``.

A second table splits one warm run into its phases, in this process (imports done):
reading the case files, checking them, writing the reports.

``--quick`` runs each command fewer times (a smoke test).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the working tree's gradcheck_lab, installed or not
WARM_GOAL = 2.0  #: seconds, interpreter start included (issue 2)


def timed_run(args: Sequence[str]) -> tuple[float, int, str]:
    """Seconds, exit status and last output line of one subprocess run from the repo root."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1, 2):
        sys.exit(f"`python {' '.join(args)}` crashed (exit {proc.returncode}):\n{proc.stderr}")
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return seconds, proc.returncode, lines[-1] if lines else ""


def row(what: str, runs: list[tuple[float, int, str]], goal: str = "") -> list[str]:
    times = [s for s, _, _ in runs]
    codes = sorted({c for _, c, _ in runs})
    return [
        what, str(len(times)), f"{statistics.median(times):.3f}", f"{min(times):.3f}", f"{max(times):.3f}",
        ",".join(map(str, codes)), goal,
    ]


def phases(cache: Path, reports: Path, repeats: int) -> list[list[str]]:
    """One warm run's phases in this process, median seconds of ``repeats``."""
    from gradcheck_lab import InProcessExecutor, Value, check_cases, collect_cases
    from gradcheck_lab.answer_keys import AnswerKeys
    from gradcheck_lab.report import write_reports

    timings: dict[str, list[float]] = {"read the case files": [], "check every case": [], "write the 4 reports": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        cases, errors = collect_cases([ROOT / "cases"])
        t1 = time.perf_counter()
        run = check_cases(cases, InProcessExecutor(Value), errors=errors, answer_keys=AnswerKeys(cache))
        t2 = time.perf_counter()
        write_reports(run, reports)
        t3 = time.perf_counter()
        for name, seconds in zip(timings, (t1 - t0, t2 - t1, t3 - t2)):
            timings[name].append(seconds)
    total = sum(statistics.median(t) for t in timings.values())
    return [[name, f"{statistics.median(t):.3f}", f"{statistics.median(t) / total:.0%}"] for name, t in timings.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    args = parser.parse_args(argv)
    n_base, n_cold, n_warm = (2, 1, 2) if args.quick else (5, 3, 5)
    with tempfile.TemporaryDirectory(prefix="gradcheck-bench-") as tmp:
        work = Path(tmp)
        reports = work / "reports"

        def cli(cache: Path) -> list[str]:
            return ["-m", "gradcheck_lab", "cases/", "-q", "--cache-dir", str(cache), "--report-dir", str(reports)]

        rows = [
            row("python -c pass", [timed_run(["-c", "pass"]) for _ in range(n_base)]),
            row("python -c 'import gradcheck_lab'", [timed_run(["-c", "import gradcheck_lab"]) for _ in range(n_base)]),
        ]
        cold = [timed_run(cli(work / f"cold-{k}")) for k in range(n_cold)]
        rows.append(row("cases/ -q, cold (empty cache dir)", cold))
        warm = [timed_run(cli(work / "cold-0")) for _ in range(n_warm)]
        warm_median = statistics.median(s for s, _, _ in warm)
        verdict = "met" if warm_median < WARM_GOAL else "MISSED"
        rows.append(row("cases/ -q, warm (cache of the 1st cold run)", warm, f"< {WARM_GOAL:.0f} s: {verdict}"))
        split = phases(work / "cold-0", work / "phase-reports", n_warm)

    print(f"python -m gradcheck_lab cases/ -q: wall seconds per run, interpreter start included "
          f"({sys.executable}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, "
          f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")
    print(tabulate(rows, headers=["command", "runs", "median s", "min s", "max s", "exit", "goal"],
                   disable_numparse=True, colalign=("left", "right", "right", "right", "right", "right", "left")))
    print(f"CLI said: {warm[-1][2]}")
    print()
    print("one warm run by phase, in-process (imports done), median seconds:")
    print(tabulate(split, headers=["phase", "seconds", "share"], disable_numparse=True,
                   colalign=("left", "right", "right")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
