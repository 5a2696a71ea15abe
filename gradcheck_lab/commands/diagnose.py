"""``diagnose``: name the bugs of a Value implementation, with evidence and a minimal counterexample.

    python -m gradcheck_lab diagnose my_value.py
    python -m gradcheck_lab diagnose --list
    python -m gradcheck_lab diagnose --write-bugs DIR [--codes CODE ...]

:func:`findings_text` is what it prints; ``check --diagnose`` prints the same after its cases.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tabulate import tabulate

from ..implementations import DEFAULT_TIME_LIMIT

if TYPE_CHECKING:
    from ..diagnose.findings import Findings

__all__ = ["add_parser", "catalog_text", "findings_text", "run", "write_bugs"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "diagnose", help="name the bugs of a Value implementation (codes, evidence, minimal counterexample)",
        description="Run the probes on a Value implementation and name its bugs from the catalog.",
    )
    p.add_argument("impl", metavar="SUBMISSION", nargs="?",
                   help="what grade takes: a .py file, a notebook or a folder defining class Value (runs in this "
                        "process, under --time-limit)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="S",
                   help=f"seconds loading it and diagnosing it may take (default: {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--no-counterexample", action="store_true", help="skip the search for a minimal counterexample")
    p.add_argument("--list", action="store_true", help="list the bug catalog: every code and what it means")
    p.add_argument("--write-bugs", metavar="DIR",
                   help="write each catalog bug out as the student file that has it (CODE.py), and correct.py")
    p.add_argument("--codes", nargs="+", metavar="CODE", help="with --write-bugs: only these codes (default: all)")
    p.set_defaults(run=run)


def findings_text(found: Findings, subject: str) -> str:
    """Each code with its explanation and evidence table, the unexplained probes, and the
    minimal counterexample as a ``[[case]]`` to paste; ``subject`` names the implementation.

    >>> from gradcheck_lab.diagnose import Diagnosis
    >>> from gradcheck_lab.diagnose.findings import Findings
    >>> findings_text(Findings(Diagnosis()), "my_value.py")
    'my_value.py: no known bug found by the probes\\n'
    """
    result = found.diagnosis
    out: list[str] = []
    if not result.codes and not result.unexplained:
        out.append(f"{subject}: no known bug found by the probes")
    for code in result.codes:
        out.append(f"{code}: {result.explanations()[code]}")
        rows = [[e.probe, e.source, ", ".join(f"{k}={v:g}" for k, v in e.point.items()), e.expected, e.got, e.predicted]
                for e in result.evidence.get(code, [])[:4]]
        if rows:
            out.append(tabulate(rows, ["probe", "source", "point", "expected", "got", "the bug predicts"],
                                tablefmt="simple"))
        out.append("")
    if result.unexplained:
        rows = [[e.probe, e.source, e.expected, e.got] for e in result.unexplained]
        out += ["Not explained by any known bug:", tabulate(rows, ["probe", "source", "expected", "got"],
                                                            tablefmt="simple"), ""]
    if found.counterexample is not None:
        out += [f"Smallest disagreement found ({found.counterexample.nodes} nodes): paste into a case file and rerun",
                found.counterexample.as_case()]
    return "\n".join(out) + "\n"


def catalog_text() -> str:
    """The bug catalog as a table: code, family, what it means.

    >>> "grad-overwrite:add" in catalog_text() and "nn-missing-zero-grad" in catalog_text()
    True
    """
    from ..diagnose import CATALOG
    from ..nn import NN_CATALOG

    rows = [[b.code, b.family, b.explanation] for b in CATALOG.values()]
    rows += [[b.code, f"nn {b.kind.value}", b.explanation] for b in NN_CATALOG.values()]  # check-nn's codes
    return tabulate(rows, ["code", "family", "what it means"], tablefmt="simple", maxcolwidths=[None, None, 90]) + "\n"


def write_bugs(folder: Path, groups: Sequence[Sequence[str]]) -> list[Path]:
    """Each group of codes written out as one student file in ``folder`` (``CODE.py``, ``:`` as
    ``_``; ``A__B.py`` for two bugs at once), plus ``correct.py``."""
    from ..atomic import write_text
    from ..diagnose.catalog import submission_file, submission_source

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for codes in ((), *groups):
        path = folder / submission_file(codes)
        write_text(path, submission_source(codes))
        written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    from ..answer_keys import default_cache_dir
    from ..diagnose import CATALOG
    from ..diagnose.findings import find_bugs
    from ..diagnose.match import warm_predictions
    from ..implementations import load_implementation, time_limit

    if args.list:
        print(catalog_text(), end="")
        return 0
    if args.write_bugs:
        unknown = sorted(set(args.codes or ()) - set(CATALOG))
        if unknown:
            print(f"error: no such code: {', '.join(unknown)} (see diagnose --list)", file=sys.stderr)
            return 2
        written = write_bugs(Path(args.write_bugs), [[code] for code in args.codes or CATALOG])
        print(f"wrote {len(written)} files to {args.write_bugs} (grade them: python -m gradcheck_lab grade "
              f"{args.write_bugs})")
        return 0
    if args.impl is None:
        print("error: give a SUBMISSION to diagnose (a .py file, notebook or folder), or --list, or --write-bugs DIR",
              file=sys.stderr)
        return 2

    value_class, label = load_implementation(args.impl, args.time_limit)
    if label != args.impl:
        print(f"diagnosing {label}", file=sys.stderr)
    warm_predictions(default_cache_dir())  # our own work, kept between runs: outside the time limit
    with time_limit(args.time_limit, f"diagnosing {label}"):
        found = find_bugs(value_class, counterexample=not args.no_counterexample)
    print(findings_text(found, label), end="")
    return 1 if found.found else 0
