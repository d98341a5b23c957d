"""The server runtime's env pool: games on separate env worker processes, used from asyncio.

The other half is ``env_process.py``, the loop of each process (its protocol is described
there). Env code never runs in the server's event loop: :class:`EnvPool` starts ``workers``
processes with multiprocessing's "spawn" context, pins each game to the least-loaded process
when it opens, and sends requests down one duplex pipe per process (``env_link.py``: the
event loop owns the parent's end of each pipe as an asyncio transport, no threads, writes
never block), and requests issued in the same event-loop iteration for the same process go as
one message and their replies come back as one, so many games ticking on a shared clock cost
one message per process per tick.

Failures are :class:`EnvFailure`: ``kind="error"`` when env code raised (only that game is
affected), ``"timeout"`` when a request ran past its ``timeout_s`` (the process is killed with
SIGKILL and replaced; every other game on it fails with ``"crash"``), ``"crash"`` when the
process died. A watchdog timer per process reads which request the process is running and
since when (shared memory), so a request's time limit counts its own running time, not the
time it waited behind other games' ticks.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from interactive_gym.server.env_link import EnvLink, Request, Stage, exit_text, retrieve
from interactive_gym.server.frames import FrameSettings

Kind = Literal["error", "timeout", "crash"]

#: Default time limit of ``open`` (making the env may import packages).
OPEN_TIMEOUT_S = 60.0
#: Time limit of ``close`` (the env's own ``close()``).
CLOSE_TIMEOUT_S = 10.0
#: How long ``start`` waits for the processes to be ready.
READY_TIMEOUT_S = 60.0
#: How long ``shutdown`` lets processes stop on their own before killing them.
STOP_GRACE_S = 3.0
#: A slot whose process dies this many times in a row before it is ready is not restarted.
MAX_FAILED_STARTS = 3


class EnvFailure(Exception):
    """A game's env failed: ``stage`` ("load", "reset", "step"), ``kind``, message, traceback.

    ``kind`` is "error" (env code raised: ``error_type`` is the Python type), "timeout" (the
    request ran over its limit; its process was replaced) or "crash" (the process died, or
    was killed because another game on it ran over its limit).
    """

    def __init__(
        self,
        stage: Stage,
        message: str,
        traceback: str = "",
        kind: Kind = "error",
        *,
        error_type: str | None = None,
        game_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.stage: Stage = stage
        self.message = message
        self.traceback = traceback
        self.kind: Kind = kind
        self.error_type = error_type
        self.game_id = game_id

    def at(self, stage: Stage) -> EnvFailure:
        """The same failure reported for another operation of the game."""
        if stage == self.stage:
            return self
        return EnvFailure(stage, self.message, self.traceback, self.kind,
                          error_type=self.error_type, game_id=self.game_id)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a log line or an error event."""
        return {
            "stage": self.stage,
            "kind": self.kind,
            "message": self.message,
            "traceback": self.traceback,
            "type": self.error_type,
        }


@dataclass(eq=False)
class _Game:
    game_id: str
    process: EnvLink
    failure: EnvFailure | None = None  # set when its process was lost: the game is gone


class EnvPool:
    """Games on ``workers`` env processes; every method is called from one event loop.

    Replies are plain data; ``render`` is ``None``, ``{"kind": "draw", "draw": [...]}`` or
    ``{"kind": "image", "format", "width", "height", "data": bytes}``; ``start_episode`` and
    ``tick`` replies carry ``timing = {"env_ms", "encode_ms", "worker_ms", "round_trip_ms"}``.
    """

    def __init__(self, workers: int, *, frame: FrameSettings | None = None) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        self.workers = workers
        self.frame = frame if frame is not None else FrameSettings()
        self.context = multiprocessing.get_context("spawn")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._processes: list[EnvLink] = []
        self._all: list[EnvLink] = []  # every process started and not reaped yet
        self._games: dict[str, _Game] = {}
        self._rids = itertools.count(1)
        self._stopped = False
        self.counts = {"restarts": 0, "timeouts": 0, "crashes": 0, "requests": 0, "messages": 0}

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the env pool is not started: await pool.start() first")
        return self._loop

    # the API -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the processes and wait until each is ready (RuntimeError if one is not)."""
        if self._loop is not None:
            raise RuntimeError("the env pool was already started")
        self._loop = asyncio.get_running_loop()
        self._processes = [self._spawn(index) for index in range(self.workers)]
        try:
            await asyncio.wait_for(
                asyncio.gather(*(p.ready for p in self._processes)), READY_TIMEOUT_S
            )
        except (Exception, asyncio.CancelledError) as error:
            await self.shutdown()
            if isinstance(error, TimeoutError):
                raise RuntimeError(
                    f"the env processes were not ready within {READY_TIMEOUT_S:g} s"
                ) from error
            raise

    async def open(
        self, game_id: str, spec: dict[str, Any], *, timeout_s: float = OPEN_TIMEOUT_S
    ) -> dict[str, Any]:
        """Make the game's env and GameHost on the least-loaded process; its GameInfo.

        ``spec`` is the page's setupGame payload with ``env`` (``code``/``module``/``env_id``/
        ``factory``, ``config``, ``filename``), optionally ``frame`` (FrameSettings fields).
        Raises EnvFailure(stage="load") (kind "error" with the original message, "timeout",
        or "crash"); ValueError if the game is already open or a frame setting is invalid.
        """
        self._check_running("load", game_id)
        known = self._games.get(game_id)
        if known is not None and known.failure is None:
            raise ValueError(f"game {game_id!r} is already open")
        if known is not None:
            self._forget(known)
        if spec.get("frame"):
            FrameSettings(**spec["frame"])  # FrameSettingsError names the field
        live = [p for p in self._processes if not p.dead]
        if not live:
            raise EnvFailure("load", "no env process is running (they failed to start)",
                             kind="crash", game_id=game_id)  # fmt: skip
        process = min(live, key=lambda p: (len(p.games), p.index))
        game = _Game(game_id, process)
        self._games[game_id] = game
        process.games.add(game_id)
        try:
            info: dict[str, Any] = await self._request(game, "open", spec, "load", timeout_s)
        except EnvFailure:
            self._forget(game)
            raise
        except asyncio.CancelledError:
            self._forget(game)
            if not process.dead:  # it may open in the process anyway: close it there
                closing = self._submit(process, "close", game_id, None, "load", CLOSE_TIMEOUT_S)
                closing.add_done_callback(retrieve)
            raise
        return info

    async def start_episode(
        self, game_id: str, seed: int | None, timeout_s: float, *, options: dict | None = None
    ) -> dict[str, Any]:
        """Reset the game's env: ``{info, render, hud, observation?, timing}``.

        Raises EnvFailure(stage="reset").
        """
        game = self._game(game_id, "reset")
        args = {"seed": seed, "options": options}
        return await self._request(game, "start_episode", args, "reset", timeout_s)

    async def tick(
        self,
        game_id: str,
        actions: dict[str, Any],
        timeout_s: float,
        *,
        external: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One step: ``{step, actions, reward, terminated, truncated, maxStepsReached, done,
        info, render, hud, policyMs, observation?, timing}``. Raises EnvFailure(stage="step").
        """
        game = self._game(game_id, "step")
        args = {"actions": actions, "external": external}
        return await self._request(game, "tick", args, "step", timeout_s)

    async def close(self, game_id: str) -> None:
        """Forget the game and close its env (the env's close() errors are ignored)."""
        game = self._games.get(game_id)
        if game is None:
            return
        self._forget(game)
        process = game.process
        if game.failure is not None or process.dead or self._stopped:
            return
        future = self._submit(process, "close", game_id, None, "step", CLOSE_TIMEOUT_S)
        try:
            await future
        except EnvFailure:
            pass

    async def shutdown(self, *, grace_s: float = STOP_GRACE_S) -> None:
        """Stop every process, killing the ones not stopped within ``grace_s``; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._loop is None:
            return

        def shut_down(game_id: str, stage: Stage) -> EnvFailure:
            return EnvFailure(stage, "the env pool was shut down", kind="crash", game_id=game_id)

        for process in self._processes:
            self._fail_pending(process, shut_down)
            process.stop()
        for game in self._games.values():
            if game.failure is None:
                game.failure = shut_down(game.game_id, "step")
        processes = list(self._all)  # the stopped ones, and killed ones not reaped yet
        if processes:
            await asyncio.wait([p.exited for p in processes], timeout=grace_s)
        for process in processes:
            if not process.exited.done():
                process.kill()
        if processes:
            await asyncio.wait([p.exited for p in processes], timeout=10)

    def stats(self) -> dict[str, Any]:
        """Processes, their games and pending requests, restarts, timeouts and crashes, and the
        requests sent and the messages they went in (fewer messages: more batching)."""
        return {
            "workers": self.workers,
            "games": len(self._games),
            "failed_games": sum(1 for g in self._games.values() if g.failure is not None),
            **self.counts,
            "processes": [
                {
                    "index": p.index,
                    "pid": p.pid,
                    "alive": not p.dead and not self._stopped,
                    "ready": p.ready.done() and not p.ready.exception(),
                    "games": len(p.games),
                    "pending": len(p.pending),
                    "restarts": p.restarts,
                }
                for p in self._processes
            ],
        }

    # requests ------------------------------------------------------------------------------

    def _check_running(self, stage: Stage, game_id: str) -> None:
        if self._stopped:
            raise EnvFailure(stage, "the env pool was shut down", kind="crash", game_id=game_id)
        if self._loop is None:
            raise RuntimeError("the env pool is not started: await pool.start() first")

    def _game(self, game_id: str, stage: Stage) -> _Game:
        self._check_running(stage, game_id)
        game = self._games.get(game_id)
        if game is None:
            raise KeyError(f"no game {game_id!r} is open")
        if game.failure is not None:
            raise game.failure.at(stage)
        return game

    async def _request(
        self, game: _Game, op: str, args: Any, stage: Stage, timeout_s: float | None
    ) -> Any:
        started = time.perf_counter()
        value = await self._submit(game.process, op, game.game_id, args, stage, timeout_s)
        if isinstance(value, dict) and "timing" in value:
            value["timing"]["round_trip_ms"] = (time.perf_counter() - started) * 1000
        return value

    def _submit(
        self,
        process: EnvLink,
        op: str,
        game_id: str,
        args: Any,
        stage: Stage,
        timeout_s: float | None,
    ) -> asyncio.Future[Any]:
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        rid = next(self._rids)
        future: asyncio.Future[Any] = self.loop.create_future()
        process.pending[rid] = Request(rid, op, game_id, stage, timeout_s, future)
        process.send((rid, op, game_id, args))
        if timeout_s is not None:
            process.arm(timeout_s)
        return future

    def _forget(self, game: _Game) -> None:
        if self._games.get(game.game_id) is game:
            del self._games[game.game_id]
        game.process.games.discard(game.game_id)

    # replies, the watchdog and lost processes (event loop callbacks) --------------------------

    def on_message(self, process: EnvLink, message: Any) -> None:
        if isinstance(message, tuple):  # ("ready", pid)
            if not process.ready.done():
                process.ready.set_result(None)
                process.failed_starts = 0
            return
        if process.dead:
            return
        for rid, ok, value in message:
            request = process.pending.pop(rid, None)
            if request is None or request.future.done():
                continue
            if ok:
                request.future.set_result(value)
            else:
                request.future.set_exception(EnvFailure(
                    request.stage, value["message"], value["traceback"], "error",
                    error_type=value["type"], game_id=request.game_id,
                ))  # fmt: skip

    def check(self, process: EnvLink) -> None:
        process.watch = None
        if process.dead or process.stopping:
            return
        limits = [r.timeout_s for r in process.pending.values() if r.timeout_s is not None]
        if not limits:
            return
        delay = min(limits)  # a request not running yet cannot time out sooner than this
        running = process.running()
        if running is not None:
            request = process.pending.get(running[0])
            if request is not None and request.timeout_s is not None:
                left = running[1] + request.timeout_s - time.monotonic()
                if left <= 0:
                    self._timed_out(process, request)
                    return
                delay = min(delay, left)
        process.arm(max(delay, 0.001))

    def _timed_out(self, process: EnvLink, request: Request) -> None:
        self.counts["timeouts"] += 1
        limit = f"{request.timeout_s:g} s"
        what = {"load": "making the env", "reset": "reset", "step": "step"}[request.stage]
        culprit = EnvFailure(
            request.stage,
            f"game {request.game_id!r}: the env's {what} took longer than the limit of {limit}; "
            "its env process was stopped and replaced",
            kind="timeout",
            game_id=request.game_id,
        )
        self._lose(
            process,
            f"the env process was restarted because game {request.game_id!r} ran over its "
            f"time limit ({limit}); this game's env state is lost",
            culprit,
        )

    def on_exit(self, process: EnvLink) -> None:
        if process in self._all:
            self._all.remove(process)
        how = exit_text(process.process.exitcode)
        if not process.ready.done():
            process.ready.set_exception(
                RuntimeError(f"an env process ended before it was ready ({how})")
            )
            process.failed_starts += 1
        if process.dead or process.stopping or self._stopped:
            return
        self.counts["crashes"] += 1
        running = process.running()
        request = process.pending.get(running[0]) if running else None
        during = f" while running game {request.game_id!r}" if request else ""
        self._lose(
            process,
            f"the env process exited unexpectedly{during} ({how}); this game's env state is lost",
        )

    def _lose(self, process: EnvLink, message: str, culprit: EnvFailure | None = None) -> None:
        """Kill the process, fail its games and pending requests, start a replacement."""
        process.dead = True
        process.kill()
        failures: dict[str, EnvFailure] = {}
        for game_id in process.games:
            failure = (
                culprit
                if culprit is not None and game_id == culprit.game_id
                else EnvFailure("step", message, kind="crash", game_id=game_id)
            )
            failures[game_id] = failure
            game = self._games.get(game_id)
            if game is not None and game.process is process:
                game.failure = failure

        def failure_of(game_id: str, stage: Stage) -> EnvFailure:
            if culprit is not None and game_id == culprit.game_id:
                return culprit.at(stage)
            known = failures.get(game_id)
            if known is not None:
                return known.at(stage)
            return EnvFailure(stage, message, kind="crash", game_id=game_id)

        self._fail_pending(process, failure_of)
        if self._stopped:
            return
        if process.failed_starts >= MAX_FAILED_STARTS:
            return  # it cannot start: open() uses the other processes
        self.counts["restarts"] += 1
        self._processes[process.index] = self._spawn(
            process.index, process.restarts + 1, process.failed_starts
        )

    def _fail_pending(
        self, process: EnvLink, failure_of: Callable[[str, Stage], EnvFailure]
    ) -> None:
        pending, process.pending = process.pending, {}
        for request in pending.values():
            if not request.future.done():
                request.future.set_exception(failure_of(request.game_id, request.stage))
                request.future.add_done_callback(retrieve)

    def _spawn(self, index: int, restarts: int = 0, failed_starts: int = 0) -> EnvLink:
        process = EnvLink(self, index, restarts, failed_starts)
        self._all.append(process)
        return process
