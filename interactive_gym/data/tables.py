"""The export's tables, built from the store: what researchers analyse.

- ``participants``: one row per participant (with the researcher's exclusion and reset flags,
  see :mod:`interactive_gym.data.admin_actions`).
- ``survey_answers``: one row per answered question.
- ``steps_<scene>``: one table per game scene, one row per step, the step's data as columns
  (one per key, named by :func:`flatten`).
- ``episodes``: one row per episode summary, with the server's replay verdict.
- ``events``: everything else a scene logged (scene start/end, focus changes, errors, ...).
- ``verifications``: the server's replay of every recorded episode run.
- ``groups``: one row per group of a group game (only in exports with groups; the rows of a
  group's own records and of its members' records of its scenes get a ``group_id`` column, see
  :mod:`interactive_gym.data.group_tables`).

Every table is produced by a function that can be iterated twice (the writers make one pass to
find the columns and their types, and one to write), so exports stream and never hold a whole
study in memory. What every table and column means is in :mod:`interactive_gym.data.codebook`
(docs/data.md's column tables and each export's ``CODEBOOK.md`` are generated from it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from interactive_gym.data.group_tables import GROUP_ID, GroupIndex
from interactive_gym.data.store import Store

#: Column types, used by the writers: parquet types, and how CSV encodes values.
INT, FLOAT, BOOL, STR, TIME, JSON = "int", "float", "bool", "str", "time", "json"

PARTICIPANT_COLUMNS = {
    "participant_id": STR,
    "experiment_id": STR,
    "status": STR,
    "condition": STR,
    "seed": INT,
    "scene_index": INT,
    "scene_id": STR,
    "scene_order": JSON,
    "created_at": TIME,
    "updated_at": TIME,
    "completed_at": TIME,
    "completion_code": STR,
    "verified": BOOL,
    "excluded": BOOL,
    "excluded_reason": STR,
    "excluded_at": TIME,
    "reset_at": TIME,
    "group_ids": JSON,
    "url_params": JSON,
}
SURVEY_COLUMNS = {
    "participant_id": STR,
    "scene_id": STR,
    "attempt": INT,
    "question_id": STR,
    "answer": JSON,
    "t": FLOAT,
}
STEP_COLUMNS = {
    "participant_id": STR,
    "scene_id": STR,
    "episode": INT,
    "attempt": INT,
    "step": INT,
    "t": FLOAT,
}
EPISODE_COLUMNS = {
    **{k: v for k, v in STEP_COLUMNS.items() if k != "step"},
    "verified": BOOL,
    "verify_reason": STR,
}
VERIFICATION_COLUMNS = {
    "participant_id": STR,
    "scene_id": STR,
    "episode": INT,
    "attempt": INT,
    "verified": BOOL,
    "reason": STR,
}
#: Data keys named like a fixed column (possibly behind ``data_`` prefixes) get one more prefix.
DATA_MARKER = "data_"
#: URL parameters are ``url_<NAME>`` columns; names whose column is a fixed one are escaped.
URL_MARKER = "url_"
URL_RESERVED = frozenset(
    c.removeprefix(URL_MARKER) for c in PARTICIPANT_COLUMNS if c.startswith(URL_MARKER)
)
EVENT_COLUMNS = {
    "participant_id": STR,
    "scene_id": STR,
    "attempt": INT,
    "episode": INT,
    "step": INT,
    "t": FLOAT,
    "type": STR,
    "data": JSON,
}
GROUP_COLUMNS = {
    "group_id": STR,
    "experiment_id": STR,
    "waiting_room": STR,
    "condition": STR,
    "formed_at": TIME,
    "ended_at": TIME,
    "ended_how": STR,
    "members": JSON,
    "agents": JSON,
    "waited_s": JSON,
    "stand_ins": JSON,
    "scenes": JSON,
    "left": JSON,
}


def with_group(fixed: dict[str, str], groups: GroupIndex) -> dict[str, str]:
    """``fixed``, with ``group_id`` after ``participant_id`` when the export has groups."""
    if not groups:
        return fixed
    items = list(fixed.items())
    head = list(fixed).index("participant_id") + 1
    return dict([*items[:head], (GROUP_ID, STR), *items[head:]])


@dataclass
class Table:
    """A named table: fixed leading columns and a re-iterable source of rows."""

    name: str
    columns: dict[str, str]
    rows: Callable[[], Iterable[dict[str, Any]]]
    #: Whether columns beyond the fixed ones come from the rows (flattened record data).
    open_columns: bool = False
    #: The game scene of a ``steps_<scene>`` table.
    scene_id: str | None = None

    def resolve_columns(self) -> dict[str, str]:
        """All columns with their types (one pass over the rows for open tables)."""
        if not self.open_columns:
            return dict(self.columns)
        found: dict[str, str | None] = {}
        for row in self.rows():
            for key, value in row.items():
                if key not in self.columns:
                    found[key] = merge_type(found.get(key), value)
        return {**self.columns, **{k: v or STR for k, v in found.items()}}


def value_type(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT if -(2**63) <= value < 2**63 else JSON  # beyond int64: kept as JSON text
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    if isinstance(value, datetime):
        return TIME
    return JSON


def merge_type(known: str | None, value: Any) -> str | None:
    """The narrowest column type holding both ``known`` values and ``value``."""
    new = value_type(value)
    if known is None or known == new:
        return new or known
    if new is None:
        return known
    if {known, new} == {INT, FLOAT}:
        return FLOAT
    return JSON


def safe_name(scene_id: str) -> str:
    """A file-name-safe form of a scene id."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", scene_id)[:100] or "_"


def escape_key(key: str, reserved: Collection[str], marker: str) -> str:
    """``key``, with one more ``marker`` in front when it is a reserved name behind zero or more
    markers: with marker ``data_`` and ``step`` reserved, ``step`` becomes ``data_step``,
    ``data_step`` becomes ``data_data_step``, and ``action`` or ``data_source`` stay as they are.

    Distinct keys always give distinct names, and never a reserved name, as long as no reserved
    name starts with ``marker``.
    """
    bare = key
    while bare.startswith(marker):
        bare = bare[len(marker) :]
    return marker + key if bare in reserved else key


def unescape_key(name: str, reserved: Collection[str], marker: str) -> str:
    """The key :func:`escape_key` named ``name`` (one ``marker`` less on an escaped name)."""
    bare = name
    while bare.startswith(marker):
        bare = bare[len(marker) :]
    return name[len(marker) :] if bare in reserved and name != bare else name


def flatten(fixed: Collection[str], data: dict[str, Any]) -> dict[str, Any]:
    """Record data as columns, one per key, named by :func:`escape_key` with marker ``data_``
    (so no key takes a fixed column's place or another key's)."""
    return {escape_key(k, fixed, DATA_MARKER): v for k, v in data.items()}


def url_columns(params: dict[str, str]) -> dict[str, str]:
    """One ``url_<NAME>`` column per URL parameter; a parameter whose column would be a fixed
    one (``params``, as ``url_params``) is escaped by :func:`escape_key` with marker ``url_``."""
    return {URL_MARKER + escape_key(k, URL_RESERVED, URL_MARKER): v for k, v in params.items()}


def build_tables(
    store: Store,
    experiment_id: str | None = None,
    participant_ids: Collection[str] | None = None,
) -> list[Table]:
    """Every table of the export (of one experiment, or of all of them).

    With ``participant_ids``, only the rows of those participants, of their groups (see
    :class:`~interactive_gym.data.group_tables.GroupIndex`) and of those groups' games; the
    tables and their fixed columns are the same as without.
    """
    participants = store.participants(experiment_id)
    if participant_ids is not None:
        chosen = set(participant_ids)
        participants = [p for p in participants if p.participant_id in chosen]
    groups = GroupIndex(store, experiment_id, participant_ids)
    wanted = None
    if experiment_id is not None or participant_ids is not None:  # their participants, groups
        wanted = {p.participant_id for p in participants} | groups.ids

    def records(kind: str, scene_id: str | None = None) -> Iterator[dict[str, Any]]:
        for record in store.iter_records(kind=kind, scene_id=scene_id):
            if wanted is None or record["participant_id"] in wanted:
                yield record

    def game_row(r: dict[str, Any], fixed: dict[str, str]) -> dict[str, Any]:
        """A step, input or episode record: its fields, its owner, its data as columns."""
        owner = groups.owner(r)
        reserved = groups.reserved(fixed, owner.get(GROUP_ID), r["data"])
        return {**{k: r.get(k) for k in fixed}, **owner, **flatten(reserved, r["data"])}

    def participant_rows() -> Iterator[dict[str, Any]]:
        for p in participants:
            row = {name: getattr(p, name) for name in PARTICIPANT_COLUMNS if name != "group_ids"}
            row["group_ids"] = groups.group_ids(p.participant_id)
            row.update(url_columns(dict(sorted(p.url_params.items()))))
            yield row

    def survey_rows() -> Iterator[dict[str, Any]]:
        for r in records("survey"):
            for question_id, answer in r["data"].items():
                yield {
                    "participant_id": r["participant_id"],
                    "scene_id": r["scene_id"],
                    "attempt": r.get("attempt"),
                    "question_id": question_id,
                    "answer": answer,
                    "t": r["t"],
                }

    def verdict_rows() -> Iterator[dict[str, Any]]:
        for v in store.verdicts():
            if wanted is None or v.participant_id in wanted:
                yield {name: getattr(v, name) for name in VERIFICATION_COLUMNS}

    def episode_rows() -> Iterator[dict[str, Any]]:
        verdicts = {
            (v["participant_id"], v["scene_id"], v["episode"], v["attempt"]): v
            for v in verdict_rows()
        }
        for r in records("episode"):
            key = (r["participant_id"], r["scene_id"], r["episode"], r["attempt"])
            verdict = verdicts.get(key, {})
            row = game_row(r, EPISODE_COLUMNS)
            yield {
                **row,
                "verified": verdict.get("verified"),
                "verify_reason": verdict.get("reason"),
            }

    def event_rows() -> Iterator[dict[str, Any]]:
        for r in records("event"):
            data = r["data"]
            kind = data.get("type") if isinstance(data.get("type"), str) else None
            yield {
                **{k: r.get(k) for k in EVENT_COLUMNS if k not in ("type", "data")},
                **groups.owner(r),
                "type": kind,
                "data": data,
            }

    def input_rows() -> Iterator[dict[str, Any]]:
        for r in records("input"):
            yield game_row(r, STEP_COLUMNS)

    def step_rows(scene_id: str) -> Callable[[], Iterator[dict[str, Any]]]:
        def rows() -> Iterator[dict[str, Any]]:
            for r in records("step", scene_id):
                yield game_row(r, STEP_COLUMNS)

        return rows

    steps = with_group(STEP_COLUMNS, groups)
    tables = [
        Table("participants", PARTICIPANT_COLUMNS, participant_rows, open_columns=True),
        Table("survey_answers", SURVEY_COLUMNS, survey_rows),
        Table("episodes", with_group(EPISODE_COLUMNS, groups), episode_rows, open_columns=True),
        Table("events", with_group(EVENT_COLUMNS, groups), event_rows),
        Table("verifications", VERIFICATION_COLUMNS, verdict_rows),
    ]
    if groups:
        tables.append(Table("groups", GROUP_COLUMNS, groups.rows))
    kinds = store.scene_kinds()
    if any(kind == "input" for _, kind in kinds):  # games the server ran
        tables.append(Table("inputs", steps, input_rows, open_columns=True))
    used = {t.name for t in tables}
    for scene_id, kind in kinds:
        if kind != "step":
            continue
        name = f"steps_{safe_name(scene_id)}"
        while name in used:
            name += "_"
        used.add(name)
        tables.append(Table(name, steps, step_rows(scene_id), open_columns=True, scene_id=scene_id))
    return tables
