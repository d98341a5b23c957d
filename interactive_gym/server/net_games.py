"""The socket events of group games in the browser (``net:*``), and the games running now.

Events travel on the participant's study socket (the participant comes from the socket, as in
``server_games.py``: the connection registry, and only their active tab); the full protocol is
in docs/netcode.md. Acknowledged events answer ``{ok: true, ...}`` or ``{ok: false, error,
reason}``:

- ``net:join {scene_id}`` → ``{agent_id, agents, members, episode, netcode,
  input_delay_frames, max_prediction_frames, hash_every_frames, stand_ins}``: the scene must be the
  participant's current scene, a group game in the browser, and their group's (``no_group``,
  ``left_group``, ``group_ended`` otherwise);
- ``net:episode {scene_id, episode}`` → ``{episode, seed, resume}``;
- ``net:play {scene_id, episode}`` → ``{start: true}`` (the barrier);
- ``net:input {...}`` (no ack): inputs, ``ack``, reports; ``net:state {...}``: an answer to
  ``net:state_request``; ``net:focus {scene_id, hidden}`` → ``{}`` (the member's tab was
  hidden or shown); ``net:leave {scene_id}`` → ``{}``.

A malformed message is refused naming the field (logged at a bounded rate), never more. A
socket going away makes its member away. The game itself: ``net_game.py``; the network
emulation (``--netem``): ``netem.py``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard

import socketio

from interactive_gym.data.store import Store
from interactive_gym.data.writer import ChunkWriter
from interactive_gym.server.fanout import send_to
from interactive_gym.server.game_records import GameRecords, ServerSeqs
from interactive_gym.server.game_sockets import answer, current_scene, participant_of, payload_of
from interactive_gym.server.limits import LogThrottle
from interactive_gym.server.net_game import NetGame
from interactive_gym.server.net_messages import (
    INPUT_FIELDS,
    MAX_HASH,
    MAX_SNAPSHOT_CHARS,
    STATE_FIELDS,
    Actions,
    bad,
    parse_input,
    text_of,
    whole,
)
from interactive_gym.server.netem import Netem
from interactive_gym.server.seated_game import (
    GameRefused,
    GroupDirectory,
    Seat,
    room_stand_ins,
    seats_of,
)
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.server.server_games import ConnectionRegistry
from interactive_gym.study import Experiment, GymScene

log = logging.getLogger("interactive_gym.net_games")

EVENTS = (
    "net:join", "net:episode", "net:play", "net:input", "net:state", "net:focus", "net:leave"
)  # fmt: skip


def is_net_scene(scene: object) -> TypeGuard[GymScene]:
    """Whether ``scene`` is a group game in the browser."""
    return isinstance(scene, GymScene) and scene.is_group and scene.runtime == "browser"


# the games ---------------------------------------------------------------------------------------


class NetGames:
    """The ``net:*`` handlers, the disconnect hook, and the browser group games running now."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        connections: ConnectionRegistry,
        store: Store,
        writer: ChunkWriter,
        experiment: Experiment,
        *,
        groups: GroupDirectory | None,
        seqs: ServerSeqs,
        events: ServerEvents,
        throttle: LogThrottle | None = None,
        netem: Netem | None = None,
        verify: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self.sio = sio
        self.connections = connections
        self.store = store
        self.writer = writer
        self.experiment = experiment
        self.groups = groups
        self.seqs = seqs
        self.events = events
        self.throttle = throttle or LogThrottle()
        self.netem = netem
        self.verify = verify  # replays a group's game once its rows are stored
        self.running: dict[tuple[str, str], NetGame] = {}
        #: The socket of each member here → their game and seat (the hot path's look-up).
        self.members: dict[str, tuple[NetGame, Seat]] = {}
        self.actions = {
            s.scene_id: Actions(s) for s in experiment.scenes_by_id.values() if is_net_scene(s)
        }
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def register(self) -> None:
        """Install the ``net:*`` handlers and the disconnect hook."""
        self.connections.on_disconnect(self.on_disconnect)
        self.sio.on("net:join", self.handle_join)
        self.sio.on("net:episode", self.handle_episode)
        self.sio.on("net:play", self.handle_play)
        self.sio.on("net:input", self.handle_input)
        self.sio.on("net:state", self.handle_state)
        self.sio.on("net:focus", self.handle_focus)
        self.sio.on("net:leave", self.handle_leave)

    async def close(self) -> None:
        """Stop every game (episodes under way end as ``"stopped"``), at shutdown."""
        for game in list(self.running.values()):
            await game.close()

    # plumbing -----------------------------------------------------------------------------

    def _lock(self, group_id: str) -> asyncio.Lock:
        lock = self._locks.get(group_id)
        if lock is None:
            lock = self._locks[group_id] = asyncio.Lock()
        return lock

    async def _answer(
        self,
        sid: str,
        event: str,
        args: tuple[Any, ...],
        work: Callable[[str, tuple[Any, ...]], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        participant_id = self.connections.participant_of(sid)
        if self.netem is not None:
            await self.netem.arrive(participant_id, event)  # answered: delayed, never lost
        reply = await answer(work(sid, args), event=event, sid=sid, log=log,
                             throttle=self.throttle, topic="net")  # fmt: skip
        if self.netem is not None:
            await self.netem.depart(participant_id)
        return reply

    def _participant(self, sid: str) -> str:
        return participant_of(self.connections, sid)

    async def _current_scene(self, participant_id: str, scene_id: str) -> GymScene:
        scene = await current_scene(self.store, self.experiment, participant_id, scene_id)
        if not is_net_scene(scene):
            raise GameRefused(
                f"scene_id: {scene_id!r:.60} is not a group game in the browser", "not_net_game"
            )
        return scene

    def _member(self, sid: str, scene_id: str) -> tuple[NetGame, Seat]:
        """The game and seat this socket joined (``net:join``) for ``scene_id``."""
        entry = self.members.get(sid)
        if entry is None or entry[0].scene_id != scene_id or entry[1].sid != sid:
            raise GameRefused(
                f"scene_id: no game of {scene_id!r:.60} joined on this connection; "
                "send net:join first",
                "not_joined",
            )
        if self.connections.participant_of(sid) != entry[1].participant_id:
            raise GameRefused("not connected as this member", "not_connected")
        return entry

    async def _send(self, event: str, payload: dict[str, Any], sids: list[str]) -> None:
        """A game's message to some of its members (through the emulated links, if any)."""
        netem = self.netem
        if netem is None:
            await send_to(self.sio, event, payload, sids)
            return
        for sid in sids:

            async def work(sid: str = sid) -> None:
                await send_to(self.sio, event, payload, (sid,))

            netem.send(self.connections.participant_of(sid), event, work)

    def _forget(self, game: NetGame) -> None:
        """A game closed: a new ``net:join`` finds how it ended (its members' sockets still
        reach it, to be told so, until they go)."""
        if self.running.get((game.group_id, game.scene_id)) is game:
            del self.running[(game.group_id, game.scene_id)]

    async def _release(self, sid: str) -> None:
        """The socket is done with its game (it left, went away, or joined another one): its
        member is away while episodes remain; a game over closes once nobody is on it."""
        entry = self.members.pop(sid, None)
        if entry is None:
            return
        game, seat = entry
        if seat.sid != sid or seat.participant_id is None:
            return
        async with game.lock:
            if not game.done():
                game.away(seat.participant_id)
            elif game.detach(seat.participant_id):
                await game.close()

    # handlers -----------------------------------------------------------------------------

    async def handle_join(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "net:join", args, self._join)

    async def handle_episode(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "net:episode", args, self._episode)

    async def handle_play(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "net:play", args, self._play)

    async def handle_state(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "net:state", args, self._state)

    async def handle_focus(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "net:focus", args, self._focus)

    async def handle_leave(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "net:leave", args, self._leave)

    async def _join(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, _ = payload_of(args, frozenset({"scene_id"}))
        participant_id = self._participant(sid)
        scene = await self._current_scene(participant_id, scene_id)
        group = await self.groups.group_for(participant_id, scene_id) if self.groups else None
        if group is None:
            raise GameRefused(f"scene_id: no group of yours plays {scene_id!r:.60}", "no_group")
        if participant_id in group.left:
            raise GameRefused("you left this group's games", "left_group")
        key = (group.group_id, scene_id)
        previous = self.members.get(sid)
        if previous is not None and previous[0].scene_id != scene_id:
            await self._release(sid)
        async with self._lock(group.group_id):
            game = self.running.get(key)
            if game is None:
                ended = group.scenes.get(scene_id)
                if ended is not None:
                    word = "group_ended" if ended == "member_left" else "over"
                    raise GameRefused(f"the group's game of {scene_id!r:.60} is over", word)
                game = self._make(group, scene)
                self.running[key] = game
                game.start(participant_id)
            async with game.lock:
                seat = game.by_participant.get(participant_id)
                before = seat.sid if seat is not None else None
                answer = game.join(participant_id, sid)
        assert seat is not None
        if before is not None and before != sid:
            self.members.pop(before, None)
        self.members[sid] = (game, seat)
        return answer

    def _make(self, group: Any, scene: GymScene) -> NetGame:
        assert self.groups is not None
        records = GameRecords(
            self.writer,
            self.seqs,
            group.group_id,
            scene.scene_id,
            limits=self.store.limits,
            flush_every=scene.fps,
        )
        ctx = self.groups.context(group)
        room = self.experiment.room_of(scene.scene_id)
        game = NetGame(
            group=group,
            scene=scene,
            seats=seats_of(group, scene),
            seeds=scene.episode_seeds(ctx),
            stand_ins=scene.game_spec(ctx, room_stand_ins(room, group, ctx.seed, scene.scene_id))[
                "stand_ins"
            ],
            directory=self.groups,
            events=self.events,
            records=records,
            send=self._send,
        )
        game.on_closed = self._forget
        game.on_stored = self.verify
        return game

    async def _episode(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, payload = payload_of(args, frozenset({"scene_id", "episode"}))
        episode = whole(payload.get("episode"), "episode")
        game, seat = self._member(sid, scene_id)
        return await game.episode(seat, episode)

    async def _play(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, payload = payload_of(args, frozenset({"scene_id", "episode"}))
        episode = whole(payload.get("episode"), "episode")
        game, seat = self._member(sid, scene_id)
        return await game.play(seat, episode)

    async def _state(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, payload = payload_of(args, STATE_FIELDS)
        episode = whole(payload.get("episode"), "episode")
        request_id = text_of(payload.get("request_id"), "request_id", 64)
        if "error" in payload:  # the page cannot give its state: ask another member at once
            error = text_of(payload["error"], "error", 2000)
            game, seat = self._member(sid, scene_id)
            log.info("group %s: agent %s gave no state: %s", game.group_id, seat.agent_id, error)
            game.states.answer(seat, episode, request_id, None)
            return {}
        frame = whole(payload.get("frame"), "frame")
        snapshot = payload.get("snapshot")
        # The page sends the snapshot as the worker's canonical JSON text (parsing it in the
        # browser would turn 1.0 into 1 and change its hash); it is relayed as it came.
        if not isinstance(snapshot, str | dict):
            raise bad("snapshot: expected the state as JSON text ({env, host})")
        if isinstance(snapshot, str) and len(snapshot) > MAX_SNAPSHOT_CHARS:
            raise bad(f"snapshot: longer than {MAX_SNAPSHOT_CHARS} characters")
        digest = payload.get("hash")
        if digest is not None:
            digest = text_of(digest, "hash", MAX_HASH)
        game, seat = self._member(sid, scene_id)
        state = {"frame": frame, "snapshot": snapshot, "hash": digest}
        game.states.answer(seat, episode, request_id, state)
        return {}

    async def _focus(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, payload = payload_of(args, frozenset({"scene_id", "hidden"}))
        hidden = payload.get("hidden")
        if not isinstance(hidden, bool):
            raise bad("hidden: expected true or false")
        game, seat = self._member(sid, scene_id)
        async with game.lock:
            game.set_hidden(seat, hidden)
        return {}

    async def _leave(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, _ = payload_of(args, frozenset({"scene_id"}))
        self._member(sid, scene_id)
        await self._release(sid)
        return {}

    async def handle_input(self, sid: str, *args: Any) -> dict[str, Any] | None:
        """The hot path: checked, applied, relayed; no database."""
        netem = self.netem
        if netem is not None:
            if not await netem.arrive(self.connections.participant_of(sid), "net:input"):
                return None  # lost on the way
        try:
            scene_id, payload = payload_of(args, INPUT_FIELDS)
            game, seat = self._member(sid, scene_id)
            given = parse_input(payload, self.actions[scene_id])
        except GameRefused as exc:
            self.throttle.log(log, "net", "net:input from %s refused: %s", sid, exc.reason)
            return {"ok": False, "error": exc.reason, "reason": exc.word}
        try:
            await game.input(seat, given)
        except Exception:  # noqa: BLE001 - one bad message must not stop the game
            log.exception("net:input from %s failed", sid)
        return None

    # connections going --------------------------------------------------------------------

    async def on_disconnect(self, sid: str, participant_id: str) -> None:
        await self._release(sid)
