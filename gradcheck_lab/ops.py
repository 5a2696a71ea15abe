"""The op table: one :class:`Op` row per operation, every fact about it written once.

>>> OPS["sin"].local((8.0,), 0.98935824662338), OPS["tanh"].formula
((-0.14550003380861354,), ('1 - out**2',))
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FUNCTIONS", "HELPERS", "OPERATORS", "OPS", "REFLECTED", "UNARY", "Op", "compile_local", "compile_rule",
           "display"]

_EXP_MAX = 709.0  # math.exp overflows just above 709.78


def _sympy() -> Any:
    import sympy  # deferred: the forward-only paths (engine, sandbox child) never need it

    return sympy


def _mpmath() -> Any:
    import mpmath  # deferred, as sympy (which brings it)

    return mpmath


def _is_integer(k: float) -> bool:
    return float(k).is_integer()


def _pow_domain(x: float, k: float) -> bool:
    if _is_integer(k):
        return k >= 0 or x != 0.0
    return x > 0.0


def _lost(divisor: float) -> float:
    """A divisor so large that ``b ** -1`` or ``b ** -2`` (micrograd's a * b**-1) leaves a
    float's normal range (float32's from 2**60): every digit may be lost, in units of u."""
    return 2.0**53 if abs(divisor) > 2.0**60 else 0.0


def _always(*_: float) -> bool:
    return True


#: Named helpers a rule may call, each a docstring and an expression over ``x``: every engine
#: and student file that calls one defines it, so ``gelu``'s rule reads ``Phi(a) + a * phi(a)``.
HELPERS: dict[str, tuple[str, str]] = {
    "Phi": ("The standard normal distribution function.", "0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))"),
    "phi": ("The standard normal density.", "math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)"),
}
#: What rule texts may use: math (a student file imports it too) and the helpers.
_NAMESPACE: dict[str, Any] = {"math": math}
_NAMESPACE |= {name: eval(f"lambda x: {text}", {"math": math}) for name, (_, text) in HELPERS.items()}


class _Shown(ast.NodeTransformer):
    """A rule's syntax tree as a student reads it (see :func:`display`)."""

    def __init__(self, params: tuple[str, ...]) -> None:
        self.params = params

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.params:
            return ast.Name(f"{{{self.params.index(node.id)}}}")
        return ast.Name("out") if node.id == "y" else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "math":
            return ast.Name(node.attr)
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        x = node.value
        return ast.Constant(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e15 else node


@functools.cache
def display(params: tuple[str, ...], text: str) -> str:
    """A rule text as a student reads it: operands as ``{0}``, ``{1}``, ``y`` as ``out``, ``math.`` dropped.

    >>> display(("a", "k"), "k * a ** (k - 1.0)"), display(("a",), "1.0 - y**2")
    ('{1} * {0}**({1} - 1)', '1 - out**2')
    """
    return ast.unparse(_Shown(params).visit(ast.parse(text, mode="eval"))).replace(" ** ", "**")


@functools.cache
def compile_rule(params: tuple[str, ...], text: str) -> Callable[..., Any]:
    """``text``, a Python expression over ``params``, as a function of them.

    >>> compile_rule(("a", "b"), "a * b")(3.0, 4.0)
    12.0
    """
    rule: Callable[..., Any] = eval(f"lambda {', '.join(params)}: {text}", dict(_NAMESPACE))
    return rule


@functools.cache
def compile_local(params: tuple[str, ...], texts: tuple[str, ...]) -> Callable[[tuple[float, ...], float], Any]:
    """Local-derivative texts (over ``params`` and ``y``, the output) as ``local(args, y)``.

    >>> compile_local(("a",), ("1.0 - y * y",))((0.5,), 0.5)
    (0.75,)
    """
    source = f"def local(args, y):\n    {', '.join(params)}, = args\n    return ({', '.join(texts)},)\n"
    namespace: dict[str, Any] = dict(_NAMESPACE)
    exec(source, namespace)
    local: Callable[[tuple[float, ...], float], Any] = namespace["local"]
    return local


@dataclass(frozen=True)
class Op:
    """One row of the op table: its rules are Python text over the operands, compiled once.

    ``forward_text`` is over ``a``, ``b`` (pow: ``a`` and the number ``k``); ``local_text``, d output
    / d each Value operand, also over ``y``, the output; it makes the engine, the student files and
    (by :func:`display`) the walk-through's ``formula``. ``rounding`` and ``slope_rounding`` are the
    error, in units of u, that a correct float64 forward and local derivative may commit.

    >>> OPS["pow"].local_text, OPS["pow"].formula, OPS["pow"].forward(2.0, 3)
    (('k * a ** (k - 1)',), ('{1} * {0}**({1} - 1)',), 8.0)
    """

    name: str
    arity: int
    symbol: str  #: how a case source writes it: "+", "**", "tanh", ...
    method: str  #: the Value method that implements it: "__add__", "tanh", ...
    sympy: Callable[..., Any]
    mpmath: Callable[..., Any]  #: the op in mpmath, written apart from ``sympy`` (the soundness oracle)
    rounding: Callable[[tuple[float, ...], float], float]
    slope_rounding: Callable[[tuple[float, ...], float, float], float]
    forward_text: str | None = None  #: primitives: the output, over the operands
    local_text: tuple[str, ...] = ()  #: primitives: d output / d operand, over the operands and y
    compose_text: str | None = None  #: composites: built from primitives, over self and other
    domain: Callable[..., bool] = _always
    domain_text: str = ""
    kink: Callable[..., float] | None = None  #: signed distance to a non-differentiable point
    pole: Callable[..., float | None] | None = None  #: signed distance to where the slope blows up (None: none)
    sample: tuple[float, float] = (-2.0, 2.0)  #: where random inputs for this op come from
    sampled: tuple[int, ...] = (0,)  #: which operands ``sample`` is for (div: the divisor)
    ast_node: str = ""  #: operators: the ``ast`` operator class a case source writes (``"Add"``, ``"USub"``)
    python: str = ""  #: operators: the :mod:`operator` function that writes it (``"add"``, ``"truediv"``)
    reflected: str = ""  #: binary operators: the reflected method (a number on the left), over self and other
    wrapped: str = ""  #: random programs: a template over the operands that keeps it inside its domain
    kink_text: str = ""  #: where its kink is, for reports ("relu at 0")
    number_operand: int | None = None  #: the operand that must be a number: pow's exponent 1, rpow's base 0
    forward: Callable[..., float] | None = field(init=False, compare=False, repr=False)
    local: Callable[[tuple[float, ...], float], tuple[float, ...]] | None = field(init=False, compare=False, repr=False)
    compose: Callable[..., Any] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        forward = compile_rule(self.params, self.forward_text) if self.forward_text else None
        local = compile_local(self.params, self.local_text) if self.local_text else None
        compose = compile_rule(("self", "other")[: self.arity], self.compose_text) if self.compose_text else None
        object.__setattr__(self, "forward", forward)
        object.__setattr__(self, "local", local)
        object.__setattr__(self, "compose", compose)

    @property
    def params(self) -> tuple[str, ...]:
        """The operands' names in the rule texts: ``("a", "b")``, pow ``("a", "k")``, rpow ``("k", "a")``."""
        if self.number_operand is not None:
            return ("k", "a") if self.number_operand == 0 else ("a", "k")
        return ("a", "b")[: self.arity]

    @property
    def formula(self) -> tuple[str, ...]:
        """The local rules as a student reads them (:func:`display`): ``("cos({0})",)``."""
        return tuple(display(self.params, text) for text in self.local_text)

    @property
    def constant_exponent(self) -> bool:
        """pow: ``x ** 3``, the exponent a number."""
        return self.number_operand == 1

    @property
    def constant_base(self) -> bool:
        """rpow: ``2 ** x``, the base a number (the Value's ``__rpow__``)."""
        return self.number_operand == 0

    @property
    def value_operands(self) -> tuple[int, ...]:
        """The operands that are Values (each has a local derivative): ``(0, 1)``, pow ``(0,)``, rpow ``(1,)``."""
        return tuple(i for i in range(self.arity) if i != self.number_operand)

    @property
    def primitive(self) -> bool:
        return self.forward_text is not None

    @property
    def reflected_method(self) -> str:
        """What Python calls with a number on the left: ``"__radd__"``; rpow is its own; "" for none."""
        if self.constant_base:
            return self.method
        return f"__r{self.method[2:]}" if self.reflected else ""

    @property
    def reflected_form(self) -> str:
        """The name of the form with a number on the left: ``"rsub"`` for ``2 - x``; "" for none."""
        return f"r{self.method[2:-2]}" if self.reflected else ""

    @property
    def names(self) -> tuple[str, ...]:
        """The names the bug catalog may give this row: its own, and its reflected form's (``rsub``)."""
        return (self.name, self.reflected_form) if self.reflected else (self.name,)

    @property
    def is_function(self) -> bool:
        """Written as a call (``tanh(x)`` / ``x.tanh()``), not an operator."""
        return self.symbol.isidentifier()


_SIGMOID = "1.0 / (1.0 + math.exp(-a)) if a >= 0.0 else math.exp(a) / (1.0 + math.exp(a))"  # never overflows


def _rows() -> list[Op]:
    sp, mp = _sympy, _mpmath
    return [
        Op(
            "add", 2, "+", "__add__", ast_node="Add", python="add", reflected="self + other",
            sympy=lambda a, b: a + b,
            mpmath=lambda a, b: a + b,
            forward_text="a + b",
            local_text=("1.0", "1.0"),
            rounding=lambda args, out: abs(out),
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "mul", 2, "*", "__mul__", ast_node="Mult", python="mul", reflected="self * other",
            sympy=lambda a, b: a * b,
            mpmath=lambda a, b: a * b,
            forward_text="a * b",
            local_text=("b", "a"),
            rounding=lambda args, out: abs(out),
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "pow", 2, "**", "__pow__", ast_node="Pow", python="pow",
            sympy=lambda x, k: x**k,
            mpmath=lambda a, k: mp().power(a, k),
            forward_text="a ** k",
            local_text=("k * a ** (k - 1)",),
            domain=_pow_domain,
            pole=lambda a, k: None if _is_integer(k) and k >= 0 else a,
            domain_text="a non-integer power needs a positive base; a negative one a nonzero base",
            rounding=lambda args, out: abs(out) * (2.0 + abs(args[1] * math.log(abs(args[0]) or 1.0))),
            slope_rounding=lambda args, out, s: abs(s)
            * (3.0 + abs((args[1] - 1) * math.log(abs(args[0]) or 1.0))),
            sample=(0.5, 2.5),
            number_operand=1,
        ),
        Op(
            "rpow", 2, "**", "__rpow__", ast_node="Pow", python="pow",
            sympy=lambda c, x: c**x,
            mpmath=lambda c, a: mp().power(c, a),
            forward_text="k ** a",
            local_text=("y * math.log(k)",),
            domain=lambda c, x: c > 0.0 and x * math.log(c) <= _EXP_MAX,
            domain_text=f"a number ** x needs a positive base, and overflows a float when x * log(base) > {_EXP_MAX}",
            rounding=lambda args, out: abs(out) * (2.0 + abs(args[1] * math.log(args[0]))),
            slope_rounding=lambda args, out, s: abs(s) * (3.0 + abs(args[1] * math.log(args[0]))),
            sampled=(1,),
            number_operand=0,
            wrapped="2 ** sin({0})",
        ),
        Op(
            "exp", 1, "exp", "exp",
            sympy=lambda x: sp().exp(x),
            mpmath=lambda x: mp().exp(x),
            forward_text="math.exp(a)",
            local_text=("y",),
            domain=lambda x: x <= _EXP_MAX,
            domain_text=f"exp overflows a float above {_EXP_MAX}",
            wrapped="exp(sin({0}))",
            rounding=lambda args, out: abs(out) * (2.0 + abs(args[0])),
            slope_rounding=lambda args, out, s: abs(s) * (2.0 + abs(args[0])),
        ),
        Op(
            "log", 1, "log", "log",
            sympy=lambda x: sp().log(x),
            mpmath=lambda x: mp().log(x),
            forward_text="math.log(a)",
            local_text=("1.0 / a",),
            domain=lambda x: x > 0.0,
            domain_text="log needs a positive argument",
            wrapped="log(1 + ({0})**2)",
            pole=lambda a: a,
            rounding=lambda args, out: abs(out) + 2.0,
            slope_rounding=lambda args, out, s: 2.0 * abs(s),
            sample=(0.25, 3.0),
        ),
        Op(
            "sin", 1, "sin", "sin",
            sympy=lambda x: sp().sin(x),
            mpmath=lambda x: mp().sin(x),
            forward_text="math.sin(a)",
            local_text=("math.cos(a)",),
            rounding=lambda args, out: abs(out) + 2.0,
            slope_rounding=lambda args, out, s: abs(s) + 2.0,
            sample=(-3.0, 3.0),
        ),
        Op(
            "cos", 1, "cos", "cos",
            sympy=lambda x: sp().cos(x),
            mpmath=lambda x: mp().cos(x),
            forward_text="math.cos(a)",
            local_text=("-math.sin(a)",),
            rounding=lambda args, out: abs(out) + 2.0,
            slope_rounding=lambda args, out, s: abs(s) + 2.0,
            sample=(-3.0, 3.0),
        ),
        Op(
            "tanh", 1, "tanh", "tanh",
            sympy=lambda x: sp().tanh(x),
            mpmath=lambda x: mp().tanh(x),
            forward_text="math.tanh(a)",
            local_text=("1.0 - y**2",),
            rounding=lambda args, out: abs(out) + 4.0,
            slope_rounding=lambda args, out, s: abs(s) + 10.0,
            sample=(-2.5, 2.5),
        ),
        Op(
            "relu", 1, "relu", "relu",
            sympy=lambda x: sp().Max(0, x),
            mpmath=lambda a: a if a > 0 else mp().mpf(0),
            forward_text="a if a > 0.0 else 0.0",
            local_text=("1.0 if a > 0.0 else 0.0",),
            kink=lambda x: x,
            kink_text="relu at 0",
            rounding=lambda args, out: 0.0,
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "abs", 1, "abs", "__abs__",
            sympy=lambda x: sp().Abs(x),
            mpmath=lambda x: mp().fabs(x),
            forward_text="a if a >= 0.0 else -a",
            local_text=("1.0 if a > 0.0 else -1.0",),
            kink=lambda x: x,
            kink_text="abs at 0",
            rounding=lambda args, out: 0.0,
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "sigmoid", 1, "sigmoid", "sigmoid",
            sympy=lambda x: 1 / (1 + sp().exp(-x)),
            mpmath=lambda a: 1 / (1 + mp().exp(-a)),
            forward_text=_SIGMOID,
            local_text=("y * (1.0 - y)",),
            rounding=lambda args, out: abs(out) + 4.0,
            slope_rounding=lambda args, out, s: abs(s) + 10.0,
            sample=(-4.0, 4.0),
        ),
        Op(
            "gelu", 1, "gelu", "gelu",
            sympy=lambda x: x * (1 + sp().erf(x / sp().sqrt(2))) / 2,
            mpmath=lambda a: a * (1 + mp().erf(a / mp().sqrt(2))) / 2,
            forward_text="a * Phi(a)",
            local_text=("Phi(a) + a * phi(a)",),
            rounding=lambda args, out: 2.0 * abs(out) + 4.0 * (1.0 + abs(args[0])),
            slope_rounding=lambda args, out, s: abs(s) + 4.0 * (1.0 + abs(args[0])),
            sample=(-3.0, 3.0),
        ),
        Op(
            "max", 2, "max", "max",
            sympy=lambda a, b: sp().Max(a, b),
            mpmath=lambda a, b: a if a >= b else b,
            forward_text="a if a >= b else b",
            local_text=("1.0 if a >= b else 0.0", "0.0 if a >= b else 1.0"),
            kink=lambda a, b: a - b,
            kink_text="max at a tie",
            rounding=lambda args, out: 0.0,
            slope_rounding=lambda args, out, s: 0.0,
        ),
        # Composites: micrograd builds these from the primitives above.
        Op(
            "sub", 2, "-", "__sub__", ast_node="Sub", python="sub", reflected="other + (-self)",
            sympy=lambda a, b: a - b,
            mpmath=lambda a, b: a - b,
            compose_text="self + (-other)",
            rounding=lambda args, out: abs(out),
            slope_rounding=lambda args, out, s: 0.0,
        ),
        Op(
            "div", 2, "/", "__truediv__", ast_node="Div", python="truediv",
            reflected="other * self ** -1", wrapped="({0}) / (1 + ({1})**2)",
            sympy=lambda a, b: a / b,
            mpmath=lambda a, b: a / b,
            compose_text="self * other ** -1",
            domain=lambda a, b: abs(b) >= 2.0**-1022,
            domain_text="division by zero (or by a number below 2**-1022, whose b ** -1 overflows)",
            pole=lambda a, b: b,
            rounding=lambda args, out: abs(out) * (2.0 + _lost(args[1])),
            slope_rounding=lambda args, out, s: abs(s) * (3.0 + _lost(args[1])),
            sample=(0.5, 2.5),
            sampled=(1,),
        ),
        Op(
            "neg", 1, "-", "__neg__", ast_node="USub", python="neg",
            sympy=lambda a: -a,
            mpmath=lambda a: -a,
            compose_text="self * -1",
            rounding=lambda args, out: 0.0,
            slope_rounding=lambda args, out, s: 0.0,
        ),
    ]


OPS: dict[str, Op] = {op.name: op for op in _rows()}
#: Ops written as calls in a case source, by name.
FUNCTIONS: dict[str, Op] = {op.name: op for op in OPS.values() if op.is_function}
#: Binary operators of a case source by Python ``ast`` operator class name (``Pow``: pow;
#: the parser turns a number base into rpow).
OPERATORS: dict[str, Op] = {}
for _op in OPS.values():
    if _op.ast_node and _op.arity == 2:
        OPERATORS.setdefault(_op.ast_node, _op)
#: Unary operators of a case source by ``ast`` operator class name (``USub``: neg).
UNARY: dict[str, Op] = {op.ast_node: op for op in OPS.values() if op.ast_node and op.arity == 1}
#: The reflected operators (a constant on the left, ``2 - v``), as micrograd writes them.
REFLECTED: dict[str, str] = {op.reflected_method: op.reflected for op in OPS.values() if op.reflected}
