"""Replaying what a participant recorded, once they complete: flags, never blocks.

When a participant completes (``flow.py``), :meth:`Verifier.schedule` replays the recorded
episodes of every game scene they played in CPython (``interactive_gym.replay``) in a worker
thread, one participant at a time, and stores the result: a row per episode run in the
``verifications`` table and the roll-up in the participant's ``verified`` column (True: every
run replayed as recorded; False: at least one is implausible; None: nothing could be
checked). The completion code is never held back: the replay only marks the data, for the
researcher to look at before paying or analysing.

A replay that fails in an unforeseen way is logged and leaves ``verified`` empty; it never
affects the participant or the server.

Games the server ran (``GymScene(runtime="server")``) are not replayed: the server computed
every step itself (``server_games.py``), so each of their recorded episode runs is marked
verified with the reason :data:`SERVER_RUNTIME`.
"""

from __future__ import annotations

import asyncio
import logging

from interactive_gym.data.store import Store, Verdict
from interactive_gym.replay import replay_participant
from interactive_gym.replay._records import group
from interactive_gym.study import Experiment, GymScene

log = logging.getLogger("interactive_gym.verification")

#: Seconds one participant's replay may take before what is left counts as not checked.
REPLAY_TIME_LIMIT_S = 120.0
#: The reason stored with the episodes of a game the server ran.
SERVER_RUNTIME = "server runtime: computed by the server, not replayed"


class Verifier:
    """Replays completed participants' games in the background, one at a time."""

    def __init__(self, experiment: Experiment, store: Store) -> None:
        self.experiment = experiment
        self.store = store
        games = [s for s in experiment.scenes_by_id.values() if isinstance(s, GymScene)]
        self.scenes = [s for s in games if s.runtime != "server"]
        self.server_scenes = [s for s in games if s.runtime == "server"]
        self._one_at_a_time = asyncio.Semaphore(1)
        self._tasks: set[asyncio.Task[bool | None]] = set()

    def schedule(self, participant_id: str) -> None:
        """Replay the participant's games soon (call from the event loop)."""
        if not self.scenes and not self.server_scenes:
            return
        task = asyncio.get_running_loop().create_task(self.verify(participant_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def verify(self, participant_id: str) -> bool | None:
        """Replay and store now; returns the participant's roll-up."""
        async with self._one_at_a_time:
            try:
                return await asyncio.to_thread(self._verify, participant_id)
            except Exception:  # noqa: BLE001 - a replay must never hurt the server
                log.exception("replaying participant %s failed", participant_id)
                return None

    def _verify(self, participant_id: str) -> bool | None:
        participant = self.store.get_participant(participant_id)
        if participant is None:
            return None
        played = set(participant.scene_order)
        scenes = [s for s in self.scenes if s.scene_id in played]
        server_scenes = [s for s in self.server_scenes if s.scene_id in played]
        records = [
            r
            for kind in ("step", "episode")
            for r in self.store.iter_records(participant_id, kind=kind)
        ]
        verdicts: list[Verdict] = []
        reason: str | None = None
        if scenes:
            result = replay_participant(
                scenes,
                records,
                participant_seed=participant.seed,
                time_limit_s=REPLAY_TIME_LIMIT_S,
            )
            verdicts += [
                Verdict(participant_id, v.scene_id, v.episode, v.attempt, v.verified, v.reason)
                for v in result.episodes
            ]
            reason = result.reason
        for scene in server_scenes:
            for episode, attempt in sorted(group(records, scene.scene_id)):
                verdicts.append(
                    Verdict(participant_id, scene.scene_id, episode, attempt, True, SERVER_RUNTIME)
                )
        seen = {v.verified for v in verdicts}
        overall = False if False in seen else (True if True in seen else None)
        if overall is True:
            reason = None
        self.store.save_verdicts(participant_id, verdicts, overall)
        level = logging.WARNING if overall is False else logging.INFO
        log.log(
            level,
            "participant %s replayed: verified=%s%s",
            participant_id,
            overall,
            f" ({reason})" if reason else "",
        )
        return overall

    async def close(self, timeout_s: float = 30.0) -> None:
        """Wait (a while) for the replays under way, at shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
