"""``grade``: grade student submissions (``.py``, ``.ipynb``, folders) in a sandbox.

``python -m gradcheck_lab grade submissions/`` grades every file or folder in
``submissions/`` against ``cases/`` and writes ``reports/grades.csv``,
``reports/class_summary.md`` and ``reports/submissions/<id>/report.{md,json}``. A rerun
skips submissions whose content and case set are unchanged (``--force`` regrades).

Exit status: 0 when every submission was graded, whatever its verdict; 2 for usage or
input errors (no submissions, broken case files) or when the grader itself failed on a
submission; 130 when interrupted (what was graded is kept).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import usable_dir
from ..errors import GradcheckError
from ..report.tables import plural
from . import missing_paths

if TYPE_CHECKING:
    from ..grading import SubmissionGrade

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "grade", help="grade student submissions (.py, .ipynb, folders) in a sandbox",
        description="Grade student Value classes: each runs in a sandboxed child process and is judged on the "
                    "cases; writes grades.csv, class_summary.md and a report per submission.",
    )
    p.add_argument("submissions", nargs="+", help="submission files or folders; a folder holds one submission "
                                                  "per entry (see --single)")
    p.add_argument("--cases", action="append", metavar="PATH",
                   help="a case file, folder or file.toml::name; repeatable (default: cases)")
    p.add_argument("--report-dir", metavar="DIR", default="reports", help="where reports go (default: reports)")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="submissions graded at once (default: 1)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on a dask.distributed cluster (tcp://host:8786); each worker sandboxes its "
                        "submissions as a local run does (needs the [dask] extra)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="wall-clock seconds for one submission, all cases included (default: 10)")
    p.add_argument("--case-timeout", type=float, default=2.0, metavar="S",
                   help="wall-clock seconds for loading or for one case (default: 2)")
    p.add_argument("--memory", type=int, default=1024, metavar="MB", help="address-space limit (default: 1024)")
    p.add_argument("--force", action="store_true", help="regrade submissions even if unchanged")
    p.add_argument("--single", action="store_true", help="each folder given is one submission")
    p.add_argument("--gradescope", metavar="PATH",
                   help="Gradescope mode: grade ONE submission (a file, or a folder that is one) and write its "
                        "results.json here; the class's grades.csv and class_summary are left alone")
    p.add_argument("--visibility", default="visible", choices=["visible", "hidden", "after_due_date",
                                                                "after_published"],
                   help="Gradescope visibility of the tests (hidden cases: after_due_date)")
    p.add_argument("--stdout-visibility", default="hidden", choices=["visible", "hidden", "after_due_date",
                                                                      "after_published"],
                   help="Gradescope visibility of the autograder's stdout (default: hidden)")
    p.add_argument("--assignment", metavar="FILE",
                   help="the assignment (TOML: required and optional ops, points, what each bug costs); default: "
                        "assignment.toml in the cases' folder, else the shipped micrograd-lecture assignment")
    p.add_argument("--no-partial-credit", action="store_true", help="a case earns all its weight or nothing")
    p.add_argument("--unsupported-credit", type=float, default=0.0, metavar="F",
                   help="share of a case's weight earned when it needs an op the class lacks (default: 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random extra points (default: 0)")
    p.add_argument("--samples", type=int, default=2, metavar="N", help="random extra points per case (default: 2)")
    p.add_argument("--cache-dir", metavar="DIR", help="where answer keys are cached (default: ~/.cache/gradcheck_lab)")
    p.add_argument("--no-cache", action="store_true", help="keep answer keys in memory only")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="where bubblewrap cannot isolate submissions (no user namespaces, macOS), run them anyway, "
                        "unisolated: only for code you trust")
    p.add_argument("--html", action="store_true",
                   help="also write each submission's report.html and class_summary.html (self-contained)")
    p.add_argument("--no-diagnose", action="store_true",
                   help="skip naming known bugs and the minimal counterexample (faster: see the README's "
                        "benchmarks)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the final line")
    p.set_defaults(run=run)


class _Progress:
    """A progress bar on a terminal (rich), plain lines otherwise."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.bar: Any = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           TextColumn("{task.description}"), transient=True)
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def __call__(self, grade: SubmissionGrade, reused: bool) -> None:
        self.done += 1
        line = (f"{grade.id}: {grade.verdict} {grade.score:.4g}/{grade.max_score:.4g}"
                + (" (unchanged, kept)" if reused else f" ({grade.seconds:.1f} s)"))
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=line)
        elif not self.quiet:
            print(f"[{self.done}/{self.total}] {line}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _gradescope_line(grade: SubmissionGrade) -> str:
    """Which file Gradescope mode graded, and why that one."""
    why = "; ".join(n for n in grade.notes if "define Value" in n) or "the file that defines Value"
    return f"gradescope: graded {grade.main or grade.path} ({why}) as one submission"


def _client(address: str) -> Any:
    """A dask.distributed client of the scheduler at ``address``; a clear error without dask."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise GradcheckError("--scheduler needs dask.distributed: pip install 'gradcheck_lab[dask]'") from exc
    try:
        return Client(address, timeout=10)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise GradcheckError(f"no dask scheduler answers at {address}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ..answer_keys import default_cache_dir
    from ..cases import collect_cases
    from ..grading import GradeConfig, Rubric, grade_batch
    from ..grading.assignment import default_assignment, find_assignment, load_assignment
    from ..report.grades import clip, write_class_reports
    from ..submissions import Limits, discover, isolation_problem

    if args.jobs < 1 or args.samples < 0 or args.timeout <= 0 or args.case_timeout <= 0:
        raise GradcheckError("--jobs must be 1 or more, --samples 0 or more, timeouts positive")
    problem = isolation_problem()
    if problem and not args.unsafe_no_sandbox:
        raise GradcheckError(f"student code cannot be isolated here: {problem}. Install bubblewrap, or pass "
                             "--unsafe-no-sandbox to run submissions unisolated (only code you trust)")
    if problem:
        print(f"warning: running submissions UNSAFELY, without a sandbox ({problem})", file=sys.stderr)
    args.cases = args.cases or ["cases"]
    missing = missing_paths([*args.submissions, *args.cases])  # a typo must not grade a student "nowhere"
    if missing:
        raise GradcheckError(f"no such file or folder: {', '.join(missing)}")
    report_dir = usable_dir(args.report_dir)
    cases, errors = collect_cases(args.cases)
    if errors:
        raise GradcheckError("the case files have errors; fix them before grading:\n"
                             + "\n".join(f"  {e}" for e in errors))
    if not cases:
        raise GradcheckError("no cases to grade with (see --cases)")
    found = Path(args.assignment) if args.assignment else find_assignment(args.cases)
    assignment = load_assignment(found) if found else default_assignment()
    unknown = assignment.unknown_forms(cases)
    if unknown:
        raise GradcheckError("the cases use ops the assignment does not name:\n" + "\n".join(f"  {u}" for u in unknown))
    refs = discover(args.submissions, single=args.single or bool(args.gradescope))
    if not refs:
        raise GradcheckError("no submissions found (.py, .ipynb or folders)")
    if args.gradescope and len(refs) != 1:
        raise GradcheckError("--gradescope writes the results of one submission; give one")
    cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    hidden = {str(Path(p).resolve()) for p in [*args.cases, report_dir] if not str(p).count("::")}
    hidden |= {str(Path(c.file).resolve().parent) for c in cases if c.file}
    hidden |= {str(r.path.resolve().parent) for r in refs}
    if cache is not None:
        hidden.add(str(cache.resolve()))
    config = GradeConfig(
        cases=tuple(cases),
        rubric=Rubric(partial_credit=not args.no_partial_credit, unsupported_credit=args.unsupported_credit),
        limits=Limits(timeout=args.timeout, request_timeout=min(args.case_timeout, args.timeout),
                      memory_mb=args.memory, unsafe_no_sandbox=args.unsafe_no_sandbox),
        samples=args.samples, seed=args.seed, cache_dir=str(cache) if cache else None, hidden=tuple(sorted(hidden)),
        diagnose=not args.no_diagnose, html=args.html, feedback=bool(args.gradescope), assignment=assignment,
    )
    client = _client(args.scheduler) if args.scheduler else None
    progress = _Progress(len(refs), args.quiet)
    try:
        batch = grade_batch(refs, config, report_dir, jobs=args.jobs, force=args.force, on_result=progress,
                            client=client)
    except KeyboardInterrupt:
        progress.close()
        print(f"interrupted: the {progress.done} submissions graded so far are kept in {report_dir}; "
              "run the same command again to grade the rest", file=sys.stderr)
        return 130
    finally:
        progress.close()
        if client is not None:
            client.close()
    if args.gradescope:  # one student's run: the class's grades.csv and summaries are not touched
        from ..report.gradescope import write_results

        paths = [write_results(args.gradescope, batch.grades[0], visibility=args.visibility,
                               stdout_visibility=args.stdout_visibility)]
        print(_gradescope_line(batch.grades[0]))
    else:
        paths = write_class_reports(report_dir, batch.grades, html=args.html)
    graded = len(batch.grades) - len(batch.reused)
    final = (f"{plural(len(batch.grades), 'submission')}: {graded} graded, {len(batch.reused)} unchanged; "
             f"{batch.seconds:.1f} s; reports in {report_dir}")
    if not args.quiet:
        rows = [[g.id, f"{g.score:.4g}/{g.max_score:.4g}", g.verdict, clip(g.finding, 100)] for g in batch.grades]
        print(tabulate(rows, ["id", "score", "verdict", "finding"], disable_numparse=True))
        print(f"written: {', '.join(str(p) for p in paths)}")
        print(f"assignment: {assignment.title}")
    print(final)
    for sub_id, why in batch.errors.items():
        print(f"error: {sub_id}: {why}", file=sys.stderr)
    return 2 if batch.errors else 0
