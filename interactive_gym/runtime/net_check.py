"""The load-time check of a browser group game's env (a SyncTest): ``netCheck``.

Before a group plays, each member's worker runs the env several times from ``reset(seed)``
with the same seeded inputs and checks that whatever rollback netcode relies on holds: the
state is plain, JSON-safe data; two runs agree at every frame; restoring a past state and
stepping again gives the same frames; ``set_state(get_state())`` changes nothing. A failure
is an OperationError that names the check, the frame and a likely cause. ``netcode.py``
registers it as the ``netCheck`` operation; ``net_state.py`` gives it snapshots and hashes.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from typing import Any

from .env_host import OperationError
from .game_host import GameHost
from .net_state import (
    canonical,
    digest,
    has_state,
    load_snapshot,
    parse,
    state_hash,
    take_snapshot,
)
from .plain import ConversionError, json_safe, to_plain

DEFAULT_FRAMES = 24
#: What a step returned that two runs must agree on (besides the state).
OUTCOME_KEYS = ("actions", "reward", "terminated", "truncated", "done", "info")


class _Run:
    """One run of the check: per frame, the hash of S_f and what the step returned."""

    def __init__(self) -> None:
        self.hashes: list[str] = []  # hashes[f]: S_f
        self.steps: list[Any] = []  # steps[f]: what frame f returned
        self.snapshots: list[dict[str, Any]] = []
        self.snapshot_ms: list[float] = []
        self.largest = 0


def net_check(
    game: GameHost, seed: int, frames: int = DEFAULT_FRAMES, lockstep: bool = False
) -> dict[str, Any]:
    """``netCheck``: raise an OperationError naming the check, the frame and a likely cause
    when the env cannot be played with netcode; ``{ok, frames, hash_ms, snapshot_bytes}``."""
    if type(frames) is not int or frames < 3:
        raise OperationError(f"netCheck: frames must be an int of at least 3, got {frames!r}")
    name = type(game.env).__name__
    hashable = has_state(game)
    if not lockstep and not hashable:
        raise OperationError(
            f"netCheck: the environment {name} does not implement get_state()/set_state(state), "
            "which rollback netcode needs to restore past frames: implement "
            "get_state()/set_state(state), or use netcode='lockstep'"
        )
    inputs = _inputs(game, seed, frames)
    try:
        if hashable:
            _check_json(game, seed, name)
        first = _run(game, seed, inputs, hashable, render=False)
        second = _run(game, seed, inputs, hashable, render=True)
        _compare_runs(game, seed, inputs, hashable, first, second)
        if not lockstep:
            _check_restore(game, inputs, first, name)
    finally:  # no episode under way: the page's netStart begins the first one
        game.observation, game.rngs, game.t, game.done = None, {}, 0, True
    return {
        "ok": True,
        "frames": len(first.steps),
        "hash_ms": statistics.median(first.snapshot_ms) if hashable else None,
        "snapshot_bytes": first.largest if hashable else None,
    }


def _inputs(game: GameHost, seed: int, frames: int) -> list[dict[str, Any]]:
    """Human inputs per frame from ``Random(seed)``; None (the stand-in) now and then."""
    choices = list(range(game.num_actions)) if game.num_actions else game.actions_used or [0]
    draw = random.Random(seed)
    humans = [key for key, kind in game.kinds.items() if kind == "human"]
    return [
        {
            key: None if key in game.stand_ins and draw.random() < 0.25 else draw.choice(choices)
            for key in humans
        }
        for _ in range(frames)
    ]


def _check_json(game: GameHost, seed: int, name: str) -> None:
    """The snapshot is JSON-safe and ``set_state(json.loads(json.dumps(s)))`` keeps its hash."""
    game.start_episode(seed=seed)
    snapshot = _safe_snapshot(game, 0)
    text = _json_text(snapshot, 0)
    load_snapshot(game, parse(text))
    again = _json_text(_safe_snapshot(game, 0), 0)
    if digest(again) != digest(text):
        raise OperationError(
            f"netCheck: {name}'s state does not survive a JSON round trip: after "
            "set_state(json.loads(json.dumps(get_state()))) at frame 0 the state hash differs"
            f"{_json_hint(snapshot)}"
        )


def _safe_snapshot(game: GameHost, frame: int) -> dict[str, Any]:
    try:
        return take_snapshot(game)
    except ConversionError as error:  # it names the path
        raise OperationError(
            f"netCheck: the state at frame {frame} is not plain data: {error} "
            "(hint: get_state() must return dicts, lists, numbers, strings, booleans and None)"
        ) from error


def _json_text(snapshot: dict[str, Any], frame: int) -> str:
    try:
        return canonical(snapshot, allow_nan=False)
    except (TypeError, ValueError) as error:
        where = _json_problem(snapshot, "snapshot") or str(error)
        raise OperationError(
            f"netCheck: the state at frame {frame} is not JSON-safe: {where}; it travels "
            "between members as JSON (hint: use str dict keys, finite numbers and no bytes)"
        ) from error


def _json_problem(value: Any, path: str) -> str | None:
    """Where in ``value`` JSON would fail or change it, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} is {value}, which JSON cannot carry"
    if isinstance(value, bytes | bytearray):
        return f"{path} is bytes, which JSON cannot carry (use a list of numbers or a string)"
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                kind = type(key).__name__
                return f"{path} has the key {key!r} ({kind}), which JSON turns into a string"
        for key, inner in value.items():
            found = _json_problem(inner, f"{path}[{key!r}]")
            if found:
                return found
    if isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            found = _json_problem(inner, f"{path}[{index}]")
            if found:
                return found
    return None


def _json_hint(snapshot: Any) -> str:
    problem = _json_problem(snapshot, "snapshot")
    if problem:
        return f" — {problem}"
    return " — hint: set_state() must accept the state exactly as JSON gives it back"


def _run(
    game: GameHost, seed: int, inputs: list[dict[str, Any]], hashable: bool, render: bool
) -> _Run:
    """Play ``inputs`` from ``reset(seed)``; hash S_f of every frame (with timings)."""
    run = _Run()
    game.start_episode(seed=seed)
    for frame, actions in enumerate(inputs):
        _record(game, run, frame, hashable)
        tick = game.tick(dict(actions), render=render)
        run.steps.append(_outcome(tick))
        if tick["done"]:
            break
    _record(game, run, len(run.steps), hashable)
    return run


def _record(game: GameHost, run: _Run, frame: int, hashable: bool) -> None:
    started = time.perf_counter()
    if hashable:
        snapshot = _safe_snapshot(game, frame)
        text = _json_text(snapshot, frame)
        run.snapshots.append(snapshot)
        run.largest = max(run.largest, len(text))
    else:  # lockstep without get_state: what the game shows of its state
        text = canonical(_plain_outcome(game.observation), allow_nan=True)
    run.hashes.append(digest(text))
    run.snapshot_ms.append((time.perf_counter() - started) * 1000)


def _outcome(tick: dict[str, Any]) -> str:
    """What a step returned, as comparable text (actions, reward, flags, info)."""
    return canonical(_plain_outcome({k: tick[k] for k in OUTCOME_KEYS}), allow_nan=True)


def _plain_outcome(value: Any) -> Any:
    return json_safe(to_plain(value))


def _first_difference(a: _Run, b: _Run, start: int = 0) -> tuple[int, str] | None:
    """The first frame ≥ start where two runs differ, and in what."""
    for frame in range(start, max(len(a.hashes), len(b.hashes))):
        if frame < len(a.steps) or frame < len(b.steps):
            if _at(a.steps, frame) != _at(b.steps, frame):
                return frame, "what step() returned (actions, rewards, flags or info)"
        if _at(a.hashes, frame + 1) != _at(b.hashes, frame + 1):
            return frame, "the state after the step"
    return None


def _at(items: list[Any], index: int) -> Any:
    return items[index] if 0 <= index < len(items) else None


def _compare_runs(
    game: GameHost,
    seed: int,
    inputs: list[dict[str, Any]],
    hashable: bool,
    first: _Run,
    second: _Run,
) -> None:
    name = type(game.env).__name__
    if first.hashes[0] != second.hashes[0]:
        raise OperationError(
            f"netCheck: {name} is not deterministic: two runs from reset(seed={seed}) differ "
            "right after reset — hint: unseeded randomness (random.random(), time, set/dict "
            "order of ids) in reset()"
        )
    found = _first_difference(first, second)
    if found is None:
        return
    frame, what = found
    third = _run(game, seed, inputs, hashable, render=False)
    if _first_difference(first, third) is None:
        raise OperationError(
            f"netCheck: {name}'s render() changes the game: a run that renders every frame "
            f"differs from one that does not at frame {frame} ({what}) — hint: render() must "
            "only read the state (a member renders only some frames)"
        )
    raise OperationError(
        f"netCheck: {name} is not deterministic: two runs from reset(seed={seed}) with the same "
        f"actions differ at frame {frame} ({what}) — hint: unseeded randomness "
        "(random.random(), time, set/dict order of ids) in step() or reset(), or in a policy"
    )


def _check_restore(game: GameHost, inputs: list[dict[str, Any]], first: _Run, name: str) -> None:
    """Restore S_k (k = frames // 3), step again: the same hashes; then through JSON."""
    k = min(len(inputs) // 3, len(first.steps) - 1)
    if k < 0:
        return
    saved = first.snapshots[k]
    before = state_hash(saved)
    load_snapshot(game, saved)
    if state_hash(take_snapshot(game)) != first.hashes[k]:
        raise OperationError(
            f"netCheck: after set_state(the state of frame {k}), get_state() gives something "
            f"else — hint: {name}.set_state() does not restore everything get_state() returns"
        )
    j = _replay_from(game, inputs, first, k)
    if j is not None:
        raise OperationError(
            f"netCheck: {name}: restoring get_state() at frame {k} and stepping again differs "
            f"at frame {j} — hint: state kept outside get_state() (in the env or in a policy)"
        )
    if state_hash(saved) != before:
        raise OperationError(
            f"netCheck: stepping after set_state(the state of frame {k}) changed that saved "
            f"state — hint: {name}.set_state() keeps the object it is given and step() changes "
            "it in place; copy it in set_state()"
        )
    load_snapshot(game, parse(canonical(saved, allow_nan=False)))
    j = _replay_from(game, inputs, first, k)
    if j is not None:
        raise OperationError(
            f"netCheck: {name}: restoring a JSON copy of the state of frame {k} and stepping "
            f"again differs at frame {j}{_json_hint(saved)}"
        )
    now = take_snapshot(game)
    load_snapshot(game, now)
    if state_hash(take_snapshot(game)) != state_hash(now):
        raise OperationError(
            f"netCheck: set_state(get_state()) changes the state at frame {len(first.steps)} — "
            f"hint: {name}.set_state() does not restore everything get_state() returns"
        )


def _replay_from(game: GameHost, inputs: list[dict[str, Any]], first: _Run, k: int) -> int | None:
    """Step frames k… again with the first run's inputs: the first frame that differs."""
    for j in range(k, len(first.steps)):
        tick = game.tick(dict(inputs[j]), render=False)
        same = _outcome(tick) == first.steps[j]
        if not same or state_hash(take_snapshot(game)) != first.hashes[j + 1]:
            return j
    return None
