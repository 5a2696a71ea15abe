"""A pytest plugin (entry point ``pytest11``, loaded wherever gradcheck_lab is installed):
check your engine from a course repository's tests.

In a test file::

    from my_value import Value

    def test_engine(gradcheck):
        gradcheck.engine(Value)          # fails with the diagnosis and the counterexample

Or with no test file at all: ``pytest --gradcheck my_value.py`` adds one test per file
given (a ``.py`` file, a notebook or a folder, as ``grade`` takes them). Both run
:func:`~gradcheck_lab.check_engine` (``grade``'s probes, cases and diagnosis, in process,
under its time limits); ``--gradcheck-cases PATH`` picks the cases (default: ``grade``'s).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .cases import Case
    from .notebook import EngineCheck
    from .valuelike import ValueLike

__all__ = ["EngineCheckFailed", "Gradcheck", "GradcheckItem", "gradcheck"]


class EngineCheckFailed(AssertionError):
    """The engine disagrees with the truth; the message is the diagnosis and the counterexample."""


def _cases(config: pytest.Config, given: Iterable[Case | str | Path] | None) -> list[Case] | None:
    from .cases import Case, collect_cases
    from .errors import GradcheckError

    selectors = list(given) if given is not None else config.getoption("gradcheck_cases") or None
    if selectors is None:
        return None
    cases = [s for s in selectors if isinstance(s, Case)]
    found, errors = collect_cases([s for s in selectors if not isinstance(s, Case)])
    if errors:
        raise GradcheckError(f"the cases do not load: {errors[0]}")
    return cases + found


class Gradcheck:
    """What the ``gradcheck`` fixture gives a test."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def engine(self, value_class: type[ValueLike], cases: Iterable[Case | str | Path] | None = None,
               **options: Any) -> EngineCheck:
        """Check ``value_class`` as ``grade`` would; fail the test with the diagnosis and the
        counterexample unless it is ok. ``cases``: Case objects or selectors (``cases/``,
        ``file.toml::name``); ``options`` go to :func:`~gradcheck_lab.check_engine`."""
        __tracebackhide__ = True
        from .notebook import check_engine
        from .report.notebook import failure_message

        found = check_engine(value_class, _cases(self.config, cases), **options)
        if not found.ok:
            raise EngineCheckFailed(failure_message(found))
        return found


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> Gradcheck:
    """Check a Value class from a test: ``gradcheck.engine(Value)``."""
    return Gradcheck(request.config)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "checking autograd engines (gradcheck_lab)")
    group.addoption("--gradcheck", action="append", default=[], metavar="FILE",
                    help="check the class Value defined in FILE (.py, .ipynb or a folder; one test each; repeatable)")
    group.addoption("--gradcheck-cases", action="append", default=[], metavar="PATH",
                    help="cases for gradcheck: a case file, folder or file.toml::name (default: grade's cases)")


class GradcheckItem(pytest.Item):
    """One ``--gradcheck FILE``: the class ``Value`` in it, checked."""

    def __init__(self, *, file: Path, **kwargs: Any) -> None:
        super().__init__(path=file, nodeid=f"{kwargs['name']}", **kwargs)
        self.file = file

    def runtest(self) -> None:
        from .implementations import load_implementation

        Gradcheck(self.config).engine(load_implementation(self.file)[0])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, EngineCheckFailed | ImportError) or type(excinfo.value).__module__.startswith(
                "gradcheck_lab"):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.file, None, f"gradcheck {self.file}"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    files: Sequence[str] = config.getoption("gradcheck")
    for name in files:
        path = Path(name).resolve()
        items.append(GradcheckItem.from_parent(session, name=f"gradcheck[{name}]", file=path))
