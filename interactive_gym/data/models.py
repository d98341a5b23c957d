"""The database tables (SQLAlchemy 2 declarative models).

Six tables hold a study's data, two the admin console's:

- ``participants``: one row per participant (status, condition, URL parameters, progress, the
  browser they are bound to, their completion code and whether their games replayed).
- ``chunks``: one row per uploaded chunk; its primary key ``(participant_id, seq)`` is what
  makes uploads idempotent (a resent chunk collides and is not stored twice).
- ``records``: every record the participant produced, in upload order, keyed by
  ``(participant_id, seq, idx)``. Chunks the browser uploads have ``seq`` >= 0; records the
  server writes itself (the checked answers of a survey) are chunks with negative ``seq``
  (see ``Store.advance_participant``).
- ``verifications``: the server's replay of each recorded game episode (see
  ``interactive_gym.replay``).
- ``groups`` and ``group_members``: the groups a waiting room formed for group games (see
  ``interactive_gym.data.groups``); the records of a group's games are stored with the group id
  as their owner, in ``records`` and ``chunks`` like a participant's.
- ``admin_settings`` and ``admin_audit``: the admin console's password hash, and what every
  admin did (see ``interactive_gym.data.admin_store``).

Columns added after a database was first created are added in place when the store opens it
(``schema.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """The time now, timezone-aware UTC (every stored time is UTC)."""
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """A stored time as timezone-aware UTC (SQLite hands back naive datetimes)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of the Interactive Gym tables."""


class ParticipantRow(Base):
    """A participant and their progress through the study."""

    __tablename__ = "participants"

    participant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    condition: Mapped[str | None] = mapped_column(String(128), nullable=True)
    url_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(BigInteger)
    scene_order: Mapped[list[str]] = mapped_column(JSON, default=list)
    scene_index: Mapped[int] = mapped_column(Integer, default=0)
    scene_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Grows each time the participant moves to (or is released to) another browser; tokens
    #: issued for an older value are refused.
    device: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    #: Released by the researcher: the next browser to start the study takes it over.
    released: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: The completion code shown to the participant, stored when they completed.
    completion_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: Whether every recorded episode replayed as recorded (None: not checked, or nothing to
    #: check); see the ``verifications`` table for each episode.
    verified: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: Excluded from the analysis by the researcher (kept in the data, flagged in the export);
    #: see ``interactive_gym.data.admin_actions``.
    excluded: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    excluded_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    excluded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Set on the moved rows when the researcher reset the participant: the data of their
    #: earlier run, kept under the id ``<id>~reset-<n>``; the original id started afresh.
    reset_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ChunkRow(Base):
    """One acknowledged chunk; its key makes a resent chunk a no-op."""

    __tablename__ = "chunks"

    participant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Random id the browser gave the chunk; tells a resend apart from a reused ``seq``.
    chunk_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    n_records: Mapped[int] = mapped_column(Integer)
    #: Bytes of record data in the chunk (counts towards the participant's storage quota).
    n_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecordRow(Base):
    """One record: a survey answer set, a game step, an episode summary or a scene event."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_kind_scene", "kind", "scene_id"),)

    participant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    scene_id: Mapped[str] = mapped_column(String(128))
    episode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    t: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VerificationRow(Base):
    """The server's replay of one recorded episode: did the env give what was recorded?"""

    __tablename__ = "verifications"

    participant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    scene_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: True: replayed as recorded; False: implausible (see ``reason``); None: not checkable.
    verified: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GroupRow(Base):
    """A group of participants formed by a waiting room (see ``interactive_gym.data.groups``)."""

    __tablename__ = "groups"

    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(String(128), index=True)
    room_id: Mapped[str] = mapped_column(String(128))
    condition: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: ``[{"participant_id", "agent_id", "waited_s"}, ...]`` in role (agent) order.
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: ``{agent_id: "random" | "python"}``: AI policies in place of missing humans.
    stand_ins: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    formed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_how: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: ``{scene_id: how it ended}`` for the group scenes the group finished.
    scenes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: ``{participant_id: scene_id}``: members who left, and the group scene they left in.
    left: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class GroupMemberRow(Base):
    """Which groups a participant was in: the index behind ``Store.groups_of``."""

    __tablename__ = "group_members"

    participant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class AdminSettingRow(Base):
    """One setting of the admin console (the password hash), by key."""

    __tablename__ = "admin_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """One admin action: who (``actor``), when (``at``), what (``action``, ``target``, detail)."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(256), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
