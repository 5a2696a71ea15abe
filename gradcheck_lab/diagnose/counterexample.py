"""The smallest program where an implementation disagrees with the truth.

Hypothesis searches random straight-line programs over x and y (every op of the table;
later lines may reuse earlier results, so nodes get shared: see :mod:`.strategies`) at
points inside every op's domain and clear of every kink (now and then at ±1000, where
naive sigmoid and tanh formulas overflow), and shrinks the first disagreement it finds;
a greedy pass then bypasses nodes while the disagreement stays, so the case has few
nodes. For ``=`` instead of ``+=`` in the backward of ``+``: ``L = x + x``; in the
backward of exp: ``L = exp(x) + x``; for a topological sort without a visited set, a
diamond: ``a = x + x`` then ``L = a + x + a``. The search compares against the reference
engine (held to SymPy by the test suite), so it needs no SymPy per example; the result
is printed as a case to paste into a case file, and ``check`` on it shows the disagreement.
It is always a wrong value or gradient, never an error: a missing op, an op that raises or
a formula that overflows is named by the diagnosis with its own evidence, and must not hide
the bug that computes wrongly.

:func:`counterexample_for` searches a catalog bug's own engine, drawing the ops its code
names more often (``grad-overwrite:exp``: exp). Every simulated bug that
computes a wrong number gets one; not ``zeroes-on-backward`` (a note, visible only on a
second backward() call), ``recursion-limit`` (needs a graph over 1,000 deep),
``no-seed-grad`` (the harness seeds the output's grad by hand when backward() leaves it at
0, and says so in a note), nor the bugs that raise (``raises:OP``, ``numerics:tanh``...).

>>> from gradcheck_lab.diagnose import CATALOG
>>> from gradcheck_lab.executors import InProcessExecutor
>>> found = minimal_counterexample(InProcessExecutor(CATALOG["grad-overwrite:add"].engine()))
>>> found.source, found.nodes
('L = x + x', 2)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample

from ..engine import Value
from ..errors import CaseError
from ..executors import Executor, InProcessExecutor, Observation, observe
from ..finite_diff import kink_distances
from ..ops import OPS
from ..program import Program
from ..source import parse_source
from .match import Diagnosis
from .strategies import (
    EXTREME,
    Step,
    input_ranges,
    programs_and_points,
    reads,
    render,
    simple_values,
    smaller,
    substitute,
)

__all__ = ["Counterexample", "confirm", "counterexample_for", "counterexample_from", "counterexample_of", "focus_of",
           "minimal_counterexample"]

_INPUTS = ("x", "y")
_MAX_STEPS = 6  #: assignments per program: a diamond needs three
_KINK_MARGIN = 1e-3  #: points keep this far from relu(0) and max ties (as the harness's random points)


@dataclass(frozen=True)
class Counterexample:
    """A minimal disagreement: the source, the point, and what differed."""

    source: str
    point: dict[str, float]
    nodes: int  #: nodes of the program (inputs included)
    expected: str
    got: str

    def as_case(self, name: str = "counterexample") -> str:
        """A ``[[case]]`` table to paste into a case file and rerun (a source of several
        lines as a multi-line string).

        >>> print(Counterexample("L = x + x", {"x": 0.5}, 2, "x.grad = 2", "x.grad = 1.0").as_case())
        [[case]]
        name = "counterexample"
        about = "found by gradcheck_lab: x.grad = 1.0; the truth: x.grad = 2"
        source = "L = x + x"
        points = [{x = 0.5}]
        tags = ["counterexample"]
        <BLANKLINE>
        """
        point = ", ".join(f"{k} = {v!r}" for k, v in self.point.items())
        about = f"found by gradcheck_lab: {self.got}; the truth: {self.expected}"
        return (f"[[case]]\nname = {_toml_string(name)}\nabout = {_toml_string(about)}\n"
                f"source = {_toml_source(self.source)}\npoints = [{{{point}}}]\ntags = [\"counterexample\"]\n")


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, but for DEL).

    >>> print(_toml_string('say "hi"\\n'))
    "say \\"hi\\"\\n"
    """
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_source(source: str) -> str:
    """One line as a basic string; several, plain, as a multi-line string a line each."""
    plain = all(line.isprintable() for line in source.split("\n")) and not any(c in source for c in '"\\')
    return f'"""\n{source}\n"""' if "\n" in source and plain else _toml_string(source)


def _disagreement(mine: Observation, truth: Observation, program: Program, rel: float) -> tuple[str, str] | None:
    if truth.error is not None or mine.error is not None:  # an error is no wrong number: the diagnosis
        return None  # names it (a missing op, an op that raises, a formula that overflows), with its line
    names = [n.title for n in program.nodes]
    for label, got, want in (("data", mine.data, truth.data), ("grad", mine.grads, truth.grads)):
        for k, (a, b) in enumerate(zip(got, want)):
            if b is None or not math.isfinite(b):
                return None
            if a is None or not abs(a - b) <= 1e-9 + rel * abs(b):
                return f"{names[k]}.{label} = {b:.6g}", f"{names[k]}.{label} = {a}"
    return None


def _usable(program: Program, point: Mapping[str, float]) -> bool:
    """Inside every op's domain and clear of every kink: where ``check`` judges gradients."""
    distances = kink_distances(program, point)
    return distances is not None and all(abs(d) > _KINK_MARGIN for d in distances)


Example = tuple[tuple[Step, ...], dict[str, float]]
#: Tries for a catalog bug's own counterexample (in process, once per process): some need a few
#: hundred draws (an op reading a node another op reads, at a point on the right side of a
#: branch), and the draws shift whenever an op joins the table.
_CATALOG_EXAMPLES = 1200


def _search(fails: Callable[[Example], bool], max_examples: int, focus: tuple[str, ...]) -> Example | None:
    try:
        found: Example = find(
            programs_and_points(_INPUTS, _MAX_STEPS, focus), fails,
            settings=settings(max_examples=max_examples, database=None, deadline=None, derandomize=True,
                              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck)),
        )
    except NoSuchExample:
        return None
    return found


def _nearby(point: Mapping[str, float], ranges: Mapping[str, tuple[float, float]]) -> list[dict[str, float]]:
    """``point`` (each input kept inside ``ranges``), then each input moved to one of its
    six simplest values or to ±0.5, ±1, ±1.5, ±2 or ±EXTREME, the others kept."""
    base = {x: point[x] if ranges[x][0] <= point[x] <= ranges[x][1] or abs(point[x]) == EXTREME
            else simple_values(*ranges[x])[0] for x in ranges}
    values = {x: simple_values(*ranges[x]) for x in ranges}
    moved = [{**base, x: v} for x in ranges for v in dict.fromkeys(values[x][:6] + values[x][9::10]) if v != base[x]]
    return [base, *moved]


def _fewer_nodes(example: Example, fails: Callable[[Example], bool], nodes: Callable[[Example], int]) -> Example:
    """Greedily the smallest program near ``example`` that still fails: Hypothesis shrinks
    the program and the point one at a time, so ``sigmoid(sigmoid(x))`` at x = 0 stays
    there though ``sigmoid(x)`` at x = 0.1 fails too. Then the simplest point, input by input."""
    steps, point = example
    improved = True
    while improved:
        improved = False
        for candidate in smaller(steps, _INPUTS):
            ranges = input_ranges(candidate, _INPUTS)
            moved = next((p for p in _nearby(point, ranges) if fails((candidate, p))), None)
            if moved is not None and nodes((candidate, moved)) < nodes((steps, point)):
                steps, point, improved = candidate, moved, True
                break
    first, *others = _INPUTS
    for x in others:  # a program of one input reads the first
        renamed = substitute(steps, x, first), {first: point[x]}
        if first not in reads(steps) and x in reads(steps) and fails(renamed):
            steps, point = renamed
    ranges = input_ranges(steps, _INPUTS)
    for x in _INPUTS:
        simplest = next(v for v in [*simple_values(*ranges[x]), point.get(x, 0.0)] if fails((steps, {**point, x: v})))
        point = {**point, x: simplest}
    return steps, point


def minimal_counterexample(executor: Executor, *, max_examples: int = 400, rel: float = 1e-6,
                           focus: tuple[str, ...] = ()) -> Counterexample | None:
    """Search and shrink to the fewest nodes; None when no disagreement turns up in
    ``max_examples`` tries. ``focus``: ops of the table to draw more often (those a
    known bug is in)."""
    seen: dict[tuple[str, tuple[float, ...]], tuple[str, str] | None] = {}

    def judge(example: Example) -> tuple[Program, dict[str, float], tuple[str, str] | None] | None:
        source = render(example[0])
        try:
            program = parse_source(source)
        except CaseError:
            return None
        point = {x: example[1][x] for x in program.inputs}
        key = (source, tuple(point.values()))
        if key not in seen:
            seen[key] = None
            if _usable(program, point):
                truth = observe(Value, program, point)
                try:
                    mine = executor.execute(program, [point], []).observations[0]
                except Exception:  # its process failed (a timeout, a crash): no numbers to judge here
                    return program, point, None
                seen[key] = _disagreement(mine, truth, program, rel)
        return program, point, seen[key]

    def fails(example: Example) -> bool:
        judged = judge(example)
        return judged is not None and judged[2] is not None

    def nodes(example: Example) -> int:
        judged = judge(example)
        return len(judged[0].nodes) if judged else 1 << 30

    found = _search(fails, max_examples, focus)
    if found is None:
        return None
    steps, values = _fewer_nodes((found[0], dict(found[1])), fails, nodes)
    judged = judge((steps, values))
    assert judged is not None
    program, point, differs = judged
    assert differs is not None, "the smaller example fails too"
    return Counterexample(render(steps), point, len(program.nodes), *differs)


def focus_of(codes: tuple[str, ...]) -> tuple[str, ...]:
    """The ops of the table that catalog codes name (a reflected operator: its op).

    >>> focus_of(("grad-overwrite:exp", "forward:rsub", "topo-revisit", "wrong-local:exp"))
    ('exp', 'sub')
    """
    found: list[str] = []
    for code in codes:
        name = code.partition(":")[2]
        reflected = [op.name for op in OPS.values() if op.method == f"__{name[1:]}__"]
        name = name if name in OPS else reflected[0] if name.startswith("r") and reflected else ""
        if name and name not in found:
            found.append(name)
    return tuple(found)


@cache
def counterexample_for(codes: tuple[str, ...]) -> Counterexample | None:
    """The minimal counterexample of the catalog bugs ``codes`` together, searched once per
    process on their engine (in this process: it is our own code), drawing the ops they
    name more often. None for a code with no engine."""
    from .catalog import faults_of
    from .faults import compile_engine

    faults = faults_of(codes)
    return None if faults is None else minimal_counterexample(InProcessExecutor(compile_engine(faults)),
                                                              max_examples=_CATALOG_EXAMPLES, focus=focus_of(codes))


def confirm(executor: Executor, example: Counterexample, rel: float = 1e-6) -> Counterexample | None:
    """``example`` if ``executor``'s implementation disagrees there too (with its own numbers)."""
    program = parse_source(example.source)
    mine = executor.execute(program, [example.point], []).observations[0]
    found = _disagreement(mine, observe(Value, program, example.point), program, rel)
    return None if found is None else Counterexample(example.source, example.point, example.nodes, *found)


def counterexample_from(diagnosis: Diagnosis) -> Counterexample | None:
    """The smallest probe that shows a named bug computing a wrong value or gradient (or no
    number at all), as a counterexample (the probes are the smallest programs that isolate
    each form and mechanism, and the submission itself failed there: nothing to search or
    confirm; a search for a bug whose probes hold no number took ~90 ms).

    >>> from gradcheck_lab.diagnose import CATALOG, diagnose, observe_probes
    >>> counterexample_from(diagnose(observe_probes(CATALOG["grad-overwrite:add"].engine()))).source
    'L = x + x'
    """
    from .catalog import CATALOG
    from .probes import PROBES

    probes = {p.name: p for p in PROBES}
    shown = [(probes[e.probe], e) for code in diagnosis.codes if CATALOG[code].wrong_number
             for e in diagnosis.evidence.get(code, [])
             if probes[e.probe].backward_calls == 1 and e.probe != "deep-chain" and "Error" not in e.got
             and (" = " in e.got or e.got.endswith(" is not a number")) and not e.got.startswith("needs")]
    if not shown:
        return None
    probe, e = min(shown, key=lambda pe: (len(pe[0].program.nodes), pe[0].name))
    *lines, last = probe.source.split("; ")
    source = "\n".join([*lines, f"L = {last}"])
    return Counterexample(source, dict(probe.point), len(probe.program.nodes), e.expected,
                          e.got.partition("; needs")[0])


def counterexample_of(executor: Executor, codes: Sequence[str], *, rel: float = 1e-6,
                      max_examples: int = 400, search: bool = True) -> Counterexample | None:
    """The smallest disagreement of the implementation behind ``executor``, whose diagnosis
    named ``codes``: the named bugs' own counterexample (searched once per process) if the
    implementation fails it too, else (if ``search``) a search through ``executor`` itself.

    >>> from gradcheck_lab.diagnose import CATALOG
    >>> bug = CATALOG["grad-overwrite:sigmoid"]
    >>> counterexample_of(InProcessExecutor(bug.engine()), [bug.code]).source
    'L = sigmoid(x) + x'
    """
    from .catalog import CATALOG

    named = tuple(sorted(c for c in codes if c in CATALOG and CATALOG[c].wrong_number))  # one search per set
    known = counterexample_for(named) if named else None
    found = confirm(executor, known, rel) if known else None
    if found is None and search:
        found = minimal_counterexample(executor, max_examples=max_examples, rel=rel, focus=focus_of(named))
    return found
