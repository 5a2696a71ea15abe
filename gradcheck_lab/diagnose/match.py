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
import importlib.util
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..answer_keys import read_sealed, write_sealed
from ..batches import Result, execute_all
from ..executors import ExecError, Execution, Executor, Observation, observe
from ..submissions.isolation import SANDBOX
from ..valuelike import ValueLike
from .catalog import CATALOG, CLASSIFIED, Bug, Faults, form_method
from .faults import Backward, compile_engine
from .probes import CONSTANT_LEFT, CONSTANT_RIGHT, FORMS, PROBES, Probe, composed_of

__all__ = [
    "Diagnosis", "Evidence", "diagnose", "observe_probes", "predictions", "probe_observations", "run_probes", "same",
    "warm_predictions",
]

_ORDERS = 16  #: visit orders tried for an order-sensitive bug on a probe where paths meet
_FEW_ORDERS = 2  #: ... on one where no node has two consumers (there the order should not matter)
_REL, _ABS = 1e-6, 1e-9

Signature = tuple[Any, ...]


def _signature(obs: Observation) -> Signature:
    """What matters of an observation for matching: the error kind, or the numbers (whether
    the output's grad had to be seeded by hand is a finding of its own: :func:`_seeded`)."""
    if obs.error is not None:
        kind = obs.error.op if obs.error.kind == "unsupported" else obs.error.message.split(":")[0]
        return ("error", obs.error.kind, kind)
    return ("ok", tuple(obs.data), tuple(obs.grads))


def _seeded(obs: Observation) -> bool:
    """backward() left the output's grad at 0, and the harness seeded it by hand."""
    return obs.seeded


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
    close = functools.partial(_close, rel=rel)  # equal parts (most often the forward pass) compared in C first
    return len(a[1]) == len(b[1]) and (a[1] == b[1] or all(map(close, a[1], b[1]))) and (
        a[2] == b[2] or all(map(close, a[2], b[2])))


def observe_probes(value_class: type[ValueLike], probes: Iterable[Probe] = PROBES) -> dict[str, Observation]:
    """Run every probe with ``value_class`` in this process (trusted code only)."""
    return {p.name: observe(value_class, p.program, p.point, p.backward_calls, p.headroom) for p in probes}


def run_probes(executor: Executor, probes: Iterable[Probe] = PROBES, **options: Any) -> dict[str, Observation]:
    """Run every probe through ``executor`` (a sandboxed child for student code), in one batch
    where it can (``options``, such as ``budget``, go to its ``execute_batch``). A probe the
    executor could not run (a timeout, a crash of the child) is recorded with that kind."""
    probes = list(probes)
    return probe_observations(probes, execute_all(executor, [p.request for p in probes], **options))


def probe_observations(probes: Sequence[Probe], results: Sequence[Result]) -> dict[str, Observation]:
    """Each probe's observation from its result (by position); a failure is recorded with its kind."""
    found = {}
    for p, result in zip(probes, results):
        if isinstance(result, Exception):  # the sandbox's ChildFailure: timeout, memory, crash
            kind = getattr(result, "kind", "exception")
            found[p.name] = Observation(error=ExecError(kind, f"{kind}: {result}"))
        else:
            assert isinstance(result, Execution)
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
            engine = compile_engine(faults or Faults(), seed)
            sig = _signature(observe(engine, p.program, p.point, p.backward_calls, p.headroom))
            if not any(same(sig, s) for s in outcomes):
                outcomes.append(sig)
        found[p.name] = tuple(outcomes)
    return found


@cache
def _orders(probe: str) -> int:
    """Visit orders to try on ``probe``: many where two paths meet at a node (which path's
    gradient lands last, or how often a node runs, depends on the order), a few elsewhere."""
    program = next(p.program for p in PROBES if p.name == probe)
    if probe == "deep-chain":  # every path to x carries the same gradient: no order can matter
        return _FEW_ORDERS
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
        found = _predict(bug.faults, bug.order_sensitive)
        for other in bug.alternatives:  # each way of writing it: any of their outcomes
            more = _predict(other, True)
            found = {k: v + tuple(s for s in more[k] if not any(same(s, t) for t in v)) for k, v in found.items()}
        _SINGLES[bug.code] = found
    return _SINGLES[bug.code]


@cache
def _changes(code: str) -> frozenset[str]:
    """The probes where bug ``code`` can do something the correct engine does not."""
    ref, own = _reference(), predictions(CATALOG[code])
    return frozenset(k for k, sigs in own.items() if any(not any(same(s, r) for r in ref[k]) for s in sigs))


@cache
def _catalog_digest() -> str:
    """Changes whenever the code that makes predictions changes (read once per process): the probes
    (and what builds them), the catalog's engines, and the code that runs them (drive: how deep it lets a
    backward() recurse)."""
    from .. import drive, engine, executors, ops, program, source
    from . import catalog, faults, probes

    modules = (engine, executors, drive, ops, program, source, catalog, faults, probes, sys.modules[__name__])
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
    missing = [b for b in _matched() if b.code not in _SINGLES]
    for bug in missing:
        predictions(bug)
    if path is not None and missing:
        with contextlib.suppress(OSError):
            write_sealed(path, path.name, _SINGLES)
    return len(missing)


def _as_signature(data: list[Any]) -> Signature:
    if data[0] == "ok":
        return ("ok", tuple(data[1]), tuple(data[2]))
    return tuple(data)


@cache
def _matched() -> tuple[Bug, ...]:
    """The bugs named by matching their predicted numbers (the others are named from what
    the probes raise or return: :data:`~.catalog.CLASSIFIED`)."""
    return tuple(b for b in CATALOG.values() if b.faults is not None and b.family not in CLASSIFIED)


@cache
def _predicting(probe: str) -> dict[Signature, tuple[str, ...]]:
    """Each outcome that a bug named by its numbers (:func:`_matched`) predicts on ``probe``,
    with the codes of the bugs that predict it: many predict the same (most, the truth)."""
    found: dict[Signature, list[str]] = {}
    for bug in _matched():
        for sig in predictions(bug)[probe]:
            found.setdefault(sig, []).append(bug.code)
    return {sig: tuple(codes) for sig, codes in found.items()}


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




_EVERYWHERE = frozenset({"constructor-float", "grad-none", "data-attribute", "backward-noop", "backward-raises",
                         "opt-in-grad",
                         "timeout", "memory", "crash"})  #: codes that break every probe they reach


def _closure(uses: frozenset[str]) -> frozenset[str]:
    """The forms a probe writes and, through micrograd's composition, the forms those are made of."""
    found, todo = set(uses), list(uses)
    while todo:
        for inner in composed_of(todo.pop()) - found:
            found.add(inner)
            todo.append(inner)
    return frozenset(found)


def _reaches(code: str, probe: Probe) -> bool:
    """A bug of ``code`` can show in ``probe`` (whatever else it shows): its form is one the
    probe writes or is made of, or it breaks every probe."""
    if code in _EVERYWHERE:
        return True
    uses = _closure(probe.uses)
    if code == "no-coerce:right":
        return bool(uses & {CONSTANT_RIGHT, CONSTANT_LEFT}) or any(composed_of(f) for f in probe.uses)
    if code == "no-coerce:left":
        return CONSTANT_LEFT in uses or any(f.startswith("r") for f in uses)
    form = code.partition(":")[2]
    return bool(form) and CATALOG[code].family not in ("order", "seed") and form in uses


_PROBES = {p.name: p for p in PROBES}
_ERRORS = frozenset({"raises", "returns", "coerce", "unsupported", "sandbox"})


def _raises(code: str) -> bool:
    """A bug of ``code`` shows as an error (not as wrong numbers)."""
    return CATALOG[code].family in _ERRORS or code in ("constructor-float", "grad-none")


def _seeds(backward: Backward) -> bool | None:
    """Whether a backward() fault leaves the output's grad unseeded (True), sets it while no
    gradient flows (False: opt-in-grad, told from backward-noop by that), or neither (None)."""
    if not backward.seed:
        return True
    return False if not backward.run else None


@cache
def _of_form(form: str) -> tuple[Bug, ...]:
    """The catalog bugs of one op form whose predictions are matched (``wrong-local:exp``...)."""
    return tuple(b for b in _matched() if b.code.partition(":")[2] == form and b.family not in ("order", "seed"))


@cache
def _probes_of(form: str) -> tuple[Probe, ...]:
    """The probes that isolate operator form ``form`` (``x + y`` and ``x + 2`` for add)."""
    return tuple(p for p in PROBES if p.form and p.form_name == form)


#: The names modules go by in student code.
_MODULES = {"np": "numpy", "numpy": "numpy", "torch": "torch", "scipy": "scipy", "jnp": "jax", "jax": "jax"}


def _missing_module(message: str) -> bool:
    """The error is a module the grading environment lacks (``name 'np' is not defined`` where
    no numpy is installed: the loader skips an import that fails), not the engine's bug.

    >>> _missing_module("ModuleNotFoundError: No module named 'numpy_not_installed_here'")
    True
    """
    found = re.match(r"NameError: name '(\w+)' is not defined|ModuleNotFoundError: No module named '([\w.]+)'",
                     message)
    if found is None:
        return False
    module = _MODULES.get(found[1], "") if found[1] else found[2].split(".")[0]
    return bool(module) and importlib.util.find_spec(module) is None


def _not_a_value(message: str) -> bool:
    """The error is a result that is no Value (None, a number) being used as one."""
    return "has no attribute 'backward'" in message or message.startswith("AttributeError: 'NoneType'")


def _ours(file: str) -> bool:
    """The file is the grader's (its package, or the sandbox's copy of its child's files), not the student's.

    >>> _ours("/sandbox/drive.py"), _ours("engine.py")
    (True, False)
    """
    return f"{os.sep}gradcheck_lab{os.sep}" in file or file.startswith(SANDBOX + "/")


def _frame(obs: Observation) -> str:
    """The function of the student's innermost frame where an error was raised (``__radd__``)."""
    err = obs.error
    found = [name for file, _, name in re.findall(r'File "([^"]*)", line (\d+), in (\w+)', err.traceback if err else "")
             if not _ours(file)]
    return found[-1] if found else ""


def _line(obs: Observation) -> str:
    """Where the student's code raised an error: `` (line 12, in log)``, from its traceback;
    "" if unknown or if it was raised in the grader's own code (a missing method, a result
    that is no Value: the line would be the grader's, of no use to the student)."""
    err = obs.error
    if err is not None and err.line and not _ours(err.file):
        return f" (line {err.line}, in {Path(err.file).name})" if err.file else f" (line {err.line})"
    found = [(line, name) for file, line, name in re.findall(r'File "([^"]*)", line (\d+), in (\w+)',
                                                              err.traceback if err else "")
             if not _ours(file)]  # the student's frames, not ours
    return f" (line {found[-1][0]}, in {found[-1][1]})" if found else ""


@dataclass
class _Local:
    """One submission's probe outcomes, attributed code by code, each from its own probes."""

    observations: dict[str, Observation]
    rel: float
    got: dict[str, Signature] = field(init=False)
    left: set[str] = field(init=False)  #: probes that part from the truth and no code explains yet
    own: dict[str, list[str]] = field(default_factory=dict)  #: code -> the probes that name it
    shown: dict[str, list[str]] = field(default_factory=dict)  #: code -> other probes it explains

    def __post_init__(self) -> None:
        self.got = {k: _signature(o) for k, o in self.observations.items()}
        ref = _reference()
        self.left = {k for k, v in self.got.items() if not any(self.same(v, r) for r in ref[k])}

    def same(self, a: Signature, b: Signature) -> bool:
        return same(a, b, self.rel)

    def name(self, code: str, probes: Iterable[str]) -> None:
        """Name ``code`` (if the catalog has it) from ``probes``, which it explains."""
        if code in CATALOG:
            probes = list(probes)
            self.own.setdefault(code, []).extend(p for p in probes if p not in self.own.get(code, []))
            self.left -= set(probes)

    def covered(self, probe: Probe, codes: Iterable[str] | None = None) -> bool:
        """``probe`` shows a bug already named (a form it is made of, a number not made a
        Value...) the way that bug shows (an error for a bug that raises, numbers for one
        that computes wrongly): it is that bug's evidence, not a new code's."""
        raised = self.got[probe.name][0] == "error"
        for code in self.own if codes is None else codes:
            if CATALOG[code].family not in CLASSIFIED and probe.name not in _changes(code):
                continue  # a bug whose engine does the right thing there cannot explain it
            if _reaches(code, probe) and (code == "data-attribute" or raised == _raises(code)):
                self.shown.setdefault(code, []).append(probe.name)
                self.left.discard(probe.name)
                return True
        return False

    # ------------------------------------------------------------------ the steps

    def errors(self) -> None:
        """Name what the op-form probes raise or return (primitives first, then the forms
        micrograd composes of them, so a broken ``+`` is not blamed on ``-`` too)."""
        probes = {p.name: p for p in PROBES}
        for name, obs in self.observations.items():
            err = obs.error
            if err is not None and err.kind == "unsupported" and probes[name].form:  # where no other op can fail
                self.name(f"unsupported:{err.op}", [name])
            elif err is not None and err.kind in ("timeout", "memory", "crash"):
                self.name(err.kind, [name])
        for name, obs in self.observations.items():
            err, p = obs.error, probes[name]
            if err is not None and _missing_module(err.message):
                self.name("needs-module", [name])
            elif err is None:
                if obs.data and all(d is None for d in obs.data):
                    self.name("data-attribute", [name])
            elif err.kind == "exception" and err.node is not None and err.node < len(p.program.inputs):
                self.name("constructor-float", [name])
            elif err.node is None and err.message.startswith("TypeError") and "'NoneType'" in err.message:
                self.name("grad-none", [name])
        order = {f: k for k, f in enumerate(FORMS)}
        forms = sorted((p for p in PROBES if p.form and p.name in self.left), key=lambda p: order[p.form_name])
        errors = [self.observations[p.name].error for p in forms]
        in_backward = {e.message for e in errors if e is not None and e.node is None}
        present = {p.form_name for p in PROBES if p.form and self.got.get(p.name, ("",))[1:2] != ("unsupported",)}
        for message in sorted(m for m in in_backward if not _not_a_value(m)):
            failing = [p for p in forms if (e := self.observations[p.name].error) and e.message == message]
            if len({p.form_name for p in failing}) >= 0.75 * len(present):  # not one op's: backward() itself
                self.name("backward-raises", [p.name for p in failing])
        codes: dict[str, str] = {}  # form probe -> the code its own error names
        methods = {form_method(f): f for f in FORMS}
        later: dict[str, str] = {}  # raised inside another form's method: decided once that form is
        for p in forms:
            err = self.observations[p.name].error
            if p.name not in self.left or err is None or self.covered(p):
                continue
            form, message = p.form_name, err.message
            if _not_a_value(message):
                codes[p.name] = f"not-a-value:{form}"
            elif CONSTANT_RIGHT in p.uses and self._runs(form, f"x {p.form.split()[1]} y"):
                codes[p.name] = "no-coerce:right"
            elif (CONSTANT_LEFT in p.uses and ("RecursionError" in message or "'int' object" in message
                                               or "'float' object" in message)):
                codes[p.name] = "no-coerce:left"
            else:
                codes[p.name] = f"raises:{form}"
            if methods.get(_frame(self.observations[p.name]), form) != form:
                later[p.name] = methods[_frame(self.observations[p.name])]
            else:
                self.name(codes[p.name], [p.name])
        for name, raised_in in later.items():  # that form's bug, if its own probe raised too
            other = [codes[p.name] for p in _probes_of(raised_in) if p.name in codes]
            if other:
                self.name(other[0], [])
                self.shown.setdefault(other[0], []).append(name)
                self.left.discard(name)
            else:
                self.name(codes[name], [name])

    def _runs(self, form: str, written: str) -> bool:
        """The form probe ``written`` (``x + y``) ran without an error."""
        obs = self.observations.get(f"form:{written}")
        return obs is not None and obs.error is None

    def exact(self) -> None:
        """Name the bugs whose engines' predicted numbers match probes no code explains yet,
        the one matching most first, each then taking the probes it reaches; never a bug
        that its own probes contradict (:meth:`contradicts`) beside the bugs named so far."""
        candidates = []
        unseeded = any(o.seeded for o in self.observations.values())
        matching = {k: {code for sig, codes in _predicting(k).items() if self.same(self.got[k], sig) for code in codes}
                    for k in self.left}  # each outcome compared once, not once for every bug that predicts it
        for bug in _matched():
            seeds = _seeds(bug.faults.backward) if bug.faults is not None and bug.faults.backward else None
            if seeds is not None and seeds != unseeded:
                continue  # it leaves the output's grad at 0, or it sets it: the probes saw the other
            hits = {k for k in self.left if bug.code in matching[k]}
            if ":" not in bug.code and bug.code not in _EVERYWHERE and not any(self._healthy(_PROBES[k]) for k in hits):
                continue  # a wrong order or seed shows on a graph of sound ops, not only beside a broken one
            if hits:
                candidates.append((bug, hits))
        rank = {b.code: k for k, b in enumerate(CATALOG.values())}
        while candidates:
            candidates = [(b, h & self.left) for b, h in candidates if h & self.left]
            named = list(self.own)
            ready = sorted(candidates, key=lambda c: (-len(c[1]), ":" not in c[0].code, rank[c[0].code]))
            chosen = next(((b, h) for b, h in ready if not self.contradicts(b, named)), None)
            if chosen is None:
                break
            self.name(chosen[0].code, sorted(chosen[1]))
            candidates = [c for c in candidates if c[0] is not chosen[0]]
            for p in PROBES:  # what it does together with the bugs named before it
                if p.name in self.left:
                    self.covered(p, [chosen[0].code])

    def _healthy(self, probe: Probe) -> bool:
        """Every op form ``probe`` writes is a primitive whose own probes are right (or raise
        for a bug already named: a number not made a Value, a grad that starts as None)."""
        ref = _reference()
        explained = {n for names in (*self.own.values(), *self.shown.values()) for n in names}

        def right(q: Probe) -> bool:
            got = self.got.get(q.name)
            return got is not None and (any(self.same(got, r) for r in ref[q.name])
                                        or (got[0] == "error" and q.name in explained))

        forms = probe.uses - {CONSTANT_LEFT, CONSTANT_RIGHT}
        return all(not composed_of(f) and all(map(right, _probes_of(f))) for f in forms)

    def contradicts(self, bug: Bug, suspects: list[str]) -> bool:
        """Its own probes deny ``bug``: a probe isolating its op form shows something else, or
        a probe it changes (one writing its form, for a bug of one form) is right (for a
        wrong order, where no other suspect could have put it right)."""
        ref, own = _reference(), predictions(bug)
        form = bug.code.partition(":")[2] if bug.family not in ("order", "seed") else ""
        agree = False
        explained = {n for names in (*self.own.values(), *self.shown.values()) for n in names}
        for p in _probes_of(form):
            got = self.got.get(p.name)
            if got is None or p.name in explained:  # another bug's doing
                continue
            if not any(self.same(got, s) for s in own[p.name]):
                return True
            agree = True
        if form and not agree:  # every probe of its form raised: it cannot compute wrongly too
            return True
        for k in _changes(bug.code):
            p = _PROBES[k]
            if k not in self.got or (form and form not in p.uses):
                continue
            if bug.family in ("order", "seed") and any(_reaches(c, p) for c in suspects):
                continue  # a wrong op on the way can hide a wrong order (a step that ignores out.grad)
            right = any(self.same(self.got[k], r) for r in ref[k])
            if right and not any(self.same(s, r) for s in own[k] for r in ref[k]):
                return True
        return False

    def forms(self, composed: bool) -> None:
        """Each op form's own probes (``x + y``, ``x + 2``; ``exp(x)``), read first: a wrong
        output value names the form's forward, an input's grad of 0 a form that records no
        way back, another wrong grad its local rule; a catalog bug of that form whose
        prediction matches (``wrong-local:relu``: the wrong side) is named as itself. Forms
        micrograd composes of a form already named are that form's evidence. Not when most
        forms are wrong at once: that is no op's bug, but the engine's (an order, a seed).
        ``composed``: the forms micrograd composes (``x - y`` is ``x + (-y)``, several nodes,
        which a wrong order changes too), read once the exact matches are named; else the others."""
        found: dict[str, list[str]] = {}
        for p in sorted((p for p in PROBES if p.form and bool(composed_of(p.form_name)) == composed),
                        key=lambda p: FORMS.index(p.form_name)):
            got = self.got.get(p.name)
            if p.name not in self.left or got is None or got[0] != "ok" or None in got[1]:
                continue
            if self.covered(p) or any(_reaches(c, p) for c in found):
                found.setdefault(next((c for c in found if _reaches(c, p)), ""), []).append(p.name)
                continue
            found.setdefault(self._form_code(p, got), []).append(p.name)
        found.pop("", None)
        ran = {p.form_name for p in PROBES if p.form and bool(composed_of(p.form_name)) == composed
               and self.got.get(p.name, ("error",))[0] == "ok"}
        wrong = {_PROBES[n].form_name for names in found.values() for n in names}
        if len(ran) >= 3 and len(wrong) >= 0.75 * len(ran):  # every form wrong: the engine's bug, not theirs
            seeded_by_hand = any(o.seeded for o in self.observations.values())
            if all(c.startswith("no-backward:") for c in found) and not seeded_by_hand:
                self.name("opt-in-grad", [n for names in found.values() for n in names])  # no input gets a grad
                for p in PROBES:
                    if p.name in self.left:
                        self.covered(p, ["opt-in-grad"])
            return
        for code, names in found.items():
            self.name(code, [n for n in names if _PROBES[n].form_name == code.partition(":")[2]])
            for n in names:
                if n in self.left:
                    self.covered(_PROBES[n], [code])
        for p in PROBES:  # what they do together with anything else, unless a bug of its forms does exactly that
            if p.name in self.left and not self._predicted(p, list(found)):
                self.covered(p, list(found))

    def _predicted(self, probe: Probe, named: list[str]) -> bool:
        """Another catalog bug of one of ``probe``'s op forms does exactly what the submission
        did there (``=`` in exp's backward on ``exp(x) + exp(x)``, beside a wrong exp forward);
        not one of a form composed of a form ``named`` (``2 * x`` of ``*``)."""
        got, uses = self.got[probe.name], _closure(probe.uses)
        under = {c.partition(":")[2] for c in named}
        return any(self.same(got, s) for form in uses if not (_closure(frozenset({form})) - {form}) & under
                   for bug in _of_form(form) if bug.code not in named for s in predictions(bug)[probe.name])

    def _form_code(self, p: Probe, got: Signature) -> str:
        """The code a form probe's wrong numbers name: a catalog bug of the form that predicts
        them, or the kind of wrong read off the numbers."""
        suspects = list(self.own)
        for bug in _of_form(p.form_name):
            if any(self.same(got, s) for s in predictions(bug)[p.name]) and not self.contradicts(bug, suspects):
                return bug.code
        truth, n = _reference()[p.name][0], len(p.program.inputs)
        if not _close(got[1][p.program.output], truth[1][p.program.output], self.rel):
            return f"forward:{p.form_name}"
        if None in got[2][:n]:
            return f"grad-not-number:{p.form_name}"
        if all(g == 0 for g in got[2][:n]) and any(g != 0 for g in truth[2][:n]):
            return f"no-backward:{p.form_name}"
        return f"wrong-local:{p.form_name}"

    def reuses(self) -> None:
        """A form whose own probes are right but whose input read twice (``x / y + x / y``) gets a
        wrong gradient: ``=`` instead of ``+=`` in its backward, for whichever operand."""
        ref = _reference()
        for p in PROBES:
            form = p.name.partition(":")[2]
            code = f"grad-overwrite:{form}"
            if not p.name.startswith("reuse:") or p.name not in self.left or code not in CATALOG or self.covered(p):
                continue
            own = [self.got.get(q.name) for q in _probes_of(form)]
            if own and all(g is not None and any(self.same(g, r) for r in ref[q.name])
                           for g, q in zip(own, _probes_of(form))) and self.got[p.name][0] == "ok":
                self.name(code, [p.name])

    def seeding(self) -> None:
        """backward() that leaves the output's grad at 0 (the harness seeded it): no-seed-grad,
        unless backward() changes nothing at all."""
        unseeded = [k for k, o in self.observations.items() if _seeded(o)]
        if unseeded and "backward-noop" not in self.own:
            self.name("no-seed-grad", unseeded)

    def consequences(self) -> None:
        """What is left and shows a bug already named (a probe that writes its form)."""
        for p in PROBES:
            if p.name in self.left:
                self.covered(p)


def _describe(sig: Signature, obs: Observation | None, probe: Probe, other: Signature, rel: float) -> str:
    """A short text of an outcome, told by how it differs from ``other``."""
    if sig[0] == "error":
        if obs is not None and obs.error is not None:
            return obs.error.message.splitlines()[0][:200] + _line(obs)
        return f"{sig[1]}: {sig[2]}"
    if other[0] == "error":
        return "runs without error"
    names = [n.title for n in probe.program.nodes]
    for label, mine, theirs in (("data", sig[1], other[1]), ("grad", sig[2], other[2])):
        for k, (a, b) in enumerate(zip(mine, theirs)):
            if not _close(a, b, rel):
                return f"{names[k]}.{label} = {a:.6g}" if a is not None else f"{names[k]}.{label} is not a number"
    return "the same"


def _evidence(local: _Local, code: str | None, names: Iterable[str], note: str = "") -> list[Evidence]:
    """The probes ``names``, smallest first, with the truth, what the submission did and
    what ``code``'s engine does there (or ``note``)."""
    ref, probes = _reference(), {p.name: p for p in PROBES}
    own = predictions(CATALOG[code]) if code is not None and CATALOG[code].family not in CLASSIFIED else None
    found = []
    for p in sorted((probes[n] for n in names), key=lambda p: len(p.program.nodes)):  # the smallest teach best
        got, expected, obs = local.got[p.name], ref[p.name][0], local.observations.get(p.name)
        if own is not None and not note:
            predicted = " or ".join(dict.fromkeys(
                _describe(s, None, p, got, local.rel) if not local.same(s, got)
                else _describe(got, obs, p, expected, local.rel) for s in own[p.name]))
        else:
            predicted = note or "as seen"
        if _seeded(obs) if obs is not None else False:
            shown = "needs the output's grad seeded by hand" if local.same(got, expected) else \
                _describe(got, obs, p, expected, local.rel) + "; needs the output's grad seeded by hand"
        else:
            shown = _describe(got, obs, p, expected, local.rel)
        truth = _describe(expected, None, p, got, local.rel)
        found.append(Evidence(p.name, p.source, p.point, truth, shown, predicted))
    return found


def diagnose(observations: Mapping[str, Observation], *, rel: float = _REL) -> Diagnosis:
    """The codes that explain ``observations`` (probe name -> what the submission did), each
    named from its own probes whatever else is broken: what the op forms raise or return,
    the bugs whose predicted numbers match, the op forms' wrong values or gradients, the
    output's grad left unseeded; then the probes each named bug also explains. ``rel``: how
    close a number must be to a prediction (1e-6; wider for a float32 engine)."""
    known = {p.name for p in PROBES}
    local = _Local({k: o for k, o in observations.items() if k in known}, rel)
    local.errors()
    local.forms(composed=False)
    local.exact()
    local.forms(composed=True)
    local.reuses()
    local.seeding()
    local.consequences()
    rank = {c: k for k, c in enumerate(CATALOG)}
    diagnosis = Diagnosis()
    for code in sorted(local.own, key=rank.__getitem__):
        diagnosis.codes.append(code)
        diagnosis.evidence[code] = (_evidence(local, code, local.own[code])
                                    + _evidence(local, None, local.shown.get(code, []), "shown together with it"))
    diagnosis.unexplained = _evidence(local, None, local.left, "no known bug")
    return diagnosis
