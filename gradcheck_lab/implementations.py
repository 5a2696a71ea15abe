"""Loading a Value class from a file, for ``--impl`` (trusted code, run in this process).

Student submissions are never loaded this way: the grader runs them in a sandboxed
child process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from .errors import SubmissionError

__all__ = ["load_value_class"]


def load_value_class(path: str | Path, name: str = "Value") -> Any:
    """Import ``path`` as a module and return its ``Value`` class.

    The file's folder is put first on ``sys.path`` while it loads, so sibling modules
    it imports are found.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file")
    module_name = "gradcheck_impl_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SubmissionError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SubmissionError(f"{path}: importing it raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.pop(0)
    value_class = getattr(module, name, None)
    if not isinstance(value_class, type):
        raise SubmissionError(f"{path}: defines no class {name}")
    return value_class
