"""Matching: which catalog bugs explain what a submission did on the probes.

Every simulated bug's engine runs every probe once per process (several times, with
shuffled visit orders, for bugs whose result depends on that order: ``=`` instead of
``+=`` keeps whichever path's gradient came last, and micrograd-style ``_prev`` sets
are ordered by object id). A submission is explained by a code when, on every probe,
what it did is among what that code's engine can do. If no single code explains it,
pairs of codes are tried (two bugs at once). Each code comes with its evidence.

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
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..atomic import write_text
from ..executors import ExecError, Executor, Observation, observe
from .catalog import CATALOG, Bug, Faults, _engine
from .probes import PROBES, Probe

__all__ = ["Diagnosis", "Evidence", "diagnose", "observe_probes", "predictions", "run_probes", "warm_predictions"]

_ORDERS = 6  #: visit orders tried for an order-sensitive bug
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


def run_probes(executor: Executor, probes: Iterable[Probe] = PROBES) -> dict[str, Observation]:
    """Run every probe through ``executor`` (a sandboxed child for student code). A probe the
    executor could not run (a timeout, a crash of the child) is recorded with that kind."""
    found = {}
    for p in probes:
        try:
            found[p.name] = executor.execute(p.program, [p.point], [], backward_calls=p.backward_calls).observations[0]
        except Exception as exc:  # the sandbox's ChildFailure: timeout, memory, crash
            kind = getattr(exc, "kind", "exception")
            found[p.name] = Observation(error=ExecError(kind, f"{kind}: {exc}"))
    return found


@cache
def _predict(faults: Faults | None, order_sensitive: bool) -> dict[str, tuple[Signature, ...]]:
    """What an engine with ``faults`` does on every probe (all outcomes over visit orders)."""
    seeds: list[int | None] = list(range(_ORDERS)) if order_sensitive else [None]
    found: dict[str, list[Signature]] = {p.name: [] for p in PROBES}
    for seed in seeds:
        engine = _engine(faults or Faults(), seed)
        for name, obs in observe_probes(engine).items():
            sig = signature(obs)
            if not any(same(sig, s) for s in found[name]):
                found[name].append(sig)
    return {k: tuple(v) for k, v in found.items()}


def _reference() -> dict[str, tuple[Signature, ...]]:
    return _predict(None, False)


_SINGLES: dict[str, dict[str, tuple[Signature, ...]]] = {}  #: code -> predictions, this process


def predictions(bug: Bug) -> dict[str, tuple[Signature, ...]]:
    """What ``bug``'s engine does on every probe (computed once per process, or loaded)."""
    if bug.code not in _SINGLES:
        _SINGLES[bug.code] = _predict(bug.faults, bug.order_sensitive)
    return _SINGLES[bug.code]


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

    blob = "".join(Path(m.__file__).read_text() for m in (engine, executors, ops, catalog, probes) if m.__file__)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def warm_predictions(directory: str | Path | None = None) -> int:
    """Make every catalog bug's predictions ready: from ``directory`` (a cache) when it
    holds them, else computed (about 3 s) and stored there. Returns how many were computed."""
    path = Path(directory) / f"predictions-{_catalog_digest()}.json" if directory else None
    if path is not None and path.exists() and not _SINGLES:
        try:
            stored = json.loads(path.read_text())
            _SINGLES.update({code: {probe: tuple(_as_signature(s) for s in sigs) for probe, sigs in table.items()}
                             for code, table in stored.items()})
        except (OSError, ValueError, TypeError):
            _SINGLES.clear()
    missing = [b for b in CATALOG.values() if b.faults is not None and b.code not in _SINGLES]
    for bug in missing:
        predictions(bug)
    if path is not None and missing:
        with contextlib.suppress(OSError):
            write_text(path, json.dumps(_SINGLES))
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

    def combine(self, simulated: list[Bug], deviating: list[Probe]) -> list[Bug]:
        """Several bugs at once: greedily add the code that explains the most probes, among
        codes that change a deviating probe, until every probe is explained."""
        names = {p.name for p in deviating}
        partial = [b for b in simulated if _changes(b.code) & names]
        chosen: list[Bug] = []
        faults, sensitive, best_score = Faults(), False, self.score(_reference())
        while len(chosen) < _MAX_BUGS:
            best: tuple[Bug, Faults, bool] | None = None
            for bug in partial:
                assert bug.faults is not None
                if bug in chosen or bug.faults.clashes(faults):
                    continue
                trial, trial_sensitive = faults + bug.faults, sensitive or bug.order_sensitive
                trial_score = self.score(_predict(trial, trial_sensitive))
                if trial_score > best_score:
                    best, best_score = (bug, trial, trial_sensitive), trial_score
            if best is None:
                return []
            chosen.append(best[0])
            faults, sensitive = best[1], best[2]
            if best_score == len(self.got):
                return chosen
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
        bugs = _simplest(singles) if singles else self.combine(simulated, deviating)
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
