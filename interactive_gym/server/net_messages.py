"""Checking the ``net:*`` messages of group games in the browser: every field of a
``net:input`` (the member's inputs, key events and reports) and of a ``net:state``, against the
scene's actions and the size limits here. A bad field is a ``GameRefused`` naming it; the
socket side (``net_games.py``) logs it at a bounded rate and drops the message.
"""

from __future__ import annotations

import math
from typing import Any

from interactive_gym.server.game_inputs import canonical
from interactive_gym.server.net_game import NetInput
from interactive_gym.server.net_log import MAX_RESEND, Report
from interactive_gym.server.seated_game import GameRefused
from interactive_gym.study import GymScene

#: The largest frame number a message may name.
MAX_FRAME = 10_000_000
#: Most inputs, reports and key events in one ``net:input``.
MAX_ACTIONS = 2 * MAX_RESEND
MAX_REPORTS = 2 * MAX_RESEND
MAX_EVENTS = 64
MAX_TEXT = 200
MAX_HASH = 64
#: The largest snapshot (JSON text) a member may send for a repair or a rejoin: under
#: engine.io's 1 MB message limit (a larger message would close the connection). The page
#: checks it too (``game/net_socket.js`` MAX_SNAPSHOT_CHARS) and the load-time check refuses an
#: env whose state is larger.
MAX_SNAPSHOT_CHARS = 900_000

INPUT_FIELDS = frozenset(
    {"scene_id", "episode", "from", "actions", "keys", "events", "frame", "adv", "ack", "reports"}
)
STATE_FIELDS = frozenset(
    {"scene_id", "episode", "request_id", "frame", "snapshot", "hash", "error"}
)


# checking payloads -------------------------------------------------------------------------------


def bad(message: str) -> GameRefused:
    return GameRefused(message, "bad_request")


def whole(value: Any, name: str, low: int = 0, high: int = MAX_FRAME) -> int:
    """``value`` as a whole number from ``low`` to ``high`` (else refused naming ``name``)."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad(f"{name}: expected a whole number from {low} to {high}")
    return value


def text_of(value: Any, name: str, most: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > most:
        raise bad(f"{name}: expected a text of at most {most} characters")
    return value


def _flag(item: dict[str, Any], name: str, where: str) -> bool:
    value = item.get(name)
    if not isinstance(value, bool):
        raise bad(f"{where}.{name}: expected true or false")
    return value


def parse_report(item: Any, where: str) -> Report:
    """One report of a final frame (``{frame, actions, reward, terminated, truncated, done,
    info, hash?}``; other fields are ignored)."""
    if not isinstance(item, dict):
        raise bad(f"{where}: expected an object")
    frame = whole(item.get("frame"), f"{where}.frame")
    actions = item.get("actions")
    if not isinstance(actions, dict) or len(actions) > MAX_ACTIONS:
        raise bad(f"{where}.actions: expected an object of every agent's action")
    reward = item.get("reward")
    if isinstance(reward, bool) or not isinstance(reward, dict | int | float | None):
        raise bad(f"{where}.reward: expected a number or an object of numbers by agent")
    digest = item.get("hash")
    if digest is not None:
        digest = text_of(digest, f"{where}.hash", MAX_HASH)
    limit = item.get("maxStepsReached", False)
    if not isinstance(limit, bool):
        raise bad(f"{where}.maxStepsReached: expected true or false")
    return Report(
        frame=frame,
        actions=actions,
        reward=reward,
        terminated=_flag(item, "terminated", where),
        truncated=_flag(item, "truncated", where),
        done=_flag(item, "done", where),
        info=item.get("info"),
        hash=digest,
        max_steps_reached=limit,
    )


class Actions:
    """The actions a member's input may be: the scene's controls' and its default action."""

    def __init__(self, scene: GymScene) -> None:
        every = [c["action"] for c in scene.controls] + [scene.default_action]
        self.ints = {a for a in every if isinstance(a, int) and not isinstance(a, bool)}
        self.texts = {canonical(a) for a in every}

    def check(self, actions: Any, name: str) -> list[Any]:
        if not isinstance(actions, list) or len(actions) > MAX_ACTIONS:
            raise bad(f"{name}: expected a list of at most {MAX_ACTIONS} actions")
        for i, action in enumerate(actions):
            if type(action) is int and action in self.ints:
                continue
            if action is None or canonical(action) not in self.texts:
                raise bad(f"{name}[{i}]: {action!r:.40} is not an action of the scene's controls")
        return actions


def parse_input(payload: dict[str, Any], actions: Actions) -> NetInput:
    """A ``net:input`` payload, checked field by field."""
    keys = payload.get("keys", [])
    if not isinstance(keys, list) or len(keys) > MAX_ACTIONS:
        raise bad(f"keys: expected a list of at most {MAX_ACTIONS} texts")
    for i, text in enumerate(keys):
        text_of(text, f"keys[{i}]")
    events = payload.get("events", [])
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise bad(f"events: expected a list of at most {MAX_EVENTS} [type, key, t]")
    for i, event in enumerate(events):
        if (
            not isinstance(event, list)
            or len(event) != 3
            or not isinstance(event[0], str)
            or not isinstance(event[1], str)
            or len(event[0]) > 16
            or len(event[1]) > 40
            or not _finite(event[2])
        ):
            raise bad(f"events[{i}]: expected [type, key, t]")
    reports = payload.get("reports", [])
    if not isinstance(reports, list) or len(reports) > MAX_REPORTS:
        raise bad(f"reports: expected a list of at most {MAX_REPORTS} reports")
    adv = payload.get("adv", 0)
    if not _finite(adv) or abs(adv) > MAX_FRAME:
        raise bad("adv: expected a number of frames")
    return NetInput(
        episode=whole(payload.get("episode"), "episode"),
        start=whole(payload.get("from"), "from"),
        actions=actions.check(payload.get("actions"), "actions"),
        keys=keys,
        events=events,
        frame=whole(payload.get("frame"), "frame", -1),
        adv=float(adv),
        ack=whole(payload.get("ack"), "ack", -1),
        reports=[parse_report(r, f"reports[{i}]") for i, r in enumerate(reports)],
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
