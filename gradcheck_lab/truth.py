"""The answer key's data: per point, every node's true value and gradient and error bounds.

Computed by :mod:`.symbolic` (which needs SymPy); read by everything else (which does
not), so a run whose answer key is cached never imports SymPy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .program import Program

__all__ = ["SAFETY", "UNIT_ROUNDOFF", "PointTruth"]

SAFETY = 8.0  #: how many times its running error bound a float result may be off by
UNIT_ROUNDOFF = 2.0**-53  #: float64's; a float32 engine is judged with 2**-24
_ILL = 1e-3  #: a node whose rounding may move it by this much (relative to 1 + |value|) is not judged


@dataclass
class PointTruth:
    """The answer key at one point: per node value and dL/dnode, and their error bounds.

    Bounds are in units of the unit roundoff, so one key serves float64 and float32
    engines alike. ``nondifferentiable`` holds the nodes whose gradient is undefined
    here (upstream of a kink); ``domain_error`` says why the point is unusable.
    """

    point: dict[str, float]
    values: list[float] = field(default_factory=list)
    grads: list[float] = field(default_factory=list)
    value_bounds: list[float] = field(default_factory=list)
    grad_bounds: list[float] = field(default_factory=list)
    exact_values: list[str] = field(default_factory=list)  #: 20 significant digits
    exact_grads: list[str] = field(default_factory=list)
    kinks: list[tuple[int, float, float]] = field(default_factory=list)  #: (node, distance, bound in u)
    poles: list[tuple[int, float, float]] = field(default_factory=list)  #: (node, distance, bound in u)
    domain_error: str = ""
    #: :meth:`near_pole`'s answers by unit roundoff: a grader asks the same for every submission
    _near_pole: dict[float, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def nondifferentiable(self, program: Program, unit_roundoff: float = UNIT_ROUNDOFF) -> set[int]:
        """Nodes whose gradient is undefined here: upstream of an op at (or, for an
        engine rounding at ``unit_roundoff``, indistinguishably near) its kink."""
        found: set[int] = set()
        for k in self.at_kinks(unit_roundoff):
            for j in program.operands(k):
                found |= {j, *program.ancestors(j)}
        return found

    def at_kinks(self, unit_roundoff: float = UNIT_ROUNDOFF) -> list[int]:
        """The ``relu`` / ``max`` nodes at (or indistinguishably near) their kink here."""
        return [k for k, distance, bound in self.kinks if distance <= SAFETY * unit_roundoff * bound]

    def near_pole(self, program: Program, unit_roundoff: float = UNIT_ROUNDOFF) -> str:
        """Why the point is unusable for an engine rounding at ``unit_roundoff``: a divisor,
        a log's argument or a negative power's base within rounding of 0 (a correct engine
        may divide by 0 there), or a node whose rounding error is no longer small (``(x + e**90)
        - e**90``); "" when none is.

        >>> PointTruth({}, poles=[(0, 1e-20, 1.0)]).near_pole(Program((), 0))
        'node 0 is within rounding of a pole (its operand is 1e-20 from 0)'
        """
        found = self._near_pole.get(unit_roundoff)
        if found is None:  # the program is this key's own (keys are addressed by its digest): u alone decides
            found = self._near_pole[unit_roundoff] = self._unusable(program, unit_roundoff)
        return found

    def _unusable(self, program: Program, unit_roundoff: float) -> str:
        for k, distance, bound in self.poles:
            if distance <= SAFETY * unit_roundoff * bound:
                name = program.nodes[k].title if k < len(program.nodes) else f"node {k}"
                return f"{name} is within rounding of a pole (its operand is {distance:.3g} from 0)"
        for k, (value, bound) in enumerate(zip(self.values, self.value_bounds)):
            if SAFETY * unit_roundoff * bound > _ILL * (1.0 + abs(value)):
                name = program.nodes[k].title if k < len(program.nodes) else f"node {k}"
                return (f"{name} is too ill-conditioned here: its rounding error may reach "
                        f"{SAFETY * unit_roundoff * bound:.3g} (a first-order bound no longer holds)")
        return ""

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PointTruth:
        fields = dict(data)
        fields["kinks"] = [tuple(k) for k in fields.get("kinks", [])]
        fields["poles"] = [tuple(k) for k in fields.get("poles", [])]
        return cls(**fields)
