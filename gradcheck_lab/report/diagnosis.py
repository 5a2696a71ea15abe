"""The diagnosis as a student reads it (every report shows it the same way): each code,
its explanation and evidence, what no known bug explains, the minimal counterexample.

>>> print("\\n".join(diagnosis_lines([{"code": "no-seed-grad", "explanation": "backward() leaves L.grad at 0",
...                                      "evidence": []}], [], "")))
- `no-seed-grad`: backward() leaves L.grad at 0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..drawing import text_table

__all__ = ["diagnosis_lines"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def diagnosis_lines(
    diagnosis: Sequence[dict[str, Any]], unexplained: Sequence[dict[str, Any]], counterexample: str, *,
    markdown: bool = True,
) -> list[str]:
    """The diagnosis as a student reads it: each code, its explanation, its evidence;
    then what no known bug explains, and the minimal counterexample."""
    fmt_table = "github" if markdown else "simple"
    out: list[str] = []
    for entry in diagnosis:
        code = f"`{entry['code']}`" if markdown else entry["code"]
        out += [f"- {code}: {entry['explanation']}" if markdown else f"{code}: {entry['explanation']}"]
        rows = [[e["probe"], e["source"], ", ".join(f"{k}={v:g}" for k, v in e["point"].items()), e["expected"],
                 e["got"], e["predicted"]] for e in entry["evidence"][:3]]
        if rows:
            out += ["", text_table(["probe", "source", "point", "expected", "got", "this bug predicts"],
                                   [[_cell(x) for x in r] for r in rows], fmt_table), ""]
    if unexplained:
        rows = [[e["probe"], e["source"], e["expected"], e["got"]] for e in unexplained]
        out += ["", "Not explained by any known bug:", "",
                text_table(["probe", "source", "expected", "got"], [[_cell(x) for x in r] for r in rows], fmt_table)]
    if counterexample:
        out += ["", "The smallest disagreement found: paste it into a case file and rerun it.", "",
                "```toml" if markdown else "", counterexample.rstrip(), "```" if markdown else ""]
    return out
