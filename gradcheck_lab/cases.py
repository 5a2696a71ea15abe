"""Case files: TOML loading, and a safe parser of case sources into a :class:`Program`.

A case source is a few assignments over inputs, parsed with a whitelist over Python's
``ast``: names, numbers, ``+ - * / **`` (constant exponent), unary minus, and the op
table's functions, written ``tanh(n)`` or ``n.tanh()``. Nothing is ever ``eval``'d.

>>> p = parse_source("a = x1 * x2\\nL = log(a) + a.tanh()")
>>> [n.title for n in p.nodes]
['x1', 'x2', 'a', 'log(a)', 'a.tanh()', 'L']
>>> parse_source("__import__('os')")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
gradcheck_lab.errors.CaseError: <source>:1:1: call to unknown function '__import__'; the functions are: ...

Each ``[[case]]`` table of a file is parsed on its own, so one malformed case is
reported (file, case, line, column) while the file's other cases still run.
"""

from __future__ import annotations

import ast
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CaseError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]
from .ops import FUNCTIONS, OPERATORS, OPS
from .program import Node, Program, Ref, float_apply

__all__ = ["Case", "Literal", "collect_cases", "load_case_file", "parse_source"]

_KEYS = {
    "name", "about", "source", "points", "expect", "expect_data", "sample", "tags", "weight", "hidden",
    "steps", "lr",
}
_MAX_STEPS = 10_000
_MAX_INT = 2**53


class Literal(float):
    """A float from a case file that remembers how it was written (for ``expect`` digits)."""

    text: str

    def __new__(cls, text: str) -> Literal:
        value = super().__new__(cls, text.replace("_", ""))
        value.text = text
        return value

    def __reduce__(self) -> tuple[type[Literal], tuple[str]]:
        return Literal, (self.text,)  # pickle and copy: cases travel to grading workers

    def tolerance(self) -> float:
        """How far the truth may be: 1.5 units of the last digit written, since hand
        computations round their intermediates (the seed's 4.3334 is 4 + 1/3)."""
        mantissa = self.text.lower().split("e")[0]
        exponent = int(self.text.lower().split("e")[1]) if "e" in self.text.lower() else 0
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return 1.5 * 10.0 ** (exponent - decimals)


@dataclass(frozen=True)
class Case:
    """One case: a program, the points to check it at, and what the author expects."""

    name: str
    program: Program
    points: tuple[dict[str, float], ...]
    source: str = ""
    about: str = ""
    expect: dict[str, float] = field(default_factory=dict)
    expect_data: dict[str, float] = field(default_factory=dict)
    sample: dict[str, tuple[float, float]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    weight: float = 1.0
    hidden: bool = False
    steps: int = 0  #: gradient-descent steps from the first point (0: no training)
    lr: float = 0.0  #: the descent's learning rate
    file: str = ""
    line: int = 0

    @property
    def selector(self) -> str:
        """What reruns just this case: ``cases/file.toml::name``."""
        return f"{self.file}::{self.name}" if self.file else self.name


# --------------------------------------------------------------------------- sources


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
            if isinstance(node.op, ast.USub):
                return self.apply("neg", [self.expr(node.operand)], node)
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


# --------------------------------------------------------------------------- files

_HEADER = re.compile(r"^\s*\[\[\s*case\s*\]\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*=")
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def _chunks(text: str) -> list[tuple[int, str]]:
    """The file split before each ``[[case]]`` header: (first line number, text)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, s in enumerate(lines) if _HEADER.match(s)]
    bounds = [0, *starts, len(lines)]
    return [(a + 1, "".join(lines[a:b])) for a, b in zip(bounds, bounds[1:]) if b > a]


def _unclosed(chunk: str) -> tuple[tuple[int, int], str] | None:
    """Where the first ``[`` or ``{`` left open at the end of ``chunk`` stands (line and
    column, 1-based), skipping strings and comments; None if every one is closed.
    tomllib only says "at end of document", which points at nothing.

    >>> _unclosed('name = "a"\\npoints = [{x = 1.0},\\n\\n')
    ((2, 10), '[')
    >>> _unclosed('a = ["]", {b = 1}]  # [') is None
    True
    """
    stack: list[tuple[tuple[int, int], str]] = []
    quote = ""
    for n, line in enumerate(chunk.splitlines(), start=1):
        i = 0
        while i < len(line):
            c = line[i]
            if quote:
                if line.startswith(quote, i):
                    i += len(quote)
                    quote = ""
                    continue
                i += 2 if c == "\\" and quote in ('"', '"""') else 1
                continue
            if c == "#":
                break
            if c in "\"'":
                quote = c * 3 if line.startswith(c * 3, i) else c
                i += len(quote)
                continue
            if c in "[{":
                stack.append(((n, i + 1), c))
            elif c in "]}" and stack:
                stack.pop()
            i += 1
        if quote in ('"', "'"):  # a one-line string ends with its line
            quote = ""
    return stack[0] if stack else None


def _key_positions(chunk: str, first: int) -> dict[str, tuple[int, int]]:
    """Where each top-level key of a chunk is written (skipping multi-line strings)."""
    found: dict[str, tuple[int, int]] = {}
    inside: str | None = None
    for i, line in enumerate(chunk.splitlines()):
        if inside:
            if line.count(inside) % 2 == 1:
                inside = None
            continue
        m = _KEY.match(line)
        if m and m.group(1) not in found:
            found[m.group(1)] = (first + i, m.start(1) + 1)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                inside = quote
    return found


def _source_start(chunk: str, first: int, pos: tuple[int, int]) -> tuple[int, int]:
    """(line0, col0) for parse_source: where the source string's content begins."""
    line_no, _ = pos
    line = chunk.splitlines()[line_no - first]
    after = line[line.index("=") + 1:]
    stripped = after.lstrip()
    quote_col = len(line) - len(stripped)
    for quote in ('"""', "'''", '"', "'"):
        if stripped.startswith(quote):
            rest = stripped[len(quote):]
            if len(quote) == 3 and not rest.strip():
                return line_no, 0  # content starts on the next line
            return line_no - 1, quote_col + len(quote)
    return line_no - 1, 0


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, not {value!r}")
    return value if isinstance(value, Literal) else float(value)


def _build_case(raw: dict[str, Any], path: str, first: int, chunk: str) -> Case:
    keys = _key_positions(chunk, first)
    name = raw.get("name")
    label = name if isinstance(name, str) else ""

    def fail(message: str, key: str | None = None) -> CaseError:
        line, col = keys.get(key, (first, 1)) if key else (first, 1)
        return CaseError(message, file=path, case=label, line=line, col=col)

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
        raise fail("every case needs a name = \"...\" (letters, digits, - _ .)", "name" if name else None)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; the keys are: {', '.join(sorted(_KEYS))}", unknown[0])
    source = raw.get("source")
    if not isinstance(source, str):
        raise fail("source = \"\"\"...\"\"\" is required: one expression or a few assignments", "source")
    line0, col0 = _source_start(chunk, first, keys["source"]) if "source" in keys else (first, 0)
    try:
        program = parse_source(source, line=line0, col=col0)
    except CaseError as exc:
        raise CaseError(exc.message, file=path, case=name, line=exc.line, col=exc.col) from None

    inputs = program.inputs
    try:
        points = raw.get("points", [])
        if not isinstance(points, list) or not points or not all(isinstance(p, dict) for p in points):
            raise ValueError("points must be a non-empty list of tables, e.g. [{x = 1.0}]")
        parsed_points = []
        for k, point in enumerate(points, 1):
            missing = [x for x in inputs if x not in point]
            extra = [x for x in point if x not in inputs]
            if missing or extra:
                problem = f"lacks {', '.join(missing)}" if missing else f"names {', '.join(extra)}, not an input"
                raise ValueError(f"point {k} {problem}; the inputs are: {', '.join(inputs)}")
            parsed_points.append({x: _number(point[x], f"point {k}: {x}") for x in inputs})
    except ValueError as exc:
        raise fail(str(exc), "points") from None

    labels = {n.name for n in program.nodes if n.name}
    checked: dict[str, dict[str, float]] = {}
    for key in ("expect", "expect_data"):
        table = raw.get(key, {})
        if not isinstance(table, dict):
            raise fail(f"{key} must be a table of node names to numbers", key)
        try:
            checked[key] = {k: _number(v, f"{key}.{k}") for k, v in table.items()}
        except ValueError as exc:
            raise fail(str(exc), key) from None
        strangers = sorted(set(table) - labels)
        if strangers:
            names = ", ".join(sorted(labels))
            raise fail(f"{key} names {strangers[0]!r}, which is no node; the names are: {names}", key)

    sample_raw = raw.get("sample", {})
    sample: dict[str, tuple[float, float]] = {}
    if not isinstance(sample_raw, dict):
        raise fail("sample must be a table of input names to [low, high]", "sample")
    for x, rng in sample_raw.items():
        ok = isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, int | float) for v in rng)
        if x not in inputs or not ok or not rng[0] < rng[1]:
            raise fail(f"sample.{x} must be an input's [low, high] with low < high", "sample")
        sample[x] = (float(rng[0]), float(rng[1]))

    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise fail("tags must be a list of strings", "tags")
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0:
        raise fail("weight must be a number >= 0", "weight")
    hidden = raw.get("hidden", False)
    if not isinstance(hidden, bool):
        raise fail("hidden must be true or false", "hidden")
    about = raw.get("about", "")
    if not isinstance(about, str):
        raise fail("about must be a string", "about")
    steps, lr = raw.get("steps", 0), raw.get("lr", 0.0)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= _MAX_STEPS:
        raise fail(f"steps must be a whole number of gradient-descent steps, 1 to {_MAX_STEPS}", "steps")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not (math.isfinite(lr) and lr >= 0):
        raise fail("lr must be a positive number (the learning rate), e.g. lr = 0.1", "lr")
    if bool(steps) != bool(lr):
        raise fail("steps and lr go together: give both (e.g. steps = 100, lr = 0.1) or neither",
                   "lr" if steps else "steps")
    return Case(
        name=name, program=program, points=tuple(parsed_points), source=source, about=about,
        expect=checked["expect"], expect_data=checked["expect_data"], sample=sample, tags=tuple(tags),
        weight=float(weight), hidden=hidden, steps=steps, lr=float(lr), file=path, line=first,
    )


def load_case_file(path: str | Path) -> tuple[list[Case], list[CaseError]]:
    """Every case of one file, and an error for each case that could not be read.

    A TOML syntax error sinks only the ``[[case]]`` table it stands in.
    """
    path_text = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [CaseError(f"cannot read the file: {exc}", file=path_text)]
    cases: list[Case] = []
    errors: list[CaseError] = []
    names: set[str] = set()
    ordinal = 0
    for first, chunk in _chunks(text):
        is_case = bool(_HEADER.match(chunk.splitlines()[0]))
        ordinal += is_case
        try:
            data = tomllib.loads(chunk, parse_float=Literal)
        except tomllib.TOMLDecodeError as exc:
            message = _TOML_AT.sub("", str(exc)).strip()
            m = _TOML_AT.search(str(exc))
            line, col = (first + int(m.group(1)) - 1, int(m.group(2))) if m else (first, 0)
            opened = _unclosed(chunk)
            if opened is not None and (not m or "end of document" in str(exc)):
                (at_line, col), bracket = opened
                line, message = first + at_line - 1, f"this {bracket!r} is never closed"
            guess = re.search(r'^\s*name\s*=\s*"([^"\n]*)"', chunk, re.M)
            label = guess.group(1) if guess else f"#{ordinal}" if is_case else ""
            errors.append(CaseError(f"TOML: {message}", file=path_text, case=label, line=line, col=col))
            continue
        if not is_case:
            if data:
                key = next(iter(data))
                errors.append(CaseError(f"unexpected {key!r} before the first [[case]]; cases start with [[case]]",
                                        file=path_text, line=first))
            continue
        if set(data) != {"case"}:
            errors.append(CaseError("a [[case]] table may not be followed by other tables", file=path_text, line=first))
            continue
        try:
            case = _build_case(data["case"][0], path_text, first, chunk)
        except CaseError as exc:
            errors.append(exc)
            continue
        if case.name in names:
            errors.append(CaseError(f"the name {case.name!r} is used twice in this file", file=path_text,
                                    case=case.name, line=first))
            continue
        names.add(case.name)
        cases.append(case)
    return cases, errors


def collect_cases(selectors: Iterable[str | Path]) -> tuple[list[Case], list[CaseError]]:
    """Cases from files, folders (every ``*.toml`` below, sorted, but a grading
    ``assignment.toml``) and ``file.toml::name``."""
    cases: list[Case] = []
    errors: list[CaseError] = []
    for selector in selectors:
        text = str(selector)
        path_text, _, wanted = text.partition("::")
        path = Path(path_text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.toml") if p.name != "assignment.toml")  # the grading's
            if not files:
                errors.append(CaseError("no *.toml case files here", file=path_text))
        elif path.is_file():
            files = [path]
        else:
            errors.append(CaseError("no such file or folder", file=path_text))
            continue
        for file in files:
            found, bad = load_case_file(file)
            if wanted:
                found = [c for c in found if c.name == wanted]
                bad = [e for e in bad if e.case in ("", wanted)]
                if not found and not bad:
                    errors.append(CaseError(f"no case named {wanted!r} in this file", file=file))
            cases.extend(found)
            errors.extend(bad)
    return cases, errors
