"""``check``: judge a Value implementation on case files (the default subcommand)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GradcheckError

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
    p.add_argument("-q", "--quiet", action="store_true", help="print only the totals line")
    p.add_argument("--html", action="store_true", help="also write index.html: every case, its graph and walk-through")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..answer_keys import AnswerKeys, default_cache_dir
    from ..cases import collect_cases
    from ..executors import InProcessExecutor
    from ..harness import check_cases
    from ..report import write_reports
    from ..report.text import summary_text

    if args.samples < 0:
        raise GradcheckError("--samples must be 0 or more")
    if args.impl:
        from ..implementations import load_value_class

        value_class, implementation = load_value_class(args.impl), args.impl
    else:
        from ..engine import Value as value_class

        implementation = "gradcheck_lab.Value (reference engine)"
    cases, errors = collect_cases(args.cases)
    if args.tag:
        cases = [c for c in cases if set(args.tag) & set(c.tags)]
    if not cases and not errors:
        raise GradcheckError("no cases to run" + (f" with tags {', '.join(args.tag)}" if args.tag else ""))
    cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    run = check_cases(
        cases, InProcessExecutor(value_class), errors=errors, implementation=implementation,
        samples=args.samples, seed=args.seed, answer_keys=AnswerKeys(cache),
    )
    paths = write_reports(run, args.report_dir)
    if args.html:
        from ..report.html import write_html

        paths.append(write_html(run, args.report_dir))
    if args.quiet:
        print(summary_text(run).rstrip().splitlines()[-1])
    else:
        print(summary_text(run), end="")
        print(f"reports: {', '.join(str(p) for p in paths)}")
    return run.exit_code
