"""What a bug changes in a correct engine, and the ordinary student file it makes.

A :class:`Faults` value is data: op rows with other rule texts, chain-rule steps that
assign instead of adding or drop ``out.grad``, methods written otherwise or missing, a
``backward()`` that sorts the graph wrongly. :func:`student_source` writes it out as a
micrograd-style ``Value`` class, from the op table's rule texts
(:mod:`gradcheck_lab.ops`): the file a student with that bug would hand in.
:func:`compile_engine` runs that same text in process, so what the catalog predicts a
bug does is what its file does.

>>> faults = Faults(steps=(("mul", Step(accumulate=False)),))
>>> "self.grad = b * out.grad" in student_source(faults)
True
>>> V = compile_engine(faults)
>>> x = V(3.0); (x * x).backward(); x.grad
3.0
"""

from __future__ import annotations

import ast
import random
import textwrap
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..ops import OPS, REFLECTED, Op

__all__ = ["Backward", "Faults", "Step", "compile_engine", "student_source"]


@dataclass(frozen=True)
class Step:
    """How a chain-rule step updates an operand's grad: ``+=`` or ``=``, times ``out.grad`` or not."""

    accumulate: bool = True
    chain: bool = True


@dataclass(frozen=True)
class Backward:
    """How ``backward()`` orders the graph and seeds it."""

    seed: bool = True  #: set the output's grad to 1 first
    reverse: bool = True  #: run the nodes output first
    visited: bool = True  #: list a node reached by several paths once
    zero: bool = False  #: reset every grad first
    recursive: bool = False  #: sort by recursion, as micrograd does (fails past ~1,000 deep)
    hostile: str = ""  #: lines run first: an endless loop, a memory hog, an exit


@dataclass(frozen=True)
class Faults:
    """What a bug changes: op rows (other rule texts), steps, methods (text over ``self``
    and ``other``; None: missing) and ``backward()``."""

    rows: tuple[tuple[str, Op], ...] = ()
    steps: tuple[tuple[str, Step], ...] = ()
    methods: tuple[tuple[str, str | None], ...] = ()
    backward: Backward | None = None

    def __add__(self, other: Faults) -> Faults:
        if self.backward and other.backward:
            raise ValueError("two backward() faults cannot be combined")
        return Faults(self.rows + other.rows, self.steps + other.steps, self.methods + other.methods,
                      self.backward or other.backward)

    def clashes(self, other: Faults) -> bool:
        """Two faults cannot be combined when they replace the same row, step, method or
        backward(), or when one replaces a step and the other that op's local rule."""

        def keys(f: Faults) -> set[tuple[str, str]]:
            changed_rules = {("step", k) for k, row in f.rows if row.local_text != OPS[k].local_text}
            return ({("row", k) for k, _ in f.rows} | {("step", k) for k, _ in f.steps}
                    | {("method", k) for k, _ in f.methods} | changed_rules
                    | ({("backward", "")} if f.backward else set()))

        return bool(keys(self) & keys(other))


# --------------------------------------------------------------------------- writing it out

_HEADER = '''\
class Value:
    """A scalar that remembers how it was made, for backpropagation."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"
'''


def _term(local: str, step: Step) -> str:
    """``local * out.grad`` (or ``local`` alone), parenthesized where needed."""
    if not step.chain:
        return local
    simple = ast.Name | ast.Constant | ast.Call | ast.Attribute | ast.UnaryOp
    return f"{local if isinstance(ast.parse(local, mode='eval').body, simple) else f'({local})'} * out.grad"


def _primitive(op: Op, step: Step) -> str:
    """A primitive's method: forward, record the operands, and its chain-rule step."""
    assert op.forward_text is not None
    operands: tuple[str, ...] = ("self",)
    if op.constant_exponent:
        head = (f"def {op.method}(self, k):\n"
                '    assert isinstance(k, (int, float)), "only int and float powers"\n'
                "    a = self.data\n")
        label = f'f"{op.symbol}{{k}}"'
    elif op.constant_base:
        head = (f"def {op.method}(self, k):\n"
                '    assert isinstance(k, (int, float)), "only int and float bases"\n'
                "    a = self.data\n")
        label = f'f"{{k}}{op.symbol}"'
    elif op.arity == 1:
        head = f"def {op.method}(self):\n    a = self.data\n"
        label = f'"{op.symbol}"'
    else:
        head = (f"def {op.method}(self, other):\n"
                "    other = other if isinstance(other, Value) else Value(other)\n"
                "    a, b = self.data, other.data\n")
        operands, label = ("self", "other"), f'"{op.symbol}"'
    assign = "+=" if step.accumulate else "="
    grads = "".join(f"        {name}.grad {assign} {_term(local, step)}\n"
                    for name, local in zip(operands, op.local_text))
    return (f"{head}    y = {op.forward_text}\n"
            f"    out = Value(y, ({', '.join(operands)}{',' if len(operands) == 1 else ''}), {label})\n\n"
            f"    def _backward():\n{grads}\n"
            "    out._backward = _backward\n    return out\n")


def _composite(method: str, text: str, arity: int) -> str:
    params = "self, other" if arity == 2 else "self"
    return f"def {method}({params}):\n    return {text}\n"


def _backward(b: Backward) -> str:
    """``backward()``: a topological sort (iterative unless ``recursive``), then the steps."""
    lines = ["def backward(self):", *(f"    {line}" for line in b.hostile.splitlines()), "    topo = []"]
    if b.recursive:
        lines += ["    visited = set()", "", "    def build_topo(v):", "        if v not in visited:",
                  "            visited.add(v)", "            for child in v._prev:",
                  "                build_topo(child)", "            topo.append(v)", "", "    build_topo(self)"]
    else:
        push = "            stack.append((child, iter(child._prev)))\n            break"
        if b.visited:
            lines += ["    visited = {self}"]
            push = ("            if child not in visited:\n                visited.add(child)\n"
                    "                stack.append((child, iter(child._prev)))\n                break")
        lines += ["    stack = [(self, iter(self._prev))]  # no recursion: deep graphs are fine",
                  "    while stack:", "        node, children = stack[-1]", "        for child in children:",
                  push, "        else:", "            stack.pop()", "            topo.append(node)"]
    if b.zero:
        lines += ["    for node in topo:", "        node.grad = 0.0"]
    if b.seed:
        lines += ["    self.grad = 1.0"]
    lines += [f"    for node in {'reversed(topo)' if b.reverse else 'topo'}:", "        node._backward()"]
    return "\n".join(lines) + "\n"


def student_source(faults: Faults = Faults(), doc: str = "A micrograd-style Value class.") -> str:
    """``faults`` written out as an ordinary, standalone student file (imports only math)."""
    rows, steps, methods = {**OPS, **dict(faults.rows)}, dict(faults.steps), dict(faults.methods)
    bodies: list[tuple[str, str]] = []  # (method, its text)
    for name, op in rows.items():
        if op.primitive:
            bodies.append((op.method, _primitive(op, steps.get(name, Step()))))
        else:
            assert op.compose_text is not None
            bodies.append((op.method, _composite(op.method, op.compose_text, op.arity)))
    bodies += [(method, _composite(method, text, 2)) for method, text in REFLECTED.items()]
    written = []
    for method, body in bodies:
        if method not in methods:
            written.append(body)
        elif (text := methods[method]) is not None:  # written otherwise; None: left out
            written.append(_composite(method, text, 2))
    written.append(_backward(faults.backward or Backward()))
    paragraphs = [textwrap.fill(p, 88) for p in doc.replace('"""', "'''").split("\n\n")]
    docstring = '"""' + "\n\n".join(paragraphs) + '\n"""'
    return (f"{docstring}\n\nimport math\n\n\n{_HEADER}"
            + "".join("\n" + textwrap.indent(body, "    ") for body in written))


# --------------------------------------------------------------------------- running it here


def _ordered_set(rng: random.Random | None) -> type:
    """A stand-in for ``set`` that iterates in insertion order, shuffled by ``rng`` when made
    from items: CPython orders a set of Values by their ids, which a prediction cannot know,
    so the catalog tries several seeds instead."""

    class OrderedSet(dict):  # type: ignore[type-arg]
        def __init__(self, items: Any = ()) -> None:
            keys = list(dict.fromkeys(items))
            if rng is not None and len(keys) > 1:
                rng.shuffle(keys)
            super().__init__(dict.fromkeys(keys))

        def add(self, item: Any) -> None:
            self[item] = None

    return OrderedSet


@cache
def compile_engine(faults: Faults = Faults(), order_seed: int | None = None) -> type[Any]:
    """The Value class of :func:`student_source`, run in this process; ``order_seed``
    shuffles the order each node's operands are visited in (None: the order written)."""
    namespace: dict[str, Any] = {"__name__": "gradcheck_lab_variant",
                                 "set": _ordered_set(random.Random(order_seed) if order_seed is not None else None)}
    exec(compile(student_source(faults), "<catalog variant>", "exec"), namespace)  # our own text
    return namespace["Value"]  # type: ignore[no-any-return]
