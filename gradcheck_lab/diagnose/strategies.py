"""Hypothesis strategies for random case sources, derived from the op table.

Every op of the table appears; ops with a restricted domain are wrapped so their
argument stays inside it (log and fractional powers of 1 + a**2, division by 1 + b**2,
exp of a bounded argument), so random sources rarely hit a domain error. Simpler
forms come first, so Hypothesis shrinks towards ``x + x``.
"""

from __future__ import annotations

from hypothesis import strategies as st

from ..ops import OPS

__all__ = ["CONSTANTS", "INPUTS", "expressions"]

INPUTS = ("x", "y", "z")
CONSTANTS = ("0.5", "2", "3", "1.5", "0.25")

#: Each op of the table as a template over its operands, its domain kept by a wrapper.
_WRAPPED = {
    "log": "log(1 + ({0})**2)",
    "exp": "exp(sin({0}))",
    "div": "({0}) / (1 + ({1})**2)",
}
_EXPONENTS = ("2", "3", "-1", "0.5", "1.5")


def _template(name: str) -> str:
    op = OPS[name]
    if name in _WRAPPED:
        return _WRAPPED[name]
    if op.is_function:
        return f"{name}({{0}})" if op.arity == 1 else f"{name}({{0}}, {{1}})"
    return "-({0})" if op.arity == 1 else f"({{0}}) {op.symbol} ({{1}})"


_FORMS = [(name, _template(name)) for name in ("add", "mul", "sub", *sorted(set(OPS) - {"add", "mul", "sub"}))]


def _apply(form: tuple[str, str], a: str, b: str, k: str) -> str:
    name, template = form
    if name == "pow":  # a constant exponent; fractional and negative ones on a positive base
        return f"({a})**{k}" if k in ("2", "3") else f"(1 + ({a})**2)**{k}"
    return template.format(a, b)


def expressions(leaves: st.SearchStrategy[str], max_leaves: int = 10) -> st.SearchStrategy[str]:
    """Random expressions over ``leaves``: each node an op of the table, drawn uniformly."""

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.builds(_apply, st.sampled_from(_FORMS), children, children, st.sampled_from(_EXPONENTS))

    return st.recursive(leaves, extend, max_leaves=max_leaves)
