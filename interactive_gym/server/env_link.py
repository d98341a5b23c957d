"""The env pool's link to one env worker process: its pipe, its queued requests, its watchdog.

:class:`EnvLink` is the event loop's end of one process started by ``env_pool.py`` (its
owner, the other half) running ``env_process.main``. The parent's end of the pipe is an asyncio
transport, read and written by the event loop with multiprocessing's framing (a 4-byte
big-endian length, then the pickle), so the child keeps its plain ``Connection``; writes never
block. Requests queued in one event-loop iteration go as one message.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import pickle
import signal
import socket
import struct
from dataclasses import dataclass
from multiprocessing.context import SpawnContext
from typing import Any, Literal, Protocol

from interactive_gym.server import env_process
from interactive_gym.server.frames import FrameSettings

Stage = Literal["load", "reset", "step"]


class LinkOwner(Protocol):
    """What a link needs of its pool."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def context(self) -> SpawnContext: ...
    @property
    def frame(self) -> FrameSettings: ...
    @property
    def counts(self) -> dict[str, int]: ...

    def on_message(self, link: EnvLink, message: Any) -> None: ...
    def on_exit(self, link: EnvLink) -> None: ...
    def check(self, link: EnvLink) -> None: ...


@dataclass(eq=False, slots=True)
class Request:
    """A request sent to the process, waiting for its reply."""

    rid: int
    op: str
    game_id: str
    stage: Stage
    timeout_s: float | None
    future: asyncio.Future[Any]


class EnvLink(asyncio.Protocol):
    """One env process: the event loop's end of its pipe, its games and pending requests."""

    def __init__(self, owner: LinkOwner, index: int, restarts: int, failed_starts: int) -> None:
        self.owner, self.index, self.restarts = owner, index, restarts
        self.failed_starts = failed_starts
        self.loop = owner.loop
        context = owner.context
        self.state = context.RawArray(ctypes.c_double, 2)
        conn, child = context.Pipe(duplex=True)
        self.process = context.Process(
            target=env_process.main,
            args=(child, self.state, owner.frame.to_dict()),
            name=f"ig-env-{index}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.pid = self.process.pid
        self.games: set[str] = set()
        self.pending: dict[int, Request] = {}
        self.outbox: list[tuple[int, str, str, Any]] = []
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self.ready.add_done_callback(retrieve)
        self.exited: asyncio.Future[None] = self.loop.create_future()
        self.dead = False  # lost (killed or died): its replies are ignored
        self.stopping = False
        self.watch: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        conn.close()
        self.connecting = self.loop.create_task(
            self.loop.create_unix_connection(lambda: self, sock=sock)
        )

    # the pipe (asyncio.Protocol) -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.flush()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        while len(buffer) - start >= 4:
            size = int.from_bytes(buffer[start : start + 4], "big", signed=True)
            head = 4
            if size == -1:  # over 2 GiB: an 8-byte length follows
                if len(buffer) - start < 12:
                    break
                size, head = int.from_bytes(buffer[start + 4 : start + 12], "big"), 12
            if len(buffer) - start < head + size:
                break
            body = memoryview(buffer)[start + head : start + head + size]
            message = pickle.loads(body)
            body.release()
            start += head + size
            self.owner.on_message(self, message)
        if start:
            del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.loop.create_task(self._reap())

    async def _reap(self) -> None:
        """The pipe closed: the process has ended or is ending; wait for it, then report."""
        await asyncio.to_thread(self.process.join, 10)
        if not self.exited.done():
            self.exited.set_result(None)
        self.owner.on_exit(self)

    # requests ------------------------------------------------------------------------------

    def send(self, request: tuple[int, str, str, Any]) -> None:
        """Queue a request; the queue goes as one message at the end of this loop iteration."""
        if not self.outbox:
            self.loop.call_soon(self.flush)
        self.outbox.append(request)

    def flush(self) -> None:
        if self.transport is None or not self.outbox:
            return  # not connected yet: connection_made flushes
        batch, self.outbox = self.outbox, []
        if not self.dead:
            self.write(batch)
            counts = self.owner.counts
            counts["messages"] += 1
            counts["requests"] += len(batch)

    def write(self, message: Any) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        size = len(data)
        head = struct.pack("!i", size) if size <= 0x7FFFFFFF else struct.pack("!iQ", -1, size)
        self.transport.write(head + data)

    def stop(self) -> None:
        """Ask the process to close its games and exit."""
        self.stopping = True
        if self.watch is not None:
            self.watch.cancel()
            self.watch = None
        self.outbox.clear()
        if self.transport is not None:
            self.write(None)
        else:
            self.connecting.add_done_callback(lambda _: self.write(None))

    def arm(self, delay: float) -> None:
        """Make sure the watchdog looks at this process within ``delay`` seconds."""
        when = self.loop.time() + delay
        if self.watch is not None:
            if self.watch.when() <= when:
                return
            self.watch.cancel()
        self.watch = self.loop.call_at(when, self.owner.check, self)

    def running(self) -> tuple[int, float] | None:
        """The request the process is running and its start (``time.monotonic``), if any."""
        rid, started, again = self.state[0], self.state[1], self.state[0]
        return (int(rid), started) if rid and rid == again else None

    def kill(self) -> None:
        if self.watch is not None:
            self.watch.cancel()
            self.watch = None
        self.outbox.clear()
        if self.process.exitcode is None:
            self.process.kill()


def retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (futures nobody awaits)."""
    if not future.cancelled():
        future.exception()


def exit_text(exitcode: int | None) -> str:
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
