"""``explain``: walk through backprop on one case, step by step, as the course's worked example does.

``python -m gradcheck_lab explain cases/worked_examples.toml::log-sin-product`` prints
the forward pass, every chain-rule step of the backward pass and the final gradients;
``--impl my_value.py`` puts an implementation's numbers beside the truth and names
the first node where they part; ``--by-hand`` rounds every number to ``--digits``
decimals before reusing it, as a worked example by hand does; ``--graph FILE`` draws
the graph; ``--format markdown|html`` and ``--output FILE`` make it a document.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GradcheckError
from ..implementations import DEFAULT_TIME_LIMIT

if TYPE_CHECKING:
    from ..cases import Case
    from ..compare import PointCheck
    from ..walkthrough import Walkthrough

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "explain", help="walk through backprop on one case, step by step",
        description="Show the forward pass, each chain-rule step of the backward pass and the final gradients "
                    "of one case at one of its points; with --impl, an implementation's numbers beside the truth.",
    )
    p.add_argument("case", help="file.toml::case-name (or a file holding one case)")
    p.add_argument("--impl", metavar="FILE", help="a .py file defining class Value, shown beside the truth")
    p.add_argument("--point", type=int, default=1, metavar="K", help="which of the case's points (default: 1)")
    p.add_argument("--by-hand", action="store_true",
                   help="round every number to --digits decimals before using it again, as worked by hand")
    p.add_argument("--digits", type=int, default=4, metavar="N", help="decimals shown (default: 4)")
    p.add_argument("--format", choices=["text", "markdown", "html"], default="text", help="default: text")
    p.add_argument("-o", "--output", metavar="FILE", help="write the walk-through here instead of printing it")
    p.add_argument("--graph", metavar="FILE", help="also draw the graph: FILE as SVG (with Graphviz) or .dot")
    p.add_argument("--cache-dir", metavar="DIR", help="where answer keys are cached (default: ~/.cache/gradcheck_lab)")
    p.add_argument("--no-cache", action="store_true", help="compute the answer key afresh, store none")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="S",
                   help=f"seconds the implementation may run (default: {DEFAULT_TIME_LIMIT:g})")
    p.set_defaults(run=run)


def _one_case(selector: str) -> Case:
    from ..cases import collect_cases

    cases, errors = collect_cases([selector])
    if errors and not cases:
        raise GradcheckError(str(errors[0]))
    if len(cases) != 1:
        names = ", ".join(c.name for c in cases)
        raise GradcheckError(f"{selector} holds {len(cases)} cases; name one as FILE::NAME (the names: {names})")
    return cases[0]


def _header(case: Case, k: int, implementation: str) -> list[str]:
    point = ", ".join(f"{x} = {v:g}" for x, v in case.points[k - 1].items())
    lines = [f"{case.name} at {point} (point {k} of {len(case.points)})"]
    if case.about:
        lines.append(case.about)
    if implementation:
        lines.append(f"implementation: {implementation}")
    return lines


def _document(fmt: str, case: Case, header: list[str], w: Walkthrough, extra: list[str]) -> str:
    from ..report.walkthrough import walkthrough_markdown, walkthrough_text

    source = case.source.strip()
    if fmt == "text":
        indented = "\n".join("    " + line for line in source.splitlines())
        return "\n".join([*header, "", indented, "", walkthrough_text(w).rstrip(), *extra]) + "\n"
    if fmt == "markdown":
        return "\n".join([f"# {header[0]}", "", *header[1:], "", "```", source, "```", "",
                          walkthrough_markdown(w, level=2).rstrip(), *extra]) + "\n"
    from ..report.html import escape, graph_figure, page, walkthrough_html

    body = "".join(f'<p class="meta">{escape(line)}</p>' for line in header[1:])
    body += f"<pre>{escape(source)}</pre>{graph_figure(w, case.name, selector=case.selector)}"
    body += walkthrough_html(w) + "".join(f"<p>{escape(line)}</p>" for line in extra if line)
    return page(header[0], body)


def run(args: argparse.Namespace) -> int:
    from ..answer_keys import AnswerKeys, default_cache_dir
    from ..compare import FAILURES
    from ..walkthrough import walk

    case = _one_case(args.case)
    if not 1 <= args.point <= len(case.points):
        raise GradcheckError(f"--point must be 1 to {len(case.points)}: case {case.name} has {len(case.points)}")
    if not 0 <= args.digits <= 15:
        raise GradcheckError("--digits must be 0 to 15")
    point = case.points[args.point - 1]
    cache = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    keys = AnswerKeys(cache)
    truth = keys.get(case.program, [point])[0]
    if truth.domain_error:
        raise GradcheckError(f"case {case.name} at point {args.point} is outside the domain: {truth.domain_error}")
    checks: PointCheck | None = None
    extra: list[str] = []
    single = dataclasses.replace(case, points=(point,), expect={}, expect_data={})
    if args.impl:
        from ..executors import InProcessExecutor
        from ..harness import check_case
        from ..implementations import TimedExecutor, captured, load_implementation

        value_class, label = load_implementation(args.impl, args.time_limit)
        with captured(label):
            executor = TimedExecutor(InProcessExecutor(value_class), args.time_limit, label)
            result = check_case(single, executor, samples=0, answer_keys=keys)
        checks = result.points[0]
        if result.training is not None:
            extra = ["", result.training.summary]
    elif case.steps:
        from ..engine import Value
        from ..executors import InProcessExecutor
        from ..training import descend

        extra = ["", descend(single, InProcessExecutor(Value), keys).summary]
    w = walk(case.program, point, values=truth.values, checks=checks, exact_grads=truth.grads,
             by_hand=args.by_hand, digits=args.digits)
    text = _document(args.format, case, _header(case, args.point, args.impl or ""), w, extra)
    if args.graph:
        from ..report.graph import walk_dot, write_graph

        path, note = write_graph(walk_dot(w, case.name), args.graph)
        print(f"graph: {path}" + (f"\n{note}" if note else ""), file=sys.stderr)
    if args.output:
        from ..atomic import write_text

        print(f"walk-through: {write_text(args.output, text)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 1 if checks is not None and checks.verdict in FAILURES else 0
