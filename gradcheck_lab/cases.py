"""Case files: TOML ``[[case]]`` tables -> :class:`Case` (sources parsed by :mod:`.source`).

Each ``[[case]]`` table of a file is parsed on its own, so one malformed case is
reported (file, case, line, column) while the file's other cases still run.

>>> cases, errors = load_case_file("cases/worked_examples.toml")
>>> cases[0].selector, errors
('cases/worked_examples.toml::log-sin-product', [])
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .errors import CaseError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]
from .program import Program
from .source import parse_source

__all__ = ["Case", "Literal", "collect_cases", "load_case_file", "load_cases"]

_KEYS = {
    "name", "about", "source", "points", "expect", "expect_data", "sample", "tags", "weight", "hidden",
    "steps", "lr",
}
_MAX_STEPS = 10_000


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


def _decode_error(exc: tomllib.TOMLDecodeError, chunk: str, first: int, path: str, label: str) -> CaseError:
    """A TOML syntax error of the chunk starting at line ``first``, located in the file and
    named by the case's name when it can be read (else ``label``)."""
    message = _TOML_AT.sub("", str(exc)).strip()
    m = _TOML_AT.search(str(exc))
    line, col = (first + int(m.group(1)) - 1, int(m.group(2))) if m else (first, 0)
    opened = _unclosed(chunk)
    if opened is not None and (not m or "end of document" in str(exc)):
        (at_line, col), bracket = opened
        line, message = first + at_line - 1, f"this {bracket!r} is never closed"
    guess = re.search(r'^\s*name\s*=\s*"([^"\n]*)"', chunk, re.M)
    return CaseError(f"TOML: {message}", file=path, case=guess.group(1) if guess else label, line=line, col=col)


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


class _Where(NamedTuple):
    keys: dict[str, tuple[int, int]]  #: each top-level key's (line, column) in the file
    source: tuple[int, int]  #: (line0, col0) for parse_source: where the source string's text begins


def _where(chunk: str, first: int) -> _Where:
    """Where a ``[[case]]`` table's keys and its source's text stand in the file (``first``: its
    first line); tomllib gives values, not positions, so the lines are scanned here, and only here.

    >>> _where("[[case]]\\nname = 'a'\\nsource = '''\\n  L = x * x\\n'''\\n", 10)
    _Where(keys={'name': (11, 1), 'source': (12, 1)}, source=(12, 0))
    >>> _where('[[case]]\\nsource = "L = x * x"\\n', 1).source
    (1, 10)
    """
    keys: dict[str, tuple[int, int]] = {}
    lines = chunk.splitlines()
    inside: str | None = None  # the quotes of a multi-line string being skipped
    for i, line in enumerate(lines):
        if inside:
            if line.count(inside) % 2 == 1:
                inside = None
            continue
        m = _KEY.match(line)
        if m and m.group(1) not in keys:
            keys[m.group(1)] = (first + i, m.start(1) + 1)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                inside = quote
    if "source" not in keys:
        return _Where(keys, (first, 0))
    line_no, _ = keys["source"]
    line = lines[line_no - first]
    stripped = line[line.index("=") + 1:].lstrip()
    quote_col = len(line) - len(stripped)
    for quote in ('"""', "'''", '"', "'"):
        if stripped.startswith(quote):
            if len(quote) == 3 and not stripped[len(quote):].strip():
                return _Where(keys, (line_no, 0))  # the text starts on the next line
            return _Where(keys, (line_no - 1, quote_col + len(quote)))
    return _Where(keys, (line_no - 1, 0))


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, not {value!r}")
    return value if isinstance(value, Literal) else float(value)


def _build_case(raw: dict[str, Any], path: str, first: int, chunk: str) -> Case:
    where = _where(chunk, first)
    keys = where.keys
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
    line0, col0 = where.source
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
    """Every case of one file, and an error for each case that could not be read (see :func:`load_cases`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [CaseError(f"cannot read the file: {exc}", file=str(path))]
    return load_cases(text, str(path))


def load_cases(text: str, path_text: str = "") -> tuple[list[Case], list[CaseError]]:
    """Every case of a case file's text, and an error for each case that could not be read;
    a TOML syntax error sinks only the ``[[case]]`` table it stands in.

    >>> cases, errors = load_cases('[[case]]\\nname = "sq"\\nsource = "L = x * x"\\npoints = [{x = 3.0}]\\n'
    ...                            '[[case]]\\nname = "mod"\\nsource = "L = x % 2"\\npoints = [{x = 1.0}]\\n', "c.toml")
    >>> [c.selector for c in cases]
    ['c.toml::sq']
    >>> print(errors[0])
    c.toml:7:15: case 'mod': operator % is not allowed; use + - * / **
    """
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
            errors.append(_decode_error(exc, chunk, first, path_text, f"#{ordinal}" if is_case else ""))
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
