"""The grader and the reports import one way: the reports read the grades (type hints
only) and are called by the grader, never importing it back; inside the grader each
module imports only those before it (model <- nn <- assignment <- score <- run <- batch).
The import graph is tests/test_layers.py's (lazy imports included)."""

from __future__ import annotations

from tests.test_layers import import_graph

GRADING_ORDER = ["model", "nn", "assignment", "score", "run", "batch"]


def test_the_reports_never_import_the_grader() -> None:
    graph = import_graph()
    for module in sorted(m for m in graph if m.startswith("gradcheck_lab.report")):
        back = {m for m in graph[module] if m.startswith("gradcheck_lab.grading")}
        assert not back, f"{module} imports {back}"


def test_the_grading_modules_import_one_way() -> None:
    graph = import_graph()
    for k, name in enumerate(GRADING_ORDER):
        later = {f"gradcheck_lab.grading.{m}" for m in GRADING_ORDER[k + 1:]} | {"gradcheck_lab.grading"}
        found = graph[f"gradcheck_lab.grading.{name}"] & later
        assert not found, f"grading/{name}.py imports {found}"
    assert not {m for m in graph["gradcheck_lab.grading.model"] if m.startswith("gradcheck_lab.report")}
