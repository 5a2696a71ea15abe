"""Grading throughput, and what the sandbox costs against running the same code in-process.

Run: ``python benchmarks/bench_grading.py`` (``--quick`` for a smoke test, ``--jobs``,
``--submissions``, ``--hangs``).

A class of ``--submissions`` (default 200) is made from ``examples/submissions/``
(except the hanging one, unless ``--hangs N`` adds N of it): each copy differs by a
comment, so every one has its own content hash and is really graded. The mix is half
correct (a ``.py`` file, a notebook, a folder with a sibling module), a fifth with the
``=``-instead-of-``+=`` bug, and the rest missing ops. It is graded against the full
shipped case set with ``--jobs`` processes (default 2), answer keys warm on disk (they
are computed once per case set: the first run after a case changes pays for SymPy),
reports written as in ``python -m gradcheck_lab grade``.

Figures printed: submissions per second over the whole batch; then, per example, the
median time of ``grade_submission`` sandboxed and in-process (``GradeConfig(sandbox=False)``:
the same loading, probes, cases and reports, the student code run in this process) and
their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the working tree's gradcheck_lab, installed or not

from tabulate import tabulate

from gradcheck_lab.answer_keys import default_cache_dir
from gradcheck_lab.cases import collect_cases
from gradcheck_lab.grading import GradeConfig, grade_batch, grade_submission, warm_answer_keys
from gradcheck_lab.submissions import SubmissionRef, discover

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "submissions"
#: (example, share of the class)
MIX = [("correct.py", 0.2), ("notebook.ipynb", 0.15), ("dana", 0.15), ("overwrite_bug.py", 0.2),
       ("missing_ops.py", 0.3)]


def _copy(example: Path, target: Path, k: int) -> None:
    """A copy of ``example`` whose content differs by a comment (a new content hash)."""
    if example.is_dir():
        shutil.copytree(example, target)
        main = next(p for p in sorted(target.glob("*.py")) if "class Value" in p.read_text())
        main.write_text(main.read_text() + f"\n# copy {k}\n")
    elif example.suffix == ".ipynb":
        target.write_text(example.read_text().replace("# Lab 2: backpropagation", f"# Lab 2: backpropagation ({k})"))
    else:
        target.write_text(example.read_text() + f"\n# copy {k}\n")


def make_class(folder: Path, n: int, hangs: int) -> list[SubmissionRef]:
    counts = [round(share * n) for _, share in MIX]
    counts[-1] += n - sum(counts)
    k = 0
    for (name, _), count in zip(MIX, counts):
        for _ in range(count):
            example = EXAMPLES / name
            _copy(example, folder / f"s{k:04d}_{example.stem}{example.suffix}", k)
            k += 1
    for _ in range(hangs):
        _copy(EXAMPLES / "hangs.py", folder / f"s{k:04d}_hangs.py", k)
        k += 1
    return discover([folder])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--hangs", type=int, default=0, help="add this many copies of the hanging example")
    parser.add_argument("--repeats", type=int, default=5, help="timings per example for the ratio")
    parser.add_argument("--quick", action="store_true", help="20 submissions, 2 repeats")
    parser.add_argument("--no-diagnose", action="store_true", help="grade without naming bugs (what diagnosis costs)")
    args = parser.parse_args()
    if args.quick:
        args.submissions, args.repeats = 20, 2
    cases, errors = collect_cases([ROOT / "cases"])
    assert not errors, errors
    work = Path(tempfile.mkdtemp(prefix="gradcheck-bench-grading-"))
    try:
        config = GradeConfig(tuple(cases), cache_dir=str(default_cache_dir()), diagnose=not args.no_diagnose)
        started = time.perf_counter()
        new = warm_answer_keys(config)
        warm = time.perf_counter() - started
        (work / "class").mkdir()
        refs = make_class(work / "class", args.submissions, args.hangs)
        started = time.perf_counter()
        batch = grade_batch(refs, config, work / "reports", jobs=args.jobs)
        seconds = time.perf_counter() - started
        verdicts: dict[str, int] = {}
        for g in batch.grades:
            verdicts[g.verdict] = verdicts.get(g.verdict, 0) + 1
        print(f"{len(cases)} cases; answer keys: {new} computed, warm-up {warm:.2f} s")
        mix = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
        print(f"graded {len(refs)} submissions with --jobs {args.jobs} in {seconds:.2f} s: "
              f"{len(refs) / seconds:.1f} submissions/s  ({mix})")

        rows = []
        trusted = GradeConfig(tuple(cases), cache_dir=config.cache_dir, sandbox=False, diagnose=config.diagnose)
        for name, _ in MIX:
            ref = SubmissionRef(Path(name).stem, EXAMPLES / name)
            times = {}
            for label, cfg in (("sandbox", config), ("in-process", trusted)):
                samples = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    grade_submission(ref, cfg)
                    samples.append(time.perf_counter() - t)
                times[label] = statistics.median(samples)
            rows.append([name, f"{1000 * times['sandbox']:.0f}", f"{1000 * times['in-process']:.0f}",
                         f"{times['sandbox'] / times['in-process']:.2f}"])
        print(tabulate(rows, ["example", "sandboxed ms", "in-process ms", "ratio"], disable_numparse=True))
        ratio = statistics.median(float(r[3]) for r in rows)
        print(f"median ratio sandboxed / in-process: {ratio:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
