"""What the admin console stores: its settings (the password hash) and its audit log.

The storage half of :mod:`interactive_gym.admin.passwords` (which setting holds the password
hash) and :mod:`interactive_gym.admin.audit` (what is written for each admin action), over the
``admin_settings`` and ``admin_audit`` tables of :mod:`interactive_gym.data.models`. Each
function is one short transaction on SQLite or PostgreSQL; call them from a thread, never from
the event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from interactive_gym.data.models import AdminSettingRow, AuditRow, aware, utcnow
from interactive_gym.data.store import Store

MAX_KEY = 64
MAX_ACTOR = 256
MAX_ACTION = 64
MAX_TARGET = 256
MAX_DETAIL = 16 * 1024


@dataclass(frozen=True)
class Setting:
    """One stored setting (``updated_at`` is timezone-aware UTC)."""

    key: str
    value: str
    updated_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log: who did what, when, to what."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON values (``at`` as ISO 8601 text)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY:
        raise ValueError(f"key: expected 1 to {MAX_KEY} characters, got {key!r:.80}")


def read_setting(store: Store, key: str) -> Setting | None:
    """The setting ``key``, or None when it was never set."""
    _check_key(key)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(AdminSettingRow.value, AdminSettingRow.updated_at).where(
                AdminSettingRow.key == key
            )
        ).first()
    if row is None:
        return None
    return Setting(key, row.value, aware(row.updated_at))  # type: ignore[arg-type]


def write_setting(store: Store, key: str, value: str) -> Setting:
    """Set ``key`` to ``value`` (insert or replace)."""
    _check_key(key)
    if not isinstance(value, str):
        raise ValueError(f"value: expected text, got {type(value).__name__}")
    now = utcnow()
    for _ in range(2):  # a concurrent first insert of the same key: update it instead
        try:
            with store.engine.begin() as conn:
                changed = conn.execute(
                    update(AdminSettingRow)
                    .where(AdminSettingRow.key == key)
                    .values(value=value, updated_at=now)
                ).rowcount
                if not changed:
                    conn.execute(
                        insert(AdminSettingRow).values(key=key, value=value, updated_at=now)
                    )
            break
        except IntegrityError:
            continue
    return Setting(key, value, now)


def delete_setting(store: Store, key: str) -> bool:
    """Remove ``key``; returns whether it was set."""
    _check_key(key)
    with store.engine.begin() as conn:
        removed = conn.execute(delete(AdminSettingRow).where(AdminSettingRow.key == key)).rowcount
    return bool(removed)


def _check_text(name: str, value: object, limit: int, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ValueError(f"{name}: expected 1 to {limit} characters, got {value!r:.80}")


def _check_detail(detail: object) -> None:
    if not isinstance(detail, dict):
        raise ValueError(f"detail: expected an object or None, got {type(detail).__name__}")
    try:
        size = len(json.dumps(detail, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"detail: expected JSON values only ({exc})") from None
    if size > MAX_DETAIL:
        raise ValueError(f"detail: expected at most {MAX_DETAIL} characters of JSON, got {size}")


def add_audit(
    store: Store,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one row to the audit log (``detail`` must be JSON values)."""
    _check_text("actor", actor, MAX_ACTOR)
    _check_text("action", action, MAX_ACTION)
    _check_text("target", target, MAX_TARGET, optional=True)
    if detail is not None:
        _check_detail(detail)
    at = at or utcnow()
    values = {"at": at, "actor": actor, "action": action, "target": target, "detail": detail}
    with store.engine.begin() as conn:
        key = conn.execute(insert(AuditRow).values(**values)).inserted_primary_key
    assert key is not None
    return AuditEntry(int(key[0]), at, actor, action, target, detail)


def audit_entries(
    store: Store,
    *,
    limit: int = 100,
    before: int | None = None,
    action: str | None = None,
    actor: str | None = None,
) -> list[AuditEntry]:
    """The newest ``limit`` entries (ids below ``before``; of one action/actor), newest first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= 10_000:
        raise ValueError(f"limit: expected an integer from 1 to 10000, got {limit!r:.40}")
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditRow.id < before)
    if action is not None:
        query = query.where(AuditRow.action == action)
    if actor is not None:
        query = query.where(AuditRow.actor == actor)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        AuditEntry(
            row.id,
            aware(row.at),  # type: ignore[arg-type]
            row.actor,
            row.action,
            row.target,
            row.detail,
        )
        for row in rows
    ]
