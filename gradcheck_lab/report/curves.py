"""Loss curves as inline SVG: the exact descent and an implementation's, step by step.

Hand-written SVG (no plotting library): a polyline per curve, axes with a few ticks,
a legend, and a dotted line where the curves part. The loss axis is logarithmic when
every loss is positive and they span more than two decades (a converging descent),
so a curve that stalls above the truth stands out.

>>> svg = loss_curves_svg([("exact", [2.5, 2.025, 1.64]), ("yours", [2.5, 2.2, 1.9])], parted_at=1)
>>> svg.startswith("<svg") and svg.count("<polyline") == 2 and "parts at step 1" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["CURVE_COLOURS", "loss_curves_svg"]

CURVE_COLOURS = ("#1f5fbf", "#c2410c")  #: exact, then the implementation
_DASHES = ("", ' stroke-dasharray="6 4"')


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round numbers from ``lo`` to ``hi``.

    >>> _ticks(0.0, 100.0)
    [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    """
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    step = 10.0 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _label(x: float) -> str:
    return f"{x:.3g}" if x == 0 or 1e-3 <= abs(x) < 1e4 else f"{x:.0e}"


def loss_curves_svg(
    curves: Sequence[tuple[str, Sequence[float]]],
    *,
    parted_at: int | None = None,
    width: int = 560,
    height: int = 280,
    title: str = "loss per step",
) -> str:
    """An SVG picture of several loss curves (name, losses by step) on one pair of axes."""
    finite = [v for _, ys in curves for v in ys if math.isfinite(v)]
    steps = max((len(ys) for _, ys in curves), default=1) - 1
    if not finite:
        finite = [0.0, 1.0]
    log = min(finite) > 0 and max(finite) / min(finite) > 100

    def f(v: float) -> float:
        return math.log10(v) if log else v

    lo, hi = f(min(finite)), f(max(finite))
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    left, right, top, bottom = 64, 16, 28, 40
    pw, ph = width - left - right, height - top - bottom

    def x(step: float) -> float:
        return left + pw * (step / max(steps, 1))

    def y(v: float) -> float:
        return top + ph * (1 - (f(v) - lo) / (hi - lo))

    out = [
        f'<svg class="curves" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>',
    ]
    yticks = [10.0**e for e in range(math.ceil(lo), math.floor(hi) + 1)] if log else _ticks(lo, hi)
    if log and len(yticks) > 6:
        yticks = yticks[:: math.ceil(len(yticks) / 6)]
    for t in yticks:
        ty = y(t)
        out.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + pw}" y2="{ty:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">{_label(t)}</text>')
    for t in _ticks(0, steps) if steps else [0.0]:
        tx = x(t)
        out.append(f'<text x="{tx:.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11">{t:g}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" font-size="12">step</text>')
    scale = "loss (log scale)" if log else "loss"
    out.append(f'<text x="{left}" y="{top - 10}" font-size="12">{scale}</text>')
    if parted_at is not None:
        px = x(parted_at)
        out.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + ph}" stroke="#b3261e" '
                   'stroke-dasharray="2 3"/>')
        anchor = "end" if parted_at > steps / 2 else "start"
        shift = -4 if anchor == "end" else 4
        out.append(f'<text x="{px + shift:.1f}" y="{top + ph - 6}" text-anchor="{anchor}" font-size="11" '
                   f'fill="#b3261e">parts at step {parted_at}</text>')
    for i, (name, ys) in enumerate(curves):
        colour, dash = CURVE_COLOURS[i % len(CURVE_COLOURS)], _DASHES[i % len(_DASHES)]
        points = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in enumerate(ys) if math.isfinite(v) and (v > 0 or not log))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{points}"/>')
        ly = top + 14 + 16 * i
        lx = left + pw - 150
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 24}" y2="{ly - 4}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 30}" y="{ly}" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
