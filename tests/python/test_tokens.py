"""Participant tokens: issued, verified, forged or expired ones refused with a reason."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from interactive_gym.server.tokens import InvalidToken, TokenSigner, load_or_create_secret

SECRET = "s" * 32


def test_round_trip() -> None:
    signer = TokenSigner(SECRET)
    assert signer.verify(signer.issue("PROLIFIC-123")) == "PROLIFIC-123"


def test_token_from_another_secret_is_refused() -> None:
    token = TokenSigner("x" * 32).issue("p1")
    with pytest.raises(InvalidToken, match="signature") as info:
        TokenSigner(SECRET).verify(token)
    assert "signature" in info.value.reason


def test_altered_token_is_refused() -> None:
    signer = TokenSigner(SECRET)
    token = signer.issue("p1")
    other = signer.issue("p2")
    forged = other.split(".")[0] + "." + ".".join(token.split(".")[1:])
    with pytest.raises(InvalidToken):
        signer.verify(forged)
    with pytest.raises(InvalidToken):
        signer.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, 42, "x" * 5000])
def test_malformed_tokens_are_refused(token: object) -> None:
    with pytest.raises(InvalidToken, match="token"):
        TokenSigner(SECRET).verify(token)  # type: ignore[arg-type]


def test_expired_token_is_refused() -> None:
    signer = TokenSigner(SECRET)
    token = signer.issue("p1")
    time.sleep(1.1)
    assert signer.verify(token, max_age_s=60) == "p1"
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify(token, max_age_s=0.5)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        TokenSigner("short")


def test_secret_is_created_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_secret(path)
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == first
    token = TokenSigner(first).issue("p1")
    assert TokenSigner(load_or_create_secret(path)).verify(token) == "p1"
