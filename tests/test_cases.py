"""Case files and case sources: what parses, and how bad input is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_lab import Case, CaseError, check_cases, collect_cases, load_case_file, parse_source
from gradcheck_lab.engine import Value
from gradcheck_lab.executors import InProcessExecutor

GOOD = '''
[[case]]
name = "good-one"
source = """
a = x * y
L = tanh(a) + a.tanh()
"""
points = [{x = 1.0, y = 0.5}]
expect = {x = 0.7864477329659274}
'''


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sources_become_twin_nodes() -> None:
    p = parse_source("a = x1 * x2\nb = log(a)\nL = b + a.sin() + 2 * x1")
    assert p.inputs == ("x1", "x2")
    assert [n.title for n in p.nodes] == ["x1", "x2", "a", "b", "a.sin()", "b + a.sin()", "2 * x1", "L"]
    assert [n.op for n in p.nodes[2:]] == ["mul", "log", "sin", "add", "mul", "add"]
    assert p.output == len(p.nodes) - 1


def test_method_and_call_forms_are_the_same_op() -> None:
    assert [n.op for n in parse_source("L = tanh(x)").nodes] == [n.op for n in parse_source("L = x.tanh()").nodes]
    assert parse_source("L = x.max(y)").nodes[-1].op == "max"


def test_constants_fold_and_named_constants() -> None:
    p = parse_source("k = 1/2\nL = k * x ** -1 + exp(0)")
    assert p.nodes[-1].args[1] == 1.0
    assert p.nodes[1].args == (-1,) or p.nodes[1].op == "pow"


@pytest.mark.parametrize(
    ("source", "message", "line", "col"),
    [
        ("__import__('os')", "unknown function '__import__'", 1, 1),
        ("a = x * 1\nL = a.__class__", "attribute access is not allowed", 2, 5),
        ("L = (lambda: 1)()", "calls like", 1, 5),
        ("L = x + (lambda: 1)", "a lambda is not allowed", 1, 10),
        ("L = sqrt(x)", "unknown function 'sqrt'", 1, 5),
        ("L = x % 2", "operator % is not allowed", 1, 5),
        ("L = x ** y", "Value ** Value is not supported", 1, 5),
        ("a = x * 2\na = x * 3", "assigned twice", 2, 1),
        ("import os", "import is not allowed", 1, 1),
        ("L = x +", "syntax error", 1, 8),
        ("L = 'x'", "only numbers are allowed", 1, 5),
        ("L = log + 1", "'log' is an op", 1, 5),
        ("L = tanh(x, y)", "tanh takes 1 argument", 1, 5),
        ("y = x\nL = y * 2", "makes no new node", 1, 1),
        ("L = 2 * 3", "must be computed from the inputs", 1, 1),
        ("L = log(-1.0) * x", "log needs a positive argument", 1, 5),
        ("L = x[0]", "indexing is not allowed", 1, 5),
    ],
)
def test_bad_sources_are_located(source: str, message: str, line: int, col: int) -> None:
    with pytest.raises(CaseError, match=message.replace("(", r"\(").replace("*", r"\*").replace("%", "%")) as info:
        parse_source(source)
    assert (info.value.line, info.value.col) == (line, col)


@pytest.mark.parametrize(
    ("bad", "message", "line", "col"),
    [
        ('name = "broken\nsource = "x*2"\npoints = [{x = 1.0}]\n', "TOML", 1, 15),
        ('name = "unknown-op"\nsource = """\na = x * 2\nL = sqrt(a)\n"""\npoints = [{x = 1.0}]\n',
         "unknown function 'sqrt'", 4, 5),
        ('name = "imports"\nsource = "__import__(\'os\').system(\'true\')"\npoints = [{x = 1.0}]\n',
         "unknown function 'system'", 2, 11),
        ('name = "attr"\nsource = "L = x.__class__"\npoints = [{x = 1.0}]\n', "attribute access", 2, 15),
        ('name = "lam"\nsource = """\nL = x + (lambda: 2)\n"""\npoints = [{x = 1.0}]\n', "lambda", 3, 10),
        ('name = "pts"\nsource = "L = x * y"\npoints = [{x = 1.0}]\n', "point 1 lacks y", 3, 1),
        ('name = "key"\nsource = "L = x * 2"\npoints = [{x = 1.0}]\ntolerance = 3\n', "unknown key 'tolerance'", 4, 1),
        ('name = "exp"\nsource = "L = x * 2"\npoints = [{x = 1.0}]\nexpect = {z = 1.0}\n', "names 'z'", 4, 1),
    ],
)
def test_malformed_case_is_located_and_the_others_still_run(
    tmp_path: Path, bad: str, message: str, line: int, col: int
) -> None:
    # the bad case sits between two good ones; its line numbers are file line numbers
    text = GOOD + "\n[[case]]\n" + bad + GOOD.replace("good-one", "good-two")
    path = write(tmp_path, text)
    cases, errors = load_case_file(path)
    assert [c.name for c in cases] == ["good-one", "good-two"]
    assert len(errors) == 1
    err = errors[0]
    first = GOOD.count("\n") + 2  # the line of the bad case's [[case]] header
    assert message in err.message
    assert (err.file, err.line, err.col) == (str(path), first + line, col)
    assert str(err).startswith(f"{path}:{first + line}:{col}: case ")
    run = check_cases(cases, InProcessExecutor(Value), errors=errors, samples=0)
    assert [r.verdict for r in run.results] == ["ok", "ok"]
    assert run.exit_code == 2


def test_selector_picks_one_case(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + GOOD.replace("good-one", "good-two"))
    cases, errors = collect_cases([f"{path}::good-two"])
    assert [c.name for c in cases] == ["good-two"] and not errors
    assert cases[0].selector == f"{path}::good-two"
    _, errors = collect_cases([f"{path}::nope", tmp_path / "missing.toml"])
    assert ["no case named 'nope'" in e.message or "no such file" in e.message for e in errors] == [True, True]


def test_duplicate_names_and_stray_tables(tmp_path: Path) -> None:
    path = write(tmp_path, "title = 'x'\n" + GOOD + GOOD)
    cases, errors = load_case_file(path)
    assert len(cases) == 1
    assert sorted(e.message.split(";")[0] for e in errors) == sorted(
        ["unexpected 'title' before the first [[case]]", "the name 'good-one' is used twice in this file"]
    )


def test_expect_keeps_the_digits_written(tmp_path: Path) -> None:
    (case,), _ = load_case_file(write(tmp_path, GOOD.replace("0.7864477329659274", "2.7090")))
    assert getattr(case.expect["x"], "text", None) == "2.7090"
    assert case.expect["x"].tolerance() == pytest.approx(1.5e-4)  # type: ignore[attr-defined]


def test_shipped_cases_cover_every_op(shipped_cases: list[Case]) -> None:
    from gradcheck_lab.ops import OPS

    used = {n.op for c in shipped_cases for n in c.program.nodes}
    assert set(OPS) <= used
    assert len(shipped_cases) >= 30
    assert len({c.name for c in shipped_cases}) == len(shipped_cases)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xyz0123456789.+-*/()_ =\nabcdefghijklmnopqrstuvw,:[]{}'\"\\%", max_size=60))
def test_hostile_sources_give_case_errors_only(source: str) -> None:
    try:
        program = parse_source(source)
    except CaseError as exc:
        assert exc.message
    else:
        assert program.nodes[program.output].op != "input"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_hostile_case_files_never_crash_the_loader(source: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.toml"
        path.write_text("[[case]]\n" + source, encoding="utf-8")
        cases, errors = load_case_file(path)
        assert all(isinstance(e, CaseError) for e in errors)
        assert len(cases) + len(errors) >= 1


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(CaseError, match=r"nested too deeply|syntax error"):
        parse_source("L = " + "(" * 5000 + "x" + ")" * 5000)
