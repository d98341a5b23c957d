"""The study's database: participants and every record they produce.

A synchronous SQLAlchemy 2 store. SQLite by default (a file under ``./data/``, created on demand,
in WAL mode so exports and reads run beside the writer), PostgreSQL by URL
(``postgresql+psycopg://user@host:port/db``). The server calls it from a writer thread, never
from the event loop (see ``interactive_gym.server.ingest``).

Chunks are idempotent: the ``chunks`` table's key ``(participant_id, seq)`` makes a resent chunk
a no-op, and a chunk's records are written in the same transaction as its key, so a chunk is
either fully stored once or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from interactive_gym.data.chunks import MAX_BATCH, Chunk, ChunkWriterSQL, SeqConflict
from interactive_gym.data.models import Base, ChunkRow, ParticipantRow, RecordRow
from interactive_gym.data.records import (
    Limits,
    validate_chunk_id,
    validate_records,
    validate_seq,
)

DEFAULT_URL = "sqlite:///data/interactive_gym.db"
STATUSES = ("active", "completed")
#: Participant fields that :meth:`Store.update_participant` may change.
UPDATABLE = frozenset(
    {"status", "condition", "scene_index", "scene_id", "scene_order", "completed_at", "url_params"}
)


class ParticipantExists(ValueError):
    """``create_participant`` was called for an id that is already taken."""


class UnknownParticipant(LookupError):
    """An operation named a participant that is not in the database."""


@dataclass(frozen=True)
class Participant:
    """A participant as stored (timestamps are timezone-aware UTC)."""

    participant_id: str
    experiment_id: str
    status: str
    condition: str | None
    url_params: dict[str, str]
    seed: int
    scene_order: list[str]
    scene_index: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    scene_id: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _participant(row: ParticipantRow) -> Participant:
    return Participant(
        participant_id=row.participant_id,
        experiment_id=row.experiment_id,
        status=row.status,
        condition=row.condition,
        url_params=dict(row.url_params or {}),
        seed=row.seed,
        scene_order=list(row.scene_order or []),
        scene_index=row.scene_index,
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
        updated_at=_aware(row.updated_at),  # type: ignore[arg-type]
        completed_at=_aware(row.completed_at),
        scene_id=row.scene_id,
    )


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, parent folder created) or PostgreSQL; others are refused."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    if backend != "sqlite":
        raise ValueError(
            f"database URL {parsed.render_as_string(hide_password=True)!r}: expected "
            "sqlite:///path/to/file.db or postgresql+psycopg://user@host:port/dbname"
        )
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory:
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged chunk survives a power cut, not only a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


class Store:
    """Synchronous SQLAlchemy 2 store. SQLite (WAL, file under ./data/ by default) or PostgreSQL.

    Safe to share between threads; every method is one short transaction.
    """

    def __init__(self, url: str = DEFAULT_URL, limits: Limits | None = None) -> None:
        self.url = url
        self.limits = limits or Limits()
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self._sql = ChunkWriterSQL(self.engine.dialect.name, self.engine.dialect.paramstyle)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    # participants -------------------------------------------------------------------------

    def create_participant(
        self,
        participant_id: str,
        experiment_id: str,
        *,
        condition: str | None,
        url_params: dict[str, str],
        seed: int,
        scene_order: list[str],
    ) -> Participant:
        """Add a participant at scene 0; raises :class:`ParticipantExists` for a taken id."""
        if not isinstance(participant_id, str) or not 0 < len(participant_id) <= 128:
            raise ValueError(
                f"participant_id: expected 1 to 128 characters, got {participant_id!r}"
            )
        now = utcnow()
        values = {
            "participant_id": participant_id,
            "experiment_id": experiment_id,
            "status": "active",
            "condition": condition,
            "url_params": dict(url_params),
            "seed": seed,
            "scene_order": list(scene_order),
            "scene_index": 0,
            "scene_id": scene_order[0] if scene_order else None,
            "created_at": now,
            "updated_at": now,
            "completed_at": None,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(ParticipantRow).values(**values))
        except IntegrityError as exc:
            raise ParticipantExists(f"participant {participant_id!r} already exists") from exc
        return Participant(**values)

    def get_participant(self, participant_id: str) -> Participant | None:
        """The participant, or None when the id is unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ParticipantRow).where(ParticipantRow.participant_id == participant_id)
            ).first()
        return None if row is None else _participant(ParticipantRow(**row._mapping))

    def participants(self, experiment_id: str | None = None) -> list[Participant]:
        """Every participant (of one experiment), oldest first."""
        query = select(ParticipantRow).order_by(ParticipantRow.created_at)
        if experiment_id is not None:
            query = query.where(ParticipantRow.experiment_id == experiment_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_participant(ParticipantRow(**row._mapping)) for row in rows]

    def update_participant(self, participant_id: str, **fields: Any) -> None:
        """Change progress fields (scene_index, scene_id, status, completed_at, ...).

        Setting ``status="completed"`` also sets ``completed_at`` unless given.
        """
        unknown = sorted(set(fields) - UPDATABLE)
        if unknown:
            raise TypeError(f"update_participant: unknown field {unknown[0]!r}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"status: expected one of {STATUSES}, got {fields['status']!r}")
        if fields.get("status") == "completed":
            fields.setdefault("completed_at", utcnow())
        fields["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ParticipantRow)
                .where(ParticipantRow.participant_id == participant_id)
                .values(**fields)
            )
        if result.rowcount == 0:
            raise UnknownParticipant(f"participant {participant_id!r} does not exist")

    def condition_counts(self, experiment_id: str) -> dict[str, int]:
        """Participants per condition, counting completed and in-progress ones."""
        query = (
            select(ParticipantRow.condition, func.count())
            .where(ParticipantRow.experiment_id == experiment_id)
            .where(ParticipantRow.condition.is_not(None))
            .where(ParticipantRow.status.in_(STATUSES))
            .group_by(ParticipantRow.condition)
        )
        with self.engine.connect() as conn:
            return {condition: count for condition, count in conn.execute(query).all()}

    # records ------------------------------------------------------------------------------

    def write_chunk(
        self, participant_id: str, seq: int, records: list[dict], chunk_id: str | None = None
    ) -> bool:
        """Validate and store one chunk in one transaction.

        Returns False when ``(participant_id, seq)`` was already stored (nothing is written).
        Raises :class:`RecordError` (naming the field) for invalid records and
        :class:`SeqConflict` when ``seq`` holds a chunk with another ``chunk_id``.
        """
        chunk = Chunk(
            participant_id,
            validate_seq(seq),
            validate_records(records, self.limits),
            validate_chunk_id(chunk_id),
        )
        outcome = self.write_chunks([chunk])[0]
        if isinstance(outcome, SeqConflict):
            raise outcome
        return outcome

    def write_chunks(self, chunks: Sequence[Chunk]) -> list[bool | SeqConflict]:
        """Store many validated chunks in one transaction (group commit).

        Returns, per chunk, True if it was stored now, False if it was a duplicate (stored
        before, or earlier in the same batch, with the same or no ``chunk_id``), or a
        :class:`SeqConflict` (nothing stored) when its ``seq`` holds a different chunk.
        """
        outcomes: list[bool | SeqConflict] = []
        for start in range(0, len(chunks), MAX_BATCH):
            with self.engine.begin() as conn:
                outcomes += self._sql.write(conn, chunks[start : start + MAX_BATCH])
        return outcomes

    def acked_seqs(self, participant_id: str) -> set[int]:
        """Sequence numbers of every chunk stored for the participant."""
        query = select(ChunkRow.seq).where(ChunkRow.participant_id == participant_id)
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def records(
        self,
        participant_id: str | None = None,
        *,
        kind: str | None = None,
        scene_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Stored records, in upload order per participant (see :meth:`iter_records`)."""
        return list(self.iter_records(participant_id, kind=kind, scene_id=scene_id))

    def iter_records(
        self,
        participant_id: str | None = None,
        *,
        kind: str | None = None,
        scene_id: str | None = None,
        batch_size: int = 5000,
    ) -> Iterator[dict[str, Any]]:
        """Stream stored records as dicts, ordered by participant, seq and position."""
        query = select(RecordRow).order_by(RecordRow.participant_id, RecordRow.seq, RecordRow.idx)
        if participant_id is not None:
            query = query.where(RecordRow.participant_id == participant_id)
        if kind is not None:
            query = query.where(RecordRow.kind == kind)
        if scene_id is not None:
            query = query.where(RecordRow.scene_id == scene_id)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(query)
            for row in result:
                values = dict(row._mapping)
                values["received_at"] = _aware(values["received_at"])
                yield values

    def scene_kinds(self) -> list[tuple[str, str]]:
        """Distinct ``(scene_id, kind)`` pairs present in the records."""
        query = select(RecordRow.scene_id, RecordRow.kind).distinct().order_by(RecordRow.scene_id)
        with self.engine.connect() as conn:
            return [(s, k) for s, k in conn.execute(query).all()]
