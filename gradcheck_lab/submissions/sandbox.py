"""The sandbox: an :class:`~gradcheck_lab.executors.Executor` over one child process per submission.

Student code never runs in the grader. Each grading process starts one *template*
child (:func:`.child.template`: Python started and our modules imported once), which
forks a fresh child per submission in ~2 ms. :class:`SandboxExecutor` keeps that child
for every case of the submission, sends it programs and points over a private pipe
(many requests in one message: :meth:`SandboxExecutor.execute_batch`), and reads back
raw numbers, one reply per request, which :func:`.protocol.execution_from_json` checks
before anything judges them. When the child dies or overruns, the case gets the verdict
(``timeout``, ``crash``, ``memory``) and a fresh child takes the next case, until
``Limits.max_restarts`` is spent. The grader's probes run first on a budget of their own
(``Limits.probe_timeout``), so they neither wait behind slow cases nor spend the cases'
budget or restarts.

The defences, in layers, and what each one does **not** stop:

1. **A separate process** that receives programs and points, never the answer key, and
   whose replies the parent validates (plain floats, exact lengths, an echoed random
   nonce). A student cannot fake a verdict by printing (stdout is ``/dev/null`` and
   ``sys.stdout`` a bounded buffer) or by corrupting the grader's memory.
   *Not stopped:* code in the child can find the pipe and the nonce (``gc``,
   ``/proc/self/fd``) and send well-formed numbers of its choosing; it still needs the
   right numbers, which only a correct engine has.
2. **Wall-clock timeouts** per request and per submission, enforced by the parent: the
   child's whole process group (its own session) is killed with ``SIGKILL``. A
   watchdog thread in the child exits if its parent goes away.
   *Not stopped:* a process that left the group (``setsid``) if it could spawn one,
   which layer 4 refuses.
3. **Resource limits** (``setrlimit``): CPU seconds, address space (a memory bomb gets
   ``MemoryError``), file size, open files, no core dumps.
   *Not stopped:* many files up to the size limit each (there is no disk quota), and
   memory shared with other processes.
4. **An audit hook** (PEP 578) installed before any student code: writes only inside the
   child's temporary folder (also renames, removals, links), no reads of the grader's
   files (package, answer-key cache, reports, cases, other submissions), no processes,
   signals, sockets, ``ctypes`` or ``setrlimit``.
   *Not stopped:* anything Python does not report (``os.write`` on an inherited
   descriptor, ``mmap``), and code that reaches into the interpreter to disarm the hook
   (PEP 578 says hooks are no sandbox).
5. **No network**, where the kernel allows unprivileged user namespaces: the template
   (and so every child) runs under ``unshare -rn``, a new user and network namespace
   with no interface but a down loopback.
   *Not stopped:* file-system access (there is no mount namespace; layer 4 covers
   Python's own file operations).
6. **A clean start**: ``python -I -S`` (no user site, no ``PYTHON*`` variables, no
   ``.pth`` files), a minimal environment (``HOME`` and ``TMPDIR`` in the temporary
   folder), stdin on ``/dev/null``, the submission's sibling modules copied into the
   temporary folder (the originals are never opened for writing), the folder removed
   afterwards.
   *Not stopped:* what the template inherited: the children share its interpreter
   state as forked, so a child could read our own modules' source from memory.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import signal
import site
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..batches import Request
from ..executors import Execution, InProcessExecutor, descent_step
from ..program import Program
from .loading import Submission
from .protocol import ChannelClosed, ChannelTimeout, ProtocolError, execution_from_json, read_message, write_message
from .template import CHILD, KEYS, Template, network_namespace_available, template

__all__ = [
    "CHILD", "ChildFailure", "Limits", "LoadReport", "SandboxExecutor", "TrustedExecutor",
    "network_namespace_available",
]

PACKAGE = Path(__file__).resolve().parent.parent
#: What else a child may read: libraries, a few system files, its own /proc entry (not /etc/shadow, not
#: other processes' /proc entries, not the grader's files).
_SYSTEM_READABLE = (
    "/usr", "/lib", "/lib32", "/lib64", "/etc/ssl", "/etc/ld.so.cache", "/etc/localtime", "/etc/timezone",
    "/etc/os-release", "/etc/mime.types", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
    "/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu", "/sys/fs/cgroup",
)
_SIGNALS = {
    signal.SIGXCPU: ("timeout", "used up its CPU-time limit"),
    signal.SIGXFSZ: ("crash", "wrote a file larger than the file-size limit"),
    signal.SIGSEGV: ("crash", "crashed with a segmentation fault (a C stack overflow from deep recursion?)"),
    signal.SIGABRT: ("crash", "aborted (a fatal error in the interpreter or a C extension)"),
    signal.SIGKILL: ("crash", "was killed (SIGKILL; out of memory?)"),
}


@dataclass(frozen=True)
class Limits:
    """What one submission may use. ``timeout`` is its wall-clock budget for loading and
    every case; ``probe_timeout`` the probes' own budget, spent before the cases';
    ``request_timeout`` caps one request (loading, one case, one probe)."""

    timeout: float = 10.0
    request_timeout: float = 2.0
    probe_timeout: float = 3.0
    memory_mb: int = 1024
    file_size_mb: int = 16
    open_files: int = 256
    max_restarts: int = 2  #: fresh children after a crash or a timeout, per submission
    network_namespace: bool | None = None  #: None: use ``unshare -rn`` where it works

    def rlimits(self) -> dict[str, int]:
        """The child's ``setrlimit`` table (the CPU limit is the wall-clock budget, plus one)."""
        return {
            "RLIMIT_CPU": math.ceil(self.timeout) + 1,
            "RLIMIT_AS": self.memory_mb << 20,
            "RLIMIT_FSIZE": self.file_size_mb << 20,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }


class ChildFailure(Exception):
    """The child could not answer: ``kind`` is ``timeout``, ``crash``, ``memory`` or ``invalid``."""

    def __init__(self, kind: str, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.traceback = traceback

    def __reduce__(self) -> tuple[type[ChildFailure], tuple[str, str, str]]:
        """Picklable with all three fields, so a grading worker can send one back."""
        return ChildFailure, (self.kind, self.message, self.traceback)


@dataclass
class LoadReport:
    """What loading the submission in the child told: notes, and the raw facts the parent
    judges the engine's precision by."""

    notes: list[str] = field(default_factory=list)
    third: float | None = None  #: ``Value(1/3).data`` as a float
    data_type: str = ""
    seconds: float = 0.0

    @property
    def float32(self) -> bool:
        """True when ``.data`` holds float32: ``1/3`` comes back rounded to 24 bits."""
        import struct

        if self.third is None or self.third == 1.0 / 3.0:
            return "float32" in self.data_type
        rounded: float = struct.unpack("f", struct.pack("f", 1.0 / 3.0))[0]
        return self.third == rounded


def _python_path() -> list[str]:
    """The standard library and site-packages folders, without the grader's own folders."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()}
    return [p for p in sys.path if p and any(p == r or p.startswith(r + os.sep) for r in roots)
            and not str(PACKAGE.parent).startswith(p.rstrip(os.sep) + os.sep) and p != str(PACKAGE.parent)]


@dataclass
class _Budget:
    """A wall-clock budget, and the failures and restarts spent under it."""

    seconds: float
    whose: str  #: for messages: "the submission's"
    deadline: float | None = None  #: set by the first request
    restarts: int = 0
    failures: int = 0
    last: ChildFailure | None = None


class SandboxExecutor:
    """Runs one submission in a child process; implements the ``Executor`` protocol.

    Use as a context manager (the child and its folder are removed on exit). ``hidden``
    adds folders the child may not read (the grader passes its caches, reports, cases
    and the submissions' folders); ``shared`` names programs every child should have
    ready (the grader's probes and cases: the template parses them once per process).
    ``execute`` raises :class:`ChildFailure` when the child fails; the next call starts a
    fresh child, up to ``limits.max_restarts`` times. ``execute_batch`` sends many requests
    in one message and returns each one's execution or failure, as the same calls one by
    one would have.
    """

    def __init__(
        self, submission: Submission, limits: Limits = Limits(), *, hidden: Sequence[Path] = (),
        shared: Sequence[Program] = (),
    ) -> None:
        self.submission = submission
        self.shared = shared
        self.limits = limits
        self.hidden = [str(PACKAGE), *map(str, hidden)]
        self.output: list[str] = []  #: what the submission printed, in order
        self.notes: list[str] = []
        self.load_report: LoadReport | None = None
        self.network_namespace = (
            network_namespace_available() if limits.network_namespace is None else limits.network_namespace
        )
        self._budget = _Budget(limits.timeout, "the submission's")
        self._template: Template | None = None
        self._programs: dict[int, tuple[Program, int]] = {}  #: programs this child has, by id (kept alive here)
        self._pid = 0
        self._dir: str | None = None
        self._req = self._rep = -1

    @property
    def restarts(self) -> int:
        """Fresh children started after a failure, under the current budget."""
        return self._budget.restarts

    @property
    def failures(self) -> int:
        return self._budget.failures

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> SandboxExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> LoadReport:
        """Start the child and load the submission; raise :class:`ChildFailure` if that fails."""
        budget = self._budget
        if budget.deadline is None:
            budget.deadline = time.monotonic() + budget.seconds
        elif time.monotonic() >= budget.deadline:  # no child for nothing
            raise self._fail("timeout", f"not run: {budget.whose} {budget.seconds:g} s are spent")
        self._spawn()
        reply = self._request(self._load_request(), "loading the submission")
        if not reply.get("ok"):
            kind = reply.get("failure")
            raise self._fail(kind if kind in ("crash", "memory", "invalid") else "crash",
                             _str(reply.get("message")), _str(reply.get("traceback")))
        notes = reply.get("notes")
        report = LoadReport(
            notes=[_str(n) for n in notes] if isinstance(notes, list) else [],
            third=reply["third"] if type(reply.get("third")) is float else None,
            data_type=_str(reply.get("data_type")),
            seconds=reply["seconds"] if type(reply.get("seconds")) is float else 0.0,
        )
        if self.load_report is None:
            self.load_report = report
        return report

    def close(self) -> None:
        """Stop the child (if any) and remove its folder."""
        self._kill()

    # ------------------------------------------------------------------ the Executor protocol

    def execute(
        self,
        program: Program,
        observe_points: Sequence[Mapping[str, float]],
        forward_points: Sequence[Mapping[str, float]],
        *,
        backward_calls: int = 1,
    ) -> Execution:
        [found] = self.execute_batch([Request(program, tuple(observe_points), tuple(forward_points), backward_calls)])
        if isinstance(found, ChildFailure):
            raise found
        return found

    def execute_batch(
        self, requests: Sequence[Request], *, budget: float | None = None
    ) -> list[Execution | ChildFailure]:
        """Every request's execution or failure, in one message to the child (and one more
        per failure that ends it: the rest go to a fresh child, as ``execute`` would).
        ``budget``: seconds these requests get on their own, apart from the submission's
        budget and restarts (which then start over after them): the grader's probes (its
        messages call it the probes' budget).
        """
        if budget is not None:
            with self._own_budget(budget):
                return self.execute_batch(requests)
        found: list[Execution | ChildFailure] = []
        while len(found) < len(requests):
            try:
                self._ensure_child()
            except ChildFailure as failure:
                found.append(failure)
                continue
            found += self._send(requests[len(found):])
        return found

    @contextlib.contextmanager
    def _own_budget(self, seconds: float) -> Iterator[None]:
        """Requests on a budget of their own; the time they take is added to the submission's."""
        outer, started = self._budget, time.monotonic()
        self._budget = _Budget(seconds, "the probes'", started + seconds)
        try:
            yield
        finally:
            self._budget = outer
            if outer.deadline is not None:
                outer.deadline += time.monotonic() - started

    def _ensure_child(self) -> None:
        """A live child, restarted after a failure while restarts are left; else :class:`ChildFailure`."""
        if self._pid:
            return
        budget = self._budget
        if budget.last is not None and budget.restarts >= self.limits.max_restarts:
            raise ChildFailure(budget.last.kind, f"not run: the submission failed {budget.failures} times "
                               f"(last: {budget.last.message})")
        if budget.last is not None:
            budget.restarts += 1
        self.start()

    def descend(
        self, program: Program, start: Mapping[str, float], steps: int, lr: float
    ) -> list[tuple[dict[str, float], Execution | ChildFailure]]:
        """A gradient descent's calls (see :func:`~gradcheck_lab.executors.descend_all`) in one
        message: the child steps and replies per step, each step within ``request_timeout``."""
        point = dict(start)
        try:
            self._ensure_child()
        except ChildFailure as failure:
            return [(point, failure)]
        message = {"op": "descend", **self._wire(program), "start": point, "steps": steps, "lr": lr}
        found: list[tuple[dict[str, float], Execution | ChildFailure]] = []
        try:
            for reply in self._exchange(message, "this case", count=steps + 1):
                result = self._execution(Request(program, (point,)), reply)
                found.append((point, result))
                following = None if isinstance(result, ChildFailure) else descent_step(
                    program, point, result.observations[0], lr)
                if reply.get("last") or not self._pid:
                    break
                if following is None:  # the child steps on where the descent stops: not our child
                    self._fail("crash", "the child's reply was refused: it stepped on where the descent stops")
                    break
                point = following
        except ChildFailure as failure:
            found.append((point, failure))
        return found

    def _wire(self, program: Program) -> dict[str, Any]:
        """How a request names ``program``: its key, and the program itself if the child lacks it."""
        known = self._programs.get(id(program))
        if known is not None:
            return {"program_key": known[1]}
        known = self._programs[id(program)] = (program, next(KEYS))  # the child keeps it: sent once
        return {"program_key": known[1], "program": program.to_json()}

    def _send(self, requests: Sequence[Request]) -> list[Execution | ChildFailure]:
        """Requests to the live child in one message; their results until one ends the child."""
        items = [{"observe": [dict(p) for p in r.observe], "forward": [dict(p) for p in r.forward],
                  "backward_calls": r.backward_calls, **self._wire(r.program)} for r in requests]
        found: list[Execution | ChildFailure] = []
        try:
            replies = self._exchange({"op": "execute", "requests": items}, "this case", count=len(items))
            for r, reply in zip(requests, replies):
                found.append(self._execution(r, reply))
                if not self._pid:  # a refused reply ended the child
                    break
        except ChildFailure as failure:
            found.append(failure)
        return found

    def _execution(self, request: Request, reply: dict[str, Any]) -> Execution | ChildFailure:
        if not reply.get("ok"):  # the child caught it and lives on
            kind = reply.get("failure")
            self._budget.failures += 1
            return ChildFailure(kind if kind in ("crash", "memory") else "crash", _str(reply.get("message")),
                                _str(reply.get("traceback")))
        try:
            return execution_from_json(reply.get("result"), len(request.program.nodes), len(request.observe),
                                       len(request.forward))
        except ProtocolError as exc:
            return self._fail("crash", f"the child's reply was refused: {exc} (student code writing to the "
                                       "grader's channel?)")

    # ------------------------------------------------------------------ internals

    def _load_request(self) -> dict[str, Any]:
        readable = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages(),
                    *_SYSTEM_READABLE]
        return {
            "op": "load",
            "chunks": [c.to_json() for c in self.submission.chunks],
            "limits": self.limits.rlimits(),
            "sys_path": _python_path(),
            "readable": readable,
            "hidden": self.hidden,
        }

    def _spawn(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="gradcheck-child-")
        work = Path(self._dir) / "work"
        work.mkdir()
        for rel, data in self.submission.files:
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        env = {"HOME": str(work), "TMPDIR": str(work), "MPLBACKEND": "Agg"}
        self._template = template(self.network_namespace)
        try:
            self._template.share(self.shared)
            self._pid, self._req, self._rep = self._template.fork(work, Path(self._dir) / "stderr", env)
        except (OSError, ValueError):  # the template died or hangs: one more try with a new one
            self._template.close()
            self._template = template(self.network_namespace)
            self._template.share(self.shared)
            self._pid, self._req, self._rep = self._template.fork(work, Path(self._dir) / "stderr", env)
        self._programs = dict(self._template.shared)
        os.set_blocking(self._req, False)  # the deadlines of protocol reads and writes need it
        os.set_blocking(self._rep, False)

    def _request(self, message: dict[str, Any], what: str) -> dict[str, Any]:
        """Send one request and read its one reply."""
        return next(self._exchange(message, what))

    def _exchange(self, message: dict[str, Any], what: str, count: int | None = None) -> Iterator[dict[str, Any]]:
        """Send ``message``; yield its replies: ``count`` of them, numbered by ``index`` (else
        one), each within ``request_timeout`` of the one before and within the budget.
        Raises :class:`ChildFailure` (and ends the child) on a timeout or a bad reply."""
        budget = self._budget
        assert budget.deadline is not None
        now = time.monotonic()
        if budget.deadline - now <= 0:
            raise self._fail("timeout", f"not run: {budget.whose} {budget.seconds:g} s are spent")
        nonce = secrets.token_hex(16)
        deadline = now + min(budget.deadline - now, self.limits.request_timeout)
        try:
            write_message(self._req, {**message, "nonce": nonce}, deadline)
            for index in range(1 if count is None else count):
                if index:  # each reply within request_timeout of the one before
                    deadline = min(budget.deadline, time.monotonic() + self.limits.request_timeout)
                reply = read_message(self._rep, deadline)
                if reply.get("nonce") != nonce or (count is not None and reply.get("index") != index):
                    raise self._fail("crash", "the child's reply was refused: it does not answer this request "
                                              "(student code writing to the grader's channel?)")
                output = reply.get("output")
                if isinstance(output, str) and output:
                    self.output.append(output)
                yield reply
        except ChannelTimeout:
            if deadline >= budget.deadline:
                raise self._fail("timeout", f"{what} ran past {budget.whose} time budget "
                                            f"({budget.seconds:g} s)") from None
            raise self._fail("timeout", f"{what} ran longer than {self.limits.request_timeout:g} s "
                                        "(an endless loop?)") from None
        except (ChannelClosed, BrokenPipeError):
            raise self._died(what) from None
        except ProtocolError as exc:
            raise self._fail("crash", f"the child's reply was refused: {exc}") from None

    def _died(self, what: str) -> ChildFailure:
        code = self._template.exit_status(self._pid, timeout=1.0) if self._template and self._pid else None
        stderr = self._stderr_tail()
        if code is not None and code < 0 and -code in _SIGNALS:
            kind, how = _SIGNALS[signal.Signals(-code)]
            message = f"the process {how} during {what}"
        elif code is not None and code < 0:
            kind, message = "crash", f"the process was killed by {signal.Signals(-code).name} during {what}"
        else:
            kind, message = "crash", f"the submission ended the process (exit status {code}) during {what}"
        if "MemoryError" in stderr:
            kind = "memory"
        return self._fail(kind, message, stderr)

    def _fail(self, kind: str, message: str, traceback: str = "") -> ChildFailure:
        self._kill()
        self._budget.failures += 1
        self._budget.last = ChildFailure(kind, message, traceback)
        return self._budget.last

    def _stderr_tail(self) -> str:
        if self._dir is None:
            return ""
        try:
            with open(Path(self._dir) / "stderr", "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 3000))
                return f.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def _kill(self) -> None:
        self._programs.clear()
        pid, self._pid = self._pid, 0
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for fd in (self._req, self._rep):
            if fd >= 0:
                os.close(fd)
        self._req = self._rep = -1
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class TrustedExecutor:
    """The same interface as :class:`SandboxExecutor`, but the submission runs in *this*
    process with no limit and no sandbox (its prints are captured, its sibling modules
    put on ``sys.path``). Only for trusted code: the benchmark that measures what the
    sandbox costs, and tests.
    """

    network_namespace: bool | None = None

    def __init__(
        self, submission: Submission, limits: Limits = Limits(), *, hidden: Sequence[Path] = (),
        shared: Sequence[Program] = (),
    ) -> None:
        from .child import Capture

        self.submission = submission
        self.output: list[str] = []
        self.load_report: LoadReport | None = None
        self._executor: InProcessExecutor | None = None
        self._capture = Capture()
        self._dir = tempfile.mkdtemp(prefix="gradcheck-trusted-")

    def __enter__(self) -> TrustedExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir in sys.path:
            sys.path.remove(self._dir)
        shutil.rmtree(self._dir, ignore_errors=True)

    def start(self) -> LoadReport:
        from .child import describe, load_chunks

        for rel, data in self.submission.files:
            (Path(self._dir) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(self._dir) / rel).write_bytes(data)
        sys.path.insert(0, self._dir)
        chunks = [c.to_json() for c in self.submission.chunks]
        with contextlib.redirect_stdout(self._capture):
            value_class, failure, notes = load_chunks(chunks, f"__trusted_{self.submission.id}__")
        self.output.append(self._capture.take())
        if failure is not None:
            raise ChildFailure(failure["failure"], failure["message"], failure.get("traceback", ""))
        self._executor = InProcessExecutor(value_class)
        self.load_report = LoadReport(notes=notes, **describe(value_class))
        return self.load_report

    def execute(
        self,
        program: Program,
        observe_points: Sequence[Mapping[str, float]],
        forward_points: Sequence[Mapping[str, float]],
        *,
        backward_calls: int = 1,
    ) -> Execution:
        assert self._executor is not None
        with contextlib.redirect_stdout(self._capture):
            execution = self._executor.execute(program, observe_points, forward_points, backward_calls=backward_calls)
        self.output.append(self._capture.take())
        return execution


def _str(x: Any, limit: int = 4000) -> str:
    return x[:limit] if isinstance(x, str) else ""
