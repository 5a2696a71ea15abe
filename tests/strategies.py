"""Hypothesis strategies for random case sources, derived from the op table.

Every function op of the table appears; ops with a restricted domain are wrapped so
their argument stays inside it (log and fractional powers of 1 + a**2, division by
1 + b**2, exp of a bounded argument), so random programs rarely hit a domain error.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

from gradcheck_lab.ops import FUNCTIONS

INPUTS = ("x", "y", "z")
CONSTANTS = ("0.5", "2", "3", "1.5", "0.25")

_WRAPPED = {
    "log": "log(1 + ({0})**2)",
    "exp": "exp(sin({0}))",
}
_UNARY = [FUNCTIONS[name] for name in sorted(FUNCTIONS) if FUNCTIONS[name].arity == 1]
_BINARY_FUNCS = [FUNCTIONS[name] for name in sorted(FUNCTIONS) if FUNCTIONS[name].arity == 2]


def _unary(op_name: str, a: str) -> str:
    return _WRAPPED.get(op_name, op_name + "({0})").format(a)


def expressions(leaves: st.SearchStrategy[str], max_leaves: int = 10) -> st.SearchStrategy[str]:
    """Random expressions over ``leaves`` using every op of the table."""

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(st.sampled_from([op.name for op in _UNARY]), children).map(lambda t: _unary(*t)),
            st.tuples(st.sampled_from(["+", "-", "*"]), children, children).map(lambda t: f"({t[1]}) {t[0]} ({t[2]})"),
            st.tuples(children, children).map(lambda t: f"({t[0]}) / (1 + ({t[1]})**2)"),
            st.tuples(children, st.sampled_from(["2", "3", "-1", "0.5", "1.5"])).map(
                lambda t: f"({t[0]})**{t[1]}" if t[1] in ("2", "3") else f"(1 + ({t[0]})**2)**{t[1]}"
            ),
            st.tuples(st.sampled_from([op.name for op in _BINARY_FUNCS]), children, children).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"
            ),
            st.tuples(st.sampled_from(CONSTANTS), children).map(lambda t: f"{t[0]} - ({t[1]})"),
            children.map(lambda a: f"-({a})"),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


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
