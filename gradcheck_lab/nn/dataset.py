"""A small two-moons dataset generated in code: deterministic, no download, no numpy.

Two interleaved half circles in the plane, labelled -1 and +1 (the targets micrograd's
demo trains its MLP on), with a little noise from a seeded :class:`random.Random`.
Coordinates are rounded to 4 decimals so that every point is a short, exact number in a
report and the same on every machine.

>>> xs, ys = two_moons(4, seed=0)
>>> len(xs), ys
(4, [-1.0, 1.0, -1.0, 1.0])
>>> two_moons(4, seed=0) == (xs, ys)
True
"""

from __future__ import annotations

import math
import random

__all__ = ["two_moons"]


def two_moons(n: int, *, seed: int = 0, noise: float = 0.1) -> tuple[list[list[float]], list[float]]:
    """``n`` points (inputs ``[x1, x2]``) alternating between the moons, and their labels."""
    if n < 1:
        raise ValueError(f"two_moons needs at least one point, not {n}")
    rng = random.Random(f"two-moons:{seed}")
    xs: list[list[float]] = []
    ys: list[float] = []
    for i in range(n):
        upper = i % 2 == 0
        t = math.pi * rng.random()
        x1, x2 = (math.cos(t), math.sin(t)) if upper else (1.0 - math.cos(t), 0.5 - math.sin(t))
        xs.append([round(x1 + rng.gauss(0.0, noise), 4), round(x2 + rng.gauss(0.0, noise), 4)])
        ys.append(-1.0 if upper else 1.0)
    return xs, ys
