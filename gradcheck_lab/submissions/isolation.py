"""What the operating system isolates a child in: a bubblewrap command line and a cgroup.

:func:`bubblewrap` says whether ``bwrap`` works here (and why not), :func:`command`
builds the command that starts one child (``setarch -R python -I -S -c STARTER``: at the
same addresses every run, its code compiled once by the grader) in new user, mount, pid,
network, IPC, UTS and cgroup namespaces as uid 65534, and :class:`Cgroup` caps the
processes and memory of one child's whole tree where the kernel lets us (cgroup v1
``pids`` and ``memory`` controllers, writable by the grader).

>>> cmd = command(Path("/usr/bin/python3"), ["/usr/lib/python3.11"], tmp_mb=8)
>>> cmd[:3], "--unshare-all" in cmd, cmd[-7:-4] == ["-S", "-c", STARTER], cmd[-4:]
(['bwrap', '--unshare-all', '--unshare-user'], True, True, ['{req}', '{rep}', '{done}', '{code}'])
"""

from __future__ import annotations

import functools
import marshal
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

__all__ = ["CHILD", "DRIVE", "SANDBOX", "STARTER", "UID", "Cgroup", "bubblewrap", "command", "compiled", "python",
           "same_addresses"]

CHILD = Path(__file__).with_name("child.py")
DRIVE = Path(__file__).resolve().parent.parent / "drive.py"
NN_OBSERVE = Path(__file__).resolve().parent / "nn_observe.py"  #: the nn checks' child side (stdlib only)
UID = 65534  #: the child's uid and gid inside its user namespace (``nobody``)
_SYSTEM = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin")  #: shared libraries and the interpreter's
_SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/os-release")
_CGROUPS = Path("/sys/fs/cgroup")
SANDBOX = "/sandbox"  #: where the child's own files lie in its sandbox (read-only)
#: What a sandboxed child runs: drive.py's and child.py's code, compiled by the grader
#: (:func:`compiled`; compiling them took every child ~11 ms), read from the descriptor
#: given last, then child.py as the main module, as if started as a file.
STARTER = (
    "import marshal, os, sys, types\n"
    "fd = int(sys.argv.pop())\n"
    "drive_code, child_code = marshal.loads(os.pread(fd, os.fstat(fd).st_size, 0))\n"
    "os.close(fd)\n"
    "drive = sys.modules['_gradcheck_drive'] = types.ModuleType('_gradcheck_drive')\n"
    f"drive.__file__ = '{SANDBOX}/drive.py'\n"
    "exec(drive_code, vars(drive))\n"
    f"exec(child_code, {{'__name__': '__main__', '__file__': '{SANDBOX}/child.py'}})\n"
)
_COMPILED: tuple[int, int] | None = None


@functools.cache
def bubblewrap() -> str:
    """Why bubblewrap cannot isolate a child here ("" when it can)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed (Debian and Ubuntu: apt-get install bubblewrap)"
    try:
        done = subprocess.run(
            [bwrap, "--unshare-all", "--unshare-user", "--uid", str(UID), "--gid", str(UID), "--disable-userns",
             "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
            capture_output=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap does not run: {exc}"
    if done.returncode:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return f"bwrap cannot create namespaces here ({why[0]}; are unprivileged user namespaces disabled?)"
    return ""


def compiled() -> int:
    """A descriptor of an in-memory file holding drive.py's and child.py's code, compiled
    as the sandbox names them (``/sandbox/child.py``), as :mod:`marshal` data for
    :data:`STARTER`; made once per process, gone with it (no file to clean up).

    >>> drive_code, child_code = marshal.loads(os.pread(compiled(), 1 << 24, 0))
    >>> child_code.co_filename
    '/sandbox/child.py'
    """
    global _COMPILED
    if _COMPILED is None or _COMPILED[0] != os.getpid():  # a forked worker makes its own
        codes = tuple(compile(source.read_bytes(), f"{SANDBOX}/{source.name}", "exec", dont_inherit=True, optimize=0)
                      for source in (DRIVE, CHILD))
        fd = os.memfd_create("gradcheck-child-code", os.MFD_CLOEXEC)
        os.write(fd, marshal.dumps(codes))
        _COMPILED = (os.getpid(), fd)
    return _COMPILED[1]


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def command(python: Path, readable: Sequence[str], *, tmp_mb: int, hidden: Sequence[str] = ()) -> list[str]:
    """The bubblewrap command that starts a child: ``{req}``, ``{rep}`` and ``{done}`` stand
    for its three pipe descriptors, ``{code}`` for :func:`compiled`'s. It sees the system's
    libraries, the interpreter and the ``readable`` folders (its standard library and
    site-packages) read-only, minus any ``hidden`` folder under them (the grader's package,
    caches, cases, submissions), its own ``/proc``, a minimal ``/dev``, and a ``tmp_mb`` MB
    tmpfs at ``/work`` (also ``/tmp``): nothing else."""
    args = ["bwrap", "--unshare-all", "--unshare-user", "--uid", str(UID), "--gid", str(UID), "--disable-userns",
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
            "--setenv", "HOME", "/work", "--setenv", "TMPDIR", "/work", "--setenv", "PATH", "/usr/bin:/bin",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "MPLBACKEND", "Agg"]
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        args += ["--setenv", name, "1"]
    for root in _SYSTEM:
        if os.path.islink(root):  # merged /usr: /lib -> usr/lib
            args += ["--symlink", os.readlink(root), root]
        else:
            args += ["--ro-bind-try", root, root]
    for f in _SYSTEM_FILES:
        args += ["--ro-bind-try", f, f]
    bound = [*_SYSTEM]
    for path in dict.fromkeys([str(python), *readable]):
        if not _under(path, bound):
            args += ["--ro-bind", path, path]
            bound.append(path)
    for path in hidden:  # the grader's files where a bound folder would show them: an empty folder instead
        if _under(path, bound) and os.path.isdir(path):
            args += ["--tmpfs", path]
        elif _under(path, bound) and os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    args += ["--ro-bind", str(CHILD), f"{SANDBOX}/child.py", "--ro-bind", str(DRIVE), f"{SANDBOX}/drive.py",
             "--ro-bind", str(NN_OBSERVE), f"{SANDBOX}/nn_observe.py",
             "--proc", "/proc", "--dev", "/dev", "--size", str(tmp_mb << 20), "--perms", "0700", "--tmpfs", "/work"]
    if not _under("/tmp", [os.path.dirname(p) for p in bound]) and not any(_under(p, ["/tmp"]) for p in bound):
        args += ["--symlink", "work", "/tmp"]  # else /tmp holds a folder we show, read-only; TMPDIR is /work
    args += ["--chdir", "/work", "--remount-ro", "/",
             *same_addresses(), str(python), "-I", "-S", "-c", STARTER, "{req}", "{rep}", "{done}", "{code}"]
    return args


class Cgroup:
    """One child's cgroup (v1 ``pids`` and ``memory``): at most ``processes`` tasks and
    ``memory_mb`` MB (memfd files, tmpfs and pipes included) for its whole tree, and a
    list of every process in it, to kill. :meth:`create` gives None where cgroups are not
    writable; rlimits and namespaces still hold there."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders

    @staticmethod
    @functools.cache
    def available() -> bool:
        """Whether this process can give children cgroups (cgroup v1 ``pids`` and ``memory``,
        writable): where not, only rlimits cap a child's processes and memory."""
        found = Cgroup.create(4, 64)
        if found is None:
            return False
        found.remove()
        return True

    @classmethod
    def create(cls, processes: int, memory_mb: int) -> Cgroup | None:
        _sweep()
        name = f"gradcheck-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        folders: list[Path] = []
        try:
            for controller, setting, value in (("pids", "pids.max", processes),
                                               ("memory", "memory.limit_in_bytes", memory_mb << 20)):
                folder = _CGROUPS / controller / "gradcheck" / name
                folder.mkdir(parents=True)
                folders.append(folder)
                (folder / setting).write_text(str(value))
        except OSError:
            Cgroup(folders).remove()
            return None
        return cls(folders)

    def wrap(self, cmd: Sequence[str]) -> list[str]:
        """``cmd`` run from inside the cgroup: a shell moves itself in, then ``exec`` s it (so
        that the child is started without ``preexec_fn``, by the fast ``vfork`` path)."""
        enter = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", enter, "sh", *(str(f / "cgroup.procs") for f in self.folders), "--", *cmd]

    def out_of_memory(self) -> bool:
        """Whether the memory limit was hit."""
        for folder in self.folders:
            try:
                if (folder / "memory.failcnt").exists() and int((folder / "memory.failcnt").read_text()) > 0:
                    return True
            except (OSError, ValueError):
                pass
        return False

    def kill(self) -> None:
        """SIGKILL every process in the cgroup (a tree that left its session included)."""
        for _ in range(20):
            pids = set()
            for folder in self.folders:
                try:
                    pids |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
                except (OSError, ValueError):
                    pass
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.005)

    def remove(self) -> None:
        """Kill what is left, then remove the cgroup's folders."""
        self.kill()
        for folder in self.folders:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still exiting
                    time.sleep(0.002)


@functools.cache
def _sweep() -> None:
    """Remove the empty cgroups of grading processes that are gone (once per process): a
    grader killed before its cleanup leaves them behind."""
    for controller in ("pids", "memory"):
        try:
            entries = list((_CGROUPS / controller / "gradcheck").iterdir())
        except OSError:
            continue
        for folder in entries:
            parts = folder.name.split("-")
            if len(parts) != 3 or parts[0] != "gradcheck" or not parts[1].isdigit():
                continue
            try:
                os.kill(int(parts[1]), 0)
                continue  # its grader is alive
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            try:
                folder.rmdir()  # refused while a process is in it
            except OSError:
                pass


def python() -> Path:
    """The interpreter a child runs: this one's real file (a venv's ``python`` is a link to it)."""
    return Path(os.path.realpath(sys.executable))


@functools.cache
def same_addresses() -> tuple[str, ...]:
    """``setarch -R``, which starts the child with address randomization off: an engine whose
    results follow object addresses (a set of Values in its topological sort, as in many
    ``grad = `` bugs) then gives the same numbers at every regrade, where it changed a
    score by up to a point and could flip a verdict; [] where ``setarch`` is missing."""
    found = shutil.which("setarch")
    return (os.path.realpath(found), "-R") if found else ()
