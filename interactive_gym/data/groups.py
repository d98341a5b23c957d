"""Groups of participants who play group games together: what is stored of them.

A waiting room forms a group (``interactive_gym.server.groups`` is the other half, which
decides who plays together); this module stores it in the ``groups`` table (one row per group,
its members in role order) and ``group_members`` (one row per member: which groups a
participant was in). The records of a group's games are stored with the group id as their
owner (the ``participant_id`` key of ``records`` and ``chunks``), so the export tells them
apart by that id (``interactive_gym.data.group_tables``).

:class:`~interactive_gym.data.store.Store` calls these functions (``create_group``,
``update_group``, ...); each is one short transaction on SQLite or PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from types import EllipsisType
from typing import Any

from sqlalchemy import Engine, RowMapping, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from interactive_gym.data.models import GroupMemberRow, GroupRow, RecordRow, aware, utcnow

#: Longest id (group, participant, experiment, room, scene) a group row holds.
MAX_ID = 128


class GroupExists(ValueError):
    """``create_group`` was called with a group id that is already taken."""


class UnknownGroup(LookupError):
    """An operation named a group that is not in the database."""


@dataclass(frozen=True)
class GroupMember:
    """One member of a group: who, playing which agent, after waiting how long."""

    participant_id: str
    agent_id: str
    waited_s: float


@dataclass(frozen=True)
class Group:
    """A group as stored (timestamps are timezone-aware UTC)."""

    group_id: str
    experiment_id: str
    #: The waiting room that formed it; the group plays the group scenes of its block.
    room_id: str
    condition: str | None
    #: In role order: the first member plays the room's first human agent, and so on.
    members: tuple[GroupMember, ...]
    #: ``{agent_id: "random" | "python"}``: AI policies playing in place of missing humans.
    stand_ins: dict[str, str]
    formed_at: datetime
    ended_at: datetime | None = None
    #: How the group ended: ``"completed"``, ``"member_left"``, ``"timeout"``, ...
    ended_how: str | None = None
    #: ``{scene_id: how it ended}`` (``"completed"``, ``"member_left"``, ...) per group scene.
    scenes: dict[str, str] = field(default_factory=dict)
    #: ``{participant_id: scene_id}``: members who left, and the group scene they left in.
    left: dict[str, str] = field(default_factory=dict)

    def agent_of(self, participant_id: str) -> str | None:
        """The agent the participant plays in this group (None: not a member)."""
        return next((m.agent_id for m in self.members if m.participant_id == participant_id), None)

    def participant_of(self, agent_id: str) -> str | None:
        """The member playing ``agent_id`` (None: no member does; a stand-in may)."""
        return next((m.participant_id for m in self.members if m.agent_id == agent_id), None)

    @property
    def member_ids(self) -> list[str]:
        """The members' participant ids, in role order."""
        return [m.participant_id for m in self.members]


def _text(value: object, where: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID:
        expected = "1 to 128 characters" + (" or None" if optional else "")
        raise ValueError(f"{where}: expected {expected}, got {value!r}")


def check_group(group: Group) -> None:
    """Raise ValueError naming the field of ``group`` that cannot be stored."""
    _text(group.group_id, "group.group_id")
    _text(group.experiment_id, "group.experiment_id")
    _text(group.room_id, "group.room_id")
    _text(group.condition, "group.condition", optional=True)
    if not isinstance(group.members, tuple) or not group.members:
        raise ValueError(f"group.members: expected a non-empty tuple, got {group.members!r}")
    for i, m in enumerate(group.members):
        if not isinstance(m, GroupMember):
            raise ValueError(f"group.members[{i}]: expected a GroupMember, got {m!r}")
        _text(m.participant_id, f"group.members[{i}].participant_id")
        _text(m.agent_id, f"group.members[{i}].agent_id")
        waited = m.waited_s
        if not isinstance(waited, int | float) or isinstance(waited, bool):
            raise ValueError(f"group.members[{i}].waited_s: expected seconds, got {waited!r}")
        if not math.isfinite(waited) or waited < 0:
            raise ValueError(f"group.members[{i}].waited_s: expected >= 0, got {waited!r}")
    for name in ("participant_id", "agent_id"):
        ids = [getattr(m, name) for m in group.members]
        twice = next((x for x in ids if ids.count(x) > 1), None)
        if twice is not None:
            raise ValueError(f"group.members: {name} {twice!r} appears twice")
    if not isinstance(group.stand_ins, dict):
        raise ValueError(f"group.stand_ins: expected {{agent_id: kind}}, got {group.stand_ins!r}")
    agents = {m.agent_id for m in group.members}
    for agent_id, kind in group.stand_ins.items():
        if not isinstance(kind, str) or not isinstance(agent_id, str):
            raise ValueError(f"group.stand_ins: expected {{agent_id: kind}}, got {agent_id!r}")
        if agent_id in agents:
            raise ValueError(f"group.stand_ins[{agent_id!r}]: agent is played by a member")


def _utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive time is taken as UTC), as every stored time is."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _group(row: RowMapping) -> Group:
    return Group(
        group_id=row["group_id"],
        experiment_id=row["experiment_id"],
        room_id=row["room_id"],
        condition=row["condition"],
        members=tuple(
            GroupMember(m["participant_id"], m["agent_id"], float(m["waited_s"]))
            for m in row["members"]
        ),
        stand_ins=dict(row["stand_ins"] or {}),
        formed_at=aware(row["formed_at"]),  # type: ignore[arg-type]
        ended_at=aware(row["ended_at"]),
        ended_how=row["ended_how"],
        scenes=dict(row["scenes"] or {}),
        left=dict(row["left"] or {}),
    )


def create_group(engine: Engine, group: Group) -> Group:
    """Store a newly formed group and its members; :class:`GroupExists` for a taken id."""
    check_group(group)
    ended_at = None if group.ended_at is None else _utc(group.ended_at)
    stored = replace(group, formed_at=_utc(group.formed_at), ended_at=ended_at)
    values = asdict(stored)  # members become a list of {participant_id, agent_id, waited_s}
    values["members"] = list(values["members"])
    try:
        with engine.begin() as conn:
            conn.execute(insert(GroupRow).values(**values))
            conn.execute(
                insert(GroupMemberRow),
                [{"participant_id": pid, "group_id": group.group_id} for pid in group.member_ids],
            )
    except IntegrityError as exc:
        raise GroupExists(f"group {group.group_id!r} already exists") from exc
    return stored


def get_group(engine: Engine, group_id: str) -> Group | None:
    """The group, or None when the id is unknown."""
    with engine.connect() as conn:
        row = conn.execute(select(GroupRow).where(GroupRow.group_id == group_id)).first()
    return None if row is None else _group(row._mapping)


def list_groups(engine: Engine, experiment_id: str | None = None) -> list[Group]:
    """Every group (of one experiment), in the order they were formed."""
    query = select(GroupRow).order_by(GroupRow.formed_at, GroupRow.group_id)
    if experiment_id is not None:
        query = query.where(GroupRow.experiment_id == experiment_id)
    with engine.connect() as conn:
        return [_group(row._mapping) for row in conn.execute(query)]


def groups_of(engine: Engine, participant_id: str) -> list[Group]:
    """The groups the participant was a member of, in the order they were formed."""
    query = (
        select(GroupRow)
        .join(GroupMemberRow, GroupMemberRow.group_id == GroupRow.group_id)
        .where(GroupMemberRow.participant_id == participant_id)
        .order_by(GroupRow.formed_at, GroupRow.group_id)
    )
    with engine.connect() as conn:
        return [_group(row._mapping) for row in conn.execute(query)]


def update_group(
    engine: Engine,
    group_id: str,
    *,
    condition: str | None | EllipsisType = ...,
    ended_at: datetime | None | EllipsisType = ...,
    ended_how: str | None | EllipsisType = ...,
    scene: tuple[str, str] | None = None,
    left: tuple[str, str] | None = None,
) -> Group:
    """Change a group in one transaction and return it as stored now.

    ``condition``, ``ended_at`` and ``ended_how`` are set when given (``...``: unchanged);
    ``ended_how`` given without ``ended_at`` on a group not yet ended sets ``ended_at`` to now.
    ``scene=(scene_id, how)`` records how a group scene ended and ``left=(participant_id,
    scene_id)`` that a member left in that scene; each keeps the first outcome stored, so a
    repeated or later report (another member's) does not change it.

    The row is locked first (an update that changes nothing), so concurrent updates of one
    group are applied one after the other and none is lost, on SQLite and PostgreSQL.
    """
    if condition is not ...:
        _text(condition, "condition", optional=True)
    if ended_how is not ...:
        _text(ended_how, "ended_how", optional=True)
    if ended_at is not ... and ended_at is not None and not isinstance(ended_at, datetime):
        raise ValueError(f"ended_at: expected a datetime or None, got {ended_at!r}")
    for name, pair in (("scene", scene), ("left", left)):
        if pair is not None:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(f"{name}: expected a pair of strings, got {pair!r}")
            _text(pair[0], f"{name}[0]")
            _text(pair[1], f"{name}[1]")
    where = GroupRow.group_id == group_id
    with engine.begin() as conn:
        locked = conn.execute(update(GroupRow).where(where).values(group_id=GroupRow.group_id))
        if locked.rowcount == 0:
            raise UnknownGroup(f"group {group_id!r} does not exist")
        group = _group(conn.execute(select(GroupRow).where(where)).one()._mapping)
        values: dict[str, Any] = {}
        if condition is not ...:
            values["condition"] = condition
        if ended_how is not ...:
            values["ended_how"] = ended_how
            if ended_how is not None and ended_at is ... and group.ended_at is None:
                values["ended_at"] = utcnow()
        if ended_at is not ...:
            values["ended_at"] = None if ended_at is None else _utc(ended_at)
        if scene is not None and scene[0] not in group.scenes:
            values["scenes"] = {**group.scenes, scene[0]: scene[1]}
        if left is not None:
            if group.agent_of(left[0]) is None:
                raise ValueError(f"left: {left[0]!r} is not a member of group {group_id!r}")
            if left[0] not in group.left:
                values["left"] = {**group.left, left[0]: left[1]}
        if values:
            conn.execute(update(GroupRow).where(where).values(**values))
            group = _group(conn.execute(select(GroupRow).where(where)).one()._mapping)
    return group


def condition_counts(engine: Engine, experiment_id: str) -> dict[str, int]:
    """Groups per condition of one experiment (groups without a condition are not counted)."""
    query = (
        select(GroupRow.condition, func.count())
        .where(GroupRow.experiment_id == experiment_id)
        .where(GroupRow.condition.is_not(None))
        .group_by(GroupRow.condition)
    )
    with engine.connect() as conn:
        return {c: n for c, n in conn.execute(query).all() if c is not None}


def recorded_scenes(engine: Engine, experiment_id: str | None = None) -> dict[str, set[str]]:
    """``{group_id: scene ids}``: the scenes each group (of one experiment) has records of."""
    query = (
        select(RecordRow.participant_id, RecordRow.scene_id)
        .join(GroupRow, GroupRow.group_id == RecordRow.participant_id)
        .distinct()
    )
    if experiment_id is not None:
        query = query.where(GroupRow.experiment_id == experiment_id)
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for group_id, scene_id in conn.execute(query).all():
            found.setdefault(group_id, set()).add(scene_id)
    return found
