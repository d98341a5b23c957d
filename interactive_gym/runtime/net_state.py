"""The saved state of a game: a snapshot ``{env, host}`` and its hash.

A snapshot is everything needed to continue a game: ``{"env": get_state() as plain data,
"host": GameHost.save()}``. Its hash, :func:`state_hash`, is the same in the browser's Pyodide
and in CPython, so members of a browser group game compare their states by hash, and the
server's replay hashes the states it replays with it. ``netcode.py`` keeps snapshots of past
frames for rollback; ``net_check.py`` checks at load time that an env's snapshots are faithful.
The canonical JSON and its digest are ``hashing.py``'s (re-exported here), shared with the
env state hash a game scene records (``record_state_hash_every``).
"""

from __future__ import annotations

from json import loads
from typing import Any

from .env_host import EnvHost, OperationError
from .game_host import GameHost
from .hashing import canonical, digest

__all__ = [
    "canonical",
    "digest",
    "has_state",
    "load_snapshot",
    "parse",
    "snapshot",
    "state_hash",
    "take_snapshot",
]


def state_hash(snapshot: Any) -> str:
    """16 hex characters: blake2b (8 bytes) of the snapshot's canonical JSON."""
    return digest(canonical(snapshot, allow_nan=True))


def parse(text: str) -> Any:
    """The value of JSON ``text`` (``NaN`` and ``Infinity`` included, as :func:`canonical`
    writes them)."""
    return loads(text)


def has_state(game: GameHost) -> bool:
    """The env implements ``get_state()`` and ``set_state(state)``."""
    env = game.env
    return callable(getattr(env, "get_state", None)) and callable(getattr(env, "set_state", None))


def snapshot(host: EnvHost, game: GameHost) -> dict[str, Any]:
    """The state S of ``game`` now, on its env host ``host``: ``{"env": host.get_state() (plain
    data), "host": game.save()}``. The server's replay hashes the states it replays with it."""
    return {"env": host.get_state(), "host": game.save()}


def take_snapshot(game: GameHost) -> dict[str, Any]:
    """:func:`snapshot` of ``game`` on its own env host."""
    return snapshot(game.host, game)


def load_snapshot(game: GameHost, snapshot: Any) -> None:
    """Put the game back in the state of ``snapshot`` (from :func:`take_snapshot` or JSON)."""
    if not isinstance(snapshot, dict) or "env" not in snapshot or "host" not in snapshot:
        raise OperationError("a snapshot must be an object {env, host}, as netState returns it")
    game.load(snapshot["host"])
    game.host.set_state(snapshot["env"])
