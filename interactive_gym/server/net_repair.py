"""Members' states a browser group game asks for, and the desyncs they repair: the other half of
``net_game.py``.

:class:`StateRequests`: ``net:state_request {scene_id, episode, request_id}`` to one member,
answered by their ``net:state {..., request_id, frame, snapshot, hash}`` within
:data:`STATE_TIMEOUT_S` (``net:state {..., request_id, error}``, or a member who goes away
meanwhile, counts as no answer: the next member is asked). Used for a
member resuming an episode under way, and by the repairs.

:class:`Repairs`: two reports of a hashed frame with different hashes. The reference is the
first agent (in agent order) whose member is here, or, with 3+ human agents, the first holding
the majority hash; every member here whose hash differs is repaired: a ``desync`` event
``{frame, hashes}`` (the group's data and every member's), the reference member's state (another
member's if it does not answer), ``net:load {scene_id, episode, frame, snapshot, reason:
"desync", hash}`` to each, then a ``desync_repaired`` event ``{frame, desync_frame, from_agent,
to}``. A member being repaired, or whose loaded state is past the frame, is not repaired again
for it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from interactive_gym.server.seated_game import GameRefused, Seat

if TYPE_CHECKING:
    from interactive_gym.server.net_game import Episode, NetGame

log = logging.getLogger("interactive_gym.net_repair")

#: Longest wait for a member's ``net:state`` before asking another one.
STATE_TIMEOUT_S = 5.0


def reference_of(
    hashes: Mapping[str, str], here: Collection[str], humans: Sequence[str]
) -> str | None:
    """The agent whose state is taken as right: the first here (agent order), or with 3+
    human agents the first here holding the one most common hash."""
    present = [a for a in humans if a in hashes and a in here]
    if not present:
        return None
    if len(humans) >= 3:
        counts: dict[str, int] = {}
        for value in hashes.values():
            counts[value] = counts.get(value, 0) + 1
        top = max(counts.values())
        best = [h for h, n in counts.items() if n == top]
        if len(best) == 1:
            return next((a for a in present if hashes[a] == best[0]), present[0])
    return present[0]


class StateRequests:
    """The game's open ``net:state_request`` s, by request id."""

    def __init__(self, game: NetGame) -> None:
        self.game = game
        self.open: dict[str, tuple[str, int, asyncio.Future[dict[str, Any] | None]]] = {}

    async def ask(self, seat: Seat, episode: int) -> dict[str, Any] | None:
        """``seat``'s member's ``{frame, snapshot, hash}``, or None (gone, or no answer)."""
        if seat.sid is None:
            return None
        request_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self.open[request_id] = (seat.agent_id, episode, future)
        message = {"scene_id": self.game.scene_id, "episode": episode, "request_id": request_id}
        try:
            await self.game.send("net:state_request", message, [seat.sid])
            state = await asyncio.wait_for(future, STATE_TIMEOUT_S)
        except TimeoutError:
            state = None
        finally:
            self.open.pop(request_id, None)
        if state is None:
            log.info("group %s: no state from agent %s", self.game.group_id, seat.agent_id)
        return state

    def answer(
        self, seat: Seat, episode: int, request_id: str, state: dict[str, Any] | None
    ) -> None:
        """A member's ``net:state``: the answer to a request made of them (None: they could
        not give it)."""
        asked = self.open.get(request_id)
        if asked is None:
            raise GameRefused(
                "request_id: no such request open (answered already or too late)", "bad_request"
            )
        agent, wanted, future = asked
        if agent != seat.agent_id:
            raise GameRefused("request_id: this request was made of another member", "bad_request")
        if episode != wanted:
            raise GameRefused(
                f"episode: the request is for episode {wanted}, not {episode}", "bad_request"
            )
        if not future.done():
            future.set_result(state)

    def forget(self, agent: str | None = None) -> None:
        """Requests made of ``agent``'s member (None: of anyone) get no answer now."""
        for asked, _, future in self.open.values():
            if (agent is None or asked == agent) and not future.done():
                future.set_result(None)

    def close(self) -> None:
        self.forget()


class Repairs:
    """The desyncs of the game's current episode and their repairs."""

    def __init__(self, game: NetGame) -> None:
        self.game = game
        self.repairing: set[str] = set()
        self.loaded_at: dict[str, int] = {}  # the frame of the last state each agent loaded

    def reset(self) -> None:
        """A new episode."""
        self.repairing, self.loaded_at = set(), {}

    def desync(self, ep: Episode, frame: int, hashes: dict[str, str]) -> None:
        """The members' hashes of ``frame`` differ: record it and repair the differing ones."""
        game = self.game
        here = [a for a, s in game.seats.items() if s.state == "here"]
        reference = reference_of(hashes, here, game.humans)
        if reference is None:
            return
        targets = [
            a
            for a, value in hashes.items()
            if value != hashes[reference]
            and a in here
            and a not in self.repairing
            and self.loaded_at.get(a, -1) <= frame
        ]
        if not targets:
            return
        ep.rows.desyncs += 1
        log.warning("group %s: desync at frame %d of episode %d: %s", game.group_id, frame,
                    ep.number, hashes)  # fmt: skip
        self.repairing.update(targets)
        game.later(game.members_event({"type": "desync", "frame": frame, "hashes": hashes}))
        game.later(self._repair(ep, frame, reference, targets))

    async def _repair(self, ep: Episode, frame: int, reference: str, targets: list[str]) -> None:
        """The reference member's state (or another's) goes to ``targets``."""
        game = self.game
        try:
            others = [a for a, s in game.seats.items() if s.state == "here" and a != reference]
            state = None
            for source in [reference, *(a for a in others if a not in targets)]:
                state = await game.states.ask(game.seats[source], ep.number)
                if state is not None:
                    break
            if state is None:
                log.warning("group %s: the desync at frame %d is not repaired: no state came",
                            game.group_id, frame)  # fmt: skip
                return
            if ep is not game.current or game.closed:
                return
            loaded = int(state["frame"])
            message = {
                "scene_id": game.scene_id,
                "episode": ep.number,
                "frame": loaded,
                "snapshot": state["snapshot"],
                "reason": "desync",
                "hash": state["hash"],
            }
            sent = []
            for agent in targets:
                sid = game.seats[agent].sid
                if sid is not None:
                    await game.send("net:load", message, [sid])
                    self.loaded_at[agent] = loaded
                    sent.append(agent)
            repaired = {"frame": loaded, "desync_frame": frame, "from_agent": source, "to": sent}
            await game.members_event({"type": "desync_repaired", **repaired})
        finally:
            self.repairing.difference_update(targets)
