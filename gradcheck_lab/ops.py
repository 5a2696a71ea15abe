"""The op table: the single source of truth for every operation a case may use.

Each :class:`Op` row names the operation, how a case source writes it, its float
forward, its SymPy counterpart, its local derivative rule, its input domain, where it
is not differentiable, where random points are drawn from, and how much rounding error
a correct float implementation may commit. The reference engine (:mod:`.engine`), the
SymPy builder (:mod:`.symbolic`), the case parser's whitelist (:mod:`.cases`) and the
Hypothesis strategies in the tests all derive from this table.

Primitives have a ``forward`` and a ``local`` rule; composites (``sub``, ``div``,
``neg``) are built from primitives by ``compose``, as micrograd does.

The ``local`` rules feed the reference engine and the explain trace only. The truth
always comes from ``sympy.diff``; ``tests/test_ops.py`` holds every rule against it.

>>> OPS["sin"].local((8.0,), 0.98935824662338)
(-0.14550003380861354,)
>>> OPS["tanh"].formula
('1 - out**2',)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["FUNCTIONS", "OPERATORS", "OPS", "Op", "sigmoid"]

Number = float
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_EXP_MAX = 709.0  # math.exp overflows just above 709.78


def _sympy() -> Any:
    import sympy  # deferred: the forward-only paths (engine, sandbox child) never need it

    return sympy


def sigmoid(x: float) -> float:
    """Numerically stable logistic function: never overflows, never returns nan.

    >>> sigmoid(0.0), sigmoid(-1000.0), sigmoid(1000.0)
    (0.5, 0.0, 1.0)
    """
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / _SQRT2))


def _gelu_slope(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2)) + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def _is_integer(k: float) -> bool:
    return float(k).is_integer()


def _pow_domain(x: float, k: float) -> bool:
    if _is_integer(k):
        return k >= 0 or x != 0.0
    return x > 0.0


def _always(*_: float) -> bool:
    return True


@dataclass(frozen=True)
class Op:
    """One row of the op table.

    ``args`` of the callables are floats in source order; for ``pow`` the second
    argument is the constant exponent. ``rounding(args, out)`` is the forward error a
    correct float64 implementation may commit, in units of the unit roundoff ``u``;
    ``slope_rounding(args, out, slope)`` the same for a local derivative. Both are
    generous on purpose: ``tanh`` computed as (e^2x - 1)/(e^2x + 1) is correct, and
    its error is absolute (about 2u), not relative to a tiny result.
    """

    name: str
    arity: int
    symbol: str  #: how a case source writes it: "+", "**", "tanh", ...
    method: str  #: the Value method that implements it: "__add__", "tanh", ...
    sympy: Callable[..., Any]
    rounding: Callable[[tuple[float, ...], float], float]
    slope_rounding: Callable[[tuple[float, ...], float, float], float]
    forward: Callable[..., float] | None = None
    local: Callable[[tuple[float, ...], float], tuple[float, ...]] | None = None
    formula: tuple[str, ...] = ()  #: local derivatives as text ({0}, {1}: inputs)
    compose: Callable[..., Any] | None = None  #: composites: built from primitives
    domain: Callable[..., bool] = _always
    domain_text: str = ""
    kink: Callable[..., float] | None = None  #: signed distance to a non-differentiable point
    sample: tuple[float, float] = (-2.0, 2.0)  #: where random inputs for this op come from
    sampled: tuple[int, ...] = (0,)  #: which operands ``sample`` is for (div: the divisor)
    constant_exponent: bool = False  #: pow: the second operand must be a number

    @property
    def primitive(self) -> bool:
        return self.forward is not None

    @property
    def is_function(self) -> bool:
        """Written as a call (``tanh(x)`` / ``x.tanh()``), not an operator."""
        return self.symbol.isidentifier()


def _rows() -> list[Op]:
    sp = _sympy
    return [
        Op(
            "add", 2, "+", "__add__",
            sympy=lambda a, b: a + b,
            forward=lambda a, b: a + b,
            local=lambda args, out: (1.0, 1.0),
            formula=("1", "1"),
            rounding=lambda args, out: abs(out),
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "mul", 2, "*", "__mul__",
            sympy=lambda a, b: a * b,
            forward=lambda a, b: a * b,
            local=lambda args, out: (args[1], args[0]),
            formula=("{1}", "{0}"),
            rounding=lambda args, out: abs(out),
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "pow", 2, "**", "__pow__",
            sympy=lambda x, k: x**k,
            forward=lambda x, k: x**k,
            local=lambda args, out: (args[1] * args[0] ** (args[1] - 1),),
            formula=("{1} * {0}**({1} - 1)",),
            domain=_pow_domain,
            domain_text="a non-integer power needs a positive base; a negative one a nonzero base",
            rounding=lambda args, out: abs(out) * (2.0 + abs(args[1] * math.log(abs(args[0]) or 1.0))),
            slope_rounding=lambda args, out, s: abs(s)
            * (3.0 + abs((args[1] - 1) * math.log(abs(args[0]) or 1.0))),
            sample=(0.5, 2.5),
            constant_exponent=True,
        ),
        Op(
            "exp", 1, "exp", "exp",
            sympy=lambda x: sp().exp(x),
            forward=math.exp,
            local=lambda args, out: (out,),
            formula=("exp({0})",),
            domain=lambda x: x <= _EXP_MAX,
            domain_text=f"exp overflows a float above {_EXP_MAX}",
            rounding=lambda args, out: abs(out) * (2.0 + abs(args[0])),
            slope_rounding=lambda args, out, s: abs(s) * (2.0 + abs(args[0])),
        ),
        Op(
            "log", 1, "log", "log",
            sympy=lambda x: sp().log(x),
            forward=math.log,
            local=lambda args, out: (1.0 / args[0],),
            formula=("1 / {0}",),
            domain=lambda x: x > 0.0,
            domain_text="log needs a positive argument",
            rounding=lambda args, out: abs(out) + 2.0,
            slope_rounding=lambda args, out, s: 2.0 * abs(s),
            sample=(0.25, 3.0),
        ),
        Op(
            "sin", 1, "sin", "sin",
            sympy=lambda x: sp().sin(x),
            forward=math.sin,
            local=lambda args, out: (math.cos(args[0]),),
            formula=("cos({0})",),
            rounding=lambda args, out: abs(out) + 2.0,
            slope_rounding=lambda args, out, s: abs(s) + 2.0,
            sample=(-3.0, 3.0),
        ),
        Op(
            "cos", 1, "cos", "cos",
            sympy=lambda x: sp().cos(x),
            forward=math.cos,
            local=lambda args, out: (-math.sin(args[0]),),
            formula=("-sin({0})",),
            rounding=lambda args, out: abs(out) + 2.0,
            slope_rounding=lambda args, out, s: abs(s) + 2.0,
            sample=(-3.0, 3.0),
        ),
        Op(
            "tanh", 1, "tanh", "tanh",
            sympy=lambda x: sp().tanh(x),
            forward=math.tanh,
            local=lambda args, out: (1.0 - out * out,),
            formula=("1 - out**2",),
            rounding=lambda args, out: abs(out) + 4.0,
            slope_rounding=lambda args, out, s: abs(s) + 10.0,
            sample=(-2.5, 2.5),
        ),
        Op(
            "relu", 1, "relu", "relu",
            sympy=lambda x: sp().Max(0, x),
            forward=lambda x: x if x > 0.0 else 0.0,
            local=lambda args, out: (1.0 if args[0] > 0.0 else 0.0,),
            formula=("1 if {0} > 0 else 0",),
            kink=lambda x: x,
            rounding=lambda args, out: 0.0,
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "sigmoid", 1, "sigmoid", "sigmoid",
            sympy=lambda x: 1 / (1 + sp().exp(-x)),
            forward=sigmoid,
            local=lambda args, out: (out * (1.0 - out),),
            formula=("out * (1 - out)",),
            rounding=lambda args, out: abs(out) + 4.0,
            slope_rounding=lambda args, out, s: abs(s) + 10.0,
            sample=(-4.0, 4.0),
        ),
        Op(
            "gelu", 1, "gelu", "gelu",
            sympy=lambda x: x * (1 + sp().erf(x / sp().sqrt(2))) / 2,
            forward=_gelu,
            local=lambda args, out: (_gelu_slope(args[0]),),
            formula=("Phi({0}) + {0} * phi({0})",),
            rounding=lambda args, out: 2.0 * abs(out) + 4.0 * (1.0 + abs(args[0])),
            slope_rounding=lambda args, out, s: abs(s) + 4.0 * (1.0 + abs(args[0])),
            sample=(-3.0, 3.0),
        ),
        Op(
            "max", 2, "max", "max",
            sympy=lambda a, b: sp().Max(a, b),
            forward=lambda a, b: a if a >= b else b,
            local=lambda args, out: (1.0, 0.0) if args[0] >= args[1] else (0.0, 1.0),
            formula=("1 if {0} >= {1} else 0", "1 if {1} > {0} else 0"),
            kink=lambda a, b: a - b,
            rounding=lambda args, out: 0.0,
            slope_rounding=lambda args, out, s: 0.0,
        ),
        # Composites: micrograd builds these from the primitives above.
        Op(
            "sub", 2, "-", "__sub__",
            sympy=lambda a, b: a - b,
            compose=lambda a, b: a + (-b),
            rounding=lambda args, out: abs(out),
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "div", 2, "/", "__truediv__",
            sympy=lambda a, b: a / b,
            compose=lambda a, b: a * b**-1,
            domain=lambda a, b: b != 0.0,
            domain_text="division by zero",
            rounding=lambda args, out: 2.0 * abs(out),
            slope_rounding=lambda args, out, s: 3.0 * abs(s),
            sample=(0.5, 2.5),
            sampled=(1,),
        ),
        Op(
            "neg", 1, "-", "__neg__",
            sympy=lambda a: -a,
            compose=lambda a: a * -1,
            rounding=lambda args, out: 0.0,
            slope_rounding=lambda args, out, s: 0.0,
        ),
    ]


OPS: dict[str, Op] = {op.name: op for op in _rows()}
#: Ops written as calls in a case source, by name.
FUNCTIONS: dict[str, Op] = {op.name: op for op in OPS.values() if op.is_function}
#: Binary operators of a case source by Python ``ast`` operator class name.
OPERATORS: dict[str, Op] = {
    "Add": OPS["add"], "Sub": OPS["sub"], "Mult": OPS["mul"], "Div": OPS["div"], "Pow": OPS["pow"],
}
