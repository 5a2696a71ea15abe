"""The symbolic oracle: every node's exact value and dL/dnode, and how far a float may be.

The SymPy build runs the same :func:`~gradcheck_lab.program.evaluate` as every other
build. ``expressions`` composes whole formulas in the inputs; the answer key uses the
*local* build, where each node is its op applied to a fresh symbol per operand position
(``v / v`` is ``p0 / p1``, as a float engine computes it), so ``sympy.diff`` gives exact
local partials and the error bounds follow the engine's computation, never a simplified
one. dL/dnode is then the derivative of L with that node replaced by a fresh symbol,
which the chain rule assembles from the local partials in reverse order; all of it is
evaluated with mpmath at 50 digits.
``tests/test_symbolic.py`` holds this against differentiating whole formulas.

Tolerance model (documented in the README): a first-order running error bound, in
units of the unit roundoff u. Forward: ``E[k] = sum_j |df_k/dv_j| E[j] + rho_k``, with
``rho_k`` the op table's rounding allowance. Backward: ``G[j] += G[k] |d_kj| +
|g_k| (sum_m |d2f_k/dv_j dv_m| E[m] + sigma_kj) + |g_k d_kj|``, where ``sigma`` is the
table's allowance for rounding in a local slope. A value or gradient passes when it is
within ``SAFETY * u * bound``. A value or gradient whose terms cancel to 50 digits is an
exact 0. At a kink (relu(0), a max tie; judged within the value's
own error bound) the gradients of every node upstream are undefined: a warning.

>>> from gradcheck_lab.source import parse_source
>>> key = answer_key(parse_source("L = log(x1*x2) + sin(x1*x3) + x2*x3"), {"x1": 2.0, "x2": 3.0, "x3": 4.0})
>>> [round(g, 4) for g in key.grads[:3]]
[-0.082, 4.3333, 2.709]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import mpmath
import sympy

from .ops import OPS
from .program import Program, Ref, evaluate
from .truth import SAFETY, PointTruth

__all__ = ["PRECISION", "answer_key", "expressions", "to_sympy_number"]

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

    >>> from gradcheck_lab.source import parse_source
    >>> expressions(parse_source("a = x * x\\nL = a + x"))[-1]
    x**2 + x
    """
    symbols = [sympy.Symbol(name, real=True) for name in program.inputs]
    return evaluate(program, symbols, _sympy_apply)


def _clean(expr: sympy.Expr) -> sympy.Expr:
    """Heaviside -> 0/1 by sign and DiracDelta -> 0: exact away from kinks, and kinks
    are flagged separately."""
    expr = expr.replace(sympy.DiracDelta, lambda *a: sympy.S.Zero)
    return expr.replace(sympy.Heaviside, lambda z, *a: sympy.Piecewise((1, z > 0), (0, True)))


@functools.cache
def _local(op_name: str, numbers: tuple[float | int | None, ...]) -> Callable[..., list[Any]]:
    """Node ``op(args)`` with a fresh real symbol per Value operand *position* (``None`` in
    ``numbers``), as mpmath: ``[f, df/dp_i..., d2f/dp_i dp_q..., d3f/dp_i dp_q dp_r...]``. One symbol per position,
    not per operand node: ``v / v`` is ``p0 / p1``, so its bounds follow the two roundings a
    float engine commits, never SymPy's ``1``. Cached by op and numbers, not by program.

    >>> [float(v) for v in _local("div", (None, None))(2.0, 2.0)[:3]]
    [1.0, 0.5, -0.5]
    """
    symbols = [sympy.Symbol(f"p{i}", real=True) for i, c in enumerate(numbers) if c is None]
    it = iter(symbols)
    f = _sympy_apply(OPS[op_name], [next(it) if c is None else c for c in numbers])
    firsts = [sympy.diff(f, s) for s in symbols]
    seconds = [sympy.diff(d, s) for d in firsts for s in symbols]
    thirds = [sympy.diff(d, s) for d in seconds for s in symbols]
    exprs = [_clean(e) for e in (f, *firsts, *seconds, *thirds)]
    return sympy.lambdify(symbols, exprs, "mpmath")  # type: ignore[no-any-return]


_ZERO = mpmath.mpf(10) ** (10 - PRECISION)  #: a result this small against its terms is an exact zero
_COARSEST_U = 2.0**-24  #: float32's unit roundoff, the coarsest an engine is judged at
_HUGE = 2.0**1000  #: a gradient term this large may overflow a float on its way
_UNDERFLOW = 2.0**-126 / _COARSEST_U  #: a result below float32's smallest normal may be lost, in units of u


def _magnitude(x: Any) -> float:
    """``|x|`` as a float (inf past the float range)."""
    return float(abs(x))


def _dot(xs: list[float], ys: list[float]) -> float:
    """``sum(x * y)`` of magnitudes, where 0 times anything (inf included) is 0.

    >>> _dot([0.0, 2.0], [float("inf"), 3.0])
    6.0
    """
    return sum(x * y for x, y in zip(xs, ys) if x and y)


def answer_key(program: Program, point: Mapping[str, float]) -> PointTruth:
    """Exact values, gradients and error bounds of every node at ``point``.

    The bounds follow the computation a float engine performs, op by op along the
    program: each Value operand position is its own term (``v / v`` has two), so no
    cancellation SymPy sees and floats do not can make a bound 0. A value or gradient
    that cancels to 50 digits (``relu(tanh(x)) / tanh(x)``) is an exact 0.

    >>> from gradcheck_lab.source import parse_source
    >>> key = answer_key(parse_source("L = x / x"), {"x": 3.0})
    >>> key.grads[0], key.grad_bounds[0] > 0
    (0.0, True)
    """
    truth = PointTruth(dict(point))
    n = len(program.nodes)
    with mpmath.workdps(PRECISION):
        vals: list[Any] = []
        bounds: list[float] = []
        reads: list[list[int]] = [[] for _ in range(n)]  # per node: the operand node of each position
        partials: list[list[Any]] = [[] for _ in range(n)]
        seconds: list[list[Any]] = [[] for _ in range(n)]
        thirds: list[list[float]] = [[] for _ in range(n)]
        for k, node in enumerate(program.nodes):
            if node.op == "input":
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
            reads[k] = [a.index for a in node.args if isinstance(a, Ref)]
            local = _local(op.name, tuple(None if isinstance(a, Ref) else a for a in node.args))
            out = [mpmath.mpf(v) for v in local(*(vals[j] for j in reads[k]))]  # max(3, p0) may give an int
            m = len(reads[k])
            value, partials[k], seconds[k] = out[0], out[1 : 1 + m], out[1 + m : 1 + m + m * m]
            thirds[k] = [_magnitude(t) for t in out[1 + m + m * m :]]
            if not mpmath.isfinite(value) or abs(value) > 1e308:
                truth.domain_error = f"{node.title}: the value {mpmath.nstr(value, 6)} is not a finite float"
                return truth
            if abs(value) <= _ZERO * sum(abs(d * vals[j]) for d, j in zip(partials[k], reads[k])):
                value = mpmath.mpf(0)  # v - w with v == w to 50 digits: exactly 0
            vals.append(value)
            slopes = [_magnitude(d) for d in partials[k]]
            curvature = [_magnitude(d) for d in seconds[k]]
            if op.kink is not None:
                distance = abs(float(op.kink(*(vals[a.index] if isinstance(a, Ref) else a for a in node.args))))
                near = sum(bounds[j] for j in dict.fromkeys(reads[k]))
                truth.kinks.append((k, distance, near))
                if distance <= SAFETY * _COARSEST_U * near:  # an operand's error may cross the kink:
                    slopes = [max(d, 1.0) for d in slopes]  # relu and max are 1-Lipschitz
            errors = [bounds[j] for j in reads[k]]
            pole = op.pole(*args) if op.pole is not None else None
            if pole is not None:
                truth.poles.append((k, abs(pole), sum(errors)))
            bound = _dot(slopes, errors) + _COARSEST_U * _dot(  # second order: x * y with x and y both 0
                curvature, [a * b if a and b else 0.0 for a in errors for b in errors])
            bounds.append(bound + op.rounding(tuple(float(a) for a in args), float(value)) + _UNDERFLOW)

        grads: list[Any] = [mpmath.mpf(0)] * n
        sizes: list[Any] = [mpmath.mpf(0)] * n  # the sum of |terms| of each gradient
        gbounds = [0.0] * n
        grads[program.output] = sizes[program.output] = mpmath.mpf(1)
        for k in range(n - 1, -1, -1):
            if not reads[k]:
                continue
            if abs(grads[k]) <= _ZERO * sizes[k]:
                grads[k] = mpmath.mpf(0)  # the paths cancel exactly
            if grads[k] == 0 and gbounds[k] == 0.0:
                continue
            op = OPS[program.nodes[k].op]
            fargs = tuple(float(vals[a.index]) if isinstance(a, Ref) else float(a) for a in program.nodes[k].args)
            g, m = grads[k], len(reads[k])
            size = _magnitude(g)
            for i, j in enumerate(reads[k]):
                d = partials[k][i]
                grads[j] += g * d
                sizes[j] += abs(g * d)
                slope = _magnitude(d)
                errors = [bounds[q] for q in reads[k]]
                sensitivity = _dot([_magnitude(seconds[k][i * m + q]) for q in range(m)], errors)
                sensitivity += _COARSEST_U * _dot(  # second order: the slope 3 v**2 at v = 0 exactly
                    thirds[k][i * m * m : (i + 1) * m * m], [a * b if a and b else 0.0 for a in errors for b in errors])
                slope_error = sensitivity + op.slope_rounding(fargs, float(vals[k]), float(d)) + _UNDERFLOW
                gbounds[j] += _dot([gbounds[k], size, size], [slope + _COARSEST_U * slope_error, slope_error, slope])
        for j in range(n):
            if abs(grads[j]) <= _ZERO * sizes[j]:
                grads[j] = mpmath.mpf(0)
            if sizes[j] > _HUGE:
                truth.domain_error = (f"{program.nodes[j].title}: a gradient term of {mpmath.nstr(sizes[j], 3)} is "
                                      "near the float range (a correct engine may overflow)")
                return truth

        truth.values = [float(v) for v in vals]
        truth.grads = [float(g) for g in grads]
        truth.value_bounds = [b + abs(v) for b, v in zip(bounds, truth.values)]
        truth.grad_bounds = [b + abs(g) for b, g in zip(gbounds, truth.grads)]
        truth.exact_values = [mpmath.nstr(v, 20) for v in vals]
        truth.exact_grads = [mpmath.nstr(g, 20) for g in grads]
    return truth
