"""The nn checks as grades: one graded case per check, the nn codes as diagnosis entries.

An assignment that asks for ``nn.py`` gives each check its points (:class:`NNAssignment`);
one that does not is unaffected (no nn case, no nn request). A check earns its points when
it agrees, nothing otherwise. Verdicts keep the core vocabulary: a broken contract (no
``MLP``...) is ``unsupported``, an exception ``exception``, a wrong forward pass
``forward-mismatch``, any other failure ``grad-mismatch`` (each ends in wrong gradients or
updates). The codes join the submission's diagnosis, so the class summary groups students
by them and Gradescope shows them with the engine's.

>>> import gradcheck_lab.nn.reference as ref
>>> from gradcheck_lab.nn import check_nn, in_process
>>> grades = nn_case_grades(check_nn(in_process(vars(ref))), NNAssignment())
>>> [(g.name, g.verdict, g.score) for g in grades]
[('nn-structure', 'ok', 2.0), ('nn-forward', 'ok', 2.0), ('nn-gradients', 'ok', 3.0), ('nn-training', 'ok', 3.0)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..answer_keys import AnswerKeys
from ..nn.bugs import NN_CATALOG, NNKind
from ..nn.checks import NNConfig, NNResult, check_nn
from ..nn.network import Activation
from ..report.nn import nn_html, nn_step_html, nn_text
from ..submissions import ChildFailure
from .model import CaseGrade

__all__ = [
    "DEFAULT_POINTS", "NN_NAMES", "NNAssignment", "NNGraded", "grade_nn", "nn_case_grades", "nn_diagnosis",
    "nn_failed_grades",
]

#: The names a submission's loading keeps for the nn checks (besides Value and what it needs).
NN_NAMES = ("Module", "Neuron", "Layer", "MLP", "train")

DEFAULT_POINTS: dict[str, float] = {"structure": 2.0, "forward": 2.0, "gradients": 3.0, "training": 3.0}


@dataclass(frozen=True)
class NNAssignment:
    """Whether the assignment asks for ``nn.py``, what each check is worth, and what it runs."""

    points: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_POINTS))  #: by NNKind value
    config: NNConfig = field(default_factory=NNConfig)
    required: bool = True  #: False: a submission without nn.py (no MLP) is excused, as an absent optional op is

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> NNAssignment:
        """From an assignment file's ``[nn]`` table: ``points = {structure = 2, ...}``, ``steps``,
        ``lr``, ``samples``, ``seed``, ``hidden`` (sizes), ``activation``, ``required`` (default true).

        >>> NNAssignment.from_table({"points": {"training": 5}, "steps": 3}).points["training"]
        5.0
        """
        unknown = set(table) - {"points", "steps", "lr", "samples", "seed", "hidden", "activation", "required"}
        if unknown:
            raise ValueError(f"[nn]: unknown keys {', '.join(sorted(unknown))}")
        points = dict(DEFAULT_POINTS)
        for kind, value in dict(table.get("points", {})).items():
            if kind not in points:
                raise ValueError(f"[nn] points: {kind!r} is no nn check ({', '.join(points)})")
            points[kind] = float(value)
        defaults = NNConfig()
        config = NNConfig(
            nouts=(*(int(h) for h in table.get("hidden", defaults.nouts[:-1])), 1),
            samples=int(table.get("samples", defaults.samples)), steps=int(table.get("steps", defaults.steps)),
            lr=float(table.get("lr", defaults.lr)), seed=int(table.get("seed", defaults.seed)),
            activation=Activation(table["activation"]) if "activation" in table else None,
        )
        required = table.get("required", True)
        if not isinstance(required, bool):
            raise ValueError("[nn] required must be true or false")
        return cls(points, config, required)


_VERDICT = {NNKind.FORWARD: "forward-mismatch"}


def _message(result: NNResult, kind: NNKind) -> str:
    codes = [c for c in result.codes if NN_CATALOG[c].kind is kind] or result.codes
    lines = result.section(kind).lines
    if codes:
        return f"{', '.join(codes)}: {NN_CATALOG[codes[0]].explanation}"
    return lines[-1] if lines else ""


def nn_case_grades(result: NNResult, assignment: NNAssignment,
                   incidents: Mapping[str, str] | None = None) -> list[CaseGrade]:
    """One graded case per nn check; ``incidents``: by check, the process failure that
    stopped it (``timeout``, ``crash``, ``memory``), its verdict."""
    grades = []
    feedback = nn_text(result, "nn.py")
    if not assignment.required and result.absent:
        return [CaseGrade(f"nn-{s.kind.value}", f"nn.py::{s.kind.value}", w, False, "unsupported", w, 0, 1,
                          "no MLP: nn.py is absent", "", excused="nn.py is optional and absent here")
                for s in result.sections for w in [float(assignment.points.get(s.kind.value, 0.0))]]
    for section in result.sections:
        weight = float(assignment.points.get(section.kind.value, 0.0))
        if (incidents or {}).get(section.kind.value) and section.verdict == "error":
            verdict = (incidents or {})[section.kind.value]
        elif section.verdict in ("ok", "skipped") and (section.verdict == "ok" or not result.codes):
            verdict = "ok"
        elif "nn-contract" in result.codes and section.verdict in ("error", "skipped"):
            verdict = "unsupported"
        elif section.verdict in ("error", "skipped"):
            verdict = "exception"
        else:
            verdict = _VERDICT.get(section.kind, "grad-mismatch")
        ok = verdict == "ok"
        grades.append(CaseGrade(f"nn-{section.kind.value}", f"nn.py::{section.kind.value}", weight, False, verdict,
                                weight if ok else 0.0, int(ok), 1, "" if ok else _message(result, section.kind),
                                "" if ok else feedback))
    return grades


def nn_failed_grades(assignment: NNAssignment, verdict: str, message: str) -> list[CaseGrade]:
    """Every nn check at 0 points with one verdict (the child crashed, timed out, ran out of memory)."""
    return [CaseGrade(f"nn-{kind.value}", f"nn.py::{kind.value}", float(assignment.points.get(kind.value, 0.0)),
                      False, verdict, 0.0, 0, 1, message, message) for kind in NNKind]


def nn_diagnosis(result: NNResult, assignment: NNAssignment | None = None) -> list[dict[str, Any]]:
    """The nn codes as diagnosis entries (code, explanation, evidence), as the engine's are
    (none for an optional nn.py that is absent)."""
    if assignment is not None and not assignment.required and result.absent:
        return []
    return [{"code": code, "explanation": NN_CATALOG[code].explanation,
             "evidence": [{"probe": f"nn {NN_CATALOG[code].kind.value}", "source": e.where, "point": {},
                           "expected": e.expected, "got": e.got, "predicted": e.predicted}
                          for e in result.evidence[code]]}
            for code in result.codes]


@dataclass
class NNGraded:
    """What grading one submission's nn.py gives: the result (None if the child failed), the
    graded cases, the diagnosis entries and the report's HTML section."""

    result: NNResult | None
    cases: list[CaseGrade]
    diagnosis: list[dict[str, Any]]
    html: str = ""


def grade_nn(child: Any, assignment: NNAssignment, keys: AnswerKeys, *, html: bool = False,
             unit_roundoff: float = 2.0**-53) -> NNGraded:
    """The nn checks through ``child.nn`` (a :class:`~gradcheck_lab.submissions.SandboxExecutor`
    or a trusted one), as grades. A child that fails (timeout, crash, memory) fails every nn
    check with that verdict; a reply the judgement cannot read is refused as a crash."""
    incidents: dict[str, str] = {}
    sections = {"structure": "structure", "forward": "forward", "gradients": "gradients", "losses": "gradients",
                "train": "training"}

    def run(request: dict[str, Any]) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = child.nn(request)
        except ChildFailure as failure:
            incidents.setdefault(sections.get(request.get("kind", ""), ""), failure.kind)
            return {"error": {"kind": failure.kind, "message": failure.message, "traceback": failure.traceback}}
        return reply

    try:
        result = check_nn(run, assignment.config, keys, unit_roundoff=unit_roundoff)
        section = nn_html(result, walkthrough=nn_step_html(result, assignment.config, keys, run)) if html else ""
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        message = f"nn checks: the child's reply was refused ({type(exc).__name__}: {exc})"
        return NNGraded(None, nn_failed_grades(assignment, "crash", message), [])
    return NNGraded(result, nn_case_grades(result, assignment, incidents), nn_diagnosis(result, assignment), section)
