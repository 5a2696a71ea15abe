"""The real-code corpus's manifest and the runner's judgement (benchmarks/corpus/): no engine code needed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks" / "corpus"))

from corpus import NEW_CODES, Outcome, judge, load_manifest, names

from gradcheck_lab.diagnose.catalog import CATALOG

ENGINES = load_manifest()


def test_at_least_60_engines_from_distinct_repositories_each_pinned_by_commit_and_digest() -> None:
    everything = load_manifest(excluded=True)
    assert len({e.repo for e in ENGINES}) == len(ENGINES) >= 60
    assert len({e.repo for e in everything}) == len(everything)
    for e in everything:
        assert re.fullmatch(r"[0-9a-f]{40}", e.commit) and re.fullmatch(r"[0-9a-f]{64}", e.sha256), e.repo
        assert e.path.endswith(".py") and e.why, e.repo


def test_both_buggy_and_correct_engines_and_the_reference_once() -> None:
    buggy = [e for e in ENGINES if e.bugs]
    assert len(buggy) >= 20 and len(ENGINES) - len(buggy) >= 20
    assert [e.repo for e in ENGINES if e.repo.endswith("/micrograd") and e.repo.startswith("karpathy/")] == [
        "karpathy/micrograd"]


def test_every_label_code_is_the_catalogs_or_explained() -> None:
    codes = {alt for e in ENGINES for b in e.bugs for alt in b.split("|")}
    unknown = {c for c in codes if c not in CATALOG and c not in NEW_CODES}
    assert not unknown, f"label codes neither in the catalog nor in corpus.NEW_CODES: {sorted(unknown)}"
    notes = {n for e in ENGINES for n in e.notes}
    assert notes <= {"recursion-limit", "numerics:tanh", "no-coerce:right", "needs:numpy"}


def test_no_engine_code_is_committed() -> None:
    folder = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus"
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".py") == ["corpus.py", "fetch.py", "run.py"]


@pytest.mark.parametrize(("bugs", "codes", "bug_codes", "outcome"), [
    ((), {"recursion-limit", "numerics:tanh", "unsupported:cos"}, set(), Outcome.CLEAN),
    ((), {"grad-overwrite:add"}, {"grad-overwrite:add"}, Outcome.FALSE_ALARM),
    (("grad-overwrite",), {"grad-overwrite:add", "grad-overwrite:mul"}, {"grad-overwrite:add", "grad-overwrite:mul"},
     Outcome.NAMED),
    (("topo-revisit",), {"topo-revisit", "wrong-local:exp"}, {"topo-revisit", "wrong-local:exp"},
     Outcome.NAMED_WITH_EXTRAS),
    (("forward:rsub", "grad-overwrite:pow"), {"forward:rsub"}, {"forward:rsub"}, Outcome.PARTLY_NAMED),
    (("wrong-local:relu",), {"wrong-local:sigmoid"}, {"wrong-local:sigmoid"}, Outcome.MISSED),
])
def test_judge(bugs: tuple[str, ...], codes: set[str], bug_codes: set[str], outcome: Outcome) -> None:
    assert judge(bugs, codes, bug_codes=bug_codes) is outcome


def test_a_label_is_named_by_its_own_code_or_its_generic_form_never_by_another_op() -> None:
    assert names("raises:log", {"raises:log"}) and names("grad-overwrite", {"grad-overwrite:relu"})
    assert not names("raises:log", {"raises:exp"}) and not names("topo-order", {"topo-revisit"})
