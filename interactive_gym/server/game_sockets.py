"""What the game events of both kinds of game share on the study socket: reading an event's one
object argument, the participant behind a socket (only their active tab), their current
scene, and the answer ``{ok: true, ...}`` or ``{ok: false, error, reason}`` every acknowledged
event gets. Used by ``server_games.py`` (``game:*``, the server runtime) and ``net_games.py``
(``net:*``, group games in the browser).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from interactive_gym.server.limits import LogThrottle
from interactive_gym.server.refusals import Refused
from interactive_gym.server.seated_game import GameRefused
from interactive_gym.study import Experiment
from interactive_gym.study.scene import Scene


class Connections(Protocol):
    def participant_of(self, sid: str) -> str | None: ...


class ParticipantStore(Protocol):
    def get_participant(self, participant_id: str) -> Any: ...


def payload_of(args: tuple[Any, ...], fields: frozenset[str]) -> tuple[str, dict[str, Any]]:
    """The one object argument of an event, with only ``fields``, and its ``scene_id``."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise GameRefused("expected one object argument", "bad_request")
    payload = args[0]
    unknown = sorted(str(k) for k in payload if k not in fields)
    if unknown:
        raise GameRefused(f"unknown field {unknown[0]!r:.60}", "bad_request")
    scene_id = payload.get("scene_id")
    if not isinstance(scene_id, str) or not scene_id:
        raise GameRefused("scene_id: expected the id of the current scene", "bad_request")
    return scene_id, payload


def participant_of(connections: Connections, sid: str) -> str:
    """The participant of a socket, which must be their active tab."""
    participant_id = connections.participant_of(sid)
    if participant_id is None:
        raise GameRefused("not connected as a participant", "not_connected")
    is_active = getattr(connections, "is_active_tab", None)
    if is_active is not None and not is_active(sid):
        raise GameRefused("this connection is not the participant's active tab", "not_tab")
    return participant_id


async def current_scene(
    store: ParticipantStore, experiment: Experiment, participant_id: str, scene_id: str
) -> Scene | None:
    """The scene ``scene_id`` when it is the participant's current one (else refused)."""
    participant = await asyncio.to_thread(store.get_participant, participant_id)
    if participant is None or participant.experiment_id != experiment.experiment_id:
        raise GameRefused("participant: not in this study", "not_current")
    if participant.status != "active":
        raise GameRefused("participant: already completed the study", "not_current")
    order, index = participant.scene_order, participant.scene_index
    if index >= len(order) or order[index] != scene_id:
        raise GameRefused(f"scene_id: {scene_id!r:.60} is not the current scene", "not_current")
    return experiment.scenes_by_id.get(scene_id)


async def answer(
    work: Awaitable[dict[str, Any]],
    *,
    event: str,
    sid: str,
    log: logging.Logger,
    throttle: LogThrottle,
    topic: str,
    known: Callable[[Exception], dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """``{ok: true, **work}``, or the refusal (logged at a bounded rate) as ``{ok: false,
    error, reason}``; ``known`` answers other errors it knows (None: it does not); an
    unforeseen error is logged and answered ``reason: "internal"``."""
    try:
        return {"ok": True, **await work}
    except GameRefused as exc:
        throttle.log(log, topic, "%s from %s refused: %s", event, sid, exc.reason)
        return {"ok": False, "error": exc.reason, "reason": exc.word}
    except Refused as exc:
        throttle.log(log, topic, "%s from %s refused: %s", event, sid, exc.reason)
        return {"ok": False, "error": exc.reason, "reason": "refused"}
    except Exception as exc:  # noqa: BLE001 - always answer
        found = known(exc) if known is not None else None
        if found is not None:
            return found
        log.exception("%s from %s failed", event, sid)
        return {"ok": False, "error": "internal error; retry later", "reason": "internal"}
