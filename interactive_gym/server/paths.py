"""A participant's path through the study, and the condition assigned when they reach it.

A new participant's stored ``scene_order`` holds the scenes before the study's ``Conditions``
block (or every scene, when there is none). When they finish the last of those, they reach the
block: the least-filled condition among the participants who reached it is assigned, and the
path grows to the whole order of that condition. A study that opens with its ``Conditions``
block assigns at the start. One lock makes counting and assigning one step, so concurrent
participants stay balanced. With ``Conditions(per="group")`` a member of a group takes the
condition its group was given when it formed (``groups.py``). Used by the entry
(``participants.py``) and the flow (``flow.py``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from interactive_gym.data.store import Participant, Store
from interactive_gym.study import Experiment

log = logging.getLogger("interactive_gym.paths")


@dataclass(frozen=True)
class Path:
    """A participant's condition (None: none yet, or the study has none) and scene order."""

    condition: str | None
    scene_order: list[str]


class Paths:
    """Builds paths for one experiment and assigns conditions, balanced."""

    def __init__(self, experiment: Experiment, store: Store) -> None:
        self.experiment = experiment
        self.store = store
        self.lock = asyncio.Lock()

    def first(self, participant_id: str) -> Path | None:
        """The path of a new participant, or None when a condition must be assigned now."""
        before = self.experiment.path_before_conditions(participant_id)
        if self.experiment.conditions is not None and not before:
            return None
        return Path(None, before)

    def grows_after(self, participant: Participant, index: int) -> bool:
        """Whether finishing scene ``index`` reaches the Conditions block."""
        return (
            self.experiment.conditions is not None
            and participant.condition is None
            and index + 1 == len(participant.scene_order)
        )

    async def assign(self, participant_id: str) -> Path:
        """A condition for a participant reaching the Conditions block, and their whole path.

        Hold :attr:`lock` from this call until the assignment is stored, so the next
        participant's count includes it.
        """
        assert self.lock.locked(), "hold Paths.lock while assigning and storing a condition"
        condition = await self._group_condition(participant_id)
        if condition is None:
            counts = await asyncio.to_thread(
                self.store.condition_counts, self.experiment.experiment_id
            )
            condition = self.experiment.assign_condition(counts)
        log.info("participant %s reached the conditions: %s", participant_id, condition)
        return Path(condition, self.experiment.scene_order(participant_id, condition))

    async def _group_condition(self, participant_id: str) -> str | None:
        """With ``Conditions(per="group")``: the condition of the participant's group (formed
        in the room before the block, which assigned it balanced over groups); None for a
        participant who has no group there (they are assigned on their own)."""
        room = self.experiment.group_conditions_room
        if room is None:
            return None
        groups = await asyncio.to_thread(self.store.groups_of, participant_id)
        mine = [g for g in groups if g.room_id == room and g.condition is not None]
        return mine[-1].condition if mine else None
