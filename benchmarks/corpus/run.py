"""Grade the real-code corpus and hold the diagnosis against the labels read by hand.

    python benchmarks/corpus/run.py [--jobs N] [--cache DIR] [--mirrors DIR] [--report-dir DIR]
                                    [--grades grades.csv] [--only OWNER/NAME ...] [-q]

Brings missing engine files back first (as ``fetch.py``), copies the cached files into one folder and
runs ``python -m gradcheck_lab grade --samples 0`` on it (the real path: extraction of the Value class, the sandbox,
the probes, the cases, the diagnosis), then reads ``grades.csv`` and prints, per engine, its labelled
bugs against the bug codes the diagnosis named, the confusion table, which labelled codes get named,
how many reports carry a counterexample, and the headline: "X of Y buggy engines named with their bug;
Z of W correct engines given a bug code".

A labelled bug is named by the same code, by its op's code under a generic label (``grad-overwrite``
by ``grad-overwrite:add``) or by the generic code under an op's label. Bug codes are the diagnosis's
codes whose catalog effect is *wrong* or *incident* (warnings such as ``recursion-limit`` and missing
ops never count); a code the catalog does not know counts as a bug code; the verdict ``invalid`` (the
file does not load) names ``syntax-error``. ``--grades`` judges an earlier run's ``grades.csv`` without
grading again. Exits 0 (it measures, it does not gate), 1 if nothing could be graded.
"""

from __future__ import annotations

import argparse
import collections
import csv
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import DEFAULT_CACHE, DEFAULT_MIRRORS, Engine, Outcome, cached, judge, load_manifest, names
from fetch import fetch
from tabulate import tabulate

from gradcheck_lab.diagnose.catalog import CATALOG, Effect
from gradcheck_lab.submissions.loading import discover

ROOT = Path(__file__).resolve().parent.parent.parent

NOT_BUGS = (Effect.MISSING, Effect.WARNING)


def is_bug_code(code: str) -> bool:
    """A code saying something is wrong: its catalog effect is not a warning nor a missing op."""
    return code not in CATALOG or CATALOG[code].effect not in NOT_BUGS


def grade(files: list[Path], report_dir: Path, jobs: int, quiet: bool) -> Path:
    """Grade the files as one class; returns the grades.csv written."""
    folder = report_dir / "engines"
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copyfile(file, folder / file.name)
    command = [sys.executable, "-m", "gradcheck_lab", "grade", str(folder), "--report-dir", str(report_dir / "reports"),
               "--jobs", str(jobs), "--samples", "0", "--force", "-q"]
    print(f"grading {len(files)} engines: {' '.join(command[1:])}", file=sys.stderr)
    subprocess.run(command, cwd=ROOT, check=False, stdout=subprocess.DEVNULL if quiet else None)
    grades_csv = report_dir / "reports" / "grades.csv"
    if not grades_csv.is_file():
        sys.exit(f"error: grade wrote no {grades_csv} (run it with the command above to see why)")
    return grades_csv


@dataclass(frozen=True)
class Diagnosed:
    """What grade said of one engine: every code it named, and whether its report shows a counterexample."""

    codes: tuple[str, ...]
    counterexample: bool


def diagnoses(grades_csv: Path, engines: list[Engine]) -> dict[str, Diagnosed]:
    """Each engine's diagnosis from a grades.csv (and the reports beside it), keyed by repository."""
    by_file = {e.filename: e.repo for e in engines}
    folder = grades_csv.parent.parent / "engines"
    ids = {ref.id: by_file[ref.path.name] for ref in discover([folder]) if ref.path.name in by_file} \
        if folder.is_dir() else {}
    out = {}
    with grades_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            repo = ids.get(row["id"]) or next((e.repo for e in engines if _id_like(e, row["id"])), None)
            if repo is None:
                continue
            report_json = grades_csv.parent / "submissions" / row["id"] / "report.json"
            shown = report_json.is_file() and bool(
                json.loads(report_json.read_text(encoding="utf-8"))["submission"].get("counterexample"))
            # a file that does not load has verdict "invalid" and its reason, no diagnosis: that names it
            unloadable = ("syntax-error",) if row["verdict"] == "invalid" else ()
            out[repo] = Diagnosed((*row["diagnosis"].split(), *unloadable), shown)
    return out


def _id_like(engine: Engine, sub_id: str) -> bool:
    """Fallback when only a grades.csv is given: ids are file stems with unsafe characters as ``_``."""
    return sub_id == re.sub(r"[^A-Za-z0-9._-]", "_", engine.filename[:-3]).strip(".")


def report(engines: list[Engine], found: dict[str, Diagnosed]) -> str:
    rows, outcomes, shown = [], {}, collections.Counter()
    per_code: dict[str, list[bool]] = collections.defaultdict(list)
    for e in engines:
        diagnosed = found.get(e.repo)
        if diagnosed is None:
            continue
        codes = set(diagnosed.codes)
        bug_codes = sorted(c for c in codes if is_bug_code(c))
        outcome = judge(e.bugs, codes, bug_codes=bug_codes)
        outcomes[e.repo] = outcome
        shown["buggy" if e.bugs else "correct"] += diagnosed.counterexample
        for b in e.bugs:
            per_code[b].append(names(b, codes))
        rows.append([e.repo, " ".join(e.bugs) or "(correct)", " ".join(bug_codes) or "-", outcome.value,
                     "yes" if diagnosed.counterexample else "-"])
    out = [tabulate(rows, ["engine", "labelled bugs", "bug codes named", "outcome", "counterexample"],
                    tablefmt="simple", maxcolwidths=[40, 45, 45, None, None]), ""]
    counts = collections.Counter(outcomes.values())
    buggy = [Outcome.NAMED, Outcome.NAMED_WITH_EXTRAS, Outcome.PARTLY_NAMED, Outcome.MISSED]
    table = [["buggy", *(counts[o] for o in buggy), "", "", sum(counts[o] for o in buggy)],
             ["correct", "", "", "", "", counts[Outcome.CLEAN], counts[Outcome.FALSE_ALARM],
              counts[Outcome.CLEAN] + counts[Outcome.FALSE_ALARM]]]
    out += ["Confusion table (labels read by hand against the diagnosis):",
            tabulate(table, ["label", *(o.value for o in buggy), "clean", "false alarm", "engines"], tablefmt="simple"),
            ""]
    by_count = sorted(per_code.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    code_rows = [[code, len(hits), sum(hits)] for code, hits in by_count]
    out += ["Labelled bugs and how often the diagnosis names them:",
            tabulate(code_rows, ["labelled bug", "engines", "named"], tablefmt="simple"), ""]
    n_buggy = sum(counts[o] for o in buggy)
    n_correct = counts[Outcome.CLEAN] + counts[Outcome.FALSE_ALARM]
    named = counts[Outcome.NAMED] + counts[Outcome.NAMED_WITH_EXTRAS]
    out.append(f"A counterexample in the report of {shown['buggy']} of {n_buggy} buggy engines "
               f"and of {shown['correct']} of {n_correct} correct ones (some bugs have none to show: an op that "
               "raises, an unseeded grad).")
    out.append(f"{named} of {n_buggy} buggy engines named with their bug; "
               f"{counts[Outcome.FALSE_ALARM]} of {n_correct} correct engines given a bug code")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded at once (default 2)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"the engine files (default {DEFAULT_CACHE})")
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS, help="git mirrors to fetch missing files from")
    parser.add_argument("--report-dir", type=Path, help="keep grade's reports here (default: a temporary folder)")
    parser.add_argument("--grades", type=Path, help="judge this grades.csv of an earlier run instead of grading "
                        "(its codes' effects are read from this checkout's catalog)")
    parser.add_argument("--only", nargs="+", metavar="OWNER/NAME", help="only these engines")
    parser.add_argument("-q", "--quiet", action="store_true", help="hide grade's progress")
    args = parser.parse_args(argv)

    engines = [e for e in load_manifest() if not args.only or e.repo in args.only]
    numpy_engines = [e.repo for e in engines if "needs:numpy" in e.notes]
    if numpy_engines and importlib.util.find_spec("numpy") is None:
        print(f"warning: numpy is not installed here, and {len(numpy_engines)} engines use it (pip install numpy "
              "to judge them as written)", file=sys.stderr)
    if args.grades:
        found = diagnoses(args.grades, engines)
    else:
        missing = fetch(engines, args.cache, args.mirrors)
        if missing:
            print(f"{len(missing)} engines are not in {args.cache} and could not be fetched "
                  f"(see benchmarks/corpus/fetch.py): {', '.join(sorted(missing))}", file=sys.stderr)
        files = [f for e in engines if (f := cached(e, args.cache)) is not None]
        if not files:
            print(f"error: no engine file in {args.cache}: run benchmarks/corpus/fetch.py", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
            report_dir = args.report_dir or Path(tmp)
            started = time.perf_counter()
            found = diagnoses(grade(files, report_dir, args.jobs, args.quiet), engines)
            print(f"graded {len(found)} engines in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(report(engines, found), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
