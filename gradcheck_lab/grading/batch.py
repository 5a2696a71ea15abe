"""A class: grade many submissions on any :class:`concurrent.futures.Executor`, write each
one's reports as it finishes, and skip those whose content and case set are unchanged
since the last run.

To grade on a dask.distributed cluster (``pip install 'gradcheck_lab[dask]'``), pass its
client (``grade --scheduler ADDRESS`` does)::

    from dask.distributed import Client
    with Client("scheduler:8786") as client:
        grade_batch(refs, config, "reports", client=client)

Each task grades one submission on a worker exactly as a local run does (its own sandboxed
child) and sends back the grade and its rendered reports; this process writes them, so
resuming and Ctrl-C behave as locally. Workers need gradcheck_lab installed and the
submissions' paths readable; answer keys are computed once here and reach workers through
``config.cache_dir`` when it is shared (otherwise each worker computes its own, once).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import pickle
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_text
from ..submissions import SubmissionRef, content_digest
from .assignment import GradeConfig
from .model import BatchResult, GradeOutcome, SubmissionGrade, Verdict
from .run import grade_submission, warm_process

__all__ = ["grade_batch", "read_grade", "submission_dir", "write_outcome"]


def submission_dir(report_dir: str | Path, sub_id: str) -> Path:
    """Where a submission's reports go: ``<report_dir>/submissions/<id>``."""
    return Path(report_dir) / "submissions" / sub_id


def read_grade(report_dir: str | Path, sub_id: str) -> SubmissionGrade | None:
    """The stored grade of a submission (``grade.json``, written last), or None."""
    path = submission_dir(report_dir, sub_id) / "grade.json"
    try:
        return SubmissionGrade.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_outcome(report_dir: str | Path, outcome: GradeOutcome) -> None:
    """Write a submission's reports, each atomically, ``grade.json`` last: a batch stopped
    at any moment leaves every submission either done (and skipped next time) or not."""
    folder = submission_dir(report_dir, outcome.grade.id)
    write_text(folder / "report.md", outcome.report_md)
    write_text(folder / "report.json", outcome.report_json)
    if outcome.report_html:
        write_text(folder / "report.html", outcome.report_html)
    write_text(folder / "grade.json",
               outcome.grade_json or json.dumps(outcome.grade.to_json(), separators=(",", ":")) + "\n")


def _failed_grade(ref: SubmissionRef, config: GradeConfig, exc: BaseException) -> SubmissionGrade:
    message = f"the grader failed on this submission: {type(exc).__name__}: {exc}"
    top = sum(config.assignment.points(c) for c in config.cases)
    return SubmissionGrade(ref.id, str(ref.path), "", Verdict.ENVIRONMENT, 0.0, top, message,
                           assignment=config.assignment.title)


_CONFIGS: dict[str, GradeConfig] = {}  #: configs already unpickled in this process, by digest


class _Shipped:
    """A config as tasks carry it: pickled once per batch, unpickled once per worker
    process (a config holds every case: rebuilding it per task cost more than grading)."""

    def __init__(self, config: GradeConfig) -> None:
        self.config = config
        self._blob: bytes | None = None

    def __reduce__(self) -> tuple[Any, tuple[str, bytes]]:
        if self._blob is None:
            self._blob = pickle.dumps(self.config)
        return _unship, (self.config.digest, self._blob)


def _unship(digest: str, blob: bytes) -> _Shipped:
    if digest not in _CONFIGS:
        _CONFIGS[digest] = pickle.loads(blob)
        warm_process(_CONFIGS[digest])  # a worker grades many submissions by it
    return _Shipped(_CONFIGS[digest])


def _grade_task(ref: SubmissionRef, shipped: _Shipped, digest: str) -> GradeOutcome:
    return grade_submission(ref, shipped.config, digest)


def _pool(jobs: int) -> cf.ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["gradcheck_lab.grading"])
    return cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context)


def grade_batch(
    refs: Sequence[SubmissionRef],
    config: GradeConfig,
    report_dir: str | Path,
    *,
    executor: cf.Executor | None = None,
    client: Any = None,
    jobs: int = 1,
    force: bool = False,
    on_result: Callable[[SubmissionGrade, bool], None] | None = None,
) -> BatchResult:
    """Grade ``refs``: reuse stored grades whose hash matches (unless ``force``), grade the
    rest on ``executor`` (or a dask.distributed ``client``'s workers, else a pool of ``jobs``
    processes, else in this process), and write each one's reports as it finishes.
    ``on_result(grade, reused)`` reports progress.

    Interrupted (Ctrl-C), it keeps what is written: the next run skips those.
    """
    started = time.perf_counter()
    hashes = {r.id: hashlib.sha256((content_digest(r.path) + config.digest).encode()).hexdigest() for r in refs}
    grades: dict[str, SubmissionGrade] = {}
    reused: set[str] = set()
    todo = []
    for ref in refs:
        stored = None if force else read_grade(report_dir, ref.id)
        if stored is not None and stored.hash == hashes[ref.id]:
            grades[ref.id] = stored
            reused.add(ref.id)
            if on_result:
                on_result(stored, True)
        else:
            todo.append(ref)
    errors: dict[str, str] = {}

    def finish(ref: SubmissionRef, outcome: GradeOutcome | BaseException) -> None:
        if isinstance(outcome, BaseException):
            grade = _failed_grade(ref, config, outcome)
            errors[ref.id] = grade.finding
        else:
            write_outcome(report_dir, outcome)
            grade = outcome.grade
        grades[ref.id] = grade
        if on_result:
            on_result(grade, False)

    if client is not None:
        if executor is not None:
            raise ValueError("give an executor or a dask client, not both")
        executor = client.get_executor(pure=False)  # one task per submission, each graded even if alike
    if todo:
        warm_process(config)
        own = executor is None and jobs > 1
        pool = _pool(jobs) if own else executor
        try:
            if pool is None:
                for ref in todo:
                    outcome: GradeOutcome | BaseException
                    try:
                        outcome = grade_submission(ref, config, hashes[ref.id])
                    except Exception as exc:
                        outcome = exc
                    finish(ref, outcome)
            else:
                shipped = _Shipped(config)
                futures = {pool.submit(_grade_task, ref, shipped, hashes[ref.id]): ref for ref in todo}
                try:
                    for future in cf.as_completed(futures):
                        error = future.exception()
                        finish(futures[future], error if error is not None else future.result())
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            if own and pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    ordered = [grades[r.id] for r in refs if r.id in grades]
    return BatchResult(ordered, reused, time.perf_counter() - started, errors)
