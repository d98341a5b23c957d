"""The audit log: every admin action, who did it, when, to what.

Written for each login, failed login and logout (:mod:`interactive_gym.admin.auth`), a new
password (``set-password``), and every action the console takes (``export``, ``exclude``,
``include``, ``reset``, ``release_room``, ...). ``actor`` is
:attr:`~interactive_gym.admin.auth.AdminSession.actor` (``admin:<session>@<address>``),
``anonymous@<address>`` for a failed login, ``cli:<user>`` for the command line. ``detail`` is
a JSON object of the action's particulars (a reason, a filter, counts).

:mod:`interactive_gym.data.admin_store` is the storage half. :func:`audit` blocks on the
database: from the event loop, ``await`` :func:`audit_async`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from interactive_gym.data.admin_store import AuditEntry, add_audit, audit_entries
from interactive_gym.data.store import Store

log = logging.getLogger("interactive_gym.admin")

__all__ = ["AuditEntry", "audit", "audit_async", "audit_log"]


def audit(
    store: Store,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one admin action to the audit log (and the ``interactive_gym.admin`` log).

    Raises:
        ValueError: a field is empty or too long, or ``detail`` is not a JSON object.
    """
    entry = add_audit(store, actor, action, target, detail)
    log.info("admin audit: %s %s%s", actor, action, f" {target}" if target else "")
    return entry


async def audit_async(
    store: Store,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """:func:`audit` in a thread, for the event loop."""
    return await asyncio.to_thread(audit, store, actor, action, target, detail)


def audit_log(
    store: Store,
    *,
    limit: int = 100,
    before: int | None = None,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` entries (ids below ``before``, of one ``action``) as JSON values,
    newest first: ``[{"id", "at", "actor", "action", "target", "detail"}]``. Blocks on the
    database (call it from a thread)."""
    return [e.as_dict() for e in audit_entries(store, limit=limit, before=before, action=action)]
