"""JSON off the wire: messages nested too deeply to decode are answered, not dropped.

python-socketio decodes the JSON text of every message with its packet class's ``json.loads``.
Text nested deeper than Python's recursion limit allows (about a thousand levels of ``[``)
makes ``json.loads`` raise ``RecursionError``; python-socketio logs a traceback and drops the
message, so the sender never gets an acknowledgement and keeps resending. Here such a
message is still delivered, with :data:`TOO_DEEP` standing in for its arguments: the text
``["chunk",[[[[…]]]]]`` reaches the ``chunk`` handler as ``handler(sid, TOO_DEEP)``, which can
refuse it with an acknowledgement (``chunk: JSON nested too deeply``).

Use it for one server only (recommended)::

    socketio.AsyncServer(async_mode="asgi", serializer=WirePacket, ...)

or as the ``json`` module (``socketio.AsyncServer(json=wire_json)``); python-socketio then sets
it on its packet classes for the whole process (every server and client, and engine.io too).
:class:`WirePacket` also covers a case the ``json`` module cannot: a message with binary
attachments that decodes but is too deep for python-socketio to put the attachments back in
(its recursive ``reconstruct_binary``).

For an HTTP body, :func:`read_json` (size-limited) and :func:`parse_body` raise
:class:`~interactive_gym.server.refusals.Refused` with the reason (status 400) instead of letting
``RecursionError`` become a 500.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final, final

from socketio.packet import Packet
from starlette.requests import Request

from interactive_gym.server.refusals import Refused

#: Integers longer than this many digits are refused, as python-socketio's own JSON module does.
MAX_INT_DIGITS = 100
_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


@final
class TooDeep:
    """The stand-in for the arguments of a message nested too deeply to decode."""

    __slots__ = ()
    #: What to tell the sender.
    reason: Final = "JSON nested too deeply"

    def __repr__(self) -> str:
        return "<JSON nested too deeply>"


#: The one :class:`TooDeep`; a handler checks ``payload is TOO_DEEP``.
TOO_DEEP: Final = TooDeep()


def _parse_int(digits: str) -> int:
    if len(digits) > MAX_INT_DIGITS:
        raise ValueError(f"integer longer than {MAX_INT_DIGITS} digits")
    return int(digits)


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps``: python-socketio calls ``dumps(data, separators=(',', ':'))``."""
    return json.dumps(obj, **kwargs)


def loads(text: str | bytes | bytearray, **kwargs: Any) -> Any:
    """``json.loads`` (integers of at most 100 digits unless ``parse_int`` is given), except that
    text nested too deeply to decode gives a stand-in instead of ``RecursionError``.

    python-socketio calls ``loads(text)`` with the JSON part of a packet: for an event the
    array ``[name, *args]``, which becomes ``[name, TOO_DEEP]``. Other text too deep to decode
    becomes ``[TOO_DEEP]`` (an array that does not start with a string) or ``TOO_DEEP``.
    Invalid JSON still raises ``ValueError``, as engine.io expects.
    """
    kwargs.setdefault("parse_int", _parse_int)
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        return _stand_in(text)


def _stand_in(text: str | bytes | bytearray) -> Any:
    """What :func:`loads` returns for ``text`` too deep to decode: the event name, if any,
    read without recursion, then :data:`TOO_DEEP`."""
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8", "replace")
    start = len(text) - len(text.lstrip(_SPACE))
    if not text.startswith("[", start):
        return TOO_DEEP
    first = len(text) - len(text[start + 1 :].lstrip(_SPACE))
    if text.startswith('"', first):
        try:
            name, _ = _DECODER.raw_decode(text, first)  # a string: decoding it does not recurse
        except ValueError:
            return [TOO_DEEP]
        return [name, TOO_DEEP]
    return [TOO_DEEP]


def parse_body(body: str | bytes | bytearray) -> Any:
    """The JSON value of an HTTP request body, decoded exactly as ``json.loads`` does, or
    :class:`~interactive_gym.server.refusals.Refused` (status 400) with the reason:
    ``body: not valid JSON`` or ``body: JSON nested too deeply``.
    """
    try:
        return json.loads(body)
    except RecursionError:
        raise Refused(f"body: {TooDeep.reason}") from None
    except ValueError:  # includes UnicodeDecodeError
        raise Refused("body: not valid JSON") from None


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body of an HTTP request of at most ``limit`` bytes (see :func:`parse_body`);
    a larger one is :class:`~interactive_gym.server.refusals.Refused` with status 413."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(f"body: larger than {limit} bytes", status=413)
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise Refused(f"body: larger than {limit} bytes", status=413)
    return parse_body(body)


class WirePacket(Packet):  # type: ignore[misc]  # python-socketio ships no types
    """python-socketio's packet, decoding with this module (``serializer=WirePacket``)."""

    json = sys.modules[__name__]  # this module

    @classmethod
    def reconstruct_binary(cls, data: Any, attachments: list[bytes]) -> Any:
        """Put binary attachments back in place; data too deep for that becomes the stand-in
        (the event name, if any, then :data:`TOO_DEEP`) instead of ``RecursionError``."""
        try:
            return super().reconstruct_binary(data, attachments)
        except RecursionError:
            if isinstance(data, list) and data and isinstance(data[0], str):
                return [data[0], TOO_DEEP]
            return [TOO_DEEP]
