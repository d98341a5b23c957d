"""Rollback netcode in the worker: snapshots of past frames, re-simulation, state hashes.

In a browser group game every member's worker runs the same env from the same seed; the page
(``static/js/game/net_channel.js`` and ``rollback.js``, its other half) predicts the partners'
inputs and, when a real input differs, asks this module to restore the snapshot of that frame
and simulate forward again, all in one ``netAdvance`` call per tick. The worker loads it as an
extension after ``game_host.py`` (``loadExtension({python: "interactive_gym.runtime.netcode"})``)
and it plays on that module's current game. Its :data:`OPERATIONS`:

- ``netCheck {seed, frames=24, lockstep=false}``: the load-time determinism check;
- ``netStandIns {stand_ins}``: the group's stand-in policies (from ``net:join``);
- ``netStart {seed, options?, lockstep=false}``: start an episode, keep the snapshot of S_0;
- ``netAdvance {restore, steps, first, confirmed, hash, render}``: roll back, step, render;
- ``netState {}`` / ``netLoad {frame, snapshot}``: hand a state to another member, take one
  (the snapshot travels as JSON text, opaque to the page and the server).

Frame f takes state S_f to S_{f+1}. Snapshots and their hashes are ``net_state.py``'s
(:func:`snapshot` and :func:`state_hash` are re-exported here); the check is ``net_check.py``'s.
No Pyodide imports: the tests run all of it in CPython.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import game_host
from .env_host import EnvHost, OperationError, kwargs_of
from .game_host import GameHost
from .net_check import net_check
from .net_state import (
    canonical,
    digest,
    has_state,
    load_snapshot,
    parse,
    snapshot,
    state_hash,
    take_snapshot,
)
from .plain import Converted, to_plain

__all__ = ["OPERATIONS", "Rollback", "snapshot", "state_hash"]

#: What each ``netAdvance`` result holds besides its frame (and its hash when asked).
RESULT_KEYS = ("actions", "reward", "terminated", "truncated", "done", "info")

# -- the rollback session of one game -----------------------------------------------------------


class Rollback:
    """One game's frames: the next frame to simulate and the snapshots ``{frame: S_frame}``.

    ``lockstep`` keeps no snapshots (every input is known before its frame is simulated); an
    env without ``get_state`` can only be played that way.
    """

    def __init__(self, game: GameHost, lockstep: bool = False) -> None:
        self.game = game
        self.hashable = has_state(game)
        self.lockstep = lockstep or not self.hashable
        self.frame = 0
        self.snapshots: dict[int, dict[str, Any]] = {}

    def _clear(self, lockstep: bool) -> None:
        self.lockstep = bool(lockstep) or not self.hashable
        self.frame = 0
        self.snapshots = {}

    def start(
        self, seed: int | None = None, options: dict | None = None, lockstep: bool = False
    ) -> dict:
        """``netStart``: ``startEpisode`` plus ``frame`` 0 and ``hash`` of S_0 (None without
        ``get_state``)."""
        reply = self.game.start_episode(seed=seed, options=options)
        self._clear(lockstep)
        saved = self._snapshot_now() if self.hashable else None
        reply["frame"] = 0
        reply["hash"] = None if saved is None else state_hash(saved)
        return reply

    def advance(
        self,
        steps: Any,
        first: Any,
        restore: Any = None,
        confirmed: Any = -1,
        hash: Any = None,  # noqa: A002 - the protocol's name
        render: Any = True,
    ) -> dict[str, Any]:
        """``netAdvance``: restore S_restore if asked, simulate ``steps`` from frame ``first``
        (results end early when the episode is done), render the final state once."""
        if not isinstance(steps, list):
            raise OperationError(f"netAdvance: steps must be a list, got {type(steps).__name__}")
        first = _frame_number(first, "netAdvance: first")
        hashed = {_frame_number(f, "netAdvance: hash[]") for f in hash or ()}
        confirmed = -1 if confirmed is None else confirmed
        below = _frame_number(confirmed, "netAdvance: confirmed", allow_negative=True) - 1
        if restore is not None:
            restore = _frame_number(restore, "netAdvance: restore")
            if first != restore:
                raise OperationError(
                    f"netAdvance: restore is frame {restore}, so first must be {restore}, "
                    f"but it is {first}"
                )
            self._restore(restore)
        elif first != self.frame:
            raise OperationError(
                f"netAdvance: first is frame {first}, but the next frame to simulate is "
                f"{self.frame}"
            )
        game = self.game
        results: list[dict[str, Any]] = []
        for actions in steps:
            if game.done:
                break
            if actions is not None and not isinstance(actions, dict):
                raise OperationError(
                    f"netAdvance: steps[{len(results)}] (frame {self.frame}) must be an object "
                    f"{{agent: action}}, got {type(actions).__name__}"
                )
            frame = self.frame
            if not self.lockstep and frame not in self.snapshots:
                self.snapshots[frame] = take_snapshot(game)
            tick = game.tick(actions, render=False)
            self.frame = frame + 1
            # Plain now: an env may hand out the same reward or info object at every step.
            result = {"frame": frame, **to_plain({k: tick[k] for k in RESULT_KEYS})}
            if self.hashable and (frame in hashed or tick["done"]):
                result["hash"] = state_hash(self._snapshot_now())
            results.append(result)
        self._prune(below)
        view = to_plain(game.view()) if render or render is None else {"render": None, "hud": None}
        return {"results": results, **view, "frame": self.frame, "done": game.done}

    def state(self) -> dict[str, Any]:
        """``netState``: ``{frame, snapshot, hash}`` of the state now (the next frame's S).

        ``snapshot`` is the snapshot's canonical JSON *text* (``hash`` is its digest): it
        crosses the page and the server untouched, where an object would not survive (a
        64-bit int becomes a BigInt that JSON cannot carry; ``1.0`` comes back as ``1``).
        """
        if not self.hashable:
            raise OperationError(
                f"netState: the environment {type(self.game.env).__name__} does not implement "
                "get_state()/set_state(state), so its state cannot be handed over"
            )
        saved = self.snapshots.get(self.frame) or take_snapshot(self.game)
        text = canonical(saved, allow_nan=True)
        return {"frame": self.frame, "snapshot": text, "hash": digest(text)}

    def load(self, frame: Any, snapshot: Any) -> dict[str, Any]:
        """``netLoad``: make ``snapshot`` (netState's text, or the object) the state S_frame;
        ``{frame, hash, render, hud}`` (``hash`` of the state as loaded)."""
        frame = _frame_number(frame, "netLoad: frame")
        if not self.hashable:
            raise OperationError(
                f"netLoad: the environment {type(self.game.env).__name__} does not implement "
                "get_state()/set_state(state), so a state cannot be loaded"
            )
        if isinstance(snapshot, str):
            try:
                snapshot = parse(snapshot)
            except ValueError as error:
                raise OperationError(f"netLoad: snapshot is not JSON text: {error}") from error
        load_snapshot(self.game, snapshot)
        self.frame = frame
        self.snapshots = {}
        mine = self._snapshot_now()  # taken fresh: nothing of the caller's objects is kept
        return {"frame": frame, "hash": state_hash(mine), **self.game.view()}

    # helpers ------------------------------------------------------------------------------

    def _snapshot_now(self) -> dict[str, Any]:
        """S_frame, kept unless lockstep (the next step would take it anyway)."""
        saved = self.snapshots.get(self.frame)
        if saved is None:
            saved = take_snapshot(self.game)
            if not self.lockstep:
                self.snapshots[self.frame] = saved
        return saved

    def _restore(self, frame: int) -> None:
        if self.lockstep:
            raise OperationError(
                "netAdvance: restore needs snapshots, which a lockstep game does not keep"
            )
        saved = self.snapshots.get(frame)
        if saved is None:
            kept = sorted(self.snapshots)
            have = f"frames {kept[0]} to {kept[-1]}" if kept else "none"
            raise OperationError(
                f"netAdvance: no snapshot of frame {frame} to restore (kept: {have}; frames "
                "below confirmed - 1 are dropped)"
            )
        load_snapshot(self.game, saved)
        for later in [f for f in self.snapshots if f > frame]:
            del self.snapshots[later]
        self.frame = frame

    def _prune(self, below: int) -> None:
        for old in [f for f in self.snapshots if f < below]:
            del self.snapshots[old]


def _frame_number(value: Any, name: str, allow_negative: bool = False) -> int:
    if type(value) is not int or (value < 0 and not allow_negative):
        raise OperationError(f"{name} must be a frame number (int), got {value!r}")
    return value


# -- the worker's operations (registered with handler.register) -------------------------------

_session: Rollback | None = None


def _rollback() -> Rollback:
    """The session of the current game (a new one after ``setupGame`` built another game)."""
    global _session
    game = game_host.current_game()
    if _session is None or _session.game is not game:
        _session = Rollback(game)
    return _session


def _net_start(host: EnvHost, args: Any) -> Any:
    return _rollback().start(**kwargs_of(args, "netStart"))


def _net_check(host: EnvHost, args: Any) -> Any:
    global _session
    kwargs = kwargs_of(args, "netCheck")
    if "seed" not in kwargs:
        raise OperationError("netCheck needs {seed, frames?, lockstep?}")
    try:
        return net_check(game_host.current_game(), **kwargs)
    finally:
        _session = None  # the check played episodes: netStart begins afresh


def _net_stand_ins(host: EnvHost, args: Any) -> Any:
    """``netStandIns {stand_ins}``: the group's stand-ins, set before the first ``netStart``
    (every member's worker must have the same: their generators are part of the state)."""
    kwargs = kwargs_of(args, "netStandIns")
    if set(kwargs) != {"stand_ins"}:
        raise OperationError("netStandIns needs exactly {stand_ins: {agent_id: spec}}")
    game_host.current_game().set_stand_ins(kwargs["stand_ins"])
    return {"stand_ins": sorted(kwargs["stand_ins"])}


OPERATIONS: dict[str, Callable[[EnvHost, Any], Any]] = {
    "netCheck": _net_check,
    "netStandIns": _net_stand_ins,
    "netStart": _net_start,
    # Its reply is plain already (results as they are made): handler sends it unconverted.
    "netAdvance": lambda host, a: Converted(_rollback().advance(**kwargs_of(a, "netAdvance"))),
    "netState": lambda host, a: _rollback().state(),
    "netLoad": lambda host, a: _rollback().load(**kwargs_of(a, "netLoad")),
}
