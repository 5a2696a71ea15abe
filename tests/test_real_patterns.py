"""Bug patterns met in real public engines (benchmarks/corpus), each reproduced in our own words as a small
Value class under tests/fixtures/real_patterns/ (over the plain ``_engine.py``), diagnosed through ``diagnose``'s
path: the expected codes are named, and no other bug code (a correct engine gets none; warnings and missing ops
never count)."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest

from gradcheck_lab.diagnose.catalog import CATALOG, Effect
from gradcheck_lab.diagnose.findings import find_bugs
from gradcheck_lab.implementations import load_value_class

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real_patterns"
PATTERNS = tomllib.loads((FIXTURES / "patterns.toml").read_text(encoding="utf-8"))["pattern"]
#: Expected codes the diagnosis does not name yet although the catalog has them: each is a measured gap, a strict
#: xfail that turns red when the diagnosis names it (then delete its line). A code missing from the catalog makes
#: its case an xfail by itself, until the code is added.
NOT_NAMED_YET: dict[str, str] = {}


def names(label: str, codes: set[str]) -> bool:
    """The same code, or a generic code and one of its op's codes (``grad-overwrite`` / ``grad-overwrite:add``);
    ``a|b``: two codes that describe the pattern equally well from outside, either names it."""
    return any(alt in codes or alt.split(":")[0] in codes or any(c.split(":")[0] == alt for c in codes)
               for alt in label.split("|"))


def diagnosed(path: Path) -> set[str]:
    with contextlib.redirect_stdout(io.StringIO()):
        return set(find_bugs(load_value_class(path), counterexample=False).diagnosis.codes)


def is_bug(code: str) -> bool:
    """A code saying something is wrong: warnings and missing ops never count."""
    return code not in CATALOG or CATALOG[code].effect not in (Effect.MISSING, Effect.WARNING)


def cases() -> list[object]:
    out = []
    for p in PATTERNS:
        absent = [c for c in p["expected"] if not any(alt in CATALOG for alt in c.split("|"))]
        marks = []
        if absent:
            marks.append(pytest.mark.xfail(strict=True, reason=f"code {', '.join(absent)} not in the catalog yet"))
        elif p["file"] in NOT_NAMED_YET:
            marks.append(pytest.mark.xfail(strict=True, reason=NOT_NAMED_YET[p["file"]]))
        out.append(pytest.param(p["file"], p["expected"], p["also"], id=p["file"][:-3], marks=marks))
    return out


@pytest.mark.parametrize(("file", "expected", "also"), cases())
def test_real_pattern_is_named(file: str, expected: list[str], also: list[str]) -> None:
    codes = diagnosed(FIXTURES / file)
    assert all(names(c, codes) for c in expected), f"{file}: expected {expected}, named {sorted(codes)}"
    extras = [c for c in codes if is_bug(c) and not any(names(e, {c}) for e in [*expected, *also])]
    assert not extras, f"{file}: named {extras} besides {expected}"


def test_every_fixture_is_in_the_manifest() -> None:
    assert sorted(p["file"] for p in PATTERNS) == sorted(f.name for f in FIXTURES.glob("[!_]*.py"))
    assert [p["file"] for p in PATTERNS if not p["expected"]], "no correct engine among the fixtures"
