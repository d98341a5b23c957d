"""The export's view of groups: the ``groups`` table, and which group each row belongs to.

The other half of :mod:`interactive_gym.data.groups` (what is stored) for
:mod:`interactive_gym.data.tables` (what is exported). Records the server writes for a group's
games are owned by the group id: their rows get ``participant_id`` None and ``group_id`` the
group. A member's own records of a group scene (their inputs, their copy of the game's events)
keep their ``participant_id`` and get ``group_id`` too: the member's latest group that played
that scene (the scene is in the group's ``scenes``, or the group has records of it, as a group
still playing does).

Exports without groups are unchanged: no ``groups`` table and no ``group_id`` column.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from interactive_gym.data.groups import Group, recorded_scenes
from interactive_gym.data.store import Store

GROUP_ID = "group_id"


def group_row(group: Group) -> dict[str, Any]:
    """One row of the ``groups`` table (``tables.GROUP_COLUMNS``)."""
    return {
        "group_id": group.group_id,
        "experiment_id": group.experiment_id,
        "waiting_room": group.room_id,
        "condition": group.condition,
        "formed_at": group.formed_at,
        "ended_at": group.ended_at,
        "ended_how": group.ended_how,
        "members": group.member_ids,
        "agents": {m.participant_id: m.agent_id for m in group.members},
        "waited_s": {m.participant_id: m.waited_s for m in group.members},
        "stand_ins": dict(group.stand_ins),
        "scenes": dict(group.scenes),
        "left": dict(group.left),
    }


class GroupIndex:
    """The groups of an export (of one experiment, or all), and who owns each record.

    With ``participants``, only the groups with at least one of them as a member (an export of
    some participants: their groups, and so their group games' rows, come with them).
    """

    def __init__(
        self,
        store: Store,
        experiment_id: str | None = None,
        participants: Collection[str] | None = None,
    ) -> None:
        self.groups = store.groups(experiment_id)
        if participants is not None:
            chosen = set(participants)
            self.groups = [g for g in self.groups if not chosen.isdisjoint(g.member_ids)]
        self.ids = {g.group_id for g in self.groups}
        self._of: dict[str, list[Group]] = {}
        for group in self.groups:
            for participant_id in group.member_ids:
                self._of.setdefault(participant_id, []).append(group)
        recorded = recorded_scenes(store.engine, experiment_id) if self.groups else {}
        self._scenes = {
            g.group_id: set(g.scenes) | recorded.get(g.group_id, set()) for g in self.groups
        }

    def rows(self) -> Iterator[dict[str, Any]]:
        """The ``groups`` table, in the order the groups were formed."""
        return map(group_row, self.groups)

    def group_ids(self, participant_id: str) -> list[str]:
        """The participant's groups, in the order they were formed."""
        return [g.group_id for g in self._of.get(participant_id, [])]

    def __bool__(self) -> bool:
        """Whether the export has groups (and so a ``groups`` table and ``group_id`` columns)."""
        return bool(self.groups)

    def owner(self, record: dict[str, Any]) -> dict[str, Any]:
        """``participant_id`` (None for a group's own record) and, with groups, ``group_id``."""
        owner = record["participant_id"]
        if not self.groups:
            return {"participant_id": owner}
        if owner in self.ids:
            return {"participant_id": None, GROUP_ID: owner}
        scene_id = record["scene_id"]
        played = [g for g in self._of.get(owner, []) if scene_id in self._scenes[g.group_id]]
        return {"participant_id": owner, GROUP_ID: played[-1].group_id if played else None}

    def reserved(self, fixed: Collection[str], group_id: str | None, data: dict) -> set[str]:
        """The names a row's data keys must not take (see ``tables.flatten``): a data key
        ``group_id`` keeps its name only where it holds the row's own group (as the server's
        group step records do), and is ``data_group_id`` otherwise in exports with groups."""
        if self.groups and data.get(GROUP_ID, group_id) != group_id:
            return {*fixed, GROUP_ID}
        return set(fixed)
