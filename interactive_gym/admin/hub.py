"""The admin console's live channel: the ``/admin`` socket namespace and its push loop.

The other half: the console's browser code (``admin/static/api.js``) connects to ``/admin``
with ``auth: {csrf}`` and its session cookie; what it is sent comes from ``views.py``.

- ``connect``: refused (``ConnectionRefusedError`` with the reason: :data:`REFUSED`, or
  :data:`DISABLED` while no password is set) unless ``auth.socket_session(environ, auth)``
  finds a valid admin session; the socket joins the room ``admins``.
- server → admin: ``overview`` and ``games`` (``views.py``) at most every ``interval_s`` (1 s)
  while an admin is connected, only when the monitor's ``version`` moved (and at least every
  ``quiet_s``, 10 s); a socket just connected gets the overview at the next tick. ``games``
  goes only to sockets that said they show them: ``view`` ``{games: bool}`` → ``{ok: true}``.
- admin → server: ``watch`` ``{participant_id: str | null}`` → ``{ok: true}`` (or ``{ok:
  false, error}`` naming the field): from then on that socket is sent ``participant`` (the
  participant's detail, see ``detail.py``, plus ``participant_id``) whenever that
  participant's records or connection changed (at least every ``quiet_s``); ``null`` stops it.
- ``session_ended`` ``{reason}`` then a disconnect: the session of a socket is checked again
  before every push, so an expired or logged-out session (or a changed password) ends it.

The loop runs only while at least one admin is connected. :meth:`AdminHub.latest` gives the
last overview pushed (a benchmark reads ``at`` and ``uploads.acked_records`` from it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import socketio

from interactive_gym.admin.views import AdminViews

log = logging.getLogger("interactive_gym.admin")

NAMESPACE = "/admin"
ROOM = "admins"
MAX_ID = 128
REFUSED = "admin login required: open /admin in this browser and log in"
DISABLED = "admin console is off: no admin password is set"


class SocketAuth(Protocol):
    """What the hub needs of ``auth.AdminAuth``."""

    def socket_session(self, environ: dict[str, Any], auth: Any) -> Any: ...


@dataclass
class Admin:
    """One connected admin socket."""

    environ: dict[str, Any]
    auth: Any
    session: Any
    watching: str | None = None
    #: The watched participant's monitor version last sent (-1: send at the next tick).
    sent_version: int = -1
    sent_at: float = 0.0
    fresh: bool = True
    #: Whether it shows the games (``view``): only then are they worked out and sent.
    games: bool = False


class AdminHub:
    """The ``/admin`` namespace's handlers and push loop; see the module documentation."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        auth: SocketAuth,
        views: AdminViews,
        *,
        interval_s: float = 1.0,
        quiet_s: float = 10.0,
        namespace: str = NAMESPACE,
    ) -> None:
        self.sio = sio
        self.auth = auth
        self.views = views
        self.monitor = views.monitor
        self.interval_s = interval_s
        self.quiet_s = quiet_s
        self.namespace = namespace
        self.admins: dict[str, Admin] = {}
        self.pushes = 0
        self._task: asyncio.Task[None] | None = None
        self._sent_version = -1
        self._sent_at = 0.0
        self._latest: dict[str, Any] | None = None
        self._closed = False

    def register(self) -> None:
        """Install the namespace's ``connect``, ``disconnect`` and ``watch`` handlers."""
        self.sio.on("connect", self.handle_connect, namespace=self.namespace)
        self.sio.on("disconnect", self.handle_disconnect, namespace=self.namespace)
        self.sio.on("watch", self.handle_watch, namespace=self.namespace)
        self.sio.on("view", self.handle_view, namespace=self.namespace)

    async def close(self) -> None:
        """Stop the loop (at shutdown)."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def latest(self) -> dict[str, Any] | None:
        """The last overview pushed (None before the first), with ``pushed_at`` (unix time)."""
        return self._latest

    # handlers -----------------------------------------------------------------------------

    async def _session(self, environ: dict[str, Any], auth: Any) -> Any:
        try:
            refresh = getattr(self.auth, "refresh", None)
            if refresh is not None:
                await refresh()  # the password hash read again (≤ 1 s old), off the loop
            return self.auth.socket_session(environ, auth)
        except Exception:  # noqa: BLE001 - a failing check refuses, it does not crash
            log.exception("admin session check failed")
            return None

    async def handle_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        session = await self._session(environ, auth)
        if session is None:
            enabled = getattr(self.auth, "enabled", None)
            reason = DISABLED if enabled is not None and not enabled() else REFUSED
            log.info("admin socket %s refused: %s", sid, reason)
            raise socketio.exceptions.ConnectionRefusedError(reason)
        self.admins[sid] = Admin(environ, auth, session)
        await self.sio.enter_room(sid, ROOM, namespace=self.namespace)
        log.info("admin %s connected (socket %s)", getattr(session, "actor", "?"), sid)
        if self._closed:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def handle_disconnect(self, sid: str, *_: Any) -> None:
        self.admins.pop(sid, None)

    async def handle_watch(self, sid: str, payload: Any = None, *_: Any) -> dict[str, Any]:
        admin = self.admins.get(sid)
        if admin is None:
            return {"ok": False, "error": "not connected as an admin"}
        pid = payload.get("participant_id") if isinstance(payload, dict) else None
        if not isinstance(payload, dict) or (
            pid is not None and (not isinstance(pid, str) or not 0 < len(pid) <= MAX_ID)
        ):
            return {
                "ok": False,
                "error": f"participant_id: expected a string of 1-{MAX_ID} characters or null",
            }
        admin.watching = pid
        admin.sent_version = -1
        return {"ok": True, "participant_id": pid}

    async def handle_view(self, sid: str, payload: Any = None, *_: Any) -> dict[str, Any]:
        admin = self.admins.get(sid)
        if admin is None:
            return {"ok": False, "error": "not connected as an admin"}
        games = payload.get("games") if isinstance(payload, dict) else None
        if not isinstance(games, bool):
            return {"ok": False, "error": "games: expected true or false"}
        if games and not admin.games:
            admin.fresh = True  # sent at the next tick
        admin.games = games
        return {"ok": True, "games": games}

    # the loop -----------------------------------------------------------------------------

    async def _run(self) -> None:
        while self.admins and not self._closed:
            started = time.monotonic()
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the console must go on
                log.exception("admin push failed")
            await asyncio.sleep(max(0.05, self.interval_s - (time.monotonic() - started)))

    async def tick(self) -> None:
        """One round: check the sessions, push what changed."""
        await self._check_sessions()
        if not self.admins:
            return
        now = time.monotonic()
        version = self.monitor.version
        fresh = [sid for sid, a in self.admins.items() if a.fresh]
        everyone = version != self._sent_version or now - self._sent_at >= self.quiet_s
        if everyone or fresh:
            overview = await self.views.overview()
            to: Any = ROOM if everyone else fresh
            await self.sio.emit("overview", overview, to=to, namespace=self.namespace)
            viewers = [sid for sid, a in self.admins.items() if a.games and (everyone or a.fresh)]
            if viewers:  # the games are worked out only while someone looks at them
                games = await self.views.games()
                await self.sio.emit("games", games, to=viewers, namespace=self.namespace)
            self.pushes += 1
            self._latest = {**overview, "pushed_at": time.time()}
            for sid in fresh:
                if sid in self.admins:
                    self.admins[sid].fresh = False
            if everyone:
                self._sent_version, self._sent_at = version, now
        await self._push_watched(now)

    async def _check_sessions(self) -> None:
        for sid, admin in list(self.admins.items()):
            session = await self._session(admin.environ, admin.auth)
            if session is not None:
                admin.session = session
                continue
            self.admins.pop(sid, None)
            log.info("admin socket %s: session ended; disconnecting", sid)
            try:
                await self.sio.emit(
                    "session_ended", {"reason": "login_required"}, to=sid, namespace=self.namespace
                )
                await self.sio.disconnect(sid, namespace=self.namespace)
            except Exception:  # noqa: BLE001 - already gone
                log.debug("disconnecting admin socket %s", sid, exc_info=True)

    async def _push_watched(self, now: float) -> None:
        details: dict[str, dict[str, Any]] = {}
        shown: dict[str, Any] = {}  # the version each detail shows (maybe older than now)
        for sid, admin in list(self.admins.items()):
            pid = admin.watching
            if pid is None:
                continue
            version = self.monitor.owner_version(pid)
            if version == admin.sent_version and now - admin.sent_at < self.quiet_s:
                continue
            if pid not in details:
                found, shown[pid] = await self.views.participant_versioned(pid)
                details[pid] = (
                    {"participant_id": pid, **found}
                    if found is not None
                    else {
                        "participant_id": pid,
                        "participant": None,
                        "error": "unknown participant",
                    }
                )
            if self.admins.get(sid) is not admin or admin.watching != pid:
                continue  # gone, or watching another one meanwhile
            await self.sio.emit("participant", details[pid], to=sid, namespace=self.namespace)
            # An older version shown: sent again at the next tick, once it is read again.
            admin.sent_version, admin.sent_at = shown[pid], now
