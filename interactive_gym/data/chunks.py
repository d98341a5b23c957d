"""Writing chunks: idempotent, many per transaction, with as little per-row work as possible.

A chunk's key ``(participant_id, seq)`` goes into ``chunks`` with ``ON CONFLICT DO NOTHING
RETURNING``; only the chunks that were inserted get their records written, in the same
transaction. The statements are plain SQL that SQLite (3.35+) and PostgreSQL both accept, sent
straight to the driver: the server writes thousands of records a second, and compiling
statements or processing parameters row by row would cost more than the database itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, tuple_

from interactive_gym.data.models import ChunkRow
from interactive_gym.data.records import Record, RecordError

CHUNK_COLUMNS = ("participant_id", "seq", "chunk_id", "n_records", "n_bytes", "received_at")
RECORD_COLUMNS = (
    "participant_id",
    "seq",
    "idx",
    "kind",
    "scene_id",
    "episode",
    "attempt",
    "step",
    "t",
    "data",
    "received_at",
)
#: Rows per INSERT statement: one statement per group rather than per row (the driver releases
#: and retakes the GIL per statement, while the event loop thread wants it too). 64 rows of 11
#: parameters stay under SQLite's oldest limit of 999 parameters.
ROWS_PER_INSERT = 64
#: Most chunks written in one transaction.
MAX_BATCH = 1000
#: Sequence numbers of the chunks the server writes itself for the games it runs (the server
#: runtime's step and episode records), in the order written. Uploads use 0 and up; the
#: records stored with an advance use ``-1 - scene_index``.
SERVER_GAME_SEQS = range(-(2**31), -(2**30))


class SeqConflict(RecordError):
    """``seq`` already holds a different chunk (another ``chunk_id``): the sender must renumber.

    ``next_seq`` is the first sequence number after every chunk stored for the participant.
    """

    def __init__(self, participant_id: str, seq: int, next_seq: int) -> None:
        super().__init__(f"seq: {seq} already holds another chunk; next free seq is {next_seq}")
        self.participant_id = participant_id
        self.seq = seq
        self.next_seq = next_seq


@dataclass(frozen=True)
class Chunk:
    """A validated chunk waiting to be written.

    ``chunk_id`` (optional, up to 64 characters) is chosen by the sender when it cuts the chunk
    and kept across resends; a different id under a stored ``seq`` is a conflict, not a resend.
    """

    participant_id: str
    seq: int
    records: list[Record] = field(default_factory=list)
    chunk_id: str | None = None

    @property
    def size(self) -> int:
        """Bytes of record data (what counts towards the participant's quota)."""
        return sum(r.size for r in self.records)


class ChunkWriterSQL:
    """The SQL that writes chunks, for one database dialect."""

    def __init__(self, dialect: str, paramstyle: str) -> None:
        self.sqlite = dialect == "sqlite"
        self.mark = "?" if paramstyle == "qmark" else "%s"
        self._statements: dict[tuple[str, int], str] = {}

    def _values(self, table: str, columns: Sequence[str], rows: int, tail: str = "") -> str:
        key = (table, rows)
        sql = self._statements.get(key)
        if sql is None:
            one = "({})".format(", ".join([self.mark] * len(columns)))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)}"
            sql += tail
            self._statements[key] = sql
        return sql

    def timestamp(self, moment: datetime) -> Any:
        """A time as the driver takes it (SQLite: SQLAlchemy's text form of a UTC time)."""
        if self.sqlite:
            return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    def write(self, conn: Connection, chunks: Sequence[Chunk]) -> list[bool | SeqConflict]:
        """Write up to MAX_BATCH chunks in the caller's transaction (see Store.write_chunks)."""
        now = self.timestamp(datetime.now(UTC))
        first: dict[tuple[str, int], int] = {}
        for i, chunk in enumerate(chunks):
            if not chunk.participant_id:
                raise RecordError("participant_id: must not be empty")
            first.setdefault((chunk.participant_id, chunk.seq), i)
        keys = [
            (pid, seq, chunks[i].chunk_id, len(chunks[i].records), chunks[i].size, now)
            for (pid, seq), i in first.items()
        ]
        inserted: set[tuple[str, int]] = set()
        for start in range(0, len(keys), ROWS_PER_INSERT):
            part = keys[start : start + ROWS_PER_INSERT]
            sql = self._values(
                "chunks",
                CHUNK_COLUMNS,
                len(part),
                " ON CONFLICT (participant_id, seq) DO NOTHING RETURNING participant_id, seq",
            )
            result = conn.exec_driver_sql(sql, tuple(v for row in part for v in row))
            inserted.update((pid, seq) for pid, seq in result.all())
        rows = [
            (pid, seq, idx, r.kind, r.scene_id, r.episode, r.attempt, r.step, r.t, r.data_json, now)
            for (pid, seq), i in first.items()
            if (pid, seq) in inserted
            for idx, r in enumerate(chunks[i].records)
        ]
        for start in range(0, len(rows), ROWS_PER_INSERT):
            batch = rows[start : start + ROWS_PER_INSERT]
            sql = self._values("records", RECORD_COLUMNS, len(batch))
            conn.exec_driver_sql(sql, tuple(v for row in batch for v in row))
        return self._outcomes(conn, chunks, first, inserted)

    def _outcomes(
        self,
        conn: Connection,
        chunks: Sequence[Chunk],
        first: dict[tuple[str, int], int],
        inserted: set[tuple[str, int]],
    ) -> list[bool | SeqConflict]:
        """Per chunk: stored now (True), a resend (False), or a conflict with another chunk."""
        held = held_ids(conn, [k for k in first if k not in inserted])
        held.update({key: chunks[i].chunk_id for key, i in first.items() if key in inserted})

        def clash(c: Chunk) -> bool:
            return c.chunk_id is not None and held.get((c.participant_id, c.seq)) not in (
                None,
                c.chunk_id,
            )

        next_seq = next_seqs(conn, {c.participant_id for c in chunks if clash(c)})
        outcomes: list[bool | SeqConflict] = []
        for i, c in enumerate(chunks):
            key = (c.participant_id, c.seq)
            if clash(c):
                outcomes.append(SeqConflict(c.participant_id, c.seq, next_seq[c.participant_id]))
            else:
                outcomes.append(first[key] == i and key in inserted)
        return outcomes


def held_ids(conn: Connection, keys: list[tuple[str, int]]) -> dict[tuple[str, int], str | None]:
    """The chunk ids stored under the given keys."""
    held: dict[tuple[str, int], str | None] = {}
    for start in range(0, len(keys), 200):
        part = keys[start : start + 200]
        query = select(ChunkRow.participant_id, ChunkRow.seq, ChunkRow.chunk_id).where(
            tuple_(ChunkRow.participant_id, ChunkRow.seq).in_(part)
        )
        held.update({(pid, seq): cid for pid, seq, cid in conn.execute(query).all()})
    return held


def next_seqs(conn: Connection, participant_ids: set[str]) -> dict[str, int]:
    """For each participant, one more than the highest stored seq."""
    if not participant_ids:
        return {}
    query = (
        select(ChunkRow.participant_id, func.max(ChunkRow.seq))
        .where(ChunkRow.participant_id.in_(sorted(participant_ids)))
        .group_by(ChunkRow.participant_id)
    )
    return {pid: top + 1 for pid, top in conn.execute(query).all()}
