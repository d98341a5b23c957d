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

A group's games are the group's records (owner: the group id), not a member's. When a group
game's records are all written, the server calls :meth:`Verifier.schedule_group`: a group game
in the browser (``server/net_game.py``: the members' workers ran it, the server wrote the
canonical rows) is replayed from the group's seed (``replay_group``), a group game the server
ran is marked :data:`SERVER_RUNTIME`. Its verdicts are stored like a participant's, with the
group id in place of the participant id (the export's ``episodes`` table finds them by the
record's owner); each call replaces the verdicts of the scenes it checks and keeps the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from interactive_gym.data.store import Store, Verdict
from interactive_gym.replay import replay_group, replay_participant
from interactive_gym.replay._records import group
from interactive_gym.server.groups import Groups
from interactive_gym.server.seated_game import room_stand_ins
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
        # a browser group game's steps are the group's (its members upload none)
        self.scenes = [s for s in games if s.runtime != "server" and not s.is_group]
        self.server_scenes = [s for s in games if s.runtime == "server"]
        self.group_scenes = {s.scene_id: s for s in games if s.is_group}
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

    # a group's games ----------------------------------------------------------------------

    def schedule_group(self, group_id: str, scene_ids: Iterable[str] | None = None) -> None:
        """Replay the group's games of ``scene_ids`` (None: every group scene) soon; call from
        the event loop once the game's step and episode records are all stored."""
        scene_ids = None if scene_ids is None else list(scene_ids)
        task = asyncio.get_running_loop().create_task(self.verify_group(group_id, scene_ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def verify_group(
        self, group_id: str, scene_ids: Iterable[str] | None = None
    ) -> bool | None:
        """Replay and store now; returns the roll-up of the group's stored verdicts."""
        scene_ids = None if scene_ids is None else list(scene_ids)
        async with self._one_at_a_time:
            try:
                return await asyncio.to_thread(self._verify_group, group_id, scene_ids)
            except Exception:  # noqa: BLE001 - a replay must never hurt the server
                log.exception("replaying group %s failed", group_id)
                return None

    def _verify_group(self, group_id: str, scene_ids: list[str] | None) -> bool | None:
        found = self.store.get_group(group_id)
        if found is None:
            log.warning("group %s: no such group, nothing replayed", group_id)
            return None
        wanted = list(self.group_scenes) if scene_ids is None else scene_ids
        unknown = [s for s in wanted if s not in self.group_scenes]
        if unknown:
            log.warning("group %s: %r is not a group scene, not replayed", group_id, unknown[0])
        scenes = [self.group_scenes[s] for s in wanted if s in self.group_scenes]
        ctx = Groups(self.experiment, self.store).context(found)
        records = [
            r
            for scene in scenes
            for kind in ("step", "episode")
            for r in self.store.iter_records(group_id, kind=kind, scene_id=scene.scene_id)
        ]
        verdicts: list[Verdict] = []
        for scene in scenes:
            if scene.runtime == "server":
                verdicts += [
                    Verdict(group_id, scene.scene_id, episode, attempt, True, SERVER_RUNTIME)
                    for episode, attempt in sorted(group(records, scene.scene_id))
                ]
                continue
            room = self.experiment.room_of(scene.scene_id)
            stand_ins: Mapping[str, Any] = room_stand_ins(room, found, ctx.seed, scene.scene_id)
            result = replay_group(
                scene,
                records,
                ctx.seed,
                stand_ins=stand_ins,
                time_limit_s=REPLAY_TIME_LIMIT_S,
            )
            verdicts += [
                Verdict(group_id, v.scene_id, v.episode, v.attempt, v.verified, v.reason)
                for v in result.episodes
            ]
        checked = {s.scene_id for s in scenes}
        kept = [v for v in self.store.verdicts(group_id) if v.scene_id not in checked]
        verdicts = sorted(kept + verdicts, key=lambda v: (v.scene_id, v.episode, v.attempt))
        seen = {v.verified for v in verdicts}
        overall = False if False in seen else (True if True in seen else None)
        # no participant has the group's id: only the verdicts are stored
        self.store.save_verdicts(group_id, verdicts, overall)
        worst = False if overall is False else None
        first = next((v for v in verdicts if v.verified is worst), None)
        level = logging.WARNING if overall is False else logging.INFO
        log.log(
            level,
            "group %s replayed (%s): verified=%s%s",
            group_id,
            ", ".join(sorted(checked)) or "no scenes",
            overall,
            f" ({first.scene_id} episode {first.episode}: {first.reason})" if first else "",
        )
        return overall

    async def close(self, timeout_s: float = 30.0) -> None:
        """Wait (a while) for the replays under way, at shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
