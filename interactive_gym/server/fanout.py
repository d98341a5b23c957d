"""Sending one game message to the sockets of its players: encoded once, queued in order.

``AsyncServer.emit(event, data, to=sids)`` encodes a message once, but then starts one task per
packet per recipient and waits for them all: for a frame at 30 FPS to every member of every
game that is most of the event loop's cost of sending it, and under load the wait stretches
the frame's fan-out. :func:`send_to` encodes the message once with the server's packet class
(``wire_json.WirePacket``) and puts its packets on each recipient's Engine.IO queue directly,
in order (the socket's own writer task sends them); a socket already gone is skipped, as
``emit`` skips it. Used by the game clocks (``server_games.py``, ``group_games.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

NAMESPACE = "/"


async def send_to(sio: socketio.AsyncServer, event: str, data: Any, sids: Iterable[str]) -> None:
    """Send ``event`` with ``data`` to every socket of ``sids`` (the default namespace)."""
    encoded = sio.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=[event, data]).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
    for sid in sids:
        eio_sid = sio.manager.eio_sid_from_sid(sid, NAMESPACE)
        if eio_sid is None:
            continue  # disconnected meanwhile
        for one in packets:
            await sio.eio.send_packet(eio_sid, one)
