"""The admin console's actions: exclude or include a participant, reset one, release a room.

``POST /admin/api/actions/{exclude,include,reset,release-room}`` with the JSON body
``{participant_id | room_id, reason?, confirm}``, behind the admin session and its CSRF token.
``confirm`` must equal the target id (the console's confirmation dialog has the researcher
confirm it); ``reason`` is required to exclude (1-500 characters) and kept with the others.
Every action is audited with who, what and the outcome. The database half is
:mod:`interactive_gym.data.admin_actions`; the rooms' half is
``WaitingRooms.release``/``forget`` (``interactive_gym.server.waiting_rooms``).

- ``exclude`` / ``include``: flag the participant (kept, flagged in the export) or clear it:
  ``{ok, participant: {participant_id, excluded, excluded_reason, excluded_at}}``.
- ``reset``: their open pages get ``participant:reset`` ``{participant_id}`` and are
  disconnected, their wait in a waiting room is dropped, every row of theirs moves to
  ``<id>~reset-<n>`` in one transaction, then the ``on_reset`` hooks run (the server's caches
  of the participant); their next visit starts afresh under the id:
  ``{ok, participant_id, moved_to, moved: {table: rows}, disconnected}``.
- ``release-room``: everyone waiting in the room gets the room's timeout outcome now:
  ``{ok, room_id, released}``.

Refusals are ``{ok: false, error, message}`` naming the field: 400 ``bad_request`` (a bad
body, a ``confirm`` that does not match), 404 ``not_found`` (no such participant in this
study, no such waiting room).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

import socketio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interactive_gym.admin.audit import audit
from interactive_gym.admin.guard import Endpoint, Guard
from interactive_gym.data import admin_actions
from interactive_gym.data.admin_actions import MAX_REASON, ActionRefused, check_reason
from interactive_gym.data.store import Participant, Store, UnknownParticipant
from interactive_gym.server.connections import Connections
from interactive_gym.server.refusals import Refused
from interactive_gym.server.waiting_rooms import UnknownRoom, WaitingRooms
from interactive_gym.server.wire_json import read_json
from interactive_gym.study import Experiment

log = logging.getLogger("interactive_gym.admin")

MAX_BODY = 16 * 1024
MAX_ID = 128
RESET_EVENT = "participant:reset"

#: Called with the participant id after a reset: forget what is cached of them (awaited when
#: it returns an awaitable).
ResetHook = Callable[[str], object]


class NotFound(LookupError):
    """The action's target is not in this study; the message names the field."""


def answer(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status, headers={"cache-control": "no-store"})


def refusal(status: int, error: str, message: str) -> JSONResponse:
    return answer({"ok": False, "error": error, "message": message}, status)


async def read_body(request: Request, target: str) -> tuple[str, str | None]:
    """``(target id, reason)`` of the action's body, checked: the fields known, the target
    an id, ``confirm`` equal to it, ``reason`` text of at most 500 characters."""
    try:
        body = await read_json(request, MAX_BODY)
    except Refused as exc:
        raise ActionRefused(exc.reason) from None
    if not isinstance(body, dict):
        raise ActionRefused(f"body: expected {{{target}, reason?, confirm}}")
    unknown = sorted(str(k) for k in body if k not in (target, "reason", "confirm"))
    if unknown:
        raise ActionRefused(f"{unknown[0]:.60}: unknown field (expected {target}, reason, confirm)")
    value = body.get(target)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID:
        raise ActionRefused(f"{target}: expected an id of 1 to {MAX_ID} characters")
    if body.get("confirm") != value:
        raise ActionRefused(f"confirm: expected the {target} again ({value!r}) to confirm")
    reason = body.get("reason")
    if reason is None or reason == "":
        return value, None
    if not isinstance(reason, str) or len(reason.strip()) > MAX_REASON:
        raise ActionRefused(f"reason: expected a text of at most {MAX_REASON} characters")
    return value, reason.strip() or None


def participant_fields(p: Participant) -> dict[str, Any]:
    """The participant's exclusion, as the actions answer it."""
    return {
        "participant_id": p.participant_id,
        "excluded": p.excluded,
        "excluded_reason": p.excluded_reason,
        "excluded_at": None if p.excluded_at is None else p.excluded_at.isoformat(),
    }


class Actions:
    """The action routes of one experiment."""

    def __init__(
        self,
        store: Store,
        experiment: Experiment,
        sio: socketio.AsyncServer,
        connections: Connections,
        rooms: WaitingRooms | None = None,
        on_reset: Sequence[ResetHook] = (),
    ) -> None:
        self.store = store
        self.experiment = experiment
        self.sio = sio
        self.connections = connections
        self.rooms = rooms
        self.on_reset = list(on_reset)

    def routes(self, auth: Guard) -> list[Route]:
        actions: dict[str, Endpoint] = {
            "exclude": self.exclude,
            "include": self.include,
            "reset": self.reset,
            "release-room": self.release_room,
        }
        return [
            Route(
                f"/admin/api/actions/{name}",
                auth.guard(self._run(name, act), write=True),
                methods=["POST"],
            )
            for name, act in actions.items()
        ]

    def _run(self, name: str, act: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                return await act(request)
            except ActionRefused as exc:
                log.info("admin %s refused: %s", name, exc)
                return refusal(400, "bad_request", str(exc))
            except UnknownParticipant as exc:  # gone since it was looked up
                log.info("admin %s refused: %s", name, exc)
                return refusal(404, "not_found", f"participant_id: {exc.args[0]}")
            except (NotFound, UnknownRoom) as exc:
                log.info("admin %s refused: %s", name, exc)
                return refusal(404, "not_found", str(exc.args[0]))

        endpoint.__name__ = name.replace("-", "_")
        return endpoint

    # the participant ------------------------------------------------------------------------

    def _participant(self, participant_id: str) -> Participant:
        """The participant, if in this study (:class:`NotFound` naming them, else)."""
        found = self.store.get_participant(participant_id)
        if found is None or found.experiment_id != self.experiment.experiment_id:
            raise NotFound(f"participant_id: {participant_id!r} is not a participant of this study")
        return found

    async def _audit(
        self, request: Request, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        actor = request.state.admin.actor
        clean = {k: v for k, v in detail.items() if v is not None}
        await asyncio.to_thread(audit, self.store, actor, action, target, clean)

    async def exclude(self, request: Request) -> Response:
        participant_id, reason = await read_body(request, "participant_id")
        reason = check_reason(reason)

        def work() -> Participant:
            self._participant(participant_id)
            return admin_actions.exclude(self.store, participant_id, reason)

        done = await asyncio.to_thread(work)
        await self._audit(request, "exclude", participant_id, {"reason": reason})
        return answer({"ok": True, "participant": participant_fields(done)})

    async def include(self, request: Request) -> Response:
        participant_id, reason = await read_body(request, "participant_id")

        def work() -> tuple[Participant, Participant]:
            before = self._participant(participant_id)
            return before, admin_actions.include(self.store, participant_id)

        before, done = await asyncio.to_thread(work)
        detail = {
            "reason": reason,
            "was_excluded": before.excluded,
            "excluded_reason": before.excluded_reason,
        }
        await self._audit(request, "include", participant_id, detail)
        return answer({"ok": True, "participant": participant_fields(done)})

    async def reset(self, request: Request) -> Response:
        participant_id, reason = await read_body(request, "participant_id")
        admin_actions.check_resettable(participant_id)
        await asyncio.to_thread(self._participant, participant_id)
        if self.rooms is not None:  # first: leaving the room records nothing more for them
            await self.rooms.forget(participant_id)
        sids = self.connections.sids_of(participant_id)
        for sid in sids:  # their pages stop before their rows move (no upload lands after)
            await self.sio.emit(RESET_EVENT, {"participant_id": participant_id}, to=sid)
            await self.sio.disconnect(sid)
        if self.rooms is not None:
            await self.rooms.flush()  # the room's records of them so far are stored, and move
        done = await asyncio.to_thread(admin_actions.reset, self.store, participant_id)
        for hook in self.on_reset:
            try:
                result = hook(participant_id)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - the reset is done; the others still run
                log.exception("admin reset of %s: hook %r failed", participant_id, hook)
        moved_to = done.participant.participant_id
        detail = {
            "reason": reason,
            "moved_to": moved_to,
            "moved": done.moved,
            "disconnected": len(sids),
        }
        await self._audit(request, "reset", participant_id, detail)
        log.info("admin reset participant %s: their data moved to %s", participant_id, moved_to)
        body = {
            "ok": True,
            "participant_id": participant_id,
            "moved_to": moved_to,
            "moved": done.moved,
            "disconnected": len(sids),
        }
        return answer(body)

    # the rooms ------------------------------------------------------------------------------

    async def release_room(self, request: Request) -> Response:
        room_id, reason = await read_body(request, "room_id")
        if self.rooms is None:
            raise NotFound(f"room_id: {room_id!r} is not a waiting room (the study has none)")
        released = await self.rooms.release(room_id)
        await self._audit(
            request, "release_room", room_id, {"reason": reason, "released": released}
        )
        log.info("admin released waiting room %s: %d participant(s)", room_id, released)
        return answer({"ok": True, "room_id": room_id, "released": released})


def routes(
    auth: Guard,
    store: Store,
    experiment: Experiment,
    *,
    sio: socketio.AsyncServer,
    connections: Connections,
    rooms: WaitingRooms | None = None,
    on_reset: Sequence[ResetHook] = (),
) -> list[Route]:
    """The four action routes (``auth.guard(..., write=True)``).

    ``rooms``: the study's waiting rooms (None: it has none). ``on_reset``: called with a
    reset participant's id once their rows moved, to drop what the server caches of them.
    """
    actions = Actions(store, experiment, sio, connections, rooms, on_reset)
    return actions.routes(auth)
