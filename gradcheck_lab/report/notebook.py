"""How :func:`~gradcheck_lab.check_engine` and :func:`~gradcheck_lab.explain` results show:
plain text for a terminal, and an HTML fragment for Jupyter (the reports' styles scoped to
the fragment, so the notebook around it keeps its own; pictures inline, nothing fetched).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..checktable import point_title
from ..walkthrough import Walkthrough, case_walk
from .grades import grade_diagnosis, grade_header, score_rows
from .html import CSS, escape, graph_figure, table, walkthrough_html
from .walkthrough import parting, walkthrough_text

if TYPE_CHECKING:
    from ..notebook import EngineCheck, Explanation

__all__ = [
    "SCOPE", "engine_check_html", "engine_check_text", "explanation_html", "explanation_text", "failure_message",
    "scoped_css",
]

SCOPE = "gradcheck-lab"  #: the class of the fragment's outer element; the styles apply inside it only
_GOOD, _FAIR = ("correct", "ok"), ("partial", "nondifferentiable", "domain-error")


def scoped_css(css: str, scope: str = SCOPE) -> str:
    """``css`` with every rule limited to elements inside ``.scope`` (``:root`` and ``body``
    become the scope itself); at-rules such as ``@media`` keep their own condition.

    >>> scoped_css("body { color: red; } @media print { th, td { padding: 0; } }", "s")
    '.s { color: red; } @media print { .s th, .s td { padding: 0; } }'
    """
    parts = re.split(r"([{}])", css)
    out = []
    for i, part in enumerate(parts):
        opens = i + 1 < len(parts) and parts[i + 1] == "{"
        if opens and not part.strip().startswith("@") and part.strip():
            lead = part[: len(part) - len(part.lstrip())]
            selectors = [s.strip() for s in part.split(",")]
            part = lead + ", ".join(f".{scope}" if s in (":root", "body", "html") else f".{scope} {s}"
                                    for s in selectors) + " "
        out.append(part)
    return "".join(out)


_STYLE = scoped_css(CSS) + f"\n.{SCOPE} {{ max-width: none; padding: .25rem 0; }}"


def _badge(verdict: str) -> str:
    kind = "ok" if verdict in _GOOD else "warn" if verdict in _FAIR else "fail"
    return f'<span class="badge {kind}">{escape(verdict)}</span>'


def _fragment(body: str) -> str:
    return f'<div class="{SCOPE}"><style>{_STYLE}</style>{body}</div>'


def _walk_of(check: EngineCheck) -> Walkthrough | None:
    return None if check.showcase is None else case_walk(check.showcase)


def _showcase_title(check: EngineCheck, w: Walkthrough) -> str:
    assert check.showcase is not None and w.checks is not None
    which = "the smallest disagreement found" if check.showcase.case.name == "counterexample" else (
        f"case {check.showcase.case.name}")
    source = " ; ".join(line.strip() for line in check.showcase.case.source.strip().splitlines())
    lead = "Worth knowing" if check.ok else "Where it goes wrong"
    return f"{lead}: {which}, {source}, at {point_title(w.checks)}"


def _missing(check: EngineCheck) -> tuple[list[str], list[dict[str, Any]]]:
    """The operator forms the class lacks (``unsupported:OP``, shown as one line), and the other diagnosis entries."""
    missing = [d["code"].split(":", 1)[1] for d in check.grade.diagnosis if d["code"].startswith("unsupported:")]
    return missing, [d for d in check.grade.diagnosis if not d["code"].startswith("unsupported:")]


def engine_check_text(check: EngineCheck) -> str:
    """The verdict, the diagnosis with its evidence and counterexample, then where the
    showcase case parts from the truth and its walk-through."""
    missing, named = _missing(check)
    grade = replace(check.grade, diagnosis=named)
    out = [f"{grade.id}: {check.verdict}" + ("" if check.ok else " (not ok)"),
           *(line for line in grade_header(grade)[1:] if not line.startswith("submission:"))]
    out += [f"note: {n}" for n in grade.notes]
    if grade.diagnosis or grade.unexplained or grade.counterexample:
        out += ["", "Diagnosis", *grade_diagnosis(grade, markdown=False)]
    if missing:
        out += ["", f"Missing operator forms (not wrong, just absent): {', '.join(missing)}"]
    w = _walk_of(check)
    if w is not None and w.checks is not None:
        out += ["", _showcase_title(check, w), parting(w), "", walkthrough_text(w).rstrip()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).rstrip() + "\n"


def failure_message(check: EngineCheck) -> str:
    """What a failing test says: the verdict, the diagnosis with its evidence and the
    counterexample, and where the showcase case first parts from the truth (no tables).

    >>> from gradcheck_lab import check_engine
    >>> from gradcheck_lab.diagnose import CATALOG
    >>> print(failure_message(check_engine(CATALOG["grad-overwrite:add"].engine(), cases=[])))  # doctest: +ELLIPSIS
    gradcheck_lab_variant.Value: wrong (not ok)
    ...
    grad-overwrite:add: = instead of += in the backward of +...
    source = "L = x + x"
    ...
    Where it goes wrong: the smallest disagreement found, L = x + x, at point 1 (given: x=0.7)
    Your engine parts from the truth first in the backward pass, at x: x.grad should be 2, yours is 1...
    """
    text = engine_check_text(check)
    return text.split("\nForward pass\n", 1)[0].rstrip()


def _diagnosis_html(check: EngineCheck) -> str:
    grade = check.grade
    missing, named = _missing(check)
    if not (grade.diagnosis or grade.unexplained or grade.counterexample):
        return ""
    parts = ["<strong>Diagnosis</strong>"]
    for entry in named:
        parts.append(f"<p><code>{escape(entry['code'])}</code>: {escape(entry['explanation'])}</p>")
        rows = [[e["probe"], e["source"], ", ".join(f"{k}={v:g}" for k, v in e["point"].items()), e["expected"],
                 e["got"], e["predicted"]] for e in entry["evidence"][:3]]
        if rows:
            parts.append(table(["probe", "source", "point", "expected", "got", "this bug predicts"], rows))
    if grade.unexplained:
        parts.append("<p>Not explained by any known bug:</p>" + table(
            ["probe", "source", "expected", "got"], [[e["probe"], e["source"], e["expected"], e["got"]]
                                                     for e in grade.unexplained]))
    if missing:
        parts.append(f"<p>Missing operator forms (not wrong, just absent): {escape(', '.join(missing))}</p>")
    if grade.counterexample:
        parts.append("<p>The smallest disagreement found: paste it into a case file and rerun it.</p>"
                     f"<pre>{escape(grade.counterexample.rstrip())}</pre>")
    return f'<div class="diagnosis">{"".join(parts)}</div>'


def engine_check_html(check: EngineCheck) -> str:
    """The result as an HTML fragment: verdict and score, the diagnosis with its evidence and
    counterexample, the showcase case's graph (the first wrong node outlined), where it
    parts and its walk-through, then every case's score and what the class printed."""
    grade = check.grade
    head = (f"<h3>{escape(grade.id)} {_badge(check.verdict)} "
            f"<small>{'ok' if check.ok else 'not ok'}</small></h3>")
    meta = "".join(f'<p class="meta">{escape(line)}</p>' for line in grade_header(grade)[1:]
                   if not line.startswith("submission:"))
    body = [head, meta, *(f'<p class="note">note: {escape(n)}</p>' for n in grade.notes), _diagnosis_html(check)]
    w = _walk_of(check)
    if w is not None and w.checks is not None and check.showcase is not None:
        body += [f"<h4>{escape(_showcase_title(check, w))}</h4>",
                 graph_figure(w, check.showcase.case.name, check.uid + "show-"),
                 f'<p class="parting">{escape(parting(w))}</p>',
                 walkthrough_html(w, "Walk-through: backprop step by step", open_=True)]
    rows = [[escape(r[0]), escape(r[1]), _badge(r[2]), escape(r[3]), escape(r[4])] for r in score_rows(grade)]
    if rows:
        body.append(f"<details><summary>Every case ({len(rows)})</summary>"
                    + table(["case", "score", "verdict", "checks agreeing", "first problem"], rows, raw=True)
                    + "</details>")
    if grade.output:
        body.append(f"<details><summary>What the class printed</summary><pre>{escape(grade.output[:4000])}</pre>"
                    "</details>")
    return _fragment("".join(b for b in body if b))


def explanation_text(e: Explanation) -> str:
    """The source, the point, where an implementation parts from the truth, and the walk-through."""
    out = [f"{e.case.source.strip()}  at  {', '.join(f'{x} = {v:g}' for x, v in e.case.points[0].items())}"]
    if e.checks is not None:
        out.append(parting(e.walkthrough))
    return "\n".join([*out, "", walkthrough_text(e.walkthrough).rstrip()]) + "\n"


def explanation_html(e: Explanation) -> str:
    """The walk-through as an HTML fragment: the graph, where it parts, the tables."""
    point = ", ".join(f"{x} = {v:g}" for x, v in e.case.points[0].items())
    body = [f"<h3>Backprop through <code>{escape(e.case.source.strip())}</code> at {escape(point)} "
            f"{_badge(e.verdict)}</h3>", graph_figure(e.walkthrough, "explain", e.uid)]
    if e.checks is not None:
        body.append(f'<p class="parting">{escape(parting(e.walkthrough))}</p>')
    body.append(walkthrough_html(e.walkthrough))
    return _fragment("".join(body))
