"""The answer key of a case at its points, computed once and cached on disk.

Keys are addressed by the program's digest and the point, so an edited case gets a
new key and an unchanged one is never recomputed. A warm run never imports SymPy.
The cache lives in ``$GRADCHECK_CACHE``, else ``$XDG_CACHE_HOME/gradcheck_lab``, else
``~/.cache/gradcheck_lab``; files are written atomically, so concurrent runs are safe.

Nothing read from the cache is trusted: each file is sealed with a hash of its content
and of what it is the key of (:func:`write_sealed`), and read only if it is a regular
file of sane size whose seal matches (:func:`read_sealed`); anything else (damaged,
edited, swapped with another key, a FIFO, a link) is recomputed and rewritten, never
waited on.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .atomic import write_text
from .program import Program
from .truth import PointTruth

__all__ = ["AnswerKeys", "default_cache_dir", "read_sealed", "write_sealed"]

_VERSION = "1"  # bump when the answer key's meaning changes
_MAX_CACHE_FILE = 64 * 1024 * 1024  #: bytes: a larger cache file is not read


def _seal(label: str, text: str) -> str:
    return hashlib.sha256(f"{label}\n{text}".encode()).hexdigest()


def write_sealed(path: Path, label: str, data: Any) -> None:
    """Write ``data`` (JSON) to ``path`` atomically, sealed: a first line with the hash of
    ``label`` (what the file is the key of) and the JSON text."""
    text = json.dumps(data, separators=(",", ":"))
    write_text(path, f"{_seal(label, text)}\n{text}")


def read_sealed(path: Path, label: str) -> Any | None:
    """What :func:`write_sealed` wrote at ``path`` for ``label``, or None when there is
    nothing trustworthy there: missing, not a regular file (never opened blocking, links
    not followed), too large, or a seal that does not match its content and label.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "k.json"
    >>> write_sealed(path, "a", {"x": 1})
    >>> read_sealed(path, "a"), read_sealed(path, "b")
    ({'x': 1}, None)
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_CACHE_FILE:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(_MAX_CACHE_FILE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    seal, _, text = raw.decode("utf-8", errors="replace").partition("\n")
    if seal != _seal(label, text):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def default_cache_dir() -> Path:
    """Where answer keys are kept unless told otherwise."""
    if os.environ.get("GRADCHECK_CACHE"):
        return Path(os.environ["GRADCHECK_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gradcheck_lab"


class AnswerKeys:
    """Answer keys by program and point; ``directory=None`` keeps them in memory only."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.computed = 0  #: keys computed (not found in the cache) in this process
        self._memory: dict[str, dict[str, PointTruth]] = {}

    def get(self, program: Program, points: Sequence[Mapping[str, float]]) -> list[PointTruth]:
        """The answer key at each point, from memory, disk, or SymPy (in that order)."""
        entry = self._memory.get(program.digest)
        if entry is None:
            entry = self._memory[program.digest] = self._load(program.digest)
        keys = [_point_key(program, p) for p in points]
        missing = [(k, p) for k, p in zip(keys, points) if k not in entry]
        if missing:
            from .symbolic import answer_key  # deferred: SymPy only when needed

            for key, point in missing:
                entry[key] = answer_key(program, point)
                self.computed += 1
            self._store(program.digest, entry)
        return [entry[k] for k in keys]

    def _path(self, digest: str) -> Path | None:
        return self.directory / f"{_VERSION}-{digest[:32]}.json" if self.directory else None

    def _load(self, digest: str) -> dict[str, PointTruth]:
        path = self._path(digest)
        stored = None if path is None else read_sealed(path, f"answer-keys {_VERSION} {digest}")
        if not isinstance(stored, dict):
            return {}  # missing, damaged or not to be trusted: recomputed
        try:
            return {k: PointTruth.from_json(v) for k, v in stored.items()}
        except (ValueError, TypeError, AttributeError, KeyError):
            return {}

    def _store(self, digest: str, entry: dict[str, PointTruth]) -> None:
        path = self._path(digest)
        if path is None:
            return
        try:
            write_sealed(path, f"answer-keys {_VERSION} {digest}", {k: v.to_json() for k, v in entry.items()})
        except OSError:
            pass  # a read-only cache only costs time


def _point_key(program: Program, point: Mapping[str, float]) -> str:
    """The point's coordinates as JSON writes them (the keys of the stored files).

    >>> from gradcheck_lab.cases import parse_source
    >>> _point_key(parse_source("L = x * y"), {"y": 2.0, "x": 0.1})
    '[0.1, 2.0]'
    """
    return json.dumps([point[x] for x in program.inputs])
