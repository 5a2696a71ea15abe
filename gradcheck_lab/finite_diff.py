"""Finite differences over an implementation's own forward pass.

For each input, central differences at steps h, h/2, ..., h/2^(L-1) are extrapolated
to h = 0 (Richardson, in h^2, as in Ridders' method), and the entry of the tableau
with the smallest estimated error wins. Steps are chosen in the parent, before any
student code runs: a stencil is used only if, in plain floats, every op stays inside
its domain and on its side of every kink at every stencil point (so log(x) at x = 1e-4
never steps to a negative x, and relu(x) at x = 1e-3 never steps across 0), and well
inside the distance to every pole (1/x at x = -0.001 steps by less than 0.000125).

The stencil points are sent to an executor in one batch; :func:`estimate` turns the
forward values it returns into derivatives.

>>> from gradcheck_lab.source import parse_source
>>> from gradcheck_lab.program import evaluate, float_apply
>>> p = parse_source("L = sin(x) * y")
>>> plan = plan_steps(p, {"x": 0.5, "y": 2.0})
>>> values = [evaluate(p, [q["x"], q["y"]], float_apply)[p.output] for q in plan.points]
>>> est = estimate(plan, values)
>>> round(est[0].value, 12), round(est[1].value, 12)
(1.755165123781, 0.479425538604)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .ops import OPS
from .program import Program, Ref, evaluate, float_apply

__all__ = ["FDEstimate", "StepPlan", "estimate", "kink_distances", "plan_steps"]

LEVELS = 6  #: central differences per input, each at half the previous step
_SHRINK = 4.0  #: how much the first step shrinks when a stencil leaves a domain
_TRIES = 24
_POLE_MARGIN = 0.125  #: how far a stencil may move a pole's distance, as a fraction of it
_U = 2.0**-53


@dataclass
class FDEstimate:
    """dL/dinput by finite differences, with an error estimate; or why there is none."""

    value: float | None
    error: float = math.inf
    note: str = ""


@dataclass
class StepPlan:
    """The stencil points of every input, in one list, and where each input's begin."""

    point: dict[str, float]
    points: list[dict[str, float]] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)  # input -> h per level
    offsets: dict[str, int] = field(default_factory=dict)  # input -> index of its first point
    notes: dict[str, str] = field(default_factory=dict)  # input -> why no finite difference
    scale: float = 0.0  #: the largest magnitude a node takes at the point: its rounding reaches the output


def kink_distances(program: Program, point: Mapping[str, float]) -> list[float] | None:
    """Signed distances of every kinked op (relu, max) from its kink at ``point``, in
    plain floats; None if any op leaves its domain or overflows there."""
    found = _distances(program, point)
    return None if found is None else found[0]


def _distances(program: Program, point: Mapping[str, float]) -> tuple[list[float], list[float]] | None:
    """Signed distances of every kinked op from its kink and of every op with a pole (a
    divisor, log's argument, a negative power's base) from it; None outside a domain."""
    try:
        values = evaluate(program, [point[x] for x in program.inputs], _checked_apply)
    except (ArithmeticError, ValueError, _OutOfDomain):
        return None
    kinks, poles = [], []
    for node in program.nodes[len(program.inputs):]:
        op = OPS[node.op]
        args = [values[a.index] if isinstance(a, Ref) else a for a in node.args]
        if op.kink is not None:
            kinks.append(op.kink(*args))
        distance = op.pole(*args) if op.pole is not None else None
        poles.append(math.inf if distance is None else distance)
    return kinks, poles


def _clear_of_poles(base: list[float], other: list[float]) -> bool:
    """Each pole's distance moves by at most ``_POLE_MARGIN`` of itself: the step stays
    well inside the distance to the nearest pole, where the differences converge."""
    return all(a == b or abs(b - a) <= _POLE_MARGIN * abs(a) for a, b in zip(base, other))


class _OutOfDomain(Exception):
    pass


def _checked_apply(op: object, args: list[float]) -> float:
    assert hasattr(op, "domain")
    if not op.domain(*args):  # type: ignore[attr-defined]
        raise _OutOfDomain
    value = float_apply(op, args)  # type: ignore[arg-type]
    if not isinstance(value, float | int) or not math.isfinite(value):
        raise _OutOfDomain
    return value


def _same_side(base: list[float], other: list[float] | None) -> bool:
    return other is not None and all((a > 0) == (b > 0) and (a < 0) == (b < 0) for a, b in zip(base, other))


def _accepts(kinks: list[float], poles: list[float], there: tuple[list[float], list[float]] | None) -> bool:
    return there is not None and _same_side(kinks, there[0]) and _clear_of_poles(poles, there[1])


def plan_steps(
    program: Program, point: Mapping[str, float], levels: int = LEVELS, inputs: Sequence[str] | None = None
) -> StepPlan:
    """Safe central-difference stencils for every input of ``program`` at ``point`` (or only
    ``inputs``: :func:`estimate` then gives one estimate per input of those)."""
    plan = StepPlan(dict(point))
    with contextlib.suppress(ArithmeticError, ValueError, _OutOfDomain):
        plan.scale = max(map(abs, evaluate(program, [point[x] for x in program.inputs], _checked_apply)))
    found = _distances(program, point)
    if found is None:
        plan.notes = {x: "the point is outside an op's domain" for x in program.inputs}
        return plan
    base, poles = found
    if any(d == 0 for d in base):
        plan.notes = {x: "the point sits on a kink" for x in program.inputs}
        # inputs that do not feed a kinked op still get differences below
    if inputs is not None:
        plan.point = {x: plan.point[x] for x in inputs}
    for x in plan.point:
        h = 0.125 * max(1.0, abs(point[x]))
        for _ in range(_TRIES):
            stencil = [dict(point, **{x: point[x] + s * h / 2**j}) for j in range(levels) for s in (1, -1)]
            if all(_accepts(base, poles, _distances(program, q)) for q in stencil):
                plan.offsets[x] = len(plan.points)
                plan.steps[x] = [h / 2**j for j in range(levels)]
                plan.points.extend(stencil)
                plan.notes.pop(x, None)
                break
            h /= _SHRINK
        else:
            plan.notes.setdefault(x, "no step keeps every op inside its domain and off its kinks")
    return plan


def estimate(plan: StepPlan, values: Sequence[float | None]) -> list[FDEstimate]:
    """One estimate per input (in ``plan.point``'s order) from the forward ``values``
    at ``plan.points`` (None where the forward pass failed)."""
    found = []
    for x in plan.point:
        if x not in plan.offsets:
            found.append(FDEstimate(None, note=plan.notes.get(x, "no stencil")))
            continue
        start = plan.offsets[x]
        hs, diffs, scale = [], [], 0.0
        for j, h in enumerate(plan.steps[x]):
            up, down = values[start + 2 * j], values[start + 2 * j + 1]
            if up is None or down is None or not (math.isfinite(up) and math.isfinite(down)):
                continue
            hs.append(h)
            diffs.append((up - down) / (2 * h))
            scale = max(scale, abs(up), abs(down))
        if len(hs) < 2:
            found.append(FDEstimate(None, note="the forward pass failed at the stencil points"))
            continue
        found.append(_extrapolate(hs, diffs, max(scale, plan.scale)))
    return found


def _extrapolate(hs: list[float], diffs: list[float], scale: float) -> FDEstimate:
    """Neville extrapolation in h^2 to h = 0; keep the entry with the smallest error."""
    table = [[d] for d in diffs]
    best, best_err = diffs[-1], abs(diffs[-1] - diffs[-2])
    for j in range(1, len(diffs)):
        for m in range(1, j + 1):
            ratio = (hs[j - m] / hs[j]) ** 2
            t = table[j][m - 1] + (table[j][m - 1] - table[j - 1][m - 1]) / (ratio - 1.0)
            table[j].append(t)
            err = max(abs(t - table[j][m - 1]), abs(t - table[j - 1][m - 1]))
            if err < best_err:
                best, best_err = t, err
    # the noise floor of the smallest step: rounding of the largest intermediate (1 + z**4 at a
    # tiny z loses the digits of z**4) reaches the output, however small the output is
    rounding = 4.0 * _U * scale / hs[-1]
    return FDEstimate(best, max(best_err, rounding))
