"""Which participant and which tab each socket belongs to: the one registry the handlers share.

The data path (``ingest.py``) authenticates a socket's token and then binds the socket here
(:meth:`Connections.connect`); from then on every other handler finds the participant behind a
socket with :meth:`Connections.participant_of`, and runs its own set-up and clean-up through
:meth:`Connections.on_connect` and :meth:`Connections.on_disconnect` instead of registering
socket.io's ``connect``/``disconnect`` again. The participant flow (``flow.py``) makes one
socket per participant the active tab (:meth:`Connections.claim_tab`); the tab is released when
its socket goes away.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from interactive_gym.server.refusals import Refused

log = logging.getLogger("interactive_gym.connections")

ConnectHook = Callable[[str, str, dict[str, Any]], Awaitable[None] | None]
DisconnectHook = Callable[[str, str], Awaitable[None] | None]

MAX_TAB_ID = 64
#: The refusal reason a second tab of a participant gets (the page shows its own message).
SECOND_TAB = "second_tab"
SECOND_TAB_MESSAGE = (
    "This study is already open in another tab or window. Continue there, or use this tab "
    "instead (the other one will stop)."
)


@dataclass(frozen=True)
class Tab:
    """A participant's active tab: its socket and the page's tab id."""

    sid: str
    tab: str


async def _call(hook: Callable[..., Any], *args: Any) -> None:
    result = hook(*args)
    if inspect.isawaitable(result):
        await result


class Connections:
    """Sockets ↔ participants ↔ active tabs, and the hooks run when a socket comes and goes."""

    def __init__(self) -> None:
        self._participants: dict[str, str] = {}
        self._sids: dict[str, set[str]] = {}
        self._tabs: dict[str, Tab] = {}
        self._connect_hooks: list[ConnectHook] = []
        self._disconnect_hooks: list[DisconnectHook] = []

    # looking up ---------------------------------------------------------------------------

    def participant_of(self, sid: str) -> str | None:
        """The participant a connected socket belongs to (None if unknown or gone)."""
        return self._participants.get(sid)

    def sids_of(self, participant_id: str) -> set[str]:
        """The sockets currently connected for a participant."""
        return set(self._sids.get(participant_id, ()))

    def tab_of(self, participant_id: str) -> Tab | None:
        """The participant's active tab, or None (no tab claimed, or its socket is gone)."""
        holder = self._tabs.get(participant_id)
        if holder is None or self._participants.get(holder.sid) != participant_id:
            return None
        return holder

    def is_active_tab(self, sid: str) -> bool:
        """Whether ``sid`` is its participant's active tab."""
        participant_id = self._participants.get(sid)
        holder = None if participant_id is None else self.tab_of(participant_id)
        return holder is not None and holder.sid == sid

    # hooks --------------------------------------------------------------------------------

    def on_connect(self, hook: ConnectHook) -> ConnectHook:
        """Run ``hook(sid, participant_id, auth)`` after a socket is bound (in order).

        A hook may raise ``socketio.exceptions.ConnectionRefusedError(reason)`` to refuse the
        connection: the socket is then unbound again and no disconnect hook runs for it.
        Usable as a decorator.
        """
        self._connect_hooks.append(hook)
        return hook

    def on_disconnect(self, hook: DisconnectHook) -> DisconnectHook:
        """Run ``hook(sid, participant_id)`` when a participant's socket goes away (in order)."""
        self._disconnect_hooks.append(hook)
        return hook

    # binding ------------------------------------------------------------------------------

    async def connect(self, sid: str, participant_id: str, auth: Any) -> None:
        """Bind an authenticated socket to its participant and run the connect hooks."""
        self._participants[sid] = participant_id
        self._sids.setdefault(participant_id, set()).add(sid)
        try:
            for hook in self._connect_hooks:
                await _call(hook, sid, participant_id, auth)
        except BaseException:
            self._forget(sid)
            raise

    async def disconnect(self, sid: str) -> str | None:
        """Unbind a socket (and its tab) and run the disconnect hooks; returns its participant.

        Nothing happens for a socket that was never bound (refused, or already gone).
        """
        participant_id = self._forget(sid)
        if participant_id is None:
            return None
        for hook in self._disconnect_hooks:
            try:
                await _call(hook, sid, participant_id)
            except Exception:  # noqa: BLE001 - one hook must not stop the others
                log.exception("disconnect hook %r failed for %s", hook, sid)
        return participant_id

    def _forget(self, sid: str) -> str | None:
        participant_id = self._participants.pop(sid, None)
        if participant_id is None:
            return None
        self.release(sid, participant_id)
        sids = self._sids.get(participant_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._sids[participant_id]
        return participant_id

    # tabs ---------------------------------------------------------------------------------

    def claim_tab(self, sid: str, tab: Any, *, takeover: bool = False) -> Tab | None:
        """Make a bound socket its participant's active tab.

        ``tab`` is the page's tab id (the same after a reload). While another tab of the
        participant is connected, the claim is refused with :data:`SECOND_TAB` unless it takes
        over. Returns the tab replaced whose socket is still connected (the same tab's stale
        socket, or the tab taken over): the caller closes that socket.

        Raises:
            Refused: the socket is not bound, the tab id is not a short string, or another
                tab holds the participant (reason :data:`SECOND_TAB`, ``message`` for people).
        """
        participant_id = self._participants.get(sid)
        if participant_id is None:
            raise Refused("not connected as a participant")
        if not isinstance(tab, str) or not 0 < len(tab) <= MAX_TAB_ID:
            raise Refused(f"tab: expected a string of 1-{MAX_TAB_ID} characters")
        holder = self.tab_of(participant_id)
        if holder is not None and holder.tab != tab and not takeover:
            raise Refused(SECOND_TAB, message=SECOND_TAB_MESSAGE)
        self._tabs[participant_id] = Tab(sid, tab)
        return holder if holder is not None and holder.sid != sid else None

    def release(self, sid: str, participant_id: str | None = None) -> None:
        """``sid`` stops being its participant's active tab (if it was)."""
        participant_id = participant_id or self._participants.get(sid)
        if participant_id is None:
            return
        holder = self._tabs.get(participant_id)
        if holder is not None and holder.sid == sid:
            del self._tabs[participant_id]
