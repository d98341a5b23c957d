"""The clock of a group's game: the game clock with one input slot per member's agent.

Each tick's actions hold the agent of every member present (their latest ``game:input``) and
the ``default_action`` for a member away (``when_member_away="default_action"``; with
``"pause"`` the game does not tick then); the agent of a member who left, or of a missing one,
is left out, and the env process's stand-in plays it (``runtime/game_host.py``). The step
record is the group's (owner: the group id): :func:`~.game_records.step_data` with
``group_id`` and, per human agent, ``participant_<agent>`` (who played it: a participant id,
``"default"`` or ``"stand_in"``), ``keys_<agent>``, ``key_events_<agent>`` and
``input_seq_<agent>`` instead of the one human's ``keys``/``key_events``/``input_seq``.
Frames carry ``input_seqs: {agent: seq}``. Each step record also has ``prev_fanout_ms``: for
the frame before it, the ms from the frame being ready (the env's reply) until it was handed to
every member's socket, encoded once (None when there was none; the ``server.groups``
benchmark reads it). The other half:
``group_game.py`` (the seats).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from interactive_gym.server.game_clock import Emit, GameClock, Taken
from interactive_gym.server.game_records import ms, step_data

if TYPE_CHECKING:
    from interactive_gym.server.group_game import GroupGame
    from interactive_gym.server.seated_game import Seat

PLAYED_OUT = frozenset({"terminated", "truncated", "max_steps"})
#: The step columns of one human that a group step has per agent instead.
PER_AGENT = ("keys", "key_events", "input_seq")


class GroupClock(GameClock):
    """The clock of a group's game: per-agent input, away agents, per-agent step columns."""

    _send: Emit  # where frames go (``GroupGame.emit``); ``emit`` times them on the way

    def __init__(self, *, seats: dict[str, Seat], group_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seats = seats
        self.group_id = group_id
        self.score_agent = None  # the episode's return is the group's: every agent's, summed
        self.game: GroupGame | None = None
        self._fanout_ms: float | None = None  # the last frame's, until a step record takes it

    @property
    def emit(self) -> Emit:
        return self._timed_emit

    @emit.setter
    def emit(self, send: Emit) -> None:
        self._send = send

    async def _timed_emit(self, event: str, payload: dict[str, Any]) -> None:
        started = asyncio.get_running_loop().time()
        await self._send(event, payload)
        if event == "game:frame":
            self._fanout_ms = (asyncio.get_running_loop().time() - started) * 1000

    def _take_actions(self) -> tuple[dict[str, Any], dict[str, Taken]]:
        actions: dict[str, Any] = {}
        taken: dict[str, Taken] = {}
        for agent, slot in self.slots.items():
            mine = slot.take(self.scene, self.default_key)
            state = self.seats[agent].state
            if state == "away":
                mine = Taken(self.scene.default_action, "", mine.events, mine.seq, False)
            if state in ("here", "away"):
                actions[agent] = mine.action
            taken[agent] = mine
        return actions, taken

    def _step_data(self, reply: dict[str, Any], taken: dict[str, Taken], **timing: Any) -> dict:
        hidden = any(t.hidden for t in taken.values())
        data = step_data(
            reply,
            multi_agent=self.multi_agent,
            keys="",
            key_events=[],
            focus="hidden" if hidden else "focused",
            observation=self.scene.record_observations,
            input_seq=-1,
            **timing,
        )
        for name in PER_AGENT:
            del data[name]
        data["group_id"] = self.group_id
        fanout, self._fanout_ms = self._fanout_ms, None
        data["prev_fanout_ms"] = ms(fanout) if fanout is not None else None
        for agent, mine in taken.items():
            data[f"participant_{agent}"] = self.seats[agent].who
            data[f"keys_{agent}"] = mine.keys
            data[f"key_events_{agent}"] = mine.events
            data[f"input_seq_{agent}"] = mine.seq
        return data

    def _frame_inputs(self, taken: dict[str, Taken]) -> dict[str, Any]:
        return {"input_seqs": {agent: t.seq for agent, t in taken.items()}}

    def _summary(self, run: Any, how: str) -> dict[str, Any]:
        data = super()._summary(run, how)
        del data["input_seq"]
        data["group_id"] = self.group_id
        for agent, slot in self.slots.items():
            data[f"participant_{agent}"] = self.seats[agent].who
            data[f"input_seq_{agent}"] = slot.seq
        return data

    async def _finish(self, how: str) -> None:
        run = self.run
        await super()._finish(how)
        if self.game is not None and run is not None and how in PLAYED_OUT:
            if run.episode + 1 >= self.scene.episodes:
                self.game.later(self.game.ended("completed"))

    async def _fail(self, error: BaseException, *, stage: str) -> None:
        await super()._fail(error, stage=stage)
        if self.game is not None and self.failed is not None:
            failed = {k: v for k, v in self.failed.items() if k != "scene_id"}
            self.game.later(self.game.members_event({"type": "game_error", **failed}))
            self.game.later(self.game.ended("error"))
