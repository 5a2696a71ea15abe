"""``diagnose``: name the bugs of a Value implementation, with evidence and a minimal counterexample.

    python -m gradcheck_lab diagnose my_value.py
"""

from __future__ import annotations

import argparse
import contextlib
import io

from tabulate import tabulate

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "diagnose", help="name the bugs of a Value implementation (codes, evidence, minimal counterexample)",
        description="Run the probes on a Value implementation and name its bugs from the catalog.",
    )
    p.add_argument("impl", metavar="FILE", help="a .py file defining class Value (runs in this process)")
    p.add_argument("--no-counterexample", action="store_true", help="skip the search for a minimal counterexample")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..diagnose import diagnose, observe_probes
    from ..diagnose.counterexample import minimal_counterexample
    from ..executors import InProcessExecutor
    from ..implementations import load_value_class

    value_class = load_value_class(args.impl)
    with contextlib.redirect_stdout(io.StringIO()):  # what the implementation prints is not ours to show
        result = diagnose(observe_probes(value_class))
        found = None if args.no_counterexample else minimal_counterexample(InProcessExecutor(value_class))
    if not result.codes and not result.unexplained:
        print(f"{args.impl}: no known bug found by the probes")
    for code in result.codes:
        print(f"{code}: {result.explanations()[code]}")
        rows = [[e.probe, e.source, ", ".join(f"{k}={v:g}" for k, v in e.point.items()), e.expected, e.got, e.predicted]
                for e in result.evidence.get(code, [])[:4]]
        if rows:
            headers = ["probe", "source", "point", "expected", "got", "the bug predicts"]
            print(tabulate(rows, headers, tablefmt="simple"))
        print()
    if result.unexplained:
        print("Not explained by any known bug:")
        rows = [[e.probe, e.source, e.expected, e.got] for e in result.unexplained]
        print(tabulate(rows, ["probe", "source", "expected", "got"], tablefmt="simple"))
        print()
    if found is not None:
        print(f"Smallest disagreement found ({found.nodes} nodes): paste into a case file and rerun")
        print(found.as_case())
    return 1 if result.codes or result.unexplained or found is not None else 0
