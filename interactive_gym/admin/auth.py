"""Who may use the admin console: the login, the session, and the guard every admin route uses.

``GET /admin`` answers one of three pages: while no password is set, how to set one (the
console is off; every other admin route answers 404); without a session, the login form (one
password field); with a session, the console (``static/console.html``, its ``{{csrf}}``
replaced by the session's CSRF token). ``POST /admin/login`` checks the password (argon2, in a
thread, at most two at a time), ``POST /admin/logout`` ends the session. Login attempts are
limited per client address before the password is checked (a burst of 5, then one per 10 s:
429 with ``Retry-After``); failures are logged (throttled) and audited, as are logins and
logouts (:mod:`interactive_gym.admin.audit`).

Every other admin route is wrapped in :meth:`AdminAuth.guard`; the ``/admin`` socket namespace
calls :meth:`AdminAuth.socket_session`. A session is the signed cookie ``ig_admin``
(:mod:`interactive_gym.admin.sessions`, the other half); checking it costs an HMAC and a cached
read of the password hash (:mod:`interactive_gym.admin.passwords`), refreshed at most every
second, so a new password ends every session within a second. A participant's token, whatever
it is sent as, opens nothing here: only this cookie, signed with the admin key, does.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request, cookie_parser
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from interactive_gym.admin.assets import STATIC_DIR, asset_endpoint
from interactive_gym.admin.audit import audit_async
from interactive_gym.admin.guard import Endpoint
from interactive_gym.admin.login_pages import disabled_page, login_page, message_page
from interactive_gym.admin.passwords import PasswordSource, verify_password
from interactive_gym.admin.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    LOGIN_FORM_S,
    InvalidSession,
    Revocations,
    SessionClaims,
    SessionKeys,
)
from interactive_gym.data.store import Store
from interactive_gym.server.limits import KeyedLimiter, LogThrottle

log = logging.getLogger("interactive_gym.admin")


DEFAULT_SESSION_S = 8 * 3600.0
#: Login attempts per client address: a burst, then one every 10 s.
LOGIN_BURST = 5
LOGIN_PER_S = 0.1
#: Password checks running at once (argon2 takes 64 MiB and tens of ms each).
CONCURRENT_CHECKS = 2
MAX_LOGIN_BYTES = 8 * 1024
CSRF_HEADER = "x-csrf-token"
CONSOLE_FILE = "console.html"
CSRF_PLACEHOLDER = "{{csrf}}"
NO_STORE = {"cache-control": "no-store"}

DISABLED_MESSAGE = (
    "The admin console is off: no admin password is set. Set one with "
    "python -m interactive_gym.admin set-password, or IG_ADMIN_PASSWORD_HASH."
)
LOGIN_MESSAGE = (
    "Log in at /admin first (no session, or it expired, was logged out or the password changed)."
)
CSRF_MESSAGE = f"{CSRF_HEADER}: missing or not this session's token; reload /admin."


@dataclass(frozen=True)
class AdminSession:
    """A logged-in admin, as one request or socket presents it."""

    session_id: str
    #: Sent back as header ``X-CSRF-Token`` (HTTP) or socket auth ``{"csrf": ...}``.
    csrf: str
    #: The client's address.
    client: str
    #: Unix time the session ends.
    expires_at: float
    #: Names the password hash the session was opened under.
    fingerprint: str = field(default="", repr=False)

    @property
    def actor(self) -> str:
        """Who did it, for the audit table: ``admin:<first 8 of session id>@<client>``."""
        return f"admin:{self.session_id[:8]}@{self.client}"


def client_address(request: Request) -> str:
    """The address the request came from (the proxy's, unless its headers are trusted)."""
    return request.client.host if request.client else "unknown"


def environ_address(environ: Mapping[str, Any]) -> str:
    """The address a socket's handshake came from."""
    client = (environ.get("asgi.scope") or {}).get("client")
    if client:
        return str(client[0])
    return str(environ.get("REMOTE_ADDR") or "unknown")


def refusal(status: int, error: str, message: str) -> JSONResponse:
    """``{ok: false, error, message}`` with ``status``, never cached."""
    return JSONResponse({"ok": False, "error": error, "message": message}, status, NO_STORE)


async def read_form(request: Request, limit: int = MAX_LOGIN_BYTES) -> dict[str, str] | None:
    """A url-encoded form body of at most ``limit`` bytes (None: too large or not a form)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=16))


class AdminAuth:
    """The admin console's login, sessions and guard over one store and server secret.

    Args:
        store: the study database (password hash, audit log).
        secret: the server secret; the admin key is derived from it.
        session_s: how long a session lasts after login.
        env_hash: ``IG_ADMIN_PASSWORD_HASH`` (see
            :func:`interactive_gym.admin.passwords.hash_from_env`); wins over the database.
            A malformed one raises :class:`~interactive_gym.admin.passwords.PasswordError`.
        throttle: the server's log throttle (failed logins are logged through it).
        limiter: login attempts per client address (default: a burst of 5, then 1 per 10 s).
        static_dir: the console's files (``console.html`` and what it loads).
        cookie_path: the ``Path`` of the session cookie. ``/`` (default) so the socket.io
            handshake (``/socket.io/``) carries it too; ``/admin`` only when the admin socket
            is served under ``/admin``.
        clock: unix time (for tests).
        max_stale_s: how old the cached password hash may be.
    """

    def __init__(
        self,
        store: Store,
        secret: str,
        *,
        session_s: float = DEFAULT_SESSION_S,
        env_hash: str | None = None,
        throttle: LogThrottle | None = None,
        limiter: KeyedLimiter[str] | None = None,
        static_dir: Path = STATIC_DIR,
        cookie_path: str = "/",
        clock: Callable[[], float] = time.time,
        max_stale_s: float = 1.0,
    ) -> None:
        if isinstance(session_s, bool) or not (
            isinstance(session_s, (int, float)) and 60 <= session_s <= 30 * 24 * 3600
        ):
            raise ValueError(f"admin session_s: expected 60 s to 30 days, got {session_s!r}")
        if cookie_path not in ("/", "/admin"):
            raise ValueError(f"cookie_path: expected '/' or '/admin', got {cookie_path!r}")
        self.store = store
        self.session_s = float(session_s)
        self.keys = SessionKeys(secret)
        self.passwords = PasswordSource(store, env_hash, max_stale_s=max_stale_s)
        self.throttle = throttle or LogThrottle()
        self.limiter: KeyedLimiter[str] = limiter or KeyedLimiter(LOGIN_BURST, LOGIN_PER_S)
        self.static_dir = static_dir
        self.cookie_path = cookie_path
        self.clock = clock
        self.revoked = Revocations()
        self._checks = asyncio.Semaphore(CONCURRENT_CHECKS)
        self._fingerprints: tuple[str, str] = ("", "")

    # the password ----------------------------------------------------------------------------

    def enabled(self) -> bool:
        """Whether a password hash is set (environment or database)."""
        return self.passwords.current() is not None

    async def refresh(self) -> None:
        """Bring the cached password hash up to date (≤ 1 s old) without blocking the loop.

        The guard and the routes do this; call it before :meth:`socket_session` or
        :meth:`is_valid` so that a new password is seen at once.
        """
        await self.passwords.refresh()

    def _fingerprint(self, password_hash: str) -> str:
        known, fingerprint = self._fingerprints
        if known != password_hash:
            fingerprint = self.keys.fingerprint(password_hash)
            self._fingerprints = (password_hash, fingerprint)
        return fingerprint

    # sessions --------------------------------------------------------------------------------

    def _session(self, claims: SessionClaims, client: str) -> AdminSession:
        expires = min(claims.expires_at, claims.issued_at + self.session_s)
        csrf = self.keys.csrf(claims.session_id)
        return AdminSession(claims.session_id, csrf, client, float(expires), claims.fingerprint)

    def is_valid(self, session: AdminSession) -> bool:
        """Whether ``session`` still holds: not expired, logged out, nor from another password."""
        password_hash = self.passwords.current()
        return (
            password_hash is not None
            and self.clock() < session.expires_at
            and not self.revoked.is_revoked(session.session_id)
            and session.fingerprint == self._fingerprint(password_hash)
        )

    def session_of(self, cookie_header: str | None, client: str = "unknown") -> AdminSession | None:
        """The session the ``Cookie`` header's ``ig_admin`` holds, if it is valid now."""
        if not cookie_header:
            return None
        value = cookie_parser(cookie_header).get(COOKIE)
        if not value or self.passwords.current() is None:
            return None
        try:
            claims = self.keys.verify(value, self.clock())
        except InvalidSession as exc:
            self.throttle.log(
                log,
                "admin-session",
                "admin: session from %s refused (%s)",
                client,
                exc.reason,
                level=logging.INFO,
            )
            return None
        session = self._session(claims, client)
        return session if self.is_valid(session) else None

    def request_session(self, request: Request) -> AdminSession | None:
        """The request's valid session, or None."""
        return self.session_of(request.headers.get("cookie"), client_address(request))

    def socket_session(self, environ: Mapping[str, Any], auth: Any) -> AdminSession | None:
        """The session of a socket handshake: its cookie, and ``auth == {"csrf": <token>}``."""
        session = self.session_of(environ.get("HTTP_COOKIE"), environ_address(environ))
        if session is None or not isinstance(auth, dict):
            return None
        token = auth.get("csrf")
        return session if self._csrf_matches(session, token) else None

    @staticmethod
    def _csrf_matches(session: AdminSession, token: object) -> bool:
        if not isinstance(token, str) or not token or not token.isascii():
            return False
        return hmac.compare_digest(token.encode(), session.csrf.encode())

    def revoke(self, session: AdminSession) -> None:
        """End ``session`` (logout): refused from now on, by every route and socket."""
        self.revoked.revoke(session.session_id, session.expires_at, self.clock())

    # the guard -------------------------------------------------------------------------------

    def guard(self, endpoint: Endpoint, *, write: bool = False) -> Endpoint:
        """``endpoint`` for logged-in admins only (``request.state.admin`` is their session).

        Refusals (JSON ``{ok: false, error, message}``): 404 ``admin_disabled`` while no
        password is set, 401 ``login_required`` without a valid session, 403 ``csrf`` when
        ``write`` and the ``X-CSRF-Token`` header is missing or wrong.
        """

        async def guarded(request: Request) -> Response:
            await self.refresh()
            if not self.enabled():
                return refusal(404, "admin_disabled", DISABLED_MESSAGE)
            session = self.request_session(request)
            if session is None:
                return refusal(401, "login_required", LOGIN_MESSAGE)
            if write and not self._csrf_matches(session, request.headers.get(CSRF_HEADER)):
                self.throttle.log(
                    log, "admin-csrf", "admin: %s refused: bad CSRF token", session.actor
                )
                return refusal(403, "csrf", CSRF_MESSAGE)
            request.state.admin = session
            return await endpoint(request)

        guarded.__name__ = getattr(endpoint, "__name__", "guarded")
        guarded.__doc__ = endpoint.__doc__
        return guarded

    # routes ----------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """``GET /admin``, ``POST /admin/login``, ``POST /admin/logout``, and the console's
        files at ``GET /admin/assets/{path}``."""
        return [
            Route("/admin", self.page, methods=["GET"]),
            Route("/admin/login", self.login, methods=["POST"]),
            Route("/admin/logout", self.logout, methods=["POST"]),
            Route(
                "/admin/assets/{path:path}",
                self.guard(asset_endpoint(self.static_dir)),
                methods=["GET"],
            ),
        ]

    async def page(self, request: Request) -> Response:
        """The page saying how to turn the console on, the login form, or the console."""
        await self.refresh()
        if not self.enabled():
            return HTMLResponse(disabled_page(), headers=NO_STORE)
        session = self.request_session(request)
        if session is None:
            return self._login_form(request)
        return await self._console(session)

    def _login_form(
        self,
        request: Request,
        message: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        cookie, token = self.keys.login_form(self.clock())
        response = HTMLResponse(
            login_page(token, message), status, headers={**NO_STORE, **(headers or {})}
        )
        response.set_cookie(
            LOGIN_COOKIE,
            cookie,
            max_age=LOGIN_FORM_S,
            path="/admin",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def _console(self, session: AdminSession) -> Response:
        path = self.static_dir / CONSOLE_FILE
        try:
            html = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except FileNotFoundError:
            log.error("admin: the console page %s is missing", path)
            page = message_page(
                "Admin console missing",
                f"The console page {path} is missing from this installation; reinstall "
                "interactive_gym.",
            )
            return HTMLResponse(page, 500, headers=NO_STORE)
        return HTMLResponse(html.replace(CSRF_PLACEHOLDER, escape(session.csrf)), headers=NO_STORE)

    async def login(self, request: Request) -> Response:
        """Check the password of the login form; open a session (a cookie) if it is right."""
        password_hash = await self.passwords.refresh()
        if password_hash is None:
            return HTMLResponse(disabled_page(), 404, headers=NO_STORE)
        client = client_address(request)
        form = await read_form(request)
        if form is None:
            message = "The login was not sent by the login form; please try again."
            return self._login_form(request, message, 400)
        now = self.clock()
        if not self.keys.check_login_form(request.cookies.get(LOGIN_COOKIE), form.get("csrf"), now):
            message = "The login form expired or came from elsewhere; please try again."
            return self._login_form(request, message, 403)
        if not self.limiter.take(client):
            wait = max(1, math.ceil(self.limiter.retry_after(client)))
            self.throttle.log(log, "admin-login", "admin login from %s refused: too many", client)
            message = f"Too many login attempts from your address; try again in {wait} s."
            return self._login_form(request, message, 429, {"retry-after": str(wait)})
        async with self._checks:
            right = await asyncio.to_thread(
                verify_password, password_hash, form.get("password", "")
            )
        if not right:
            self.throttle.log(
                log, "admin-login", "admin login from %s failed: wrong password", client
            )
            await audit_async(
                self.store,
                f"anonymous@{client}",
                "login_failed",
                None,
                {"reason": "wrong_password"},
            )
            return self._login_form(request, "Wrong password.", 401)
        value, claims = self.keys.issue(self._fingerprint(password_hash), self.session_s, now)
        session = self._session(claims, client)
        expires = datetime.fromtimestamp(session.expires_at, UTC).isoformat()
        await audit_async(self.store, session.actor, "login", None, {"expires_at": expires})
        log.info("admin login from %s (session %s)", client, session.session_id[:8])
        response = RedirectResponse("/admin", 303, headers=NO_STORE)
        self._set_session_cookie(request, response, value, claims.expires_at - int(now))
        response.delete_cookie(LOGIN_COOKIE, path="/admin", httponly=True, samesite="strict")
        return response

    def _set_session_cookie(
        self, request: Request, response: Response, value: str, max_age: int
    ) -> None:
        response.set_cookie(
            COOKIE,
            value,
            max_age=max_age,
            expires=max_age,
            path=self.cookie_path,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    async def logout(self, request: Request) -> Response:
        """End the session (``X-CSRF-Token`` header or form field ``csrf``) and its cookie."""
        await self.refresh()
        if not self.enabled():
            return refusal(404, "admin_disabled", DISABLED_MESSAGE)
        session = self.request_session(request)
        token = request.headers.get(CSRF_HEADER)
        from_form = token is None
        if from_form:
            form = await read_form(request)
            token = (form or {}).get("csrf")
        if session is not None:
            if not self._csrf_matches(session, token):
                return refusal(403, "csrf", CSRF_MESSAGE)
            self.revoke(session)
            await audit_async(self.store, session.actor, "logout")
            log.info("admin logout (session %s)", session.session_id[:8])
        response: Response = (
            RedirectResponse("/admin", 303, headers=NO_STORE)
            if from_form
            else JSONResponse({"ok": True}, headers=NO_STORE)
        )
        response.delete_cookie(
            COOKIE,
            path=self.cookie_path,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response
