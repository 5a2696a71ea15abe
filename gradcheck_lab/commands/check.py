"""``check``: judge a Value implementation on case files (the default subcommand).

``--diagnose`` then runs the bug catalog's probes and the minimal-counterexample search
on it (as the ``diagnose`` subcommand does), prints what they find after the cases, and
adds it to ``report.md`` and ``report.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GradcheckError

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
    p.add_argument("-q", "--quiet", action="store_true", help="print only the totals line")
    p.add_argument("--html", action="store_true", help="also write index.html: every case, its graph and walk-through")
    p.add_argument("--diagnose", action="store_true",
                   help="also name the implementation's bugs (catalog probes) and find a minimal counterexample")
    p.set_defaults(run=run)


REFERENCE = "gradcheck_lab.Value (reference engine)"


def _diagnose(value_class: Any, implementation: str, *, reference: bool, cache: Path | None) -> tuple[Findings, str]:
    """The findings on ``value_class`` and their text. The ``reference`` engine is what the
    probes and the search compare against: its probes still run (they hold it to the
    catalog's own correct engine) but no counterexample is searched, and the text says so.
    ``cache``: the answer keys' folder, which keeps the catalog's predictions too."""
    from ..diagnose.findings import find_bugs
    from .diagnose import findings_text

    found = find_bugs(value_class, counterexample=not reference, cache_dir=cache)
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
    from ..cases import collect_cases
    from ..executors import InProcessExecutor
    from ..harness import check_cases
    from ..report import write_reports
    from ..report.json_report import exit_code
    from ..report.text import summary_text

    if args.samples < 0:
        raise GradcheckError("--samples must be 0 or more")
    if args.impl:
        from ..implementations import load_value_class

        value_class, implementation = load_value_class(args.impl), args.impl
    else:
        from ..engine import Value as value_class

        implementation = REFERENCE
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
    found, diagnosis = (_diagnose(value_class, implementation, reference=not args.impl, cache=cache)
                        if args.diagnose else (None, ""))
    paths = write_reports(run, args.report_dir, found)
    if args.html:
        from ..report.html import write_html

        paths.append(write_html(run, args.report_dir))
    if args.quiet:
        print(summary_text(run).rstrip().splitlines()[-1])
        if found is not None:
            print(f"diagnosis: {_codes_line(found)}")
    else:
        print(summary_text(run), end="")
        if found is not None:
            print(f"\nDiagnosis\n\n{diagnosis}", end="")
        print(f"reports: {', '.join(str(p) for p in paths)}")
    return exit_code(run, found)
