"""The answer key of a case at its points, computed once and cached on disk.

Keys are addressed by the program's digest and the point, so an edited case gets a
new key and an unchanged one is never recomputed. A warm run never imports SymPy.
The cache lives in ``$GRADCHECK_CACHE``, else ``$XDG_CACHE_HOME/gradcheck_lab``, else
``~/.cache/gradcheck_lab``; files are written atomically, so concurrent runs are safe.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .atomic import write_text
from .program import Program
from .truth import PointTruth

__all__ = ["AnswerKeys", "default_cache_dir"]

_VERSION = "1"  # bump when the answer key's meaning changes


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
        missing = [p for p in points if _point_key(program, p) not in entry]
        if missing:
            from .symbolic import answer_key  # deferred: SymPy only when needed

            for point in missing:
                entry[_point_key(program, point)] = answer_key(program, point)
                self.computed += 1
            self._store(program.digest, entry)
        return [entry[_point_key(program, p)] for p in points]

    def _path(self, digest: str) -> Path | None:
        return self.directory / f"{_VERSION}-{digest[:32]}.json" if self.directory else None

    def _load(self, digest: str) -> dict[str, PointTruth]:
        path = self._path(digest)
        if path is None or not path.exists():
            return {}
        try:
            return {k: PointTruth.from_json(v) for k, v in json.loads(path.read_text()).items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}  # a damaged entry is recomputed

    def _store(self, digest: str, entry: dict[str, PointTruth]) -> None:
        path = self._path(digest)
        if path is None:
            return
        try:
            write_text(path, json.dumps({k: v.to_json() for k, v in entry.items()}))
        except OSError:
            pass  # a read-only cache only costs time


def _point_key(program: Program, point: Mapping[str, float]) -> str:
    return json.dumps([point[x] for x in program.inputs])
