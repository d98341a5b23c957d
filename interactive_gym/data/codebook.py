"""The codebook: what every table and column of an export means, in one place.

This is the one source of the column documentation. :mod:`interactive_gym.data.tables` builds
the tables (their fixed columns and types); this module says what each table and column means
(the texts of the game tables, ``steps_<scene>``, ``episodes`` and ``inputs``, are
:mod:`interactive_gym.data.codebook_games`'s).
From it come docs/data.md's column tables (between ``<!-- codebook:NAME -->`` and
``<!-- /codebook -->``, rewritten by ``python -m interactive_gym.data.codebook --write-docs
docs/data.md``: :mod:`interactive_gym.data.codebook_markdown`; a test fails when they differ)
and the ``datapackage.json`` and ``CODEBOOK.md`` every export writes beside its tables
(:mod:`interactive_gym.data.data_package`).

A table's columns are of three sorts:

- fixed columns (``tables.*_COLUMNS``, and ``group_id`` in exports with groups): each must have
  a meaning here. One without is an :class:`Undocumented` error naming the table and the
  column, and so is a meaning here for a column the table does not have (:func:`check_source`);
- URL parameters (``url_<NAME>`` in ``participants``), described from the parameter's name;
- record data (``steps_<scene>``, ``episodes``, ``inputs``): one column per key of the records'
  ``data``. The keys interactive_gym writes are described here (``action_<agent>`` and the like
  by their prefix); any other key is described as one the study's own code wrote.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from interactive_gym.data import codebook_games as games
from interactive_gym.data.codebook_games import BROWSER_MS, GROUP_COLUMN, OWNER, PerAgent
from interactive_gym.data.group_tables import GROUP_ID
from interactive_gym.data.tables import (
    BOOL,
    DATA_MARKER,
    EPISODE_COLUMNS,
    EVENT_COLUMNS,
    FLOAT,
    GROUP_COLUMNS,
    INT,
    JSON,
    PARTICIPANT_COLUMNS,
    STEP_COLUMNS,
    STR,
    SURVEY_COLUMNS,
    TIME,
    URL_MARKER,
    URL_RESERVED,
    VERIFICATION_COLUMNS,
    unescape_key,
)

#: The Frictionless (Table Schema) type of each column type of :mod:`tables`. A JSON column
#: holds nested or mixed values: ``any``, unless its table's doc names a narrower type.
FRICTIONLESS_TYPES = {
    INT: "integer",
    FLOAT: "number",
    BOOL: "boolean",
    STR: "string",
    TIME: "datetime",
    JSON: "any",
}
#: The prefix of the step tables' names (``steps_<scene>``) and the name of their doc.
STEPS_PREFIX = "steps_"
STEPS = "steps_<scene>"
#: Where the meanings are, for error messages.
SOURCE = "the codebook (interactive_gym/data/codebook.py, codebook_games.py)"


class Undocumented(ValueError):
    """A table or column this codebook has no meaning for; the message names it."""


@dataclass(frozen=True)
class TableDoc:
    """What one table (or every ``steps_<scene>`` table) holds and what its columns mean."""

    about: str
    #: The table's fixed columns and their types (``tables.*_COLUMNS``).
    fixed: Mapping[str, str]
    #: The meaning of every fixed column (and of ``group_id`` when ``grouped``).
    columns: Mapping[str, str]
    #: Whether the table gets a ``group_id`` column (after ``participant_id``) with groups.
    grouped: bool = False
    #: Narrower Frictionless types of JSON columns that always hold one kind (``array``).
    types: Mapping[str, str] = field(default_factory=dict)
    #: ``url_<NAME>`` columns, one per URL parameter.
    url_params: bool = False
    #: One column per key of the records' data: the keys interactive_gym writes (None: no
    #: such columns).
    data: Mapping[str, str] | None = None
    per_agent: tuple[PerAgent, ...] = ()
    #: What a record's ``data`` is, for the sentences about its columns ("the step's").
    data_of: str = "the record's"
    #: What one table of the doc holds, in an export (``{scene}``: the scene of a step table).
    about_one: str = ""


TIME_NOTE = "server time, UTC"

PARTICIPANTS = TableDoc(
    about="One row per participant.",
    fixed=PARTICIPANT_COLUMNS,
    columns={
        "participant_id": "the participant's id (from the configured URL parameter, or generated)",
        "experiment_id": "the experiment they took part in",
        "status": "`active` (in progress or abandoned) or `completed`",
        "condition": "the between-subject condition assigned (empty when the study has none)",
        "seed": "the participant's seed, derived from the experiment seed",
        "scene_index": "the position in `scene_order` (from 0) of the scene the participant "
        "is at (or finished at)",
        "scene_id": "the id of the scene the participant is at (or finished at)",
        "scene_order": "the participant's order of scenes (JSON list of scene ids)",
        "created_at": f"when the participant started the study ({TIME_NOTE})",
        "updated_at": f"when the participant's progress last changed ({TIME_NOTE})",
        "completed_at": f"when the participant completed the study ({TIME_NOTE}); empty "
        "unless completed",
        "completion_code": "the code the participant was shown when they completed (check "
        "submissions against it)",
        "verified": "the server's replay of the participant's games: `True` every recorded "
        "episode replayed as recorded, `False` at least one is implausible (see "
        "`verifications`), empty when nothing was checked",
        "excluded": "`True` when the researcher excluded the participant in the admin console "
        "(their data is kept, complete; leave them out of the analysis), else `False`",
        "excluded_reason": "the reason the researcher gave for excluding the participant; "
        "empty unless excluded",
        "excluded_at": f"when the researcher excluded the participant ({TIME_NOTE}); empty "
        "unless excluded",
        "reset_at": f"set on the data of a participant the researcher reset ({TIME_NOTE}), "
        "else empty: see *Exclusion and reset* in docs/data.md",
        "group_ids": "the groups the participant played group games in, in the order they "
        "were formed (JSON list; `[]` for none; see `groups`)",
        "url_params": "every URL parameter of the entry link (JSON object)",
    },
    types={"scene_order": "array", "group_ids": "array", "url_params": "object"},
    url_params=True,
)
#: ``url_<NAME>`` in docs/data.md, and the meaning of one such column.
URL_SUMMARY = (
    "one column per URL parameter seen, e.g. `url_PROLIFIC_PID`, `url_STUDY_ID`, "
    "`url_SESSION_ID` (empty when a participant's link did not have it). A parameter named "
    "`params` (whose column would be `url_params`) is `url_url_params`, one named `url_params` "
    "is `url_url_url_params`, and so on, so every parameter keeps a column of its own"
)
URL_MEANING = (
    "the URL parameter {name} of the participant's entry link (empty when their link did not "
    "have it)"
)

GROUPS = TableDoc(
    about="One row per group a waiting room formed, in the order they were formed. Only in "
    "exports that have groups (with `--experiment`, that experiment's groups).",
    fixed=GROUP_COLUMNS,
    columns={
        "group_id": "the group's id (`g` and 15 hex digits); the owner of the group's own rows "
        "in the other tables",
        "experiment_id": "the experiment",
        "waiting_room": "the id of the waiting room that formed the group; the group plays the "
        "group scenes after it, up to the next waiting room",
        "condition": "the group's condition when conditions are assigned per group (else "
        "empty: see each member's `condition`)",
        "formed_at": f"when the waiting room formed the group ({TIME_NOTE})",
        "ended_at": f"when the group ended ({TIME_NOTE}); empty while the group plays",
        "ended_how": "how the group ended: `completed`, `member_left`, `timeout`, …",
        "members": "the members' participant ids in role order: the first plays the first "
        "human agent, and so on (JSON list)",
        "agents": "the agent each member plays (JSON object `{participant_id: agent_id}`)",
        "waited_s": "how long each member waited in the room before the group formed, in "
        "seconds (JSON object `{participant_id: seconds}`)",
        "stand_ins": "AI policies playing human agents no member plays, such as a group of one "
        'after a timeout (JSON object `{agent_id: "random" | "python"}`)',
        "scenes": "how each group scene the group finished ended (JSON object "
        '`{scene_id: "completed" | "member_left" | …}`)',
        "left": "members who left, and the group scene they left in (JSON object "
        "`{participant_id: scene_id}`)",
    },
    types={
        "members": "array",
        "agents": "object",
        "waited_s": "object",
        "stand_ins": "object",
        "scenes": "object",
        "left": "object",
    },
)

SURVEY_ANSWERS = TableDoc(
    about="One row per answered question.",
    fixed=SURVEY_COLUMNS,
    columns={
        "participant_id": "who answered",
        "scene_id": "the survey scene",
        "attempt": "the run of the survey scene whose answers were accepted (1, or 2, … when a "
        "reload showed it again); one set of answers per survey scene is stored",
        "question_id": "the question's id in the study file",
        "answer": "the answer: text as is, numbers as numbers, several choices as a JSON list",
        "t": f"server time the checked answers were stored ({BROWSER_MS})",
    },
)

STEP_TABLES = TableDoc(
    about=games.STEP_ABOUT,
    fixed=STEP_COLUMNS,
    grouped=True,
    columns=games.STEP_MEANINGS,
    data=games.STEP_DATA,
    per_agent=games.STEP_PER_AGENT,
    data_of="the step's",
    about_one=games.STEP_ABOUT_ONE,
)
EPISODES = TableDoc(
    about=games.EPISODE_ABOUT,
    fixed=EPISODE_COLUMNS,
    grouped=True,
    columns=games.EPISODE_MEANINGS,
    data=games.EPISODE_DATA,
    per_agent=games.EPISODE_PER_AGENT,
    data_of="the summary's",
)
INPUTS = TableDoc(
    about=games.INPUT_ABOUT,
    fixed=STEP_COLUMNS,
    grouped=True,
    columns=games.INPUT_MEANINGS,
    data=games.INPUT_DATA,
    data_of="the input's",
)

EVENTS = TableDoc(
    about="Everything else the scenes logged (scene start and end, focus changes, errors, …): "
    "one row per event.",
    fixed=EVENT_COLUMNS,
    grouped=True,
    columns={
        "participant_id": OWNER,
        "group_id": GROUP_COLUMN,
        "scene_id": "the scene that logged the event",
        "attempt": "the run of the scene (as in the step tables)",
        "episode": "the episode under way, when there was one",
        "step": "the step under way, when there was one",
        "t": f"when the event was recorded ({BROWSER_MS}; the server's clock for events it writes)",
        "type": "the event's `data.type`, such as `scene_start`, `focus`, `game_error`, `game_end`",
        "data": "the whole event (JSON object)",
    },
    types={"data": "object"},
)

VERIFICATIONS = TableDoc(
    about="When a participant completes, the server replays each recorded run of each game "
    "episode in CPython (`interactive_gym/replay/`): the environment is built as the browser "
    "built it, reset with the episode's seed and stepped with the recorded actions of every "
    "agent, and what it gives is compared with what was recorded. One row per run.",
    fixed=VERIFICATION_COLUMNS,
    columns={
        "participant_id": "whose run",
        "scene_id": "the game scene",
        "episode": "the episode",
        "attempt": "the run of the scene",
        "verified": "`True`: the records are a trajectory the game produces from that seed; "
        "`False`: they are not (`reason` names the first mismatch, e.g. `step 17: reward 1.0 "
        "recorded, env gives 0.0`); empty: it could not be checked (`reason` says why: a "
        "package the server cannot import, an environment that is not deterministic, ...)",
        "reason": "why not `True`",
    },
)

#: Every table's doc, by table name (``steps_<scene>``: every step table).
TABLES: dict[str, TableDoc] = {
    "participants": PARTICIPANTS,
    "groups": GROUPS,
    "survey_answers": SURVEY_ANSWERS,
    STEPS: STEP_TABLES,
    "episodes": EPISODES,
    "events": EVENTS,
    "inputs": INPUTS,
    "verifications": VERIFICATIONS,
}

#: A record data key that is none of the ones interactive_gym writes.
OTHER_KEY = (
    "the key {key} of {data_of} data: not one interactive_gym writes (the study's own page or "
    "environment code wrote it)"
)
OTHER_KEY_SUMMARY = (
    "one column per other key of {data_of} data: keys interactive_gym does not write (the "
    "study's own page or environment code wrote them)"
)
RENAMED = " (the data key {key}, renamed: a key named like a column gets one more `data_` prefix)"

#: Notes on reading the files, in docs/data.md and every CODEBOOK.md.
NOTES = {
    "types": "Columns take the narrowest type that holds every value: integers, floats "
    "(integers and floats mixed), booleans, text; anything else (nested or mixed) is JSON. "
    "Nested values (lists, objects) are JSON text in CSV and Parquet and stay nested in JSONL; "
    "in a JSON column a text value is written as it is. In Parquet the columns are typed "
    "(`int64`, `double`, `bool`, `string`, `timestamp[us, UTC]`); in CSV an empty cell is a "
    "missing value. Times of the server are UTC (ISO 8601 in CSV and JSONL); `t` columns are "
    "milliseconds since 1970, UTC. In `datapackage.json` (and the codebooks) the types are "
    "Table Schema's: `integer`, `number`, `boolean`, `string`, `datetime`, and for a JSON "
    "column `array` or `object` when it always holds one, else `any`.",
    "csv": "**Formulas in CSV.** A spreadsheet opening a CSV file runs a cell that starts with "
    "`=`, `+`, `-` or `@` (or a tab or a carriage return) as a formula, and participants write "
    "text cells: free-text answers, URL parameters, anything their browser uploads. So in CSV a "
    "text cell starting with one of these characters is written with a `'` in front: "
    '`=HYPERLINK("…")` becomes `\'=HYPERLINK("…")`, the text `-3` becomes `\'-3`. This '
    "covers every text cell, JSON text included, and column names. Numbers are written as they "
    "are: the number `-3` stays `-3`. Parquet and JSONL keep every value and column name exactly "
    "as stored; use them when the exact text matters (in CSV, a stored text that already began "
    "with `'` cannot be told from a quoted one).",
}


def doc_name(table: str) -> str:
    """The name of ``table``'s doc in :data:`TABLES` (``steps_<scene>`` for a step table)."""
    if table in TABLES:
        return table
    if table.startswith(STEPS_PREFIX):
        return STEPS
    raise Undocumented(f"table {table!r}: not described in {SOURCE}")


def table_doc(table: str) -> TableDoc:
    return TABLES[doc_name(table)]


def fixed_columns(doc: TableDoc) -> dict[str, str]:
    """The doc's fixed columns with their types, ``group_id`` after ``participant_id`` when
    the table gets one (as ``tables.with_group`` puts it)."""
    items = list(doc.fixed.items())
    if doc.grouped:
        at = list(doc.fixed).index("participant_id") + 1
        items[at:at] = [(GROUP_ID, STR)]
    return dict(items)


def code(text: str) -> str:
    """``text`` as Markdown inline code: in a long enough run of backticks, and as JSON when
    it is empty or has characters that do not print (a newline, say)."""
    shown = text if text.isprintable() and text.strip() else json.dumps(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown[0] in "` " or shown[-1] in "` " else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def per_agent_of(doc: TableDoc, key: str) -> tuple[PerAgent, str] | None:
    """The per-agent pattern ``key`` follows, with its agent id (None: none)."""
    for pattern in doc.per_agent:
        if key.startswith(pattern.prefix) and len(key) > len(pattern.prefix):
            return pattern, key[len(pattern.prefix) :]
    return None


def describe(table: str, column: str, fixed: Collection[str]) -> str:
    """The meaning of ``column`` of ``table`` whose fixed columns are ``fixed``.

    Raises :class:`Undocumented` naming the table and the column when this codebook has no
    meaning for it (a fixed column without one, or a column no rule describes).
    """
    doc = table_doc(table)
    if column in fixed:
        meaning = doc.columns.get(column)
        if not meaning:
            raise Undocumented(f"table {table!r}: column {column!r} has no meaning in {SOURCE}")
        return meaning
    if doc.url_params and column.startswith(URL_MARKER):
        name = unescape_key(column[len(URL_MARKER) :], URL_RESERVED, URL_MARKER)
        return URL_MEANING.format(name=code(name))
    if doc.data is None:
        raise Undocumented(
            f"table {table!r}: column {column!r} is not one of its columns in {SOURCE}"
        )
    key = unescape_key(column, fixed, DATA_MARKER)
    meaning = doc.data.get(key)
    if meaning is None:
        matched = per_agent_of(doc, key)
        if matched is not None:
            pattern, agent = matched
            meaning = pattern.meaning.format(agent=code(agent))
        else:
            meaning = OTHER_KEY.format(key=code(key), data_of=doc.data_of)
    if key != column:
        meaning += RENAMED.format(key=code(key))
    return meaning


def is_known(table: str, column: str, fixed: Collection[str]) -> bool:
    """Whether ``column`` is one interactive_gym writes (not an other key of record data)."""
    doc = table_doc(table)
    if column in fixed or (doc.url_params and column.startswith(URL_MARKER)):
        return True
    key = unescape_key(column, fixed, DATA_MARKER)
    return doc.data is not None and (key in doc.data or per_agent_of(doc, key) is not None)


def frictionless_type(table: str, column: str, kind: str, fixed: Collection[str]) -> str:
    """The Table Schema type of a column of type ``kind`` (``tables.INT``, ...)."""
    if kind == JSON and column in fixed:
        return table_doc(table).types.get(column, FRICTIONLESS_TYPES[JSON])
    return FRICTIONLESS_TYPES[kind]


def check_source(tables: Mapping[str, TableDoc] = TABLES) -> None:
    """Raise :class:`Undocumented` (naming the table and the column) unless every table's doc
    has a meaning for exactly its fixed columns, and its narrower types are of JSON columns."""
    for name, doc in tables.items():
        fixed = fixed_columns(doc)
        for column in fixed:
            if not doc.columns.get(column):
                raise Undocumented(f"table {name!r}: column {column!r} has no meaning in {SOURCE}")
        for column in [*doc.columns, *doc.types]:
            if column not in fixed:
                raise Undocumented(
                    f"table {name!r}: {SOURCE} describes a column {column!r} the table "
                    "does not have"
                )
        for column in doc.types:
            if fixed[column] != JSON:
                raise Undocumented(f"table {name!r}: column {column!r} is not a JSON column")


if __name__ == "__main__":
    from interactive_gym.data.codebook_markdown import main

    sys.exit(main())
