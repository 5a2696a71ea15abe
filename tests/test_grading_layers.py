"""The grader and the reports import one way: the reports read the grades (type hints
only) and are called by the grader, never importing it back; inside the grader each
module imports only those before it (model <- assignment <- score <- run <- batch)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gradcheck_lab"
GRADING_ORDER = ["model", "assignment", "score", "run", "batch"]


def runtime_imports(path: Path) -> set[str]:
    """The gradcheck_lab modules a file imports when it runs (``if TYPE_CHECKING:`` blocks
    left out), lazy imports inside functions included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(("gradcheck_lab", *path.relative_to(PACKAGE).parent.parts))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m.startswith("gradcheck_lab")}


def test_the_reports_never_import_the_grader() -> None:
    for path in sorted((PACKAGE / "report").glob("*.py")):
        back = {m for m in runtime_imports(path) if m.startswith("gradcheck_lab.grading")}
        assert not back, f"{path.name} imports {back}"


def test_the_grading_modules_import_one_way() -> None:
    for k, name in enumerate(GRADING_ORDER):
        later = {f"gradcheck_lab.grading.{m}" for m in GRADING_ORDER[k + 1:]} | {"gradcheck_lab.grading"}
        found = runtime_imports(PACKAGE / "grading" / f"{name}.py") & later
        assert not found, f"grading/{name}.py imports {found}"
    model = runtime_imports(PACKAGE / "grading" / "model.py")
    assert not {m for m in model if m.startswith("gradcheck_lab.report")}
