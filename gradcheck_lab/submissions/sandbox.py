"""The sandbox: an :class:`~gradcheck_lab.executors.Executor` over one child process per submission.

Student code never runs in the grader. :class:`SandboxExecutor` starts one child per
submission (again after a crash or a timeout), sends it the submission's code, then
programs and points over a private pipe (many requests in one message:
:meth:`SandboxExecutor.execute_batch`), and reads back raw numbers, one reply per
request, which :func:`.protocol.execution_from_json` checks before anything judges
them. When the child dies or overruns, the case gets the verdict (``timeout``,
``crash``, ``memory``) and a fresh child takes the next case, until
``Limits.max_restarts`` is spent. The grader's probes run first on a budget of their
own (``Limits.probe_timeout``).

The defences, in layers; what each one stops, and what it does **not** stop:

1. **The operating system's isolation** (bubblewrap, :mod:`.isolation`): the child runs
   as uid 65534 with no capabilities in new user, mount, pid, network, IPC, UTS and
   cgroup namespaces, in a new session, killed with its parent. Its file system is the
   system's libraries, the interpreter, its standard library and site-packages, all
   read-only (the grader's package masked where it lies under them), a minimal ``/dev``,
   the ``/proc`` of its own pid namespace and a size-limited tmpfs at ``/work``.
   *Stops:* reading or writing anything of the grader's (package, answer keys, cases,
   reports, other submissions, ``/etc/shadow``) whatever the call (``dir_fd``,
   ``mknod``, ``sqlite3``, ``fork_exec``: they find nothing to reach); signalling or
   seeing any process outside the child's own tree (``kill``, ``pidfd_open``); the
   network; filling the disk (the tmpfs's size); outliving the grader or its batch
   (``--die-with-parent``; killing the outer ``bwrap`` ends the whole pid namespace,
   sessions left included). *Not stopped:* whatever the kernel lets an unprivileged
   process do (a kernel bug is a way out of any sandbox).
2. **A clean child**: a fresh ``python -I -S`` on :mod:`.child`, which imports only the
   standard library and :mod:`gradcheck_lab.drive`, and is sent the submission's code,
   lowered programs (which operator or method builds each node: no rule, no derivative)
   and points. *Stops:* answering from anything the child holds: it has no reference
   engine, answer key, case or rule text to rebuild or read. *Not stopped:* code that
   finds the pipe and the nonce and sends well-formed numbers of its choosing; it still
   needs the right numbers, which only a correct engine has.
3. **Resource limits**: ``setrlimit`` (CPU seconds, address space, file size, open
   files, no core dumps) and, where cgroups are writable, a cgroup per child capping its
   tree's processes and memory (memfd files and tmpfs included). Wall-clock timeouts per
   request and per submission, enforced by the parent, which kills the whole tree.
   *Stops:* endless loops, memory and process bombs, floods of files.
   *Not stopped:* without writable cgroups, a process bomb until the timeout ends it
   (RLIMIT_NPROC does not count a root-mapped namespace) and memory held outside the
   address space (memfd files, up to open files x file size).
4. **A parent that trusts nothing**: replies larger than :data:`.protocol.MAX_REPLY` are
   refused unread, printed output is kept to 16,000 characters (the rest counted), an
   echoed random nonce and exact lengths, plain floats only, structured errors of
   bounded size, submission files read only when regular, small and not links. *Stops:*
   floods, forged verdicts, a grader driven out of memory or blocked on a FIFO.
   *Not stopped:* well-formed numbers of the child's choosing (layer 2 makes them useless).
5. **An audit hook** (PEP 578), a tripwire only. *Stops:* plain attempts at writes
   outside the working folder, processes, signals, sockets, special files, ``ctypes``,
   with a clear message. *Not stopped:* code that disarms it (its settings are
   reachable) or calls what Python does not audit; layers 1 to 4 hold without it (the
   hostile tests switch it off).

Where bubblewrap cannot run (no user namespaces, macOS), :class:`SandboxExecutor`
refuses to start (:class:`SandboxUnavailable`) unless ``Limits.unsafe_no_sandbox`` says
otherwise; then only layers 2 to 5 hold, and every report says so.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import math
import os
import queue
import secrets
import shutil
import signal
import site
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..batches import Request
from ..drive import descent_step
from ..errors import GradcheckError
from ..executors import Execution, InProcessExecutor, lower
from ..program import Program
from .child import PRECISION_INPUTS, PRECISION_PAIRS
from .isolation import CHILD, Cgroup, bubblewrap, command, compiled, python, same_addresses
from .loading import Submission
from .protocol import (
    MAX_REPLY,
    ChannelClosed,
    ChannelTimeout,
    ProtocolError,
    Replies,
    TooLarge,
    execution_from_json,
    write_request,
)

__all__ = [
    "CHILD", "ChildFailure", "Limits", "LoadReport", "SandboxExecutor", "SandboxUnavailable", "TrustedExecutor",
    "isolation_problem",
]

PACKAGE = Path(__file__).resolve().parent.parent
#: What else a child may read (the audit hook's list; the sandbox shows little more).
_SYSTEM_READABLE = (
    "/usr", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache", "/etc/localtime", "/etc/os-release", "/dev/null",
    "/dev/zero", "/dev/urandom", "/dev/random", "/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/sandbox",
)
_SIGNALS = {
    signal.SIGXCPU: ("timeout", "used up its CPU-time limit"),
    signal.SIGXFSZ: ("crash", "wrote a file larger than the file-size limit"),
    signal.SIGSEGV: ("crash", "crashed with a segmentation fault (a C stack overflow from deep recursion?)"),
    signal.SIGABRT: ("crash", "aborted (a fatal error in the interpreter or a C extension)"),
    signal.SIGKILL: ("crash", "was killed (SIGKILL; out of memory?)"),
}
_OUTPUT_KEPT = 16_000  #: characters of a submission's printed output the parent keeps
_REPLY_PIPE_BYTES = 1 << 20  #: the reply pipe's size (a batch's replies are a few hundred KB)


def isolation_problem() -> str:
    """Why submissions cannot be isolated here ("" when bubblewrap works)."""
    return bubblewrap()


class SandboxUnavailable(GradcheckError):
    """Bubblewrap cannot isolate children here, and running them unisolated was not asked for."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use. ``timeout`` is its wall-clock budget for loading and
    every case; ``probe_timeout`` the probes' own budget, spent before the cases';
    ``request_timeout`` caps one request (loading, one case, one probe)."""

    timeout: float = 10.0
    request_timeout: float = 2.0
    probe_timeout: float = 3.0
    memory_mb: int = 1024
    file_size_mb: int = 8
    tmp_mb: int = 32  #: the child's tmpfs working folder
    open_files: int = 64
    processes: int = 16  #: tasks (threads included) in the child's tree, where cgroups are writable
    max_restarts: int = 2  #: fresh children after a crash or a timeout, per submission
    unsafe_no_sandbox: bool = False  #: run children without bubblewrap where it is unavailable (unsafe)
    audit_hook: bool = True  #: the second layer; the hostile tests switch it off to test the first

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
    """The child could not answer: ``kind`` is ``timeout``, ``crash``, ``memory`` or ``invalid``;
    ``type``, ``file`` and ``line`` locate the exception that caused it, when one did."""

    def __init__(self, kind: str, message: str, traceback: str = "", type: str = "", file: str = "",
                 line: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.traceback = traceback
        self.type = type
        self.file = file
        self.line = line

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable with every field, so a grading worker can send one back."""
        return ChildFailure, (self.kind, self.message, self.traceback, self.type, self.file, self.line)

    @classmethod
    def of(cls, reply: Mapping[str, Any], kinds: Sequence[str] = ("crash", "memory", "invalid")) -> ChildFailure:
        """The failure a child's reply describes, every field checked."""
        kind = reply.get("failure")
        line = reply.get("line")
        return cls(kind if isinstance(kind, str) and kind in kinds else "crash", _str(reply.get("message")),
                   _str(reply.get("traceback")),
                   _str(reply.get("type"), 100), _str(reply.get("file"), 500), line if type(line) is int else 0)


def _f32(x: float) -> float:
    rounded: float = struct.unpack("f", struct.pack("f", x))[0]
    return rounded


def _expected(f32: bool) -> list[float]:
    """What ``describe`` gives for an engine that computes in float32 (else float64)."""
    r = _f32 if f32 else float
    return [*(r(x) for x in PRECISION_INPUTS),
            *(r(v) for a, b in PRECISION_PAIRS for v in (r(a) + r(b), r(a) * r(b)))]


@dataclass
class LoadReport:
    """What loading the submission in the child told: notes, and the raw facts the parent
    judges the engine's precision by."""

    notes: list[str] = field(default_factory=list)
    precision: list[float | None] = field(default_factory=list)  #: ``describe``'s numbers
    data_type: str = ""
    seconds: float = 0.0

    @property
    def float32(self) -> bool:
        """True when every probe of the precision came back as float32 arithmetic gives it
        (inputs rounded to 24 bits, and sums and products of them rounded again), and not
        as float64 does: one rounded value never loosens the tolerances."""
        return self.precision == _expected(True) and self.precision != _expected(False)


def _python_path() -> list[str]:
    """The standard library and site-packages folders, without the grader's own folders."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()}
    return [p for p in sys.path if p and any(p == r or p.startswith(r + os.sep) for r in roots)
            and not str(PACKAGE.parent).startswith(p.rstrip(os.sep) + os.sep) and p != str(PACKAGE.parent)
            and os.path.isdir(p)]


#: Every live child's ``bwrap`` process, so that nothing outlives the grader (see ``_kill_all``).
_LIVE: weakref.WeakSet[SandboxExecutor] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()



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

    Use as a context manager (the child is killed on exit). ``hidden`` names folders the
    child may not read (the grader passes its caches, reports, cases and the submissions'
    folders: outside the sandbox's view anyway, masked where they lie under a folder it
    sees); ``shared`` names programs every child is sent with the submission (the
    grader's probes and cases). ``execute`` raises :class:`ChildFailure` when the child
    fails; the next call starts a fresh child, up to ``limits.max_restarts`` times.
    ``execute_batch`` sends many requests in one message and returns each one's execution
    or failure, as the same calls one by one would have. Raises
    :class:`SandboxUnavailable` where bubblewrap cannot run, unless
    ``limits.unsafe_no_sandbox``.
    """

    def __init__(
        self, submission: Submission, limits: Limits = Limits(), *, hidden: Sequence[Path] = (),
        shared: Sequence[Program] = (),
    ) -> None:
        problem = isolation_problem()
        if problem and not limits.unsafe_no_sandbox:
            raise SandboxUnavailable(f"student code cannot be isolated here: {problem}; install bubblewrap, or "
                                     "run it unisolated at your own risk (--unsafe-no-sandbox)")
        self.submission = submission
        self.shared = shared
        self.limits = limits
        self.sandboxed = not problem
        self.hidden = [str(PACKAGE), *(os.path.realpath(h) for h in hidden)]
        self.output: list[str] = []  #: what the submission printed, in order (at most 16,000 characters kept)
        self.dropped = 0  #: characters of printed output not kept
        self.notes: list[str] = []
        self.load_report: LoadReport | None = None
        self._budget = _Budget(limits.timeout, "the submission's")
        self._req = self._rep = -1
        self._replies = Replies(-1)
        self._programs: dict[int, tuple[Program, int]] = {}  #: programs this child has, by id (kept alive here)
        self._keys = iter(range(1 << 62))
        self._child: _Child | None = None

    @property
    def isolation(self) -> str:
        """How the child runs, for reports."""
        if self.sandboxed:
            return ("in a bubblewrap sandbox (uid 65534; new user, mount, pid, network and IPC namespaces; "
                    "no grader files visible)")
        return f"UNSAFELY, without a sandbox (--unsafe-no-sandbox: {isolation_problem()})"

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
            raise self._failed(ChildFailure.of(reply))
        notes = reply.get("notes")
        precision = reply.get("precision")
        report = LoadReport(
            notes=[_str(n) for n in notes[:20]] if isinstance(notes, list) else [],
            precision=[v if type(v) is float else None for v in precision[:32]] if isinstance(precision, list) else [],
            data_type=_str(reply.get("data_type"), 200),
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
        headroom: float = 1.0,
    ) -> Execution:
        [found] = self.execute_batch([Request(program, tuple(observe_points), tuple(forward_points), backward_calls,
                                              headroom)])
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
        """A gradient descent's calls (see :func:`~gradcheck_lab.batches.descend_all`) in one
        message: the child steps and replies per step, each step within ``request_timeout``;
        the parent steps beside it, and refuses a child that stops or goes on where it would not."""
        point = dict(start)
        try:
            self._ensure_child()
        except ChildFailure as failure:
            return [(point, failure)]
        message = {"op": "descend", **self._wire(program), "start": _plain(point), "steps": steps, "lr": lr}
        found: list[tuple[dict[str, float], Execution | ChildFailure]] = []
        try:
            for reply in self._exchange(message, "this case", count=steps + 1):
                result = self._execution(Request(program, (point,)), reply)
                found.append((point, result))
                obs = None if isinstance(result, ChildFailure) else result.observations[0]
                following = None if obs is None else descent_step(
                    program.inputs, program.output, point, obs.data, obs.grads, obs.error is not None, lr)
                if not self._pid or (reply.get("last") and (following is None or len(found) > steps)):
                    break
                refused = ("it stopped where the descent goes on" if reply.get("last")
                           else "it stepped on where the descent stops" if following is None else "")
                if refused:  # not our child
                    found.append((point, self._fail("crash", f"the child's reply was refused: {refused}")))
                    break
                assert following is not None
                point = following
        except ChildFailure as failure:
            found.append((point, failure))
        return found

    def nn(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request of the nn checks (:mod:`.nn_observe`) in the child: its
        reply, a JSON object the parent still trusts no part of; raises :class:`ChildFailure`."""
        self._ensure_child()
        reply = self._request({"op": "nn", "request": request}, "the nn checks")
        if not reply.get("ok"):
            self._budget.failures += 1
            raise ChildFailure.of(reply, ("crash", "memory"))
        result = reply.get("result")
        if not isinstance(result, dict):
            raise self._fail("crash", "the child's nn reply was refused: not an object")
        return result

    def _wire(self, program: Program) -> dict[str, Any]:
        """How a request names ``program``: its key, and the program itself if the child lacks it."""
        known = self._programs.get(id(program))
        if known is not None:
            return {"program_key": known[1]}
        known = self._programs[id(program)] = (program, next(self._keys))  # the child keeps it: sent once
        return {"program_key": known[1], "program": lower(program)}

    def _send(self, requests: Sequence[Request]) -> list[Execution | ChildFailure]:
        """Requests to the live child in one message; their results until one ends the child."""
        items = [{"observe": [_plain(p) for p in r.observe], "forward": [_plain(p) for p in r.forward],
                  "backward_calls": r.backward_calls, **self._wire(r.program),
                  **({"headroom": r.headroom} if r.headroom != 1.0 else {})} for r in requests]
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
            self._budget.failures += 1
            return ChildFailure.of(reply, ("crash", "memory"))
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
        self._programs = {}
        shared = {}
        for program in self.shared:
            key = next(self._keys)
            self._programs[id(program)] = (program, key)
            shared[str(key)] = lower(program)
        return {
            "op": "load",
            "chunks": [c.to_json() for c in self.submission.chunks],
            "files": [[rel, data] for rel, data in self.submission.files],
            "limits": self.limits.rlimits(),
            "sys_path": _python_path(),
            "readable": readable,
            "hidden": self.hidden,
            "audit": self.limits.audit_hook,
            "programs": shared,
            "inputs": PRECISION_INPUTS,
            "pairs": PRECISION_PAIRS,
        }

    def _spawn(self) -> None:
        """A fresh child: the spare one started ahead for these limits (its Python already up,
        waiting for its submission), and a new spare started for the next."""
        spec = _Spec(self.sandboxed, self.limits.tmp_mb, self.limits.processes,
                     self.limits.memory_mb + self.limits.tmp_mb + 64, tuple(self.hidden))
        self._child = _Child.take(spec)
        self._req, self._rep = self._child.req, self._child.rep
        self._replies = Replies(self._rep, self._child.done)
        with _LIVE_LOCK:
            _LIVE.add(self)

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
            write_request(self._req, {**message, "nonce": nonce}, deadline)
            for index in range(1 if count is None else count):
                if index:  # each reply within request_timeout of the one before
                    deadline = min(budget.deadline, time.monotonic() + self.limits.request_timeout)
                reply = self._replies.read_message(deadline, MAX_REPLY)
                if reply.get("nonce") != nonce or (count is not None and reply.get("index") != index):
                    raise self._fail("crash", "the child's reply was refused: it does not answer this request "
                                              "(student code writing to the grader's channel?)")
                self._keep_output(reply.pop("output", None))
                yield reply
        except ChannelTimeout:
            if deadline >= budget.deadline:
                raise self._fail("timeout", f"{what} ran past {budget.whose} time budget "
                                            f"({budget.seconds:g} s)") from None
            raise self._fail("timeout", f"{what} ran longer than {self.limits.request_timeout:g} s "
                                        "(an endless loop?)") from None
        except (ChannelClosed, BrokenPipeError):
            raise self._died(what) from None
        except TooLarge as exc:
            raise self._fail("crash", f"the child's reply was refused unread: {exc.size:,} bytes, more than the "
                                      f"{MAX_REPLY:,} a reply may hold (student code flooding the grader's "
                                      "channel?)") from None
        except ProtocolError as exc:
            raise self._fail("crash", f"the child's reply was refused: {exc}") from None

    def _keep_output(self, output: Any) -> None:
        """Keep what the submission printed, up to 16,000 characters in all; count the rest."""
        if not isinstance(output, str) or not output:
            return
        room = max(0, _OUTPUT_KEPT - sum(map(len, self.output)))
        if room:
            self.output.append(output[:room])
        self.dropped += max(0, len(output) - room)

    def _died(self, what: str) -> ChildFailure:
        child = self._child
        code = child.exit_code(timeout=1.0) if child is not None else None
        stderr = child.stderr_tail() if child is not None else ""
        out_of_memory = child is not None and child.cgroup is not None and child.cgroup.out_of_memory()
        if code is not None and code < 0 and -code in _SIGNALS:
            kind, how = _SIGNALS[signal.Signals(-code)]
            message = f"the process {how} during {what}"
        elif code is not None and code < 0:
            kind, message = "crash", f"the process was killed by signal {-code} during {what}"
        else:
            kind, message = "crash", f"the submission ended the process (exit status {code}) during {what}"
        if "MemoryError" in stderr or out_of_memory:
            kind = "memory"
        return self._fail(kind, message, stderr)

    def _fail(self, kind: str, message: str, traceback: str = "") -> ChildFailure:
        return self._failed(ChildFailure(kind, message, traceback))

    def _failed(self, failure: ChildFailure) -> ChildFailure:
        self._kill()
        self._budget.failures += 1
        self._budget.last = failure
        return failure

    @property
    def _pid(self) -> int:
        """The live child's process (its ``bwrap``), or 0."""
        return self._child.proc.pid if self._child is not None else 0

    def _kill(self) -> None:
        """End the child and everything it started (see :meth:`_Child.kill`)."""
        self._programs.clear()
        child, self._child = self._child, None
        self._req = self._rep = -1
        if child is not None:
            child.kill()


@dataclass(frozen=True)
class _Spec:
    """What a child is started with (spares are started for one spec at a time)."""

    sandboxed: bool
    tmp_mb: int
    processes: int
    cgroup_mb: int
    hidden: tuple[str, ...]


@dataclass
class _Child:
    """One child process: its ``bwrap`` (or, unsafe, its Python), its pipe ends, its stderr
    file, its cgroup and (unsafe) its temporary folder."""

    proc: subprocess.Popen[bytes]
    req: int
    rep: int
    done: int  #: the end the child writes a byte to when it has answered a whole message
    stderr: Any
    cgroup: Cgroup | None
    dir: str | None
    owner: int = field(default_factory=os.getpid)  #: the process that started it (a forked copy leaves it be)

    @classmethod
    def start(cls, spec: _Spec) -> _Child:
        """Start a child: in bubblewrap (its own cgroup where cgroups are writable), else,
        when allowed, unisolated in a temporary folder. It waits for its load request."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        done_r, done_w = os.pipe()
        with contextlib.suppress(OSError):  # room for a whole batch's replies, so the child never waits on us
            fcntl.fcntl(rep_w, fcntl.F_SETPIPE_SZ, _REPLY_PIPE_BYTES)
        stderr = tempfile.TemporaryFile()  # noqa: SIM115  # closed by kill()
        cgroup, folder = None, None
        ends = {"{req}": req_r, "{rep}": rep_w, "{done}": done_w}  #: the descriptors the child is given
        if spec.sandboxed:
            ends["{code}"] = compiled()
            cgroup = Cgroup.create(spec.processes, spec.cgroup_mb)
            cmd = command(python(), _python_path(), tmp_mb=spec.tmp_mb, hidden=spec.hidden)
            cmd = cgroup.wrap(cmd) if cgroup is not None else cmd
            cwd = "/"
        else:
            folder = cwd = tempfile.mkdtemp(prefix="gradcheck-child-")
            cmd = [*same_addresses(), str(python()), "-I", "-S", str(CHILD), "{req}", "{rep}", "{done}"]
        # each descriptor in 4 digits: Python keeps "7" ready-made but makes "12", and one object more
        # or less at the child's start moves every object the student's code makes after it (numbers
        # that follow addresses, a set of Values walked in hash order, then changed from regrade to regrade)
        cmd = [f"{ends[a]:04d}" if a in ends else a for a in cmd]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": cwd, "TMPDIR": cwd, "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=cwd,
                pass_fds=tuple(ends.values()), start_new_session=True,
            )
        except BaseException:
            for fd in (req_w, rep_r, done_r):
                os.close(fd)
            stderr.close()
            if cgroup is not None:
                cgroup.remove()
            raise
        finally:
            for fd in (req_r, rep_w, done_w):
                os.close(fd)
        os.set_blocking(req_w, False)  # the deadlines of protocol reads and writes need it
        os.set_blocking(rep_r, False)
        os.set_blocking(done_r, False)
        return cls(proc, req_w, rep_r, done_r, stderr, cgroup, folder)

    @classmethod
    def take(cls, spec: _Spec) -> _Child:
        """The spare child for ``spec`` if one is waiting (else a new one), and a new spare."""
        with _SPARE_LOCK:
            spare = _SPARES.pop(spec, None)
            for other in _SPARES.values():  # spares for other limits: not needed any more
                if other.owner == os.getpid():
                    other.kill()
            _SPARES.clear()
            if spare is not None and spare.owner != os.getpid():  # inherited through a fork: not ours
                spare = None
            if spare is None or spare.proc.poll() is not None:
                if spare is not None:
                    spare.kill()
                spare = cls.start(spec)
            _spawner().put(spec)  # the next spare, started off the grader's path
            return spare

    def exit_code(self, timeout: float) -> int | None:
        """How the child ended: a negative signal number if a signal ended it; None if not yet."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if (code > 128 and self.cgroup is not None) or (code > 128 and self.dir is None):
            return 128 - code  # bwrap exits 128 + the signal that ended the child
        return code

    def stderr_tail(self) -> str:
        try:
            size = os.fstat(self.stderr.fileno()).st_size
            return os.pread(self.stderr.fileno(), 3000, max(0, size - 3000)).decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def kill(self) -> None:
        """End the child and everything it started: its ``bwrap`` (the whole pid namespace
        dies with it), its session, and every process in its cgroup."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        if self.cgroup is not None:
            self.cgroup.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.cgroup is not None:
            self.cgroup.remove()
        for fd in (self.req, self.rep, self.done):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.stderr.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


_SPARES: dict[_Spec, _Child] = {}  #: one child started ahead, for the next submission
_SPARE_LOCK = threading.Lock()


_SPAWNER: tuple[int, queue.SimpleQueue[_Spec]] | None = None


def _spawner() -> queue.SimpleQueue[_Spec]:
    """The queue of this process's spawner thread, which starts the spares. One thread that
    lives as long as the process: a child's ``--die-with-parent`` is bound to the thread
    that started it, so it must not be a thread that ends after starting it."""
    global _SPAWNER
    if _SPAWNER is None or _SPAWNER[0] != os.getpid():
        todo: queue.SimpleQueue[_Spec] = queue.SimpleQueue()
        threading.Thread(target=_spawn_spares, args=(todo,), daemon=True, name="gradcheck-spares").start()
        _SPAWNER = (os.getpid(), todo)
    return _SPAWNER[1]


def _spawn_spares(todo: queue.SimpleQueue[_Spec]) -> None:
    while True:
        spec = todo.get()
        try:
            spare = _Child.start(spec)
        except OSError:
            continue  # the next submission starts its own
        with _SPARE_LOCK:
            old = _SPARES.pop(spec, None)
            _SPARES[spec] = spare
        if old is not None:
            old.kill()


def _kill_all() -> None:
    """Kill every live child and the spare (at exit: nothing outlives the grader)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for executor in live:
        executor.close()
    with _SPARE_LOCK:
        for spare in _SPARES.values():
            spare.kill()
        _SPARES.clear()


atexit.register(_kill_all)


class TrustedExecutor:
    """The same interface as :class:`SandboxExecutor`, but the submission runs in *this*
    process with no limit and no sandbox (its prints are captured, its sibling modules
    put on ``sys.path``). Only for trusted code: the benchmark that measures what the
    sandbox costs, and tests.
    """

    isolation = "in the grader's own process (trusted code only: no sandbox, no limits)"

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
        from .child import describe, load_chunks, write_files

        write_files(self._dir, self.submission.files)
        sys.path.insert(0, self._dir)
        chunks = [c.to_json() for c in self.submission.chunks]
        with contextlib.redirect_stdout(self._capture):
            value_class, failure, notes = load_chunks(chunks, f"__trusted_{self.submission.id}__")
        self.output.append(self._capture.take())
        if failure is not None:
            raise ChildFailure.of(failure)
        self._executor = InProcessExecutor(value_class)
        self.load_report = LoadReport(notes=notes, **describe(value_class))
        return self.load_report

    def nn(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request of the nn checks, in this process."""
        from .nn_observe import names_for, observe_nn

        module = sys.modules.get(f"__trusted_{self.submission.id}__")
        names = names_for(dict(vars(module)) if module is not None else {}, self._dir)
        with contextlib.redirect_stdout(self._capture):
            reply = observe_nn(names, request)
        self.output.append(self._capture.take())
        return reply

    def execute(
        self,
        program: Program,
        observe_points: Sequence[Mapping[str, float]],
        forward_points: Sequence[Mapping[str, float]],
        *,
        backward_calls: int = 1,
        headroom: float = 1.0,
    ) -> Execution:
        assert self._executor is not None
        with contextlib.redirect_stdout(self._capture):
            execution = self._executor.execute(program, observe_points, forward_points, backward_calls=backward_calls,
                                               headroom=headroom)
        self.output.append(self._capture.take())
        return execution


def _plain(point: Mapping[str, float]) -> dict[str, float]:
    """A point as a request carries it: plain floats (a case file's numbers are a float subclass).

    >>> from gradcheck_lab.cases import Literal
    >>> [type(v) for v in _plain({"x": Literal("1.5"), "n": 2}).values()]
    [<class 'float'>, <class 'int'>]
    """
    return {k: float(v) if isinstance(v, float) else v for k, v in point.items()}


def _str(x: Any, limit: int = 4000) -> str:
    return x[:limit] if isinstance(x, str) else ""
