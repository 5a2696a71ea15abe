"""The grades: one case's, one submission's, a batch's, and what a worker sends back.

Plain data, importing nothing of the grader or the reports: the reports read it, the
grader fills it.

>>> g = SubmissionGrade("ann", "ann.py", "", "correct", 1.0, 1.0, "all 1 cases agree")
>>> SubmissionGrade.from_json(g.to_json()) == g
True
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..compare import WARNINGS

__all__ = [
    "GRADER_VERSION", "SUBMISSION_VERDICTS", "BatchResult", "Capability", "CaseGrade", "Deduction", "GradeOutcome",
    "SubmissionGrade", "Verdict",
]

GRADER_VERSION = "3"  #: bump when grades' meaning changes: every stored grade is then redone


class Verdict(str, enum.Enum):
    """A submission's verdict: one meaning each, from best to worst (``severity``).

    >>> Verdict.worst([Verdict.PARTIAL, Verdict.WRONG, Verdict.CORRECT])
    <Verdict.WRONG: 'wrong'>
    >>> Verdict.CORRECT.severity < Verdict.PARTIAL.severity, Verdict.ENVIRONMENT.students_fault
    (True, False)
    """

    CORRECT = "correct"  #: every required form present and right; every present optional one right
    PARTIAL = "partial"  #: required forms missing, nothing wrong
    WRONG = "wrong"  #: a wrong value or gradient, shown by a case or a probe (or a broken contract)
    MEMORY = "memory"  #: it ran out of memory
    TIMEOUT = "timeout"  #: it ran out of time
    CRASH = "crash"  #: the process died, or exited
    INVALID = "invalid"  #: no usable Value: a syntax error, no class
    ENVIRONMENT = "environment"  #: not the student's fault: the grading environment lacks a module it imports

    def __str__(self) -> str:
        return self.value

    @property
    def severity(self) -> int:
        """0 for correct, growing with how bad it is."""
        return list(Verdict).index(self)

    @property
    def students_fault(self) -> bool:
        return self is not Verdict.ENVIRONMENT

    @classmethod
    def worst(cls, verdicts: Iterable[Verdict]) -> Verdict:
        return max(verdicts, key=lambda v: v.severity, default=cls.CORRECT)


#: The verdicts' names, from best to worst.
SUBMISSION_VERDICTS = tuple(v.value for v in Verdict)


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
    excused: str = ""  #: why it costs nothing though it did not pass (an optional op absent...)

    @property
    def max_score(self) -> float:
        return self.weight

    @property
    def passed(self) -> bool:
        return self.verdict == "ok" or self.verdict in WARNINGS or bool(self.excused)


@dataclass
class Deduction:
    """Points a bug proven by the probes costs beyond the cases (a case shows no bug of it)."""

    code: str  #: the diagnosis code, or ``form:<form>`` for a wrong form no code names
    points: float
    why: str


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
    verdict: Verdict
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
    assignment: str = ""  #: the assignment graded: its name and file
    deductions: list[Deduction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  #: proven codes that cost nothing here

    def __post_init__(self) -> None:
        self.verdict = Verdict(self.verdict)  # a name no verdict has is an error, never a pass

    @property
    def codes(self) -> list[str]:
        """The diagnosis codes, e.g. ``["grad-overwrite:mul"]``."""
        return [d["code"] for d in self.diagnosis]

    def to_json(self) -> dict[str, Any]:
        """As ``dataclasses.asdict`` gives it, without its deep copies (a grade is written twice)."""
        return {**vars(self), "verdict": self.verdict.value, "cases": [dict(vars(c)) for c in self.cases],
                "capabilities": [dict(vars(c)) for c in self.capabilities],
                "deductions": [dict(vars(d)) for d in self.deductions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubmissionGrade:
        fields = dict(data)
        fields["cases"] = [CaseGrade(**c) for c in fields.get("cases", [])]
        fields["capabilities"] = [Capability(**c) for c in fields.get("capabilities", [])]
        fields["deductions"] = [Deduction(**d) for d in fields.get("deductions", [])]
        return cls(**fields)


@dataclass
class GradeOutcome:
    """What a worker sends back: the grade and its rendered per-submission reports."""

    grade: SubmissionGrade
    report_md: str
    report_json: str
    report_html: str = ""
    grade_json: str = ""  #: ``grade.json``'s text, made with ``report.json`` (else made when written)


@dataclass
class BatchResult:
    """A batch: every submission's grade in input order, and which were reused."""

    grades: list[SubmissionGrade]
    reused: set[str]
    seconds: float
    errors: dict[str, str] = field(default_factory=dict)  #: id -> why the grader itself failed
