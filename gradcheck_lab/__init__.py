"""gradcheck_lab: check scalar autograd engines against SymPy and finite differences.

>>> from gradcheck_lab import Value, check
>>> check("L = x * x + x", {"x": 3.0}, Value).verdict
'ok'

The public surface is ``__all__``; everything else is internal.
"""

from __future__ import annotations

from .cases import Case, collect_cases, load_case_file, load_cases
from .engine import Value
from .errors import CaseError, GradcheckError, GradientMismatch, SubmissionError
from .executors import Executor, InProcessExecutor
from .harness import CaseResult, Run, assert_gradients, check, check_case, check_cases
from .notebook import EngineCheck, Explanation, check_engine, explain
from .ops import OPS, Op
from .source import parse_source
from .valuelike import ValueLike
from .version import __version__

__all__ = [
    "OPS",
    "Case",
    "CaseError",
    "CaseResult",
    "EngineCheck",
    "Executor",
    "Explanation",
    "GradcheckError",
    "GradientMismatch",
    "InProcessExecutor",
    "Op",
    "Run",
    "SubmissionError",
    "Value",
    "ValueLike",
    "__version__",
    "assert_gradients",
    "check",
    "check_case",
    "check_cases",
    "check_engine",
    "collect_cases",
    "explain",
    "load_case_file",
    "load_cases",
    "parse_source",
]
