"""The new-op checklist, run for every row of the op table: adding an op is one row and one
case, and nothing it needs elsewhere can be forgotten silently."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gradcheck_lab import drive
from gradcheck_lab.cases import collect_cases
from gradcheck_lab.diagnose import CATALOG
from gradcheck_lab.diagnose.catalog import OP_NAMES, form_method, submission_source
from gradcheck_lab.diagnose.faults import Faults, compile_engine, student_source
from gradcheck_lab.diagnose.probes import FORMS, PROBES, composed_of
from gradcheck_lab.diagnose.strategies import Step, op_choices
from gradcheck_lab.engine import Value
from gradcheck_lab.executors import InProcessExecutor, lower
from gradcheck_lab.ops import OPERATORS, OPS, REFLECTED, UNARY, Op
from gradcheck_lab.program import python_operator
from gradcheck_lab.source import parse_source

ROWS = list(OPS.values())
CASES, ERRORS = collect_cases([Path(__file__).resolve().parents[1] / "cases"])


def _ops_of(program: object) -> set[str]:
    return {n.op for n in program.nodes}  # type: ignore[attr-defined]


def test_the_shipped_cases_load() -> None:
    assert not ERRORS


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_a_shipped_case_covers_it(op: Op) -> None:
    assert any(op.name in _ops_of(c.program) for c in CASES), f"no case in cases/ uses {op.name}"


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_the_catalog_can_say_it_is_missing(op: Op) -> None:
    for name in op.names:
        assert name in OP_NAMES and f"unsupported:{name}" in CATALOG


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_strategies_and_probes_include_it(op: Op) -> None:
    assert op.name in op_choices()
    assert any(op.name in _ops_of(p.program) for p in PROBES if p.form), f"no form probe of {op.name}"


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_the_student_file_writer_emits_it(op: Op) -> None:
    source = student_source()
    assert f"    def {op.method}(" in source
    if op.reflected:
        assert f"    def {op.reflected_method}(" in source
    for name in op.names:  # a missing method is written as a file without it
        assert f"def {op.method if name == op.name else op.reflected_method}(" not in submission_source(
            (f"unsupported:{name}",))


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_every_way_a_case_writes_it_runs_on_both_engines(op: Op) -> None:
    forms = [p for p in PROBES if p.form and p.op == op.name]
    assert forms
    for engine in (Value, compile_engine()):
        for probe in forms:
            obs = InProcessExecutor(engine).execute(probe.program, [probe.point], []).observations[0]
            assert obs.error is None, (probe.form, obs.error)


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_the_row_says_how_a_source_writes_it(op: Op) -> None:
    if op.ast_node and op.arity == 2 and op.number_operand is None:
        assert OPERATORS[op.ast_node] is op
        assert python_operator(op) is not None
    if op.reflected:
        assert REFLECTED[op.reflected_method] == op.reflected
    if op.kink is not None:
        assert op.kink_text
    if op.is_function:
        assert parse_source(f"L = {op.name}({', '.join('xy'[: op.arity])})").nodes[-1].op == op.name


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_the_parser_and_the_strategies_write_it_as_the_row_says(op: Op) -> None:
    # a case source's operator (ast node) is the row's; a random program's step writes it back the same way
    operands = ("x", 3.0) if op.constant_exponent else (2.0, "x") if op.constant_base else ("x", "y")[: op.arity]
    written = ast.unparse(Step(op.name, operands).expr({}))
    assert parse_source(f"L = {written}").nodes[-1].op == op.name, written
    if op.ast_node and op.arity == 1:
        assert UNARY[op.ast_node] is op and parse_source(f"L = {op.symbol}x").nodes[-1].op == op.name
    if op.python and op.arity == 2 and op.number_operand is None:  # 2 - x needs a reflected form to name
        assert op.reflected and op.reflected_form in FORMS


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_the_child_names_a_missing_form_as_the_row_does(op: Op) -> None:
    # drive.py (stdlib only, loaded alone in the sandboxed child) finds the reflected method of a
    # number on the left itself; run each form of the row through it, the lowered way the child
    # does, on an engine without that form's method: the op it reports missing is the row's name
    for name in op.names:
        engine = compile_engine(Faults(methods=((form_method(name), None),)))
        forms = [p for p in PROBES if p.form and p.form_name == name]
        assert forms, name
        for probe in forms:
            found = drive.observe(engine, lower(probe.program), probe.point)
            assert found["error"] is not None and found["error"]["kind"] == "unsupported", (probe.form, found)
            assert found["error"]["op"] == name and name in OP_NAMES


@pytest.mark.parametrize("form", [f for f in FORMS if composed_of(f)])
def test_a_composed_form_is_built_from_forms_the_probes_isolate(form: str) -> None:
    assert composed_of(form) <= set(FORMS)
