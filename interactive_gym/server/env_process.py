"""One env worker process of the server runtime: many games, each an EnvHost and a GameHost.

The other half is ``env_pool.py``, which starts these processes (multiprocessing "spawn") and
talks to each over one duplex pipe. Env code runs only here, never in the server's event
loop, so a runaway step or a crash costs this process, not the server.

The protocol, all pickled by the pipe:

- child → parent, once at start: ``("ready", pid)``.
- parent → child: a batch ``[(rid, op, game_id, args), ...]`` (ops: ``open``,
  ``start_episode``, ``tick``, ``close``), or ``None`` to stop.
- child → parent: the replies of a batch, in order, ``[(rid, ok, value), ...]``: ``value`` is
  the plain reply with ``timing = {"env_ms", "worker_ms"}`` when ``ok``, else the error
  ``{"type", "message", "traceback"}``. The replies of a batch of ticks come back together,
  in messages no reply waits in longer than ``REPLY_WAIT_S``; before an ``open`` or
  ``start_episode`` the replies gathered so far are sent first.
- ``state`` (shared doubles ``[rid, started]``): the request running now and when it started
  (``time.monotonic``), 0 when idle; the pool reads it to find a step over its time limit.
  It is written as ``rid = 0; started = t; rid = r`` so a reader seeing the same rid before
  and after reading ``started`` has a consistent pair.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing.connection import Connection
from typing import Any

from interactive_gym.runtime.env_host import EnvHost, OperationError, describe_error
from interactive_gym.runtime.game_host import GameHost, PolicyError
from interactive_gym.runtime.plain import json_safe, to_plain
from interactive_gym.server.frames import FrameSettings, frame_of, warm_up
from interactive_gym.server.gc_tuning import tune_gc

#: The ``env`` fields of a game spec that EnvHost.init_env takes.
ENV_FIELDS = ("code", "module", "env_id", "factory", "config", "filename", "globals")
#: The game spec fields that GameHost takes.
GAME_FIELDS = (
    "agents",
    "hud_function",
    "max_steps",
    "num_actions",
    "actions_used",
    "record_observations",
    "stand_ins",
    "state_hash_every",
)
#: Operations whose replies may wait in a batch (fast and frequent).
BATCHED_OPS = frozenset({"tick", "close"})
#: A reply waits at most this long for the rest of its batch (latency over message count).
REPLY_WAIT_S = 0.002
_OUR_ERRORS = (OperationError, PolicyError)


class LoadFailure(Exception):
    """The env or game of an ``open`` could not be made; the message names where."""


@dataclass
class Game:
    """One open game of this process."""

    host: EnvHost
    game: GameHost
    frame: FrameSettings
    broken: str | None = None  # why the current episode cannot go on, until a new one starts
    #: The episode's permanent draw objects by id (a page that joins mid-episode needs them).
    permanent: dict[Any, Any] = field(default_factory=dict)


def error_reply(error: BaseException) -> dict[str, Any]:
    """``{"type", "message", "traceback"}``; the message carries the type unless it is ours."""
    details = describe_error(error)
    cause = error.__cause__ if isinstance(error, LoadFailure) else None
    if cause is not None:
        details = describe_error(cause)
        details["message"] = str(error)
    elif not isinstance(error, _OUR_ERRORS):
        details["message"] = f"{details['type']}: {details['message']}"
    return details


class EnvWorker:
    """The games of one process and the four operations on them."""

    def __init__(self, frame: FrameSettings) -> None:
        self.frame = frame
        self.games: dict[str, Game] = {}

    def handle(self, op: str, game_id: str, args: Any) -> tuple[bool, Any]:
        """Run one request; ``(True, reply)`` or ``(False, error)``, never an exception."""
        started = time.perf_counter()
        value: Any = None
        try:
            if op == "tick":
                value = self.tick(game_id, **args)
            elif op == "start_episode":
                value = self.start_episode(game_id, **args)
            elif op == "open":
                value = self.open(game_id, args)
            elif op == "close":
                self.close(game_id)
            else:
                raise OperationError(f"unknown operation {op!r}")
        except BaseException as error:  # noqa: BLE001 - KeyboardInterrupt too: stay usable
            if op in ("tick", "start_episode") and game_id in self.games:
                self.games[game_id].broken = f"{type(error).__name__}: {error}"
            return False, error_reply(error)
        if isinstance(value, dict) and op != "open":
            value["timing"]["worker_ms"] = (time.perf_counter() - started) * 1000
        return True, value

    # operations ----------------------------------------------------------------------------

    def open(self, game_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        if game_id in self.games:
            raise OperationError(f"game {game_id!r} is already open in this process")
        env = dict(spec.get("env") or {})
        unknown = sorted(set(env) - set(ENV_FIELDS))
        if unknown:
            raise OperationError(f"env: unknown field {unknown[0]!r}; fields are {ENV_FIELDS}")
        for package in spec.get("packages") or ():
            _require_package(package)
        host = EnvHost()
        try:
            host.init_env(**env)
        except OperationError:
            raise
        except BaseException as error:  # noqa: BLE001 - described to the pool
            raise LoadFailure(f"{_source_of(env)}: {type(error).__name__}: {error}") from error
        game = GameHost(host, **{k: spec[k] for k in GAME_FIELDS if k in spec})
        frame = FrameSettings(**spec["frame"]) if spec.get("frame") else self.frame
        self.games[game_id] = Game(host, game, frame)
        gc.freeze()  # what the env imported and built is never garbage while it plays
        return to_plain(game.describe(), path="game")

    def start_episode(
        self, game_id: str, seed: int | None = None, options: dict | None = None
    ) -> dict[str, Any]:
        entry = self._game(game_id)
        entry.host.env_ms = 0.0
        entry.permanent.clear()
        reply = entry.game.start_episode(seed=seed, options=options)
        entry.broken = None
        return self._plain(entry, reply, "startEpisode")

    def tick(
        self, game_id: str, actions: dict | None = None, external: dict | None = None
    ) -> dict[str, Any]:
        entry = self._game(game_id)
        if entry.broken is not None:
            raise OperationError(
                f"the episode of game {game_id!r} failed ({entry.broken}); start a new episode"
            )
        entry.host.env_ms = 0.0
        return self._plain(entry, entry.game.tick(actions, external), "tick")

    def close(self, game_id: str) -> None:
        entry = self.games.pop(game_id, None)
        if entry is not None:
            close_env(entry.host.env)

    def close_all(self) -> None:
        for game_id in list(self.games):
            self.close(game_id)

    # helpers -------------------------------------------------------------------------------

    def _game(self, game_id: str) -> Game:
        entry = self.games.get(game_id)
        if entry is None:
            raise OperationError(f"no game {game_id!r} is open in this env process")
        return entry

    def _plain(self, entry: Game, reply: dict[str, Any], path: str) -> dict[str, Any]:
        render = reply.pop("render", None)
        # Plain and JSON-safe here, so the server's event loop records the values as they are.
        plain: dict[str, Any] = json_safe(to_plain(reply, path=path))
        frame_started = time.perf_counter()
        plain["render"] = frame_of(render, entry.frame)
        if keep_permanent(entry.permanent, render):
            plain["permanent"] = permanent_frame(entry.permanent)
        plain["timing"] = {
            "env_ms": entry.host.env_ms,
            "encode_ms": (time.perf_counter() - frame_started) * 1000,
        }
        return plain


def keep_permanent(kept: dict[Any, Any], render: Any) -> bool:
    """Update ``kept`` (permanent draw objects by id) from a draw list; True if it changed.

    A page that starts drawing mid-episode (a reload, a member joining a group game) has
    missed the frames that sent the permanent objects (drawn once, kept by the renderer until a
    ``remove``): the game clock keeps :func:`permanent_frame` of them for it."""
    if not isinstance(render, list):
        return False
    changed = False
    for obj in render:
        if not isinstance(obj, dict) or "id" not in obj:
            continue
        key = obj["id"]
        if not isinstance(key, str | int):
            continue
        if obj.get("permanent") is True and obj.get("type") != "remove":
            kept[key] = obj
            changed = True
        elif key in kept:
            del kept[key]
            changed = True
    return changed


def permanent_frame(kept: dict[Any, Any]) -> dict[str, Any] | None:
    """The permanent objects as one draw frame (as ``frame_of`` makes it)."""
    return frame_of(list(kept.values())) if kept else None


def _source_of(env: dict[str, Any]) -> str:
    for name in ("env_id", "factory", "module"):
        if env.get(name) is not None:
            return f"{name} {env[name]!r}"
    return f"the environment code ({env.get('filename') or '<environment>'})"


def _require_package(package: Any) -> None:
    """A plain package name must be installed here; wheel files and URLs are not checked."""
    text = str(package).strip()
    if "/" in text or text.endswith(".whl"):
        return
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)
    if match is None:
        return
    try:
        metadata.distribution(match.group(0))
    except metadata.PackageNotFoundError as error:
        raise LoadFailure(
            f"packages: {match.group(0)!r} is not installed on the server "
            "(install it in the server's Python environment)"
        ) from error


def close_env(env: Any) -> None:
    """Call the env's ``close()`` if it has one; what it raises is reported, not raised."""
    close = getattr(env, "close", None)
    if callable(close):
        try:
            close()
        except Exception as error:  # noqa: BLE001 - the game is over either way
            print(f"env close() raised {type(error).__name__}: {error}", file=sys.stderr)


def _detach_from_terminal_signals() -> None:
    """Ctrl+C reaches the whole process group; the pool stops its processes itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):  # die with the server, even in a runaway step
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def main(conn: Connection, state: ctypes.Array[ctypes.c_double], frame: dict[str, Any]) -> None:
    """The process's loop: answer batches until ``None`` or the pipe closes."""
    parent = os.getppid()
    _detach_from_terminal_signals()
    # Envs that render with pygame (Gymnasium's classic control) need no display or sound.
    for name in ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER"):
        os.environ.setdefault(name, "dummy")
    if os.getppid() != parent:  # the server died before the death signal was set
        return
    worker = EnvWorker(FrameSettings(**frame))
    warm_up(worker.frame)
    # A full collection walks every object of the envs' libraries (numpy, pygame, ...) and
    # stalls every game of this process for tens of milliseconds: collect the young
    # generation rarely, and keep what exists (here and after each open) out of collections.
    # The price: cyclic garbage a closed game leaves of what existed when it was opened stays.
    tune_gc()
    conn.send(("ready", os.getpid()))
    try:
        while True:
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                break
            if batch is None:
                break
            replies: list[tuple[int, bool, Any]] = []
            first = 0.0  # when the first reply not sent yet was ready
            for rid, op, game_id, args in batch:
                started = time.monotonic()
                if replies and (op not in BATCHED_OPS or started - first >= REPLY_WAIT_S):
                    conn.send(replies)
                    replies = []
                state[0] = 0.0
                state[1] = started
                state[0] = float(rid)
                ok, value = worker.handle(op, game_id, args)
                state[0] = 0.0
                if not replies:
                    first = time.monotonic()
                replies.append((rid, ok, value))
            conn.send(replies)
    finally:
        worker.close_all()
        conn.close()
