"""The seats of a group's game and the rules of members coming and going, shared by the two
kinds of group game: the server runtime's (``group_game.py``: the server runs the env) and the
browser's (``net_game.py``: every member's worker runs it).

Each human agent has a :class:`Seat` in one of four states: ``"here"`` (the member's page is
connected), ``"away"`` (the connection went, or the member never opened the game; back within
``reconnect_s`` with a new join: ``"here"``), ``"stand_in"`` (an AI plays the agent) and
``"left"``. A member away, or hidden (``when_hidden="pause"``), longer than ``reconnect_s`` has
left: the scene's ``on_member_leave`` applies. The members hear of each other by
``game:member {scene_id, agent_id, state, wait_s?}``; ``member_away``, ``member_back``,
``member_hidden``, ``member_left``, ``stand_in`` and ``group_game_ended`` are event records in
the group's data and every member's (``server_events.py``). :class:`SeatedGame` holds these
rules; a game adds what it does when a seat changes (:meth:`SeatedGame.update`), when a member
left for good (:meth:`SeatedGame._end_member_left`), and its join answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from interactive_gym.server.refusals import Refused
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.study import GymScene
from interactive_gym.study.scene import ParticipantContext

log = logging.getLogger("interactive_gym.seated_game")


class GameRefused(Refused):
    """A refused game event; ``reason`` is the machine word the page can act on."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(error)
        self.word = reason


class GroupMemberLike(Protocol):
    @property
    def participant_id(self) -> str: ...
    @property
    def agent_id(self) -> str: ...


class GroupLike(Protocol):
    """What a group game needs of a group (``data.Group``)."""

    @property
    def group_id(self) -> str: ...
    @property
    def room_id(self) -> str: ...
    @property
    def members(self) -> Sequence[GroupMemberLike]: ...
    @property
    def stand_ins(self) -> Mapping[str, str]: ...
    @property
    def scenes(self) -> Mapping[str, str]: ...
    @property
    def left(self) -> Mapping[str, str]: ...


class GroupDirectory(Protocol):
    """What the games need of the group directory (``groups.Groups``)."""

    async def group_for(self, participant_id: str, scene_id: str) -> Any: ...
    async def member_left(self, group: Any, participant_id: str, scene_id: str) -> Any: ...
    async def scene_ended(self, group: Any, scene_id: str, how: str) -> Any: ...
    def context(self, group: Any) -> ParticipantContext: ...


@dataclass
class Seat:
    """One human agent of a group game: its member, their state and connection."""

    agent_id: str
    participant_id: str | None  # None: no member (a stand-in from the start)
    state: str  # "here" | "away" | "left" | "stand_in"
    sid: str | None = None
    played: int | None = None  # the episode the member's page started (game:play)
    expiry: asyncio.Task[None] | None = None
    joined: bool = False
    hidden: bool = False  # the member's tab is hidden (when_hidden="pause": the group waits)

    @property
    def shown(self) -> str:
        """The state the other members are told (a hidden tab: "hidden")."""
        return "hidden" if self.state == "here" and self.hidden else self.state

    @property
    def who(self) -> str:
        """Who plays the agent now, for the step record."""
        if self.state == "here" and self.participant_id is not None:
            return self.participant_id
        return "default" if self.state == "away" else "stand_in"


def stand_in_agents(rule: Any) -> set[str]:
    """The agent ids an ``on_member_leave`` StandIn covers (none for "end" or an EndScene)."""
    agents = getattr(rule, "agents", None)
    return {str(a) for a in agents} if isinstance(agents, Mapping) else set()


Send = Callable[[str, dict[str, Any], list[str]], Awaitable[None]]


class SeatedGame:
    """A group's game of one group scene: its seats, who is connected, and the rules for
    members coming and going. Subclasses: ``GroupGame`` and ``NetGame``."""

    def __init__(
        self,
        *,
        group: Any,
        scene: GymScene,
        seats: dict[str, Seat],
        directory: GroupDirectory,
        events: ServerEvents,
        send: Send,
    ) -> None:
        self.group = group
        self.scene = scene
        self.seats = seats
        self.directory = directory
        self.events = events
        self.send = send
        self.lock = asyncio.Lock()
        self.by_participant = {s.participant_id: s for s in seats.values() if s.participant_id}
        self.sids: list[str] = []
        self.how: str | None = None  # how the game ended ("completed", "member_left", ...)
        self.closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def group_id(self) -> str:
        return str(self.group.group_id)

    @property
    def scene_id(self) -> str:
        return self.scene.scene_id

    def members(self) -> dict[str, str]:
        return {agent: seat.shown for agent, seat in self.seats.items()}

    def later(self, work: Awaitable[Any]) -> None:
        """Run ``work`` in the background (awaited when the game closes)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("group %s: %s", self.group_id, task.exception(), exc_info=task.exception())

    # what the game adds ---------------------------------------------------------------------

    def update(self) -> None:
        """The seats changed (a member came, went or left)."""

    def loading_s(self) -> float:
        """How long a member whose page has not joined yet (it is loading the game) may take
        before they count as gone."""
        return self.scene.reconnect_s

    def where(self) -> dict[str, Any]:
        """``episode``, ``attempt`` and ``step`` of an event record made now."""
        return {"episode": None, "attempt": None, "step": None}

    def _seated(self, seat: Seat) -> None:
        """A member's page just took its seat (a join)."""

    def _unseated(self, seat: Seat) -> None:
        """A member's page just went (its connection, or it left the game)."""

    async def _end_hidden(self, seat: Seat, sid: str) -> None:
        """A member hidden too long has left while their page is still open: tell it."""

    async def _end_member_left(self) -> None:
        """A member left and no stand-in plays for them: the group's game ends."""
        raise NotImplementedError

    # sending ------------------------------------------------------------------------------

    def _refresh(self) -> None:
        self.sids = [s.sid for s in self.seats.values() if s.sid is not None]

    async def emit(self, event: str, payload: dict[str, Any]) -> None:
        """Every member present gets it: one message, encoded once."""
        if self.sids:
            await self.send(event, payload, list(self.sids))

    async def _tell(self, seat: Seat, **extra: Any) -> None:
        """The other members hear of a member's new state (``game:member``)."""
        others = [s.sid for s in self.seats.values() if s.sid is not None and s is not seat]
        if others:
            message = {"scene_id": self.scene_id, "agent_id": seat.agent_id, "state": seat.shown}
            await self.send("game:member", {**message, **extra}, others)

    async def members_event(self, data: dict[str, Any], seat: Seat | None = None) -> None:
        """An event record in the group's data and in every member's."""
        data = {**data, "group_id": self.group_id}
        if seat is not None:
            data.update(agent_id=seat.agent_id, participant_id=seat.participant_id)
        owners = [self.group_id, *self.by_participant]
        where = self.where()
        await asyncio.gather(*(self.events.add(o, self.scene_id, data, **where) for o in owners))

    # members coming and going -------------------------------------------------------------

    def start(self, opener: str) -> None:
        """The game was just made by ``opener``: members not here yet count as away."""
        for seat in self.seats.values():
            if seat.state == "away" and seat.participant_id != opener:
                self._start_expiry(seat, self.loading_s())

    def take_seat(self, participant_id: str, sid: str) -> Seat:
        """A member's page joins the game (again); refused when they left or it ended."""
        seat = self.by_participant.get(participant_id)
        if seat is None or seat.state in ("left", "stand_in"):
            raise GameRefused("you left this group's game", "left_group")
        if self.how == "member_left":
            raise GameRefused("the group's game ended: a member left", "group_ended")
        was = seat.state
        if seat.expiry is not None:
            seat.expiry.cancel()
            seat.expiry = None
        seat.state, seat.sid, seat.played, seat.hidden = "here", sid, None, False
        self._seated(seat)
        self._refresh()
        if was == "away":
            self.later(self._tell(seat))
            if seat.joined:
                self.later(self.members_event({"type": "member_back"}, seat))
        seat.joined = True
        self.update()
        return seat

    def away(self, participant_id: str) -> None:
        """A member's connection went, or their page left the game."""
        seat = self.by_participant.get(participant_id)
        if seat is None or seat.state != "here":
            return
        seat.sid, seat.played = None, None
        self._refresh()
        seat.hidden = False  # a page going away is often hidden first: away is the rule now
        self._unseated(seat)
        if self.how is not None or self.closed:
            return  # the game is over: nothing to wait for
        seat.state = "away"
        wait = self.scene.reconnect_s
        self.later(self._tell(seat, wait_s=wait))
        self.later(self.members_event({"type": "member_away", "wait_s": wait}, seat))
        self._start_expiry(seat)
        self.update()

    def hide(self, seat: Seat, hidden: bool) -> None:
        """A member's tab was hidden or shown. With ``when_hidden="pause"`` the group waits
        for them, and the others are told, for at most ``reconnect_s``: a member hidden that
        long is taken as gone (``on_member_leave``), so nobody waits without end."""
        if seat.state != "here" or hidden == seat.hidden:
            return
        if self.scene.when_hidden != "pause" or self.how is not None or self.closed:
            return
        seat.hidden = hidden
        if hidden:
            self.later(self._tell(seat, wait_s=self.scene.reconnect_s))
            self.later(self.members_event({"type": "member_hidden"}, seat))
            self._start_expiry(seat)
        else:
            if seat.expiry is not None:
                seat.expiry.cancel()
                seat.expiry = None
            self.later(self._tell(seat))

    def _start_expiry(self, seat: Seat, wait_s: float | None = None) -> None:
        if seat.expiry is not None:
            seat.expiry.cancel()
        wait = self.scene.reconnect_s if wait_s is None else wait_s
        seat.expiry = asyncio.get_running_loop().create_task(self._expire(seat, wait))

    async def _expire(self, seat: Seat, wait_s: float) -> None:
        await asyncio.sleep(wait_s)
        async with self.lock:
            gone = seat.state == "away" or (seat.state == "here" and seat.hidden)
            if not gone or self.how is not None or self.closed:
                return
            seat.expiry = None
            await self._leave(seat)

    async def _leave(self, seat: Seat) -> None:
        """The member stayed away (or hidden) past the window: ``on_member_leave`` applies."""
        assert seat.participant_id is not None
        log.info(
            "group %s: participant %s left game %s", self.group_id, seat.participant_id,
            self.scene_id,
        )  # fmt: skip
        stand_in = seat.agent_id in stand_in_agents(self.scene.on_member_leave)
        seat.state = "stand_in" if stand_in else "left"
        if seat.sid is not None:  # hidden too long, still connected: their page is told
            sid, seat.sid, seat.hidden = seat.sid, None, False
            self._refresh()
            await self._end_hidden(seat, sid)
        self.group = await self.directory.member_left(
            self.group, seat.participant_id, self.scene_id
        )
        await self.members_event({"type": "member_left", "wait_s": self.scene.reconnect_s}, seat)
        if stand_in:
            await self.members_event({"type": "stand_in"}, seat)
            await self._tell(seat)
            self.update()
            return
        await self._tell(seat)
        await self._end_member_left()

    def detach(self, participant_id: str) -> bool:
        """The member's page is done with the game; True when no member is left on it."""
        seat = self.by_participant.get(participant_id)
        if seat is not None and seat.state == "here":
            seat.sid = None
            self._refresh()
        return not self.sids

    def _cancel_expiries(self) -> None:
        """No member's window runs any longer (the game ended or closes)."""
        for seat in self.seats.values():
            if seat.expiry is not None and seat.expiry is not asyncio.current_task():
                seat.expiry.cancel()

    async def ended(self, how: str) -> None:
        """The group's game is over (once): recorded with the group and every member."""
        if self.how is not None:
            return
        self.how = how
        self._cancel_expiries()
        await self.members_event({"type": "group_game_ended", "how": how})
        self.group = await self.directory.scene_ended(self.group, self.scene_id, how)


# the seats of a game -------------------------------------------------------------------------


def seats_of(group: Any, scene: GymScene) -> dict[str, Seat]:
    """The seats of ``scene``'s human agents for ``group`` (members not here yet: away)."""
    members = {str(m.agent_id): str(m.participant_id) for m in group.members}
    covered = stand_in_agents(scene.on_member_leave)
    seats: dict[str, Seat] = {}
    for agent in (str(a) for a in scene.humans):
        pid = members.get(agent)
        if pid is None and agent in group.stand_ins:
            seats[agent] = Seat(agent, None, "stand_in")
        elif pid is None:
            raise GameRefused(f"the group has no member for agent {agent!r}", "no_group")
        elif pid in group.left:
            seats[agent] = Seat(agent, pid, "stand_in" if agent in covered else "left")
        else:
            seats[agent] = Seat(agent, pid, "away")
    if any(s.state == "left" for s in seats.values()):
        raise GameRefused("the group's game cannot be played: a member left", "group_ended")
    return seats


def room_stand_ins(room: Any, group: Any, seed: int, scene_id: str) -> dict[str, Any]:
    """Specs of the waiting room's stand-ins for a group short of members."""
    if not group.stand_ins:
        return {}
    rule: Any = getattr(room, "on_timeout", None)
    specs = rule.to_client(seed, scene_id) if hasattr(rule, "to_client") else {}
    return {str(agent): specs.get(str(agent), {"kind": "random"}) for agent in group.stand_ins}
