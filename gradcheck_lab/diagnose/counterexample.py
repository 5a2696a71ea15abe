"""The smallest expression where an implementation disagrees with the truth.

Hypothesis searches random expressions over x and y (every op of the table) and random
points, and shrinks the first disagreement it finds to a minimal one: for ``=`` instead
of ``+=`` in the backward of ``+``, ``L = x + x``. The search compares against the
reference engine (held to SymPy by the test suite) so it needs no SymPy per example;
the result is printed as a case to paste into a case file.

>>> from gradcheck_lab.diagnose import CATALOG
>>> from gradcheck_lab.executors import InProcessExecutor
>>> found = minimal_counterexample(InProcessExecutor(CATALOG["grad-overwrite:add"].engine()))
>>> found.source, found.nodes
('L = x + x', 2)
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from ..cases import parse_source
from ..engine import Value
from ..errors import CaseError
from ..executors import Executor, InProcessExecutor, Observation, observe
from ..program import Program
from .strategies import expressions

__all__ = ["Counterexample", "confirm", "counterexample_for", "minimal_counterexample"]

_INPUTS = ("x", "y")
_POINTS = st.fixed_dictionaries({x: st.integers(-20, 20).map(lambda v: v / 10) for x in _INPUTS})


@dataclass(frozen=True)
class Counterexample:
    """A minimal disagreement: the source, the point, and what differed."""

    source: str
    point: dict[str, float]
    nodes: int  #: nodes of the program (inputs included)
    expected: str
    got: str

    def as_case(self, name: str = "counterexample") -> str:
        """A ``[[case]]`` table to paste into a case file and rerun."""
        point = ", ".join(f"{k} = {v!r}" for k, v in self.point.items())
        return (f'[[case]]\nname = "{name}"\nabout = "found by gradcheck_lab: {self.got}; the truth: {self.expected}"\n'
                f'source = "{self.source}"\npoints = [{{{point}}}]\ntags = ["counterexample"]\n')


def _disagreement(mine: Observation, truth: Observation, program: Program, rel: float) -> tuple[str, str] | None:
    if truth.error is not None:
        return None
    if mine.error is not None:
        return "no error", mine.error.message
    names = [n.title for n in program.nodes]
    for label, got, want in (("data", mine.data, truth.data), ("grad", mine.grads, truth.grads)):
        for k, (a, b) in enumerate(zip(got, want)):
            if b is None or not math.isfinite(b):
                return None
            if a is None or not abs(a - b) <= 1e-9 + rel * abs(b):
                return f"{names[k]}.{label} = {b:.6g}", f"{names[k]}.{label} = {a}"
    return None


def minimal_counterexample(executor: Executor, *, max_examples: int = 400, rel: float = 1e-6) -> Counterexample | None:
    """Search and shrink; None when no disagreement turns up in ``max_examples`` tries."""
    leaves = st.sampled_from((*_INPUTS, "2", "0.5"))
    sources = expressions(leaves, max_leaves=6).map(lambda e: "L = " + ast.unparse(ast.parse(e)))
    cache: dict[tuple[str, tuple[float, ...]], tuple[str, str] | None] = {}

    def fails(example: tuple[str, Mapping[str, float]]) -> bool:
        source, values = example
        try:
            program = parse_source(source)
        except CaseError:
            return False
        point = {x: values[x] for x in program.inputs}
        key = (source, tuple(point.values()))
        if key not in cache:
            truth = observe(Value, program, point)
            mine = executor.execute(program, [point], []).observations[0]
            cache[key] = _disagreement(mine, truth, program, rel)
        return cache[key] is not None

    try:
        source, values = find(
            st.tuples(sources, _POINTS), fails,
            settings=settings(max_examples=max_examples, database=None, deadline=None, derandomize=True,
                              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck)),
        )
    except NoSuchExample:
        return None
    program = parse_source(source)
    point = {x: values[x] for x in program.inputs}
    expected, got = cache[(source, tuple(point.values()))] or ("", "")
    return Counterexample(source, point, len(program.nodes), expected, got)


@cache
def counterexample_for(codes: tuple[str, ...]) -> Counterexample | None:
    """The minimal counterexample of the catalog bugs ``codes`` together, searched once per
    process on their engine (in this process: it is our own code)."""
    from .catalog import CATALOG, Faults, _engine

    faults = Faults()
    for code in codes:
        bug_faults = CATALOG[code].faults
        if bug_faults is None:
            return None
        faults = faults + bug_faults
    return minimal_counterexample(InProcessExecutor(_engine(faults, None)))


def confirm(executor: Executor, example: Counterexample, rel: float = 1e-6) -> Counterexample | None:
    """``example`` if ``executor``'s implementation disagrees there too (with its own numbers)."""
    program = parse_source(example.source)
    mine = executor.execute(program, [example.point], []).observations[0]
    found = _disagreement(mine, observe(Value, program, example.point), program, rel)
    return None if found is None else Counterexample(example.source, example.point, example.nodes, *found)
