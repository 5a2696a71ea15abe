"""The case-source language: a few assignments over inputs, parsed safely into a :class:`Program`.

A source is parsed with a whitelist over Python's ``ast``: names, numbers, ``+ - * / **``
(constant exponent), unary minus, and the op table's functions, written ``tanh(n)`` or
``n.tanh()``. Nothing is ever ``eval``'d; every error carries a line and a column.

>>> p = parse_source("a = x1 * x2\\nL = log(a) + a.tanh()")
>>> [n.title for n in p.nodes]
['x1', 'x2', 'a', 'log(a)', 'a.tanh()', 'L']
>>> parse_source("__import__('os')")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
gradcheck_lab.errors.CaseError: <source>:1:1: call to unknown function '__import__'; the functions are: ...
"""

from __future__ import annotations

import ast
import math

from .errors import CaseError
from .ops import FUNCTIONS, OPERATORS, OPS, UNARY
from .program import Node, Program, Ref, float_apply

__all__ = ["parse_source"]

_MAX_INT = 2**53


class _SourceParser:
    """Turns a case source into a Program; every error carries a line and a column."""

    def __init__(self, source: str, line0: int, col0: int) -> None:
        self.source = source
        self.lines = [line.encode() for line in source.splitlines(keepends=True)]  # ast columns count bytes
        self.line0 = line0  # file line of the source's first line, minus one
        self.col0 = col0  # file column offset of the source's first line
        self.inputs: list[Node] = []
        self.ops: list[Node] = []
        self.env: dict[str, Ref | int | float] = {}

    # positions -------------------------------------------------------------
    def error(self, message: str, node: ast.AST | None = None) -> CaseError:
        line = getattr(node, "lineno", 0)
        col = getattr(node, "col_offset", -1) + 1
        if line == 1:
            col += self.col0
        return CaseError(message, line=self.line0 + line if line else 0, col=col if line else 0)

    def text(self, node: ast.AST) -> str:
        """The source text of ``node`` (what ``ast.get_source_segment`` gives, without
        re-splitting the source for every node)."""
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1  # type: ignore[attr-defined]
        start, end = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
        lines = self.lines[first : last + 1]
        if not lines or end is None:
            return ast.unparse(node)
        if len(lines) == 1:
            return lines[0][start:end].decode()
        return b"".join([lines[0][start:], *lines[1:-1], lines[-1][:end]]).decode()

    # nodes -----------------------------------------------------------------
    def add(self, op: str, args: tuple[Ref | int | float, ...], node: ast.AST) -> Ref:
        line = self.line0 + node.lineno  # type: ignore[attr-defined]
        col = node.col_offset + 1 + (self.col0 if node.lineno == 1 else 0)  # type: ignore[attr-defined]
        self.ops.append(Node(op, args, "", self.text(node), line, col))
        return Ref(-len(self.ops))  # negative: an op node, renumbered at the end

    def apply(self, opname: str, args: list[Ref | int | float], node: ast.AST) -> Ref | int | float:
        op = OPS[opname]
        if op.constant_exponent and not isinstance(args[1], int | float):
            raise self.error("x ** y needs a number base or a number exponent (x ** 3, 2 ** x): "
                             "Value ** Value is not supported", node)
        if not any(isinstance(a, Ref) for a in args):  # fold constant sub-expressions
            if not op.domain(*args):
                raise self.error(f"{self.text(node)}: {op.domain_text or 'outside the domain'}", node)
            try:
                value = float_apply(op, list(args))
            except (ArithmeticError, ValueError) as exc:
                raise self.error(f"{self.text(node)}: {exc}", node) from None
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise self.error(f"{self.text(node)} is not a finite number", node)
            return value
        return self.add(opname, tuple(args), node)

    # expressions -------------------------------------------------------------
    def expr(self, node: ast.expr) -> Ref | int | float:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.error(f"only numbers are allowed, not {type(value).__name__} {value!r}", node)
            if isinstance(value, int) and abs(value) > _MAX_INT:
                raise self.error(f"integer {value} is too large; write it as a float", node)
            if not math.isfinite(value):
                raise self.error(f"{self.text(node)} is not a finite number", node)
            return value
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            op = OPERATORS.get(type(node.op).__name__)
            if op is None:
                shown = _OP_TEXT.get(type(node.op).__name__, "?")
                raise self.error(f"operator {shown} is not allowed; use + - * / **", node)
            args = [self.expr(node.left), self.expr(node.right)]
            if op.constant_exponent and isinstance(args[0], int | float) and isinstance(args[1], Ref):
                op = OPS["rpow"]  # 2 ** x: a number base, the Value's __rpow__
            return self.apply(op.name, args, node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand)
            unary = UNARY.get(type(node.op).__name__)
            if unary is not None:  # -x: neg
                return self.apply(unary.name, [self.expr(node.operand)], node)
            raise self.error(f"unary {_OP_TEXT.get(type(node.op).__name__, '?')} is not allowed", node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            raise self.error(f"attribute access is not allowed: {self.text(node)}", node)
        kind = _KIND.get(type(node).__name__, type(node).__name__)
        raise self.error(f"{kind} is not allowed in a case source", node)

    def name(self, node: ast.Name) -> Ref | int | float:
        if node.id in self.env:
            return self.env[node.id]
        if node.id in FUNCTIONS:
            raise self.error(f"{node.id!r} is an op; call it, e.g. {node.id}(x)", node)
        if node.id.startswith("__"):
            raise self.error(f"name {node.id!r} is not allowed", node)
        line, col = self.line0 + node.lineno, node.col_offset + 1 + (self.col0 if node.lineno == 1 else 0)
        self.inputs.append(Node("input", (), node.id, node.id, line, col))
        self.env[node.id] = ref = Ref(len(self.inputs) - 1)
        return ref

    def call(self, node: ast.Call) -> Ref | int | float:
        if node.keywords:
            raise self.error("keyword arguments are not allowed", node)
        func = node.func
        if isinstance(func, ast.Name):
            fname, args = func.id, list(node.args)
        elif isinstance(func, ast.Attribute):
            fname, args = func.attr, [func.value, *node.args]
        else:
            raise self.error(f"calls like {self.text(node)} are not allowed", node)
        op = FUNCTIONS.get(fname)
        if op is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.error(f"call to unknown function {fname!r}; the functions are: {known}", node)
        if any(isinstance(a, ast.Starred) for a in args):
            raise self.error("*args is not allowed", node)
        if len(args) != op.arity:
            form = f"{fname}(" + ", ".join("xy"[: op.arity]) + ")"
            raise self.error(f"{fname} takes {op.arity} argument{'s' * (op.arity > 1)}: {form}", node)
        return self.apply(op.name, [self.expr(a) for a in args], node)

    # statements ---------------------------------------------------------------
    def parse(self) -> Program:
        try:
            tree = ast.parse(self.source, mode="exec")
        except SyntaxError as exc:
            err = CaseError(
                f"syntax error: {exc.msg}", line=self.line0 + (exc.lineno or 1),
                col=(exc.offset or 1) + (self.col0 if (exc.lineno or 1) == 1 else 0),
            )
            raise err from None
        except (RecursionError, MemoryError):
            raise CaseError("the source is nested too deeply", line=self.line0 + 1) from None
        if not tree.body:
            raise CaseError("the source is empty", line=self.line0 + 1)
        output: Ref | int | float = 0
        try:
            for i, stmt in enumerate(tree.body):
                output = self.statement(stmt, last=i == len(tree.body) - 1)
        except RecursionError:
            raise CaseError("the source is nested too deeply", line=self.line0 + 1) from None
        if not isinstance(output, Ref) or output.index >= 0:
            raise self.error("the output (last line) must be computed from the inputs by an op", tree.body[-1])
        return self.program(output)

    def statement(self, stmt: ast.stmt, last: bool) -> Ref | int | float:
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise self.error("assign to one plain name, e.g. a = x * y", stmt)
            target = stmt.targets[0].id
            if target in self.env:
                raise self.error(f"{target!r} is assigned twice (or is an input); use a new name", stmt.targets[0])
            if target in FUNCTIONS or target.startswith("__"):
                raise self.error(f"{target!r} cannot be assigned: it is an op or a reserved name", stmt.targets[0])
            value = self.expr(stmt.value)
            if isinstance(stmt.value, ast.Name) and isinstance(value, Ref):
                raise self.error(f"{target} = {stmt.value.id} makes no new node; use {stmt.value.id}", stmt)
            if isinstance(value, Ref) and value.index < 0:
                i = -value.index - 1
                node = self.ops[i]
                self.ops[i] = Node(node.op, node.args, target, node.text, node.line, node.col)
            self.env[target] = value
            return value
        if isinstance(stmt, ast.Expr):
            if not last:
                raise self.error("only the last line may be a bare expression (it is the output)", stmt)
            return self.expr(stmt.value)
        kind = _KIND.get(type(stmt).__name__, type(stmt).__name__)
        raise self.error(f"{kind} is not allowed in a case source", stmt)

    def program(self, output: Ref) -> Program:
        n_in = len(self.inputs)

        def renumber(a: Ref | int | float) -> Ref | int | float:
            if isinstance(a, Ref):
                return Ref(a.index if a.index >= 0 else n_in - a.index - 1)
            return a

        ops = [Node(n.op, tuple(renumber(a) for a in n.args), n.name, n.text, n.line, n.col) for n in self.ops]
        out = renumber(output)
        assert isinstance(out, Ref)
        return Program((*self.inputs, *ops), out.index)


_OP_TEXT = {
    "Mod": "%", "FloorDiv": "//", "MatMult": "@", "BitXor": "^", "BitOr": "|", "BitAnd": "&",
    "LShift": "<<", "RShift": ">>", "Not": "not", "Invert": "~",
}
_KIND = {
    "Lambda": "a lambda", "Subscript": "indexing", "ListComp": "a comprehension", "GeneratorExp": "a generator",
    "Compare": "a comparison", "BoolOp": "and/or", "IfExp": "an if-expression", "JoinedStr": "an f-string",
    "List": "a list", "Tuple": "a tuple", "Dict": "a dict", "Set": "a set", "Await": "await",
    "NamedExpr": "the walrus operator", "Import": "import", "ImportFrom": "import", "FunctionDef": "def",
    "ClassDef": "class", "For": "a for loop", "While": "a while loop", "If": "an if statement",
    "With": "with", "AugAssign": "augmented assignment (+=)", "AnnAssign": "an annotated assignment",
    "Delete": "del", "Global": "global", "Return": "return", "Raise": "raise", "Try": "try",
}


def parse_source(source: str, *, line: int = 0, col: int = 0) -> Program:
    """Parse a case source into a Program. ``line``/``col``: where it starts in its file.

    ``line`` is the file line of the source's first line minus one; ``col`` the
    column offset of its first line. Common indentation is removed first.
    """
    lines = source.split("\n")
    indents = [len(s) - len(s.lstrip()) for s in lines if s.strip()]
    indent = min(indents) if indents else 0
    if indent:
        source = "\n".join(s[indent:] for s in lines)
    return _SourceParser(source, line, col + indent).parse()
