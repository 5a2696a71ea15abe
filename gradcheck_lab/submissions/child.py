"""The sandboxed child: runs one submission's code and answers the grader's requests.

Run as a script (``python -I -S child.py SOCKET_FD``, under ``unshare -rn`` where the
kernel allows), this file is the *template* (:func:`template`): it imports only
:mod:`gradcheck_lab.executors` (with ``program`` and ``ops``) and the protocol (never
SymPy, never the answer key, never the package ``__init__``), then forks one child per
submission on request, each in its own session, temporary folder and stderr file.

A child (:func:`serve_child`), before any student code runs and in this order: reads
the load request, sets its resource limits (CPU time, address space, file size, open
files, no core dumps), replaces ``sys.stdout``/``sys.stderr`` by bounded buffers, starts
a watchdog on its parent and installs the audit hook (PEP 578) that refuses file writes
outside its folder, reads of the grader's files, process spawning and signals, sockets
and ctypes. Then it runs the submission's chunks and serves ``execute`` messages (each
holds one or many requests, answered one reply each) and ``descend`` messages (a whole
gradient descent, one reply per step) with
:class:`~gradcheck_lab.executors.InProcessExecutor`: the same code the in-process
executor uses. The parent judges; this process only executes.
"""

from __future__ import annotations
import __future__

import io
import json
import linecache
import os
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Capture", "audit_hook", "describe", "load_chunks", "serve_child", "template"]

_OUTPUT_LIMIT = 16_000  #: characters of printed output kept (the rest is counted)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
#: Audit events refused outright (prefixes): processes, signals, the network, native code.
_REFUSED = (
    "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.kill",
    "os.killpg", "signal.pthread_kill", "pty.", "socket.", "ctypes.", "resource.setrlimit", "resource.prlimit",
    "urllib.", "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.", "webbrowser.",
    "winreg.", "msvcrt.",
)
#: Audit events that change the file system, and which of their arguments are paths.
_PATH_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (0, 1),
    "os.symlink": (0, 1), "os.chmod": (0,), "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,),
    "shutil.rmtree": (0,), "os.chflags": (0,), "os.lchflags": (0,), "os.setxattr": (0,), "os.removexattr": (0,),
}
_NATIVE_MODULES = ("ctypes", "_ctypes")
_TEMPLATE_MESSAGE = 1 << 18  #: the largest message the template reads (the grader sends less)
#: Programs the grader gave the template (``{"op": "programs"}``), by key, parsed once: every
#: child forked afterwards has them (the grader's probes and cases need not travel per child).
_SHARED: dict[int, Any] = {}


class Capture(io.TextIOBase):
    """A stand-in for ``sys.stdout``: keeps the first characters printed, counts the rest.

    >>> c = Capture(limit=5)
    >>> print("hello world", file=c)
    >>> c.take(), c.dropped
    ('hello', 7)
    """

    def __init__(self, limit: int = _OUTPUT_LIMIT) -> None:
        super().__init__()
        self.limit = limit
        self.kept = 0
        self.dropped = 0
        self._parts: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        text = str(s)
        room = max(0, self.limit - self.kept)
        if room:
            self._parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - room)
        return len(text)

    def take(self) -> str:
        """What was printed since the last call (within the limit)."""
        text = "".join(self._parts)
        self._parts.clear()
        return text


def _under(path: str, roots: Sequence[str]) -> int:
    """The length of the longest root ``path`` lies under (-1: none)."""
    best = -1
    for root in roots:
        if path == root or path.startswith(root.rstrip("/") + "/"):
            best = max(best, len(root))
    return best


def audit_hook(
    work: str, readable: Sequence[str], hidden: Sequence[str], channel: Sequence[int] = ()
) -> Callable[[str, tuple[Any, ...]], None]:
    """The PEP 578 hook: writes only under ``work``; reads under ``readable`` unless a
    longer ``hidden`` root covers the path (the grader's files); no processes, signals,
    sockets or ctypes; no ``open`` of the ``channel`` descriptors.

    A tripwire, not a wall: PEP 578 hooks see only what Python reports, and code in the
    same interpreter can reach around them (see the module docs of :mod:`.sandbox`).
    """
    work = os.path.realpath(work)
    readable = [work, *(os.path.realpath(p) for p in readable)]
    hidden = [os.path.realpath(p) for p in hidden]

    def resolve(path: Any) -> str:
        return os.path.realpath(os.fsdecode(path))

    def refuse(event: str, what: str = "") -> None:
        raise PermissionError(f"the grader's sandbox refuses {event}{what}")

    def check_write(event: str, path: Any) -> None:
        if isinstance(path, int) or _under(resolve(path), [work]) < 0:
            refuse(event, f" of {path!r}: writes stay inside the submission's temporary folder")

    def check_read(event: str, path: Any) -> None:
        where = resolve(path)
        if _under(where, readable) <= _under(where, hidden):
            refuse(event, f" of {path!r}: outside what a submission may read")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int):
                if path in channel:
                    refuse("open", " of the grader's channel")
                return
            writes = any(c in (mode or "") for c in "wax+") if mode is not None else bool(flags & _WRITE_FLAGS)
            (check_write if writes else check_read)("open", path)
        elif event == "import":
            name = args[0] or ""
            if name.split(".")[0] in _NATIVE_MODULES or name.split(".")[0] == "gradcheck_lab":
                raise ImportError(f"the grader's sandbox refuses importing {name}")
        elif event in _PATH_EVENTS:
            for i in _PATH_EVENTS[event]:
                if i < len(args) and args[i] is not None:
                    check_write(event, args[i])
        elif event in ("os.listdir", "os.scandir") and args and args[0] is not None and not isinstance(args[0], int):
            check_read(event, args[0])
        elif event.startswith(_REFUSED):
            refuse(event)

    return hook


def _set_limits(limits: dict[str, int]) -> None:
    import resource

    for name, value in limits.items():
        which = getattr(resource, name)
        soft = value
        hard = value + 1 if name == "RLIMIT_CPU" else value  # SIGXCPU first, then SIGKILL
        resource.setrlimit(which, (soft, hard))


def _register_sources(chunks: Sequence[Sequence[Any]]) -> None:
    """Put the chunks' text where tracebacks look for source lines."""
    files: dict[str, list[str]] = {}
    for source, filename, *_ in chunks:
        lines = files.setdefault(filename, [])
        for k, line in enumerate(source.split("\n")):
            while len(lines) <= k:
                lines.append("\n")
            if line:
                lines[k] = line + "\n"
    for filename, lines in files.items():
        linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)


def _failure(exc: BaseException, what: str) -> dict[str, str]:
    if isinstance(exc, SystemExit):
        return {"failure": "crash", "message": f"{what} called sys.exit({exc.code!r})"}
    kind = "memory" if isinstance(exc, MemoryError) else "crash"
    return {"failure": kind, "message": f"{what} raised {type(exc).__name__}: {exc}"[:2000],
            "traceback": "".join(traceback.format_exception(exc)[-8:])[-3000:]}


def load_chunks(
    chunks: Sequence[Sequence[Any]], module_name: str = "__submission__"
) -> tuple[Any, dict[str, str] | None, list[str]]:
    """Run the chunks (:meth:`~.loading.Chunk.to_json`) in order in a fresh module.

    Returns the ``Value`` class (or None), a failure (or None), and notes about
    non-essential chunks that raised (a missing optional import, a broken helper).
    """
    _register_sources(chunks)
    module = types.ModuleType(module_name)
    sys.modules[module_name] = module
    notes: list[str] = []
    for source, filename, what, essential, futures in chunks:
        flags = 0
        for feature in futures:
            flags |= getattr(__future__, feature).compiler_flag
        try:
            exec(compile(source, filename, "exec", flags=flags, dont_inherit=True), module.__dict__)
        except Exception as exc:
            if essential or isinstance(exc, MemoryError):
                return None, _failure(exc, f"`{what}` ({filename})"), notes
            notes.append(f"{filename}: `{what}` raised {type(exc).__name__}: {exc}; loading went on without it")
        except BaseException as exc:  # SystemExit, KeyboardInterrupt: a run would stop here
            return None, _failure(exc, f"`{what}` ({filename})"), notes
    value = module.__dict__.get("Value")
    if not isinstance(value, type):
        what = f"after loading, Value is {type(value).__name__}, not a class"
        return None, {"failure": "invalid", "message": what}, notes
    return value, None, notes


def describe(value_class: Any) -> dict[str, Any]:
    """Raw facts the parent judges: ``Value(1/3).data`` and its type (float32 engines)."""
    from gradcheck_lab.executors import to_float  # imported before the hook: no import event

    try:
        data = value_class(1.0 / 3.0).data
        return {"third": to_float(data), "data_type": f"{type(data).__module__}.{type(data).__qualname__}"}
    except Exception as exc:
        return {"third": None, "data_type": f"Value(1/3) raised {type(exc).__name__}"}


def _watch_parent(parent: int) -> None:
    """End this process when the grader goes away (it cannot kill a child it lost)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(70)


def _serve(value_class: Any, req: int, rep: int, out: Capture) -> None:
    """Answer ``execute`` messages (one reply per request they hold, each as soon as it is
    done) and ``descend`` messages (one reply per step of a gradient descent)."""
    from gradcheck_lab.executors import Execution, InProcessExecutor, descent_step  # all imported before the hook
    from gradcheck_lab.program import Program
    from gradcheck_lab.submissions.protocol import ChannelClosed, execution_to_json, read_message, write_message

    executor = InProcessExecutor(value_class)
    programs: dict[int, Program] = dict(_SHARED)

    def run(item: dict[str, Any], observe: list[dict[str, float]]) -> tuple[dict[str, Any], Execution | None]:
        try:
            if "program" in item:
                programs[item["program_key"]] = Program.from_json(item["program"])
            program = programs[item["program_key"]]
            calls = item.get("backward_calls", 1)
            calls = calls if type(calls) is int and 1 <= calls <= 3 else 1
            execution = executor.execute(program, observe, item.get("forward", []), backward_calls=calls)
            return {"ok": True, "result": execution_to_json(execution)}, execution
        except BaseException as exc:
            return {"ok": False, **_failure(exc, "this case")}, None

    def send(reply: dict[str, Any]) -> None:
        reply["output"] = out.take()
        write_message(rep, reply)

    while True:
        try:
            request = read_message(req)
        except ChannelClosed:
            return
        nonce = request.get("nonce")
        if request.get("op") == "execute" and isinstance(request.get("requests"), list):
            for index, item in enumerate(request["requests"]):
                send({"nonce": nonce, "index": index, **run(item, item["observe"])[0]})
        elif request.get("op") == "descend":
            point = request["start"]
            for step in range(request["steps"] + 1):
                reply, execution = run(request, [point])
                request.pop("program", None)  # parsed at the first step
                after = None if execution is None else descent_step(
                    programs[request["program_key"]], point, execution.observations[0], request["lr"])
                send({"nonce": nonce, "index": step, "last": after is None or step == request["steps"], **reply})
                if after is None:
                    break
                point = after
        else:
            return


def serve_child(req: int, rep: int) -> int:
    """One child's life: load request, limits, hook, the submission's code, requests."""
    from gradcheck_lab.submissions.protocol import read_message, write_message

    load = read_message(req)
    _set_limits(load["limits"])
    sys.dont_write_bytecode = True
    out = Capture()
    sys.stdout = sys.stderr = out
    sys.stdin = io.StringIO("")
    sys.path[:] = [os.getcwd(), *load["sys_path"]]
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    readable = [p.replace("/proc/self", f"/proc/{os.getpid()}") for p in load["readable"]]
    sys.addaudithook(audit_hook(os.getcwd(), readable, load["hidden"], (req, rep)))
    # Student code runs from here on.
    started = time.perf_counter()
    value_class, failure, notes = load_chunks(load["chunks"])
    reply: dict[str, Any] = {"nonce": load["nonce"], "notes": notes, "seconds": time.perf_counter() - started}
    if failure is None:
        reply.update(ok=True, **describe(value_class))
    else:
        reply.update(ok=False, **failure)
    reply["output"] = out.take()
    write_message(rep, reply)
    if value_class is not None:
        _serve(value_class, req, rep, out)
    return 0


def _fork_child(sock: Any, request: dict[str, Any]) -> None:
    """Fork one child for one submission; send the grader its pid and its two pipe ends."""
    import socket

    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own session (so the grader can kill its whole group), folder, stderr
        code = 1
        try:
            sock.close()
            os.close(req_w)
            os.close(rep_r)
            os.setsid()
            os.chdir(request["cwd"])
            err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(err, 2)
            os.close(err)
            os.environ.update(request["env"])
            code = serve_child(req_r, rep_w)
        except BaseException:
            traceback.print_exc(file=sys.__stderr__)
        finally:
            os._exit(code)
    os.close(req_r)
    os.close(rep_w)
    try:
        socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [req_w, rep_r])
    finally:
        os.close(req_w)
        os.close(rep_r)


def template(fd: int) -> int:
    """The template process: imports once, then forks a fresh child per submission.

    It talks to the grader over a ``SOCK_SEQPACKET`` socket: ``{"op": "fork", ...}`` in,
    ``{"pid": ...}`` (with the child's pipe ends as ancillary data) out, ``{"op": "programs",
    "programs": {key: program}}`` in (kept for every child forked after), and
    ``{"exited": pid, "status": code}`` whenever a child ends. It exits when the grader
    closes the socket. It never runs student code itself.
    """
    import select
    import socket

    sock = socket.socket(fileno=fd)
    while True:
        ready = select.select([sock], [], [], 0.05)[0]
        while True:  # reap ended children and tell the grader how they ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            sock.send(json.dumps({"exited": pid, "status": os.waitstatus_to_exitcode(status)}).encode())
        if ready:
            data = sock.recv(_TEMPLATE_MESSAGE)
            if not data:
                return 0
            message = json.loads(data)
            if message.get("op") == "programs":
                _keep_programs(message["programs"])
            else:
                _fork_child(sock, message)


def _keep_programs(programs: dict[str, Any]) -> None:
    from gradcheck_lab.program import Program

    for key, data in programs.items():
        try:
            _SHARED[int(key)] = Program.from_json(data)
        except Exception:  # never (the grader's own programs); the requests naming it would fail as crashes
            pass


def _bootstrap() -> None:
    """Make ``gradcheck_lab`` and ``gradcheck_lab.submissions`` importable without running
    their ``__init__`` (which would import the whole grader, SymPy's users included)."""
    import faulthandler

    faulthandler.enable()  # a segfault leaves a Python traceback on stderr for the parent
    here = os.path.dirname(os.path.abspath(__file__))
    for name, path in (("gradcheck_lab", os.path.dirname(here)), ("gradcheck_lab.submissions", here)):
        package = types.ModuleType(name)
        package.__path__ = [path]
        sys.modules[name] = package


if __name__ == "__main__":
    _bootstrap()
    # Everything a child needs, imported once, before any fork.
    import gradcheck_lab.executors
    import gradcheck_lab.program
    import gradcheck_lab.submissions.protocol  # noqa: F401

    sys.exit(template(int(sys.argv[1])))
