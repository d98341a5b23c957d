"""10,000 refused socket messages, over a real connection, leave a few lines in a real log file."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

import socketio

from interactive_gym.local_server import serve
from interactive_gym.server.limits import LogThrottle
from interactive_gym.server.wire_json import WirePacket

FLOOD = 10_000
LINE = "message from %s (participant %s) refused: %s"
SUPPRESSED = re.compile(r"\((\d+) similar refusals not logged in the last (\d+) s\)$")


async def test_a_flood_of_refusals_writes_a_few_lines_and_the_count(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(f"test.flood.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    throttle = LogThrottle(lines=10, interval_s=10)  # a burst of 10, then a line a second

    sio = socketio.AsyncServer(async_mode="asgi", serializer=WirePacket)
    handled = 0

    @sio.on("chunk")
    async def chunk(sid: str, payload: Any = None) -> dict[str, Any]:
        nonlocal handled
        handled += 1
        reason = f"records[0].kind: expected one of step, survey, event, episode, got {payload!r}"
        throttle.log(logger, "message", LINE, sid, "p1", reason)
        return {"ok": False, "error": reason, "retry": False}

    try:
        with serve(socketio.ASGIApp(sio)) as url:
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(url, transports=["websocket"], wait_timeout=10)
            started = time.monotonic()
            try:
                for i in range(FLOOD - 1):
                    await client.emit("chunk", f"bad-{i}")
                last = await client.call("chunk", f"bad-{FLOOD - 1}", timeout=60)
                assert last["ok"] is False
                for _ in range(100):  # the handlers run in order; wait for the stragglers
                    if handled == FLOOD:
                        break
                    await asyncio.sleep(0.05)
                assert handled == FLOOD
                await asyncio.sleep(1.1)  # a line's worth of the rate
                await client.call("chunk", "after", timeout=10)
                elapsed = time.monotonic() - started
            finally:
                await client.disconnect()
    finally:
        logger.removeHandler(handler)
        handler.close()

    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    # A burst of 10 lines, then at most a line a second; all 10,001 lines would take 2 MB.
    assert len(lines) <= 10 + elapsed + 1
    assert path.stat().st_size < 20_000
    assert all(f"got 'bad-{i}'" in lines[i] for i in range(10))  # the first refusals are there
    assert "got 'after'" in lines[-1]
    counted = sum(int(m.group(1)) for m in map(SUPPRESSED.search, lines) if m)
    assert SUPPRESSED.search(lines[-1])
    assert len(lines) + counted == FLOOD + 1  # every refusal logged or counted
