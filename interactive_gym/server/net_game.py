"""One group's game of a browser group scene: the members' seats, the episodes' input logs and
their rows. The env runs in every member's browser, never here.

Made by the group's first member to send ``net:join`` (``net_games.py``, the socket side),
joined by the others. The seats and the rules of members coming and going are those of every
group game (``seated_game.py``: here, away, hidden, stand-in, left; ``game:member`` notices and
event records); a member who left for good without a stand-in ends the episode under way as
``"member_left"`` and every member still there gets ``net:end``.

Per episode (:class:`Episode`): the input log and the rows (``net_log.py``), made by the first
``net:episode``; ``net:play`` is a barrier (every member here asked, at most
:data:`BARRIER_S`). Each ``net:input`` adds the member's inputs, fills the inputs of agents
nobody plays now (``default_action`` while away with ``when_member_away="default_action"``,
``None`` for a stand-in), keeps the reports, writes the rows that are ready (``net_rows.py``:
``GameRecords``, owner: the group id) and relays to each other member here (``net:inputs``)
every agent's inputs after that member's ``ack``. Two reports of a hashed frame with different
hashes are a desync, repaired with the reference member's state (``net_repair.py``); a member
coming back mid-episode gets such a state too, and the inputs logged since, as ``resume``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from interactive_gym.server.game_records import GameRecords
from interactive_gym.server.net_log import EpisodeRows, InputLog, Report, RowContext
from interactive_gym.server.net_repair import Repairs, StateRequests
from interactive_gym.server.net_rows import RowWriter
from interactive_gym.server.seated_game import GameRefused, GroupDirectory, Seat, SeatedGame, Send
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.study import GymScene

log = logging.getLogger("interactive_gym.net_game")

#: Longest wait of ``net:play`` for the other members here.
BARRIER_S = 10.0
#: Frames an agent's inputs may run ahead of the confirmed frame beyond the window and delay.
LEAD_SLACK = 8


@dataclass(frozen=True)
class NetInput:
    """One checked ``net:input``: the member's inputs from ``start``, their tick, their
    confirmed frame (``ack``) and the reports of their final frames."""

    episode: int
    start: int
    actions: list[Any]
    keys: list[str]
    events: list[list[Any]]
    frame: int
    adv: float
    ack: int
    reports: list[Report]


@dataclass
class Episode:
    """One episode of the game: its input log, its rows, and whether its play started."""

    number: int
    seed: int
    log: InputLog
    rows: EpisodeRows
    started_at: float = field(default_factory=time.monotonic)
    started: bool = False  # the play barrier passed
    finished: bool = False  # its episode row is written
    barrier: asyncio.Event = field(default_factory=asyncio.Event)


class NetGame(SeatedGame):
    """A group's game of one browser group scene."""

    def __init__(
        self,
        *,
        group: Any,
        scene: GymScene,
        seats: dict[str, Seat],
        seeds: list[int],
        stand_ins: dict[str, Any],
        directory: GroupDirectory,
        events: ServerEvents,
        records: GameRecords,
        send: Send,
    ) -> None:
        super().__init__(
            group=group, scene=scene, seats=seats, directory=directory, events=events, send=send
        )
        self.seeds = seeds
        self.stand_ins = stand_ins  # every worker's GameHost gets exactly these (netStandIns)
        self.records = records
        net = scene.net
        self.netcode = str(net.netcode or "rollback")
        self.delay = int(net.input_delay_frames or 0)
        self.window = int(net.max_prediction_frames or 0)
        self.hash_every = int(net.hash_every_frames or 1)
        self.humans = [str(a) for a in scene.humans]
        self.ctx = RowContext(
            group_id=str(group.group_id),
            netcode=self.netcode,
            agents=tuple(str(a) for a in scene.agents),
            humans=tuple(self.humans),
            hash_every=self.hash_every,
            fps=scene.fps,
            max_steps=scene.max_steps,
        )
        self.current: Episode | None = None
        #: The episode before the current one: a member still finishing it is sent its inputs.
        self.previous: Episode | None = None
        self.open: dict[int, Episode] = {}  # episodes whose episode row is not written yet
        self.acks: dict[str, int] = {}  # each agent's member's confirmed frame (their ack)
        self.frames: dict[str, int] = {}  # each agent's member's latest tick heard
        self.advs: dict[str, float] = {}
        self.at: dict[str, int] = {}  # the episode each agent's member asked for last
        self.states = StateRequests(self)
        self.repairs = Repairs(self)
        self.on_closed: Callable[[NetGame], None] | None = None
        #: Called once every row is stored (the end of :meth:`close`): the server's replay.
        self.on_stored: Callable[[str, list[str]], None] | None = None
        self.writer = RowWriter(self)

    def loading_s(self) -> float:
        """Each member's page loads Pyodide and the env first: up to the scene's
        ``load_timeout_s`` (at least ``reconnect_s``)."""
        return max(self.scene.reconnect_s, self.scene.load_timeout_s)

    def where(self) -> dict[str, Any]:
        ep = self.current
        return {
            "episode": ep.number if ep is not None else None,
            "attempt": 0 if ep is not None else None,
            "step": ep.rows.next_row if ep is not None else None,
        }

    # members coming and going -------------------------------------------------------------

    def join(self, participant_id: str, sid: str) -> dict[str, Any]:
        """A member's page joins the game (again): the ``net:join`` answer."""
        seat = self.take_seat(participant_id, sid)
        ep = self.current
        return {
            "agent_id": seat.agent_id,
            "agents": list(self.humans),
            "members": self.members(),
            "episode": ep.number if ep is not None and not ep.finished else None,
            "netcode": self.netcode,
            "input_delay_frames": self.delay,
            "max_prediction_frames": self.window,
            "hash_every_frames": self.hash_every,
            "stand_ins": self.stand_ins,
        }

    def _unseated(self, seat: Seat) -> None:
        self.states.forget(seat.agent_id)  # asked of a member who is gone: ask another one

    def set_hidden(self, seat: Seat, hidden: bool) -> None:
        """A member's tab was hidden or shown (``net:focus``): with ``when_hidden="pause"`` its
        page stops, so the others wait at their window (:meth:`SeatedGame.hide`)."""
        self.hide(seat, hidden)

    async def _end_hidden(self, seat: Seat, sid: str) -> None:
        await self.send("net:end", {"scene_id": self.scene_id, "reason": "member_left"}, [sid])

    async def _end_member_left(self) -> None:
        for ep in sorted(self.open.values(), key=lambda e: e.number):
            self.writer.write(ep, ep.rows.rest())
            self.writer.finish(ep, ep.rows.ended_by or "member_left")
        await self.records.flush()
        await self.ended("member_left")
        await self.emit("net:end", {"scene_id": self.scene_id, "reason": "member_left"})
        await self.close()

    def update(self) -> None:
        """The seats changed: fill the inputs of agents nobody plays now, let the play
        barrier and the rows go on without members who are not here."""
        ep = self.current
        if ep is None or ep.finished or self.closed:
            return
        if self._fill(ep):
            self.later(self._relay(ep, [s for s in self.seats.values() if s.state == "here"]))
        self._release(ep)
        self.writer.write(ep, ep.rows.take(self.here(ep)))

    def here(self, ep: Episode) -> list[str]:
        """The agents whose members are here and still play ``ep`` (their reports count)."""
        return [
            a
            for a, s in self.seats.items()
            if s.state == "here" and self.at.get(a, ep.number) == ep.number
        ]

    # episodes -----------------------------------------------------------------------------

    def check_playing(self) -> None:
        if self.how == "member_left":
            raise GameRefused("the group's game ended: a member left", "group_ended")
        if self.closed:
            raise GameRefused("the group's game is over", "over")

    async def episode(self, seat: Seat, number: int) -> dict[str, Any]:
        """``net:episode``: the first member makes the episode's input log; a member coming
        back to an episode under way gets ``resume`` (a member's state and the inputs since)."""
        self.check_playing()
        if number >= self.scene.episodes:
            raise GameRefused(
                f"episode: {number} is past this game's {self.scene.episodes} episode(s)",
                "bad_request",
            )
        async with self.lock:
            ep = self.current
            if ep is not None and number < ep.number:
                raise GameRefused(f"episode {number} is over; the group plays {ep.number}", "over")
            if ep is not None and number == ep.number and ep.finished:
                raise GameRefused(f"episode {number} is over", "over")
            if ep is None or number > ep.number:
                if ep is not None and (number != ep.number + 1 or not ep.started):
                    raise GameRefused(
                        f"episode {number}: the group plays episode {ep.number}", "not_ready"
                    )
                ep = self._new_episode(number)
            self.at[seat.agent_id] = number
            for older in [e for e in self.open.values() if e is not ep]:
                self.writer.write(older, older.rows.take(self.here(older)))
            under_way = ep.started
        answer: dict[str, Any] = {"episode": number, "seed": ep.seed, "resume": None}
        if under_way:
            answer["resume"] = await self._resume(seat, ep)
        return answer

    def _new_episode(self, number: int) -> Episode:
        # The delay frames are every member's (default_action by rule, whoever is here).
        who = {
            a: s.participant_id if s.participant_id and s.state in ("here", "away") else "stand_in"
            for a, s in self.seats.items()
        }
        log_ = InputLog(self.humans, self.delay, self.scene.default_action, who)
        seed = self.seeds[number]
        ep = Episode(number, seed, log_, EpisodeRows(self.ctx, log_, number, seed))
        self.previous = self.current
        self.current = ep
        self.open[number] = ep
        self.acks, self.frames, self.advs = {}, {}, {}
        self.repairs.reset()
        self._fill(ep)
        return ep

    async def _resume(self, seat: Seat, ep: Episode) -> dict[str, Any]:
        """A present member's state of ``ep`` and every agent's inputs from its frame. In
        lockstep (the env may have no ``get_state``) the page replays the episode from its
        reset instead: frame 0, no snapshot, every input logged."""
        if self.netcode == "lockstep":
            ep.rows.expects[seat.agent_id] = 0
            self.acks[seat.agent_id] = -1
            return {"frame": 0, "snapshot": None, "hash": None, "inputs": ep.log.since(0)}
        for source in [s for s in self.seats.values() if s.state == "here" and s is not seat]:
            state = await self.states.ask(source, ep.number)
            if state is None or ep is not self.current or seat.state != "here":
                continue
            frame = int(state["frame"])
            ep.rows.expects[seat.agent_id] = frame
            self.acks[seat.agent_id] = frame - 1
            return {
                "frame": frame,
                "snapshot": state["snapshot"],
                "hash": state["hash"],
                "inputs": ep.log.since(frame),
            }
        raise GameRefused(
            "no member here could give the game's state now; send net:episode again", "no_state"
        )

    async def play(self, seat: Seat, number: int) -> dict[str, Any]:
        """``net:play``: answered once every member here, or still loading the game, asked for
        this episode (at most :data:`BARRIER_S`; :meth:`loading_s` while one is loading), at
        once for a member coming back to an episode under way."""
        self.check_playing()
        ep = self.current
        if ep is None or ep.number != number:
            raise GameRefused(f"episode {number}: start it with net:episode first", "not_ready")
        if ep.finished:
            raise GameRefused(f"episode {number} is over", "over")
        seat.played = number
        self._release(ep)
        if not ep.started:
            # A member whose page has not joined yet is still loading the game: wait for them
            # (they count as gone after loading_s), so nobody starts alone and stalls.
            loading = any(s.state == "away" and not s.joined for s in self.seats.values())
            limit = max(BARRIER_S, self.loading_s() + 1) if loading else BARRIER_S
            try:
                await asyncio.wait_for(ep.barrier.wait(), limit)
            except TimeoutError:
                waiting = [a for a, s in self.seats.items() if s in self._awaited() and
                           s.played != number]  # fmt: skip
                log.info(
                    "group %s: episode %d starts without %s (no net:play within %.0f s)",
                    self.group_id, number, waiting, limit,
                )  # fmt: skip
            ep.started = True
            ep.barrier.set()
        return {"start": True}

    def _awaited(self) -> list[Seat]:
        """Whom the play barrier waits for: the members here and those still loading (their
        page has not joined the game yet)."""
        return [
            s for s in self.seats.values()
            if s.state == "here" or (s.state == "away" and not s.joined)
        ]  # fmt: skip

    def _release(self, ep: Episode) -> None:
        if ep.started:
            return
        awaited = self._awaited()
        if awaited and all(s.played == ep.number for s in awaited):
            ep.started = True
            ep.barrier.set()

    # the inputs ---------------------------------------------------------------------------

    async def input(self, seat: Seat, given: NetInput) -> None:
        """A member's ``net:input``: their inputs, fills, reports and rows, then the relays."""
        if self.closed or self.how is not None:
            return
        ep = self.current
        if ep is None or given.episode != ep.number:
            older = self.open.get(given.episode)
            if older is not None:  # the last reports of an episode the member finished
                self._reports(older, seat.agent_id, given.reports)
            last = self.previous
            if last is not None and last.number == given.episode and given.ack < last.log.confirmed:
                # Still finishing it, short of inputs lost on the way: send them again.
                await self._relay(last, [seat], ack=given.ack)
            return
        if seat.state != "here":
            return  # a member taken as gone (hidden too long) plays no more
        agent = seat.agent_id
        log_ = ep.log
        limit = log_.confirmed + 1 + self.window + self.delay + LEAD_SLACK
        new = log_.add(
            agent,
            given.start,
            given.actions,
            seat.participant_id or "",
            given.keys,
            given.events,
            limit=limit,
        )
        self.frames[agent] = given.frame
        self.advs[agent] = given.adv
        self.acks[agent] = given.ack
        filled = self._fill(ep) if new else 0
        self._reports(ep, agent, given.reports)
        if new:
            to = [s for s in self.seats.values() if s.state == "here" and (s is not seat or filled)]
        elif given.ack < log_.confirmed:
            to = [seat]  # it lacks confirmed inputs and sends nothing new: it waits for them
        else:
            return
        await self._relay(ep, to)

    def _fill(self, ep: Episode) -> int:
        """Fill the inputs of agents nobody plays now up to the longest of the members here."""
        here = [s for s in self.seats.values() if s.state == "here"]
        if not here:
            return 0
        length = max(ep.log.length(s.agent_id) for s in here)
        filled = 0
        for agent, seat in self.seats.items():
            if seat.state == "away" and self.scene.when_member_away == "default_action":
                filled += ep.log.fill(agent, length, self.scene.default_action, "default")
            elif seat.state in ("stand_in", "left"):
                filled += ep.log.fill(agent, length, None, "stand_in")
        return filled

    async def _relay(self, ep: Episode, seats: list[Seat], ack: int | None = None) -> None:
        """``net:inputs`` to each of ``seats``: every agent's inputs after its ack (``ack``:
        the one the member just sent, for an episode before the current one)."""
        for seat in seats:
            if seat.sid is None:
                continue
            agent = seat.agent_id
            message = {
                "scene_id": self.scene_id,
                "episode": ep.number,
                "inputs": ep.log.after(self.acks.get(agent, -1) if ack is None else ack),
                "frames": dict(self.frames),
                "advs": dict(self.advs),
                "yours": ep.log.length(agent) - 1,
            }
            await self.send("net:inputs", message, [seat.sid])

    def _reports(self, ep: Episode, agent: str, reports: list[Report]) -> None:
        for report in reports:
            hashes = ep.rows.add(agent, report)
            if hashes is not None:
                self.repairs.desync(ep, report.frame, hashes)
        self.writer.write(ep, ep.rows.take(self.here(ep)))

    # the end ------------------------------------------------------------------------------

    def done(self) -> bool:
        """Every episode was played out (or the game ended otherwise)."""
        if self.how is not None or self.closed:
            return True
        ep = self.current
        return ep is not None and ep.finished and ep.number + 1 >= self.scene.episodes

    async def close(self) -> None:
        """Stop the game: episodes under way end as ``"stopped"`` (their rows so far kept)."""
        if self.closed:
            return
        self.closed = True
        self.writer.cancel()
        self._cancel_expiries()
        for ep in sorted(self.open.values(), key=lambda e: e.number):
            self.writer.write(ep, ep.rows.rest())
            self.writer.finish(ep, ep.rows.ended_by or "stopped")
        self.states.close()
        if self.on_closed is not None:
            self.on_closed(self)
        await self.records.flush()
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending)
        if self.on_stored is not None:
            self.on_stored(self.group_id, [self.scene_id])
