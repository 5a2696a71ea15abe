"""Soundness of the tolerance model: random programs heavy in reuse and cancellation, the
reference engine judged on them, and the answer key held against an independent 50-digit
evaluation.

A *false alarm* is a correct engine (the reference :class:`~gradcheck_lab.engine.Value`)
given a failing verdict by :func:`~gradcheck_lab.compare.judge`. The *ratio* of a node is
its error against the truth over its tolerance (a false alarm is a ratio above 1). The
independent evaluation runs each program in mpmath at 50 digits with every op written
here a second time (each row's ``Op.mpmath``, not its SymPy form) and differentiates by
``mpmath.diff`` with a node replaced by a variable: no local partial and no chain rule of
the answer key is reused.

>>> report = run(range(40))
>>> report.false_alarms, report.disagreements, report.judged > 15
(0, 0, True)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath

from .compare import FAILURES, judge
from .engine import Value
from .executors import InProcessExecutor
from .ops import OPS
from .program import Node, Program, Ref
from .symbolic import PRECISION, answer_key
from .truth import SAFETY, UNIT_ROUNDOFF

__all__ = ["MPMATH", "Report", "independent", "random_program", "run", "summary"]

#: Every op of the table in mpmath (each row's ``Op.mpmath``, written apart from its SymPy form).
MPMATH: dict[str, Callable[..., Any]] = {op.name: op.mpmath for op in OPS.values()}
_AGREE = mpmath.mpf(10) ** -18  #: the answer key's 20 digits against the independent value (relative)
_FLOOR = mpmath.mpf(10) ** -35  #: ... and absolute, times the output's scale


# --------------------------------------------------------------------------- programs

_INPUTS = ("x", "y", "z")
_UNARY = tuple(n for n, op in OPS.items() if op.arity == 1)
_BINARY = tuple(n for n, op in OPS.items() if op.arity == 2 and op.number_operand is None)
_EXPONENTS = (2, 3, -1, -2, 0.5, 1.5)
_BASES = (2.0, 0.5, 3.0)
_CONSTANTS = (2.0, 0.5, -1.5, 3.0)


def random_program(rng: random.Random, steps: int = 8) -> Program:
    """A straight-line program of about ``steps`` moves over x, y, z, most reading a node
    already read (reuse) and many undoing another (``v / v``, ``v - v``, ``log(exp(v))``,
    ``(v * w) / w``, ``relu(v) / v``, saturating ``tanh(tanh(8 * v))``).

    >>> p = random_program(random.Random(1)); p.inputs, len(p.nodes) > 3
    (('x', 'y', 'z'), True)
    """
    nodes = [Node("input", (), x, x) for x in _INPUTS]

    def add(op: str, *args: Ref | float) -> Ref:
        nodes.append(Node(op, tuple(args), "", f"t{len(nodes)}"))
        return Ref(len(nodes) - 1)

    def pick() -> Ref:
        recent = len(nodes) - 1 - min(int(rng.expovariate(0.7)), len(nodes) - 1)
        return Ref(recent)

    for _ in range(steps):
        v, w = pick(), pick()
        move = rng.randrange(12)
        if move == 0:
            add("div", v, v)
        elif move == 1:
            add("sub", v, v)
        elif move == 2:
            add("log", add("exp", v))
        elif move == 3:
            add("div", add("mul", v, w), w)
        elif move == 4:
            add("sub", add("add", v, w), w)
        elif move == 5:
            add("div", add("relu", v), v)
        elif move == 6:
            add(rng.choice(("tanh", "sigmoid")), add(rng.choice(("tanh", "sigmoid")), add("mul", v, 8.0)))
        elif move == 7:
            add("pow", v, rng.choice(_EXPONENTS))
        elif move == 8:
            add("rpow", rng.choice(_BASES), v)
        elif move == 9:
            add(rng.choice(_BINARY), v, rng.choice(_CONSTANTS) if rng.random() < 0.3 else w)
        else:
            add(rng.choice(_UNARY), v)
    uses = len(nodes) - 1
    out = add("add", Ref(uses), add("mul", Ref(rng.randrange(3, uses + 1)), Ref(rng.randrange(uses + 1))))
    return Program(tuple(nodes), out.index)


def _random_point(rng: random.Random) -> dict[str, float]:
    """Inputs in [-3, 3] to 4 digits, now and then far out where tanh and sigmoid saturate."""
    return {x: round(rng.uniform(-3.0, 3.0) * (8.0 if rng.random() < 0.1 else 1.0), 4) for x in _INPUTS}


# --------------------------------------------------------------------------- independent truth


def _values(program: Program, point: Mapping[str, float], node: int = -1, at: Any = None) -> list[Any]:
    """Every node at ``point`` in mpmath (node ``node`` replaced by ``at``)."""
    values: list[Any] = []
    for k, n in enumerate(program.nodes):
        if k == node:
            values.append(at)
        elif n.op == "input":
            values.append(mpmath.mpf(point[n.name]))
        else:
            values.append(MPMATH[n.op](*(values[a.index] if isinstance(a, Ref) else mpmath.mpf(a) for a in n.args)))
    return values


def independent(
    program: Program, point: Mapping[str, float], nodes: Iterable[int] = ()
) -> tuple[list[Any], dict[int, Any]]:
    """Every node's value and dL/dnode of each of ``nodes``, at 50 digits, by mpmath alone."""
    with mpmath.workdps(PRECISION):
        values = _values(program, point)
        grads = {
            k: mpmath.diff(lambda s, k=k: _values(program, point, k, s)[program.output], values[k]) for k in nodes
        }
    return values, grads


# --------------------------------------------------------------------------- the run


@dataclass
class Report:
    """What :func:`run` found over its programs."""

    programs: int = 0
    judged: int = 0  #: programs inside every domain, judged
    nodes: int = 0
    false_alarms: int = 0
    disagreements: int = 0  #: answer-key numbers off the independent ones in their 20 digits
    too_large: int = 0  #: not compared: sin or cos of a number beyond 1e10
    unusable: int = 0  #: judged a domain warning: within rounding of a pole, or ill-conditioned
    worst_ratio: float = 0.0  #: the largest error / tolerance of any value or gradient
    worst: str = ""  #: the program and point of the worst ratio
    examples: list[str] = field(default_factory=list)  #: the first few false alarms and disagreements


def _ratio(error: float, tol: float) -> float:
    return 0.0 if error == 0 else math.inf if tol == 0 else error / tol


def run(seeds: Iterable[int], engine: Any = Value, *, steps: int = 8, all_nodes: bool = True,
        unit_roundoff: float = UNIT_ROUNDOFF) -> Report:
    """Judge ``engine`` on one random program and point per seed, and the answer key against
    the independent evaluation (every node's gradient, or only the inputs' when not
    ``all_nodes``)."""
    report = Report()
    executor = InProcessExecutor(engine)
    for seed in seeds:
        rng = random.Random(seed)
        program, point = random_program(rng, steps), _random_point(rng)
        report.programs += 1
        truth = answer_key(program, point)
        if truth.domain_error:
            continue
        report.judged += 1
        report.nodes += len(program.nodes)
        observation = executor.execute(program, [point], []).observations[0]
        check = judge(program, truth, observation, [], unit_roundoff=unit_roundoff)
        where = f"seed {seed}: {_source(program)} at {point}"
        if check.verdict in FAILURES:
            report.false_alarms += 1
            report.examples.append(f"false alarm ({check.verdict}) {where}")
        for nc in check.nodes:
            if nc.verdict in ("ok", "grad-mismatch", "forward-mismatch") and nc.value is not None:
                assert nc.value_tol is not None and nc.symbolic_value is not None
                ratio = _ratio(abs(nc.value - nc.symbolic_value), nc.value_tol)
                if nc.verdict != "forward-mismatch" and nc.grad is not None:
                    assert nc.grad_tol is not None and nc.symbolic_grad is not None
                    ratio = max(ratio, _ratio(abs(nc.grad - nc.symbolic_grad), nc.grad_tol))
                if ratio > report.worst_ratio:
                    report.worst_ratio, report.worst = ratio, f"{where}, node {nc.name}"
        if check.verdict == "domain-error":  # within rounding of a pole, or ill-conditioned: not judged
            report.unusable += 1
            continue
        kinked = truth.nondifferentiable(program, unit_roundoff)
        wanted = [k for k in (range(len(program.nodes)) if all_nodes else range(len(program.inputs)))
                  if k not in kinked]
        values, grads = independent(program, point, wanted)
        if _periodic_of_huge(program, values):
            report.too_large += 1
            continue
        scale = 1 + abs(values[program.output])
        off = [k for k, v in enumerate(values) if not _agree(truth.exact_values[k], v, scale)]
        off += [k for k, g in grads.items() if not _agree(truth.exact_grads[k], g, scale)]
        if off:
            report.disagreements += 1
            report.examples.append(f"answer key off at nodes {off}: {where}")
    return report


def _periodic_of_huge(program: Program, values: Sequence[Any]) -> bool:
    """sin or cos of a number beyond 1e10: 50 digits of it leave fewer than 40 of the result
    (and any float engine's result there is noise, with a tolerance to match)."""
    return any(n.op in ("sin", "cos") and abs(values[n.args[0].index]) > 1e10
               for n in program.nodes if n.op != "input" and isinstance(n.args[0], Ref))


def _agree(ours: str, theirs: Any, scale: Any) -> bool:
    """The answer key's 20 digits against the independent number (mpmath.diff is exact to
    about 35 digits of the output's scale)."""
    with mpmath.workdps(PRECISION):
        return bool(abs(mpmath.mpf(ours) - theirs) <= _AGREE * abs(theirs) + _FLOOR * scale)


def _source(program: Program) -> str:
    """The program as one line of a case source (``t3 = t0 / t0; ...``)."""
    parts = []
    for node in program.nodes[len(program.inputs):]:
        args = ", ".join(program.nodes[a.index].title if isinstance(a, Ref) else repr(a) for a in node.args)
        parts.append(f"{node.title} = {node.op}({args})")
    return "; ".join(parts)


def summary(report: Report, seconds: float) -> Sequence[str]:
    """The report as lines of text."""
    return [
        f"{report.programs} random programs ({report.judged} inside every domain, {report.nodes} nodes) "
        f"in {seconds:.1f} s",
        f"false alarms on the reference engine: {report.false_alarms} "
        f"({report.unusable} points warned as within rounding of a pole or ill-conditioned)",
        f"answer key against independent mpmath (50 digits): {report.disagreements} disagreements "
        f"({report.too_large} not compared: sin or cos of a number beyond 1e10)",
        f"worst error / tolerance: {report.worst_ratio:.3g} (SAFETY = {SAFETY:g}) at {report.worst}",
        *report.examples[:5],
    ]
