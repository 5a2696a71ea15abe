"""Matching: which catalog bugs explain what a submission did on the probes.

Every simulated bug's engine runs every probe once per process, or loads what it did
from the cache (many times, with shuffled visit orders, for bugs whose result depends on
that order: ``=`` instead of ``+=`` keeps whichever path's gradient came last, and
micrograd-style ``_prev`` sets are ordered by object id). A submission is explained by a
code when, on every probe, what it did is among what that code's engine can do. If no
single code explains it, codes are added one by one (several bugs at once), trying only
those that could explain what is left. Each code comes with its evidence.

>>> from gradcheck_lab.engine import Value
>>> diagnose(observe_probes(Value)).codes
[]
>>> diagnose(observe_probes(CATALOG["grad-overwrite:mul"].engine())).codes
['grad-overwrite:mul']
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..answer_keys import read_sealed, write_sealed
from ..batches import execute_all
from ..executors import ExecError, Executor, Observation, observe
from .catalog import CATALOG, Bug, Faults, faults_of
from .faults import compile_engine
from .probes import PROBES, Probe

__all__ = ["Diagnosis", "Evidence", "diagnose", "observe_probes", "predictions", "run_probes", "warm_predictions"]

_ORDERS = 16  #: visit orders tried for an order-sensitive bug on a probe where paths meet
_FEW_ORDERS = 2  #: ... on one where no node has two consumers (there the order should not matter)
_MAX_BUGS = 5  #: the most bugs one diagnosis names
_REL, _ABS = 1e-6, 1e-9

Signature = tuple[Any, ...]


def signature(obs: Observation) -> Signature:
    """What matters of an observation for matching: the error kind, or the numbers."""
    if obs.error is not None:
        kind = obs.error.op if obs.error.kind == "unsupported" else obs.error.message.split(":")[0]
        return ("error", obs.error.kind, kind)
    seeded = any("seeded it by hand" in n for n in obs.notes)
    return ("ok", tuple(obs.data), tuple(obs.grads), seeded)


def _close(a: float | None, b: float | None, rel: float = _REL) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= _ABS + rel * max(abs(a), abs(b))


def same(a: Signature, b: Signature, rel: float = _REL) -> bool:
    """Two outcomes agree: the same error kind, or every number within ``rel``."""
    if a[0] != b[0] or a[0] == "error" or a == b:  # equal tuples: compared in C, no loop here
        return a == b
    close = functools.partial(_close, rel=rel)
    return (a[3] == b[3] and len(a[1]) == len(b[1])
            and all(map(close, a[1], b[1])) and all(map(close, a[2], b[2])))


def observe_probes(value_class: Any, probes: Iterable[Probe] = PROBES) -> dict[str, Observation]:
    """Run every probe with ``value_class`` in this process (trusted code only)."""
    return {p.name: observe(value_class, p.program, p.point, p.backward_calls) for p in probes}


def run_probes(executor: Executor, probes: Iterable[Probe] = PROBES, **options: Any) -> dict[str, Observation]:
    """Run every probe through ``executor`` (a sandboxed child for student code), in one batch
    where it can (``options``, such as ``budget``, go to its ``execute_batch``). A probe the
    executor could not run (a timeout, a crash of the child) is recorded with that kind."""
    probes = list(probes)
    found = {}
    for p, result in zip(probes, execute_all(executor, [p.request for p in probes], **options)):
        if isinstance(result, Exception):  # the sandbox's ChildFailure: timeout, memory, crash
            kind = getattr(result, "kind", "exception")
            found[p.name] = Observation(error=ExecError(kind, f"{kind}: {result}"))
        else:
            found[p.name] = result.observations[0]
    return found


@cache
def _predict(faults: Faults | None, order_sensitive: bool) -> dict[str, tuple[Signature, ...]]:
    """What an engine with ``faults`` does on every probe: each outcome seen over visit
    orders if it is order-sensitive (enough that every path's outcome shows: with 6 orders,
    one of two equally likely outcomes went unseen once in 32 probes; with 16, once in 32,768)."""
    found: dict[str, tuple[Signature, ...]] = {}
    for p in PROBES:
        outcomes: list[Signature] = []
        for seed in range(_orders(p.name)) if order_sensitive else [None]:
            sig = signature(observe(compile_engine(faults or Faults(), seed), p.program, p.point, p.backward_calls))
            if not any(same(sig, s) for s in outcomes):
                outcomes.append(sig)
        found[p.name] = tuple(outcomes)
    return found


@cache
def _orders(probe: str) -> int:
    """Visit orders to try on ``probe``: many where two paths meet at a node (which path's
    gradient lands last, or how often a node runs, depends on the order), a few elsewhere."""
    program = next(p.program for p in PROBES if p.name == probe)
    consumers = [0] * len(program.nodes)
    for k in range(len(program.nodes)):
        for i in set(program.operands(k)):
            consumers[i] += 1
    return _ORDERS if max(consumers, default=0) > 1 else _FEW_ORDERS


def _reference() -> dict[str, tuple[Signature, ...]]:
    return _predict(None, False)


_SINGLES: dict[str, dict[str, tuple[Signature, ...]]] = {}  #: code -> predictions, this process


def predictions(bug: Bug) -> dict[str, tuple[Signature, ...]]:
    """What ``bug``'s engine does on every probe (computed once per process, or loaded)."""
    if bug.code not in _SINGLES:
        _SINGLES[bug.code] = _predict(bug.faults, bug.order_sensitive)
    return _SINGLES[bug.code]


@cache
def _faults(codes: frozenset[str]) -> Faults:
    """The faults of the catalog's bugs ``codes`` together (in catalog order: one sum per set)."""
    found = faults_of(codes)
    assert found is not None, "only simulated bugs are combined"
    return found


def _combined(codes: frozenset[str]) -> Mapping[str, tuple[Signature, ...]]:
    """What the catalog's bugs ``codes`` do together on every probe."""
    if len(codes) <= 1:
        return predictions(CATALOG[next(iter(codes))]) if codes else _reference()
    return {p.name: _outcomes(codes, p.name) for p in PROBES}


@cache
def _outcomes(codes: frozenset[str], probe: str) -> tuple[Signature, ...]:
    """What two or more catalog bugs ``codes`` do together on ``probe`` (each set's engine
    runs each probe once per process, and only when asked: a trial stops at the first
    probes it fails)."""
    program, point, calls = next((p.program, p.point, p.backward_calls) for p in PROBES if p.name == probe)
    sensitive = any(CATALOG[c].order_sensitive for c in codes)
    found: list[Signature] = []
    for seed in range(_orders(probe)) if sensitive else [None]:
        sig = signature(observe(compile_engine(_faults(codes), seed), program, point, calls))
        if not any(same(sig, s) for s in found):
            found.append(sig)
    return tuple(found)


@cache
def _by_size() -> list[str]:
    """The probes' names, smallest program first (the deep chain last)."""
    return [p.name for p in sorted(PROBES, key=lambda p: len(p.program.nodes))]


@cache
def _changes(code: str) -> frozenset[str]:
    """The probes where bug ``code`` can do something the correct engine does not."""
    ref, own = _reference(), predictions(CATALOG[code])
    return frozenset(k for k, sigs in own.items() if any(not any(same(s, r) for r in ref[k]) for s in sigs))


@cache
def _catalog_digest() -> str:
    """Changes whenever the code that makes predictions changes (read once per process)."""
    from .. import engine, executors, ops
    from . import catalog, probes

    modules = (engine, executors, ops, catalog, probes, sys.modules[__name__])
    blob = "".join(Path(m.__file__).read_text() for m in modules if m.__file__)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def warm_predictions(directory: str | Path | None = None) -> int:
    """Make every catalog bug's predictions ready: from ``directory`` (a cache) when it
    holds them, else computed (about 3 s) and stored there. Returns how many were computed."""
    path = Path(directory) / f"predictions-{_catalog_digest()}.json" if directory else None
    if path is not None and not _SINGLES:
        try:
            stored = read_sealed(path, path.name) or {}  # never trusted unsealed (a FIFO, an edited file)
            _SINGLES.update({code: {probe: tuple(_as_signature(s) for s in sigs) for probe, sigs in table.items()}
                             for code, table in stored.items()})
        except (OSError, ValueError, TypeError):
            _SINGLES.clear()
    missing = [b for b in CATALOG.values() if b.faults is not None and b.code not in _SINGLES]
    for bug in missing:
        predictions(bug)
    if path is not None and missing:
        with contextlib.suppress(OSError):
            write_sealed(path, path.name, _SINGLES)
    return len(missing)


def _as_signature(data: list[Any]) -> Signature:
    if data[0] == "ok":
        return ("ok", tuple(data[1]), tuple(data[2]), data[3])
    return tuple(data)


@dataclass
class Evidence:
    """One probe where the submission parted from the correct engine, and what a code predicts."""

    probe: str
    source: str
    point: dict[str, float]
    expected: str
    got: str
    predicted: str


@dataclass
class Diagnosis:
    """The codes that explain a submission, with evidence; unexplained probes if any."""

    codes: list[str] = field(default_factory=list)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    unexplained: list[Evidence] = field(default_factory=list)

    def explanations(self) -> dict[str, str]:
        return {c: CATALOG[c].explanation for c in self.codes}

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"code": c, "explanation": CATALOG[c].explanation,
             "evidence": [e.__dict__ for e in self.evidence.get(c, [])]}
            for c in self.codes
        ]


@dataclass
class _Matcher:
    """One submission's probe outcomes, and how close a prediction must come to them."""

    got: dict[str, Signature]
    rel: float

    def same(self, a: Signature, b: Signature) -> bool:
        return same(a, b, self.rel)

    def explains(self, predicted: Mapping[str, tuple[Signature, ...]]) -> bool:
        return all(any(self.same(self.got[n], s) for s in predicted[n]) for n in self.got)

    def score(self, predicted: Mapping[str, tuple[Signature, ...]]) -> int:
        """How many probes the prediction explains."""
        return sum(any(self.same(self.got[n], s) for s in predicted[n]) for n in self.got)

    def describe(self, sig: Signature, probe: Probe, other: Signature) -> str:
        """A short text of an outcome, told by how it differs from ``other``."""
        if sig[0] == "error":
            return f"{sig[1]}: {sig[2]}"
        if other[0] == "error":
            return "runs without error"
        names = [n.title for n in probe.program.nodes]
        for label, mine, theirs in (("data", sig[1], other[1]), ("grad", sig[2], other[2])):
            for k, (a, b) in enumerate(zip(mine, theirs)):
                if not _close(a, b, self.rel):
                    return f"{names[k]}.{label} = {a:.6g}" if a is not None else f"{names[k]}.{label} is not a number"
        if sig[3] != other[3]:
            return "needs the output's grad seeded by hand" if sig[3] else "seeds the output's grad"
        return "the same"

    def evidence(self, predicted: Mapping[str, tuple[Signature, ...]], probes: list[Probe]) -> list[Evidence]:
        """The probes, smallest first, with what the correct engine does, what the submission
        did, and what ``predicted`` says."""
        ref = _reference()
        found = []
        for p in sorted(probes, key=lambda p: len(p.program.nodes)):  # the smallest teach best
            got, expected = self.got[p.name], ref[p.name][0]
            options = " or ".join(dict.fromkeys(
                self.describe(s, p, got) if not self.same(s, got) else self.describe(got, p, expected)
                for s in predicted[p.name]))
            found.append(Evidence(p.name, p.source, p.point, self.describe(expected, p, got),
                                  self.describe(got, p, expected), options))
        return found

    def unexplained(self, predicted: Mapping[str, tuple[Signature, ...]]) -> set[str]:
        """The probes whose outcome the prediction does not explain."""
        return {n for n, got in self.got.items() if not any(self.same(got, s) for s in predicted[n])}

    def reaches(self, codes: frozenset[str], need: int, first: set[str]) -> int | None:
        """How many probes the bugs ``codes`` together explain; None once they cannot explain
        ``need``. The probes in ``first`` (those it must newly explain) are tried first, then
        the rest smallest first: a trial that fails stops early, before the big probes."""
        misses, allowed = 0, len(self.got) - need
        for name in sorted(first, key=_by_size().index) + [n for n in _by_size() if n in self.got and n not in first]:
            if not any(self.same(self.got[name], s) for s in _outcomes(codes, name)):
                misses += 1
                if misses > allowed:
                    return None
        return len(self.got) - misses

    def combine(self, simulated: list[Bug]) -> list[Bug]:
        """Several bugs at once: greedily add the code that explains the most probes, until
        every probe is explained. A code can only explain probes it changes, so each round
        tries the codes that change a probe still unexplained, those that change most first,
        and ends once none left could beat the best; a trial stops at the first probes it
        fails. A few exact predictions, not dozens. Ties go to the code first in the catalog,
        and the codes come in catalog order (not in the order found, which the visit order of
        an order-sensitive submission can change)."""
        rank = {b.code: k for k, b in enumerate(simulated)}
        chosen: list[str] = []
        best_score = len(self.got) - len(self.unexplained(_reference()))
        while len(chosen) < _MAX_BUGS:
            missing = self.unexplained(_combined(frozenset(chosen)))
            faults = _faults(frozenset(chosen))
            gains = [(len(_changes(b.code) & missing), b.code) for b in simulated
                     if b.code not in chosen and b.faults is not None and not b.faults.clashes(faults)]
            best: str | None = None
            for gain, code in sorted((g for g in gains if g[0]), key=lambda g: (-g[0], rank[g[1]])):
                reach = len(self.got) - len(missing) + gain  # the most this code could explain
                if reach < best_score:
                    break
                if best is not None and reach == best_score and rank[code] > rank[best]:
                    continue  # at best a tie, which the code first in the catalog keeps
                tie_wins = best is not None and rank[code] < rank[best]  # a tie goes to the first in the catalog
                score = self.reaches(frozenset([*chosen, code]), best_score if tie_wins else best_score + 1, missing)
                if score is not None:
                    best, best_score = code, score
            if best is None:
                return []
            chosen.append(best)
            if best_score == len(self.got):  # named in catalog order, whichever was found first
                return [CATALOG[c] for c in sorted(chosen, key=rank.__getitem__)]
        return []

    def name_bugs(self) -> Diagnosis:
        """The bug codes (missing ops aside) that explain the outcomes."""
        diagnosis = Diagnosis()
        ref = _reference()
        probes = {p.name: p for p in PROBES}
        deviating = [probes[k] for k, v in self.got.items() if not any(self.same(v, s) for s in ref[k])]
        if not deviating:
            return diagnosis
        simulated: list[Bug] = [b for b in CATALOG.values() if b.faults is not None]
        singles = [b for b in simulated if self.explains(predictions(b))]
        bugs = _simplest(singles) if singles else self.combine(simulated)
        if not bugs:
            diagnosis.unexplained = self.evidence(ref, deviating)
            return diagnosis
        for bug in bugs:
            own = predictions(bug)
            shown = [p for p in deviating if any(self.same(self.got[p.name], s) for s in own[p.name])]
            diagnosis.codes.append(bug.code)
            diagnosis.evidence[bug.code] = self.evidence(own, shown or deviating)
        return diagnosis


def diagnose(observations: Mapping[str, Observation], *, rel: float = _REL) -> Diagnosis:
    """The catalog codes whose predictions explain ``observations`` (probe name -> what the
    submission did); several codes when no single one does; then its missing ops.
    ``rel``: how close a number must be to a prediction (1e-6; wider for a float32 engine)."""
    known = {p.name for p in PROBES}
    got = {k: signature(o) for k, o in observations.items() if k in known}
    diagnosis = _Matcher({k: v for k, v in got.items() if not (v[0] == "error" and v[1] == "unsupported")},
                         rel).name_bugs()
    unsupported = sorted({o.error.op for o in observations.values() if o.error and o.error.kind == "unsupported"})
    diagnosis.codes += [f"unsupported:{op}" for op in unsupported if f"unsupported:{op}" in CATALOG]
    return diagnosis


def _simplest(bugs: list[Bug]) -> list[Bug]:
    """Of several codes that all explain the evidence, the most specific ones: a code for
    one op (``grad-overwrite:add``) over the general one when both fit."""
    specific = [b for b in bugs if ":" in b.code]
    return specific or bugs
