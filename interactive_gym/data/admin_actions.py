"""What the researcher's actions change in the database: exclusion, and resetting a participant.

The other half of :mod:`interactive_gym.admin.actions` (the console's HTTP actions, which
check, confirm and audit them). Each function is one transaction on SQLite or PostgreSQL and
runs in a worker thread, never on the event loop.

- **Exclude / include.** An excluded participant is kept, with all their data; the
  ``participants`` row gets ``excluded``, ``excluded_reason`` and ``excluded_at``, which the
  export shows. Including them again clears the three.
- **Reset.** Every row of the participant (``participants``, ``chunks``, ``records``,
  ``verifications``, ``group_members``, and their entries in the ``members`` and ``left`` of
  their groups) moves to the id ``<id>~reset-<n>`` (``n`` = 1, 2, …, the first one free) in one
  transaction, and the moved participant row gets ``reset_at``. The original id is then unknown
  to the database, so the participant's next visit starts the study afresh under it (see
  ``interactive_gym.server.participants``), while the data of the earlier run stays, complete,
  under the new id. ``~`` is never part of a participant id the entry accepts, so no visitor
  can take the moved id. Records a group owns (the group's own game rows) are kept as recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from interactive_gym.data.groups import MAX_ID
from interactive_gym.data.models import (
    ChunkRow,
    GroupMemberRow,
    GroupRow,
    ParticipantRow,
    RecordRow,
    VerificationRow,
    utcnow,
)
from interactive_gym.data.store import Participant, Store, UnknownParticipant

#: Longest reason an exclusion may give.
MAX_REASON = 500
#: What a reset appends to the id the earlier run's data moves to (then 1, 2, …).
RESET_MARK = "~reset-"
#: Tables whose rows are a participant's own, keyed by ``participant_id``.
OWNED = (ChunkRow, RecordRow, VerificationRow, GroupMemberRow)


class ActionRefused(ValueError):
    """The action cannot be done as asked; the message names the field."""


@dataclass(frozen=True)
class ResetDone:
    """A reset: the participant as moved (new id, ``reset_at`` set) and the rows moved."""

    participant: Participant
    #: ``{table: rows moved}``
    moved: dict[str, int]


def check_reason(reason: object) -> str:
    """The exclusion's reason: text of 1 to :data:`MAX_REASON` characters (trimmed)."""
    if not isinstance(reason, str) or not reason.strip():
        raise ActionRefused("reason: expected a non-empty text saying why")
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise ActionRefused(f"reason: at most {MAX_REASON} characters, got {len(text)}")
    return text


def _found(store: Store, participant_id: str) -> Participant:
    found = store.get_participant(participant_id)
    if found is None:
        raise UnknownParticipant(f"participant {participant_id!r} does not exist")
    return found


def _set(store: Store, participant_id: str, **values: object) -> Participant:
    with store.engine.begin() as conn:
        result = conn.execute(
            update(ParticipantRow)
            .where(ParticipantRow.participant_id == participant_id)
            .values(**values)
        )
    if result.rowcount == 0:
        raise UnknownParticipant(f"participant {participant_id!r} does not exist")
    return _found(store, participant_id)


def exclude(store: Store, participant_id: str, reason: str) -> Participant:
    """Flag the participant excluded, with ``reason`` (excluding again replaces the reason)."""
    return _set(
        store,
        participant_id,
        excluded=True,
        excluded_reason=check_reason(reason),
        excluded_at=utcnow(),
    )


def include(store: Store, participant_id: str) -> Participant:
    """Clear the participant's exclusion (nothing changes for one not excluded)."""
    return _set(store, participant_id, excluded=False, excluded_reason=None, excluded_at=None)


def is_reset_id(participant_id: str) -> bool:
    """Whether the id is the kept data of a reset (``<id>~reset-<n>``)."""
    return RESET_MARK in participant_id


def reset_id(participant_id: str, n: int = 1) -> str:
    """The id the ``n``-th reset of the participant moves their data to."""
    return f"{participant_id}{RESET_MARK}{n}"


def _taken(conn: Connection, participant_id: str) -> bool:
    """Whether rows are stored under the id (each look-up an equality on an indexed key)."""
    for table in (ParticipantRow, *OWNED):
        query = select(table.participant_id).where(table.participant_id == participant_id)
        if conn.execute(query.limit(1)).first() is not None:
            return True
    return False


def check_resettable(participant_id: str) -> None:
    """Refuse (:class:`ActionRefused`) an id a reset cannot move: one holding the data of an
    earlier reset, or one too long to take the reset mark."""
    if is_reset_id(participant_id):
        raise ActionRefused(
            f"participant_id: {participant_id!r} holds the data of an earlier reset; "
            "reset the participant's current id instead"
        )
    if len(reset_id(participant_id)) > MAX_ID:
        raise ActionRefused(
            f"participant_id: {participant_id!r} is too long to reset (the id its data moves "
            f"to would be longer than {MAX_ID} characters)"
        )


def _move_in_groups(conn: Connection, old: str, new: str) -> int:
    """``old`` becomes ``new`` in the ``members`` and ``left`` of the groups of ``new``;
    returns how many groups changed."""
    query = (
        select(GroupRow.group_id, GroupRow.members, GroupRow.left)
        .join(GroupMemberRow, GroupMemberRow.group_id == GroupRow.group_id)
        .where(GroupMemberRow.participant_id == new)
    )
    groups = conn.execute(query).all()
    for group_id, members, left in groups:
        moved = [
            {**m, "participant_id": new} if m.get("participant_id") == old else m
            for m in members or []
        ]
        gone = {(new if pid == old else pid): scene for pid, scene in (left or {}).items()}
        conn.execute(
            update(GroupRow).where(GroupRow.group_id == group_id).values(members=moved, left=gone)
        )
    return len(groups)


def reset(store: Store, participant_id: str) -> ResetDone:
    """Move every row of the participant to ``<id>~reset-<n>`` in one transaction and set
    ``reset_at`` on it; the original id is free afterwards."""
    check_resettable(participant_id)
    now = utcnow()
    where = ParticipantRow.participant_id == participant_id
    moved: dict[str, int] = {}
    with store.engine.begin() as conn:
        # Lock the row first (an update that changes nothing), as ``groups.update_group`` does,
        # so a concurrent reset of the same participant waits and then finds nobody.
        locked = conn.execute(
            update(ParticipantRow).where(where).values(participant_id=ParticipantRow.participant_id)
        )
        if locked.rowcount == 0:
            raise UnknownParticipant(f"participant {participant_id!r} does not exist")
        n = 1
        while _taken(conn, reset_id(participant_id, n)):
            n += 1
        new_id = reset_id(participant_id, n)
        if len(new_id) > MAX_ID:  # <id>~reset-10 and on: one digit longer than checked
            raise ActionRefused(
                f"participant_id: {participant_id!r} is too long to reset again (the id its "
                f"data would move to, {new_id!r}, is longer than {MAX_ID} characters)"
            )
        conn.execute(
            update(ParticipantRow).where(where).values(participant_id=new_id, reset_at=now)
        )
        moved[ParticipantRow.__tablename__] = 1
        for table in OWNED:
            result = conn.execute(
                update(table)
                .where(table.participant_id == participant_id)
                .values(participant_id=new_id)
            )
            moved[table.__tablename__] = result.rowcount
        moved[GroupRow.__tablename__] = _move_in_groups(conn, participant_id, new_id)
    return ResetDone(_found(store, new_id), moved)
