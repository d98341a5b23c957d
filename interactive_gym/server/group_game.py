"""A group's game the server runs: one env, one clock, one record stream, several members.

A group scene (a ``GymScene`` with 2+ human agents) is played by the group a waiting room
formed (``groups.py``). The first member whose page opens the scene makes the game; the others
join it. Every member's ``game:input`` sets the action of their own agent (one
:class:`~interactive_gym.server.game_inputs.InputSlot` per human agent); every frame is one
message sent to every member present (encoded once). The step and episode records are the
group's (owner: the group id), one per step, with who played each agent.

The seats and the rules of members coming and going (here, away, hidden, stand-in, left;
``game:member`` notices and event records) are every group game's (``seated_game.py``). Here, a
member away pauses the game (``when_member_away="pause"``) or plays the agent's
``default_action``; a stand-in's action is left out of the tick and the env process's stand-in
chooses it; a member who left for good without a stand-in ends the episode under way as
``"member_left"`` and the members still there get ``game:end`` with ``reason: "member_left"``.
The socket side is ``server_games.py`` and
``group_games.py`` (the group games running now); the clock is ``group_clock.py``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from interactive_gym.server.env_pool import EnvFailure
from interactive_gym.server.group_clock import GroupClock
from interactive_gym.server.seated_game import (
    GameRefused,
    GroupDirectory,
    Seat,
    SeatedGame,
    Send,
)
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.study import GymScene

log = logging.getLogger("interactive_gym.group_game")


class GroupGame(SeatedGame):
    """A group's game of one group scene on the server runtime: the seats (``seated_game.py``)
    and the clock that steps the group's env."""

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
        super().__init__(
            group=group, scene=scene, seats=seats, directory=directory, events=events, send=send
        )
        self.clock = clock
        self.first: dict[tuple[int, int], dict[str, Any]] = {}  # (episode, attempt) → answer
        clock.game = self
        clock.emit = self.emit

    def where(self) -> dict[str, Any]:
        run = self.clock.run
        return {
            "episode": run.episode if run is not None else None,
            "attempt": run.attempt if run is not None else None,
            "step": run.length if run is not None else None,
        }

    # members coming and going -------------------------------------------------------------

    def join(self, participant_id: str, sid: str) -> dict[str, Any]:
        """A member's page opens the game (again): ``{agent_id, members, resume?}``."""
        seat = self.take_seat(participant_id, sid)
        answer: dict[str, Any] = {"agent_id": seat.agent_id, "members": self.members()}
        run = self.clock.run
        if run is not None:
            answer["resume"] = {"episode": run.episode, "step": run.length}
        return answer

    def _seated(self, seat: Seat) -> None:
        slot = self.clock.slots[seat.agent_id]
        slot.reset()  # a new page numbers its inputs from 1 again
        slot.hidden = False
        self.clock.hold(f"hidden:{seat.agent_id}", False)

    def _unseated(self, seat: Seat) -> None:
        self.clock.set_hidden(False, seat.agent_id)

    def set_hidden(self, participant_id: str, hidden: bool) -> None:
        """A member's tab was hidden or shown (the clock plays the default action for it; with
        ``when_hidden="pause"`` the group waits, see :meth:`SeatedGame.hide`)."""
        seat = self.by_participant.get(participant_id)
        if seat is None or seat.state != "here":
            return
        self.clock.set_hidden(hidden, seat.agent_id)
        self.hide(seat, hidden)

    async def _end_hidden(self, seat: Seat, sid: str) -> None:
        await self.send("game:end", self._ended_for(seat), [sid])
        self.clock.set_hidden(False, seat.agent_id)

    async def _end_member_left(self) -> None:
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

    async def close(self) -> None:
        """Stop the game (an episode under way ends as ``"stopped"``) and free its env."""
        if self.closed:
            return
        self.closed = True
        self._cancel_expiries()
        try:
            await self.clock.close()
        except EnvFailure:
            pass
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending)
