"""Event records the server writes itself, outside a game's own record stream.

Waiting rooms and group games record what happens to a participant (matched, timed out, a
partner dropped, ...) as ``event`` records in that participant's data, and a group game's
events also in the group's data (owner: the group id). Each :meth:`ServerEvents.add` is one
record written as the owner's own server chunk through the chunk writer (exactly once, like a
server game's records: ``game_records.py``, which does the writing).
"""

from __future__ import annotations

import logging
from typing import Any

from interactive_gym.data.records import Limits, RecordError
from interactive_gym.data.writer import ChunkWriter
from interactive_gym.server.game_records import GameRecords, ServerSeqs

log = logging.getLogger("interactive_gym.server_events")


class ServerEvents:
    """Writes single event records for participants and groups."""

    def __init__(self, writer: ChunkWriter, seqs: ServerSeqs, limits: Limits | None = None) -> None:
        self.writer = writer
        self.seqs = seqs
        self.limits = limits or Limits()

    async def add(
        self,
        owner_id: str,
        scene_id: str,
        data: dict[str, Any],
        *,
        episode: int | None = None,
        attempt: int | None = None,
        step: int | None = None,
    ) -> None:
        """Store one ``event`` record (``data`` must hold its ``type``); returns once stored
        (or given up, which is logged)."""
        records = GameRecords(self.writer, self.seqs, owner_id, scene_id, limits=self.limits)
        try:
            record = records.make("event", data, episode=episode, attempt=attempt, step=step)
        except RecordError as error:
            log.error(
                "owner %s: event %r cannot be recorded: %s", owner_id, data.get("type"), error
            )
            return
        records.add(record)
        await records.flush()
