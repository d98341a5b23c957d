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
from datetime import datetime
from pathlib import Path
from types import EllipsisType
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import Text

from interactive_gym.data import groups as group_store
from interactive_gym.data.chunks import MAX_BATCH, Chunk, ChunkWriterSQL, SeqConflict
from interactive_gym.data.groups import Group
from interactive_gym.data.models import (
    ChunkRow,
    ParticipantRow,
    RecordRow,
    VerificationRow,
    aware,
    utcnow,
)
from interactive_gym.data.records import (
    Limits,
    validate_chunk_id,
    validate_records,
    validate_seq,
)
from interactive_gym.data.schema import upgrade
from interactive_gym.data.sqlite_files import prepare_sqlite_file, sqlite_path

DEFAULT_URL = "sqlite:///data/interactive_gym.db"
STATUSES = ("active", "completed")
#: Participant fields that :meth:`Store.update_participant` may change.
UPDATABLE = frozenset(
    {
        "status",
        "condition",
        "scene_index",
        "scene_id",
        "scene_order",
        "completed_at",
        "url_params",
    }
)


class ParticipantExists(ValueError):
    """``create_participant`` was called for an id that is already taken."""


class UnknownParticipant(LookupError):
    """An operation named a participant that is not in the database."""


class StaleProgress(RuntimeError):
    """The participant was no longer where the caller thought (moved on, or completed)."""


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
    #: The participant's device binding (grows when they move to another browser).
    device: int = 0
    #: Released by the researcher: the next browser to start the study takes it over.
    released: bool = False
    completion_code: str | None = None
    verified: bool | None = None
    #: Excluded by the researcher (see ``interactive_gym.data.admin_actions``).
    excluded: bool = False
    excluded_reason: str | None = None
    excluded_at: datetime | None = None
    #: When the researcher reset the participant (set on the rows kept as ``<id>~reset-<n>``).
    reset_at: datetime | None = None


@dataclass(frozen=True)
class EpisodeCount:
    """What is stored of one run of one episode of a game scene."""

    episode: int
    attempt: int
    #: Step records stored, and the highest step number among them (None: no steps).
    steps: int
    last_step: int | None
    #: The ``data`` of the episode's summary record (None: no summary stored).
    summary: dict[str, Any] | None


@dataclass(frozen=True)
class Verdict:
    """The replay of one recorded episode (see ``interactive_gym.replay``)."""

    participant_id: str
    scene_id: str
    episode: int
    attempt: int
    verified: bool | None
    reason: str | None = None


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
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        updated_at=aware(row.updated_at),  # type: ignore[arg-type]
        completed_at=aware(row.completed_at),
        scene_id=row.scene_id,
        device=row.device or 0,
        released=bool(row.released),
        completion_code=row.completion_code,
        verified=row.verified,
        excluded=bool(row.excluded),
        excluded_reason=row.excluded_reason,
        excluded_at=aware(row.excluded_at),
        reset_at=aware(row.reset_at),
    )


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, file 0600, parent folder created 0700) or PostgreSQL.

    Other databases are refused. See :mod:`interactive_gym.data.sqlite_files` for the modes.
    """
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
        # The file (0600) and any missing folder (0700) exist before SQLite opens it.
        path: Path = sqlite_path(database)
        prepare_sqlite_file(path)
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
        upgrade(self.engine)
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
            "device": 0,
        }
        try:
            with self.engine.begin() as conn:
                # After a reset (data/admin_actions.py) the kept copy holds the old device
                # number: a fresh start gets the next one, so the old run's pages are refused.
                copies = ParticipantRow.participant_id.startswith(
                    f"{participant_id}~reset-", autoescape=True
                )
                old = conn.execute(select(func.max(ParticipantRow.device)).where(copies)).scalar()
                values["device"] = 0 if old is None else old + 1
                conn.execute(insert(ParticipantRow).values(**values))
        except IntegrityError as exc:
            raise ParticipantExists(f"participant {participant_id!r} already exists") from exc
        return Participant(**values)  # type: ignore[arg-type]

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

    def advance_participant(
        self,
        participant_id: str,
        *,
        from_index: int,
        records: Sequence[dict[str, Any]] = (),
        **fields: Any,
    ) -> bool:
        """Move an active participant on from scene ``from_index``, storing ``records`` with it.

        One transaction: the progress fields change only if the participant is still active at
        ``from_index`` (else :class:`StaleProgress`), and ``records`` (validated like uploaded
        ones; what the server itself checked, such as a survey's answers) are stored as the
        server's chunk for that scene, ``seq = -1 - from_index``, so a repeated advance can
        never store them twice. Returns True.
        """
        unknown = sorted(set(fields) - UPDATABLE)
        if unknown:
            raise TypeError(f"advance_participant: unknown field {unknown[0]!r}")
        fields["updated_at"] = utcnow()
        chunk = Chunk(participant_id, -1 - from_index, validate_records(list(records), self.limits))
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ParticipantRow)
                .where(ParticipantRow.participant_id == participant_id)
                .where(ParticipantRow.scene_index == from_index)
                .where(ParticipantRow.status == "active")
                .values(**fields)
            )
            if result.rowcount == 0:
                raise StaleProgress(f"participant {participant_id!r} is not at scene {from_index}")
            if chunk.records:
                self._sql.write(conn, [chunk])
        return True

    def complete_participant(self, participant_id: str, completion_code: str) -> Participant:
        """Mark an active participant completed with their code (a completed one is kept)."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                update(ParticipantRow)
                .where(ParticipantRow.participant_id == participant_id)
                .where(ParticipantRow.status == "active")
                .values(
                    status="completed",
                    completion_code=completion_code,
                    completed_at=now,
                    updated_at=now,
                )
            )
        found = self.get_participant(participant_id)
        if found is None:
            raise UnknownParticipant(f"participant {participant_id!r} does not exist")
        return found

    def move_device(self, participant_id: str, *, release: bool = False) -> int:
        """Bind the participant to a new browser: every token issued before stops working.

        With ``release`` the participant waits, released, for the next browser that starts
        the study (:meth:`claim_released`). Returns the new device binding.
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ParticipantRow)
                .where(ParticipantRow.participant_id == participant_id)
                .values(
                    device=func.coalesce(ParticipantRow.device, 0) + 1,
                    released=release,
                    updated_at=utcnow(),
                )
                .returning(ParticipantRow.device)
            )
            device = result.scalar()
        if device is None:
            raise UnknownParticipant(f"participant {participant_id!r} does not exist")
        return int(device)

    def claim_released(self, participant_id: str) -> bool:
        """Bind a released participant to the browser asking; False if not released (now)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ParticipantRow)
                .where(ParticipantRow.participant_id == participant_id)
                .where(ParticipantRow.released.is_(True))
                .values(released=False, updated_at=utcnow())
            )
        return result.rowcount == 1

    def condition_counts(self, experiment_id: str) -> dict[str, int]:
        """Participants per condition, counting completed and in-progress ones (not the kept
        copies of participants the researcher reset: the person starts again and counts once)."""
        query = (
            select(ParticipantRow.condition, func.count())
            .where(ParticipantRow.experiment_id == experiment_id)
            .where(ParticipantRow.condition.is_not(None))
            .where(ParticipantRow.status.in_(STATUSES))
            .where(ParticipantRow.reset_at.is_(None))
            .group_by(ParticipantRow.condition)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {condition: count for condition, count in rows if condition is not None}

    # groups (the logic is in interactive_gym.data.groups) -----------------------------------

    def create_group(self, group: Group) -> Group:
        """Store a newly formed group; :class:`~.groups.GroupExists` for a taken id."""
        return group_store.create_group(self.engine, group)

    def get_group(self, group_id: str) -> Group | None:
        """The group, or None when the id is unknown."""
        return group_store.get_group(self.engine, group_id)

    def groups(self, experiment_id: str | None = None) -> list[Group]:
        """Every group (of one experiment), in the order they were formed."""
        return group_store.list_groups(self.engine, experiment_id)

    def groups_of(self, participant_id: str) -> list[Group]:
        """The groups the participant was a member of, in the order they were formed."""
        return group_store.groups_of(self.engine, participant_id)

    def update_group(
        self,
        group_id: str,
        *,
        condition: str | None | EllipsisType = ...,
        ended_at: datetime | None | EllipsisType = ...,
        ended_how: str | None | EllipsisType = ...,
        scene: tuple[str, str] | None = None,
        left: tuple[str, str] | None = None,
    ) -> Group:
        """Change a group (``...``: unchanged); see :func:`.groups.update_group`."""
        return group_store.update_group(
            self.engine,
            group_id,
            condition=condition,
            ended_at=ended_at,
            ended_how=ended_how,
            scene=scene,
            left=left,
        )

    def group_condition_counts(self, experiment_id: str) -> dict[str, int]:
        """Groups per condition of one experiment."""
        return group_store.condition_counts(self.engine, experiment_id)

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

    def upload_totals(self, participant_id: str) -> tuple[int, int]:
        """``(next_seq, bytes)``: one past the highest uploaded seq, and the data stored.

        ``bytes`` counts every chunk, the server's own included (chunks stored before sizes
        were kept count their records' data).
        """
        top = select(func.max(ChunkRow.seq)).where(ChunkRow.participant_id == participant_id)
        sized = select(func.coalesce(func.sum(ChunkRow.n_bytes), 0)).where(
            ChunkRow.participant_id == participant_id
        )
        unsized = (
            select(func.coalesce(func.sum(func.length(func.cast(RecordRow.data, Text))), 0))
            .join(
                ChunkRow,
                (ChunkRow.participant_id == RecordRow.participant_id)
                & (ChunkRow.seq == RecordRow.seq),
            )
            .where(RecordRow.participant_id == participant_id)
            .where(ChunkRow.n_bytes.is_(None))
        )
        with self.engine.connect() as conn:
            highest = conn.execute(top).scalar()
            size = int(conn.execute(sized).scalar() or 0) + int(conn.execute(unsized).scalar() or 0)
        next_seq = 0 if highest is None or highest < 0 else int(highest) + 1
        return next_seq, size

    def episode_counts(self, participant_id: str, scene_id: str) -> list[EpisodeCount]:
        """Per (episode, attempt) of a game scene: the steps and the summary stored."""
        steps = (
            select(RecordRow.episode, RecordRow.attempt, func.count(), func.max(RecordRow.step))
            .where(RecordRow.participant_id == participant_id)
            .where(RecordRow.scene_id == scene_id)
            .where(RecordRow.kind == "step")
            .group_by(RecordRow.episode, RecordRow.attempt)
        )
        summaries = (
            select(RecordRow.episode, RecordRow.attempt, RecordRow.data)
            .where(RecordRow.participant_id == participant_id)
            .where(RecordRow.scene_id == scene_id)
            .where(RecordRow.kind == "episode")
            .order_by(RecordRow.seq, RecordRow.idx)
        )
        with self.engine.connect() as conn:
            counted = {(e, a): (n, top) for e, a, n, top in conn.execute(steps).all()}
            summary = {(e, a): data for e, a, data in conn.execute(summaries).all()}
        keys = sorted(set(counted) | set(summary), key=lambda k: (k[0] or 0, k[1] or 0))
        return [
            EpisodeCount(e or 0, a or 0, *counted.get((e, a), (0, None)), summary.get((e, a)))
            for e, a in keys
        ]

    def event_types(self, participant_id: str, scene_id: str) -> set[str]:
        """The ``data.type`` of every event record stored for a participant's scene."""
        return {
            str(r["data"].get("type"))
            for r in self.iter_records(participant_id, kind="event", scene_id=scene_id)
        }

    # verifications ------------------------------------------------------------------------

    def save_verdicts(
        self, participant_id: str, verdicts: Sequence[Verdict], overall: bool | None
    ) -> None:
        """Store the replay of a participant's episodes (replacing an earlier one)."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                delete(VerificationRow).where(VerificationRow.participant_id == participant_id)
            )
            if verdicts:
                conn.execute(
                    insert(VerificationRow),
                    [
                        {
                            "participant_id": participant_id,
                            "scene_id": v.scene_id,
                            "episode": v.episode,
                            "attempt": v.attempt,
                            "verified": v.verified,
                            "reason": v.reason,
                            "checked_at": now,
                        }
                        for v in verdicts
                    ],
                )
            conn.execute(
                update(ParticipantRow)
                .where(ParticipantRow.participant_id == participant_id)
                .values(verified=overall)
            )

    def verdicts(self, participant_id: str | None = None) -> list[Verdict]:
        """Stored replay verdicts (of one participant), by participant, scene and episode."""
        query = select(VerificationRow).order_by(
            VerificationRow.participant_id,
            VerificationRow.scene_id,
            VerificationRow.episode,
            VerificationRow.attempt,
        )
        if participant_id is not None:
            query = query.where(VerificationRow.participant_id == participant_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Verdict(r.participant_id, r.scene_id, r.episode, r.attempt, r.verified, r.reason)
            for r in rows
        ]

    def next_seq_in(self, participant_id: str, seqs: range) -> int:
        """The first sequence number of ``seqs`` after every chunk stored in it for the
        participant (``seqs.start`` when none is)."""
        query = (
            select(func.max(ChunkRow.seq))
            .where(ChunkRow.participant_id == participant_id)
            .where(ChunkRow.seq >= seqs.start)
            .where(ChunkRow.seq < seqs.stop)
        )
        with self.engine.connect() as conn:
            highest = conn.execute(query).scalar()
        return seqs.start if highest is None else int(highest) + 1

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
                values["received_at"] = aware(values["received_at"])
                yield values

    def scene_kinds(self) -> list[tuple[str, str]]:
        """Distinct ``(scene_id, kind)`` pairs present in the records."""
        query = select(RecordRow.scene_id, RecordRow.kind).distinct().order_by(RecordRow.scene_id)
        with self.engine.connect() as conn:
            return [(s, k) for s, k in conn.execute(query).all()]
