"""The admin session cookie: signed, expiring, bound to the password; and its CSRF tokens.

The cookie ``ig_admin`` holds ``<session id>.<issued>.<expires>.<fingerprint>.<signature>``:
a random session id, the unix times it was issued and expires, a fingerprint of the password
hash it was opened under (so changing the password ends every session), and an HMAC-SHA256 of
the rest with a key derived from the server secret (``derive_key(secret, "admin-session")``).
Nothing in it is secret but the signature; a participant's token, signed with another key and
shaped differently, never passes. Checking it costs one HMAC: no argon2, no database.

The CSRF token of a session is ``HMAC(key, "csrf:" + session id)``: the console page carries it
and sends it back (header ``X-CSRF-Token``, or socket auth ``{"csrf": ...}``). The login form
has its own: a short-lived signed nonce in the cookie ``ig_admin_login`` and its HMAC in a
hidden field (double submit), so no other site can log a browser in.

:mod:`interactive_gym.admin.auth` is the other half: it sets and reads these cookies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from interactive_gym.server.tokens import MIN_SECRET_CHARS, SecretError, derive_key

COOKIE = "ig_admin"
LOGIN_COOKIE = "ig_admin_login"
#: How long a login form may be submitted after it was served.
LOGIN_FORM_S = 3600
MAX_COOKIE_CHARS = 256
#: A session is not accepted if it claims to be issued further in the future than this.
CLOCK_SKEW_S = 60
_SESSION = re.compile(
    r"([A-Za-z0-9_-]{16,64})\.(\d{1,12})\.(\d{1,12})\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})"
)
_LOGIN = re.compile(r"([A-Za-z0-9_-]{16,64})\.(\d{1,12})\.([A-Za-z0-9_-]{43})")


class InvalidSession(ValueError):
    """A session cookie that cannot be trusted; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SessionClaims:
    """What a validly signed session cookie says (times in unix seconds)."""

    session_id: str
    issued_at: int
    expires_at: int
    #: :meth:`SessionKeys.fingerprint` of the password hash the session was opened under.
    fingerprint: str


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class SessionKeys:
    """Signs and checks admin session cookies, CSRF tokens and login nonces with one key."""

    def __init__(self, secret: str) -> None:
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS:
            raise SecretError(f"admin secret: expected at least {MIN_SECRET_CHARS} characters")
        self._key = derive_key(secret, "admin-session")

    def _mac(self, purpose: str, payload: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest())

    def fingerprint(self, password_hash: str) -> str:
        """16 hex characters naming a password hash (keyed: reveals nothing of it)."""
        digest = hmac.new(self._key, f"password:{password_hash}".encode(), hashlib.sha256)
        return digest.hexdigest()[:16]

    # sessions ------------------------------------------------------------------------------

    def issue(self, fingerprint: str, lifetime_s: float, now: float) -> tuple[str, SessionClaims]:
        """A new session's cookie value and claims, living ``lifetime_s`` from ``now``."""
        claims = SessionClaims(
            secrets.token_urlsafe(18), int(now), int(now + lifetime_s), fingerprint
        )
        payload = f"{claims.session_id}.{claims.issued_at}.{claims.expires_at}.{fingerprint}"
        return f"{payload}.{self._mac('session', payload)}", claims

    def verify(self, value: str | None, now: float) -> SessionClaims:
        """The claims of a validly signed, unexpired cookie; raises :class:`InvalidSession`."""
        if not value:
            raise InvalidSession("no session cookie")
        if len(value) > MAX_COOKIE_CHARS:
            raise InvalidSession("malformed session cookie (too long)")
        match = _SESSION.fullmatch(value)
        if match is None:
            raise InvalidSession("malformed session cookie")
        session_id, issued, expires, fingerprint, signature = match.groups()
        payload = value[: match.start(5) - 1]
        if not hmac.compare_digest(signature, self._mac("session", payload)):
            raise InvalidSession("bad session signature (forged, altered or another server's)")
        claims = SessionClaims(session_id, int(issued), int(expires), fingerprint)
        if claims.issued_at > now + CLOCK_SKEW_S:
            raise InvalidSession("session issued in the future")
        if now >= claims.expires_at:
            raise InvalidSession("session expired")
        return claims

    def csrf(self, session_id: str) -> str:
        """The CSRF token of a session (43 URL-safe characters)."""
        return self._mac("csrf", session_id)

    # the login form ------------------------------------------------------------------------

    def login_form(self, now: float) -> tuple[str, str]:
        """``(cookie value, form token)`` for a login form served at ``now``."""
        nonce = secrets.token_urlsafe(18)
        payload = f"{nonce}.{int(now + LOGIN_FORM_S)}"
        return f"{payload}.{self._mac('login-cookie', payload)}", self._mac("login", nonce)

    def check_login_form(self, cookie: str | None, token: str | None, now: float) -> bool:
        """Whether a login form's token matches the unexpired login cookie it was served with."""
        if not cookie or not token or len(cookie) > MAX_COOKIE_CHARS:
            return False
        match = _LOGIN.fullmatch(cookie)
        if match is None:
            return False
        nonce, expires, signature = match.groups()
        payload = f"{nonce}.{expires}"
        if not hmac.compare_digest(signature, self._mac("login-cookie", payload)):
            return False
        if now >= int(expires):
            return False
        return hmac.compare_digest(token.encode(), self._mac("login", nonce).encode())


class Revocations:
    """Session ids logged out, kept until their session would have expired anyway."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._until)

    def revoke(self, session_id: str, until: float, now: float) -> None:
        """Refuse ``session_id`` from now on (forgotten after ``until``)."""
        self._until = {s: t for s, t in self._until.items() if t > now}
        self._until[session_id] = until

    def is_revoked(self, session_id: str) -> bool:
        """Whether ``session_id`` was logged out."""
        return session_id in self._until
