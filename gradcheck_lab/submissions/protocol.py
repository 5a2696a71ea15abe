"""The private channel between the grader and its sandboxed child, and its message codec.

Messages are JSON objects, each framed by a 4-byte big-endian length, over two pipes that
only the two processes hold: never stdin or stdout, so nothing student code prints can
reach the parent's reader. Every request carries a fresh random ``nonce``; a reply that
does not echo it is refused (bytes forged by student code, or a reply out of turn).

The parent trusts nothing it reads: :func:`execution_from_json` accepts numbers only as
packed doubles (:func:`pack`: they can only decode to floats) of exactly the program's
length, known error kinds, bounded strings.
This module uses the standard library only: the child imports it before any student code.

>>> import os
>>> r, w = os.pipe()
>>> write_message(w, {"nonce": "n1", "x": [1.5, None]})
>>> read_message(r)
{'nonce': 'n1', 'x': [1.5, None]}
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import select
import struct
import time
from array import array
from collections.abc import Sequence
from typing import Any

from ..executors import ExecError, Execution, Observation

__all__ = [
    "MAX_MESSAGE", "ChannelClosed", "ChannelTimeout", "ProtocolError", "execution_from_json", "execution_to_json",
    "pack", "read_message", "unpack", "write_message",
]

MAX_MESSAGE = 64 * 1024 * 1024  #: the largest message either side accepts, in bytes
_HEADER = struct.Struct(">I")
_MAX_TEXT = 4000  #: characters kept of any string the child sends
_KINDS = ("exception", "unsupported")


class ProtocolError(Exception):
    """A message that is not what the protocol says (malformed, forged, out of turn)."""


class ChannelClosed(ProtocolError):
    """The other side closed its end: the child exited or was killed."""


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


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    parts, got = [], 0
    while got < n:
        try:
            chunk = os.read(fd, min(n - got, 1 << 20))
        except BlockingIOError:  # a non-blocking end with nothing yet: wait, within the deadline
            _wait(fd, deadline, write=False)
            continue
        if not chunk:
            raise ChannelClosed("the channel closed mid-message" if got else "the channel closed")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def read_message(fd: int, deadline: float | None = None) -> dict[str, Any]:
    """The next message on ``fd``. A ``deadline`` (a :func:`time.monotonic` time) bounds the
    wait when ``fd`` is non-blocking (the parent's ends are); a blocking ``fd`` waits as
    long as it takes (the child's)."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > MAX_MESSAGE:
        raise ProtocolError(f"a message of {size} bytes (more than {MAX_MESSAGE})")
    body = _read_exactly(fd, size, deadline)
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"a message that is not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not a JSON object")
    return message


def write_message(fd: int, message: dict[str, Any], deadline: float | None = None) -> None:
    """Send one message; ``deadline`` bounds the wait for room in the pipe."""
    body = json.dumps(message, separators=(",", ":")).encode()
    data = memoryview(_HEADER.pack(len(body)) + body)
    while data:
        try:
            sent = os.write(fd, data)
        except BlockingIOError:
            _wait(fd, deadline, write=True)
            continue
        data = data[sent:]


# --------------------------------------------------------------------------- observations


def pack(values: Sequence[float | None]) -> dict[str, Any]:
    """Numbers as the wire carries them: packed doubles (base64; parent and child share a
    machine, so its byte order), and the positions of the Nones. Fast, and a packed
    double can only ever decode to a float.

    >>> unpack(pack([1.5, None, -0.0]), 3, "grads")
    [1.5, None, -0.0]
    """
    raw = array("d", [0.0 if v is None else v for v in values])
    return {"f64": base64.b64encode(raw.tobytes()).decode("ascii"), "none": [i for i, v in enumerate(values)
                                                                            if v is None]}


def unpack(x: Any, n: int, what: str) -> list[float | None]:
    """:func:`pack` undone, checked: exactly ``n`` numbers, Nones at valid positions."""
    if not isinstance(x, dict) or not isinstance(x.get("f64"), str) or not isinstance(x.get("none"), list):
        raise ProtocolError(f"{what} are not packed numbers")
    try:
        raw = base64.b64decode(x["f64"], validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{what} are not base64") from None
    if len(raw) != 8 * n:
        raise ProtocolError(f"{what} do not hold {n} numbers")
    numbers = array("d")
    numbers.frombytes(raw)
    out: list[float | None] = list(numbers.tolist())
    for i in x["none"]:
        if type(i) is not int or not 0 <= i < n:
            raise ProtocolError(f"{what} name a position that is not theirs")
        out[i] = None
    return out


def execution_to_json(execution: Execution) -> dict[str, Any]:
    """The child's side: an :class:`~gradcheck_lab.executors.Execution` as plain JSON."""
    return {
        "observations": [
            {
                "data": pack(o.data), "grads": pack(o.grads), "notes": o.notes,
                "error": None if o.error is None else {
                    "kind": o.error.kind, "message": o.error.message, "node": o.error.node,
                    "traceback": o.error.traceback, "op": o.error.op,
                },
            }
            for o in execution.observations
        ],
        "forwards": pack(execution.forwards),
    }


def _text(x: Any, what: str) -> str:
    if not isinstance(x, str):
        raise ProtocolError(f"{what} is not a string")
    return x if len(x) <= _MAX_TEXT else x[:_MAX_TEXT] + " [...]"


def execution_from_json(data: Any, nodes: int, observed: int, forwarded: int) -> Execution:
    """The parent's side: a child's reply checked field by field and rebuilt.

    Numbers that are not packed doubles of the program's length, unknown error kinds,
    wrong counts of observations raise :class:`ProtocolError`; nothing unchecked reaches a
    verdict.
    """
    if not isinstance(data, dict):
        raise ProtocolError("the reply is not an object")
    raw = data.get("observations")
    if not isinstance(raw, list) or len(raw) != observed:
        raise ProtocolError(f"the reply does not hold {observed} observations")
    observations = []
    for o in raw:
        if not isinstance(o, dict):
            raise ProtocolError("an observation is not an object")
        notes = o.get("notes", [])
        if not isinstance(notes, list) or len(notes) > 20:
            raise ProtocolError("an observation's notes are not a short list")
        obs = Observation(notes=[_text(s, "a note") for s in notes])
        err = o.get("error")
        if err is not None:
            if not isinstance(err, dict) or err.get("kind") not in _KINDS:
                raise ProtocolError("an observation's error is not of a known kind")
            node = err.get("node")
            if node is not None and (type(node) is not int or not 0 <= node < nodes):
                raise ProtocolError("an observation's error names no node of the program")
            obs.error = ExecError(
                err["kind"], _text(err.get("message", ""), "an error message"), node,
                _text(err.get("traceback", ""), "a traceback"), _text(err.get("op", ""), "an op"),
            )
        else:
            obs.data = unpack(o.get("data"), nodes, "an observation's data")
            obs.grads = unpack(o.get("grads"), nodes, "an observation's grads")
        observations.append(obs)
    forwards = unpack(data.get("forwards"), forwarded, "the forward values")
    return Execution(observations, [v if v is None or math.isfinite(v) else None for v in forwards])
