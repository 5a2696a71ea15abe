"""The sandbox: an :class:`~gradcheck_lab.executors.Executor` over one child process per submission.

Student code never runs in the grader. Each grading process starts one *template*
child (:func:`.child.template`: Python started and our modules imported once), which
forks a fresh child per submission in ~2 ms. :class:`SandboxExecutor` keeps that child
for every case of the submission, sends it programs and points over a private pipe,
and reads back raw numbers, which :func:`.protocol.execution_from_json` checks before
anything judges them. When the child dies or overruns, the case gets the verdict
(``timeout``, ``crash``, ``memory``) and a fresh child takes the next case, until
``Limits.max_restarts`` is spent.

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

import atexit
import contextlib
import functools
import json
import math
import os
import secrets
import shutil
import signal
import site
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..executors import Execution, InProcessExecutor
from ..program import Program
from .loading import Submission
from .protocol import ChannelClosed, ChannelTimeout, ProtocolError, execution_from_json, read_message, write_message

__all__ = [
    "CHILD", "ChildFailure", "Limits", "LoadReport", "SandboxExecutor", "TrustedExecutor",
    "network_namespace_available",
]

CHILD = Path(__file__).with_name("child.py")
PACKAGE = Path(__file__).resolve().parent.parent
#: What else a child may read: libraries, a few system files, its own /proc entry (not /etc/shadow, not
#: other processes' /proc entries, not the grader's files).
_SYSTEM_READABLE = (
    "/usr", "/lib", "/lib32", "/lib64", "/etc/ssl", "/etc/ld.so.cache", "/etc/localtime", "/etc/timezone",
    "/etc/os-release", "/etc/mime.types", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
    "/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu", "/sys/fs/cgroup",
)
_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_TEMPLATE_TIMEOUT = 10.0  #: seconds a template may take to start or to fork
_SIGNALS = {
    signal.SIGXCPU: ("timeout", "used up its CPU-time limit"),
    signal.SIGXFSZ: ("crash", "wrote a file larger than the file-size limit"),
    signal.SIGSEGV: ("crash", "crashed with a segmentation fault (a C stack overflow from deep recursion?)"),
    signal.SIGABRT: ("crash", "aborted (a fatal error in the interpreter or a C extension)"),
    signal.SIGKILL: ("crash", "was killed (SIGKILL; out of memory?)"),
}


@dataclass(frozen=True)
class Limits:
    """What one submission may use. ``timeout`` is its whole wall-clock budget (loading,
    probes and every case); ``request_timeout`` caps one request (loading, one case)."""

    timeout: float = 10.0
    request_timeout: float = 2.0
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


@functools.cache
def network_namespace_available() -> bool:
    """Whether ``unshare -rn`` works here (unprivileged user namespaces allowed)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        done = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _python_path() -> list[str]:
    """The standard library and site-packages folders, without the grader's own folders."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()}
    return [p for p in sys.path if p and any(p == r or p.startswith(r + os.sep) for r in roots)
            and not str(PACKAGE.parent).startswith(p.rstrip(os.sep) + os.sep) and p != str(PACKAGE.parent)]


class _Template:
    """A template child (``child.py``'s :func:`~.child.template`) that forks a fresh child
    per submission: Python starts and imports once per grading process, not per submission."""

    def __init__(self, network_namespace: bool) -> None:
        self.pid_owner = os.getpid()
        self.lock = threading.Lock()
        self.exits: dict[int, int] = {}
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        prefix = ["unshare", "-rn"] if network_namespace else []
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **_THREADS}
        try:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-I", "-S", str(CHILD), str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd="/",
                pass_fds=(theirs.fileno(),), start_new_session=True,
            )
        finally:
            theirs.close()

    def fork(self, cwd: Path, stderr: Path, env: dict[str, str]) -> tuple[int, int, int]:
        """A new child: its pid, the end to write requests to, the end to read replies from."""
        with self.lock:
            self.sock.settimeout(_TEMPLATE_TIMEOUT)
            self.sock.send(json.dumps({"op": "fork", "cwd": str(cwd), "stderr": str(stderr), "env": env}).encode())
            while True:
                data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 2)
                if not data:
                    raise OSError("the template process ended")
                message = json.loads(data)
                if "exited" in message:
                    self.exits[message["exited"]] = message["status"]
                elif len(fds) == 2:
                    return int(message["pid"]), fds[0], fds[1]

    def exit_status(self, pid: int, timeout: float) -> int | None:
        """How child ``pid`` ended (a negative signal number if killed); None if not yet."""
        with self.lock:
            deadline = time.monotonic() + timeout
            while pid not in self.exits and time.monotonic() < deadline:
                self.sock.settimeout(max(0.001, deadline - time.monotonic()))
                try:
                    data = self.sock.recv(1 << 16)
                except TimeoutError:
                    break
                if not data:
                    break
                message = json.loads(data)
                if "exited" in message:
                    self.exits[message["exited"]] = message["status"]
            return self.exits.pop(pid, None)

    def alive(self) -> bool:
        return self.pid_owner == os.getpid() and self.proc.poll() is None

    def close(self) -> None:
        """Stop the template (its children notice and end)."""
        self.sock.close()
        self.proc.kill()
        self.proc.wait()


_TEMPLATES: dict[bool, _Template] = {}
_TEMPLATES_LOCK = threading.Lock()


@atexit.register
def _close_templates() -> None:
    for template in _TEMPLATES.values():
        if template.alive():
            template.close()


def _template(network_namespace: bool) -> _Template:
    """This process's template child (started on first use, again if it died or we forked)."""
    with _TEMPLATES_LOCK:
        found = _TEMPLATES.get(network_namespace)
        if found is None or not found.alive():
            found = _TEMPLATES[network_namespace] = _Template(network_namespace)
        return found


class SandboxExecutor:
    """Runs one submission in a child process; implements the ``Executor`` protocol.

    Use as a context manager (the child and its folder are removed on exit). ``hidden``
    adds folders the child may not read (the grader passes its caches, reports, cases
    and the submissions' folders). ``execute`` raises :class:`ChildFailure` when the
    child fails; the next call starts a fresh child, up to ``limits.max_restarts`` times.
    """

    def __init__(self, submission: Submission, limits: Limits = Limits(), *, hidden: Sequence[Path] = ()) -> None:
        self.submission = submission
        self.limits = limits
        self.hidden = [str(PACKAGE), *map(str, hidden)]
        self.output: list[str] = []  #: what the submission printed, in order
        self.restarts = 0
        self.failures = 0
        self.notes: list[str] = []
        self.load_report: LoadReport | None = None
        self.network_namespace = (
            network_namespace_available() if limits.network_namespace is None else limits.network_namespace
        )
        self._deadline: float | None = None
        self._template: _Template | None = None
        self._programs: dict[int, tuple[Program, int]] = {}  #: programs this child has, by id (kept alive here)
        self._pid = 0
        self._dir: str | None = None
        self._req = self._rep = -1
        self._last: ChildFailure | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> SandboxExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> LoadReport:
        """Start the child and load the submission; raise :class:`ChildFailure` if that fails."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.limits.timeout
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
        if not self._pid:
            if self._last is not None and self.restarts >= self.limits.max_restarts:
                raise ChildFailure(self._last.kind, f"not run: the submission failed {self.failures} times "
                                   f"(last: {self._last.message})")
            if self._last is not None:
                self.restarts += 1
            self.start()
        request: dict[str, Any] = {
            "op": "execute", "observe": [dict(p) for p in observe_points], "forward": [dict(p) for p in forward_points],
            "backward_calls": backward_calls,
        }
        known = self._programs.get(id(program))
        if known is None:  # the child keeps programs it has seen: send each once (training sends 100s of steps)
            known = self._programs[id(program)] = (program, len(self._programs))
            request["program"] = program.to_json()
        request["program_key"] = known[1]
        reply = self._request(request, "this case")
        if not reply.get("ok"):
            kind = reply.get("failure")
            failure = ChildFailure(kind if kind in ("crash", "memory") else "crash", _str(reply.get("message")),
                                   _str(reply.get("traceback")))
            self.failures += 1
            raise failure
        try:
            return execution_from_json(reply.get("result"), len(program.nodes), len(observe_points),
                                       len(forward_points))
        except ProtocolError as exc:
            raise self._fail("crash", f"the child's reply was refused: {exc} (student code writing to the "
                                      "grader's channel?)") from None

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
        self._template = _template(self.network_namespace)
        try:
            self._pid, self._req, self._rep = self._template.fork(work, Path(self._dir) / "stderr", env)
        except (OSError, ValueError):  # the template died or hangs: one more try with a new one
            self._template.close()
            self._template = _template(self.network_namespace)
            self._pid, self._req, self._rep = self._template.fork(work, Path(self._dir) / "stderr", env)
        os.set_blocking(self._req, False)  # the deadlines of protocol reads and writes need it
        os.set_blocking(self._rep, False)

    def _request(self, message: dict[str, Any], what: str) -> dict[str, Any]:
        assert self._deadline is not None
        now = time.monotonic()
        budget_left = self._deadline - now
        if budget_left <= 0:
            raise self._fail("timeout", f"not run: the submission's {self.limits.timeout:g} s are spent")
        deadline = now + min(budget_left, self.limits.request_timeout)
        nonce = secrets.token_hex(16)
        try:
            write_message(self._req, {**message, "nonce": nonce}, deadline)
            reply = read_message(self._rep, deadline)
        except ChannelTimeout:
            if deadline >= self._deadline:
                raise self._fail("timeout", f"{what} ran past the submission's time budget "
                                            f"({self.limits.timeout:g} s)") from None
            raise self._fail("timeout", f"{what} ran longer than {self.limits.request_timeout:g} s "
                                        "(an endless loop?)") from None
        except (ChannelClosed, BrokenPipeError):
            raise self._died(what) from None
        except ProtocolError as exc:
            raise self._fail("crash", f"the child's reply was refused: {exc}") from None
        if reply.get("nonce") != nonce:
            raise self._fail("crash", "the child's reply was refused: it does not answer this request "
                                      "(student code writing to the grader's channel?)")
        output = reply.get("output")
        if isinstance(output, str) and output:
            self.output.append(output)
        return reply

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
        self.failures += 1
        self._last = ChildFailure(kind, message, traceback)
        return self._last

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

    def __init__(self, submission: Submission, limits: Limits = Limits(), *, hidden: Sequence[Path] = ()) -> None:
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
