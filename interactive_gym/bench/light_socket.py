"""A light Socket.IO client for load generation: the protocol over one WebSocket, nothing more.

The benchmarks simulate many members at once on the machine that also runs the server, so
the members must cost little: this client speaks Engine.IO 4 / Socket.IO 5 directly over an
aiohttp WebSocket (open, namespace connect with ``auth``, ping/pong, events, acknowledgements)
and counts the events nobody listens to (and every binary event) by their name without
decoding them (an acknowledgement with attachments answers with their placeholders). It is
not a general client: one namespace (``/``), no reconnection, no binary events sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

#: Engine.IO packet types (as text digits) and Socket.IO packet types.
EIO_OPEN, EIO_CLOSE, EIO_PING, EIO_PONG, EIO_MESSAGE = "0", "1", "2", "3", "4"
SIO_CONNECT, SIO_EVENT, SIO_ACK, SIO_BINARY_EVENT, SIO_BINARY_ACK = "0", "2", "3", "5", "6"


class LightSocket:
    """One connection: :meth:`connect`, :meth:`call` (acknowledged), :meth:`emit`, :meth:`on`."""

    def __init__(self, local_address: str | None = None) -> None:
        self.local_address = local_address
        self.handlers: dict[str, Callable[[Any], None]] = {}
        #: Binary events are counted by name (their attachments are skipped, not decoded).
        self.counts: dict[str, int] = {}
        self.on_count: Callable[[str], None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_ack = 0
        self._skip = 0  # binary attachments still to come of the last binary event
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        self.handlers[event] = handler

    async def connect(self, url: str, auth: dict[str, Any], timeout_s: float = 30) -> None:
        connector = aiohttp.TCPConnector(
            local_addr=(self.local_address, 0) if self.local_address else None
        )
        self._session = aiohttp.ClientSession(connector=connector)
        ws_url = url.replace("http", "ws", 1).rstrip("/")
        self._ws = await self._session.ws_connect(
            f"{ws_url}/socket.io/?EIO=4&transport=websocket",
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout_s),
        )
        opened = await self._ws.receive_str(timeout=timeout_s)
        if not opened.startswith(EIO_OPEN):
            raise ConnectionError(f"expected the Engine.IO open packet, got {opened[:80]!r}")
        await self._ws.send_str(EIO_MESSAGE + SIO_CONNECT + json.dumps(auth))
        while True:
            text = await self._ws.receive_str(timeout=timeout_s)
            if text == EIO_PING:
                await self._ws.send_str(EIO_PONG)
                continue
            if text.startswith(EIO_MESSAGE + SIO_CONNECT):
                break
            raise ConnectionError(f"connection refused: {text[:200]}")
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def emit(self, event: str, data: Any) -> None:
        assert self._ws is not None, "connect first"
        await self._ws.send_str(EIO_MESSAGE + SIO_EVENT + json.dumps([event, data]))

    async def call(self, event: str, data: Any = None, timeout_s: float = 60) -> Any:
        """Send an event and wait for its acknowledgement (the handler's answer)."""
        assert self._ws is not None, "connect first"
        self._next_ack += 1
        ack = self._next_ack
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack] = future
        args = [event] if data is None else [event, data]
        await self._ws.send_str(EIO_MESSAGE + SIO_EVENT + str(ack) + json.dumps(args))
        try:
            return await asyncio.wait_for(future, timeout_s)
        finally:
            self._acks.pop(ack, None)

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self.closed.set()

    # reading ------------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    self._skip = max(0, self._skip - 1)
                elif message.type == aiohttp.WSMsgType.TEXT:
                    await self._text(message.data)
                else:
                    break
        finally:
            self.closed.set()
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(ConnectionError("the connection closed"))

    async def _text(self, text: str) -> None:
        assert self._ws is not None
        if text == EIO_PING:
            await self._ws.send_str(EIO_PONG)
            return
        if not text.startswith(EIO_MESSAGE) or len(text) < 2:
            return
        kind, body = text[1], text[2:]
        if kind == SIO_BINARY_EVENT:
            count, _, rest = body.partition("-")
            self._skip = int(count)
            self._count(rest[2 : rest.index('"', 2)] if rest.startswith('["') else "")
        elif kind == SIO_EVENT:
            if body.startswith('["'):  # an event nobody listens to is counted, not decoded
                name = body[2 : body.index('"', 2)]
                if name not in self.handlers:
                    self._count(name)
                    return
            event, *args = json.loads(body[body.index("[") :])
            handler = self.handlers.get(event)
            if handler is not None:
                handler(args[0] if args else None)
        elif kind in (SIO_ACK, SIO_BINARY_ACK):
            if kind == SIO_BINARY_ACK:  # "<n>-<id>[...]": its attachments are skipped
                count, _, body = body.partition("-")
                self._skip = int(count)
            ack = int(body[: body.index("[")])
            future = self._acks.get(ack)
            if future is not None and not future.done():
                values = json.loads(body[body.index("[") :])
                future.set_result(values[0] if values else None)

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        if self.on_count is not None:
            self.on_count(name)
