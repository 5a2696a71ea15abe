"""Loading submissions: a ``.py`` file, a ``.ipynb`` notebook, or a folder holding one.

Nothing here runs student code. A submission is read as text, parsed with :mod:`ast`
(notebooks through nbformat, IPython magics and shell escapes blanked first) and cut
into :class:`Chunk` s: the last top-level definition of ``Value`` and what it needs
(imports, helpers, constants, later ``Value.x = ...`` patches), found with
:mod:`symtable`, Python's own scope analysis. Everything else (plots, training loops,
``draw_dot(L)``, prints) is dropped. The sandboxed child runs the chunks in order, as a
notebook run top to bottom would; only the one defining ``Value`` must succeed, so a
missing optional import (``graphviz``) cannot sink a submission.

>>> sub = extract_source("sub", "import math\\nimport graphviz\\nclass Value:\\n"
...                      "    def exp(self):\\n        return Value(math.exp(self.data))\\nprint(Value)\\n")
>>> [c.what for c in sub.chunks]
['import math', 'class Value']
>>> sub.notes
('kept 2 of 4 top-level statements: the class Value and what it needs',)
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import stat
import symtable
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GradcheckError

__all__ = [
    "Chunk", "Submission", "SubmissionRef", "content_digest", "discover", "extract_source", "load_submission",
]

SUFFIXES = (".py", ".ipynb")
#: Imports that bring someone else's Value: reported, since the class may not be the student's.
REFERENCE_ENGINES = ("micrograd", "gradcheck_lab")
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", "node_modules"}
_MAX_FILE = 8 * 1024 * 1024  # bytes of one file read or copied (a larger one is refused, unread)
#: What parsing untrusted text can raise: deep nesting ends in MemoryError or RecursionError,
#: a NUL byte in ValueError.
_PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)
_MAX_SIBLINGS = 4 * 1024 * 1024  # bytes of sibling modules copied into the child's folder
_DEFINES_VALUE = re.compile(r"\bclass\s+Value\b")
_BODY_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")  # cell magics whose body is Python
#: Top-level calls kept although they bind nothing: they configure how the code runs.
_CONFIG_CALLS = {"setrecursionlimit", "seed", "set_printoptions", "seterr"}


@dataclass(frozen=True)
class SubmissionRef:
    """A submission as found on disk, before any parsing: its id and its file or folder."""

    id: str
    path: Path
    listed: bool = False  #: found by listing a folder (a symbolic link there is not followed)


@dataclass(frozen=True)
class Chunk:
    """One top-level statement the child runs; ``line`` is where it starts in its file or
    cell (the child compiles it there, so tracebacks give the file's line numbers)."""

    source: str
    filename: str  #: ``alice.py`` or ``alice.ipynb [cell 3]``
    what: str  #: ``class Value``, ``import math``, ``def helper``...
    essential: bool = False  #: the statement that defines Value: it must succeed
    futures: tuple[str, ...] = ()  #: ``from __future__`` features of the file, compiled into every chunk
    line: int = 1

    def to_json(self) -> list[Any]:
        """The chunk as the child receives it."""
        return [self.source, self.filename, self.what, self.essential, list(self.futures), self.line]


@dataclass(frozen=True)
class Submission:
    """What the grader runs of one submission, and what it found while cutting it."""

    id: str
    path: Path
    main: Path | None = None  #: the file that defines Value
    chunks: tuple[Chunk, ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()  #: sibling modules, copied beside the code
    cells: tuple[int, ...] = ()  #: notebook cells used (1-based, all cells counted)
    notes: tuple[str, ...] = ()
    problem: str = ""  #: why it cannot be graded ("" when it can)
    borrowed: tuple[str, ...] = ()  #: reference engines it imports (micrograd...)
    imports: tuple[str, ...] = ()  #: the top-level modules its kept code imports (absolute imports)

    @property
    def label(self) -> str:
        return str(self.main or self.path)


# --------------------------------------------------------------------------- discovery


def _safe_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "submission"


def _is_candidate(path: Path) -> bool:
    if path.name.startswith(".") or path.name in _SKIP_DIRS:
        return False
    return path.is_dir() or path.suffix in SUFFIXES or path.is_symlink()


def discover(paths: Iterable[str | Path], *, single: bool = False) -> list[SubmissionRef]:
    """The submissions at ``paths``: a file is one; a folder holds one per entry (a file or
    a sub-folder), unless ``single`` says the folder itself is one submission (Gradescope's
    ``/autograder/submission``). Ids are file stems or folder names, made unique.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("alice.ipynb", "bob.py", "notes.txt"): _ = (d / name).write_text("")
    >>> (d / "carol").mkdir()
    >>> [(r.id, r.path.name) for r in discover([d])]
    [('alice', 'alice.ipynb'), ('bob', 'bob.py'), ('carol', 'carol')]
    """
    found: list[Path] = []
    listed: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir() and not single:
            entries = sorted(e for e in p.iterdir() if _is_candidate(e))
            found.extend(entries)
            listed.update(entries)
        else:
            found.append(p)
    stems = [p.stem if p.is_file() else p.name for p in found]
    counts: dict[str, int] = defaultdict(int)
    for stem in stems:
        counts[stem] += 1
    refs = [SubmissionRef(_safe_id(stem if counts[stem] == 1 else p.name), p, p in listed)
            for p, stem in zip(found, stems)]
    by_id: dict[str, list[Path]] = defaultdict(list)
    for r in refs:
        by_id[r.id].append(r.path)
    clashes = [f"{sub_id!r}: {', '.join(map(str, paths))}" for sub_id, paths in by_id.items() if len(paths) > 1]
    if clashes:
        raise GradcheckError("these submissions would share one id (and one row of grades): "
                             + "; ".join(clashes) + ". Rename them so that their names differ in letters or digits")
    return refs


def _files_of(folder: Path) -> list[Path]:
    """The regular files of a folder submission, symbolic links never followed (nor listed)."""
    out = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")
                         and not os.path.islink(os.path.join(root, d)))
        for name in sorted(files):
            p = Path(root, name)
            if not name.startswith(".") and stat.S_ISREG(p.lstat().st_mode):
                out.append(p)
    return out


def _read(path: Path, limit: int = _MAX_FILE) -> bytes:
    """A regular file's bytes, checked before reading: never a link, a FIFO or a device,
    never more than ``limit`` bytes (``OSError`` otherwise)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise OSError(f"{path.name} holds {info.st_size:,} bytes, more than the {limit:,} a submission file may")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)[:limit]
    finally:
        os.close(fd)


def content_digest(path: Path) -> str:
    """A hash of everything a submission holds (names and bytes), for resuming batches."""
    h = hashlib.sha256()
    files = _files_of(path) if path.is_dir() else [path]
    for f in files:
        rel = f.relative_to(path).as_posix() if path.is_dir() else f.name
        h.update(rel.encode() + b"\0")
        try:
            h.update(_read(f))
        except OSError as exc:
            h.update(str(exc).encode())
        h.update(b"\0")
    return h.hexdigest()


# --------------------------------------------------------------------------- cells


def _notebook_cells(path: Path) -> tuple[list[tuple[int, str]], str]:
    """Code cells as (1-based cell number, source), or a problem."""
    import nbformat  # deferred: only notebooks need it

    try:
        text = _read(path).decode("utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.convert(nbformat.reader.reads(text), 4)  # type: ignore[no-untyped-call]
        cells = [(k, str(c.get("source", ""))) for k, c in enumerate(nb.cells, 1) if c.get("cell_type") == "code"]
    except Exception as exc:  # nbformat raises many kinds for a damaged notebook
        return [], f"{path.name} is not a readable notebook ({type(exc).__name__}: {exc})"
    return cells, ""


_ASSIGN_ESCAPE = re.compile(r"^(\s*)([A-Za-z_][\w, ]*)=\s*[!%]")
_HELP = re.compile(r"^\?{0,2}[A-Za-z_][\w.]*\?{0,2}$")  # obj? obj?? ?obj: IPython's help


def _blank_ipython(text: str) -> tuple[str | None, list[str]]:
    """IPython-only lines made harmless, keeping line numbers: ``%magic``, ``!shell``,
    ``x = !cmd``, ``obj?``. None when the whole cell is a non-Python cell magic."""
    lines = text.split("\n")
    dropped: list[str] = []
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        if not first.startswith(_BODY_MAGICS):
            return None, [first]
        dropped.append(first)
        lines[0] = ""
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if stripped.startswith(("%", "!")) or ("?" in stripped and _HELP.match(stripped)):
            dropped.append(stripped)
            lines[i] = indent + "pass" if indent else ""
        elif m := _ASSIGN_ESCAPE.match(line):
            dropped.append(stripped)
            lines[i] = f"{m.group(1)}{m.group(2)}= None"
    return "\n".join(lines), dropped


# --------------------------------------------------------------------------- statements


@dataclass
class _Stmt:
    node: ast.stmt
    source: str  #: the statement's text
    filename: str
    cell: int  #: 0 for a .py file
    line: int  #: where it starts in the file or cell
    binds: set[str] = field(default_factory=set)
    refs: set[str] = field(default_factory=set)
    star: bool = False


def _scopes(source: str) -> tuple[set[str], set[str]]:
    """Names a top-level statement binds, and global names it (or any function or class
    inside it) reads, by Python's own scope analysis."""
    top = symtable.symtable(source, "<statement>", "exec")
    binds = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    refs: set[str] = set()
    todo = [(top, True)]
    while todo:
        table, is_top = todo.pop()
        refs |= {s.get_name() for s in table.get_symbols() if s.is_referenced() and (is_top or s.is_global())}
        todo.extend((child, False) for child in table.get_children())
    return binds, refs


def _what(node: ast.stmt) -> str:
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}"
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return f"def {node.name}"
    text = ast.unparse(node).splitlines()[0] if not isinstance(node, ast.If | ast.Try | ast.With) else ""
    return text[:60] + ("..." if len(text) > 60 else "") if text else type(node).__name__.lower() + " block"


def _statements(
    cells: Sequence[tuple[int, str]], name: str, parsed: ast.Module | None = None
) -> tuple[list[_Stmt], list[str], str]:
    """Every top-level statement of the cells, with the notes and an unreadable Value cell's
    error; ``parsed``: cell 0's tree (a ``.py`` file's), when the caller has it."""
    stmts: list[_Stmt] = []
    notes: list[str] = []
    value_error = ""
    magics = 0
    for cell, text in cells:
        where = f"{name} [cell {cell}]" if cell else name
        try:
            tree = parsed if parsed is not None and cell == 0 else ast.parse(text)
        except SyntaxError:
            cleaned, dropped = _blank_ipython(text) if cell else (None, [])
            magics += len(dropped) if cleaned is not None else 0
            if cleaned is None:
                if dropped:
                    notes.append(f"cell {cell}: skipped ({dropped[0]} is not Python)")
                    continue
                cleaned = text
            try:
                tree = ast.parse(cleaned)
            except SyntaxError as exc:
                if _DEFINES_VALUE.search(text):
                    value_error = f"{where}, line {exc.lineno}: {exc.msg} (this code defines Value)"
                label = f"cell {cell}" if cell else name
                notes.append(f"{label}: skipped, a syntax error on line {exc.lineno}: {exc.msg}")
                continue
            text = cleaned
        lines = text.split("\n")
        for node in tree.body:
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            end = node.end_lineno or node.lineno
            source = "\n".join(lines[start - 1 : end]) + "\n"
            st = _Stmt(node, source, where, cell, start)
            st.star = isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
            try:
                st.binds, st.refs = _scopes(source)
            except SyntaxError:  # e.g. a 'return' outside a function: the compiler would refuse it too
                pass
            stmts.append(st)
    if magics:
        notes.append(f"blanked {magics} IPython line{'s' * (magics != 1)} (magics, shell escapes, help)")
    return stmts, notes, value_error


def _patches_value(node: ast.stmt) -> bool:
    """``Value.__radd__ = Value.__add__`` or ``setattr(Value, ...)``: changes the class."""
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    for t in targets:
        while isinstance(t, ast.Attribute | ast.Subscript):
            t = t.value
            if isinstance(t, ast.Name) and t.id == "Value":
                return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        call = node.value
        if isinstance(call.func, ast.Name) and call.func.id == "setattr" and call.args:
            return isinstance(call.args[0], ast.Name) and call.args[0].id == "Value"
    return False


def _configures(node: ast.stmt) -> bool:
    """``sys.setrecursionlimit(...)``, ``random.seed(...)``: calls that set how code runs."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in _CONFIG_CALLS


def _imports(stmts: Iterable[_Stmt]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The top-level modules the statements import absolutely, and the reference engines they
    import in any way (``from .micrograd import``...)."""
    absolute, borrowed = set(), set()
    for st in stmts:
        if "import" not in st.source:  # no import statement without the word: no tree to walk
            continue
        for node in ast.walk(st.node):
            if isinstance(node, ast.Import):
                named = [(a.name.split(".")[0], 0) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                named = [((node.module or "").split(".")[0], node.level)]
            else:
                continue
            absolute |= {m for m, level in named if m and not level}
            borrowed |= {m for m, _ in named if m in REFERENCE_ENGINES}
    return tuple(sorted(absolute)), tuple(sorted(borrowed))


def _select(stmts: list[_Stmt], extra: Sequence[str] = ()) -> tuple[set[int], int, list[int]]:
    """Which statements run: the last one binding Value, its patches, every one binding a
    name of ``extra`` (the nn checks' ``MLP``, ``train``), and (to a fixpoint) every
    statement binding a global name that kept code reads. Returns the kept indices, the
    Value statement's index (-1: none) and every Value definition's index."""
    defs = [i for i, st in enumerate(stmts) if "Value" in st.binds]
    if not defs:
        return set(), -1, []
    chosen = defs[-1]
    kept = {chosen} | {i for i, st in enumerate(stmts) if (i > chosen and _patches_value(st.node))
                       or _configures(st.node) or (st.binds & set(extra) and "Value" not in st.binds)}
    binders: dict[str, list[int]] = defaultdict(list)  #: who binds each name (not Value's own definitions)
    for i, st in enumerate(stmts):
        if "Value" not in st.binds and not isinstance(st.node, ast.Expr):
            for name in st.binds:
                binders[name].append(i)
    todo, needed = list(kept), set[str]()
    while todo:  # each statement and each name looked at once: linear in the code's size
        for name in stmts[todo.pop()].refs - needed - {"Value"}:
            needed.add(name)
            for i in binders.pop(name, ()):
                if i not in kept:
                    kept.add(i)
                    todo.append(i)
    bound = set().union(*(stmts[i].binds for i in kept))
    if needed - bound:  # a name only a star import can supply
        kept |= {i for i, st in enumerate(stmts) if st.star}
    return kept, chosen, defs


def _extract(
    cells: Sequence[tuple[int, str]], name: str, sub_id: str, path: Path, extra: Sequence[str] = (),
    parsed: ast.Module | None = None,
) -> Submission:
    """Cut the code that defines ``Value`` (and the names ``extra``) out of cells (cell 0: a
    whole ``.py`` file, ``parsed`` its tree if the caller has it)."""
    stmts, notes, value_error = _statements(cells, name, parsed)
    kept, chosen, defs = _select(stmts, extra)
    if chosen < 0:
        problem = value_error or f"{name} defines no class Value"
        return Submission(sub_id, path, problem=problem, notes=tuple(notes))
    value = stmts[chosen]
    if len(defs) > 1:
        places = ", ".join(f"cell {stmts[i].cell}" if stmts[i].cell else f"line {stmts[i].node.lineno}" for i in defs)
        notes.append(f"Value is defined {len(defs)} times ({places}); grading the last, as a run from top to bottom "
                     "would")
    if not isinstance(value.node, ast.ClassDef):
        notes.append(f"Value comes from `{_what(value.node)}`")
    kinds = len(stmts)
    notes.insert(0, f"kept {len(kept)} of {kinds} top-level statements: the class Value and what it needs")
    futures = tuple(sorted({a.name for st in stmts if isinstance(st.node, ast.ImportFrom)
                            and st.node.module == "__future__" for a in st.node.names}))
    chunks = tuple(
        Chunk(st.source, st.filename, _what(st.node), essential=(i == chosen), futures=futures, line=st.line)
        for i, st in enumerate(stmts) if i in kept
    )
    cells_used = tuple(sorted({stmts[i].cell for i in kept if stmts[i].cell}))
    imports, borrowed = _imports(stmts[i] for i in kept)
    return Submission(sub_id, path, chunks=chunks, cells=cells_used, notes=tuple(notes), borrowed=borrowed,
                      imports=imports)


def extract_source(sub_id: str, source: str, name: str = "submission.py") -> Submission:
    """:func:`_extract` for the text of one ``.py`` file."""
    return _extract([(0, source)], name, sub_id, Path(name))


# --------------------------------------------------------------------------- files and folders


def _main_file(folder: Path) -> tuple[Path | None, str]:
    """The file of a folder submission that defines Value (a note says which, if several)."""
    files = [p for p in _files_of(folder) if p.suffix in SUFFIXES]
    defining = []
    for p in files:
        try:
            if _DEFINES_VALUE.search(_read(p).decode("utf-8", errors="replace")):
                defining.append(p)
        except OSError:
            continue
    pool = defining or files
    if not pool:
        return None, ""
    pool.sort(key=lambda p: (p.name.startswith("test"), len(p.relative_to(folder).parts), p.suffix != ".ipynb",
                             str(p)))
    note = f"{len(pool)} files define Value; grading {pool[0].relative_to(folder)}" if len(pool) > 1 else ""
    return pool[0], note


def _siblings(folder: Path) -> tuple[tuple[str, bytes], ...]:
    """The folder's ``.py`` modules (with their sub-folders), for the child's working folder."""
    out, total = [], 0
    for p in _files_of(folder):
        if p.suffix == ".py":
            try:
                data = _read(p)
            except OSError:
                continue
            total += len(data)
            if total > _MAX_SIBLINGS:
                break
            out.append((p.relative_to(folder).as_posix(), data))
    return tuple(out)


def _parse_error(exc: BaseException) -> str:
    if isinstance(exc, MemoryError | RecursionError):
        return f"{type(exc).__name__} (code nested too deeply for Python's parser)"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def load_submission(ref: SubmissionRef, extra: Sequence[str] = ()) -> Submission:
    """Read and cut one submission (keeping the names ``extra`` too: the nn checks' ``MLP``
    and ``train``). Never raises for a bad submission: ``problem`` says what is wrong (no
    file, unreadable notebook, syntax error, no Value)."""
    path = ref.path
    folder_note, files = "", ()  # type: str, tuple[tuple[str, bytes], ...]
    if path.is_symlink() and ref.listed:
        return Submission(ref.id, path, problem=f"{path.name} is a symbolic link: not followed")
    if path.is_dir():
        main, folder_note = _main_file(path)
        if main is None:
            return Submission(ref.id, path, problem=f"{path.name}/ holds no .py or .ipynb file")
        files = _siblings(path)
    elif path.suffix in SUFFIXES and path.exists():
        main = path
    elif path.exists():
        return Submission(ref.id, path, problem=f"{path.name} is neither a .py file nor a .ipynb notebook")
    else:
        return Submission(ref.id, path, problem=f"{path}: no such file or folder")
    parsed = None
    if main.suffix == ".ipynb":
        cells, problem = _notebook_cells(main)
        if problem:
            return Submission(ref.id, path, main=main, problem=problem)
    else:
        try:
            cells = [(0, _read(main).decode("utf-8", errors="replace"))]
        except OSError as exc:
            return Submission(ref.id, path, main=main, problem=f"{main.name} cannot be read: {exc}")
        try:
            parsed = ast.parse(cells[0][1])
        except SyntaxError as exc:
            return Submission(ref.id, path, main=main,
                              problem=f"{main.name} does not parse: line {exc.lineno}: {exc.msg}")
        except _PARSE_ERRORS as exc:
            return Submission(ref.id, path, main=main, problem=f"{main.name} does not parse: {_parse_error(exc)}")
    try:
        sub = _extract(cells, main.name, ref.id, path, extra, parsed)
    except _PARSE_ERRORS as exc:
        return Submission(ref.id, path, main=main, problem=f"{main.name} cannot be analysed: {_parse_error(exc)}")
    notes = (folder_note,) * bool(folder_note) + sub.notes
    return Submission(sub.id, path, main, sub.chunks, files, sub.cells, notes, sub.problem, sub.borrowed, sub.imports)
