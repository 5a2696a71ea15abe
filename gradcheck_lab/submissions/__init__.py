"""Student submissions: loading ``.py``/``.ipynb``/folders, the sandboxed child.

The grader (:mod:`gradcheck_lab.grading`) uses these; student code only ever runs in
the child process that :class:`SandboxExecutor` starts (in bubblewrap: :mod:`.isolation`).
"""

from __future__ import annotations

from .loading import Chunk, Submission, SubmissionRef, content_digest, discover, extract_source, load_submission
from .sandbox import ChildFailure, Limits, LoadReport, SandboxExecutor, SandboxUnavailable, isolation_problem

__all__ = [
    "ChildFailure",
    "Chunk",
    "Limits",
    "LoadReport",
    "SandboxExecutor",
    "SandboxUnavailable",
    "Submission",
    "SubmissionRef",
    "content_digest",
    "discover",
    "extract_source",
    "isolation_problem",
    "load_submission",
]
