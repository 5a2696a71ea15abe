"""The symbolic oracle: every node's exact value and dL/dnode, and how far a float may be.

The SymPy build runs the same :func:`~gradcheck_lab.program.evaluate` as every other
build. ``expressions`` composes whole formulas in the inputs; the answer key uses the
*local* build, where each node is its op applied to fresh symbols for its operands,
so ``sympy.diff`` gives exact local partials. dL/dnode is then the derivative of L
with that node replaced by a fresh symbol, which the chain rule assembles from the
local partials in reverse order; all of it is evaluated with mpmath at 50 digits.
``tests/test_symbolic.py`` holds this against differentiating whole formulas.

Tolerance model (documented in the README): a first-order running error bound, in
units of the unit roundoff u. Forward: ``E[k] = sum_j |df_k/dv_j| E[j] + rho_k``, with
``rho_k`` the op table's rounding allowance. Backward: ``G[j] += G[k] |d_kj| +
|g_k| (sum_m |d2f_k/dv_j dv_m| E[m] + sigma_kj) + |g_k d_kj|``, where ``sigma`` is the
table's allowance for rounding in a local slope. A value or gradient passes when it is
within ``SAFETY * u * bound``. At a kink (relu(0), a max tie; judged within the value's
own error bound) the gradients of every node upstream are undefined: a warning.

>>> from gradcheck_lab.cases import parse_source
>>> key = answer_key(parse_source("L = log(x1*x2) + sin(x1*x3) + x2*x3"), {"x1": 2.0, "x2": 3.0, "x3": 4.0})
>>> [round(g, 4) for g in key.grads[:3]]
[-0.082, 4.3333, 2.709]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mpmath
import sympy

from .ops import OPS
from .program import Program, Ref, evaluate
from .truth import PointTruth

__all__ = ["PRECISION", "answer_key", "expressions", "local_formulas", "to_sympy_number"]

PRECISION = 50  #: decimal digits of every symbolic evaluation


def to_sympy_number(x: int | float) -> sympy.Expr:
    """A program's number as an exact SymPy number (a float's exact binary value).

    >>> to_sympy_number(0.5), to_sympy_number(3)
    (1/2, 3)
    """
    return sympy.Integer(x) if isinstance(x, int) else sympy.Rational(x)


def _sympy_apply(op: Any, args: list[Any]) -> Any:
    return op.sympy(*(to_sympy_number(a) if isinstance(a, int | float) else a for a in args))


def expressions(program: Program) -> list[sympy.Expr]:
    """Every node as a whole SymPy formula in the input symbols.

    >>> from gradcheck_lab.cases import parse_source
    >>> expressions(parse_source("a = x * x\\nL = a + x"))[-1]
    x**2 + x
    """
    symbols = [sympy.Symbol(name) for name in program.inputs]
    return evaluate(program, symbols, _sympy_apply)


def _clean(expr: sympy.Expr) -> sympy.Expr:
    """Heaviside -> 0/1 by sign and DiracDelta -> 0: exact away from kinks, and kinks
    are flagged separately."""
    expr = expr.replace(sympy.DiracDelta, lambda *a: sympy.S.Zero)
    return expr.replace(sympy.Heaviside, lambda z, *a: sympy.Piecewise((1, z > 0), (0, True)))


@dataclass(frozen=True)
class _Local:
    """Node k as its op on fresh operand symbols: value, partials, second partials."""

    operands: tuple[int, ...]  # distinct operand node indices, in order
    evaluate: Callable[..., list[Any]]  # mpmath: [f, df/dv_j..., d2f/dv_j dv_m...]
    formulas: tuple[str, ...]  # the local partials as text, for reports


@lru_cache(maxsize=256)
def _locals(program: Program) -> tuple[_Local | None, ...]:
    found: list[_Local | None] = []
    for node in program.nodes:
        if node.op == "input":
            found.append(None)
            continue
        operands = tuple(dict.fromkeys(a.index for a in node.args if isinstance(a, Ref)))
        symbols = {j: sympy.Symbol(f"v{j}") for j in operands}
        args = [symbols[a.index] if isinstance(a, Ref) else a for a in node.args]
        f = _sympy_apply(OPS[node.op], args)
        firsts = [sympy.diff(f, symbols[j]) for j in operands]
        seconds = [sympy.diff(d, symbols[m]) for d in firsts for m in operands]
        fn = sympy.lambdify([symbols[j] for j in operands], [_clean(e) for e in (f, *firsts, *seconds)], "mpmath")
        found.append(_Local(operands, fn, tuple(str(d) for d in firsts)))
    return tuple(found)


def answer_key(program: Program, point: Mapping[str, float]) -> PointTruth:
    """Exact values, gradients and error bounds of every node at ``point``."""
    truth = PointTruth(dict(point))
    local = _locals(program)
    n = len(program.nodes)
    with mpmath.workdps(PRECISION):
        vals: list[Any] = []
        bounds: list[float] = []
        partials: list[list[Any]] = [[] for _ in range(n)]
        seconds: list[list[Any]] = [[] for _ in range(n)]
        for k, node in enumerate(program.nodes):
            loc = local[k]
            if loc is None:
                x = point[node.name]
                vals.append(mpmath.mpf(x))
                bounds.append(abs(x))  # an input is exact in float64; a float32 engine rounds it
                continue
            op = OPS[node.op]
            args = [float(vals[a.index]) if isinstance(a, Ref) else a for a in node.args]
            if not op.domain(*args):
                shown = ", ".join(f"{a:.6g}" for a in args)
                truth.domain_error = f"{node.title}: {op.domain_text} ({op.name} of {shown})"
                return truth
            out = loc.evaluate(*(vals[j] for j in loc.operands))
            m = len(loc.operands)
            value, partials[k], seconds[k] = out[0], out[1 : 1 + m], out[1 + m :]
            if not mpmath.isfinite(value) or abs(value) > 1e308:
                truth.domain_error = f"{node.title}: the value {mpmath.nstr(value, 6)} is not a finite float"
                return truth
            vals.append(value)
            bound = float(sum(abs(d) * bounds[j] for d, j in zip(partials[k], loc.operands)))
            bounds.append(bound + op.rounding(tuple(float(a) for a in args), float(value)))
            if op.kink is not None:
                distance = abs(float(op.kink(*(vals[a.index] if isinstance(a, Ref) else a for a in node.args))))
                truth.kinks.append((k, distance, sum(bounds[j] for j in loc.operands)))

        grads: list[Any] = [mpmath.mpf(0)] * n
        gbounds = [0.0] * n
        grads[program.output] = mpmath.mpf(1)
        for k in range(n - 1, -1, -1):
            loc = local[k]
            if loc is None or (grads[k] == 0 and gbounds[k] == 0.0):
                continue
            op = OPS[program.nodes[k].op]
            fargs = tuple(float(vals[a.index]) if isinstance(a, Ref) else float(a) for a in program.nodes[k].args)
            g, m = grads[k], len(loc.operands)
            for i, j in enumerate(loc.operands):
                d = partials[k][i]
                grads[j] += g * d
                sensitivity = sum(abs(seconds[k][i * m + q]) * bounds[loc.operands[q]] for q in range(m))
                slope_error = float(sensitivity) + op.slope_rounding(fargs, float(vals[k]), float(d))
                gbounds[j] += float(gbounds[k] * abs(d) + abs(g) * slope_error + abs(g * d))

        truth.values = [float(v) for v in vals]
        truth.grads = [float(g) for g in grads]
        truth.value_bounds = [b + abs(v) for b, v in zip(bounds, truth.values)]
        truth.grad_bounds = [b + abs(g) for b, g in zip(gbounds, truth.grads)]
        truth.exact_values = [mpmath.nstr(v, 20) for v in vals]
        truth.exact_grads = [mpmath.nstr(g, 20) for g in grads]
    return truth


def local_formulas(program: Program, index: int) -> tuple[str, ...]:
    """The exact local partials of node ``index`` with respect to its operands, as text."""
    loc = _locals(program)[index]
    return loc.formulas if loc else ()
