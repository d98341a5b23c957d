"""One game the server runs: its episodes, its fixed-rate clock, its input, pauses and end.

A :class:`GameClock` belongs to one participant's game scene. ``start_episode`` resets the env
(through the env pool) with the seed the scene gives the episode; ``play`` starts the clock.
Each tick steps the env with the human's action (the latest ``game:input``;
``input_mode="pressed"``: an action applies to one tick, then ``default_action``), emits the
frame, and queues the step record.

Every game of one frame rate ticks on one shared clock (``metronome.py``: one timer for all,
the games spread over a few phases of the frame interval). A game's tick never starts before
its previous one is done (the slots it missed are counted as dropped); a tick more than a
quarter interval late counts as late (as the browser's ``game/loop.js``). Paused (tab hidden
with ``when_hidden="pause"``, or the connection gone) a game skips slots without counting
them, after the tick in flight.

The episode ends when the env says so (or at ``max_steps``): the rest of its steps and its
summary are stored, then ``game:end`` goes to the page. A failing env (``EnvFailure``) ends
the game: an ``"error"`` summary, a ``game_error`` event record, then ``game:error``.

The other halves: ``server_games.py`` (the socket events that drive it), ``game_records.py``
(the records), ``env_pool.py`` (the env processes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from interactive_gym.data.records import RecordError
from interactive_gym.server.env_pool import EnvFailure, EnvPool
from interactive_gym.server.frames import frame_message
from interactive_gym.server.game_inputs import Input, InputSlot, Taken, canonical
from interactive_gym.server.game_records import (
    GameRecords,
    Returns,
    episode_data,
    step_data,
)
from interactive_gym.server.metronome import Metronome
from interactive_gym.study import GymScene
from interactive_gym.study.gym import ended_by

__all__ = ["ClockStats", "EpisodeRun", "GameClock", "Input", "Taken"]

log = logging.getLogger("interactive_gym.game_clock")

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
#: Seconds a reset may take at least (the scene's step_timeout_s when larger).
MIN_RESET_TIMEOUT_S = 10.0


@dataclass
class EpisodeRun:
    """What is known of the episode being played."""

    episode: int
    attempt: int
    seed: int | None
    started: float
    returns: Returns = field(default_factory=Returns)
    length: int = 0
    last: dict[str, Any] | None = None
    ticks: int = 0
    late_ticks: int = 0
    dropped_ticks: int = 0
    hidden_steps: int = 0
    playing: bool = False
    summary: dict[str, Any] | None = None


@dataclass
class ClockStats:
    """Tick lateness of a game (for the capacity measurements and the logs)."""

    ticks: int = 0
    late: int = 0
    dropped: int = 0
    late_ms: list[float] = field(default_factory=list)
    keep: int = 10_000

    def add(self, late_ms: float, dropped: int, late: bool) -> None:
        self.ticks += 1
        self.dropped += dropped
        self.late += late
        if len(self.late_ms) < self.keep:
            self.late_ms.append(late_ms)


class GameClock:
    """One participant's game of a server-runtime scene (``group_game.py`` extends it to a
    group's game: one :class:`InputSlot` per human agent)."""

    def __init__(
        self,
        *,
        pool: EnvPool,
        game_id: str,
        scene: GymScene,
        seeds: list[int],
        records: GameRecords,
        emit: Emit,
        info: dict[str, Any],
        metronome: Metronome | None = None,
    ) -> None:
        self.pool = pool
        self.game_id = game_id
        self.scene = scene
        self.seeds = seeds
        self.records = records
        self.emit = emit
        self.info = info
        self.multi_agent = bool(info.get("multiAgent"))
        self.human = scene.human
        #: Whose reward is the episode's ``return`` (None: every agent's, summed).
        self.score_agent = scene.human
        self.period = 1.0 / scene.fps
        self.allowed_actions = {canonical(c["action"]) for c in scene.controls}
        self.allowed_actions.add(canonical(scene.default_action))
        self.default_key = canonical(scene.default_action)
        self.run: EpisodeRun | None = None
        #: The episode's permanent draw objects as one frame (env_process.permanent_frame):
        #: what a page joining mid-episode draws first.
        self.permanent: dict[str, Any] | None = None
        self.failed: dict[str, Any] | None = None
        self.closed = False
        self.stats = ClockStats()
        self.paused_by: set[str] = set()
        humans = list(
            getattr(scene, "humans", None) or ([] if scene.human is None else [scene.human])
        )
        self.slots = {str(agent): InputSlot() for agent in humans}
        self._main = self.slots.get(str(scene.human)) or InputSlot()
        self.metronome = metronome or Metronome(scene.fps)
        self._task: asyncio.Task[None] | None = None
        self._last_slot: int | None = None
        self._epoch = asyncio.get_running_loop().time()

    # the page's requests -----------------------------------------------------------------

    @property
    def step(self) -> int:
        return self.run.length if self.run is not None else 0

    @property
    def input_seq(self) -> int:
        """The ``seq`` of the latest input of the (first) human."""
        return self._main.seq

    @property
    def hidden(self) -> bool:
        return self._main.hidden

    async def start_episode(self, episode: int, attempt: int) -> dict[str, Any]:
        """Reset for ``episode`` with its seed; the first frame (``{seed, render, hud}``)."""
        await self._stop_task()
        if self.run is not None and self.run.playing:
            await self._finish("stopped")
        seed = self.seeds[episode]
        self.run = EpisodeRun(episode, attempt, seed, time.monotonic())
        self.permanent = None
        self._main.clear()
        for slot in self.slots.values():
            slot.clear()
        timeout = max(self.scene.step_timeout_s, MIN_RESET_TIMEOUT_S)
        try:
            reply = await self.pool.start_episode(self.game_id, seed, timeout)
            self.permanent = reply.get("permanent", self.permanent)
        except EnvFailure as failure:
            await self._fail(failure, stage="reset")
            raise
        return {"seed": seed, "render": reply.get("render"), "hud": reply.get("hud")}

    def play(self) -> None:
        """Start the clock of the episode just reset, or go on with a paused one."""
        run = self.run
        if run is None or run.summary is not None:
            return
        self.paused_by.discard("waiting")
        if not run.playing:
            run.playing = True
            self._last_slot = None
            self.metronome.join(self)
        self._update_pause()

    def input(self, given: Input, agent: str | None = None) -> None:
        """A human's new action (``agent``: whose; None: the scene's human)."""
        (self._main if agent is None else self.slots[agent]).give(given)

    def is_allowed(self, action: Any) -> bool:
        return canonical(action) in self.allowed_actions

    def set_hidden(self, hidden: bool, agent: str | None = None) -> None:
        """A page's tab went hidden or visible again (``agent``: whose; None: the human's)."""
        (self._main if agent is None else self.slots[agent]).hidden = hidden
        reason = "hidden" if agent is None else f"hidden:{agent}"
        self.hold(reason, hidden and self.scene.when_hidden == "pause")

    def hold(self, reason: str, on: bool) -> None:
        """Pause for ``reason`` (or stop pausing for it)."""
        if on:
            self.paused_by.add(reason)
        else:
            self.paused_by.discard(reason)
        self._update_pause()

    def disconnected(self) -> None:
        self.paused_by.add("disconnected")
        self._update_pause()

    def reopened(self) -> dict[str, int] | None:
        """The page came back (a new connection): paused until it plays again."""
        self.paused_by.discard("disconnected")
        self.paused_by.discard("hidden")
        self._main.hidden = False
        self._main.reset()  # a reloaded page numbers its inputs from 1 again
        if self.run is not None and self.run.playing:
            self.paused_by.add("waiting")
        self._update_pause()
        if self.run is None:
            return None
        return {"episode": self.run.episode, "step": self.run.length}

    async def end_disconnected(self, how: str = "disconnected") -> None:
        """The connection stayed away too long (or a group member left, ``how="member_left"``):
        the episode under way ends, kept as it is."""
        await self._stop_task()
        if self.run is not None and self.run.summary is None and self.run.playing:
            await self._finish(how)

    async def close(self) -> None:
        """Stop the game (an episode under way ends as ``"stopped"``) and free its env."""
        if self.closed:
            return
        self.closed = True
        await self._stop_task()
        if self.run is not None and self.run.playing and self.run.summary is None:
            await self._finish("stopped")
        await self.records.flush()
        try:
            await self.pool.close(self.game_id)
        except Exception:  # noqa: BLE001 - the env may be gone already
            log.debug("closing game %s", self.game_id, exc_info=True)

    # the clock ----------------------------------------------------------------------------

    def _update_pause(self) -> None:
        if self.paused_by:
            self._last_slot = None  # the slots while paused are not dropped ticks

    async def _stop_task(self) -> None:
        self.metronome.leave(self)
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    def on_slot(self, slot: int, target: float) -> None:
        """The metronome's slot ``slot`` (due at ``target``) came: tick unless paused or busy."""
        run = self.run
        if run is None or not run.playing:
            self.metronome.leave(self)
            return
        if self.paused_by or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._tick_task(run, slot, target))

    async def _tick_task(self, run: EpisodeRun, slot: int, target: float) -> None:
        start = asyncio.get_running_loop().time()
        dropped = 0 if self._last_slot is None else max(0, slot - self._last_slot - 1)
        self._last_slot = slot
        late_ms = max(0.0, (start - target) * 1000)
        late = late_ms > self.period * 250
        self.stats.add(late_ms, dropped, late)
        run.ticks += 1
        run.late_ticks += late
        run.dropped_ticks += dropped
        try:
            more = await self._tick(run, start, late_ms, dropped)
        except asyncio.CancelledError:
            raise
        except EnvFailure as failure:
            self.metronome.leave(self)
            await self._fail(failure, stage=failure.stage or "step")
            return
        except Exception as error:  # noqa: BLE001 - a bug here ends this game only
            log.exception("game %s: a tick failed", self.game_id)
            self.metronome.leave(self)
            await self._fail(error, stage="step")
            return
        if not more:
            self.metronome.leave(self)
            await self._finish(ended_by(run.last))

    def _take_actions(self) -> tuple[dict[str, Any], dict[str, Taken]]:
        """The tick's actions for the env, and what each human's inputs gave."""
        taken = self._main.take(self.scene, self.default_key)
        if self.human is None:
            return {}, {"": taken}
        return {self.human: taken.action}, {self.human: taken}

    def _step_data(self, reply: dict[str, Any], taken: dict[str, Taken], **timing: Any) -> dict:
        """The step record's data (one human: its keys, key events, focus and input_seq)."""
        (mine,) = taken.values()
        return step_data(
            reply,
            multi_agent=self.multi_agent,
            keys=mine.keys,
            key_events=mine.events,
            focus="hidden" if mine.hidden else "focused",
            observation=self.scene.record_observations,
            input_seq=mine.seq,
            **timing,
        )

    def _frame_inputs(self, taken: dict[str, Taken]) -> dict[str, Any]:
        """The frame's word on the inputs it applied (the page matches its key events)."""
        (mine,) = taken.values()
        return {"input_seq": mine.seq}

    async def _tick(self, run: EpisodeRun, start: float, late_ms: float, dropped: int) -> bool:
        actions, taken = self._take_actions()
        reply = await self.pool.tick(self.game_id, actions, self.scene.step_timeout_s)
        round_trip_ms = (asyncio.get_running_loop().time() - start) * 1000
        step = int(reply.get("step", run.length))
        run.last = reply
        if "permanent" in reply:
            self.permanent = reply["permanent"]
        run.length = step + 1
        run.returns.add(reply.get("reward"), self.score_agent, self.multi_agent)
        if any(t.hidden for t in taken.values()):
            run.hidden_steps += 1
        data = self._step_data(
            reply,
            taken,
            tick_t=(start - self._epoch) * 1000,
            tick_late_ms=late_ms,
            dropped_ticks=dropped,
            round_trip_ms=round_trip_ms,
        )
        try:
            record = self.records.make(
                "step", data, episode=run.episode, attempt=run.attempt, step=step
            )
        except RecordError as error:
            raise EnvFailure("step", f"the step cannot be recorded: {error}", "", "error") from None
        self.records.add(record)
        fields = {
            "reward": reply.get("reward"),
            "terminated": bool(reply.get("terminated")),
            "truncated": bool(reply.get("truncated")),
            "maxStepsReached": bool(reply.get("maxStepsReached")),
            "done": bool(reply.get("done")),
            "hud": reply.get("hud"),
            **self._frame_inputs(taken),
            "tick_late_ms": round(late_ms, 2),
        }
        message = frame_message(self.scene.scene_id, run.episode, step, fields, reply.get("render"))
        await self.emit("game:frame", message)
        return not reply.get("done")

    # ending -------------------------------------------------------------------------------

    def _summary(self, run: EpisodeRun, how: str) -> dict[str, Any]:
        return episode_data(
            seed=run.seed,
            returns=run.returns,
            multi_agent=self.multi_agent,
            length=run.length,
            last=run.last,
            ended_by=how,
            duration_ms=(time.monotonic() - run.started) * 1000,
            ticks=run.ticks,
            late_ticks=run.late_ticks,
            dropped_ticks=run.dropped_ticks,
            hidden_steps=run.hidden_steps,
            fps=self.scene.fps,
            input_seq=self.input_seq,
        )

    async def _finish(self, how: str) -> None:
        """Store the episode's summary after its steps; tell the page when it played out."""
        run = self.run
        if run is None or run.summary is not None:
            return
        run.playing = False
        run.summary = self._summary(run, how)
        self.records.add(
            self.records.make("episode", run.summary, episode=run.episode, attempt=run.attempt)
        )
        await self.records.flush()
        if how in ("terminated", "truncated", "max_steps"):
            await self.emit(
                "game:end",
                {"scene_id": self.scene.scene_id, "episode": run.episode, "summary": run.summary},
            )

    async def _fail(self, error: BaseException, *, stage: str) -> None:
        """The game stops for good: its records first, then ``game:error``."""
        run = self.run
        step = run.length if run is not None else 0
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        traceback = str(getattr(error, "traceback", "") or "")[-4000:]
        self.failed = {
            "scene_id": self.scene.scene_id,
            "episode": run.episode if run is not None else None,
            "stage": stage,
            "step": step,
            "message": str(message)[:2000],
            "traceback": traceback,
            "kind": getattr(error, "kind", "error"),
        }
        log.warning(
            "game %s failed at %s step %d: %s", self.game_id, stage, step, self.failed["message"]
        )
        if run is not None and run.summary is None:
            run.playing = False
            run.summary = self._summary(run, "error")
            self.records.add(
                self.records.make("episode", run.summary, episode=run.episode, attempt=run.attempt)
            )
        event = {"type": "game_error", **{k: v for k, v in self.failed.items() if k != "scene_id"}}
        self.records.add(
            self.records.make(
                "event",
                event,
                episode=run.episode if run is not None else None,
                attempt=run.attempt if run is not None else None,
                step=step,
            )
        )
        await self.records.flush()
        try:
            await self.pool.close(self.game_id)
        except Exception:  # noqa: BLE001 - after a crash the pool may have dropped it
            log.debug("closing failed game %s", self.game_id, exc_info=True)
        await self.emit("game:error", self.failed)
