"""The capability table's probes: the op forms of the one probe set
(:data:`gradcheck_lab.diagnose.PROBES`), as cases the grader judges against their answer keys.

``x + y``, ``x + 2`` (a constant on the right), ``2 + x`` (the reflected method), ...,
``exp(x)``, ``max(x, y)``: each is judged like any case (against the answer key, from the
probes' batch), so a submission's capability table says per form whether it is supported,
right, wrong or raises, and the class summary can count which ops fail most.

>>> [c.name for c in probe_cases()][:4]
['x + y', 'x + 2', '2 + x', 'x * y']
>>> probe_cases()[2].program.nodes[-1].text, probe_cases()[2].tags
('2 + x', ('probe', 'op:add'))
"""

from __future__ import annotations

import functools

from ..cases import Case
from ..diagnose.probes import PROBE_POINT, PROBES

__all__ = ["PROBE_POINT", "probe_cases"]


@functools.lru_cache(maxsize=1)
def probe_cases() -> tuple[Case, ...]:
    """The op-form probes as cases named by their form, tagged ``probe`` and ``op:<name>``;
    each holds its probe's own program object (so the probes' batch answers its judge)."""
    return tuple(
        Case(name=p.form, program=p.program, points=(p.point,), source=f"L = {p.form}", tags=("probe", f"op:{p.op}"),
             about=f"can the Value class do {p.form}?")
        for p in PROBES if p.form
    )
