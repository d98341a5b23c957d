"""Participant tokens: issued, verified; forged, expired or foreign ones refused with a reason."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from interactive_gym.server.tokens import (
    InvalidToken,
    SecretError,
    TokenSigner,
    derive_key,
    load_or_create_secret,
)

SECRET = "s" * 32


def signer(**kwargs: float) -> TokenSigner:
    return TokenSigner(SECRET, "exp", **kwargs)


def test_round_trip() -> None:
    claims = signer().verify(signer().issue("PROLIFIC-123", 2))
    assert (claims.participant_id, claims.experiment_id, claims.device) == (
        "PROLIFIC-123",
        "exp",
        2,
    )
    assert abs(claims.issued_at.timestamp() - time.time()) < 5


def test_token_from_another_secret_is_refused() -> None:
    token = TokenSigner("x" * 32, "exp").issue("p1")
    with pytest.raises(InvalidToken, match="signature") as info:
        signer().verify(token)
    assert "signature" in info.value.reason


def test_token_of_another_experiment_is_refused() -> None:
    token = TokenSigner(SECRET, "other_study").issue("p1")
    with pytest.raises(InvalidToken, match="another study"):
        signer().verify(token)


def test_altered_token_is_refused() -> None:
    token = signer().issue("p1")
    other = signer().issue("p2")
    forged = other.split(".")[0] + "." + ".".join(token.split(".")[1:])
    with pytest.raises(InvalidToken):
        signer().verify(forged)
    with pytest.raises(InvalidToken):
        signer().verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, 42, "x" * 5000])
def test_malformed_tokens_are_refused(token: object) -> None:
    with pytest.raises(InvalidToken, match="token"):
        signer().verify(token)


def test_tokens_expire() -> None:
    token = signer().issue("p1")
    time.sleep(1.1)
    assert signer(max_age_s=60).verify(token).participant_id == "p1"
    with pytest.raises(InvalidToken, match="expired"):
        signer(max_age_s=0.5).verify(token)


def test_tokens_have_a_lifetime_by_default() -> None:
    assert 0 < signer().max_age_s <= 90 * 24 * 3600


def test_short_secret_is_refused() -> None:
    with pytest.raises(SecretError, match="secret"):
        TokenSigner("short", "exp")


def test_derived_keys_differ_by_purpose_and_never_equal_the_secret() -> None:
    a, b = derive_key(SECRET, "completion-codes"), derive_key(SECRET, "other")
    assert a != b and SECRET.encode() not in (a, b)
    assert derive_key(SECRET, "completion-codes") == a


def test_secret_is_created_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_secret(path)
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == first
    token = TokenSigner(first, "exp").issue("p1")
    assert TokenSigner(load_or_create_secret(path), "exp").verify(token).participant_id == "p1"


@pytest.mark.parametrize("content", ["", "\n", "short\n"])
def test_an_unusable_secret_file_is_explained_not_replaced(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secret.key"
    path.write_text(content)
    with pytest.raises(SecretError, match=str(path)) as info:
        load_or_create_secret(path)
    assert "delete the file" in str(info.value)
    assert path.read_text() == content  # nothing was overwritten
