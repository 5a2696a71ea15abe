"""Layers that point one way: no module imports a module of a higher layer, and the import
graph of gradcheck_lab has no cycle.

The graph is read from the source with :mod:`ast`: imports at module level and inside
functions (a lazy import that dodges a cycle is still a cycle); only imports under
``if TYPE_CHECKING:`` are left out (they never run). ``from .x import y`` is resolved
against the importing module; ``from pkg import name`` is an edge to the submodule
``pkg.name`` when there is one, else to ``pkg`` (even the importer's own package: its
``__init__`` must have run that far). Importing ``a.b.c`` also runs ``a/b/__init__.py``
first, so it is an edge to every package above the target that is not above the importer
too (those are already being imported then).
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "gradcheck_lab"
PACKAGE = "gradcheck_lab"

#: The layers, lowest first: a module may import its own layer and the layers below,
#: never above. Names are relative to gradcheck_lab ("" is the package itself); a
#: pattern's first match places a module, and every module must be placed.
LAYERS: list[tuple[str, list[str]]] = [
    ("base: errors, files, the op table, the engine protocol",
     ["version", "errors", "atomic", "drawing", "ops", "valuelike"]),
    ("programs and the reference engine", ["program", "engine", "source", "nn.network", "nn.dataset"]),
    ("case files and the oracles", ["cases", "truth", "symbolic", "finite_diff", "answer_keys"]),
    ("execution: who runs requests (in process, a sandboxed child)",
     ["drive", "executors", "batches", "implementations", "inprocess", "submissions", "submissions.*", "nn.loading"]),
    ("judging one case", ["compare", "checktable", "training", "plan", "harness", "walkthrough", "soundness"]),
    ("diagnosis", ["diagnose", "diagnose.*", "nn", "nn.*"]),
    ("reports: rendering only (the grader calls them; they read its grades as types only)", ["report", "report.*"]),
    ("grading and exercises", ["grading", "grading.*", "exercises", "exercises.*"]),
    ("the library's front door", ["notebook", "pytest_plugin", ""]),
    ("the command line", ["commands", "commands.*", "cli", "__main__"]),
]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by dotted name ("gradcheck_lab.report.tables")."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: module level and inside functions, not under
    ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for s in node.orelse for n in _runtime_imports(ast.Module(body=[s], type_ignores=[])))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _runtime_imports(node)


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package modules it imports (directly, or by running their package's
    ``__init__``)."""
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
                continue
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names)
        own = set(_ancestors(name)) | ({name} if path.name == "__init__.py" else set())
        for target in targets:
            if target.split(".")[0] != PACKAGE:
                continue
            assert target in mods, f"{path}: imports {target}, which is no module of {PACKAGE}"
            graph[name].update(t for t in _ancestors(target) if t not in own)
            if target != name:
                graph[name].add(target)
    return graph


def short(name: str) -> str:
    return name.removeprefix(PACKAGE).removeprefix(".")


def layer_of(name: str) -> int:
    for k, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(short(name), p) for p in patterns):
            return k
    raise LookupError(f"{name} is in no layer: place it in tests/test_layers.py's LAYERS")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm,
    iterative), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found, key=len, reverse=True)


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One closed path through a strongly connected component, to name in a failure."""
    members = set(component)
    path = [component[0]]
    seen = {component[0]: 0}
    while True:
        nxt = min(w for w in graph[path[-1]] if w in members)
        if nxt in seen:
            return [*path[seen[nxt]:], nxt]
        seen[nxt] = len(path)
        path.append(nxt)


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for name in modules():
        try:
            layer_of(name)
        except LookupError:
            unplaced.append(name)
    assert not unplaced, f"modules in no layer (add them to LAYERS): {unplaced}"


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Each import from a lower layer into a higher one, named with both layers."""
    return [f"{short(a) or PACKAGE} ({LAYERS[layer_of(a)][0]}) imports {short(b) or PACKAGE} ({LAYERS[layer_of(b)][0]})"
            for a, targets in sorted(graph.items()) for b in sorted(targets) if layer_of(b) > layer_of(a)]


def test_no_lower_layer_imports_a_higher_one() -> None:
    found = upward(import_graph())
    assert not found, "imports pointing up:\n" + "\n".join(found)


def test_an_import_pointing_up_is_named() -> None:
    graph = {"gradcheck_lab.ops": {"gradcheck_lab.report.tables"}, "gradcheck_lab.report.tables": {"gradcheck_lab.ops"}}
    assert upward(graph) == [
        "ops (base: errors, files, the op table, the engine protocol) imports report.tables (reports: rendering only "
        "(the grader calls them; they read its grades as types only))"
    ]
    assert a_cycle(graph, cycles(graph)[0]) == ["gradcheck_lab.ops", "gradcheck_lab.report.tables", "gradcheck_lab.ops"]


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    found = [" -> ".join(short(m) or PACKAGE for m in a_cycle(graph, c)) + f" ({len(c)} modules in the cycle)"
             for c in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}}, [["a", "b"], ["c", "d"]]),
])
def test_cycles_finds_every_strongly_connected_component(source: dict[str, set[str]], expected: list) -> None:
    assert sorted(cycles(source)) == expected
    for component in cycles(source):
        loop = a_cycle(source, component)
        assert loop[0] == loop[-1] and all(b in source[a] for a, b in zip(loop, loop[1:]))


def test_the_graph_reads_lazy_relative_and_package_imports(tmp_path: Path) -> None:
    files = {
        "__init__.py": "from .a import f\n",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import T\n"
                "def f():\n    from .sub.c import g  # lazy\n    return g\n",
        "b.py": "from . import a\nfrom gradcheck_lab import f\n",
        "sub/__init__.py": "from .c import g\nfrom .. import b\n",
        "sub/c.py": "from .d import h\nfrom ..a import f\n",
        "sub/d.py": "import os\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = {short(m): {short(t) for t in targets} for m, targets in import_graph(tmp_path).items()}
    assert graph == {
        "": {"a"},
        "a": {"sub", "sub.c"},  # lazy, and sub/__init__.py runs first; b only for the type checker
        "b": {"a", ""},  # a submodule; the package itself, for the name it defines
        "sub": {"sub.c", "b"},
        "sub.c": {"sub.d", "a"},  # sub/__init__.py is its own package's: already running
        "sub.d": set(),
    }
    assert [short(m) for m in cycles(import_graph(tmp_path))[0]] == ["", "a", "b", "sub", "sub.c"]
