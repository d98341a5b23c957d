"""The participant flow over the socket: one active tab, the current scene, advancing, completing.

Events (on the socket the data path authenticated with the participant's token):

- connect with ``auth: {token, tab, takeover?}``: ``tab`` is the page's tab id (kept in
  ``sessionStorage``, so a reload keeps it). A second tab of the same participant is refused
  with the message ``second_tab`` while the first is connected, unless it asks to take over
  (``takeover: true``): the first tab is then told ``study:superseded`` and disconnected.
  Sockets without ``tab`` (protocol-level upload clients) are not part of the flow.
- ``study:state`` → ``{ok, participant_id, status, condition, index, count, scenes, completion,
  token}``: where the participant is and every scene of their path known so far (up to the
  ``Conditions`` block until they reach it, see ``paths.py``) as the browser modules need it.
- ``study:advance`` ``{scene_id, response, attempt?}`` → ``{ok, index, scene_id, token,
  path_changed}``: the participant finished the current scene. The scene checks the response
  (survey answers, consent) and, for a game, that its records are stored
  (``Scene.check_done``); the server stores the records the scene makes of the checked
  response (a survey's answers) in the same transaction that moves the participant on.
  ``path_changed`` says the path grew (a condition was assigned): ask ``study:state`` again.
  Resending the advance of the scene just finished is acknowledged again (idempotent).
  After a waiting room or a group game the next scene follows the group rules
  (``group_flow.py``): a room is left only with its answer, a timed-out participant goes on
  by the room's ``on_timeout``, group scenes without a group are skipped, and the end may be
  another ``EndScene``; ``index`` may then be more than one scene further.
- ``study:complete`` ``{scene_id}`` → ``{ok, completion_code, redirect_url}``: sent by the end
  scene after every record was acknowledged; marks the participant completed with their code
  (idempotent) and starts the replay of their games (``verification.py``).

Every answer that carries a ``token`` hands the page a fresh one (tokens expire; a page in use
keeps renewing its own).

Every refusal is ``{ok: false, error}`` (plus ``field`` for a bad answer) and is logged; no
message can touch another participant, since the participant comes from the socket's token.
Which participant and tab a socket belongs to is kept in ``connections.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

import socketio

from interactive_gym.data.records import MAX_INT
from interactive_gym.data.store import Participant, StaleProgress, Store
from interactive_gym.server.connections import SECOND_TAB, SECOND_TAB_MESSAGE, Connections
from interactive_gym.server.gate import RecordGate
from interactive_gym.server.group_flow import GroupRoutes, Route
from interactive_gym.server.limits import LogThrottle
from interactive_gym.server.paths import Paths
from interactive_gym.server.refusals import Refused
from interactive_gym.server.tokens import TokenSigner
from interactive_gym.study import EndScene, Experiment, ResponseError
from interactive_gym.study.scene import Scene, StoredScene

__all__ = ["SECOND_TAB", "SECOND_TAB_MESSAGE", "Flow"]

log = logging.getLogger("interactive_gym.flow")


class Flow:
    """Socket handlers moving participants through an experiment's scenes."""

    def __init__(
        self,
        experiment: Experiment,
        store: Store,
        connections: Connections,
        sio: socketio.AsyncServer,
        signer: TokenSigner,
        *,
        paths: Paths | None = None,
        gate: RecordGate | None = None,
        code_key: bytes = b"",
        on_completed: Callable[[str], Any] | None = None,
        throttle: LogThrottle | None = None,
        routes: GroupRoutes | None = None,
    ) -> None:
        self.experiment = experiment
        self.store = store
        self.connections = connections
        self.throttle = throttle or LogThrottle()
        self.sio = sio
        self.signer = signer
        self.paths = paths or Paths(experiment, store)
        self.gate = gate
        self.code_key = code_key
        self.on_completed = on_completed
        self.routes = routes
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def register(self) -> None:
        self.connections.on_connect(self.on_connect)
        self.sio.on("study:state", self.handle_state)
        self.sio.on("study:advance", self.handle_advance)
        self.sio.on("study:complete", self.handle_complete)

    # tabs ---------------------------------------------------------------------------------

    async def on_connect(self, sid: str, participant_id: str, auth: Any) -> None:
        tab = auth.get("tab") if isinstance(auth, dict) else None
        if tab is None:
            return  # an upload-only client: no part in the flow
        takeover = auth.get("takeover") is True
        try:
            holder = self.connections.claim_tab(sid, tab, takeover=takeover)
        except Refused as exc:  # a second tab (reason SECOND_TAB), or a malformed tab id
            self.throttle.log(
                log, "flow", "participant %s: connection %s refused: %s", participant_id, sid,
                exc.reason,
            )  # fmt: skip
            data = (exc.extra,) if exc.extra else ()  # the second tab's message for people
            raise socketio.exceptions.ConnectionRefusedError(exc.reason, *data) from None
        if holder is not None:
            # The same tab reconnecting (its old socket is stale), or a takeover.
            if holder.tab != tab:
                log.info(
                    "participant %s: tab %s took over from %s", participant_id, sid, holder.sid
                )
                await self.sio.emit("study:superseded", {}, to=holder.sid)
            await self.sio.disconnect(holder.sid)

    async def device_moved(self, participant_id: str) -> None:
        """The participant moved to another browser: the old one's pages stop."""
        for sid in self.connections.sids_of(participant_id):
            await self.sio.emit("study:superseded", {}, to=sid)
            await self.sio.disconnect(sid)

    def _participant_of(self, sid: str) -> str:
        participant_id = self.connections.participant_of(sid)
        if participant_id is None:
            raise Refused("not connected as a participant")
        if not self.connections.is_active_tab(sid):
            raise Refused("this connection is not the participant's active tab")
        return participant_id

    async def _load(self, participant_id: str) -> Participant:
        participant = await asyncio.to_thread(self.store.get_participant, participant_id)
        if participant is None or participant.experiment_id != self.experiment.experiment_id:
            raise Refused("participant: not in this study")
        missing = [s for s in participant.scene_order if s not in self.experiment.scenes_by_id]
        if missing:
            raise Refused(f"study: scene {missing[0]!r} of this participant is no longer defined")
        return participant

    # handlers -----------------------------------------------------------------------------

    async def _answer(self, sid: str, event: str, work: Any) -> dict[str, Any]:
        try:
            return {"ok": True, **await work}
        except Refused as exc:
            self.throttle.log(log, "flow", "%s from %s refused: %s", event, sid, exc.reason)
            return {"ok": False, "error": exc.reason, **exc.extra}
        except Exception:  # noqa: BLE001 - always answer; the page retries
            log.exception("%s from %s failed", event, sid)
            return {"ok": False, "error": "internal error; retry later"}

    async def handle_state(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "study:state", self._state(sid, args))

    async def handle_advance(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "study:advance", self._advance(sid, args))

    async def handle_complete(self, sid: str, *args: Any) -> dict[str, Any]:
        return await self._answer(sid, "study:complete", self._complete(sid, args))

    async def _state(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        if args not in ((), (None,), ({},)):
            raise Refused("study:state takes no arguments")
        participant = await self._load(self._participant_of(sid))
        ctx = self.experiment.context(participant)
        scenes = [self.experiment.scene(s).to_client(ctx) for s in participant.scene_order]
        return {
            "participant_id": participant.participant_id,
            "status": participant.status,
            "condition": participant.condition,
            "index": participant.scene_index,
            "count": self._count(participant),
            "scenes": scenes,
            "completion": self._completion(participant),
            "token": self._token(participant),
        }

    def _count(self, participant: Participant) -> int:
        """How many scenes the participant's path has (before the condition: an estimate)."""
        if not self.paths.grows_after(participant, len(participant.scene_order) - 1):
            return len(participant.scene_order)
        names = self.experiment.condition_names
        return len(self.experiment.scene_order(participant.participant_id, names[0]))

    def _token(self, participant: Participant) -> str:
        return self.signer.issue(participant.participant_id, participant.device)

    def _completion(self, participant: Participant) -> dict[str, Any] | None:
        if participant.status != "completed":
            return None
        return self.experiment.completion(
            participant,
            self.code_key,
            participant.completion_code,
            end_id=participant.scene_order[participant.scene_index],
        )

    @staticmethod
    def _scene_id(args: tuple[Any, ...], fields: frozenset[str]) -> tuple[str, dict]:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise Refused("expected one object argument")
        payload = args[0]
        unknown = sorted(str(k) for k in payload if k not in fields)
        if unknown:
            raise Refused(f"unknown field {unknown[0]!r:.60}")
        scene_id = payload.get("scene_id")
        if not isinstance(scene_id, str) or not scene_id:
            raise Refused("scene_id: expected the id of the current scene")
        return scene_id, payload

    async def _advance(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, payload = self._scene_id(args, frozenset({"scene_id", "response", "attempt"}))
        attempt = payload.get("attempt")
        if attempt is not None and (
            not isinstance(attempt, int) or isinstance(attempt, bool) or not 0 <= attempt <= MAX_INT
        ):
            raise Refused("attempt: expected a whole number >= 0")
        participant_id = self._participant_of(sid)
        async with self._lock(participant_id):
            participant = await self._load(participant_id)
            order, index = participant.scene_order, participant.scene_index
            if participant.status == "completed":
                raise Refused("participant: already completed the study")
            if index > 0 and order[index - 1] == scene_id:  # a resent advance: already done
                return self._moved(participant, path_changed=False)
            if order[index] != scene_id:
                raise Refused(f"scene_id: {scene_id!r:.60} is not the current scene")
            scene = self.experiment.scene(scene_id)
            if isinstance(scene, EndScene):
                raise Refused("scene_id: the end scene finishes with study:complete")
            try:
                response = scene.validate_response(
                    payload.get("response"), self.experiment.context(participant)
                )
                if scene.checks_stored_records:
                    scene.check_done(response, await self._stored(participant_id, scene_id))
            except ResponseError as exc:
                raise Refused(f"response: {exc}", field=exc.field) from None
            records = self._records(scene, response, attempt)
            if self.paths.grows_after(participant, index):
                async with self.paths.lock:
                    path = await self.paths.assign(participant_id)
                    route = await self._route(participant_id, path.scene_order, index, response)
                    await self._store_advance(
                        participant,
                        records + self._skipped(route.records),
                        condition=path.condition,
                        scene_order=route.scene_order or path.scene_order,
                        scene_index=route.next_index,
                        scene_id=(route.scene_order or path.scene_order)[route.next_index],
                    )
            else:
                route = await self._route(participant_id, order, index, response)
                fields: dict[str, Any] = {}
                if route.scene_order is not None:
                    fields["scene_order"] = route.scene_order
                await self._store_advance(
                    participant,
                    records + self._skipped(route.records),
                    scene_index=route.next_index,
                    scene_id=(route.scene_order or order)[route.next_index],
                    **fields,
                )
            moved = await self._load(participant_id)
            if self.gate is not None:
                self.gate.update(moved)
            return self._moved(moved, path_changed=moved.scene_order != order)

    def _moved(self, participant: Participant, *, path_changed: bool) -> dict[str, Any]:
        index = participant.scene_index
        return {
            "index": index,
            "scene_id": participant.scene_order[index],
            "count": self._count(participant),
            "path_changed": path_changed,
            "token": self._token(participant),
        }

    async def _route(
        self, participant_id: str, order: list[str], index: int, response: dict[str, Any]
    ) -> Route:
        if self.routes is None:
            return Route(index + 1)
        return await self.routes.route(participant_id, order, index, response)

    @staticmethod
    def _skipped(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now_ms = time.time() * 1000
        return [{**r, "t": now_ms} for r in records]

    async def _stored(self, participant_id: str, scene_id: str) -> StoredScene:
        """The scene's stored records: a group scene's episodes are the group's, its events
        the group's and the participant's own."""
        owner = participant_id
        if self.routes is not None:
            owner = await self.routes.owner_of(participant_id, scene_id)
        episodes = await asyncio.to_thread(self.store.episode_counts, owner, scene_id)
        events = await asyncio.to_thread(self.store.event_types, participant_id, scene_id)
        if owner != participant_id:
            events |= await asyncio.to_thread(self.store.event_types, owner, scene_id)
        return StoredScene(tuple(episodes), frozenset(events))

    @staticmethod
    def _records(scene: Scene, response: dict[str, Any], attempt: int | None) -> list[dict]:
        now_ms = time.time() * 1000
        return [
            {"attempt": attempt, **r, "scene_id": scene.scene_id, "t": now_ms}
            for r in scene.response_records(response)
        ]

    async def _store_advance(
        self, participant: Participant, records: list[dict], **fields: Any
    ) -> None:
        try:
            await asyncio.to_thread(
                self.store.advance_participant,
                participant.participant_id,
                from_index=participant.scene_index,
                records=records,
                **fields,
            )
        except StaleProgress:
            raise Refused("participant: moved on meanwhile; reload the page") from None

    async def _complete(self, sid: str, args: tuple[Any, ...]) -> dict[str, Any]:
        scene_id, _ = self._scene_id(args, frozenset({"scene_id"}))
        participant_id = self._participant_of(sid)
        async with self._lock(participant_id):
            participant = await self._load(participant_id)
            current = participant.scene_order[participant.scene_index]
            if current != scene_id or current not in self.experiment.end_scenes:
                raise Refused(f"scene_id: {scene_id!r:.60} is not the end scene reached")
            if participant.status != "completed":
                code = self.experiment.completion_code(participant, self.code_key, end_id=current)
                participant = await asyncio.to_thread(
                    self.store.complete_participant, participant_id, code
                )
                log.info("participant %s completed the study", participant_id)
                if self.gate is not None:
                    self.gate.update(participant)
                if self.on_completed is not None:
                    self.on_completed(participant_id)
            completion = self._completion(participant)
            assert completion is not None
            return completion

    def _lock(self, participant_id: str) -> asyncio.Lock:
        lock = self._locks.get(participant_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[participant_id] = lock
        return lock
