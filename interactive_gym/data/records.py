"""Validation of the records a participant's browser uploads.

One record is a JSON object::

    {"kind": "step" | "survey" | "event" | "episode", "scene_id": str,
     "episode": int | None, "attempt": int | None, "step": int | None,
     "t": client_time_ms, "data": {...}}

Anything else is refused with a :class:`RecordError` whose message names the offending field
(``records[3].episode: expected an integer >= 0 or null, got 'x'``), so a bad upload is never
half-stored and never stored wrong.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

KINDS = ("step", "survey", "event", "episode")
RECORD_FIELDS = frozenset({"kind", "scene_id", "episode", "attempt", "step", "t", "data"})
#: Largest sequence number / episode / step accepted (fits a signed 32-bit column).
MAX_INT = 2**31 - 1


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
        raise RecordError(f"{where}.{name}: expected an integer >= 0 or null, got {value!r:.60}")
    return value


def validate_record(record: Any, where: str = "record", limits: Limits = DEFAULT_LIMITS) -> Record:
    """Check one record and return it as a :class:`Record`, or raise :class:`RecordError`."""
    if not isinstance(record, dict):
        raise RecordError(f"{where}: expected an object, got {type(record).__name__}")
    if not record.keys() <= RECORD_FIELDS:
        unknown = sorted(str(k) for k in record if k not in RECORD_FIELDS)
        raise RecordError(f"{where}: unknown field {unknown[0]!r:.60}")
    kind = record.get("kind")
    if kind not in KINDS:
        raise RecordError(f"{where}.kind: expected one of {', '.join(KINDS)}, got {kind!r:.60}")
    scene_id = record.get("scene_id")
    if not isinstance(scene_id, str) or not scene_id:
        raise RecordError(f"{where}.scene_id: expected a non-empty string, got {scene_id!r:.60}")
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
        raise RecordError(f"{where}.t: expected the client time in ms as a number, got {t!r:.60}")
    data = record.get("data", {})
    if not isinstance(data, dict):
        raise RecordError(f"{where}.data: expected an object, got {type(data).__name__}")
    data_json, size = encode_data(data, f"{where}.data")
    if size > limits.max_record_bytes:
        raise RecordError(f"{where}.data: {size} bytes, more than {limits.max_record_bytes}")
    return Record(kind, scene_id, episode, attempt, step, float(t), data, data_json, size)


def validate_seq(seq: Any) -> int:
    """A chunk's sequence number: an integer from 0 to 2**31 - 1."""
    if not _is_int(seq) or not 0 <= seq <= MAX_INT:
        raise RecordError(f"seq: expected an integer from 0 to {MAX_INT}, got {seq!r:.60}")
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
        raise RecordError(f"id: expected 1 to 64 letters, digits, - or _, got {chunk_id!r:.60}")
    return chunk_id


def validate_records(records: Any, limits: Limits = DEFAULT_LIMITS) -> list[Record]:
    """Check a chunk's record list (count, total size, every record) or raise RecordError."""
    if not isinstance(records, list):
        raise RecordError(f"records: expected a list, got {type(records).__name__}")
    if len(records) > limits.max_records:
        raise RecordError(f"records: {len(records)} records, more than {limits.max_records}")
    checked = [validate_record(r, f"records[{i}]", limits) for i, r in enumerate(records)]
    total = sum(r.size for r in checked)
    if total > limits.max_chunk_bytes:
        raise RecordError(f"records: {total} bytes of data, more than {limits.max_chunk_bytes}")
    return checked
