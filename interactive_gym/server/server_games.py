"""Games the server runs (``GymScene(runtime="server")``), over the participant's study socket.

Events (the socket is the participant's, authenticated by the data path; only the
participant's active tab may drive a game). Acked events answer ``{"ok": true, ...}`` or
``{"ok": false, "error": text, "reason": word}``:

- ``game:open`` ``{scene_id}`` → ``{ok, game: GameInfo, resume?: {episode, step}}``: the scene
  must be the participant's current scene and run on the server. Opening again (after a
  reconnect or a reload) answers the running game, paused, with ``resume``.
- ``game:episode`` ``{scene_id, episode, attempt}`` → ``{ok, seed, attempt, render, hud}``:
  reset with the scene's seed for the episode. ``attempt`` is the run's number in the records:
  the page's, or one past the runs of the episode already stored.
- ``game:play`` ``{scene_id, episode}`` → ``{ok}``: the clock starts (or goes on after a
  pause); every step is emitted as ``game:frame``.
- ``game:input`` ``{scene_id, episode, seq, action, keys, t, type?, key?}`` (no ack): the
  human's action after a key change (``type``/``key``: the key event, for the step record).
- ``game:pause`` / ``game:resume`` ``{scene_id}`` → ``{ok}``: the tab was hidden / shown.
- ``game:close`` ``{scene_id}`` → ``{ok}``: the scene is over.
- server → page: ``game:frame``, ``game:end`` ``{scene_id, episode, summary}``,
  ``game:error`` ``{scene_id, episode, stage, step, message, traceback, kind}``.

A connection that goes away pauses its game; a ``game:open`` within the scene's
``reconnect_s`` takes it up again, else the episode under way ends as ``"disconnected"``
(its steps are kept) and the env is freed. The clock and the records: ``game_clock.py`` and
``game_records.py``; the env processes: ``env_pool.py``. Group scenes (several human agents)
are one game for the whole group, joined by each member (``group_games.py``,
``group_game.py``: ``game:member`` events, the away and leave rules).
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import socketio

from interactive_gym.data.records import MAX_INT
from interactive_gym.data.store import Store
from interactive_gym.data.writer import ChunkWriter
from interactive_gym.server.env_pool import EnvFailure, EnvPool
from interactive_gym.server.fanout import send_to
from interactive_gym.server.game_clock import GameClock, Input
from interactive_gym.server.game_records import GameRecords, ServerSeqs
from interactive_gym.server.game_sockets import answer, current_scene, participant_of, payload_of
from interactive_gym.server.group_game import GroupGame
from interactive_gym.server.group_games import GroupGames
from interactive_gym.server.limits import LogThrottle
from interactive_gym.server.metronome import Metronomes
from interactive_gym.server.seated_game import GameRefused, GroupDirectory
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.study import Experiment, GymScene

log = logging.getLogger("interactive_gym.server_games")

EVENTS = (
    "game:open",
    "game:episode",
    "game:play",
    "game:input",
    "game:pause",
    "game:resume",
    "game:close",
)
MAX_KEYS = 200


Fanout = Callable[[socketio.AsyncServer, str, Any, Iterable[str]], Awaitable[None]]


def _env_failure(exc: Exception) -> dict[str, Any] | None:
    """The answer to an event whose env failed (None for any other error)."""
    if not isinstance(exc, EnvFailure):
        return None
    return {
        "ok": False,
        "error": exc.message,
        "reason": "env_failed",
        "stage": exc.stage,
        "kind": exc.kind,
        "traceback": exc.traceback[-4000:],
    }


class ConnectionRegistry(Protocol):
    """What the games need of the socket registry (``Connections``, or ``Ingest`` before it)."""

    def participant_of(self, sid: str) -> str | None: ...
    def on_connect(self, hook: Any) -> Any: ...
    def on_disconnect(self, hook: Any) -> Any: ...


@dataclass
class Running:
    """A participant's game and the socket driving it (a group member's: its group game)."""

    clock: GameClock
    scene_id: str
    sid: str | None
    expiry: asyncio.Task[None] | None = None
    group: GroupGame | None = None
    agent_id: str | None = None


class ServerGames:
    """The socket handlers of server-runtime games, and the games running now."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        connections: ConnectionRegistry,
        store: Store,
        writer: ChunkWriter,
        experiment: Experiment,
        pool: EnvPool,
        *,
        throttle: LogThrottle | None = None,
        groups: GroupDirectory | None = None,
        seqs: ServerSeqs | None = None,
        events: ServerEvents | None = None,
    ) -> None:
        self.sio = sio
        self.connections = connections
        self.store = store
        self.writer = writer
        self.experiment = experiment
        self.pool = pool
        self.throttle = throttle or LogThrottle()
        self.seqs = seqs or (events.seqs if events is not None else ServerSeqs(store))
        self.events = events or ServerEvents(writer, self.seqs, store.limits)
        self.metronomes = Metronomes()
        self.games: dict[str, Running] = {}
        #: How messages reach the pages (``fanout.send_to``; ``netem.py`` delays it when asked).
        self.fanout: Fanout = send_to
        self.group_side = GroupGames(self, groups)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def register(self) -> None:
        """Install the ``game:*`` handlers and the disconnect hook."""
        self.connections.on_disconnect(self.on_disconnect)
        self.sio.on("game:open", self.handle_open)
        self.sio.on("game:episode", self.handle_episode)
        self.sio.on("game:play", self.handle_play)
        self.sio.on("game:input", self.handle_input)
        self.sio.on("game:pause", self.handle_pause)
        self.sio.on("game:resume", self.handle_resume)
        self.sio.on("game:close", self.handle_close)

    async def close(self) -> None:
        """Stop every game (episodes under way end as ``"stopped"``), at shutdown."""
        await self.group_side.close()
        for participant_id in list(self.games):
            await self._end(participant_id)
        await self.metronomes.stop()

    # socket plumbing ----------------------------------------------------------------------

    async def _answer(self, sid: str, event: str, work: Any) -> dict[str, Any]:
        return await answer(work, event=event, sid=sid, log=log, throttle=self.throttle,
                            topic="games", known=_env_failure)  # fmt: skip

    def _participant(self, sid: str) -> str:
        return participant_of(self.connections, sid)

    _payload = staticmethod(payload_of)

    @staticmethod
    def _count(payload: dict[str, Any], name: str, optional: bool = False) -> int | None:
        value = payload.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
            raise GameRefused(f"{name}: expected a whole number >= 0", "bad_request")
        return value

    def lock_for(self, owner_id: str) -> asyncio.Lock:
        """The lock of a participant's (or a group's) game requests."""
        lock = self._locks.get(owner_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[owner_id] = lock
        return lock

    async def _current_scene(self, participant_id: str, scene_id: str) -> GymScene:
        scene = await current_scene(self.store, self.experiment, participant_id, scene_id)
        if not isinstance(scene, GymScene) or scene.runtime != "server":
            raise GameRefused(
                f"scene_id: {scene_id!r:.60} is not a game the server runs", "not_server_game"
            )
        return scene

    def _running(self, sid: str, participant_id: str, scene_id: str) -> Running:
        running = self.games.get(participant_id)
        if running is None or running.scene_id != scene_id:
            raise GameRefused(f"scene_id: no game of {scene_id!r:.60} is open", "not_open")
        if running.sid != sid:
            raise GameRefused("the game is open on another connection; open it here", "not_open")
        return running

    def _emitter(self, participant_id: str) -> Any:
        async def emit(event: str, payload: dict[str, Any]) -> None:
            running = self.games.get(participant_id)
            sid = running.sid if running is not None else None
            if sid is not None:
                await self.fanout(self.sio, event, payload, (sid,))

        return emit

    # handlers -----------------------------------------------------------------------------

    async def handle_open(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "game:open", self._open(sid, args))

    async def handle_episode(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "game:episode", self._episode(sid, args))

    async def handle_play(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "game:play", self._play(sid, args))

    async def handle_pause(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "game:pause", self._visibility(sid, args, hidden=True))

    async def handle_resume(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "game:resume", self._visibility(sid, args, hidden=False))

    async def handle_close(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "game:close", self._close(sid, args))

    async def _open(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, _ = self._payload(args, frozenset({"scene_id"}))
        participant_id = self._participant(sid)
        async with self.lock_for(participant_id):
            scene = await self._current_scene(participant_id, scene_id)
            if scene.is_group:
                return await self._open_group(sid, participant_id, scene)
            running = self.games.get(participant_id)
            if running is not None and running.scene_id == scene_id and not running.clock.closed:
                if running.clock.failed is not None:
                    raise GameRefused(running.clock.failed["message"], "failed")
                if running.expiry is not None:
                    running.expiry.cancel()
                    running.expiry = None
                running.sid = sid
                resume = running.clock.reopened()
                answer: dict[str, Any] = {"game": running.clock.info}
                if resume is not None:
                    answer["resume"] = resume
                return answer
            if running is not None:
                await self._end(participant_id)
            participant = await asyncio.to_thread(self.store.get_participant, participant_id)
            assert participant is not None
            ctx = self.experiment.context(participant)
            game_id = f"{participant_id}/{scene_id}/{uuid.uuid4().hex[:12]}"
            info = await self.pool.open(
                game_id, scene.game_spec(ctx), timeout_s=scene.load_timeout_s
            )
            records = GameRecords(
                self.writer,
                self.seqs,
                participant_id,
                scene_id,
                limits=self.store.limits,
                flush_every=scene.fps,
            )
            clock = GameClock(
                pool=self.pool,
                game_id=game_id,
                scene=scene,
                seeds=scene.episode_seeds(ctx),
                records=records,
                emit=self._emitter(participant_id),
                info=info,
                metronome=self.metronomes.get(scene.fps),
            )
            self.games[participant_id] = Running(clock, scene_id, sid)
            return {"game": info}

    async def _open_group(self, sid: str, participant_id: str, scene: GymScene) -> dict[str, Any]:
        running = self.games.get(participant_id)
        if running is not None and running.scene_id != scene.scene_id:
            await self._end(participant_id)
        game, answer = await self.group_side.open(sid, participant_id, scene)
        agent_id = answer["agent_id"]
        self.games[participant_id] = Running(
            game.clock, scene.scene_id, sid, group=game, agent_id=agent_id
        )
        return {"game": game.clock.info, **answer}

    async def _episode(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, payload = self._payload(args, frozenset({"scene_id", "episode", "attempt"}))
        episode = self._count(payload, "episode")
        attempt = self._count(payload, "attempt", optional=True) or 0
        assert episode is not None
        participant_id = self._participant(sid)
        async with self.lock_for(participant_id):
            running = self._running(sid, participant_id, scene_id)
            clock = running.clock
            if clock.failed is not None:
                raise GameRefused(clock.failed["message"], "failed")
            if episode >= clock.scene.episodes:
                raise GameRefused(
                    f"episode {episode}: this game has {clock.scene.episodes} episode(s)",
                    "bad_request",
                )
            if running.group is not None:
                return await self.group_side.episode(running.group, episode, attempt)
            attempt = await self.free_attempt(participant_id, scene_id, episode, attempt)
            first = await clock.start_episode(episode, attempt)
            return {**first, "attempt": attempt}

    async def free_attempt(
        self, participant_id: str, scene_id: str, episode: int, attempt: int
    ) -> int:
        """``attempt``, unless a run of the episode is stored under it (or a later one)."""
        stored = await asyncio.to_thread(self.store.episode_counts, participant_id, scene_id)
        taken = [e.attempt for e in stored if e.episode == episode]
        if taken and max(taken) >= attempt:
            return max(taken) + 1
        return attempt

    async def _play(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, payload = self._payload(args, frozenset({"scene_id", "episode"}))
        episode = self._count(payload, "episode")
        participant_id = self._participant(sid)
        running = self._running(sid, participant_id, scene_id)
        if running.group is not None:
            running.group.play(participant_id, episode)
            return {}
        clock = running.clock
        if clock.failed is not None:
            raise GameRefused(clock.failed["message"], "failed")
        run = clock.run
        if run is None or run.episode != episode:
            raise GameRefused(f"episode {episode}: start it with game:episode first", "not_ready")
        if run.summary is not None:
            raise GameRefused(f"episode {episode} is over", "over")
        clock.play()
        return {}

    async def _visibility(self, sid: str, args: tuple[Any, ...], *, hidden: bool) -> dict[str, Any]:
        scene_id, _ = self._payload(args, frozenset({"scene_id"}))
        participant_id = self._participant(sid)
        running = self._running(sid, participant_id, scene_id)
        if running.group is not None:
            running.group.set_hidden(participant_id, hidden)
        else:
            running.clock.set_hidden(hidden)
        return {}

    async def _close(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, _ = self._payload(args, frozenset({"scene_id"}))
        participant_id = self._participant(sid)
        async with self.lock_for(participant_id):
            running = self.games.get(participant_id)
            if running is not None and running.scene_id == scene_id:
                await self._end(participant_id)
        return {}

    async def handle_input(self, sid: str, *args: Any) -> dict[str, Any] | None:
        """The hot path: checked, applied, no database and no await."""
        try:
            self._input(sid, args)
        except GameRefused as exc:
            self.throttle.log(log, "games", "game:input from %s refused: %s", sid, exc.reason)
            return {"ok": False, "error": exc.reason, "reason": exc.word}
        return None

    def _input(self, sid: str, args: tuple[Any, ...]) -> None:
        fields = frozenset({"scene_id", "episode", "seq", "action", "keys", "t", "type", "key"})
        scene_id, payload = self._payload(args, fields)
        participant_id = self._participant(sid)
        running = self._running(sid, participant_id, scene_id)
        clock = running.clock
        seq = self._count(payload, "seq")
        episode = self._count(payload, "episode")
        assert seq is not None
        if clock.run is None or clock.run.episode != episode:
            raise GameRefused(f"episode {episode}: not the episode being played", "not_ready")
        action = payload.get("action")
        if not clock.is_allowed(action):
            raise GameRefused("action: not an action of the scene's controls", "bad_request")
        keys = payload.get("keys", "")
        t = payload.get("t", 0)
        kind, key = payload.get("type"), payload.get("key")
        if not isinstance(keys, str) or len(keys) > MAX_KEYS:
            raise GameRefused("keys: expected a short text", "bad_request")
        if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
            raise GameRefused("t: expected a time in ms", "bad_request")
        for name, value in (("type", kind), ("key", key)):
            if value is not None and (not isinstance(value, str) or len(value) > 40):
                raise GameRefused(f"{name}: expected a short text", "bad_request")
        clock.input(Input(seq, action, keys, float(t), kind, key), running.agent_id)

    # connections coming and going ---------------------------------------------------------

    def on_disconnect(self, sid: str, participant_id: str) -> None:
        running = self.games.get(participant_id)
        if running is None or running.sid != sid:
            return
        running.sid = None
        if running.group is not None:
            running.group.away(participant_id)
            return
        running.clock.disconnected()
        wait = running.clock.scene.reconnect_s
        running.expiry = asyncio.get_running_loop().create_task(
            self._expire(participant_id, running, wait)
        )

    async def _expire(self, participant_id: str, running: Running, wait: float) -> None:
        await asyncio.sleep(wait)
        async with self.lock_for(participant_id):
            if self.games.get(participant_id) is not running or running.sid is not None:
                return
            running.expiry = None
            log.info(
                "participant %s did not come back within %.0f s: game %s ends",
                participant_id,
                wait,
                running.clock.game_id,
            )
            await running.clock.end_disconnected()
            await self._end(participant_id)

    async def _end(self, participant_id: str) -> None:
        running = self.games.pop(participant_id, None)
        if running is None:
            return
        if running.group is not None:
            await self.group_side.leave(participant_id, running.group)
            return
        if running.expiry is not None and running.expiry is not asyncio.current_task():
            running.expiry.cancel()
        try:
            await running.clock.close()
        except Exception:  # noqa: BLE001 - one game's end must not stop the others
            log.exception("closing game %s failed", running.clock.game_id)
