"""``check``: judge a Value implementation on case files (the default subcommand).

``--diagnose`` then runs the bug catalog's probes and the minimal-counterexample search
on it (as the ``diagnose`` subcommand does), prints what they find after the cases, and
adds it to ``report.md`` and ``report.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GradcheckError
from ..implementations import DEFAULT_TIME_LIMIT
from . import missing_paths

if TYPE_CHECKING:
    from ..diagnose.findings import Findings

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "check", help="check a Value implementation on case files (the default subcommand)",
        description="Check a Value implementation against SymPy and finite differences on case files.",
    )
    p.add_argument("cases", nargs="+", help="case files, folders of them, or file.toml::case-name")
    p.add_argument("--impl", metavar="FILE", help="a .py file defining class Value (default: the reference engine)")
    p.add_argument("--report-dir", metavar="DIR", default="reports", help="where reports go (default: reports)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random extra points (default: 0)")
    p.add_argument("--samples", type=int, default=2, metavar="N", help="random extra points per case (default: 2)")
    p.add_argument("--tag", action="append", default=[], help="only cases with this tag (repeatable)")
    p.add_argument("--cache-dir", metavar="DIR", help="where answer keys are cached (default: ~/.cache/gradcheck_lab)")
    p.add_argument("--no-cache", action="store_true", help="compute every answer key afresh, store none")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="S",
                   help=f"seconds one case may run in the implementation (default: {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the totals line (and any error)")
    p.add_argument("--html", action="store_true", help="also write index.html: every case, its graph and walk-through")
    p.add_argument("--diagnose", action="store_true",
                   help="also name the implementation's bugs (catalog probes) and find a minimal counterexample")
    p.set_defaults(run=run)


REFERENCE = "gradcheck_lab.Value (reference engine)"


def _diagnose(value_class: Any, implementation: str, *, reference: bool, cache: Path | None,
              seconds: float | None = None) -> tuple[Findings, str]:
    """The findings on ``value_class`` and their text. The ``reference`` engine is what the
    probes and the search compare against: its probes still run (they hold it to the
    catalog's own correct engine) but no counterexample is searched, and the text says so.
    ``cache``: the answer keys' folder, which keeps the catalog's predictions too."""
    from ..diagnose.findings import find_bugs
    from ..diagnose.match import warm_predictions
    from ..implementations import time_limit
    from .diagnose import findings_text

    warm_predictions(cache)  # our own work (the catalog's predictions): outside the implementation's time limit
    with time_limit(seconds, f"diagnosing {implementation}"):
        found = find_bugs(value_class, counterexample=not reference)
    text = findings_text(found, implementation)
    if reference and not found.found:
        text = (f"{implementation}: nothing to diagnose: it is the engine the probes compare against "
                "(give --impl FILE to diagnose yours)\n")
    return found, text


def _codes_line(found: Findings) -> str:
    """The diagnosis in a few words, for ``--quiet``."""
    if found.codes:
        return ", ".join(found.codes)
    return "a disagreement no known bug explains" if found.found else "no known bug"


def run(args: argparse.Namespace) -> int:
    from ..answer_keys import AnswerKeys, default_cache_dir
    from ..atomic import usable_dir
    from ..cases import collect_cases
    from ..executors import InProcessExecutor
    from ..harness import check_cases
    from ..implementations import TimedExecutor, captured
    from ..report import write_reports
    from ..report.json_report import exit_code
    from ..report.text import summary_text, terminal_summary

    if args.samples < 0:
        raise GradcheckError("--samples must be 0 or more")
    missing = missing_paths(args.cases)  # a typo: no run, no report replaced
    if missing:
        raise GradcheckError(f"no such file or folder: {', '.join(missing)}")
    report_dir = usable_dir(args.report_dir)
    if args.impl:
        from ..implementations import load_implementation

        value_class, implementation = load_implementation(args.impl, args.time_limit)
    else:
        from ..engine import Value as value_class

        implementation = REFERENCE
    cases, errors = collect_cases(args.cases)
    if args.tag:
        cases = [c for c in cases if set(args.tag) & set(c.tags)]
    if not cases:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        raise GradcheckError("no cases to run" + (f" with tags {', '.join(args.tag)}" if args.tag else "")
                             + f"; nothing written to {report_dir}")
    cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    executor = TimedExecutor(InProcessExecutor(value_class), args.time_limit if args.impl else None,
                             f"{implementation}, on one case,")
    with captured(implementation):
        run = check_cases(
            cases, executor, errors=errors, implementation=implementation,
            samples=args.samples, seed=args.seed, answer_keys=AnswerKeys(cache),
        )
        found, diagnosis = (_diagnose(value_class, implementation, reference=not args.impl, cache=cache,
                                      seconds=args.time_limit) if args.diagnose else (None, ""))
    paths = write_reports(run, report_dir, found)
    if args.html:
        from ..report.html import write_html

        paths.append(write_html(run, report_dir))
    text = summary_text(run, details=False) if args.quiet else terminal_summary(run)
    if args.quiet:
        for e in [*run.errors, *(e for r in run.results for e in r.expect_errors)]:
            print(f"error: {e}", file=sys.stderr)
        print(text.rstrip().splitlines()[-1])
        if found is not None:
            print(f"diagnosis: {_codes_line(found)}")
    else:
        print(text, end="")
        if found is not None:
            print(f"\nDiagnosis\n\n{diagnosis}", end="")
        print(f"reports: {', '.join(str(p) for p in paths)}")
    return exit_code(run, found)
