"""``diagnose``: name the bugs of a Value implementation, with evidence and a minimal counterexample.

    python -m gradcheck_lab diagnose my_value.py

:func:`findings_text` is what it prints; ``check --diagnose`` prints the same after its cases.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tabulate import tabulate

if TYPE_CHECKING:
    from ..diagnose.findings import Findings

__all__ = ["add_parser", "findings_text", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "diagnose", help="name the bugs of a Value implementation (codes, evidence, minimal counterexample)",
        description="Run the probes on a Value implementation and name its bugs from the catalog.",
    )
    p.add_argument("impl", metavar="FILE", help="a .py file defining class Value (runs in this process)")
    p.add_argument("--no-counterexample", action="store_true", help="skip the search for a minimal counterexample")
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


def run(args: argparse.Namespace) -> int:
    from ..diagnose.findings import find_bugs
    from ..implementations import load_value_class

    found = find_bugs(load_value_class(args.impl), counterexample=not args.no_counterexample)
    print(findings_text(found, args.impl), end="")
    return 1 if found.found else 0
