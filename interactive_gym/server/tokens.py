"""Signed participant tokens: they bind a browser to its participant.

A token is the participant id signed with the server's secret and a timestamp
(``itsdangerous.URLSafeTimedSerializer``). Whoever holds it may upload that participant's
records and nobody else's; a forged, altered or expired token is refused with a reason.

The secret must survive a restart, or every participant loses their session: when none is
configured, :func:`load_or_create_secret` keeps a generated one in ``./data/secret.key``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

#: Distinguishes these signatures from any other use of the same secret.
SALT = "interactive-gym.participant"
MAX_TOKEN_CHARS = 1024


class InvalidToken(ValueError):
    """A token that cannot be trusted; ``reason`` says why (malformed, forged, expired)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenSigner:
    """Issues and checks participant tokens with one secret."""

    def __init__(self, secret: str) -> None:
        if not secret or len(secret) < 16:
            raise ValueError("token secret: expected at least 16 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)

    def issue(self, participant_id: str) -> str:
        """A token for the participant."""
        if not isinstance(participant_id, str) or not participant_id:
            raise ValueError(f"participant_id: expected a non-empty string, got {participant_id!r}")
        return str(self._serializer.dumps(participant_id))

    def verify(self, token: str, max_age_s: float | None = None) -> str:
        """The participant id the token was issued for; raises :class:`InvalidToken`."""
        if not isinstance(token, str) or not token:
            raise InvalidToken("token: missing or not a string")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken(f"token: longer than {MAX_TOKEN_CHARS} characters")
        try:
            participant_id = self._serializer.loads(token, max_age=max_age_s)
        except SignatureExpired as exc:
            raise InvalidToken(f"token: expired ({exc})") from exc
        except BadSignature as exc:
            raise InvalidToken(
                "token: bad signature (forged, altered or from another server)"
            ) from exc
        except (ValueError, TypeError) as exc:  # undecodable payload
            raise InvalidToken(f"token: malformed ({type(exc).__name__})") from exc
        if not isinstance(participant_id, str) or not participant_id:
            raise InvalidToken("token: does not name a participant")
        return participant_id


def load_or_create_secret(path: Path) -> str:
    """The secret stored at ``path``; a new random one is written there (mode 0600) if missing."""
    try:
        secret = path.read_text().strip()
        if secret:
            return secret
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    try:
        os.link(tmp, path)  # atomic; fails if another process created the file first
    except FileExistsError:
        secret = path.read_text().strip()
    finally:
        tmp.unlink()
    return secret
