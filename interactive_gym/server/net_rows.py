"""The rows of a browser group game: one step row per frame and one episode row per episode,
written once, in order, through the game's ``GameRecords`` (owner: the group id).

``net_game.py`` (its other half) hands over the rows its episodes' ``EpisodeRows``
(``net_log.py``) say are ready; a frame a member reported waits at most :data:`ROW_WAIT_S` for
the other members' reports, then goes with those it has. Once an episode's rows are stored, the
members hear ``net:episode_end`` (a page finishes its scene only after that: the check of its
response reads the group's stored episodes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from interactive_gym.data.records import RecordError
from interactive_gym.study.gym import PLAYED_TO_THE_END

if TYPE_CHECKING:
    from interactive_gym.server.net_game import Episode, NetGame

log = logging.getLogger("interactive_gym.net_rows")

#: Longest wait of a reported frame's row for the other members' reports.
ROW_WAIT_S = 2.0


class RowWriter:
    """Writes one game's rows as its episodes make them ready."""

    def __init__(self, game: NetGame) -> None:
        self.game = game
        self.overdue: dict[int, asyncio.TimerHandle] = {}  # by episode: its row timer

    def cancel(self) -> None:
        """The game closes: no row waits any longer."""
        for timer in self.overdue.values():
            timer.cancel()

    def write(self, ep: Episode, rows: list[tuple[int, dict[str, Any]]]) -> None:
        """Queue ``rows`` (``(frame, data)``, in order); the episode row after its last."""
        for frame, data in rows:
            self.record("step", data, episode=ep.number, step=frame)
        if ep.rows.over and not ep.finished:
            self.finish(ep, ep.rows.ended_by or "stopped")
        waiting = ep.rows.waiting
        if waiting is not None and ep.number not in self.overdue and not self.game.closed:
            # A member here who never reports it (their page stopped) holds nobody up long.
            loop = asyncio.get_running_loop()
            self.overdue[ep.number] = loop.call_later(ROW_WAIT_S, self.late, ep, waiting)

    def late(self, ep: Episode, frame: int) -> None:
        """``frame`` waited :data:`ROW_WAIT_S` for reports: it goes with those it has."""
        self.overdue.pop(ep.number, None)
        if not ep.finished and not self.game.closed:
            self.write(ep, ep.rows.take(self.game.here(ep), overdue=frame))

    def record(self, kind: str, data: dict[str, Any], **where: Any) -> None:
        try:
            record = self.game.records.make(kind, data, attempt=0, **where)
        except RecordError as error:
            group = self.game.group_id
            log.warning(
                "group %s: a %s record is too large (%s): info left out", group, kind, error
            )
            try:
                record = self.game.records.make(kind, {**data, "info": None}, attempt=0, **where)
            except RecordError:
                log.error("group %s: %s record %s lost: %s", group, kind, where, error)
                return
        self.game.records.add(record)

    def finish(self, ep: Episode, how: str) -> None:
        """The episode row (after its steps); the last episode played out ends the game."""
        if ep.finished:
            return
        ep.finished = True
        self.game.open.pop(ep.number, None)
        who = {agent: seat.who for agent, seat in self.game.seats.items()}
        duration = (time.monotonic() - ep.started_at) * 1000
        summary = ep.rows.summary(how, who, duration)
        self.record("episode", summary, episode=ep.number)
        self.game.later(self.stored(ep.number, summary))
        if how in PLAYED_TO_THE_END and ep.number + 1 >= self.game.scene.episodes:
            self.game.later(self.game.ended("completed"))

    async def stored(self, number: int, summary: dict[str, Any]) -> None:
        """Write the episode's rows, then tell the members (``net:episode_end``): a member's
        page finishes the scene only after the group's rows are stored, which the check of
        its response reads."""
        await self.game.records.flush()
        await self.game.emit(
            "net:episode_end",
            {"scene_id": self.game.scene_id, "episode": number, "summary": summary},
        )
