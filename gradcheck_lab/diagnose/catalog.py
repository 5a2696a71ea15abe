"""The bug catalog: each known bug is a variant of the reference engine, made by fault
injection from the op table (a row's local rule or forward replaced, a chain-rule step
that assigns instead of adding, a backward() that sorts the graph wrongly...).

Every :class:`Bug` has a stable code (``grad-overwrite:mul``), a one-line explanation for
a student, and the :class:`Faults` that turn the reference engine into it. Codes that only
the sandbox can observe (``timeout``, ``memory``, ``crash``) and ``unsupported:OP``
(found by capability probing) have no prediction. Every code, those included, can be
written out as an ordinary student file (:meth:`Bug.source`): a variant's engine is that
file's text run in process.

>>> bug = CATALOG["grad-overwrite:add"]
>>> V = bug.engine()
>>> n = V(4.0); (n + n).backward(); n.grad
1.0
>>> len([c for c in CATALOG if c.startswith("wrong-local:")]) >= 12
True
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from ..ops import OPS, REFLECTED
from .faults import Backward, Faults, Init, Node, Step, compile_engine, student_source
from .probes import FORMS

__all__ = ["CATALOG", "CLASSIFIED", "OP_NAMES", "Bug", "Effect", "Faults", "faults_of", "form_method",
           "submission_file", "submission_source"]

#: The operator forms a code may name: every form a probe isolates (``radd`` is ``2 + x``).
OP_NAMES = FORMS
_PRIMITIVES = [op.name for op in OPS.values() if op.primitive]
#: Families named from what the probes raise or return, not from predicted numbers.
CLASSIFIED = frozenset({"raises", "returns", "coerce", "init", "sandbox", "unsupported", "detached", "environment",
                        "gradtype"})


class Effect(enum.Enum):
    """What a bug does to a submission: the typed vocabulary grading maps to verdicts and costs.

    >>> CATALOG["grad-overwrite:add"].effect, CATALOG["recursion-limit"].effect
    (<Effect.WRONG: 'wrong'>, <Effect.WARNING: 'warning'>)
    """

    WRONG = "wrong"  #: a wrong value or gradient (or a broken contract, such as an unseeded output grad)
    MISSING = "missing"  #: an operator form is absent
    WARNING = "warning"  #: worth knowing, not wrong: deep graphs fail, extreme inputs overflow, grads reset
    INCIDENT = "incident"  #: the process itself failed: crash, timeout, memory


#: A number beside a Value not made a Value is a missing capability, as a missing ``__radd__`` is.
_EFFECT_OF_FAMILY = {"unsupported": Effect.MISSING, "coerce": Effect.MISSING, "environment": Effect.MISSING,
                     "sandbox": Effect.INCIDENT, "numerics": Effect.WARNING}
_WARNINGS = frozenset({"recursion-limit", "zeroes-on-backward"})
_NO_WRONG_NUMBER = frozenset({"raises", "returns", "coerce", "unsupported", "sandbox", "numerics", "environment"})


@dataclass(frozen=True)
class Bug:
    """A catalog entry: a stable code, what it means for a student, and how to make it."""

    code: str
    explanation: str
    faults: Faults | None = None  #: None: observed by the sandbox or by probing, not simulated
    order_sensitive: bool = False  #: its result depends on the order backward() visits nodes
    family: str = field(default="", compare=False)
    alternatives: tuple[Faults, ...] = field(default=(), compare=False)  #: other ways students write it

    @property
    def effect(self) -> Effect:
        """What this bug does to a submission (grading's default cost follows it)."""
        if self.code in _WARNINGS:
            return Effect.WARNING
        return _EFFECT_OF_FAMILY.get(self.family, Effect.WRONG)

    @property
    def wrong_number(self) -> bool:
        """A small program shows this bug as a wrong value or gradient (its counterexample);
        not a bug that raises, a missing op, a note, a deep graph or an unseeded output grad.

        >>> CATALOG["wrong-local:exp"].wrong_number, CATALOG["raises:log"].wrong_number
        (True, False)
        """
        return (self.faults is not None and self.family not in _NO_WRONG_NUMBER
                and self.code not in ("constructor-float", "grad-none", "no-seed-grad", "zeroes-on-backward",
                                      "recursion-limit"))

    def engine(self, order_seed: int | None = None) -> type[Any]:
        """The variant engine (its student file, run here); ``order_seed`` shuffles the order
        in which each node's operands are visited, as a set of Values would."""
        assert self.faults is not None, f"{self.code} has no variant engine"
        return compile_engine(self.faults, order_seed)

    def source(self) -> str:
        """This bug written out as an ordinary student file, every code included: a missing
        method for ``unsupported:OP``, an endless loop for ``timeout``...

        >>> "def tanh" in CATALOG["unsupported:tanh"].source()
        False
        """
        return submission_source([self.code])


#: What the sandbox-only codes do first thing in backward().
_HOSTILE = {"timeout": "while True:\n    pass", "memory": "hoard = bytearray(2**40)",
            "crash": "import os\nos._exit(70)"}


def faults_of(codes: Iterable[str]) -> Faults | None:
    """The faults of the bugs ``codes`` together, summed in catalog order (one sum per set of
    codes); None if one of them has no engine.

    >>> faults_of(["timeout"]) is None, len(faults_of(["grad-overwrite:add", "topo-order"]).steps)
    (True, 1)
    """
    wanted = set(codes)
    bugs = [b for b in CATALOG.values() if b.code in wanted]
    if any(b.faults is None for b in bugs):
        return None
    return sum((b.faults for b in bugs if b.faults is not None), Faults())


def submission_file(codes: Sequence[str]) -> str:
    """The file name a set of bugs is written out as: ``grad-overwrite_add__topo-order.py``."""
    return f"{'__'.join(c.replace(':', '_') for c in codes) or 'correct'}.py"


def submission_source(codes: Sequence[str]) -> str:
    """A student file with every bug of ``codes`` (none: a correct engine).

    >>> source = submission_source(["grad-overwrite:add", "wrong-local:tanh"])
    >>> "self.grad = 1.0 * out.grad" in source and "(1.0 - a ** 2) * out.grad" in source
    True
    """
    faults = sum((CATALOG[c].faults or _unsimulated(c) for c in codes), Faults())
    bugs = "".join(f"\n\n{c}: {CATALOG[c].explanation}." for c in codes) or "\n\nNo known bug."
    return student_source(faults, f"A micrograd-style Value class.{bugs}\n\nWritten out by gradcheck_lab "
                                  "from its op table and bug catalog.")


def _unsimulated(code: str) -> Faults:
    """The faults of a code with no prediction: a missing method, or a hostile backward()."""
    if code in _HOSTILE:
        return Faults(backward=Backward(hostile=_HOSTILE[code]))
    if code == "needs-module":  # numpy's tanh, where no numpy is installed (a module no grader has)
        return _row("tanh", forward_text='__import__("numpy_not_installed_here").tanh(a)')
    return Faults(methods=((form_method(code.removeprefix("unsupported:")), None),))


def form_method(form: str) -> str:
    """The method that implements an operator form: ``__radd__`` for ``radd``, ``exp`` for exp."""
    return OPS[form].method if form in OPS else f"__{form}__"


# --------------------------------------------------------------------------- the catalog


def _row(name: str, **texts: Any) -> Faults:
    return Faults(rows=((name, replace(OPS[name], **texts)),))


def _primitive(name: str, forward: str, local: tuple[str, ...]) -> Faults:
    """A composite (``/``, ``-``, negation) written as its own primitive with its own rule."""
    return _row(name, forward_text=forward, local_text=local, compose_text=None)


_WRONG_LOCAL: dict[str, tuple[Faults, str]] = {
    "mul": (_row("mul", local_text=("a", "b")), "the local derivatives of * are swapped: d(a*b)/da is b"),
    "pow": (_row("pow", local_text=("k * a ** k",)),
            "the exponent is off by one in the derivative of **: d(x**k)/dx = k * x**(k-1)"),
    "exp": (_row("exp", local_text=("a",)), "exp's derivative uses its input; d exp(x)/dx = exp(x), the output"),
    "log": (_row("log", local_text=("1.0 / y if y else math.inf",)),
            "log's derivative divides by the output; d log(x)/dx = 1/x, the input"),
    "tanh": (_row("tanh", local_text=("1.0 - a ** 2",)),
             "tanh's derivative uses its input; d tanh(x)/dx = 1 - tanh(x)**2, the output squared"),
    "sigmoid": (_row("sigmoid", local_text=("a * (1.0 - a)",)),
                "sigmoid's derivative uses its input; it is s * (1 - s) with s the output"),
    "relu": (_row("relu", local_text=("1.0 if a <= 0 else 0.0",)),
             "relu passes the gradient on the wrong side: it flows where the input is positive"),
    "sin": (_row("sin", local_text=("-math.cos(a)",)), "the sign of sin's derivative is wrong: it is +cos(x)"),
    "cos": (_row("cos", local_text=("math.sin(a)",)), "the sign of cos's derivative is wrong: it is -sin(x)"),
    "gelu": (_row("gelu", local_text=("Phi(a)",)),
             "gelu's derivative misses the x * pdf(x) term: it is Phi(x) + x * phi(x)"),
    "max": (_row("max", local_text=("1.0", "1.0")), "max sends the gradient to both inputs; only the larger gets it"),
    "add": (_row("add", local_text=("1.0", "-1.0")), "+ passes a negated gradient to its second operand"),
    "div": (_primitive("div", "a / b", ("1.0 / b", "a / b ** 2")), "the sign of d(a/b)/db is wrong: it is -a/b**2"),
    "sub": (_primitive("sub", "a - b", ("1.0", "1.0")), "the sign of d(a-b)/db is wrong: it is -1"),
    "neg": (_primitive("neg", "-a", ("1.0",)), "negation passes the gradient unchanged; it is -1"),
}

_WRONG_FORWARD: dict[str, tuple[Faults, str]] = {
    "rsub": (Faults(methods=(("__rsub__", "self + (-other)"),)),
             "2 - v computes v - 2: __rsub__ has its operands the wrong way round"),
    "rtruediv": (Faults(methods=(("__rtruediv__", "self * (1.0 / other)"),)),
                 "2 / v computes v / 2: __rtruediv__ has its operands the wrong way round"),
    "tanh": (_row("tanh", forward_text="(math.exp(a) - 1) / (math.exp(a) + 1)"),
             "tanh computes (e^x - 1)/(e^x + 1), which is tanh(x/2): the exponent must be 2x"),
    "sigmoid": (_row("sigmoid", forward_text="1.0 / (1.0 + math.exp(min(a, 700.0)))"),
                "sigmoid computes 1/(1 + e^x): the sign of the exponent is wrong"),
    "gelu": (_row("gelu", forward_text="0.5 * a * (1 + math.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))"),
             "gelu uses the tanh approximation, not the exact x * Phi(x)"),
    "log": (_row("log", forward_text="math.log10(a)"), "log computes log10; the natural logarithm is meant"),
}


def _node(method: str, forward: str, local: str) -> Faults:
    return Faults(nodes=(Node(method, forward, local),))


_WRONG_LOCAL |= {
    "radd": (_node("__radd__", "a + b", "-1.0"), "2 + v written as its own node passes a negated gradient"),
    "rmul": (_node("__rmul__", "a * b", "a"),
             "2 * v written as its own node multiplies the gradient by v, not by the number 2"),
    "rsub": (_node("__rsub__", "b - a", "1.0"), "the sign of d(2 - v)/dv is wrong: it is -1"),
    "rtruediv": (_node("__rtruediv__", "b / a", "b / a ** 2"), "the sign of d(2 / v)/dv is wrong: it is -2/v**2"),
}

_WRONG_LOCAL["rpow"] = (_row("rpow", local_text=("a * k ** (a - 1)",)),
                        "2 ** v's derivative uses the power rule; d(c**v)/dv = c**v * log(c)")

@cache
def _own_node(name: str) -> tuple[str, tuple[str, ...]]:
    """A composite op (``-``, ``/``, negation) or a reflected form (``rsub``: ``2 - v``) as students
    often write it, a node of its own: its forward and local rules as Python text over ``a`` (a
    reflected form: self's number) and ``b`` (its number), from the row's SymPy form.

    >>> _own_node("div"), _own_node("rsub")
    (('a/b', ('1/b', '-a/b**2')), ('-a + b', ('-1',)))
    """
    import sympy  # deferred: the catalog's own-node bugs need it, the rest of the package does not

    a, b = sympy.symbols("a b")
    if name in OPS:
        symbols = (a, b)[: OPS[name].arity]
        f = OPS[name].sympy(*symbols)
    else:
        symbols, f = (a,), next(op for op in OPS.values() if op.reflected_form == name).sympy(b, a)
    return sympy.pycode(f), tuple(sympy.pycode(sympy.diff(f, s)) for s in symbols)


#: sub and div written as nodes of their own, with the right rules.
_PRIMITIVE_ROWS = {name: _primitive(name, *_own_node(name)) for name in ("sub", "div")}

_WRONG_LOCAL["abs"] = (_row("abs", local_text=("-1.0 if a > 0.0 else 1.0",)),
                       "the sign of abs's derivative is flipped: it is +1 for a positive input")

_WRONG_FORWARD |= {
    "abs": (_row("abs", forward_text="-a if a >= 0.0 else a"), "abs computes -|x|"),
    "rpow": (_row("rpow", forward_text="a ** k"), "2 ** v computes v ** 2: __rpow__ returns self ** other"),
    "add": (_row("add", forward_text="a - b"), "+ computes a - b"),
    "radd": (_node("__radd__", "a - b", "1.0"), "2 + v computes v - 2"),
    "mul": (_row("mul", forward_text="a + b"), "* computes a + b"),
    "rmul": (_node("__rmul__", "a ** b", "b"), "2 * v computes v ** 2"),
    "pow": (_row("pow", forward_text="k ** a"), "x ** k computes k ** x: the operands are the wrong way round"),
    "exp": (_row("exp", forward_text="math.e * a"), "exp(x) computes e * x"),
    "sin": (_row("sin", forward_text="math.cos(a)"), "sin computes cos"),
    "cos": (_row("cos", forward_text="math.sin(a)"), "cos computes sin"),
    "relu": (_row("relu", forward_text="a if a < 0.0 else 0.0"), "relu keeps the negative side: it is max(x, 0)"),
    "max": (_row("max", forward_text="a if a <= b else b"), "max computes the smaller of its inputs"),
    "sub": (_primitive("sub", "b - a", ("1.0", "-1.0")), "a - b computes b - a"),
    "div": (_primitive("div", "b / a", ("1.0 / b", "-a / b ** 2")), "a / b computes b / a"),
    "neg": (_primitive("neg", "a", ("-1.0",)), "-v computes v: the sign is lost"),
}


def _raises(form: str) -> Faults:
    """An operator form that raises: a function called bare, as if imported from math (a
    NameError), a TypeError in the backward of a binary primitive, a typo in a composed form."""
    op = OPS.get(form)
    if op is not None and op.primitive and op.is_function:
        bare = {"max": "maximum", "abs": "fabs"}.get(form, form)  # max and abs are builtins: never a NameError
        return _row(form, forward_text=f"{bare}(a{', b' if op.arity == 2 else ''})")
    if op is not None and op.primitive:
        return _row(form, local_text=tuple(f"[{t}]" if k == len(op.local_text) - 1 else t
                                           for k, t in enumerate(op.local_text)))
    text = op.compose_text if op is not None and op.compose_text else REFLECTED[form_method(form)]
    *_, last = re.finditer(r"\b(self|other)\b", text)  # its last operand misspelled: a NameError
    typo = {"self": "slef", "other": "othr"}[last.group()]
    return Faults(methods=((form_method(form), text[: last.start()] + typo + text[last.end():]),))


def _grad_value(form: str) -> Faults:
    """A local rule that makes a Value, so the grad it adds to becomes one (``Value(b)``)."""
    op = OPS.get(form)
    if op is not None and op.primitive:
        return _row(form, local_text=tuple(f"Value({t})" for t in op.local_text))
    forward, local = _own_node(form)  # a composite or a reflected form written as a node of its own
    if form not in OPS:
        return _node(form_method(form), forward, f"Value({local[0]})")
    return _primitive(form, forward, tuple(f"Value({t})" for t in local))


_NUMERICS: dict[str, tuple[Faults, str]] = {
    "sigmoid": (_row("sigmoid", forward_text="1.0 / (1.0 + math.exp(-a))"),
                "sigmoid as 1/(1 + exp(-x)) overflows for large negative x; branch on the sign of x"),
    "tanh": (_row("tanh", forward_text="(math.exp(2 * a) - 1) / (math.exp(2 * a) + 1)"),
             "tanh via exp(2x) overflows for large x; use math.tanh"),
}


def _build_catalog() -> dict[str, Bug]:
    bugs: list[Bug] = [
        Bug("grad-overwrite", "= instead of += in every backward: a node used twice keeps only one path's gradient",
            Faults(steps=tuple((n, Step(accumulate=False)) for n in _PRIMITIVES)), True, family="overwrite"),
        Bug("topo-revisit", "the topological sort has no visited set: a shared node runs its _backward once per path",
            Faults(backward=Backward(visited=False)), True, family="order"),
        Bug("topo-order", "backward() runs the nodes in forward order, or lists a node before its inputs: run "
            "a node only after every node that reads it (reverse a post-order sort)",
            Faults(backward=Backward(reverse=False)), family="order",
            alternatives=(Faults(backward=Backward(reverse=False, preorder=True)),)),
        Bug("no-graph-walk", "backward() runs only the output's own _backward: the gradient goes one level down; "
            "walk every node in reverse topological order", Faults(backward=Backward(walk=False)), family="order"),
        Bug("no-seed-grad", "backward() does not set the output's grad to 1 first",
            Faults(backward=Backward(seed=False)), family="seed"),
        Bug("zeroes-on-backward", "backward() resets every grad first, so gradients do not accumulate across calls "
            "(micrograd and PyTorch accumulate): a semantics note, not a wrong gradient",
            Faults(backward=Backward(zero=True)), family="seed"),
        Bug("recursion-limit", "the topological sort is recursive: graphs deeper than about 1,000 nodes fail; "
            "use an explicit stack", Faults(backward=Backward(recursive=True)), family="order"),
        Bug("needs-module", "a module the engine uses (numpy...) is not installed in the grading environment: the "
            "forms that use it cannot be graded here (see the evidence for the line); use math, or ask for it",
            family="environment"),
        Bug("timeout", "the submission ran past its time limit (an infinite loop?)", family="sandbox"),
        Bug("memory", "the submission ran out of memory", family="sandbox"),
        Bug("crash", "the submission's process died (sys.exit, os._exit, a fatal error)", family="sandbox"),
    ]
    for name in _PRIMITIVES:
        op = OPS[name]
        bugs.append(Bug(f"grad-overwrite:{name}", f"= instead of += in the backward of {op.symbol}: a node it reads "
                        "twice, or that is also read elsewhere, keeps only one path's gradient",
                        Faults(steps=((name, Step(accumulate=False)),)), True, family="overwrite"))
        bugs.append(Bug(f"missing-chain:{name}", f"the backward of {op.symbol} does not multiply its local derivative "
                        "by out.grad", Faults(steps=((name, Step(chain=False)),)), family="chain"))
    for name in ("sub", "div"):  # written as a node of its own, with = in its backward
        row = _PRIMITIVE_ROWS[name]
        bugs.append(Bug(f"grad-overwrite:{name}", f"{OPS[name].symbol} is a node of its own whose backward uses = "
                        "instead of +=: an input also read elsewhere keeps only one path's gradient",
                        row + Faults(steps=((name, Step(accumulate=False)),)), True, family="overwrite"))
    for name, (faults, text) in _WRONG_LOCAL.items():
        bugs.append(Bug(f"wrong-local:{name}", text, faults, family="local"))
    for name, (faults, text) in _WRONG_FORWARD.items():
        bugs.append(Bug(f"forward:{name}", text, faults, family="forward"))
    for name, (faults, text) in _NUMERICS.items():
        bugs.append(Bug(f"numerics:{name}", text, faults, family="numerics"))
    for name in OP_NAMES:
        bugs.append(Bug(f"raises:{name}", f"{name} raises an exception (a missing import, a typo, a TypeError in "
                        "its backward): see the evidence for the error and its line", _raises(name), family="raises"))
    for name in OP_NAMES:
        bugs.append(Bug(f"not-a-value:{name}", f"{name} returns None or a number, not a Value (a missing return?)",
                        Faults(silent=(form_method(name),)), family="returns"))
    bugs += [
        Bug("no-coerce:right", "a number on the right of an operator is not made a Value: x + 2 fails",
            Faults(coerce=False), family="coerce"),
        Bug("no-coerce:left", "a number on the left of an operator is not made a Value: 2 + v fails, or calls "
            "itself forever (write __radd__ as self + other)",
            Faults(methods=(("__radd__", "Value.__add__(other, self)"), ("__rmul__", "Value.__mul__(other, self)"))),
            family="coerce"),
        Bug("constructor-float", "Value(0.6) fails: the constructor must accept a float",
            Faults(init=Init(guard='assert isinstance(data, int), "data must be an int"')), family="init"),
        Bug("grad-none", "the grad starts as None, so the first += in a backward fails: start it at 0.0",
            Faults(init=Init(grad="None")), family="init"),
        Bug("data-attribute", "the number is not kept in .data (micrograd's name), so nothing can read it",
            Faults(init=Init(data="value")), family="init"),
        Bug("backward-noop", "backward() changes nothing: no node's _backward runs, not even the output's seed",
            Faults(backward=Backward(seed=False, run=False)), family="seed"),
        Bug("opt-in-grad", "backward() seeds the output but no gradient flows to the inputs: gradients are opt-in "
            "(requires_grad is False by default), or no node's _backward runs",
            Faults(backward=Backward(run=False)), family="order"),
        Bug("children-by-value", "a node keeps its inputs by value (equal numbers count once): exp(x) + exp(x) "
            "gets half its gradient; keep every input Value, compared by identity",
            Faults(init=Init(prev="list({c.data: c for c in _children}.values())")), family="order"),
        Bug("backward-raises", "backward() itself raises, whatever the graph: see the evidence for the error "
            "and its line", Faults(backward=Backward(hostile="self.grad = math.one")), family="raises"),
    ]
    for name in OP_NAMES:
        bugs.append(Bug(f"no-backward:{name}", f"{name} records no way back (no _backward, or no inputs): the "
                        "gradient stops there and its inputs get 0", Faults(detached=(form_method(name),)),
                        family="detached"))
    for name in OP_NAMES:
        bugs.append(Bug(f"grad-not-number:{name}", f"the backward of {name} stores a Value (or another non-number) "
                        "in its input's .grad: keep grads plain numbers (use .data)", _grad_value(name),
                        family="gradtype"))
    for name in OP_NAMES:
        bugs.append(Bug(f"unsupported:{name}", f"the Value class has no {name}", family="unsupported"))
    return {b.code: b for b in bugs}


CATALOG: dict[str, Bug] = _build_catalog()
