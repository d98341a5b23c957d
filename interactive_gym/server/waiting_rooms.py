"""Waiting rooms on the server: who is waiting, who is still there, and forming the groups.

The page half is ``static/js/study/scenes/waiting_room.js``; who makes the next group is chosen
in ``room_matching.py``; the groups formed go to ``groups.py``. Events (on the participant's
study socket; only their active tab may send them). Acked events answer ``{"ok": true, ...}``
or ``{"ok": false, "error": text, "reason": word}``:

- ``room:join`` ``{scene_id}`` → ``{ok, needed, waiting, waited_s, timeout_s, outcome?}``: the
  scene must be the participant's current scene and a ``WaitingRoom``. Joining again (after a
  reconnect or a reload) keeps the original arrival time. A participant whose wait already
  ended gets ``outcome`` ``{kind, group_id, agent_id, countdown_s}`` and is not queued again.
- ``room:here`` ``{scene_id}`` → ``{ok}``: the participant is there (activity on the page, or
  the answer to a presence prompt).
- server → page: ``room:status`` ``{scene_id, waiting, needed, waited_s}`` when the number
  of participants present changes; ``room:presence`` ``{scene_id, answer_s}`` ("Are you still
  there?"); ``room:matched`` ``{scene_id, group_id, agent_id, size, countdown_s}``;
  ``room:timeout`` ``{scene_id, outcome, group_id?}`` (``"timeout"``, ``"not_present"``, or
  ``"stand_in"``: a group of one, AI policies in place of the others).

A participant is present while their socket is connected and they answered the last presence
prompt (sent after ``presence_after_s`` without ``room:here``; unanswered for
``presence_answer_s``, they are not present until they answer or join again). Groups form on
each arrival and every 2 s from the present participants: the first ``group_size`` by arrival,
or the room's ``matcher``'s choice (both in ``room_matching.py``). At ``timeout_s`` after
arrival the wait ends without a group. Every change of a participant's wait is an event record
in their data (scene: the room): ``waiting_presence_prompt``, ``waiting_not_present``,
``waiting_present_again``, ``waiting_matched``, ``waiting_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import socketio

from interactive_gym.server.groups import Groups, RoomOutcome, new_group_id, role_order
from interactive_gym.server.limits import LogThrottle
from interactive_gym.server.refusals import Refused
from interactive_gym.server.room_matching import RoomMatching, group_size
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.study import EndScene, Experiment
from interactive_gym.study.waiting_room import StandIn, WaitingRoom

log = logging.getLogger("interactive_gym.waiting_rooms")

EVENTS = ("room:join", "room:here")
#: How often the rooms look at presence and timeouts, and how often groups are sought.
TICK_S = 0.5
MATCH_EVERY_S = 2.0


class ConnectionRegistry(Protocol):
    """What the rooms need of the socket registry (``connections.Connections``)."""

    def participant_of(self, sid: str) -> str | None: ...
    def on_disconnect(self, hook: Any) -> Any: ...


class UnknownRoom(LookupError):
    """An operation named a room that is not a waiting room of the study."""


class RoomRefused(Refused):
    """A refused room event; ``word`` is the machine word the page can act on."""

    def __init__(self, error: str, word: str) -> None:
        super().__init__(error)
        self.word = word


@dataclass
class Waiter:
    """A participant waiting in a room."""

    participant_id: str
    room_id: str
    arrived: float
    sid: str | None
    last_here: float
    condition: str | None
    url_params: dict[str, str]
    #: When the presence prompt went out (None: no prompt pending).
    prompted_at: float | None = None
    #: They left a presence prompt unanswered: not present until they answer.
    unanswered: bool = False

    @property
    def present(self) -> bool:
        return self.sid is not None and not self.unanswered


def on_timeout_of(room: WaitingRoom) -> dict[str, Any]:
    """How the room's ``on_timeout`` is named in the ``waiting_timeout`` record."""
    if isinstance(room.on_timeout, StandIn):
        return {"on_timeout": "stand_in"}
    if isinstance(room.on_timeout, EndScene):
        return {"on_timeout": "end_scene", "end_scene": room.on_timeout.scene_id}
    return {"on_timeout": "skip"}


class WaitingRooms:
    """The socket handlers of the waiting rooms, the participants waiting, and the loop that
    prompts, times out and matches them."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        connections: ConnectionRegistry,
        experiment: Experiment,
        groups: Groups,
        events: ServerEvents,
        *,
        clock: Callable[[], float] = time.monotonic,
        throttle: LogThrottle | None = None,
    ) -> None:
        self.sio = sio
        self.connections = connections
        self.experiment = experiment
        self.groups = groups
        self.events = events
        self.clock = clock
        self.throttle = throttle or LogThrottle()
        #: participant_id -> their wait (one room at a time)
        self.waiters: dict[str, Waiter] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._matched_at: dict[str, float] = {}
        self._shown: dict[str, tuple[int, int]] = {}
        self.matching = RoomMatching(clock, self.throttle)

    def register(self) -> None:
        """Install the ``room:*`` handlers and the disconnect hook."""
        self.connections.on_disconnect(self.on_disconnect)
        self.sio.on("room:join", self.handle_join)
        self.sio.on("room:here", self.handle_here)

    def start(self) -> None:
        """Start the loop: presence, timeouts and matching every ``TICK_S``."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop the loop and finish writing the event records."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Wait until every event record written so far is stored (or given up)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the rooms must go on
                log.exception("waiting rooms: a tick failed")

    # socket plumbing ----------------------------------------------------------------------

    async def _answer(self, sid: str, event: str, work: Any) -> dict[str, Any]:
        try:
            return {"ok": True, **await work}
        except RoomRefused as exc:
            self._log_refusal(event, sid, exc.reason)
            return {"ok": False, "error": exc.reason, "reason": exc.word}
        except Refused as exc:
            self._log_refusal(event, sid, exc.reason)
            return {"ok": False, "error": exc.reason, "reason": "refused"}
        except Exception:  # noqa: BLE001 - always answer
            log.exception("%s from %s failed", event, sid)
            return {"ok": False, "error": "internal error; retry later", "reason": "internal"}

    def _log_refusal(self, event: str, sid: str, reason: str) -> None:
        self.throttle.log(log, "rooms", "%s from %s refused: %s", event, sid, reason)

    def _participant(self, sid: str) -> str:
        participant_id = self.connections.participant_of(sid)
        if participant_id is None:
            raise RoomRefused("not connected as a participant", "not_connected")
        is_active = getattr(self.connections, "is_active_tab", None)
        if is_active is not None and not is_active(sid):
            raise RoomRefused("this connection is not the participant's active tab", "not_tab")
        return participant_id

    @staticmethod
    def _scene_id(args: tuple[Any, ...]) -> str:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise RoomRefused("expected one object argument", "bad_request")
        unknown = sorted(str(k) for k in args[0] if k != "scene_id")
        if unknown:
            raise RoomRefused(f"unknown field {unknown[0]!r:.60}", "bad_request")
        scene_id = args[0].get("scene_id")
        if not isinstance(scene_id, str) or not scene_id:
            raise RoomRefused("scene_id: expected the id of the current scene", "bad_request")
        return scene_id

    async def _current_room(self, participant_id: str, scene_id: str) -> tuple[WaitingRoom, Any]:
        store = self.groups.store
        participant = await asyncio.to_thread(store.get_participant, participant_id)
        if participant is None or participant.experiment_id != self.experiment.experiment_id:
            raise RoomRefused("participant: not in this study", "not_current")
        if participant.status != "active":
            raise RoomRefused("participant: already completed the study", "not_current")
        order, index = participant.scene_order, participant.scene_index
        if index >= len(order) or order[index] != scene_id:
            raise RoomRefused(f"scene_id: {scene_id!r:.60} is not the current scene", "not_current")
        room = self.experiment.scenes_by_id.get(scene_id)
        if not isinstance(room, WaitingRoom):
            raise RoomRefused(f"scene_id: {scene_id!r:.60} is not a waiting room", "not_room")
        return room, participant

    def _room(self, room_id: str) -> WaitingRoom | None:
        room = self.experiment.scenes_by_id.get(room_id)
        return room if isinstance(room, WaitingRoom) else None

    def _record(self, participant_id: str, room_id: str, data: dict[str, Any]) -> None:
        """Write an event record in the background (:meth:`flush` waits for them)."""
        task = asyncio.get_running_loop().create_task(
            self.events.add(participant_id, room_id, data)
        )
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("an event record of a waiting room failed", exc_info=task.exception())

    async def _emit(self, sid: str | None, event: str, payload: dict[str, Any]) -> None:
        if sid is not None:
            await self.sio.emit(event, payload, to=sid)

    # handlers -----------------------------------------------------------------------------

    async def handle_join(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "room:join", self._join(sid, args))

    async def handle_here(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "room:here", self._here(sid, args))

    async def _join(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id = self._scene_id(args)
        participant_id = self._participant(sid)
        room, participant = await self._current_room(participant_id, scene_id)
        async with self._lock:
            self._participant(sid)  # still connected, still the active tab
            outcome = await self.groups.outcome(participant_id, scene_id)
            if outcome is not None:
                answer = self._counts(room, outcome.waited_s)
                return {**answer, "outcome": outcome.to_client(room.countdown_s)}
            now = self.clock()
            waiter = self.waiters.get(participant_id)
            if waiter is None or waiter.room_id != scene_id:
                waiter = Waiter(
                    participant_id,
                    scene_id,
                    arrived=now,
                    sid=sid,
                    last_here=now,
                    condition=participant.condition,
                    url_params=dict(participant.url_params),
                )
                self.waiters[participant_id] = waiter
            else:
                self._back(waiter, sid, now, via="join")
            await self._match(room)
            await self._status(room)
            answer = self._counts(room, now - waiter.arrived)
            outcome = await self.groups.outcome(participant_id, scene_id)
            if outcome is not None:
                answer["outcome"] = outcome.to_client(room.countdown_s)
            return answer

    async def _here(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id = self._scene_id(args)
        participant_id = self._participant(sid)
        async with self._lock:
            waiter = self.waiters.get(participant_id)
            if waiter is None or waiter.room_id != scene_id:
                raise RoomRefused(f"scene_id: not waiting in {scene_id!r:.60}", "not_waiting")
            if self._back(waiter, sid, self.clock(), via="here"):
                room = self._room(scene_id)
                if room is not None:
                    await self._match(room)
                    await self._status(room)
        return {}

    def _back(self, waiter: Waiter, sid: str, now: float, *, via: str) -> bool:
        """The waiter shows up on ``sid``; returns whether they were not present before."""
        was_present = waiter.present
        waiter.sid = sid
        waiter.last_here = now
        waiter.prompted_at = None
        waiter.unanswered = False
        if not was_present:
            self._record(
                waiter.participant_id,
                waiter.room_id,
                {"type": "waiting_present_again", "via": via, "waited_s": self._waited(waiter)},
            )
        return not was_present

    async def on_disconnect(self, sid: str, participant_id: str) -> None:
        waiter = self.waiters.get(participant_id)
        if waiter is None or waiter.sid != sid:
            return
        async with self._lock:
            if self.waiters.get(participant_id) is not waiter or waiter.sid != sid:
                return
            was_present = waiter.present
            waiter.sid = None
            waiter.prompted_at = None
            if was_present:
                self._not_present(waiter, "disconnected")
            room = self._room(waiter.room_id)
            if room is not None:
                await self._status(room)

    def _not_present(self, waiter: Waiter, why: str) -> None:
        data = {"type": "waiting_not_present", "why": why, "waited_s": self._waited(waiter)}
        self._record(waiter.participant_id, waiter.room_id, data)

    # the researcher's actions -------------------------------------------------------------

    async def release(self, room_id: str) -> int:
        """End the wait of everyone waiting in room ``room_id`` now, with the room's timeout
        outcome (a stuck room, released by the researcher); returns how many waited.

        Their ``waiting_timeout`` records say ``"released": true``. Raises
        :class:`UnknownRoom` when the study has no waiting room ``room_id``.
        """
        room = self._room(room_id)
        if room is None:
            raise UnknownRoom(f"room_id: {room_id!r:.80} is not a waiting room of this study")
        async with self._lock:
            waiting = self._in(room_id)
            for waiter in waiting:
                await self._time_out(waiter, room, released=True)
            if waiting:
                await self._status(room)
        return len(waiting)

    async def forget(self, participant_id: str) -> bool:
        """Drop the participant's wait without an outcome or a record (the researcher reset
        them: their id starts afresh); returns whether they were waiting."""
        async with self._lock:
            waiter = self.waiters.pop(participant_id, None)
            room = None if waiter is None else self._room(waiter.room_id)
            if room is not None:
                await self._status(room)
        return waiter is not None

    # the rooms ----------------------------------------------------------------------------

    def _waited(self, waiter: Waiter) -> float:
        return round(max(0.0, self.clock() - waiter.arrived), 3)

    def _in(self, room_id: str) -> list[Waiter]:
        """The participants waiting in a room, by arrival."""
        found = [w for w in self.waiters.values() if w.room_id == room_id]
        return sorted(found, key=lambda w: w.arrived)

    def _counts(self, room: WaitingRoom, waited: float = 0.0) -> dict[str, Any]:
        present = sum(w.present for w in self._in(room.scene_id))
        return {
            "waiting": present,
            "needed": max(0, group_size(room) - present),
            "waited_s": round(max(0.0, waited), 3),
            "timeout_s": room.timeout_s,
        }

    async def _status(self, room: WaitingRoom) -> None:
        """Tell everyone waiting in the room how many are there, when that changed."""
        counts = self._counts(room)
        shown = (counts["waiting"], counts["needed"])
        if self._shown.get(room.scene_id) == shown:
            return
        self._shown[room.scene_id] = shown
        for waiter in self._in(room.scene_id):
            status = {"scene_id": room.scene_id, "waiting": shown[0], "needed": shown[1]}
            await self._emit(
                waiter.sid, "room:status", {**status, "waited_s": self._waited(waiter)}
            )

    async def tick(self) -> None:
        """Prompt the idle, mark the silent not present, end the waits timed out, and match
        (every ``MATCH_EVERY_S``, or in a room where presence changed)."""
        async with self._lock:
            now = self.clock()
            changed: set[str] = set()
            for waiter in list(self.waiters.values()):
                room = self._room(waiter.room_id)
                if room is None:  # not a room of this study any more
                    self.waiters.pop(waiter.participant_id, None)
                    continue
                if now - waiter.arrived >= room.timeout_s:
                    await self._time_out(waiter, room)
                    changed.add(room.scene_id)
                elif waiter.present and waiter.prompted_at is None:
                    if now - waiter.last_here >= room.presence_after_s:
                        await self._prompt(waiter, room, now)
                elif waiter.present and waiter.prompted_at is not None:
                    if now - waiter.prompted_at >= room.presence_answer_s:
                        waiter.unanswered = True
                        self._not_present(waiter, "no_answer")
                        changed.add(room.scene_id)
            for room_id in sorted({w.room_id for w in self.waiters.values()} | changed):
                room = self._room(room_id)
                if room is None:
                    continue
                if room_id in changed or now - self._matched_at.get(room_id, -math.inf) >= (
                    MATCH_EVERY_S
                ):
                    await self._match(room)
                await self._status(room)

    async def _prompt(self, waiter: Waiter, room: WaitingRoom, now: float) -> None:
        waiter.prompted_at = now
        idle = round(now - waiter.last_here, 3)
        data = {"type": "waiting_presence_prompt", "idle_s": idle, "waited_s": self._waited(waiter)}
        self._record(waiter.participant_id, room.scene_id, data)
        payload = {"scene_id": room.scene_id, "answer_s": room.presence_answer_s}
        await self._emit(waiter.sid, "room:presence", payload)

    async def _time_out(self, waiter: Waiter, room: WaitingRoom, *, released: bool = False) -> None:
        self.waiters.pop(waiter.participant_id, None)
        waited = self._waited(waiter)
        kind = "not_present" if not waiter.present else "timeout"
        group_id = agent_id = None
        if kind == "timeout" and isinstance(room.on_timeout, StandIn):
            formed = await self._stand_in_group(waiter, room, room.on_timeout, waited)
            if formed is not None:
                kind, (group_id, agent_id) = "stand_in", formed
        self.groups.set_outcome(
            waiter.participant_id, room.scene_id, RoomOutcome(kind, group_id, agent_id, waited)
        )
        data: dict[str, Any] = {"type": "waiting_timeout", "outcome": kind, "waited_s": waited}
        data.update(on_timeout_of(room))
        if group_id is not None:
            data.update(group_id=group_id, agent_id=agent_id)
        if released:
            data["released"] = True
        self._record(waiter.participant_id, room.scene_id, data)
        payload: dict[str, Any] = {"scene_id": room.scene_id, "outcome": kind}
        if group_id is not None:
            payload.update(group_id=group_id, agent_id=agent_id)
        await self._emit(waiter.sid, "room:timeout", payload)
        log.info("participant %s: %s in %s after %.0f s", waiter.participant_id, kind,
                 room.scene_id, waited)  # fmt: skip

    async def _stand_in_group(
        self, waiter: Waiter, room: WaitingRoom, stand_in: StandIn, waited: float
    ) -> tuple[str, str] | None:
        """Form the group of one a timed-out participant plays with AI partners; returns
        ``(group_id, agent_id)`` (None: it could not be formed, which is logged)."""
        covered = set(stand_in.agents)
        agents = [a for a in room.humans if covered >= set(room.humans) - {a}]
        if not agents:
            self.matching.warn_once(
                room, "stand_in", "%s: on_timeout StandIn plays %s but the group scenes' humans "
                "are %s: no group of one can be formed; the participant times out",
                room.where, sorted(covered), room.humans,
            )  # fmt: skip
            return None
        group_id = new_group_id()
        agent = random.Random(group_id).choice(agents) if room.roles == "random" else agents[0]
        stand_ins = {
            a: (kind if isinstance(kind, str) else "python")
            for a, kind in stand_in.agents.items()
            if a in room.humans and a != agent
        }
        try:
            await self.groups.form(
                room, [(waiter.participant_id, waited)], stand_ins, group_id=group_id
            )
        except Exception:  # noqa: BLE001 - the participant still gets an answer
            log.exception("%s: the stand-in group of %s failed", room.where, waiter.participant_id)
            return None
        return group_id, agent

    # matching -----------------------------------------------------------------------------

    async def _match(self, room: WaitingRoom) -> None:
        """Form groups from the present participants until no more group forms."""
        self._matched_at[room.scene_id] = self.clock()
        size = group_size(room)
        while True:
            chosen = self.matching.choose(room, self._in(room.scene_id), size)
            if chosen is None or not await self._form(room, chosen):
                return

    async def _form(self, room: WaitingRoom, chosen: list[Waiter]) -> bool:
        """Form a group of ``chosen``; returns whether it formed."""
        group_id = new_group_id()
        members = role_order(room, group_id, sorted(chosen, key=lambda w: w.arrived))
        for waiter in members:
            self.waiters.pop(waiter.participant_id, None)
        try:
            group = await self.groups.form(
                room, [(w.participant_id, self._waited(w)) for w in members], group_id=group_id
            )
        except Exception:  # noqa: BLE001 - they wait on; the next tick tries again
            log.exception("%s: forming a group failed", room.where)
            for waiter in members:
                self.waiters[waiter.participant_id] = waiter
            return False
        size = len(group.members)
        for waiter, member in zip(members, group.members, strict=True):
            outcome = RoomOutcome("matched", group_id, member.agent_id, member.waited_s)
            self.groups.set_outcome(waiter.participant_id, room.scene_id, outcome)
            data = {"type": "waiting_matched", "group_id": group_id, "agent_id": member.agent_id,
                    "waited_s": member.waited_s, "size": size}  # fmt: skip
            self._record(waiter.participant_id, room.scene_id, data)
            payload = {"scene_id": room.scene_id, "group_id": group_id,
                       "agent_id": member.agent_id, "size": size,
                       "countdown_s": room.countdown_s}  # fmt: skip
            await self._emit(waiter.sid, "room:matched", payload)
        return True
