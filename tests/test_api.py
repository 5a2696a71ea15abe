"""The public API: every module's ``__all__`` says exactly what it offers, the package's comes
from its modules' own, and user engines are typed by :class:`ValueLike`.

A module's public names are the functions and classes it defines without a leading
underscore; each is in its ``__all__``, but for the exceptions :func:`_why_not_listed`
names (a script's ``main``, pytest's hooks). Anything else a module uses only itself is
``_private``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import gradcheck_lab
from gradcheck_lab import ValueLike

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gradcheck_lab"
#: Modules with no ``__all__``, and why.
NO_ALL = {
    "gradcheck_lab.__main__": "python -m gradcheck_lab: it only calls cli.main",
    "gradcheck_lab.engine": "generated, plain micrograd-style code a student reads; the package exports Value",
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["gradcheck_lab", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join(parts), path))
    return found


MODULES = [(name, path) for name, path in _modules() if name not in NO_ALL]


def _why_not_listed(tree: ast.Module, name: str) -> str:
    """Why a public definition may stay out of ``__all__`` ("" when it may not)."""
    runs_as_script = any(isinstance(n, ast.If) and "__main__" in ast.unparse(n.test) for n in tree.body)
    if name == "main" and runs_as_script:
        return "the entry point of a module run as a script"
    if name.startswith("pytest_"):
        return "a pytest hook, which pytest calls by name"
    return ""


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[n for n, _ in MODULES])
def test_all_lists_exactly_the_public_definitions(name: str, path: Path) -> None:
    module = importlib.import_module(name)
    listed = getattr(module, "__all__", None)
    assert listed is not None, f"{name} has no __all__"
    assert len(set(listed)) == len(listed), f"{name}.__all__ repeats a name"
    absent = [n for n in listed if not hasattr(module, n)]
    assert not absent, f"{name}.__all__ lists names it does not have: {absent}"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    unlisted = [d for d in defined if not d.startswith("_") and d not in listed and not _why_not_listed(tree, d)]
    assert not unlisted, f"{name} defines public {unlisted}: list them in __all__, or make them _private"


def test_the_modules_without_all_are_the_known_ones() -> None:
    names = {name for name, _ in _modules()}
    assert set(NO_ALL) <= names
    for name in NO_ALL:
        assert "__all__" not in (PACKAGE.parent / (name.replace(".", "/") + ".py")).read_text(encoding="utf-8")


def test_the_package_exports_its_modules_public_names() -> None:
    listed = gradcheck_lab.__all__  # sorted: ruff's RUF022
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    sources = {a.asname or a.name: node.module for node in tree.body if isinstance(node, ast.ImportFrom)
               for a in node.names if node.level}  # not __future__
    assert set(listed) == set(sources), "the package exports exactly what it imports"
    for name, module in sources.items():
        defining = importlib.import_module(f"gradcheck_lab.{module}")
        offered = dir(defining) if f"gradcheck_lab.{module}" in NO_ALL else defining.__all__
        assert name in offered, f"{module} does not list {name}"


# --------------------------------------------------------------------------- ValueLike

#: Every public callable a user's engine (the class) goes into, and its parameter.
ENGINE_PARAMETERS = [
    ("gradcheck_lab.harness", "check", "value_class"),
    ("gradcheck_lab.harness", "assert_gradients", "value_class"),
    ("gradcheck_lab.notebook", "check_engine", "value_class"),
    ("gradcheck_lab.notebook", "explain", "value_class"),
    ("gradcheck_lab.executors", "InProcessExecutor", "value_class"),
    ("gradcheck_lab.executors", "observe", "value_class"),
    ("gradcheck_lab.executors", "forward_value", "value_class"),
    ("gradcheck_lab.inprocess", "InProcessRunner", "value_class"),
    ("gradcheck_lab.diagnose.findings", "find_bugs", "value_class"),
    ("gradcheck_lab.diagnose.match", "observe_probes", "value_class"),
]


@pytest.mark.parametrize(("module", "name", "parameter"), ENGINE_PARAMETERS,
                         ids=[f"{m.rpartition('.')[2]}.{n}" for m, n, _ in ENGINE_PARAMETERS])
def test_user_engines_are_typed_by_valuelike(module: str, name: str, parameter: str) -> None:
    obj = getattr(importlib.import_module(module), name)
    hints = typing.get_type_hints(obj.__init__ if inspect.isclass(obj) else obj)
    assert hints[parameter] in (type[ValueLike], type[ValueLike] | None), f"{name}({parameter}: {hints[parameter]})"


def test_the_engines_we_ship_and_test_are_valuelike() -> None:
    from gradcheck_lab.engine import Value
    from tests.engines.micrograd_style import Value as Micrograd

    for value_class in (Value, Micrograd):
        assert isinstance(value_class(1.5), ValueLike)
    assert not isinstance(1.5, ValueLike)


_USER_CODE = '''
from __future__ import annotations

from gradcheck_lab import check


class Value:
    def __init__(self, data: float, _children: tuple[Value, ...] = ()) -> None:
        self.data, self.grad, self._prev = data, 0.0, set(_children)

    def __add__(self, other: Value | float) -> Value:
        return Value(self.data + (other.data if isinstance(other, Value) else other), (self,))

    def __mul__(self, other: Value | float) -> Value:
        return Value(self.data * (other.data if isinstance(other, Value) else other), (self,))

    def __pow__(self, k: float) -> Value:
        return Value(self.data**k, (self,))

    __radd__, __rmul__ = __add__, __mul__

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Value | float) -> Value:
        return self + (-other)

    def __rsub__(self, other: float) -> Value:
        return other + (-self)

    def __truediv__(self, other: Value | float) -> Value:
        return self * other**-1

    def __rtruediv__(self, other: float) -> Value:
        return other * self**-1

    def backward(self) -> None:
        self.grad = 1.0


check("L = x * y", {"x": 1.0, "y": 2.0}, Value)
check("L = x * y", {"x": 1.0, "y": 2.0}, Value(1.0))  # refused: an instance, not the class
check("L = x * y", {"x": 1.0, "y": 2.0}, float)  # refused: no backward, no grad
'''


@pytest.mark.slow
def test_mypy_takes_a_typed_engine_class_and_refuses_what_is_not_one(tmp_path: Path) -> None:
    user = tmp_path / "user_engine.py"
    user.write_text(_USER_CODE, encoding="utf-8")
    found = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
         str(tmp_path / "cache"), str(user)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    errors = [line for line in found.stdout.splitlines() if ": error:" in line]
    refused = [str(k) for k, line in enumerate(_USER_CODE.splitlines(), 1) if "# refused" in line]
    assert [line.split(":")[1] for line in errors] == refused, found.stdout
    assert all('expected "type[ValueLike] | None"' in line for line in errors), found.stdout
