"""The server's game clock: one timer for every game playing at a frame rate.

A :class:`Metronome` ticks its games at ``fps``. Each game gets one of :data:`PHASES` phases
when it joins (the one with fewest games): phase ``p`` of slot ``k`` is due at
``anchor + (k + p / PHASES) / fps``. One timer wakes for each phase, and all of that phase's
games start their ticks in the same event-loop iteration, so the env pool sends one message per
env process per phase (``env_pool.py`` batches requests made together). Spreading the games over
phases keeps each env process's work per wake-up small: a frame's round trip waits for a
quarter of the process's games instead of all of them, and nothing piles up at one instant.

A wake-up more than a whole interval late skips the slots it missed instead of catching up; each
game counts those as dropped (``game_clock.py``, the other half, calls ``on_slot``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger("interactive_gym.metronome")

#: Phases per frame interval.
PHASES = 8


class Member(Protocol):
    """A game on the metronome."""

    game_id: str

    def on_slot(self, slot: int, target: float) -> None:
        """Slot ``slot`` of this game came (due at ``target``, ``loop.time()``)."""


class Metronome:
    """The shared clock of every game playing at one frame rate."""

    def __init__(self, fps: int, phases: int = PHASES) -> None:
        self.period = 1.0 / fps
        self.phases = max(1, phases)
        self.members: dict[Member, int] = {}  # member → phase
        self._task: asyncio.Task[None] | None = None
        self.slots = 0
        self.missed = 0

    def join(self, member: Member) -> None:
        if member not in self.members:
            counts = [0] * self.phases
            for phase in self.members.values():
                counts[phase] += 1
            self.members[member] = counts.index(min(counts))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def leave(self, member: Member) -> None:
        self.members.pop(member, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        step = self.period / self.phases
        anchor = loop.time()
        tick = self.phases  # slot 1, phase 0
        while self.members:
            target = anchor + tick * step
            delay = target - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            if now - target >= self.period:  # the event loop was held up: skip, do not catch up
                missed = int((now - target) / step)
                self.missed += missed // self.phases
                tick += missed
                target += missed * step
            slot, phase = divmod(tick, self.phases)
            if phase == 0:
                self.slots += 1
            slot_target = target
            for member, its_phase in list(self.members.items()):
                if its_phase != phase:
                    continue
                try:
                    member.on_slot(slot, slot_target)
                except Exception:  # noqa: BLE001 - one game must not stop the others
                    log.exception("game %s: its tick could not start", member.game_id)
                    self.members.pop(member, None)
            tick += 1

    async def stop(self) -> None:
        self.members.clear()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


class Metronomes:
    """One :class:`Metronome` per frame rate."""

    def __init__(self) -> None:
        self.by_fps: dict[int, Metronome] = {}

    def get(self, fps: int) -> Metronome:
        metronome = self.by_fps.get(fps)
        if metronome is None:
            metronome = self.by_fps[fps] = Metronome(fps)
        return metronome

    async def stop(self) -> None:
        for metronome in self.by_fps.values():
            await metronome.stop()
