"""Load a trusted nn submission in this process: a ``.py`` file, a notebook, or a folder.

A folder's module that defines ``class MLP`` (``nn.py`` first) is imported with the folder
on ``sys.path``, so ``from engine import Value`` finds the student's own engine; the
modules it imported are then forgotten, so the next submission's ``engine`` is its own.
A notebook's code cells run in order (IPython magics and shell escapes dropped). For
untrusted code, grading runs the same checks in the sandboxed child.

>>> import tempfile, pathlib
>>> from gradcheck_lab.nn.template import write_submission
>>> folder = write_submission(pathlib.Path(tempfile.mkdtemp()) / "alice")
>>> sorted(n for n in load_names(folder) if n in ("MLP", "Value", "train"))
['MLP', 'Value', 'train']
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from ..errors import SubmissionError
from ..submissions.nn_observe import forget_shadowing

__all__ = ["find_nn_file", "load_names"]

_DEFINES_MLP = re.compile(r"^\s*class\s+MLP\b", re.MULTILINE)


def find_nn_file(path: Path) -> Path:
    """The file of ``path`` (a file, or a folder's ``nn.py`` or other module) that defines MLP."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise SubmissionError(f"{path}: no such file or folder")
    found = sorted(path.rglob("*.py"), key=lambda p: (p.name != "nn.py", len(p.parts), str(p)))
    found += sorted(path.rglob("*.ipynb"))
    for candidate in found:
        if _DEFINES_MLP.search(_code(candidate)):
            return candidate
    raise SubmissionError(f"{path}: no file defines class MLP (the nn contract: micrograd's nn.py)")


def _code(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8", errors="replace")
    import nbformat

    notebook = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    return "\n\n".join("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.splitlines())
                       for cell in cells)


def load_names(path: str | Path) -> dict[str, Any]:
    """Run the submission's nn module here and return its names (MLP, train, Value...)."""
    main = find_nn_file(Path(path))
    folder = str(main.parent.resolve())
    forget_shadowing(folder)
    before = set(sys.modules)
    sys.path.insert(0, folder)
    names: dict[str, Any] = {"__name__": "student_nn", "__file__": str(main)}
    try:
        exec(compile(_code(main), str(main), "exec"), names)
    except Exception as exc:
        raise SubmissionError(f"{main}: running it raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(folder)
        for name in set(sys.modules) - before:
            module = sys.modules[name]
            if str(getattr(module, "__file__", "") or "").startswith(folder):
                del sys.modules[name]
    return names
