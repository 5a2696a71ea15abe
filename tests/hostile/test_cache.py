"""The answer-key cache: a key file replaced by a FIFO, edited, or swapped with another
case's is recomputed (never trusted, never waited on), and the grades stay right."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from gradcheck_lab.answer_keys import AnswerKeys
from tests.test_sandbox import tiny_config


def test_a_tampered_cache_is_recomputed_never_trusted(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "grading", probes=False, diagnose=False)
    assert config.cache_dir is not None
    keys_dir = Path(config.cache_dir)
    files = sorted(p for p in keys_dir.iterdir() if p.name.startswith("1-"))
    assert len(files) >= 3
    fifo, edited, swapped = files[:3]
    shutil.copy(fifo, swapped)  # another program's key, sealed for that one
    edited.write_text(edited.read_text().replace(":", ": ", 1))  # still JSON; the seal no longer matches
    fifo.unlink()
    os.mkfifo(fifo)  # a read would block for ever
    truth = AnswerKeys(None)
    signal.alarm(60)  # a blocking read fails the test instead of hanging it
    try:
        cached = AnswerKeys(keys_dir)
        for case in config.cases:
            points = list(case.points)
            assert cached.get(case.program, points) == truth.get(case.program, points), case.name
    finally:
        signal.alarm(0)
    assert cached.computed >= 3  # the three damaged ones were recomputed...
    assert all(p.is_file() and not p.is_symlink() for p in keys_dir.iterdir())  # ...and rewritten
