"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import GradcheckError

__all__ = ["usable_dir", "write_text"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.
    The file gets the mode a plain ``open(path, "w")`` would give it (0666 less the umask),
    not ``mkstemp``'s private 0600: others on a course server may read the grades.

    >>> import tempfile, pathlib
    >>> p = write_text(pathlib.Path(tempfile.mkdtemp()) / "sub" / "a.txt", "hi")
    >>> p.read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def usable_dir(path: str | Path, option: str = "--report-dir") -> Path:
    """``path`` as a folder this process can write in (created if missing), else a
    :class:`GradcheckError` saying why in one line. Checked before any work is done.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a-file"
    >>> _ = f.write_text("")
    >>> usable_dir(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gradcheck_lab.errors.GradcheckError: --report-dir ...a-file: is a file, not a folder
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GradcheckError(f"{option} {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # the only sure test (root ignores modes; read-only mounts)
            pass
    except OSError as exc:
        raise GradcheckError(f"{option} {path}: cannot write there ({exc.strerror or exc})") from None
    return path
