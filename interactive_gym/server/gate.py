"""Which uploaded records a participant may store: the ones their progress allows.

Every record of every uploaded chunk (socket or keep-alive POST) is checked against the
participant's progress before it is written: its scene must be one the participant has reached
(the current one, or an earlier one for records still in flight), its kind must be one the
scene's type uploads (``Scene.record_kinds``: a survey's answers, for one, are stored by the
server from the checked response and never uploaded), the scene may refuse it
(``Scene.check_record``: a game's episode beyond its episodes), and nothing is accepted after
the participant completed. The flow (``flow.py``) tells the gate when a participant moves on.

Progress is cached per participant (a bounded number, least recently used first out) and read
from the database on a miss.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from interactive_gym.data.records import Record
from interactive_gym.data.store import Participant, Store
from interactive_gym.study import Experiment

#: Participants whose progress is kept in memory.
MAX_CACHED = 20_000


@dataclass(frozen=True)
class Progress:
    completed: bool
    reached: frozenset[str]

    @classmethod
    def of(cls, participant: Participant) -> Progress:
        reached = participant.scene_order[: participant.scene_index + 1]
        return cls(participant.status == "completed", frozenset(reached))


class RecordGate:
    """Checks uploaded records against the uploading participant's progress."""

    def __init__(self, experiment: Experiment, store: Store) -> None:
        self.experiment = experiment
        self.store = store
        self._progress: OrderedDict[str, Progress] = OrderedDict()

    def update(self, participant: Participant) -> None:
        """The participant moved on (or completed): check their next records against that."""
        self._progress[participant.participant_id] = Progress.of(participant)
        self._progress.move_to_end(participant.participant_id)
        while len(self._progress) > MAX_CACHED:
            self._progress.popitem(last=False)

    def forget(self, participant_id: str) -> None:
        """Read the participant's progress from the store again next time (they were reset)."""
        self._progress.pop(participant_id, None)

    async def progress(self, participant_id: str) -> Progress | None:
        known = self._progress.get(participant_id)
        if known is not None:
            self._progress.move_to_end(participant_id)
            return known
        found = await asyncio.to_thread(self.store.get_participant, participant_id)
        if found is None or found.experiment_id != self.experiment.experiment_id:
            return None
        self.update(found)
        return self._progress[participant_id]

    async def check(self, participant_id: str, records: Sequence[Record]) -> str | None:
        """Why the participant may not store these records (None: they may)."""
        progress = await self.progress(participant_id)
        if progress is None:
            return "participant: not in this study"
        if progress.completed:
            return "participant: already completed the study; no more records are accepted"
        for i, record in enumerate(records):
            where = f"records[{i}]"
            if record.scene_id not in progress.reached:
                return f"{where}.scene_id: {record.scene_id!r:.60} is not a scene reached yet"
            scene = self.experiment.scenes_by_id.get(record.scene_id)
            if scene is None:
                return f"{where}.scene_id: {record.scene_id!r:.60} is no longer in the study"
            if record.kind not in scene.record_kinds:
                return (
                    f"{where}.kind: {scene.scene_type} scenes do not upload {record.kind!r} records"
                )
            reason = scene.check_record(record.kind, record.episode, record.step)
            if reason is not None:
                return f"{where}: {reason}"
        return None
