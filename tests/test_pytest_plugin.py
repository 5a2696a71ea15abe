"""The pytest plugin in real pytest runs (pytester, in a subprocess: the plugin is loaded
from its entry point, as in a course repository): the ``gradcheck`` fixture and
``pytest --gradcheck FILE``, failing with the diagnosis and the counterexample."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED_ENGINES, seed004_before

pytest_plugins = ["pytester"]

CASES = str(ROOT / "cases/fan_out.toml")


@pytest.fixture
def course(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory,
           monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A course repository: the seed's corrected class and the one with `=`."""
    monkeypatch.setenv("GRADCHECK_CACHE", str(tmp_path_factory.getbasetemp() / "plugin-cache"))
    (pytester.path / "good_value.py").write_text((SEED_ENGINES / "seed004.py").read_text())
    (pytester.path / "bad_value.py").write_text(seed004_before(pytester.path).read_text())
    (pytester.path / "fan_out.toml").write_text(Path(CASES).read_text())
    return pytester


def test_the_fixture_passes_a_correct_engine_and_fails_a_wrong_one_with_the_diagnosis(course: pytest.Pytester) -> None:
    course.makepyfile(test_engine=f"""
        import good_value, bad_value

        def test_good(gradcheck):
            found = gradcheck.engine(good_value.Value, cases=[{CASES!r}])
            assert found.ok and "unsupported:sin" in found.codes

        def test_bad(gradcheck):
            gradcheck.engine(bad_value.Value, cases=[{CASES!r}])
    """)
    result = course.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*EngineCheckFailed: bad_value.Value: wrong (not ok)*",
        "*grad-overwrite: = instead of += in every backward*",
        "*reuse:add*x + x*x.grad = 2*x.grad = 1*",
        '*source = "L = x *',
        "*Your engine parts from the truth first in the backward pass, at x: x.grad should be 2, yours is 1*",
    ])
    assert "def engine(" not in result.stdout.str()  # the plugin's own frames are hidden


def test_gradcheck_option_checks_a_file_without_any_test_file(course: pytest.Pytester) -> None:
    result = course.runpytest_subprocess("-p", "no:cacheprovider", "--gradcheck", "bad_value.py",
                                         "--gradcheck", "good_value.py", "--gradcheck-cases", "fan_out.toml", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["gradcheck[[]bad_value.py[]] FAILED*", "gradcheck[[]good_value.py[]] PASSED*"])
    result.stdout.fnmatch_lines(["*grad-overwrite: = instead of += in every backward*",
                                 "*The smallest disagreement found: paste it into a case file and rerun it.*"])
    assert "Traceback" not in result.stdout.str()  # the diagnosis is the message, not a stack


def test_a_missing_file_is_a_clear_failure(course: pytest.Pytester) -> None:
    result = course.runpytest_subprocess("-p", "no:cacheprovider", "--gradcheck", "nowhere.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*nowhere.py: no such file*"])


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("gradcheck")
    assert Path(pytestconfig.pluginmanager.get_plugin("gradcheck").__file__).name == "pytest_plugin.py"


def test_gradcheck_option_takes_a_notebook(course: pytest.Pytester) -> None:
    import nbformat

    cells = [nbformat.v4.new_markdown_cell("# My engine"),
             nbformat.v4.new_code_cell((course.path / "good_value.py").read_text()),
             nbformat.v4.new_code_cell("n = Value(4.0); m = n + n; m.backward(); n.grad")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), course.path / "mine.ipynb")
    result = course.runpytest_subprocess("-p", "no:cacheprovider", "--gradcheck", "mine.ipynb",
                                         "--gradcheck-cases", "fan_out.toml", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gradcheck[[]mine.ipynb[]] PASSED*"])
