"""What the admin console reads from the database: participants, their events, episodes and
answers, aggregated. Pure database work (no sockets, no live state): every function is a few
indexed queries, run in a thread by its other half, ``interactive_gym/admin/views.py``.

Step records are never scanned here (there are millions; the live figures come from the
chunks as they are stored). Events, episodes and survey answers are read by ``kind`` (the
``ix_records_kind_scene`` index) and one participant's records by their id (the key).
Bots are participants whose URL parameters hold ``bot`` (``interactive_gym.bots``).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, case, func, null, or_, select, tuple_

from interactive_gym.data.models import (
    ChunkRow,
    GroupRow,
    ParticipantRow,
    RecordRow,
    VerificationRow,
    aware,
)
from interactive_gym.data.store import Store

#: Most timeline entries of one participant (the newest are kept).
MAX_TIMELINE = 2000
#: Distinct answers shown per survey question; the rest are counted as :data:`OTHER`.
MAX_ANSWERS = 30
OTHER = "(other)"


def is_bot(url_params: Mapping[str, Any] | None) -> bool:
    """Whether a participant is a simulated one (``?bot=...`` in their URL)."""
    return bool(url_params) and "bot" in url_params  # type: ignore[operator]


def _column(name: str) -> Any:
    """A participants column that may not exist in this version (read defensively)."""
    column = getattr(ParticipantRow, name, None)
    return column if column is not None else null()


def when(value: datetime | None) -> str | None:
    """A stored time as ISO 8601 text (UTC)."""
    moment = aware(value)
    return moment.isoformat() if moment is not None else None


# participants ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """What the overview needs of one participant."""

    participant_id: str
    status: str
    condition: str | None
    bot: bool
    excluded: bool
    reset: bool
    scene_id: str | None
    scene_index: int
    scene_order: tuple[str, ...]
    created_at: datetime
    completed_at: datetime | None


def participants_key(store: Store, experiment_id: str) -> tuple[Any, ...]:
    """Changes whenever a participant of the experiment is added or changes (one cheap query)."""
    columns: list[Any] = [
        func.count(),
        func.max(ParticipantRow.updated_at),
        func.max(ParticipantRow.created_at),
    ]
    for name in ("excluded_at", "reset_at"):
        if hasattr(ParticipantRow, name):
            columns += [
                func.count(getattr(ParticipantRow, name)),
                func.max(getattr(ParticipantRow, name)),
            ]
    if hasattr(ParticipantRow, "excluded"):
        columns.append(func.sum(case((ParticipantRow.excluded.is_(True), 1), else_=0)))
    query = select(*columns).where(ParticipantRow.experiment_id == experiment_id)
    with store.engine.connect() as conn:
        row = conn.execute(query).one()
    return tuple(str(v) for v in row)


def people(store: Store, experiment_id: str) -> list[Person]:
    """Every participant of the experiment, oldest first."""
    query = (
        select(
            ParticipantRow.participant_id,
            ParticipantRow.status,
            ParticipantRow.condition,
            ParticipantRow.url_params,
            ParticipantRow.scene_id,
            ParticipantRow.scene_index,
            ParticipantRow.scene_order,
            ParticipantRow.created_at,
            ParticipantRow.completed_at,
            _column("excluded"),
            _column("reset_at"),
        )
        .where(ParticipantRow.experiment_id == experiment_id)
        .order_by(ParticipantRow.created_at)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Person(
            participant_id=pid,
            status=status,
            condition=condition,
            bot=is_bot(params),
            excluded=bool(excluded),
            reset=reset_at is not None,
            scene_id=scene_id,
            scene_index=scene_index or 0,
            scene_order=tuple(order or ()),
            created_at=aware(created),  # type: ignore[arg-type]
            completed_at=aware(completed),
        )
        for pid, status, condition, params, scene_id, scene_index, order, created, completed,
        excluded, reset_at in rows
    ]  # fmt: skip


def participant(store: Store, participant_id: str) -> dict[str, Any] | None:
    """Every stored field of one participant (times as ISO text), or None."""
    query = select(ParticipantRow.__table__).where(ParticipantRow.participant_id == participant_id)
    with store.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    found = {k: when(v) if isinstance(v, datetime) else v for k, v in row.items()}
    found.setdefault("excluded", None)
    params = found.get("url_params")
    found["bot"] = is_bot(params if isinstance(params, dict) else None)
    return found


def search(
    store: Store,
    experiment_id: str,
    *,
    q: str | None = None,
    status: str | None = None,
    condition: str | None = None,
    bots: str = "include",
    excluded: str = "include",
) -> list[dict[str, Any]]:
    """Participants matching the filters, newest first: ``q`` in the id or the URL
    parameters; ``bots`` / ``excluded``: ``include``, ``exclude`` or ``only``."""
    query = (
        select(
            ParticipantRow.participant_id,
            ParticipantRow.status,
            ParticipantRow.condition,
            ParticipantRow.url_params,
            ParticipantRow.scene_id,
            ParticipantRow.scene_index,
            ParticipantRow.created_at,
            ParticipantRow.updated_at,
            ParticipantRow.completed_at,
            ParticipantRow.completion_code,
            _column("excluded"),
        )
        .where(ParticipantRow.experiment_id == experiment_id)
        .order_by(ParticipantRow.created_at.desc(), ParticipantRow.participant_id)
    )
    if q:
        query = query.where(
            or_(
                ParticipantRow.participant_id.contains(q, autoescape=True),
                func.cast(ParticipantRow.url_params, Text).contains(q, autoescape=True),
            )
        )
    if status:
        query = query.where(ParticipantRow.status == status)
    if condition:
        query = query.where(ParticipantRow.condition == condition)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    found = []
    for pid, st, cond, params, scene_id, index, created, updated, completed, code, excl in rows:
        bot = is_bot(params)
        if not kept(bot, bots) or not kept(bool(excl), excluded):
            continue
        found.append(
            {
                "participant_id": pid,
                "status": st,
                "condition": cond,
                "url_params": params or {},
                "bot": bot,
                "excluded": bool(excl),
                "scene_id": scene_id,
                "scene_index": index,
                "created_at": when(created),
                "updated_at": when(updated),
                "completed_at": when(completed),
                "completion_code": code,
            }
        )
    return found


def kept(flag: bool, rule: str) -> bool:
    """Whether a filter ``rule`` (``include``, ``exclude`` or ``only``) keeps a participant whose
    flag (bot, excluded) is ``flag``."""
    return rule == "include" or (rule == "only") == flag


# one participant's data --------------------------------------------------------------------


def uploads(store: Store, owner_id: str) -> tuple[dict[str, int], list[tuple[datetime, int]]]:
    """The owner's stored chunks: totals, and ``(received_at, records)`` per chunk."""
    query = select(ChunkRow.seq, ChunkRow.n_records, ChunkRow.received_at).where(
        ChunkRow.participant_id == owner_id
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    totals = {"acked_records": 0, "acked_chunks": 0, "uploaded_records": 0, "server_records": 0}
    for seq, n, _ in rows:
        totals["acked_records"] += n
        totals["acked_chunks"] += 1
        totals["uploaded_records" if seq >= 0 else "server_records"] += n
    return totals, [(aware(at), n) for _, n, at in rows]  # type: ignore[misc]


def records_of(
    store: Store, owner_ids: Iterable[str], kinds: Iterable[str]
) -> list[dict[str, Any]]:
    """The owners' records of the given kinds, in upload order (never steps: see the module)."""
    ids, wanted = list(owner_ids), list(kinds)
    if not ids or not wanted:
        return []
    query = (
        select(RecordRow)
        .where(RecordRow.participant_id.in_(ids))
        .where(RecordRow.kind.in_(wanted))
        .order_by(RecordRow.participant_id, RecordRow.seq, RecordRow.idx)
    )
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def verdicts(store: Store, owner_ids: Iterable[str]) -> dict[tuple[str, str, int, int], Any]:
    """The replay verdict of each of the owners' episodes, by ``(owner, scene, episode,
    attempt)``."""
    ids = list(owner_ids)
    query = select(
        VerificationRow.participant_id,
        VerificationRow.scene_id,
        VerificationRow.episode,
        VerificationRow.attempt,
        VerificationRow.verified,
    ).where(VerificationRow.participant_id.in_(ids))
    with store.engine.connect() as conn:
        return {(o, s, e, a): v for o, s, e, a, v in conn.execute(query).all()}


def page(
    store: Store,
    owner_id: str,
    *,
    kind: str | None = None,
    limit: int = 100,
    before: tuple[int, int] | None = None,
) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """One page of an owner's records, newest chunk first (``(seq, idx)`` descending: the
    uploads, then the server's own chunks); returns the rows and the cursor of the next page."""
    query = select(RecordRow).where(RecordRow.participant_id == owner_id)
    if kind is not None:
        query = query.where(RecordRow.kind == kind)
    if before is not None:
        query = query.where(tuple_(RecordRow.seq, RecordRow.idx) < tuple_(*before))
    query = query.order_by(RecordRow.seq.desc(), RecordRow.idx.desc()).limit(limit + 1)
    with store.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["received_at"] = when(row["received_at"])
    cursor = (rows[-1]["seq"], rows[-1]["idx"]) if more and rows else None
    return rows, cursor


# across participants (events, episodes, answers; never steps) -----------------------------


def _records_of_people(kind: str, experiment_id: str, like: str | None = None) -> Any:
    query = (
        select(RecordRow.participant_id, RecordRow.scene_id, RecordRow.t, RecordRow.data)
        .join(ParticipantRow, ParticipantRow.participant_id == RecordRow.participant_id)
        .where(RecordRow.kind == kind)
        .where(ParticipantRow.experiment_id == experiment_id)
    )
    if like is not None:
        query = query.where(func.cast(RecordRow.data, Text).like(like, escape="\\"))
    return query


def scene_times(store: Store, experiment_id: str, who: set[str]) -> list[dict[str, Any]]:
    """Median seconds from a scene's first ``scene_start`` to its last ``scene_end`` per
    participant (of ``who``), per scene."""
    query = _records_of_people("event", experiment_id, '%"type":"scene\\_%')
    starts: dict[tuple[str, str], float] = {}
    ends: dict[tuple[str, str], float] = {}
    with store.engine.connect() as conn:
        for pid, scene_id, t, data in conn.execute(query):
            kind = data.get("type") if isinstance(data, dict) else None
            if pid not in who or kind not in ("scene_start", "scene_end"):
                continue
            key = (pid, scene_id)
            if kind == "scene_start":
                starts[key] = min(t, starts.get(key, t))
            else:
                ends[key] = max(t, ends.get(key, t))
    durations: dict[str, list[float]] = defaultdict(list)
    for key, end in ends.items():
        start = starts.get(key)
        if start is not None and end >= start:
            durations[key[1]].append((end - start) / 1000)
    return [
        {"scene_id": s, "median_s": round(statistics.median(d), 2), "n": len(d)}
        for s, d in durations.items()
    ]


def episode_returns(store: Store, experiment_id: str, who: set[str]) -> list[dict[str, Any]]:
    """The returns of every episode, by condition and scene: participants' (of ``who``) and
    groups' episodes."""
    mine = _records_of_people("episode", experiment_id).add_columns(ParticipantRow.condition)
    groups = (
        select(RecordRow.participant_id, RecordRow.scene_id, RecordRow.t, RecordRow.data)
        .add_columns(GroupRow.condition)
        .join(GroupRow, GroupRow.group_id == RecordRow.participant_id)
        .where(RecordRow.kind == "episode")
        .where(GroupRow.experiment_id == experiment_id)
    )
    found: dict[tuple[str | None, str], list[float]] = defaultdict(list)
    with store.engine.connect() as conn:
        for query, people_only in ((mine, True), (groups, False)):
            for pid, scene_id, _, data, condition in conn.execute(query):
                value = data.get("return") if isinstance(data, dict) else None
                if (people_only and pid not in who) or not isinstance(value, int | float):
                    continue
                found[(condition, scene_id)].append(float(value))
    return [
        {"condition": c, "scene_id": s, "returns": v}
        for (c, s), v in sorted(found.items(), key=lambda i: (str(i[0][0]), i[0][1]))
    ]


def survey_answers(
    store: Store, experiment_id: str, who: set[str], text_questions: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Counts of each answer per survey question (of ``who``); for free-text questions
    (``text_questions``: ``(scene_id, question_id)``) only answered vs skipped."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    with store.engine.connect() as conn:
        for pid, scene_id, _, data in conn.execute(_records_of_people("survey", experiment_id)):
            if pid not in who or not isinstance(data, dict):
                continue
            for question_id, answer in data.items():
                counter = counts[(scene_id, question_id)]
                if (scene_id, question_id) in text_questions:
                    counter["(skipped)" if answer in (None, "") else "(answered)"] += 1
                elif isinstance(answer, list):
                    counter.update(str(a) for a in answer)
                else:
                    counter["(skipped)" if answer is None else str(answer)] += 1
    found = []
    for (scene_id, question_id), counter in counts.items():
        top = dict(counter.most_common(MAX_ANSWERS))
        rest = sum(counter.values()) - sum(top.values())
        if rest:
            top[OTHER] = top.get(OTHER, 0) + rest
        found.append({"scene_id": scene_id, "question_id": question_id, "answers": top})
    return found
