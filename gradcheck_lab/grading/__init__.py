"""Grading student submissions: an assignment, scores, verdicts, and batches that resume.

One job per module, importing one way (model <- assignment <- score <- run <- batch):

- :mod:`.model`: the grades (a case's, a submission's, a batch's); plain data.
- :mod:`.assignment`: what is graded and how (the assignment file, the rubric, the configuration).
- :mod:`.score`: a judged case becomes points; a submission's verdict and finding.
- :mod:`.run`: one submission, in a sandboxed child.
- :mod:`.batch`: a class, on any executor, resuming after an interruption.

The reports (:mod:`gradcheck_lab.report.grades`) read the model and are called by
:mod:`.run`; they never import the grader back.
"""

from __future__ import annotations

from .assignment import Assignment, AssignmentError, GradeConfig, Rubric, default_assignment, load_assignment
from .batch import grade_batch, read_grade, submission_dir, write_outcome
from .model import (
    GRADER_VERSION,
    SUBMISSION_VERDICTS,
    BatchResult,
    Capability,
    CaseGrade,
    Deduction,
    GradeOutcome,
    SubmissionGrade,
    Verdict,
)
from .run import grade_submission, warm_answer_keys
from .score import grade_case

__all__ = [
    "GRADER_VERSION", "SUBMISSION_VERDICTS", "Assignment", "AssignmentError", "BatchResult", "Capability", "CaseGrade",
    "Deduction", "GradeConfig", "GradeOutcome", "Rubric", "SubmissionGrade", "Verdict", "default_assignment",
    "grade_batch", "grade_case", "grade_submission", "load_assignment", "read_grade", "submission_dir",
    "warm_answer_keys", "write_outcome",
]
