"""Grading throughput on a varied class, and what the sandbox costs against running the same
code in-process.

Run: ``python benchmarks/bench_grading.py`` (``--quick`` for a smoke test; ``--submissions``,
``--jobs``, ``--seed``, ``--keep DIR`` to keep the class and its reports).

The class is ``--submissions`` (default 200) DISTINCT engines written out from the bug
catalog the way ``diagnose --write-bugs`` writes them: a correct engine, every catalog bug
alone, then random pairs of bugs that can be combined, each in one of several coding
styles: the catalog's own (an iterative topological sort), a recursive sort, subtraction
and division as nodes of their own instead of composed from + * **, the reflected
operators as nodes of their own, a notebook with prose and a training cell, a folder (the
engine in one module, a script that imports it). No two files are the same, so no cache
keyed by content helps, and the diagnosis caches start cold: the answer keys and the bug
catalog's predictions go to a fresh folder, computed once before the clock starts (that
warm-up is printed on its own).

The class is graded twice with ``--jobs`` processes (default 2) against every shipped case
under the default assignment, with and without the diagnosis (``--no-diagnose``); then a
sample of the class is graded one by one sandboxed and in-process, each way twice (A B B A, the
faster kept)
(``GradeConfig(sandbox=False)``: the same loading, probes, cases and reports, the student
code run in this process). Printed: submissions per second of both runs and their ratio,
the CPU seconds per submission (the whole machine's busy time, from /proc/stat: a sandboxed
child's time is in no process's counters) and the rate that gives on free cores,
the verdicts, and the median sandboxed / in-process time ratio.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the working tree's gradcheck_lab, installed or not

from tabulate import tabulate

from gradcheck_lab.cases import collect_cases
from gradcheck_lab.diagnose.catalog import CATALOG, faults_of, submission_file
from gradcheck_lab.diagnose.faults import Backward, Faults, Node, student_source
from gradcheck_lab.grading import GradeConfig, grade_batch, grade_submission, warm_answer_keys
from gradcheck_lab.ops import OPS
from gradcheck_lab.submissions import SubmissionRef, discover

ROOT = Path(__file__).resolve().parents[1]

#: Coding styles, each a set of faults that changes how the file is written, not what it computes.
STYLES: dict[str, Faults] = {
    "plain": Faults(),
    "recursive-sort": Faults(backward=Backward(recursive=True)),
    "own-sub-div": Faults(rows=(
        ("sub", replace(OPS["sub"], forward_text="a - b", local_text=("1.0", "-1.0"), compose_text=None)),
        ("div", replace(OPS["div"], forward_text="a / b", local_text=("1.0 / b", "-a / b ** 2"), compose_text=None)),
    )),
    "own-reflected": Faults(nodes=(Node("__rsub__", "b - a", "-1.0"), Node("__rtruediv__", "b / a", "-b / a ** 2"))),
}
SHAPES = ("file", "file", "notebook", "folder")  #: how a submission is handed in


def catalog_sets(n: int, rng: random.Random) -> list[list[str]]:
    """``n`` distinct sets of bug codes: none, each bug with an engine alone, then pairs."""
    simulated = [c for c, bug in CATALOG.items() if bug.faults is not None]
    missing = [c for c in CATALOG if c.startswith("unsupported:")]
    sets: list[list[str]] = [[], *([c] for c in simulated), *([c] for c in missing[:4])]
    pairs = [[a, b] for i, a in enumerate(simulated) for b in simulated[i + 1:]
             if not CATALOG[a].faults.clashes(CATALOG[b].faults)]  # type: ignore[union-attr]
    rng.shuffle(pairs)
    return (sets + pairs)[:n]


def source_of(codes: list[str], style: str) -> str:
    """The student file of ``codes`` in ``style`` (plain when the style touches what a bug does)."""
    bugs = faults_of(codes) if codes else Faults()
    look = STYLES[style]
    if bugs is None or bugs.clashes(look) or (bugs.backward and look.backward):
        faults, style = bugs, "plain"
    else:
        faults = bugs + look
    if faults is None:  # a missing op: the catalog's own file
        from gradcheck_lab.diagnose.catalog import submission_source

        return submission_source(codes)
    about = "; ".join(f"{c}: {CATALOG[c].explanation}" for c in codes) or "no known bug"
    return student_source(faults, f"A micrograd-style Value class ({style} style). {about}.")


def write_submission(folder: Path, k: int, codes: list[str], style: str, shape: str) -> None:
    stem = f"s{k:03d}_{Path(submission_file(codes)).stem}_{style}"
    source = source_of(codes, style)
    if shape == "notebook":
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# Lab 2, submission {k}: backpropagation"),
                    nbformat.v4.new_code_cell("import math\nimport random"),
                    nbformat.v4.new_code_cell(source),
                    nbformat.v4.new_markdown_cell("Train a tiny neuron:"),
                    nbformat.v4.new_code_cell("w = Value(0.5)\nfor step in range(3):\n    loss = (w * 2 - 1) ** 2\n"
                                              "    w.grad = 0.0\n    loss.backward()\n    w.data -= 0.1 * w.grad\n"
                                              "print(w.data)")]
        (folder / f"{stem}.ipynb").write_text(nbformat.writes(nb))
    elif shape == "folder":
        sub = folder / stem
        sub.mkdir()
        (sub / "engine.py").write_text(source)
        (sub / "train.py").write_text("from engine import Value\n\nx = Value(2.0)\ny = x * x + 1\ny.backward()\n"
                                      "print(x.grad)\n")
        (sub / "README.md").write_text(f"Submission {k}.\n")
    else:
        (folder / f"{stem}.py").write_text(source)


def make_class(folder: Path, n: int, seed: int) -> list[SubmissionRef]:
    rng = random.Random(seed)
    for k, codes in enumerate(catalog_sets(n, rng)):
        write_submission(folder, k, codes, rng.choice(list(STYLES)), rng.choice(SHAPES))
    return discover([folder])


def _busy() -> float:
    """CPU seconds the whole machine has spent busy since it started (``/proc/stat``). A
    sandboxed child dies with its pid namespace, so no process of ours ever reaps it and its
    time is in no process's counters: only the machine's count holds it."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def graded(refs: list[SubmissionRef], config: GradeConfig, reports: Path, jobs: int) -> tuple[float, float, dict]:
    """Grade the class on a pool of ``jobs`` processes as ``grade --jobs`` does: the rate per
    wall-clock second, the CPU seconds per submission (the whole machine's busy time: exact on a
    quiet machine, an overcount on a shared one), and the verdicts."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["gradcheck_lab.grading"])
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    pool.submit(os.getpid).result()  # the workers started (off the clock)
    before = _busy()
    started = time.perf_counter()
    batch = grade_batch(refs, config, reports, executor=pool, force=True)
    seconds = time.perf_counter() - started
    cpu = _busy() - before
    pool.shutdown()
    verdicts: dict[str, int] = {}
    for g in batch.grades:
        verdicts[g.verdict.value] = verdicts.get(g.verdict.value, 0) + 1
    assert not batch.errors, batch.errors
    return len(refs) / seconds, cpu / len(refs), verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=12, help="submissions timed sandboxed and in-process")
    parser.add_argument("--quick", action="store_true", help="30 submissions, a sample of 4")
    parser.add_argument("--keep", metavar="DIR", help="write the class and its reports here and keep them")
    args = parser.parse_args()
    if args.quick:
        args.submissions, args.sample = 30, 4
    cases, errors = collect_cases([ROOT / "cases"])
    assert not errors, errors
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gradcheck-bench-grading-"))
    try:
        (work / "class").mkdir(parents=True)
        refs = make_class(work / "class", args.submissions, args.seed)
        digests = {json.dumps(sorted(p.read_text() for p in ([r.path] if r.path.is_file() else r.path.rglob("*.*"))))
                   for r in refs}
        config = GradeConfig(tuple(cases), cache_dir=str(work / "cache"))  # a fresh cache: cold
        started = time.perf_counter()
        new = warm_answer_keys(config)
        warm = time.perf_counter() - started
        print(f"{len(refs)} submissions, {len(digests)} distinct; {len(cases)} cases; assignment "
              f"{config.assignment.title}; cold caches: {new} answer keys and the catalog's predictions "
              f"computed in {warm:.1f} s before the clock starts")
        load = os.getloadavg()[0]
        with_rate, with_cpu, with_verdicts = graded(refs, config, work / "reports", args.jobs)
        without_rate, without_cpu, _ = graded(refs, replace(config, diagnose=False), work / "reports-no-diagnosis",
                                              args.jobs)
        cores = min(args.jobs, os.cpu_count() or 1)
        print(tabulate([[f"submissions/s, --jobs {args.jobs}", f"{with_rate:.1f}", f"{without_rate:.1f}",
                         f"{without_rate / with_rate:.2f}"],
                        ["CPU s per submission (the machine's)", f"{with_cpu:.3f}", f"{without_cpu:.3f}",
                         f"{with_cpu / without_cpu:.2f}"],
                        [f"submissions/s on {cores} free cores (CPU bound)", f"{cores / with_cpu:.1f}",
                         f"{cores / without_cpu:.1f}", f"{with_cpu / without_cpu:.2f}"]],
                       ["", "with diagnosis", "without", "ratio"], disable_numparse=True))
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (before: {load:.1f}; "
              "anything else running counts in the CPU row, so the projected rate is then a lower bound)")
        print("verdicts with diagnosis: " + ", ".join(f"{k} {v}" for k, v in sorted(with_verdicts.items())))

        rng = random.Random(args.seed + 1)
        rows = []
        trusted = replace(config, sandbox=False)
        for ref in rng.sample(refs, min(args.sample, len(refs))):
            times = {"sandbox": math.inf, "in-process": math.inf}
            # Each way twice, in the order A B B A, keeping the faster: whichever runs first pays the
            # warm-ups (code paths, caches) that the other then finds ready.
            for label, cfg in (("sandbox", config), ("in-process", trusted), ("in-process", trusted),
                               ("sandbox", config)):
                t = time.perf_counter()
                grade_submission(ref, cfg)
                times[label] = min(times[label], time.perf_counter() - t)
            rows.append([ref.id[:50], f"{1000 * times['sandbox']:.0f}", f"{1000 * times['in-process']:.0f}",
                         f"{times['sandbox'] / times['in-process']:.2f}"])
        print(tabulate(rows, ["submission", "sandboxed ms", "in-process ms", "ratio"], disable_numparse=True))
        print(f"median ratio sandboxed / in-process: {statistics.median(float(r[3]) for r in rows):.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
