"""Hypothesis strategies for random case sources, derived from the op table.

Every function op of the table appears; ops with a restricted domain are wrapped so
their argument stays inside it (log and fractional powers of 1 + a**2, division by
1 + b**2, exp of a bounded argument), so random programs rarely hit a domain error.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

from gradcheck_lab.diagnose.strategies import CONSTANTS, INPUTS, expressions


def _mentions(expr: str, names: list[str]) -> bool:
    return bool(set(re.findall(r"[A-Za-z_]\w*", expr)) & set(names))


@st.composite
def programs(draw: st.DrawFn, statements: int = 3) -> str:
    """A few assignments; later ones may reuse earlier names (fan-out), so graphs are DAGs."""
    names: list[str] = []
    lines = []
    for i in range(draw(st.integers(1, statements))):
        pool = list(INPUTS) + names
        leaves = st.sampled_from(pool) | st.sampled_from(CONSTANTS)
        expr = draw(expressions(leaves, max_leaves=6).filter(lambda e: e not in pool and _mentions(e, pool)))
        names.append(f"a{i}")
        lines.append(f"a{i} = {expr}")
    # the output uses the last name and, often, earlier ones again
    extra = draw(st.sampled_from([""] + [f" + {n}" for n in names[:-1]] + [f" * {n}" for n in names[:-1]]))
    lines.append(f"L = {names[-1]}{extra} + 0")
    return "\n".join(lines)


@st.composite
def tree_sources(draw: st.DrawFn, max_leaves: int = 10) -> str:
    """A tree-shaped expression: every input and every sub-expression is used once."""
    counter = iter(range(10_000))
    leaves = st.builds(lambda: f"t{next(counter)}")
    return "L = " + draw(expressions(leaves, max_leaves=max_leaves).filter(lambda e: not re.fullmatch(r"t\d+", e)))


points = st.fixed_dictionaries({x: st.floats(-2.0, 2.0).map(lambda v: round(v, 3)) for x in INPUTS})
