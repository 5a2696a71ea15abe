"""The grades: one case's, one submission's, a batch's, and what a worker sends back.

Plain data, importing nothing of the grader or the reports: the reports read it, the
grader fills it.

>>> g = SubmissionGrade("ann", "ann.py", "", "correct", 1.0, 1.0, "all 1 cases agree")
>>> SubmissionGrade.from_json(g.to_json()) == g
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..compare import WARNINGS

__all__ = [
    "GRADER_VERSION", "SUBMISSION_VERDICTS", "BatchResult", "Capability", "CaseGrade", "GradeOutcome",
    "SubmissionGrade",
]

GRADER_VERSION = "2"  #: bump when grades' meaning changes: every stored grade is then redone
#: From best to worst.
SUBMISSION_VERDICTS = ("correct", "partial", "wrong", "memory", "timeout", "crash", "invalid")


@dataclass
class CaseGrade:
    """One case of one submission: its score and why."""

    name: str
    selector: str
    weight: float
    hidden: bool
    verdict: str  #: a core verdict (``ok``, ``grad-mismatch``...) or ``timeout``/``crash``/``memory``
    score: float
    agreed: int = 0  #: (point, node) checks that agree
    judged: int = 0  #: checks judged (warnings such as kinks are not)
    message: str = ""  #: the first thing that went wrong
    feedback: str = ""  #: the failing points' tables, as text

    @property
    def max_score(self) -> float:
        return self.weight

    @property
    def passed(self) -> bool:
        return self.verdict == "ok" or self.verdict in WARNINGS


@dataclass
class Capability:
    """One probe: can the class do ``form`` (``x + 2``, ``exp(x)``...), and is it right."""

    form: str
    op: str
    verdict: str
    message: str = ""


@dataclass
class SubmissionGrade:
    """A submission's grade: what ``grade.json`` holds and every report is made from."""

    id: str
    path: str
    hash: str
    verdict: str
    score: float
    max_score: float
    finding: str
    cases: list[CaseGrade] = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)
    main: str = ""
    precision: str = "float64"
    output: str = ""  #: what the submission printed (bounded)
    error: str = ""  #: the loading failure's traceback, if any
    incident: str = ""  #: the first crash, timeout or memory failure: where and what
    diagnosis: list[dict[str, Any]] = field(default_factory=list)  #: codes, explanations, evidence
    unexplained: list[dict[str, Any]] = field(default_factory=list)  #: probes no known bug explains
    counterexample: str = ""  #: a minimal disagreeing case, as a [[case]] table
    seconds: float = 0.0

    @property
    def codes(self) -> list[str]:
        """The diagnosis codes, e.g. ``["grad-overwrite:mul"]``."""
        return [d["code"] for d in self.diagnosis]

    def to_json(self) -> dict[str, Any]:
        """As ``dataclasses.asdict`` gives it, without its deep copies (a grade is written twice)."""
        return {**vars(self), "cases": [dict(vars(c)) for c in self.cases],
                "capabilities": [dict(vars(c)) for c in self.capabilities]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubmissionGrade:
        fields = dict(data)
        fields["cases"] = [CaseGrade(**c) for c in fields.get("cases", [])]
        fields["capabilities"] = [Capability(**c) for c in fields.get("capabilities", [])]
        return cls(**fields)


@dataclass
class GradeOutcome:
    """What a worker sends back: the grade and its rendered per-submission reports."""

    grade: SubmissionGrade
    report_md: str
    report_json: str
    report_html: str = ""


@dataclass
class BatchResult:
    """A batch: every submission's grade in input order, and which were reused."""

    grades: list[SubmissionGrade]
    reused: set[str]
    seconds: float
    errors: dict[str, str] = field(default_factory=dict)  #: id -> why the grader itself failed
