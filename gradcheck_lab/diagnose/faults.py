"""What a bug changes in a correct engine (:class:`Faults`: data), written out as the student file it makes.

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
import re
import textwrap
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from ..ops import HELPERS, OPS, REFLECTED, Op

__all__ = ["Backward", "Faults", "Init", "Node", "Step", "compile_engine", "reference_source", "student_source"]


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
    run: bool = True  #: call each node's _backward (False: backward() changes nothing)
    walk: bool = True  #: walk the graph (False: only the output's own _backward runs, one level)
    preorder: bool = False  #: list a node before its inputs (as visited), not after them

    def __add__(self, other: Backward) -> Backward:
        """Both changes at once: each field as whichever of the two changed it.

        >>> (Backward(recursive=True) + Backward(reverse=False)).reverse
        False
        """
        default = Backward()
        changed = {f.name: getattr(other, f.name) for f in fields(self)
                   if getattr(other, f.name) != getattr(default, f.name)}
        clash = [k for k in changed if getattr(self, k) != getattr(default, k) and getattr(self, k) != changed[k]]
        if clash:
            raise ValueError(f"two backward() faults change {', '.join(clash)}")
        return Backward(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changed})

    def changed(self) -> set[str]:
        """The fields that differ from a correct backward()."""
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(Backward(), f.name)}


@dataclass(frozen=True)
class Init:
    """How ``__init__`` keeps its number: a guard run first, the grad's first value, the data attribute."""

    guard: str = ""  #: a statement run first (``assert isinstance(data, int)``: fails on a float)
    grad: str = "0.0"  #: the grad's first value (``None``: every ``+=`` fails)
    data: str = "data"  #: the attribute the number is kept in (``value``: nothing reads ``.data``)
    prev: str = "set(_children)"  #: the inputs it keeps (by value: two equal inputs count once)


@dataclass(frozen=True)
class Node:
    """A reflected operator (``2 - v``: ``__rsub__``) written as a node of its own, not composed:
    ``forward`` over ``a`` (self's number) and ``b`` (the other, a number); ``local`` d out / d self."""

    method: str
    forward: str
    local: str


@dataclass(frozen=True)
class Faults:
    """What a bug changes: op rows (other rule texts), steps, methods (text over ``self``
    and ``other``; None: missing) and ``backward()``."""

    rows: tuple[tuple[str, Op], ...] = ()
    steps: tuple[tuple[str, Step], ...] = ()
    methods: tuple[tuple[str, str | None], ...] = ()
    backward: Backward | None = None
    nodes: tuple[Node, ...] = ()  #: reflected operators written as nodes of their own
    silent: tuple[str, ...] = ()  #: methods that forget to return their result (they return None)
    coerce: bool = True  #: binary operators turn a number on the right into a Value
    init: Init | None = None
    detached: tuple[str, ...] = ()  #: methods whose result has no _backward (the gradient stops there)

    def __add__(self, other: Faults) -> Faults:
        if self.init and other.init:
            raise ValueError("two __init__ faults cannot be combined")
        backward = self.backward + other.backward if self.backward and other.backward else None
        return Faults(self.rows + other.rows, self.steps + other.steps, self.methods + other.methods,
                      backward or self.backward or other.backward, self.nodes + other.nodes,
                      self.silent + other.silent, self.coerce and other.coerce, self.init or other.init,
                      self.detached + other.detached)

    def clashes(self, other: Faults) -> bool:
        """Two faults cannot be combined when they replace the same row, step, method or
        backward(), or when one replaces a step and the other that op's local rule."""

        def keys(f: Faults) -> set[tuple[str, str]]:
            changed_rules = {("step", k) for k, row in f.rows if row.local_text != OPS[k].local_text}
            return ({("row", k) for k, _ in f.rows} | {("step", k) for k, _ in f.steps}
                    | {("method", k) for k, _ in f.methods} | {("method", n.method) for n in f.nodes}
                    | {("method", k) for k in f.silent + f.detached} | changed_rules
                    | {("backward", k) for k in (f.backward.changed() if f.backward else ())}
                    | ({("init", "")} if f.init else set()) | ({("coerce", "")} if not f.coerce else set()))

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


def _primitive(op: Op, step: Step, coerce: bool = True) -> str:
    """A primitive's method: forward, record the operands, and its chain-rule step (a number
    on the right made a Value unless not ``coerce``)."""
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
                + ("    other = other if isinstance(other, Value) else Value(other)\n" if coerce else "")
                + "    a, b = self.data, other.data\n")
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


def _own_node(node: Node) -> str:
    """A reflected operator as a node of its own (``2 - v`` as ``b - a``, with its local rule)."""
    return (f"def {node.method}(self, other):\n    a, b = self.data, other\n    y = {node.forward}\n"
            f'    out = Value(y, (self,), "{node.method.strip("_")}")\n\n'
            f"    def _backward():\n        self.grad += {_term(node.local, Step())}\n\n"
            "    out._backward = _backward\n    return out\n")


def _arity(method: str) -> int:
    return next((op.arity for op in OPS.values() if op.method == method and not op.constant_exponent), 2)


def _detached(body: str) -> str:
    """A method whose result records no way back: no ``_backward`` (a node of its own), or a
    fresh Value of the composed result's number."""
    if "    out._backward = _backward\n" in body:
        return body.replace("    out._backward = _backward\n", "")
    head, _, tail = body.rpartition("    return ")
    return f"{head}    return Value(({tail.strip()}).data)\n"


def _silenced(body: str) -> str:
    """A method that forgets to return its result: its last ``return`` dropped (``return out``
    dropped whole, ``return self + other`` kept as a bare expression)."""
    head, _, tail = body.rpartition("    return ")
    return head + ("" if tail.strip() == "out" else f"    {tail}")


def _backward(b: Backward) -> str:
    """``backward()``: a topological sort (iterative unless ``recursive``), then the steps."""
    lines = ["def backward(self):", *(f"    {line}" for line in b.hostile.splitlines()), "    topo = []"]
    if b.recursive:
        pad = " " * (12 if b.visited else 8)
        body = [*([f"{pad}topo.append(v)"] if b.preorder else []), f"{pad}for child in v._prev:",
                f"{pad}    build_topo(child)", *([] if b.preorder else [f"{pad}topo.append(v)"])]
        check = ["        if v not in visited:", "            visited.add(v)"] if b.visited else []
        lines += [*(["    visited = set()"] if b.visited else []), "", "    def build_topo(v):", *check, *body, "",
                  "    build_topo(self)"]
    elif b.preorder:
        lines += ["    visited = set()", "    stack = [self]", "    while stack:", "        node = stack.pop()",
                  "        if node not in visited:", "            visited.add(node)", "            topo.append(node)",
                  "            stack.extend(node._prev)"]
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
    if not b.walk:
        lines += ["    self._backward()"]
    elif b.run:
        lines += [f"    for node in {'reversed(topo)' if b.reverse else 'topo'}:", "        node._backward()"]
    return "\n".join(lines) + "\n"


def _helpers(code: str) -> str:
    """The op table's helper functions that ``code`` calls, written out (``def Phi(x): ...``)."""
    return "".join(f'def {name}(x):\n    """{doc}"""\n    return {text}\n\n\n'
                   for name, (doc, text) in HELPERS.items() if re.search(rf"\b{name}\(", code))


def student_source(faults: Faults = Faults(), doc: str = "A micrograd-style Value class.") -> str:
    """``faults`` written out as an ordinary, standalone student file (imports only math).

    >>> [line.strip() for line in student_source().splitlines() if "math.tanh" in line or "y**2" in line]
    ['y = math.tanh(a)', 'self.grad += (1.0 - y**2) * out.grad']
    """
    rows, steps, methods = {**OPS, **dict(faults.rows)}, dict(faults.steps), dict(faults.methods)
    own = {n.method: n for n in faults.nodes}
    bodies: list[tuple[str, str]] = []  # (method, its text)
    for name, op in rows.items():
        if op.primitive:
            bodies.append((op.method, _primitive(op, steps.get(name, Step()), faults.coerce)))
        else:
            assert op.compose_text is not None
            bodies.append((op.method, _composite(op.method, op.compose_text, op.arity)))
    bodies += [(method, _own_node(own[method]) if method in own else _composite(method, text, 2))
               for method, text in REFLECTED.items()]
    written = []
    for method, body in bodies:
        if method in methods:
            if (text := methods[method]) is None:  # left out
                continue
            body = _composite(method, text, _arity(method))  # written otherwise
        body = _detached(body) if method in faults.detached else body
        written.append(_silenced(body) if method in faults.silent else body)
    written.append(_backward(faults.backward or Backward()))
    paragraphs = [textwrap.fill(p, 88) for p in doc.replace('"""', "'''").split("\n\n")]
    docstring = '"""' + "\n\n".join(paragraphs) + '\n"""'
    init = faults.init or Init()
    header = (_HEADER.replace("        self.grad = 0.0\n", f"        self.grad = {init.grad}\n")
              .replace("self._prev = set(_children)", f"self._prev = {init.prev}"))
    if init.guard:
        header = header.replace("        self.data = data\n", f"        {init.guard}\n        self.data = data\n")
    methods_text = "".join("\n" + textwrap.indent(body, "    ") for body in written)
    text = f"{docstring}\n\nimport math\n\n\n{_helpers(methods_text)}{header}{methods_text}"
    return text if init.data == "data" else re.sub(r"\.data\b", f".{init.data}", text)


_ENGINE_DOC = '''The reference engine: a micrograd-style ``Value``, one method per op of the table.

GENERATED from the op table (gradcheck_lab/ops.py) by the generator that writes the bug
catalog's student files; do not edit. Regenerate with ``python -c "from
gradcheck_lab.diagnose.faults import reference_source as r; print(r(), end='')" >
gradcheck_lab/engine.py``.

Each method computes its op's forward and records a ``_backward`` that adds the local
derivative times ``out.grad`` to each operand's grad; ``-``, ``/``, negation and the
reflected operators are built from them, as micrograd builds them. ``backward()`` sorts
the graph with an explicit stack, so a graph a million nodes deep is fine.

>>> x1, x2, x3 = Value(2.0), Value(3.0), Value(4.0)
>>> L = (x1 * x2).log() + (x1 * x3).sin() + x2 * x3
>>> L.backward()
>>> round(x1.grad, 4), round(x2.grad, 4), round(x3.grad, 4)
(-0.082, 4.3333, 2.709)
>>> n = Value(4.0); m = n + n; m.backward(); n.grad
2.0
'''


def reference_source() -> str:
    """The text of :mod:`gradcheck_lab.engine` (``tests/test_engine.py`` holds the committed file to it).

    >>> reference_source().count("    def _backward():"), "def Phi(x):" in reference_source()
    (14, True)
    """
    code = student_source().split('"""', 2)[2]  # past the docstring
    return f'"""{_ENGINE_DOC}"""{code}'


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
