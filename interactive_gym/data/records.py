"""Validation of the records a participant's browser uploads.

One record is a JSON object::

    {"kind": "step" | "survey" | "event" | "episode" | "input", "scene_id": str,
     "episode": int | None, "attempt": int | None, "step": int | None,
     "t": client_time_ms, "data": {...}}

Anything else is refused with a :class:`RecordError` whose message names the offending field
(``records[3].episode: expected an integer >= 0 or null, got 'x'``), so a bad upload is never
half-stored and never stored wrong.

``data`` may nest objects and lists at most :data:`MAX_DEPTH` levels deep (``data`` itself is
level 1). Deeper data is refused (``records[3].data: nested deeper than 32 levels``) by a check
that does not recurse, before anything that does (JSON encoding, the text checks) could run
into Python's recursion limit.
"""

from __future__ import annotations

import gc
import json
import math
from dataclasses import dataclass, field
from itertools import chain, compress
from typing import Any

KINDS = ("step", "survey", "event", "episode", "input")
RECORD_FIELDS = frozenset({"kind", "scene_id", "episode", "attempt", "step", "t", "data"})
#: Largest sequence number / episode / step accepted (fits a signed 32-bit column).
MAX_INT = 2**31 - 1
#: Deepest nesting of objects and lists accepted in a record's ``data`` (``data`` is level 1).
MAX_DEPTH = 32


@dataclass(frozen=True)
class Limits:
    """Size limits for one chunk; anything larger is refused, not truncated."""

    max_records: int = 2000
    max_record_bytes: int = 256 * 1024
    max_chunk_bytes: int = 1024 * 1024
    max_scene_id: int = 128


DEFAULT_LIMITS = Limits()


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_DECODER = json.JSONDecoder()


class RecordError(ValueError):
    """A record or chunk that cannot be stored; the message names the field and the problem."""


@dataclass(frozen=True)
class Record:
    """One validated record, ready to be written."""

    kind: str
    scene_id: str
    episode: int | None
    attempt: int | None
    step: int | None
    t: float
    data: dict[str, Any]
    #: ``data`` as compact JSON text (what is stored).
    data_json: str = field(default="{}", compare=False, repr=False)
    #: Size of ``data_json`` in UTF-8 bytes.
    size: int = field(default=2, compare=False)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_NESTING = frozenset({dict, list, tuple})
_JSON_TYPES = _NESTING | {str, int, float, bool, type(None)}
_IS_SEQUENCE = frozenset({list, tuple}).__contains__
_IS_OBJECT = frozenset({dict}).__contains__


def nested_deeper(values: list[Any], limit: int = MAX_DEPTH) -> bool:
    """Whether any of ``values`` nests objects and lists more than ``limit`` levels deep.

    Each of ``values`` that is an object or a list is level 1; scalars do not count. Nothing
    recurses: both walks below go one level at a time over all the values at once, so one call
    for a whole chunk's ``data`` costs a few C-level passes per level.
    """
    return _may_be_deeper(values, limit) and _deeper(values, limit)


def _may_be_deeper(values: list[Any], limit: int) -> bool:
    """False when ``values`` are surely no deeper than ``limit``: the fast walk.

    While every value is a plain JSON value (checked per level in C), ``gc.get_referents``
    gives the next level in one C call: the items of lists and tuples, the values (and keys) of
    dicts, nothing for scalars. Anything else (say an object whose references lead into the
    rest of the heap) and the answer is True, so that :func:`_deeper` decides.
    """
    level = values
    for _ in range(limit):
        if not _JSON_TYPES.issuperset(map(type, level)):
            return True
        level = gc.get_referents(*level)
        if not level:
            return False
    return not _NESTING.isdisjoint(map(type, level))


def _deeper(values: list[Any], limit: int) -> bool:
    """The exact walk: follows only ``dict``, ``list`` and ``tuple`` (not their subclasses).

    Data built in Python from their subclasses is still refused by :func:`encode_data` if it
    is too deep to encode.
    """
    level = values
    for _ in range(limit):
        types = [*map(type, level)]
        sequences = [*compress(level, map(_IS_SEQUENCE, types))]
        objects = [*compress(level, map(_IS_OBJECT, types))]
        if not sequences and not objects:
            return False
        level = [*chain.from_iterable(sequences), *chain.from_iterable(map(dict.values, objects))]
    return not _NESTING.isdisjoint(map(type, level))


def _show(value: object) -> str:
    """``value`` for an error message: a scalar's repr (at most 60 characters), else its type.

    Never the repr of an object or a list: it could be huge, or too deeply nested to print.
    """
    if isinstance(value, str):
        return repr(value[:61])[:60]
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return repr(value)[:60] if value.bit_length() < 1000 else "a very large integer"
    return type(value).__name__


def _check_text(text: str, where: str) -> None:
    """Refuse strings that are not valid Unicode (lone surrogates cannot be stored)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError(f"{where}: not valid Unicode (lone surrogate)") from None


def _check_json(value: Any, where: str) -> None:
    """Find what JSON cannot hold faithfully (NaN/inf, non-string keys, odd types) and name it.

    The slow path: it only runs for data the fast check in :func:`encode_data` refused.
    """
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, str):
        _check_text(value, where)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(f"{where}: number must be finite, got {value!r}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise RecordError(f"{where}: keys must be strings, got {key!r:.60}")
            _check_text(key, f"{where} (a key)")
            _check_json(item, f"{where}.{key}")
        return
    raise RecordError(f"{where}: {type(value).__name__} is not a JSON value")


def encode_data(data: dict[str, Any], where: str) -> tuple[str, int]:
    """``data`` as compact JSON text and its size in UTF-8 bytes; refuses anything that would
    not read back as given.

    Fast path in C: encode (no NaN/inf), check it is valid UTF-8, decode and compare.
    """
    try:
        text = _ENCODER.encode(data)
        size = len(text.encode("utf-8"))
        if _DECODER.decode(text) == data:
            return text, size
    except RecursionError:
        raise RecordError(f"{where}: nested too deeply") from None
    except (ValueError, TypeError):
        pass
    try:
        _check_json(data, where)
    except RecursionError:
        raise RecordError(f"{where}: nested too deeply") from None
    # Valid, only shaped differently from what JSON reads back (tuples become lists).
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text, len(text.encode("utf-8"))


def _optional_count(record: dict[str, Any], name: str, where: str) -> int | None:
    value = record.get(name)
    if value is None:
        return None
    if not _is_int(value) or not 0 <= value <= MAX_INT:
        raise RecordError(f"{where}.{name}: expected an integer >= 0 or null, got {_show(value)}")
    return value


def validate_record(record: Any, where: str = "record", limits: Limits = DEFAULT_LIMITS) -> Record:
    """Check one record and return it as a :class:`Record`, or raise :class:`RecordError`."""
    return _validate_record(record, where, limits, check_depth=True)


def _validate_record(record: Any, where: str, limits: Limits, *, check_depth: bool) -> Record:
    if not isinstance(record, dict):
        raise RecordError(f"{where}: expected an object, got {type(record).__name__}")
    if not record.keys() <= RECORD_FIELDS:
        unknown = sorted(str(k) for k in record if k not in RECORD_FIELDS)
        raise RecordError(f"{where}: unknown field {unknown[0]!r:.60}")
    kind = record.get("kind")
    if kind not in KINDS:
        raise RecordError(f"{where}.kind: expected one of {', '.join(KINDS)}, got {_show(kind)}")
    scene_id = record.get("scene_id")
    if not isinstance(scene_id, str) or not scene_id:
        raise RecordError(f"{where}.scene_id: expected a non-empty string, got {_show(scene_id)}")
    if len(scene_id) > limits.max_scene_id:
        raise RecordError(f"{where}.scene_id: longer than {limits.max_scene_id} characters")
    _check_text(scene_id, f"{where}.scene_id")
    if not scene_id.isprintable():
        raise RecordError(f"{where}.scene_id: control characters are not allowed")
    episode = _optional_count(record, "episode", where)
    attempt = _optional_count(record, "attempt", where)
    step = _optional_count(record, "step", where)
    if kind == "step" and (episode is None or step is None):
        raise RecordError(f"{where}: a step record needs integer episode and step")
    if kind == "episode" and episode is None:
        raise RecordError(f"{where}.episode: an episode record needs an integer episode")
    if kind in ("step", "episode") and attempt is None:
        attempt = 0
    t = record.get("t")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
        raise RecordError(f"{where}.t: expected the client time in ms as a number, got {_show(t)}")
    data = record.get("data", {})
    if not isinstance(data, dict):
        raise RecordError(f"{where}.data: expected an object, got {type(data).__name__}")
    if check_depth and nested_deeper([data]):
        raise RecordError(f"{where}.data: nested deeper than {MAX_DEPTH} levels")
    data_json, size = encode_data(data, f"{where}.data")
    if size > limits.max_record_bytes:
        raise RecordError(f"{where}.data: {size} bytes, more than {limits.max_record_bytes}")
    return Record(kind, scene_id, episode, attempt, step, float(t), data, data_json, size)


def validate_seq(seq: Any) -> int:
    """A chunk's sequence number: an integer from 0 to 2**31 - 1."""
    if not _is_int(seq) or not 0 <= seq <= MAX_INT:
        raise RecordError(f"seq: expected an integer from 0 to {MAX_INT}, got {_show(seq)}")
    return seq


def validate_chunk_id(chunk_id: Any) -> str | None:
    """A chunk's optional id: up to 64 characters of letters, digits, ``-`` and ``_``."""
    if chunk_id is None:
        return None
    if (
        not isinstance(chunk_id, str)
        or not 0 < len(chunk_id) <= 64
        or not all(c.isascii() and (c.isalnum() or c in "-_") for c in chunk_id)
    ):
        raise RecordError(f"id: expected 1 to 64 letters, digits, - or _, got {_show(chunk_id)}")
    return chunk_id


def validate_records(records: Any, limits: Limits = DEFAULT_LIMITS) -> list[Record]:
    """Check a chunk's record list (count, total size, every record) or raise RecordError.

    The nesting of all the records' ``data`` is checked at once; only when some record's is
    too deep is it checked record by record, to name the first one.
    """
    if not isinstance(records, list):
        raise RecordError(f"records: expected a list, got {type(records).__name__}")
    if len(records) > limits.max_records:
        raise RecordError(f"records: {len(records)} records, more than {limits.max_records}")
    deep = nested_deeper([r.get("data") for r in records if isinstance(r, dict)])
    checked = [
        _validate_record(r, f"records[{i}]", limits, check_depth=deep)
        for i, r in enumerate(records)
    ]
    total = sum(r.size for r in checked)
    if total > limits.max_chunk_bytes:
        raise RecordError(f"records: {total} bytes of data, more than {limits.max_chunk_bytes}")
    return checked
