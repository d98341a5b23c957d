"""The admin console's password: argon2id hashing, and where the hash lives.

The hash comes from the environment variable ``IG_ADMIN_PASSWORD_HASH`` when it is set (it
wins), else from the study database's ``admin_settings`` (written by ``python -m
interactive_gym.admin set-password``, :mod:`interactive_gym.admin.cli`; stored by
:mod:`interactive_gym.data.admin_store`). Neither set: the console is off. There is no default
password.

:class:`PasswordSource` is what the server reads: the database hash is cached for at most
``max_stale_s`` (1 s), so a running server picks up a new password within a second without
restarting, and checking a session costs no database read on most requests. Verifying a
password (argon2, tens of milliseconds by design) runs in a thread, never on the event loop
(:mod:`interactive_gym.admin.auth`, the other half, does that).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Callable, Mapping

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import SQLAlchemyError

from interactive_gym.data.admin_store import read_setting, write_setting
from interactive_gym.data.store import Store

log = logging.getLogger("interactive_gym.admin")

ENV_VAR = "IG_ADMIN_PASSWORD_HASH"
#: The ``admin_settings`` key holding the hash.
SETTING = "password_hash"
MIN_PASSWORD = 12
#: Longer passwords are refused before hashing (hashing cost grows with the length).
MAX_PASSWORD = 1024
MAX_HASH = 512
HASH_PREFIX = "$argon2id$"
_EXAMPLE = "$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>"


class PasswordError(ValueError):
    """A password or password hash that cannot be used; the message names it and the fix."""


def check_password(password: object) -> str:
    """A new password, checked: text of ``MIN_PASSWORD`` to ``MAX_PASSWORD`` characters."""
    if not isinstance(password, str):
        raise PasswordError(f"password: expected text, got {type(password).__name__}")
    if len(password) < MIN_PASSWORD:
        raise PasswordError(
            f"password: expected at least {MIN_PASSWORD} characters, got {len(password)}"
        )
    if len(password) > MAX_PASSWORD:
        raise PasswordError(
            f"password: expected at most {MAX_PASSWORD} characters, got {len(password)}"
        )
    if not password.strip():
        raise PasswordError("password: expected more than spaces")
    return password


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """The argon2id hash of a new password (``hasher``: argon2-cffi's defaults when None)."""
    return (hasher or PasswordHasher()).hash(check_password(password))


def check_hash(value: object, source: str = ENV_VAR) -> str:
    """An argon2id hash as ``hash-password`` prints it; the error names ``source``."""
    if not isinstance(value, str):
        raise PasswordError(f"{source}: expected an argon2id hash, got {type(value).__name__}")
    value = value.strip()
    how = "print one with: python -m interactive_gym.admin hash-password"
    if not value.startswith(HASH_PREFIX) or len(value) > MAX_HASH:
        hint = ""
        if value.startswith("$argon2"):
            hint = "; only the argon2id variant is accepted"
        elif "m=" in value and "t=" in value:
            hint = (
                "; the shell replaced its $ signs: put the value in single quotes "
                f"({ENV_VAR}='$argon2id$...')"
            )
        raise PasswordError(
            f"{source}: expected an argon2id hash such as {_EXAMPLE}, got {value[:24]!r}...; "
            f"{how}{hint}"
        )
    try:
        extract_parameters(value)
    except InvalidHashError:
        raise PasswordError(
            f"{source}: not a complete argon2id hash ({value[:24]!r}...); {how}"
        ) from None
    return value


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (slow by design: call from a thread)."""
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD:
        return False
    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``IG_ADMIN_PASSWORD_HASH``, checked (None when unset or empty).

    Raises:
        PasswordError: it is set but is not an argon2id hash (the message names the variable).
    """
    value = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    return check_hash(value, ENV_VAR) if value else None


def set_password(store: Store, password: str, hasher: PasswordHasher | None = None) -> str:
    """Store the hash of a new password in the database; returns the hash.

    Every admin session ends (a session is bound to the hash it was opened under).
    """
    hashed = hash_password(password, hasher)
    write_setting(store, SETTING, hashed)
    return hashed


class PasswordSource:
    """The current password hash: the environment's, else the database's (cached).

    Attributes:
        env_hash: ``IG_ADMIN_PASSWORD_HASH`` (checked), which wins over the database.
        max_stale_s: how old the cached database hash may be.
    """

    def __init__(
        self,
        store: Store,
        env_hash: str | None = None,
        *,
        max_stale_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_stale_s >= 0:
            raise ValueError(f"max_stale_s: expected a number >= 0, got {max_stale_s!r}")
        self.store = store
        self.env_hash = check_hash(env_hash, ENV_VAR) if env_hash else None
        self.max_stale_s = max_stale_s
        self._clock = clock
        self._hash: str | None = None
        self._read_at = -math.inf
        self._reading: asyncio.Future[str | None] | None = None
        self._bad: str | None = None

    def is_fresh(self) -> bool:
        """Whether :meth:`current` would answer without reading the database."""
        return self.env_hash is not None or self._clock() - self._read_at <= self.max_stale_s

    def current(self) -> str | None:
        """The hash now (None: no password set), from the cache when it is fresh enough.

        Stale on the event loop: the cached value is returned and a read is started in a
        thread (await :meth:`refresh` first to be exact). Stale outside of an event loop: the
        database is read here.
        """
        if self.is_fresh():
            return self.env_hash or self._hash
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self.reload()
        self._start_reading()
        return self._hash

    async def refresh(self) -> str | None:
        """The hash, read from the database (in a thread) unless the cache is fresh."""
        if self.is_fresh():
            return self.env_hash or self._hash
        return await asyncio.shield(self._start_reading())

    def _start_reading(self) -> asyncio.Future[str | None]:
        loop = asyncio.get_running_loop()
        reading = self._reading
        if reading is None or reading.done() or reading.get_loop() is not loop:
            reading = self._reading = asyncio.ensure_future(asyncio.to_thread(self.reload))
        return reading

    def reload(self) -> str | None:
        """Read the database's hash now (blocking); a database error keeps the cached one."""
        if self.env_hash is not None:
            return self.env_hash
        started = self._clock()
        try:
            setting = read_setting(self.store, SETTING)
        except SQLAlchemyError as exc:
            log.error("admin: cannot read the password hash from the database (%s)", exc)
            return self._hash
        value = None if setting is None else setting.value
        if value is not None:
            try:
                value = check_hash(value, f"the database's admin setting {SETTING!r}")
            except PasswordError as exc:
                if str(exc) != self._bad:  # once per bad value, not per request
                    log.error("admin console off: %s", exc)
                    self._bad = str(exc)
                value = None
        self._hash, self._read_at = value, started
        return value
