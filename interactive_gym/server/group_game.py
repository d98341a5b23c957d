"""A group's game the server runs: one env, one clock, one record stream, several members.

A group scene (a ``GymScene`` with 2+ human agents) is played by the group a waiting room
formed (``groups.py``). The first member whose page opens the scene makes the game; the others
join it. Every member's ``game:input`` sets the action of their own agent (one
:class:`~interactive_gym.server.game_inputs.InputSlot` per human agent); every frame is one
message sent to every member present (encoded once). The step and episode records are the
group's (owner: the group id), one per step, with who played each agent.

Each human agent has a :class:`Seat` in one of four states:

- ``"here"``: its member's page is connected and plays it;
- ``"away"``: the member's connection went (or they never opened the game, or closed it with
  episodes left). ``when_member_away="pause"`` pauses the game, ``"default_action"`` plays the
  agent's ``default_action``. Back within ``reconnect_s`` (``game:open`` again): ``"here"``;
- ``"stand_in"``: an AI plays the agent (``on_member_leave=StandIn(...)`` after the window, or
  the waiting room's stand-in for a group short of members): its action is left out of the
  tick and the env process's stand-in chooses it;
- ``"left"``: the member stayed away past the window and the scene's ``on_member_leave`` is
  ``"end"`` or an ``EndScene``: the episode under way ends as ``"member_left"`` and the
  members still there get ``game:end`` with ``reason: "member_left"``.

Members hear of each other by ``game:member {scene_id, agent_id, state, wait_s?}``. What
happens to a member (``member_away``, ``member_back``, ``member_left``, ``stand_in``) and how
the game ended (``group_game_ended``) are event records in the group's data and in every
member's (``server_events.py``). The socket side is ``server_games.py`` and
``group_games.py`` (the group games running now); the clock is ``group_clock.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from interactive_gym.server.env_pool import EnvFailure
from interactive_gym.server.group_clock import GroupClock
from interactive_gym.server.refusals import Refused
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.study import GymScene
from interactive_gym.study.scene import ParticipantContext

log = logging.getLogger("interactive_gym.group_game")


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


class GroupGame:
    """A group's game of one group scene: its seats and the rules for members coming and going."""

    def __init__(
        self,
        *,
        group: Any,
        scene: GymScene,
        clock: GroupClock,
        seats: dict[str, Seat],
        directory: GroupDirectory,
        events: ServerEvents,
        send: Send,
    ) -> None:
        self.group = group
        self.scene = scene
        self.clock = clock
        self.seats = seats
        self.directory = directory
        self.events = events
        self.send = send
        self.lock = asyncio.Lock()
        self.by_participant = {s.participant_id: s for s in seats.values() if s.participant_id}
        self.sids: list[str] = []
        self.first: dict[tuple[int, int], dict[str, Any]] = {}  # (episode, attempt) → answer
        self.how: str | None = None  # how the game ended ("completed", "member_left", ...)
        self.closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        clock.game = self
        clock.emit = self.emit

    @property
    def group_id(self) -> str:
        return str(self.group.group_id)

    @property
    def scene_id(self) -> str:
        return self.scene.scene_id

    def members(self) -> dict[str, str]:
        return {agent: seat.shown for agent, seat in self.seats.items()}

    def later(self, work: Awaitable[Any]) -> None:
        """Run ``work`` in the background (awaited by :meth:`close`)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("group %s: %s", self.group_id, task.exception(), exc_info=task.exception())

    # sending ------------------------------------------------------------------------------

    def _refresh(self) -> None:
        self.sids = [s.sid for s in self.seats.values() if s.sid is not None]

    async def emit(self, event: str, payload: dict[str, Any]) -> None:
        """Every member present gets it: one message, encoded once."""
        if self.sids:
            await self.send(event, payload, self.sids)

    async def _tell(self, seat: Seat, **extra: Any) -> None:
        """The other members hear of a member's new state."""
        others = [s.sid for s in self.seats.values() if s.sid is not None and s is not seat]
        if others:
            message = {"scene_id": self.scene_id, "agent_id": seat.agent_id, "state": seat.shown}
            await self.send("game:member", {**message, **extra}, others)

    async def members_event(self, data: dict[str, Any], seat: Seat | None = None) -> None:
        """An event record in the group's data and in every member's."""
        run = self.clock.run
        where = {
            "episode": run.episode if run is not None else None,
            "attempt": run.attempt if run is not None else None,
            "step": run.length if run is not None else None,
        }
        data = {**data, "group_id": self.group_id}
        if seat is not None:
            data.update(agent_id=seat.agent_id, participant_id=seat.participant_id)
        owners = [self.group_id, *self.by_participant]
        await asyncio.gather(*(self.events.add(o, self.scene_id, data, **where) for o in owners))

    # members coming and going -------------------------------------------------------------

    def start(self, opener: str) -> None:
        """The game was just made by ``opener``: members not here yet count as away."""
        for seat in self.seats.values():
            if seat.state == "away" and seat.participant_id != opener:
                self._start_expiry(seat)

    def join(self, participant_id: str, sid: str) -> dict[str, Any]:
        """A member's page opens the game (again): ``{agent_id, members, resume?}``."""
        seat = self.by_participant.get(participant_id)
        if seat is None or seat.state in ("left", "stand_in"):
            raise GameRefused("you left this group's game", "left_group")
        if self.how == "member_left":
            raise GameRefused("the group's game ended: a member left", "group_ended")
        was = seat.state
        if seat.expiry is not None:
            seat.expiry.cancel()
            seat.expiry = None
        seat.state, seat.sid, seat.played = "here", sid, None
        slot = self.clock.slots[seat.agent_id]
        slot.reset()  # a new page numbers its inputs from 1 again
        slot.hidden = seat.hidden = False
        self.clock.hold(f"hidden:{seat.agent_id}", False)
        self._refresh()
        if was == "away":
            self.later(self._tell(seat))
            if seat.joined:
                self.later(self.members_event({"type": "member_back"}, seat))
        seat.joined = True
        self.update()
        answer: dict[str, Any] = {"agent_id": seat.agent_id, "members": self.members()}
        run = self.clock.run
        if run is not None:
            answer["resume"] = {"episode": run.episode, "step": run.length}
        return answer

    def away(self, participant_id: str) -> None:
        """A member's connection went, or their page closed the game."""
        seat = self.by_participant.get(participant_id)
        if seat is None or seat.state != "here":
            return
        seat.sid, seat.played = None, None
        self._refresh()
        # A page going away is often hidden first (a closing tab): away is the rule now.
        seat.hidden = False
        self.clock.set_hidden(False, seat.agent_id)
        if self.how is not None or self.closed:
            return  # the game is over: nothing to wait for
        seat.state = "away"
        wait = self.scene.reconnect_s
        self.later(self._tell(seat, wait_s=wait))
        self.later(self.members_event({"type": "member_away", "wait_s": wait}, seat))
        self._start_expiry(seat)
        self.update()

    def set_hidden(self, participant_id: str, hidden: bool) -> None:
        """A member's tab was hidden or shown. With ``when_hidden="pause"`` the group waits
        for them, and the others are told, for at most ``reconnect_s``: a member hidden that
        long is taken as gone (``on_member_leave``), so nobody waits without end."""
        seat = self.by_participant.get(participant_id)
        if seat is None or seat.state != "here":
            return
        self.clock.set_hidden(hidden, seat.agent_id)
        if self.scene.when_hidden != "pause" or self.how is not None or self.closed:
            return
        if hidden == seat.hidden:
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

    def _start_expiry(self, seat: Seat) -> None:
        if seat.expiry is not None:
            seat.expiry.cancel()
        seat.expiry = asyncio.get_running_loop().create_task(self._expire(seat))

    async def _expire(self, seat: Seat) -> None:
        await asyncio.sleep(self.scene.reconnect_s)
        async with self.lock:
            gone = seat.state == "away" or (seat.state == "here" and seat.hidden)
            if not gone or self.how is not None or self.closed:
                return
            seat.expiry = None
            await self._leave(seat)

    async def _leave(self, seat: Seat) -> None:
        """The member stayed away past the window: ``on_member_leave`` applies."""
        assert seat.participant_id is not None
        log.info(
            "group %s: participant %s left game %s", self.group_id, seat.participant_id,
            self.scene_id,
        )  # fmt: skip
        stand_in = seat.agent_id in stand_in_agents(self.scene.on_member_leave)
        seat.state = "stand_in" if stand_in else "left"
        if seat.sid is not None:  # hidden too long, still connected: their page is told
            await self.send("game:end", self._ended_for(seat), [seat.sid])
            seat.sid, seat.hidden = None, False
            self.clock.set_hidden(False, seat.agent_id)
            self._refresh()
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
        await self.clock.end_disconnected("member_left")
        await self.ended("member_left")
        await self.emit("game:end", self._ended_for(None))
        await self.close()

    def _ended_for(self, seat: Seat | None) -> dict[str, Any]:
        """``game:end`` for the remaining members (``seat`` None), or for a member whose page
        is still open but who stayed hidden too long (``left: true``): the scene ends as
        ``"group_ended"`` on their pages."""
        run = self.clock.run
        message = {
            "scene_id": self.scene_id,
            "episode": run.episode if run is not None else 0,
            "summary": run.summary if run is not None else None,
            "reason": "member_left",
        }
        return {**message, "left": True} if seat is not None else message

    async def ended(self, how: str) -> None:
        """The group's game is over (once): recorded with the group and every member."""
        if self.how is not None:
            return
        self.how = how
        for seat in self.seats.values():
            if seat.expiry is not None and seat.expiry is not asyncio.current_task():
                seat.expiry.cancel()
        await self.members_event({"type": "group_game_ended", "how": how})
        self.group = await self.directory.scene_ended(self.group, self.scene_id, how)

    # the episodes -------------------------------------------------------------------------

    def check_playing(self) -> None:
        if self.how == "member_left":
            raise GameRefused("the group's game ended: a member left", "group_ended")
        if self.clock.failed is not None:
            raise GameRefused(self.clock.failed["message"], "failed")

    def cached(self, episode: int) -> dict[str, Any] | None:
        """The answer to ``game:episode`` when a member already started ``episode``."""
        self.check_playing()
        run = self.clock.run
        if run is not None and episode < run.episode:
            raise GameRefused(f"episode {episode} is over; the group plays {run.episode}", "over")
        if run is not None and run.episode == episode:
            first = self.first.get((run.episode, run.attempt))
            if first is not None and run.length > 0 and self.clock.permanent is not None:
                # Joining mid-episode: the objects drawn once (permanent) come first.
                return {**first, "render": self.clock.permanent}
            return first
        return None

    async def reset(self, episode: int, attempt: int) -> dict[str, Any]:
        """The first member's ``game:episode``: the env resets for every member."""
        for seat in self.seats.values():
            seat.played = None
        first = await self.clock.start_episode(episode, attempt)
        answer = {**first, "attempt": attempt}
        self.first = {(episode, attempt): answer}
        return answer

    def play(self, participant_id: str, episode: int | None) -> None:
        """A member's page started the episode; the clock goes once every member here has."""
        self.check_playing()
        run = self.clock.run
        if run is None or run.episode != episode:
            raise GameRefused(f"episode {episode}: start it with game:episode first", "not_ready")
        if run.summary is not None:
            raise GameRefused(f"episode {episode} is over", "over")
        self.by_participant[participant_id].played = episode
        self.update()

    def update(self) -> None:
        """Pause or go on as the seats say."""
        clock = self.clock
        away = any(s.state == "away" for s in self.seats.values())
        clock.hold("away", away and self.scene.when_member_away == "pause")
        run = clock.run
        if run is None or run.summary is not None:
            return
        here = [s for s in self.seats.values() if s.state == "here"]
        ready = bool(here) and all(s.played == run.episode for s in here)
        if ready:
            clock.play()
        elif run.playing and self.scene.when_member_away == "pause":
            clock.hold("waiting", True)  # a member back from away starts again first

    # the end ------------------------------------------------------------------------------

    def done(self) -> bool:
        """Every episode was played out (or the game ended otherwise)."""
        run = self.clock.run
        if self.how is not None or self.clock.failed is not None:
            return True
        return (
            run is not None and run.summary is not None and run.episode + 1 >= self.scene.episodes
        )

    def detach(self, participant_id: str) -> bool:
        """The member's page is done with the game; True when no member is left on it."""
        seat = self.by_participant.get(participant_id)
        if seat is not None and seat.state == "here":
            seat.sid = None
            self._refresh()
        return not self.sids

    async def close(self) -> None:
        """Stop the game (an episode under way ends as ``"stopped"``) and free its env."""
        if self.closed:
            return
        self.closed = True
        for seat in self.seats.values():
            if seat.expiry is not None and seat.expiry is not asyncio.current_task():
                seat.expiry.cancel()
        try:
            await self.clock.close()
        except EnvFailure:
            pass
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending)


# making one ------------------------------------------------------------------------------------


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
