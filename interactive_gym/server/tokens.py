"""Signed participant tokens, and the server secret they (and completion codes) are keyed with.

A token names a participant of one experiment and the participant's *device binding*: a number
that grows each time the participant is released to, or moves to, another browser, so the old
browser's tokens stop working. It is signed with the server's secret and a timestamp
(``itsdangerous.URLSafeTimedSerializer``) and lives ``max_age_s`` (renewed while the page is in
use: the entry and every flow answer hand out a fresh one). Whoever holds it may act as that
participant in that experiment and nobody else; a forged, altered, expired token, or one issued
for another experiment served from the same data folder, is refused with a reason.

The secret must survive a restart, or every participant loses their session and generated
completion codes change: when none is configured, :func:`load_or_create_secret` keeps a
generated one in ``./data/secret.key`` (mode 0600). Other keys (completion codes) are derived
from it with :func:`derive_key`, never the secret itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

#: Distinguishes these signatures from any other use of the same secret.
SALT = "interactive-gym.participant.v2"
MAX_TOKEN_CHARS = 1024
MIN_SECRET_CHARS = 16
#: How long a token is accepted after it was issued (renewed while the page is in use).
DEFAULT_TOKEN_MAX_AGE_S = 14 * 24 * 3600.0


class InvalidToken(ValueError):
    """A token that cannot be trusted; ``reason`` says why (malformed, forged, expired)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SecretError(ValueError):
    """The configured secret (or secret file) cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says."""

    participant_id: str
    experiment_id: str
    #: The participant's device binding when the token was issued.
    device: int
    issued_at: datetime


class TokenSigner:
    """Issues and checks the participant tokens of one experiment with one secret."""

    def __init__(
        self,
        secret: str,
        experiment_id: str,
        *,
        max_age_s: float = DEFAULT_TOKEN_MAX_AGE_S,
    ) -> None:
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS:
            raise SecretError(f"token secret: expected at least {MIN_SECRET_CHARS} characters")
        if not isinstance(experiment_id, str) or not experiment_id:
            raise ValueError(f"experiment_id: expected a non-empty string, got {experiment_id!r}")
        if not max_age_s > 0:
            raise ValueError(f"max_age_s: expected a positive number of seconds, got {max_age_s}")
        self.experiment_id = experiment_id
        self.max_age_s = float(max_age_s)
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)

    def issue(self, participant_id: str, device: int = 0) -> str:
        """A token for the participant (of this signer's experiment) on binding ``device``."""
        if not isinstance(participant_id, str) or not participant_id:
            raise ValueError(f"participant_id: expected a non-empty string, got {participant_id!r}")
        return str(self._serializer.dumps([self.experiment_id, participant_id, int(device)]))

    def verify(self, token: object) -> TokenClaims:
        """The claims of a valid token of this experiment; raises :class:`InvalidToken`."""
        if not isinstance(token, str) or not token:
            raise InvalidToken("token: missing or not a string")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken(f"token: longer than {MAX_TOKEN_CHARS} characters")
        try:
            payload, issued = self._serializer.loads(token, return_timestamp=True)
        except BadSignature as exc:
            raise InvalidToken(
                "token: bad signature (forged, altered or from another server)"
            ) from exc
        except (ValueError, TypeError) as exc:  # undecodable payload
            raise InvalidToken(f"token: malformed ({type(exc).__name__})") from exc
        if (
            not isinstance(payload, list)
            or len(payload) != 3
            or not all(isinstance(p, str) and p for p in payload[:2])
            or not isinstance(payload[2], int)
        ):
            raise InvalidToken("token: does not name a participant")
        experiment_id, participant_id, device = payload
        if experiment_id != self.experiment_id:
            raise InvalidToken(f"token: issued for another study ({experiment_id!r:.60})")
        issued = issued.astimezone(UTC)
        if (datetime.now(UTC) - issued).total_seconds() > self.max_age_s:
            raise InvalidToken("token: expired; reload the page to get a new one")
        return TokenClaims(participant_id, experiment_id, device, issued)


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose (``"completion-codes"``, ...) derived from the server secret."""
    return hmac.new(secret.encode(), f"interactive-gym:{purpose}".encode(), hashlib.sha256).digest()


def load_or_create_secret(path: Path) -> str:
    """The secret stored at ``path``; a new random one is written there (mode 0600) if missing.

    Raises :class:`SecretError`, naming the file and the fix, for a file that exists but holds
    no usable secret (empty, too short, unreadable): generating a new one silently would log
    every participant out and change every generated completion code.
    """
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        return _create_secret(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"secret file {path}: cannot be read ({exc})") from None
    if len(secret) < MIN_SECRET_CHARS:
        what = "is empty" if not secret else f"holds fewer than {MIN_SECRET_CHARS} characters"
        raise SecretError(
            f"secret file {path} {what}. Put a long random secret in it (for example the "
            f"output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'), or "
            "delete the file to have a new one generated (participants in progress then lose "
            "their session and generated completion codes change)."
        )
    return secret


def _create_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    try:
        os.link(tmp, path)  # atomic; fails if another process created the file first
    except FileExistsError:
        return load_or_create_secret(path)
    finally:
        tmp.unlink()
    return secret
