"""The sandboxed child: runs one submission's code and answers the grader's requests.

It is started clean, as ``python -I -S child.py REQUESTS REPLIES DONE`` (three pipe
descriptors; in bubblewrap its code and drive's come compiled by the grader, see
:data:`.isolation.STARTER`), inside bubblewrap (:mod:`.sandbox`), beside one other file of ours,
:mod:`gradcheck_lab.drive`: it imports nothing else of the grader, and holds no rule,
answer key or case beyond the lowered programs and points it is sent.

Before any student code runs, in this order, it reads the load request (the
submission's chunks and sibling files, its limits), sets its resource limits, writes the
sibling files into its working folder, replaces ``sys.stdout``/``sys.stderr`` by bounded
buffers, starts a watchdog on its parent and (unless told not to: the hostile tests
switch it off) installs the audit hook, a tripwire. Then it runs the chunks and serves
``execute`` messages (one reply per request they hold) and ``descend`` messages (one
reply per step of a gradient descent). The parent judges; this process only executes.

The message framing and the packed numbers below are also the parent's
(:mod:`.protocol` imports them): the standard library only.

>>> r, w = os.pipe()
>>> write_frame(w, marshal.dumps({"nonce": "n1", "x": [1.5, None]}))
>>> read_request(r)
{'nonce': 'n1', 'x': [1.5, None]}
"""

from __future__ import annotations
import __future__

import _thread
import binascii
import gc
import io
import marshal
import operator
import os
import select
import struct
import sys
import time
import types

# Every import here is paid at each child's start, before any student code: only small
# modules, none that imports ``re`` or ``collections`` (json, base64, traceback, linecache,
# threading, typing cost a child ~20 ms together): the rest is imported where it is needed.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

if __name__ == "__main__":  # in the sandbox: drive.py lies beside this file, and nothing else of ours
    if "_gradcheck_drive" not in sys.modules:  # else the sandbox's starter ran its code already
        _path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "drive.py")
        _module = sys.modules["_gradcheck_drive"] = types.ModuleType("_gradcheck_drive")
        _module.__file__ = _path
        with open(_path, "rb") as _source:
            exec(compile(_source.read(), _path, "exec", dont_inherit=True), vars(_module))
    drive = sys.modules["_gradcheck_drive"]
else:
    from .. import drive

__all__ = [
    "HEADER", "MAX_MESSAGE", "Capture", "ChannelClosed", "ChannelTimeout", "ProtocolError", "TooLarge", "audit_hook",
    "describe", "load_chunks", "pack", "read_request", "write_files", "write_frame", "write_reply",
]

MAX_MESSAGE = 64 * 1024 * 1024  #: the largest message the child reads, in bytes
HEADER = struct.Struct(">I")  #: a message's frame: its length, 4 bytes big-endian
_OUTPUT_LIMIT = 16_000  #: characters of printed output kept (the rest is counted)
_YOUNG = 500_000  #: new objects between the cyclic collector's young collections (see :class:`_Garbage`)
_PAGE = os.sysconf("SC_PAGE_SIZE")  #: bytes in a page of memory (``/proc/self/statm`` counts pages)
_GROWTH = 64 << 20  #: bytes the child may grow by before a collection (at most a 16th of its address space)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
#: Audit events refused outright (prefixes): processes, signals, the network, native code.
_REFUSED = (
    "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.kill",
    "os.killpg", "signal.pthread_kill", "signal.pidfd_send_signal", "os.pidfd_open", "os.mknod", "os.mkfifo",
    "os.memfd_create", "sqlite3.", "pty.", "socket.", "ctypes.", "resource.setrlimit", "resource.prlimit",
    "urllib.", "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.", "webbrowser.",
    "winreg.", "msvcrt.",
)
#: Audit events that change the file system, and which of their arguments are paths.
_PATH_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (0, 1),
    "os.symlink": (0, 1), "os.chmod": (0,), "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,),
    "shutil.rmtree": (0,), "os.chflags": (0,), "os.lchflags": (0,), "os.setxattr": (0,), "os.removexattr": (0,),
}
_NATIVE_MODULES = ("ctypes", "_ctypes", "_posixsubprocess")
#: The numbers :func:`describe` builds Values of, and adds and multiplies: their ``.data``
#: tells the parent the engine's precision.
PRECISION_INPUTS = (1 / 3, 0.1, 2 / 3, 1.1, 0.7)
PRECISION_PAIRS = ((1 / 3, 0.1), (2 / 3, 1.1), (0.7, 1 / 3))


# --------------------------------------------------------------------------- the channel


class ProtocolError(Exception):
    """A message that is not what the protocol says (malformed, forged, out of turn)."""


class ChannelClosed(ProtocolError):
    """The other side closed its end: the child exited or was killed."""


class TooLarge(ProtocolError):
    """A message longer than the reader accepts (``size`` bytes announced)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a message of {size} bytes (more than {limit})")
        self.size = size


class ChannelTimeout(Exception):
    """No complete message before the deadline."""


def _wait(fd: int, deadline: float | None, write: bool) -> None:
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ChannelTimeout
    ready = select.select([], [fd], [], remaining) if write else select.select([fd], [], [], remaining)
    if not ready[1 if write else 0]:
        raise ChannelTimeout


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytearray:
    """``n`` bytes from ``fd``, read into one buffer made up front: what the child allocates then
    never depends on how the pipe happened to split the message (it did, and engines whose numbers
    follow object addresses graded differently from one regrade to the next)."""
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        try:
            size = os.readv(fd, (view[got:],))
        except BlockingIOError:  # a non-blocking end with nothing yet: wait, within the deadline
            _wait(fd, deadline, write=False)
            continue
        if not size:
            raise ChannelClosed("the channel closed mid-message" if got else "the channel closed")
        got += size
    view.release()
    return buffer


def read_request(fd: int, deadline: float | None = None, limit: int = MAX_MESSAGE) -> dict[str, Any]:
    """The next request on ``fd`` (:mod:`marshal`: only the grader writes requests, and a
    child needs no ``json`` to read them); :class:`TooLarge` (nothing more read) if it
    announces more than ``limit`` bytes.

    >>> r, w = os.pipe()
    >>> write_frame(w, marshal.dumps({"nonce": "n1", "point": {"x": 1.5}}))
    >>> read_request(r)
    {'nonce': 'n1', 'point': {'x': 1.5}}
    """
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))
    if size > limit:
        raise TooLarge(size, limit)
    try:
        message = marshal.loads(_read_exactly(fd, size, deadline))
    except (ValueError, EOFError, TypeError) as exc:
        raise ProtocolError(f"a request that is not marshal data ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise ProtocolError("a request that is not a dict")
    return message


def write_frame(fd: int, body: bytes, deadline: float | None = None) -> None:
    """Send one message's bytes, framed; ``deadline`` bounds the wait for room in the pipe."""
    data = memoryview(HEADER.pack(len(body)) + body)
    while data:
        try:
            sent = os.write(fd, data)
        except BlockingIOError:
            _wait(fd, deadline, write=True)
            continue
        data = data[sent:]


def write_reply(fd: int, reply: dict[str, Any]) -> None:
    """Send one reply, as JSON (the grader reads it as data, never as code)."""
    write_frame(fd, _to_json(reply).encode("ascii"))


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps(x, separators=(",", ":"))``, by the json module's own C encoder but
    without importing :mod:`json` (it imports ``re``: ~10 ms of every child's start);
    :mod:`json` itself where that encoder is missing or takes other arguments.

    >>> _json_encoder()({"a": [1, 2.5, None, True, float("inf")], "b": "\u00e9"})
    '{"a":[1,2.5,null,true,Infinity],"b":"\\\\u00e9"}'
    """
    try:
        from _json import encode_basestring_ascii, make_encoder

        encode = make_encoder(None, _not_json, encode_basestring_ascii, None, ":", ",", False, False, True)
        encode({"a": [1, 1.5, None, True, "b"]}, 0)
    except (ImportError, TypeError):
        import json

        return lambda x: json.dumps(x, separators=(",", ":"))
    return lambda x: "".join(encode(x, 0))


def _not_json(x: Any) -> Any:
    raise TypeError(f"Object of type {type(x).__name__} is not JSON serializable")


_to_json = _json_encoder()


def pack(values: Sequence[float | None]) -> dict[str, Any]:
    """Numbers as the wire carries them: packed doubles (base64; parent and child share a
    machine, so its byte order), and the positions of the Nones. Fast, and a packed
    double can only ever decode to a float.

    >>> pack([1.5, None])["none"]
    [1]
    """
    raw = struct.pack(f"{len(values)}d", *[0.0 if v is None else v for v in values])  # array imports collections
    return {"f64": binascii.b2a_base64(raw, newline=False).decode("ascii"),
            "none": [i for i, v in enumerate(values) if v is None]}


# --------------------------------------------------------------------------- before student code


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
    sockets, special files or ctypes; no ``open`` of the ``channel`` descriptors.

    A tripwire, not a wall: PEP 578 hooks see only what Python reports, and code in the
    same interpreter can reach around them. The wall is the operating system's (see the
    module docs of :mod:`.sandbox`).
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
            if name.split(".")[0] in _NATIVE_MODULES or name.split(".")[0] in ("gradcheck_lab", "_gradcheck_drive"):
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
        which = getattr(resource, name, None)
        if which is None:
            continue
        hard = value + 1 if name == "RLIMIT_CPU" else value  # SIGXCPU first, then SIGKILL
        try:
            resource.setrlimit(which, (value, hard))
        except (ValueError, OSError):  # a limit above the inherited hard one: keep that one
            pass


def write_files(work: str, files: Sequence[tuple[str, bytes]]) -> None:
    """The submission's sibling modules, into the working folder (paths kept inside it)."""
    for rel, data in files:
        target = os.path.normpath(os.path.join(work, rel))
        if not target.startswith(work.rstrip("/") + "/"):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)


# --------------------------------------------------------------------------- the submission's code


_SOURCES: list[Sequence[Any]] = []  #: chunks not yet where tracebacks look for their lines


def _register_sources(chunks: Sequence[Sequence[Any]] = ()) -> None:
    """Put the chunks' text where tracebacks look for source lines (linear in their size),
    once :mod:`linecache` is loaded: by the submission's own imports (then at once), else
    by the first traceback this process formats (:func:`_formatted_traceback`): importing it
    costs every child ~10 ms (it imports ``re``), and most never format a traceback."""
    _SOURCES.extend(chunks)
    if "linecache" not in sys.modules or not _SOURCES:
        return
    import linecache

    files: dict[str, list[str]] = {}
    for source, filename, _what, _essential, _futures, line in _SOURCES:
        lines = files.setdefault(filename, [])
        start = max(0, int(line) - 1)
        if len(lines) < start:
            lines.extend(["\n"] * (start - len(lines)))
        for k, text in enumerate(source.split("\n")):
            if start + k < len(lines):
                if text:
                    lines[start + k] = text + "\n"
            else:
                lines.append(text + "\n")
    for filename, lines in files.items():
        linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
    _SOURCES.clear()


def _formatted_traceback(exc: BaseException) -> list[str]:
    """``traceback.format_exception(exc)``, the submission's source lines in it."""
    import traceback  # imports linecache

    _register_sources()
    return traceback.format_exception(exc)


def _failure(exc: BaseException, what: str) -> dict[str, Any]:
    """A failure while loading or running, structured: kind, message, traceback, and the
    exception's type, file and line (the diagnosis classifies them)."""
    file, line = drive.where(exc)
    found: dict[str, Any] = {"type": type(exc).__name__, "file": file, "line": line}
    if isinstance(exc, SystemExit):
        return {"failure": "crash", "message": f"{what} called sys.exit({exc.code!r})"[:2000], "traceback": "",
                **found}
    kind = "memory" if isinstance(exc, MemoryError) else "crash"
    message = f"{what} raised {type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        message = (f"{what}, line {line}: the module {exc.name!r} is not installed where submissions are graded "
                   f"({type(exc).__name__}: {exc})")
    text = "".join(_formatted_traceback(exc)[-8:])[-3000:]
    return {"failure": kind, "message": message[:2000], "traceback": text, **found}


def _compile(source: str, filename: str, line: int, flags: int) -> types.CodeType:
    """``source``, which starts on line ``line`` of its file, compiled with the file's line numbers
    (blank lines put before it: one compile, where moving every node of its tree took ~10 ms)."""
    code: types.CodeType = compile("\n" * max(0, line - 1) + source, filename, "exec", flags=flags,
                                   dont_inherit=True)
    return code


def load_chunks(
    chunks: Sequence[Sequence[Any]], module_name: str = "__submission__"
) -> tuple[Any, dict[str, Any] | None, list[str]]:
    """Run the chunks (:meth:`~.loading.Chunk.to_json`) in order in a fresh module.

    Returns the ``Value`` class (or None), a failure (or None), and notes about
    non-essential chunks that raised (a missing optional import, a broken helper).
    """
    _register_sources(chunks)
    module = types.ModuleType(module_name)
    sys.modules[module_name] = module
    notes: list[str] = []
    for source, filename, what, essential, futures, line in chunks:
        flags = 0
        for feature in futures:
            flags |= getattr(__future__, feature).compiler_flag
        try:
            exec(_compile(source, filename, line, flags), module.__dict__)
            _register_sources()  # if the chunk imported linecache
        except Exception as exc:
            if essential or isinstance(exc, MemoryError):
                return None, _failure(exc, f"`{what}` ({filename})"), notes
            found = _failure(exc, f"`{what}` ({filename})")
            notes.append(f"{found['message']}; loading went on without it")
        except BaseException as exc:  # SystemExit, KeyboardInterrupt: a run would stop here
            return None, _failure(exc, f"`{what}` ({filename})"), notes
    value = module.__dict__.get("Value")
    if not isinstance(value, type):
        what = f"after loading, Value is {type(value).__name__}, not a class"
        return None, {"failure": "invalid", "message": what}, notes
    return value, None, notes


def describe(
    value_class: Any, inputs: Sequence[float] = PRECISION_INPUTS, pairs: Sequence[Sequence[float]] = PRECISION_PAIRS
) -> dict[str, Any]:
    """Raw facts the parent judges the engine's precision by: ``Value(x).data`` for each of
    ``inputs``, ``(Value(a) + Value(b)).data`` and ``(Value(a) * Value(b)).data`` for each of
    ``pairs`` (None where one fails), and the type ``.data`` holds."""
    found: list[float | None] = []
    data_type = ""
    def make(how: Callable[..., Any] | None, *xs: float) -> Any:
        return value_class(xs[0]) if how is None else how(value_class(xs[0]), value_class(xs[1]))

    asked = [(None, (x,)) for x in inputs] + [(op, (a, b)) for a, b in pairs for op in (operator.add, operator.mul)]
    for how, xs in asked:
        try:
            data = make(how, *xs).data
            data_type = data_type or f"{type(data).__module__}.{type(data).__qualname__}"
            found.append(drive.to_float(data))
        except Exception:
            found.append(None)
    return {"precision": found, "data_type": data_type}


# --------------------------------------------------------------------------- serving


def _watch_parent(replies: int, ready: _thread.LockType) -> None:
    """End this process when the grader goes away (it cannot kill a child it lost): when
    the grader's end of the reply pipe closes. Every object this thread makes is made
    before it releases ``ready`` (the main thread waits for it), and it waits without a
    timeout: objects made at moments that vary from run to run move the student's objects,
    and an engine whose results follow object addresses graded differently at each regrade."""
    poll = select.poll()
    poll.register(replies, 0)  # POLLERR: the reading end is closed
    ready.release()
    poll.poll()
    os._exit(70)


def _result(found: Sequence[dict[str, Any]], forwards: Sequence[float | None]) -> dict[str, Any]:
    """A request's observations as a reply carries them: the numbers of all in one packed
    array (``.data`` then ``.grads`` of each that has them, in order), and of each only
    what is not the default (notes, an error, the seeded flag).

    >>> r = _result([{"data": [1.0], "grads": [2.0], "error": None, "notes": [], "seeded": True}], [])
    >>> r["observations"], r["numbers"]["none"]
    ([{'seeded': True}], [])
    """
    numbers: list[float | None] = []
    observations: list[dict[str, Any]] = []
    for o in found:
        rest: dict[str, Any] = {}
        if o["notes"]:
            rest["notes"] = o["notes"][:20]
        if o["seeded"]:
            rest["seeded"] = True
        if o["error"] is not None:
            rest["error"] = {k: (v[:4000] if isinstance(v, str) else v) for k, v in o["error"].items()}
        else:
            numbers += o["data"]
            numbers += o["grads"]
        observations.append(rest)
    return {"observations": observations, "numbers": pack(numbers), "forwards": pack(forwards)}


def _send(rep: int, out: Capture, reply: dict[str, Any]) -> None:
    """Send ``reply`` with what the submission printed since the last one."""
    reply["output"] = out.take()
    reply["dropped"] = out.dropped
    write_reply(rep, reply)


class _Garbage:
    """When the cyclic collector runs while the child serves: when the process has grown by
    ``growth`` bytes since the last collection, or after :data:`_YOUNG` new objects.

    Every graph an observation builds is a cycle (a node's ``_backward`` closes over it), so the
    collector walks all of them however often it runs: ~9 ms of a child's ~75 in ~20 collections
    at one per 10,000 objects. A submission's probes and cases make ~200,000, so most children
    now exit before the first collection and the kernel takes it all (~4 MB more at the peak);
    a child whose garbage holds more memory than objects (a cycle around a big buffer) is
    collected by the memory it holds, where counting objects never saw it."""

    def __init__(self, address_space: int) -> None:
        try:
            self.statm = os.open("/proc/self/statm", os.O_RDONLY)  # before the audit hook
        except OSError:
            self.statm = -1
        self.growth = max(8 << 20, min(_GROWTH, address_space // 16))
        self.limit = self.resident() + self.growth

    def resident(self) -> int:
        """The process's resident memory in bytes; 0 where unknown (no ``/proc``, or the
        submission closed or replaced the descriptor), and from then on by the count of
        objects alone, as often as before."""
        try:
            return int(os.pread(self.statm, 80, 0).split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            self.statm = -1
            gc.set_threshold(10_000, 10, 10)
            return 0

    def check(self) -> None:
        """Collect if the process has grown by ``growth`` since the last collection."""
        if self.statm >= 0 and self.resident() > self.limit:
            gc.collect()
            self.limit = self.resident() + self.growth


def _serve(value_class: Any, req: int, rep: int, done: int, out: Capture, shared: dict[str, Any],
           garbage: _Garbage) -> None:
    """Answer ``execute`` messages (one reply per request they hold, each as soon as it is
    done) and ``descend`` messages (one reply per step of a gradient descent); a byte on
    ``done`` after each message's last reply. ``shared``: the lowered programs the load
    request brought, by key; ``garbage`` checked after each observation."""
    programs: dict[int, dict[str, Any]] = {int(k): v for k, v in shared.items()}

    def run(item: dict[str, Any], observe: list[dict[str, float]]) -> tuple[dict[str, Any], list[Any]]:
        try:
            if "program" in item:
                programs[item["program_key"]] = item["program"]
            program = programs[item["program_key"]]
            calls = item.get("backward_calls", 1)
            calls = calls if type(calls) is int and 1 <= calls <= 3 else 1
            headroom = item.get("headroom", 1.0)
            headroom = headroom if type(headroom) is float and 0.0 < headroom <= 1.0 else 1.0
            found = []
            for p in observe:
                found.append(drive.observe(value_class, program, p, calls, headroom))
                garbage.check()
            forwards = [drive.forward_value(value_class, program, p) for p in item.get("forward", [])]
            return {"ok": True, "result": _result(found, forwards)}, found
        except BaseException as exc:
            return {"ok": False, **_failure(exc, "this case")}, []

    while True:
        try:
            request = read_request(req)
        except ChannelClosed:
            return
        nonce = request.get("nonce")
        if request.get("op") == "execute" and isinstance(request.get("requests"), list):
            for index, item in enumerate(request["requests"]):
                _send(rep, out, {"nonce": nonce, "index": index, **run(item, item["observe"])[0]})
        elif request.get("op") == "nn" and isinstance(request.get("request"), dict):
            _send(rep, out, {"nonce": nonce, **_nn(request["request"])})
        elif request.get("op") == "descend":
            point = request["start"]
            for step in range(request["steps"] + 1):
                reply, found = run(request, [point])
                request.pop("program", None)  # kept at the first step
                program = programs.get(request["program_key"])
                after = None if not found or program is None else drive.descent_step(
                    program["inputs"], program["output"], point, found[0]["data"], found[0]["grads"],
                    found[0]["error"] is not None, request["lr"])
                last = after is None or step == request["steps"]
                _send(rep, out, {"nonce": nonce, "index": step, "last": last, **reply})
                if after is None:
                    break
                point = after
        else:
            return
        os.write(done, b".")


def _nn(request: dict[str, Any]) -> dict[str, Any]:
    """One request of the nn checks (:mod:`.nn_observe`, which lies beside this file, in the
    package as in the sandbox) on the submission's names: the loaded module's,
    or the working folder's module that defines ``MLP``."""
    import importlib.util

    try:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "nn_observe.py")
        observe = sys.modules.get("_gradcheck_nn_observe")
        if observe is None:
            spec = importlib.util.spec_from_file_location("_gradcheck_nn_observe", path)
            assert spec is not None and spec.loader is not None
            observe = importlib.util.module_from_spec(spec)
            sys.modules["_gradcheck_nn_observe"] = observe
            spec.loader.exec_module(observe)
        module = sys.modules.get("__submission__")
        names = observe.names_for(dict(vars(module)) if module is not None else {}, os.getcwd())
        return {"ok": True, "result": observe.observe_nn(names, request)}
    except BaseException as exc:  # SystemExit, MemoryError: the parent decides
        return {"ok": False, **_failure(exc, "the nn checks")}


def main(req: int, rep: int, done: int) -> int:
    """One child's life: load request, limits, files, hook, the submission's code, requests.

    Each reply is written to ``rep`` the moment it is ready (a child that hangs or dies
    later loses none), and a byte to ``done`` when a message is answered: the grader waits
    on ``done``, so a batch's hundreds of replies wake it once (each wake-up of another
    process costs tens of microseconds in a virtual machine)."""
    gc.set_threshold(_YOUNG, 10, 10)  # what loading makes lives as long as the process: nothing to collect
    load = read_request(req)
    _set_limits(load["limits"])
    garbage = _Garbage(load["limits"].get("RLIMIT_AS", 1 << 30))
    work = os.getcwd()
    write_files(work, load.get("files", []))
    sys.dont_write_bytecode = True
    out = Capture()
    sys.stdout = sys.stderr = out
    sys.stdin = io.StringIO("")
    sys.path[:] = [work, *load["sys_path"]]
    drive.before_traceback = _register_sources  # type: ignore[attr-defined]  # the lines drive's tracebacks show
    ready = _thread.allocate_lock()
    ready.acquire()
    _thread.start_new_thread(_watch_parent, (rep, ready))  # it ends with the process
    ready.acquire()
    if load.get("audit", True):
        readable = [p.replace("/proc/self", f"/proc/{os.getpid()}") for p in load["readable"]]
        sys.addaudithook(audit_hook(work, readable, load["hidden"], (req, rep, done)))
    # Student code runs from here on.
    started = time.perf_counter()
    value_class, failed, notes = load_chunks(load["chunks"])
    reply: dict[str, Any] = {"nonce": load["nonce"], "notes": notes, "seconds": time.perf_counter() - started}
    if failed is None:
        reply.update(ok=True, **describe(value_class, load.get("inputs", []), load.get("pairs", [])))
    else:
        reply.update(ok=False, **failed)
    _send(rep, out, reply)
    os.write(done, b".")
    gc.freeze()  # what lives as long as the process (the programs, the submission's module): out of sight
    if value_class is not None:
        _serve(value_class, req, rep, done, out, load.get("programs", {}), garbage)
    return 0


if __name__ == "__main__":
    import faulthandler

    faulthandler.enable()  # a segfault leaves a Python traceback on stderr for the parent
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
