"""What diagnosis costs on a varied class: grading with it against grading without, side by side.

    python benchmarks/bench_diagnosis_cost.py [--class DIR] [--engines N] [--jobs N] [--seed S]

The class is a folder of submissions (``--class``: real engines, e.g. the corpus cache that
``benchmarks/corpus/fetch.py`` fills), else ``--engines`` distinct engines written out from
the bug catalog: a correct one, single bugs and pairs of bugs, every file different, so no
diagnosis cache makes one submission's work another's. Both runs grade the same class with
``--jobs`` fresh worker processes (every in-memory cache cold), sandboxed, against the
shipped cases with answer keys and the catalog's predictions on disk (each computed once
per case set and catalog, before the clock starts; the time to compute the predictions is
printed apart). Prints both times and their ratio (issue 13: at most 1.5).
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradcheck_lab.cases import collect_cases
from gradcheck_lab.diagnose.catalog import CATALOG, submission_file, submission_source
from gradcheck_lab.grading import GradeConfig, grade_batch, warm_answer_keys
from gradcheck_lab.submissions import discover

ROOT = Path(__file__).resolve().parent.parent


def catalog_class(folder: Path, count: int, seed: int) -> None:
    """``count`` distinct student files: correct, single catalog bugs and pairs, drawn at random."""
    simulated = [c for c, b in CATALOG.items() if b.faults is not None]
    pairs = [(a, b) for a, b in itertools.combinations(simulated, 2)
             if not CATALOG[a].faults.clashes(CATALOG[b].faults)]  # type: ignore[union-attr]
    rng = random.Random(seed)
    groups: list[tuple[str, ...]] = [()]
    groups += [(c,) for c in rng.sample(simulated, min(len(simulated), count // 2))]
    groups += rng.sample(pairs, count - len(groups))
    folder.mkdir(parents=True)
    for codes in groups:
        (folder / submission_file(codes)).write_text(submission_source(codes))


def timed(refs: list, config: GradeConfig, reports: Path, jobs: int) -> float:  # type: ignore[type-arg]
    started = time.perf_counter()
    grade_batch(refs, config, reports, jobs=jobs, force=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--class", dest="folder", type=Path, help="a folder of submissions (default: from the catalog)")
    parser.add_argument("--engines", type=int, default=40, help="engines written from the catalog (default 40)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cases, errors = collect_cases([ROOT / "cases"])
    assert not errors, errors
    work = Path(tempfile.mkdtemp(prefix="gradcheck-bench-diagnosis-cost-"))
    try:
        folder = args.folder
        if folder is None:
            folder = work / "class"
            catalog_class(folder, args.engines, args.seed)
        refs = discover([folder])
        cache = work / "cache"
        with_diagnosis = GradeConfig(tuple(cases), cache_dir=str(cache))
        without = GradeConfig(tuple(cases), cache_dir=str(cache), diagnose=False)
        warm_answer_keys(without)
        started = time.perf_counter()
        warm_answer_keys(with_diagnosis)  # the keys are warm: this computes the catalog's predictions
        predictions = time.perf_counter() - started
        plain = timed(refs, without, work / "without", args.jobs)
        diagnosed = timed(refs, with_diagnosis, work / "with", args.jobs)
        print(f"{len(refs)} submissions from {args.folder or 'the bug catalog'}, --jobs {args.jobs}, sandboxed; "
              f"catalog predictions computed once in {predictions:.1f} s")
        print(f"grading without diagnosis: {plain:.1f} s; with diagnosis: {diagnosed:.1f} s; "
              f"ratio {diagnosed / plain:.2f} (target <= 1.5)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
