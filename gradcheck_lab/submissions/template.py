"""The template child: Python started and our modules imported once per grading process.

:func:`template` gives this process's :class:`Template`, which runs ``child.py``'s
:func:`~.child.template` (under ``unshare -rn`` where the kernel allows) and forks a fresh
child per submission in ~2 ms. Programs the grader :meth:`~Template.share` s (its probes
and cases) are parsed once there, and every child forked afterwards has them.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..program import Program

__all__ = ["CHILD", "KEYS", "Template", "network_namespace_available", "template"]

CHILD = Path(__file__).with_name("child.py")
_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_TEMPLATE_TIMEOUT = 10.0  #: seconds a template may take to start or to fork
_SHARE_BYTES = 1 << 17  #: the most program text in one message to the template (it reads up to 1 << 18)
KEYS = itertools.count()  #: program keys, unique in this process (shared with a template, or sent to one child)


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


class Template:
    """A template child (``child.py``'s :func:`~.child.template`) that forks a fresh child
    per submission: Python starts and imports once per grading process, not per submission."""

    def __init__(self, network_namespace: bool) -> None:
        self.pid_owner = os.getpid()
        self.lock = threading.Lock()
        self.exits: dict[int, int] = {}
        self.shared: dict[int, tuple[Program, int]] = {}  #: programs every child forked from now on has, by id
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

    def share(self, programs: Sequence[Program]) -> None:
        """Give the template the ``programs`` it lacks, parsed once there and inherited by every
        child it forks after (a program too big for one message is left to travel per child)."""
        with self.lock:
            batch: dict[str, Any] = {}
            size = 0
            for program in programs:
                if id(program) in self.shared:
                    continue
                data = program.to_json()
                length = len(json.dumps(data))
                if length > _SHARE_BYTES:
                    continue
                if size + length > _SHARE_BYTES:
                    self._send_programs(batch)
                    batch, size = {}, 0
                key = next(KEYS)
                self.shared[id(program)] = (program, key)
                batch[str(key)] = data
                size += length
            if batch:
                self._send_programs(batch)

    def _send_programs(self, batch: dict[str, Any]) -> None:
        self.sock.settimeout(_TEMPLATE_TIMEOUT)
        self.sock.send(json.dumps({"op": "programs", "programs": batch}).encode())

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


_TEMPLATES: dict[bool, Template] = {}
_TEMPLATES_LOCK = threading.Lock()


@atexit.register
def _close_templates() -> None:
    for found in _TEMPLATES.values():
        if found.alive():
            found.close()


def template(network_namespace: bool) -> Template:
    """This process's template child (started on first use, again if it died or we forked)."""
    with _TEMPLATES_LOCK:
        found = _TEMPLATES.get(network_namespace)
        if found is None or not found.alive():
            found = _TEMPLATES[network_namespace] = Template(network_namespace)
        return found
