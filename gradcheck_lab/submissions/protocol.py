"""The private channel between the grader and its sandboxed child, and its message codec.

Messages are framed by a 4-byte big-endian length, over two pipes that only the two
processes hold: never stdin or stdout, so nothing student code prints can reach the
parent's reader. Requests are :mod:`marshal` data (only the grader writes them; the child
reads them without importing ``json``); replies are JSON objects, which the grader reads
as data and nothing else. Every request carries a fresh random ``nonce``; a reply that
does not echo it is refused (bytes forged by student code, or a reply out of turn).
The framing is the child's own (:mod:`.child`: the standard library only).

The parent trusts nothing it reads: a reply longer than :data:`MAX_REPLY` is refused
unread (:class:`TooLarge`), and :func:`execution_from_json` accepts numbers only as
packed doubles (:func:`pack`: they can only decode to floats) of exactly the program's
length, known error kinds, bounded strings.

>>> import os
>>> r, w = os.pipe()
>>> write_reply(w, {"nonce": "n1", "x": [1.5, None]})
>>> os.set_blocking(r, False)
>>> Replies(r).read_message(time.monotonic() + 1, MAX_REPLY)
{'nonce': 'n1', 'x': [1.5, None]}
"""

from __future__ import annotations

import base64
import binascii
import json
import marshal
import math
import os
import select
import sys
import time
from array import array
from itertools import repeat
from typing import Any

from ..executors import ExecError, Execution, Observation
from .child import (
    HEADER,
    MAX_MESSAGE,
    ChannelClosed,
    ChannelTimeout,
    ProtocolError,
    TooLarge,
    pack,
    write_frame,
    write_reply,
)

__all__ = [
    "MAX_MESSAGE", "MAX_REPLY", "ChannelClosed", "ChannelTimeout", "ProtocolError", "Replies", "TooLarge",
    "decode_reply", "execution_from_json", "pack", "unpack", "write_reply", "write_request",
]

MAX_REPLY = 8 * 1024 * 1024  #: the longest reply the parent reads, in bytes (a case's reply is a few KB)
_MAX_TEXT = 4000  #: characters kept of any string the child sends
_KINDS = ("exception", "unsupported")
_POLL = 0.05  #: seconds between the parent's looks at the reply pipe while a batch runs
#: The marshal format requests are written in: version 0, whose bytes follow from the values
#: alone. Later versions mark an object that something else in the grader also refers to as
#: shared, and a string the grader interned as interned, so the same request made by a
#: ``--jobs 1`` grader and by a pool worker differed in bytes; the child then made other
#: objects while reading it, and an engine whose numbers follow object addresses graded
#: differently. Version 0 writes floats as 17 digits (exact) and costs the child ~0.2 ms.
_WIRE = 0


class Replies:
    """The parent's end of the reply pipe: replies read in bulk, woken by ``done``.

    The child writes each reply the moment it is ready, so a child that hangs or dies takes
    none of its finished replies with it, and a byte to ``done`` once it has answered a
    whole message. The parent waits on ``done`` (and looks at the pipe every ``_POLL``
    seconds, for a batch still running), so a batch's replies wake it once, not once each.
    Without ``done`` (or once it is closed) it waits on the reply pipe itself.

    >>> r, w = os.pipe()
    >>> os.set_blocking(r, False)
    >>> for n in ("n1", "n2"):
    ...     write_reply(w, {"nonce": n})
    >>> replies = Replies(r)
    >>> [replies.read_message(time.monotonic() + 1, MAX_REPLY)["nonce"] for _ in range(2)]
    ['n1', 'n2']
    """

    def __init__(self, fd: int, done: int | None = None) -> None:
        self.fd = fd
        self.done = done
        self._buffer = bytearray()
        self._closed = False  #: the reply pipe gave end-of-file

    def read_message(self, deadline: float, limit: int) -> dict[str, Any]:
        """The next reply; :class:`TooLarge` if it announces more than ``limit`` bytes,
        :class:`ChannelTimeout` at ``deadline``, :class:`ChannelClosed` when the child is gone."""
        while True:
            found = self._next(limit)
            if found is not None:
                return found
            if self._read():
                continue
            if self._closed:
                raise ChannelClosed("the channel closed mid-message" if self._buffer else "the channel closed")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout
            if self.done is None:
                select.select([self.fd], [], [], remaining)
            elif select.select([self.done], [], [], min(remaining, _POLL))[0]:
                try:
                    if not os.read(self.done, 4096):  # closed: the child is gone, or closed it
                        self.done = None
                except BlockingIOError:
                    pass

    def _next(self, limit: int) -> dict[str, Any] | None:
        """The first whole reply in the buffer, taken out of it; None if there is none yet."""
        if len(self._buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buffer)
        if size > limit:
            raise TooLarge(size, limit)
        end = HEADER.size + size
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[HEADER.size:end])
        del self._buffer[:end]
        return decode_reply(body)

    def _read(self) -> bool:
        """Up to 1 MB more of the pipe into the buffer; whether there was any."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return False
        self._buffer += chunk
        self._closed = not chunk
        return bool(chunk)


def write_request(fd: int, message: dict[str, Any], deadline: float | None = None) -> None:
    """Send the child one request (:mod:`marshal`: plain numbers, strings, lists and dicts
    only); ``deadline`` bounds the wait for room in the pipe.

    >>> marshal.dumps({"x": 0.5}, _WIRE) == marshal.dumps({"x": float("0.5")}, _WIRE)
    True
    """
    write_frame(fd, marshal.dumps(message, _WIRE), deadline)


def decode_reply(body: bytes) -> dict[str, Any]:
    """A reply's body as the JSON object it must be, else :class:`ProtocolError`.

    >>> decode_reply(b'{"nonce": "n1"}')
    {'nonce': 'n1'}
    """
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"a message that is not JSON ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not a JSON object")
    return message


def _b64decode(text: str) -> bytes:
    """Strict base64 (``base64.b64decode(validate=True)``), all in C where Python has it (3.11)."""
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(text, strict_mode=True)
    return base64.b64decode(text, validate=True)


def unpack(x: Any, n: int, what: str) -> list[float | None]:
    """:func:`pack` undone, checked: exactly ``n`` numbers, Nones at valid positions."""
    if not isinstance(x, dict) or not isinstance(x.get("f64"), str) or not isinstance(x.get("none"), list):
        raise ProtocolError(f"{what} are not packed numbers")
    try:
        raw = _b64decode(x["f64"])
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{what} are not base64") from None
    if len(raw) != 8 * n:
        raise ProtocolError(f"{what} do not hold {n} numbers")
    out: list[float | None] = list(array("d", raw).tolist())
    for i in x["none"]:
        if type(i) is not int or not 0 <= i < n:
            raise ProtocolError(f"{what} name a position that is not theirs")
        out[i] = None
    return out


def _text(x: Any, what: str) -> str:
    if not isinstance(x, str):
        raise ProtocolError(f"{what} is not a string")
    return x if len(x) <= _MAX_TEXT else x[:_MAX_TEXT] + " [...]"


def _observation(o: dict[str, Any], nodes: int) -> Observation:
    """An observation's notes, seeded flag and error, checked (its numbers come apart)."""
    notes = o.get("notes", [])
    if not isinstance(notes, list) or len(notes) > 20:
        raise ProtocolError("an observation's notes are not a short list")
    seeded = o.get("seeded", False)
    if type(seeded) is not bool:
        raise ProtocolError("an observation's seeded flag is not true or false")
    obs = Observation(notes=[_text(s, "a note") for s in notes], seeded=seeded)
    err = o.get("error")
    if err is not None:
        if not isinstance(err, dict) or err.get("kind") not in _KINDS:
            raise ProtocolError("an observation's error is not of a known kind")
        node = err.get("node")
        if node is not None and (type(node) is not int or not 0 <= node < nodes):
            raise ProtocolError("an observation's error names no node of the program")
        line = err.get("line", 0)
        obs.error = ExecError(
            err["kind"], _text(err.get("message", ""), "an error message"), node,
            _text(err.get("traceback", ""), "a traceback"), _text(err.get("op", ""), "an op"),
            _text(err.get("type", ""), "an exception type"), _text(err.get("file", ""), "a file"),
            line if type(line) is int else 0,
        )
    return obs


def execution_from_json(data: Any, nodes: int, observed: int, forwarded: int) -> Execution:
    """The parent's side: a child's reply checked field by field and rebuilt.

    Numbers that are not packed doubles, two of the program's length for each observation
    without an error (``.data`` then ``.grads``, in order), unknown error kinds, wrong
    counts of observations raise :class:`ProtocolError`; nothing unchecked reaches a verdict.
    """
    if not isinstance(data, dict):
        raise ProtocolError("the reply is not an object")
    raw = data.get("observations")
    if not isinstance(raw, list) or len(raw) != observed:
        raise ProtocolError(f"the reply does not hold {observed} observations")
    if not all(map(isinstance, raw, repeat(dict))):
        raise ProtocolError("an observation is not an object")
    numbers = unpack(data.get("numbers"), 2 * nodes * [o.get("error") for o in raw].count(None),
                     "the observations' numbers")
    start = 0
    observations = []
    for o in raw:
        obs = _observation(o, nodes) if o else Observation()  # most are {}: numbers, nothing else to say
        if obs.error is None:
            obs.data, obs.grads = numbers[start:start + nodes], numbers[start + nodes:start + 2 * nodes]
            start += 2 * nodes
        observations.append(obs)
    forwards = unpack(data.get("forwards"), forwarded, "the forward values")
    return Execution(observations, [v if v is None or math.isfinite(v) else None for v in forwards])
