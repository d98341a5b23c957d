"""The groups of a study: formed by the waiting rooms, played by the group games, read by the flow.

:class:`Groups` is the one directory of groups the server keeps: ``waiting_rooms.py`` forms a
group (:meth:`Groups.form`) and hands each waiting participant their :class:`RoomOutcome`
(:meth:`Groups.set_outcome`); the group games find a member's group for a group scene
(:meth:`Groups.group_for`) and build the game with the group's own context
(:meth:`Groups.context`), and record members leaving and scenes ending; the flow
(``group_flow.py``) reads the outcomes and groups to route participants. Groups are stored
(``Store.create_group`` and friends) and cached here; after a restart everything is read back
from the store.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from interactive_gym.data import Group, GroupMember, Store
from interactive_gym.study import Experiment, ParticipantContext
from interactive_gym.study.waiting_room import WaitingRoom, new_group_id

__all__ = ["OUTCOME_KINDS", "Groups", "RoomOutcome", "new_group_id", "role_order"]

log = logging.getLogger("interactive_gym.groups")

#: The outcomes a waiting room gives a participant.
OUTCOME_KINDS = ("matched", "timeout", "not_present", "stand_in")


@dataclass(frozen=True)
class RoomOutcome:
    """How a participant's wait in a room ended.

    ``kind``: ``"matched"`` (in a group), ``"timeout"`` / ``"not_present"`` (no group), or
    ``"stand_in"`` (timed out; a group of one, AI policies playing the other humans).
    ``group_id``/``agent_id``: their group and agent (matched, stand_in).
    """

    kind: str
    group_id: str | None = None
    agent_id: str | None = None
    waited_s: float = 0.0

    def to_client(self, countdown_s: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "group_id": self.group_id,
            "agent_id": self.agent_id,
            "countdown_s": countdown_s,
        }


def role_order(room: WaitingRoom, group_id: str, members: list[Any]) -> list[Any]:
    """``members`` (in arrival order) in role order: as they are (``roles="arrival"``) or
    shuffled with ``random.Random(group_id)`` (``roles="random"``)."""
    ordered = list(members)
    if room.roles == "random":
        random.Random(group_id).shuffle(ordered)
    return ordered


class Groups:
    """The study's groups: formed, looked up per member and scene, and updated as they play."""

    def __init__(self, experiment: Experiment, store: Store) -> None:
        self.experiment = experiment
        self.store = store
        self._groups: dict[str, Group] = {}
        #: (participant_id, room_id) -> their latest group formed there
        self._latest: dict[tuple[str, str], str] = {}
        self._outcomes: dict[tuple[str, str], RoomOutcome] = {}
        self._condition_lock = asyncio.Lock()

    # forming ------------------------------------------------------------------------------

    async def form(
        self,
        room: WaitingRoom,
        members: list[tuple[str, float]],
        stand_ins: dict[str, str] | None = None,
        *,
        group_id: str | None = None,
    ) -> Group:
        """Store a new group of ``members`` ``(participant_id, waited_s)`` in role order.

        Agents: the room's human agents in order, leaving out those ``stand_ins``
        (``{agent_id: "random" | "python"}``) plays. ``group_id``: a fresh one by default
        (the waiting room makes it first when it orders the roles with it).
        """
        stand_ins = dict(stand_ins or {})
        agents = [a for a in room.humans if a not in stand_ins]
        if len(agents) != len(members) or any(a not in room.humans for a in stand_ins):
            raise ValueError(
                f"{room.where}: {len(members)} member(s) and stand-ins for {sorted(stand_ins)} "
                f"do not fill the human agents {room.humans}"
            )
        group_id = group_id or new_group_id()
        group_members = tuple(
            GroupMember(participant_id=pid, agent_id=agent, waited_s=round(waited, 3))
            for (pid, waited), agent in zip(members, agents, strict=True)
        )
        if self._conditions_per_group(room):
            async with self._condition_lock:  # counting and storing: one step
                counts = await asyncio.to_thread(
                    self.store.group_condition_counts, self.experiment.experiment_id
                )
                condition = self.experiment.assign_condition(counts)
                group = self._group(group_id, room, condition, group_members, stand_ins)
                group = await asyncio.to_thread(self.store.create_group, group)
        else:
            condition = await self._shared_condition([pid for pid, _ in members])
            group = self._group(group_id, room, condition, group_members, stand_ins)
            group = await asyncio.to_thread(self.store.create_group, group)
        self._remember(group)
        log.info(
            "group %s formed in %s: %s%s",
            group_id,
            room.scene_id,
            ", ".join(f"{m.participant_id} as {m.agent_id}" for m in group_members),
            f" (stand-ins {stand_ins})" if stand_ins else "",
        )
        return group

    def _group(
        self,
        group_id: str,
        room: WaitingRoom,
        condition: str | None,
        members: tuple[GroupMember, ...],
        stand_ins: dict[str, str],
    ) -> Group:
        return Group(
            group_id=group_id,
            experiment_id=self.experiment.experiment_id,
            room_id=room.scene_id,
            condition=condition,
            members=members,
            stand_ins=stand_ins,
            formed_at=datetime.now(UTC),
        )

    def _conditions_per_group(self, room: WaitingRoom) -> bool:
        conditions = self.experiment.conditions
        return (
            conditions is not None
            and conditions.per == "group"
            and self.experiment.group_conditions_room == room.scene_id
        )

    async def _shared_condition(self, participant_ids: list[str]) -> str | None:
        """The members' condition when they all have the same one, else None."""
        conditions = set()
        for pid in participant_ids:
            participant = await asyncio.to_thread(self.store.get_participant, pid)
            conditions.add(participant.condition if participant is not None else None)
        return conditions.pop() if len(conditions) == 1 else None

    def _remember(self, group: Group) -> None:
        self._groups[group.group_id] = group
        for member in group.members:
            key = (member.participant_id, group.room_id)
            known = self._groups.get(self._latest.get(key, ""))
            if known is None or known.formed_at <= group.formed_at:
                self._latest[key] = group.group_id

    # looking up ---------------------------------------------------------------------------

    def known(self) -> list[Group]:
        """The groups formed (or read back) since the server started, in no order; read-only
        (the admin console lists those not ended)."""
        return list(self._groups.values())

    async def group_for(self, participant_id: str, scene_id: str) -> Group | None:
        """The participant's group for group scene ``scene_id``: their latest group formed in
        the room before it (None: no room before it, or no group there)."""
        room = self.experiment.room_of(scene_id)
        if room is None:
            return None
        return await self.group_in(participant_id, room.scene_id)

    async def group_in(self, participant_id: str, room_id: str) -> Group | None:
        """The participant's latest group formed in room ``room_id`` (None: none)."""
        group_id = self._latest.get((participant_id, room_id))
        if group_id is not None and group_id in self._groups:
            return self._groups[group_id]
        stored = await asyncio.to_thread(self.store.groups_of, participant_id)
        found = [g for g in stored if g.room_id == room_id]
        if not found:
            return None
        for group in found:
            self._remember(group)
        return found[-1]

    async def outcome(self, participant_id: str, room_id: str) -> RoomOutcome | None:
        """How the participant's wait in room ``room_id`` ended (None: still waiting, or never
        came). Known in memory, else read back: their group there, else their stored
        ``waiting_timeout`` event of the room."""
        known = self._outcomes.get((participant_id, room_id))
        if known is not None:
            return known
        group = await self.group_in(participant_id, room_id)
        found: RoomOutcome | None = None
        if group is not None:
            member = next(m for m in group.members if m.participant_id == participant_id)
            kind = "stand_in" if group.stand_ins and len(group.members) == 1 else "matched"
            found = RoomOutcome(kind, group.group_id, member.agent_id, member.waited_s)
        else:
            found = await self._stored_timeout(participant_id, room_id)
        if found is not None:
            self._outcomes[(participant_id, room_id)] = found
        return found

    async def _stored_timeout(self, participant_id: str, room_id: str) -> RoomOutcome | None:
        types = await asyncio.to_thread(self.store.event_types, participant_id, room_id)
        if "waiting_timeout" not in types:
            return None
        records = await asyncio.to_thread(
            self.store.records, participant_id, kind="event", scene_id=room_id
        )
        data = [r["data"] for r in records if r["data"].get("type") == "waiting_timeout"][-1]
        kind = data.get("outcome")
        waited = data.get("waited_s")
        return RoomOutcome(
            kind if kind in ("timeout", "not_present") else "timeout",
            waited_s=float(waited) if isinstance(waited, int | float) else 0.0,
        )

    def set_outcome(self, participant_id: str, room_id: str, outcome: RoomOutcome) -> None:
        """Remember how the participant's wait in the room ended (the room decided it)."""
        if outcome.kind not in OUTCOME_KINDS:
            raise ValueError(f"outcome.kind: expected one of {OUTCOME_KINDS}, got {outcome.kind!r}")
        self._outcomes[(participant_id, room_id)] = outcome

    def forget(self, participant_id: str) -> None:
        """Drop what is remembered of the participant's waits (they were reset): their groups
        and outcomes are read from the store again, under their new id."""
        for key in [k for k in self._latest if k[0] == participant_id]:
            del self._latest[key]
        for key in [k for k in self._outcomes if k[0] == participant_id]:
            del self._outcomes[key]

    # playing ------------------------------------------------------------------------------

    async def member_left(self, group: Group, participant_id: str, scene_id: str) -> Group:
        """Record that ``participant_id`` left ``group`` during group scene ``scene_id``."""
        return await self._update(group, left=(participant_id, scene_id))

    async def scene_ended(self, group: Group, scene_id: str, how: str) -> Group:
        """Record how the group's game of ``scene_id`` ended (``"completed"``,
        ``"member_left"``, ...). The group ends with it when it ended otherwise than
        completed, or when every group scene of its room has ended."""
        updated = await self._update(group, scene=(scene_id, how))
        if updated.ended_at is not None:
            return updated
        stored_how = updated.scenes.get(scene_id, how)  # the first report of the scene counts
        room = self.experiment.rooms.get(updated.room_id)
        if stored_how != "completed":
            return await self._update(updated, ended_how=stored_how)
        if room is not None and all(s in updated.scenes for s in self._scenes_of(updated, room)):
            return await self._update(updated, ended_how="completed")
        return updated

    def _scenes_of(self, group: Group, room: WaitingRoom) -> list[str]:
        """The group scenes the group plays: its room's, in its condition's path."""
        if not self.experiment.condition_names or group.condition is None:
            return list(room.group_scenes)
        order = self.experiment.scene_order(group.members[0].participant_id, group.condition)
        return [s for s in room.group_scenes if s in order]

    async def _update(self, group: Group, **fields: Any) -> Group:
        updated = await asyncio.to_thread(self.store.update_group, group.group_id, **fields)
        self._remember(updated)
        return updated

    def context(self, group: Group) -> ParticipantContext:
        """The context a group's games are built with: every member sees the same episodes."""
        return ParticipantContext(
            participant_id=group.group_id,
            experiment_id=self.experiment.experiment_id,
            seed=self.experiment.group_seed(group.group_id),
            condition=group.condition,
            url_params={},
        )
