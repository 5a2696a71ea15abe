"""The bug catalog: each known bug is a variant of the reference engine, made by fault
injection from the op table (a row's local rule or forward replaced, a chain-rule step
that assigns instead of adding, a backward() that sorts the graph wrongly...).

Every :class:`Bug` has a stable code (``grad-overwrite:mul``), a one-line explanation for
a student, and the :class:`Faults` that turn the reference engine into it. Codes that only
the sandbox can observe (``timeout``, ``memory``, ``crash``) and ``unsupported:OP``
(found by capability probing) have no variant.

>>> bug = CATALOG["grad-overwrite:add"]
>>> V = bug.engine()
>>> n = V(4.0); (n + n).backward(); n.grad
1.0
>>> len([c for c in CATALOG if c.startswith("wrong-local:")]) >= 12
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from ..engine import Value, stepper, variant
from ..ops import OPS, Op

__all__ = ["CATALOG", "OP_NAMES", "Bug", "Faults"]

#: The ops a code may name.
OP_NAMES = (
    "add", "mul", "pow", "exp", "log", "tanh", "relu", "sigmoid", "sin", "cos", "gelu", "max",
    "div", "sub", "rsub", "rtruediv", "neg",
)
_PRIMITIVES = [op.name for op in OPS.values() if op.primitive]


@dataclass(frozen=True)
class Faults:
    """What a bug changes in the reference engine: op rows, chain-rule steps, methods."""

    rows: tuple[tuple[str, Op], ...] = ()
    steps: tuple[tuple[str, Callable[[Value], None]], ...] = ()
    methods: tuple[tuple[str, Any], ...] = ()

    def __add__(self, other: Faults) -> Faults:
        return Faults(self.rows + other.rows, self.steps + other.steps, self.methods + other.methods)

    def clashes(self, other: Faults) -> bool:
        """Two faults cannot be combined when they replace the same row, step or method,
        or when one replaces a step and the other that op's local rule (the step would
        drop the rule)."""
        def keys(f: Faults) -> set[tuple[str, str]]:
            changed_rules = {("step", k) for k, row in f.rows if row.local is not OPS[k].local}
            return ({("row", k) for k, _ in f.rows} | {("step", k) for k, _ in f.steps}
                    | {("method", k) for k, _ in f.methods} | changed_rules)

        return bool(keys(self) & keys(other))


@dataclass(frozen=True)
class Bug:
    """A catalog entry: a stable code, what it means for a student, and how to make it."""

    code: str
    explanation: str
    faults: Faults | None = None  #: None: observed by the sandbox or by probing, not simulated
    order_sensitive: bool = False  #: its result depends on the order backward() visits nodes
    note_only: bool = False  #: a semantics note, not a wrong gradient
    family: str = field(default="", compare=False)

    def engine(self, order_seed: int | None = None) -> type[Value]:
        """The variant engine; ``order_seed`` shuffles the order backward() visits operands."""
        assert self.faults is not None, f"{self.code} has no variant engine"
        return _engine(self.faults, order_seed)


# --------------------------------------------------------------------------- backward passes


def _operands(v: Value, rng: random.Random | None) -> list[Value]:
    """A node's distinct operands, as a student's ``set(_children)`` yields them: in an
    order that depends on object ids, here shuffled by ``rng``."""
    distinct = list({id(c): c for c in v._prev}.values())
    if rng is not None:
        rng.shuffle(distinct)
    return distinct


def _visit_order(root: Value, rng: random.Random | None, visited: bool = True) -> list[Value]:
    """A student-style depth-first topological order: operands visited as a set would
    yield them (each distinct operand once), in an order ``rng`` may shuffle. Without
    ``visited``, a node reachable by several paths is listed once per path."""
    order: list[Value] = []
    seen: set[int] = set()

    def children(v: Value) -> list[Value]:
        return _operands(v, rng)

    stack: list[tuple[Value, Any]] = [(root, iter(children(root)))]
    if visited:
        seen.add(id(root))
    while stack:
        node, it = stack[-1]
        for child in it:
            if visited:
                if id(child) in seen:
                    continue
                seen.add(id(child))
            stack.append((child, iter(children(child))))
            break
        else:
            stack.pop()
            order.append(node)
    return order


def _backward(*, seed: bool = True, reverse: bool = True, visited: bool = True, zero: bool = False,
              recursive: bool = False) -> Callable[[Value], None]:
    def backward(self: Value) -> None:
        rng = type(self)._order_rng  # type: ignore[attr-defined]
        if recursive:
            order: list[Value] = []

            def build(v: Value, done: set[int]) -> None:
                if id(v) not in done:
                    done.add(id(v))
                    for child in _operands(v, rng):
                        build(child, done)
                    order.append(v)

            build(self, set())
        else:
            order = _visit_order(self, rng, visited)
        if zero:
            for node in order:
                node.grad = 0.0
        if seed:
            self.grad = 1.0
        for node in reversed(order) if reverse else order:
            node._backward()

    return backward


@cache
def _engine(faults: Faults, order_seed: int | None) -> type[Value]:
    methods = dict(faults.methods)
    methods.setdefault("backward", _backward())
    cls = variant("Variant", rows=dict(faults.rows), steps=dict(faults.steps), methods=methods)
    cls._order_rng = random.Random(order_seed) if order_seed is not None else None  # type: ignore[attr-defined]
    return cls


# --------------------------------------------------------------------------- the catalog


def _row(name: str, **changes: Any) -> Faults:
    return Faults(rows=((name, replace(OPS[name], **changes)),))


def _primitive(name: str, forward: Callable[..., float], local: Callable[..., tuple[float, ...]]) -> Faults:
    """A composite (``/``, ``-``, negation) written as its own primitive with its own rule."""
    return _row(name, forward=forward, local=local, compose=None)


_WRONG_LOCAL: dict[str, tuple[Faults, str]] = {
    "mul": (_row("mul", local=lambda a, out: (a[0], a[1])), "the local derivatives of * are swapped: d(a*b)/da is b"),
    "pow": (_row("pow", local=lambda a, out: (a[1] * a[0] ** a[1],)),
            "the exponent is off by one in the derivative of **: d(x**k)/dx = k * x**(k-1)"),
    "exp": (_row("exp", local=lambda a, out: (a[0],)),
            "exp's derivative uses its input; d exp(x)/dx = exp(x), the output"),
    "log": (_row("log", local=lambda a, out: (1.0 / out if out else math.inf,)),
            "log's derivative divides by the output; d log(x)/dx = 1/x, the input"),
    "tanh": (_row("tanh", local=lambda a, out: (1.0 - a[0] ** 2,)),
             "tanh's derivative uses its input; d tanh(x)/dx = 1 - tanh(x)**2, the output squared"),
    "sigmoid": (_row("sigmoid", local=lambda a, out: (a[0] * (1.0 - a[0]),)),
                "sigmoid's derivative uses its input; it is s * (1 - s) with s the output"),
    "relu": (_row("relu", local=lambda a, out: (1.0 if a[0] <= 0 else 0.0,)),
             "relu passes the gradient on the wrong side: it flows where the input is positive"),
    "sin": (_row("sin", local=lambda a, out: (-math.cos(a[0]),)),
            "the sign of sin's derivative is wrong: it is +cos(x)"),
    "cos": (_row("cos", local=lambda a, out: (math.sin(a[0]),)),
            "the sign of cos's derivative is wrong: it is -sin(x)"),
    "gelu": (_row("gelu", local=lambda a, out: (0.5 * (1.0 + math.erf(a[0] / math.sqrt(2.0))),)),
             "gelu's derivative misses the x * pdf(x) term: it is Phi(x) + x * phi(x)"),
    "max": (_row("max", local=lambda a, out: (1.0, 1.0)),
            "max sends the gradient to both inputs; only the larger gets it"),
    "add": (_row("add", local=lambda a, out: (1.0, -1.0)), "+ passes a negated gradient to its second operand"),
    "div": (_primitive("div", lambda a, b: a / b, lambda a, out: (1.0 / a[1], a[0] / a[1] ** 2)),
            "the sign of d(a/b)/db is wrong: it is -a/b**2"),
    "sub": (_primitive("sub", lambda a, b: a - b, lambda a, out: (1.0, 1.0)),
            "the sign of d(a-b)/db is wrong: it is -1"),
    "neg": (_primitive("neg", lambda a: -a, lambda a, out: (1.0,)), "negation passes the gradient unchanged; it is -1"),
}

_WRONG_FORWARD: dict[str, tuple[Faults, str]] = {
    "rsub": (Faults(methods=(("__rsub__", lambda self, other: self + (-other)),)),
             "2 - v computes v - 2: __rsub__ has its operands the wrong way round"),
    "rtruediv": (Faults(methods=(("__rtruediv__", lambda self, other: self * (1.0 / other)),)),
                 "2 / v computes v / 2: __rtruediv__ has its operands the wrong way round"),
    "tanh": (_row("tanh", forward=lambda x: (math.exp(x) - 1) / (math.exp(x) + 1)),
             "tanh computes (e^x - 1)/(e^x + 1), which is tanh(x/2): the exponent must be 2x"),
    "sigmoid": (_row("sigmoid", forward=lambda x: 1.0 / (1.0 + math.exp(min(x, 700.0)))),
                "sigmoid computes 1/(1 + e^x): the sign of the exponent is wrong"),
    "gelu": (_row("gelu", forward=lambda x: 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
             "gelu uses the tanh approximation, not the exact x * Phi(x)"),
    "log": (_row("log", forward=math.log10), "log computes log10; the natural logarithm is meant"),
}

_NUMERICS: dict[str, tuple[Faults, str]] = {
    "sigmoid": (_row("sigmoid", forward=lambda x: 1.0 / (1.0 + math.exp(-x))),
                "sigmoid as 1/(1 + exp(-x)) overflows for large negative x; branch on the sign of x"),
    "tanh": (_row("tanh", forward=lambda x: (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)),
             "tanh via exp(2x) overflows for large x; use math.tanh"),
}


def _build_catalog() -> dict[str, Bug]:
    bugs: list[Bug] = [
        Bug("grad-overwrite", "= instead of += in every backward: a node used twice keeps only one path's gradient",
            Faults(steps=tuple((n, stepper(OPS[n], accumulate=False)) for n in _PRIMITIVES)), True, family="overwrite"),
        Bug("topo-revisit", "the topological sort has no visited set: a shared node runs its _backward once per path",
            Faults(methods=(("backward", _backward(visited=False)),)), True, family="order"),
        Bug("topo-order", "backward() runs the nodes in forward order: reverse the topological order",
            Faults(methods=(("backward", _backward(reverse=False)),)), family="order"),
        Bug("no-seed-grad", "backward() does not set the output's grad to 1 first",
            Faults(methods=(("backward", _backward(seed=False)),)), family="seed"),
        Bug("zeroes-on-backward", "backward() resets every grad first, so gradients do not accumulate across calls "
            "(micrograd and PyTorch accumulate): a semantics note, not a wrong gradient",
            Faults(methods=(("backward", _backward(zero=True)),)), note_only=True, family="seed"),
        Bug("recursion-limit", "the topological sort is recursive: graphs deeper than about 1,000 nodes fail; "
            "use an explicit stack", Faults(methods=(("backward", _backward(recursive=True)),)), family="order"),
        Bug("timeout", "the submission ran past its time limit (an infinite loop?)", family="sandbox"),
        Bug("memory", "the submission ran out of memory", family="sandbox"),
        Bug("crash", "the submission's process died (sys.exit, os._exit, a fatal error)", family="sandbox"),
    ]
    for name in _PRIMITIVES:
        op = OPS[name]
        bugs.append(Bug(f"grad-overwrite:{name}", f"= instead of += in the backward of {op.symbol}: a node it reads "
                        "twice, or that is also read elsewhere, keeps only one path's gradient",
                        Faults(steps=((name, stepper(op, accumulate=False)),)), True, family="overwrite"))
        bugs.append(Bug(f"missing-chain:{name}", f"the backward of {op.symbol} does not multiply its local derivative "
                        "by out.grad", Faults(steps=((name, stepper(op, chain=False)),)), family="chain"))
    for name, (faults, text) in _WRONG_LOCAL.items():
        bugs.append(Bug(f"wrong-local:{name}", text, faults, family="local"))
    for name, (faults, text) in _WRONG_FORWARD.items():
        bugs.append(Bug(f"forward:{name}", text, faults, family="forward"))
    for name, (faults, text) in _NUMERICS.items():
        bugs.append(Bug(f"numerics:{name}", text, faults, family="numerics"))
    for name in OP_NAMES:
        bugs.append(Bug(f"unsupported:{name}", f"the Value class has no {name}", family="unsupported"))
    return {b.code: b for b in bugs}


CATALOG: dict[str, Bug] = _build_catalog()
