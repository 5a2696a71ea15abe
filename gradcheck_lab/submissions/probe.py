"""Capability probes: one tiny case per form an op can be written in, from the op table.

``x + y``, ``x + 2`` (a constant on the right), ``2 + x`` (the reflected method), ...,
``exp(x)``, ``max(x, y)``: each is judged like any case (against the answer key, in the
sandbox), so a submission's capability table says per form whether it is supported,
right, wrong or raises, and the class summary can count which ops fail most.

>>> [c.name for c in probe_cases()][:4]
['x + y', 'x + 2', '2 + x', 'x * y']
>>> probe_cases()[2].program.nodes[-1].text
'2 + x'
"""

from __future__ import annotations

import functools

from ..cases import Case, parse_source
from ..ops import OPS
from ..program import python_operator

__all__ = ["PROBE_POINT", "probe_cases"]

#: Where every probe is evaluated: inside every op's domain and clear of every kink.
PROBE_POINT = {"x": 0.6, "y": 1.3}


def _forms() -> list[tuple[str, str]]:
    """(form, op name) for every op, in table order."""
    forms: list[tuple[str, str]] = []
    for op in OPS.values():
        s = op.symbol
        if op.arity == 2 and python_operator(op) is not None:
            written = [f"x {s} 3"] if op.constant_exponent else [f"x {s} y", f"x {s} 2", f"2 {s} x"]
        elif op.arity == 1 and not op.is_function:
            written = [f"{s}x"]
        else:
            written = [f"{s}({', '.join('xy'[: op.arity])})"]
        forms.extend((form, op.name) for form in written)
    return forms


@functools.lru_cache(maxsize=1)
def probe_cases() -> tuple[Case, ...]:
    """The probes as cases named by their form, tagged ``probe`` and ``op:<name>``."""
    cases = []
    for form, op in _forms():
        program = parse_source(f"L = {form}")
        point = {x: PROBE_POINT[x] for x in program.inputs}
        cases.append(Case(name=form, program=program, points=(point,), source=f"L = {form}",
                          tags=("probe", f"op:{op}"), about=f"can the Value class do {form}?"))
    return tuple(cases)
