"""Receiving the records participants upload: over the socket, or in a keep-alive request.

Protocol (python-socketio at ``/socket.io``):

- The browser connects with ``auth: {token}``. The token (see ``tokens.py``) names the
  participant, the experiment and the browser they are bound to; the connection is bound to
  that participant for its whole life, and no message on it can name another one.
- Event ``chunk`` with ``{seq: int, id?: str, records: [...], pending?: int}`` (an optional
  ``participant_id`` must be the connection's own; ``pending``: the records the browser held
  unacknowledged when it sent the chunk, this chunk's included). ``id`` is a random id the
  browser gives the chunk when it cuts it; a stored ``seq`` with another ``id`` is a conflict
  (say, after the browser's storage was cleared), answered with ``next_seq`` so the browser
  renumbers.
  The acknowledgement is ``{ok: true, seq, duplicate: bool}`` once the chunk is committed, or
  ``{ok: false, seq, error: "reason", retry: bool, next_seq?: int}`` when it is refused: the
  reason names the field; ``retry`` says a later resend may succeed (storage busy or down).
- ``POST /api/chunks`` with JSON ``{token, seq, records, pending?}``: the same, for the tail
  flushed with ``fetch(..., {keepalive: true})`` on ``pagehide``.

Before a chunk is written it must fit the participant's upload limits (``uploads.py``: a
``seq`` within reach of the ones stored, the storage quota, the upload rate; an over-rate chunk
is refused with ``retry: true``) and every record must fit their progress through the study
(``gate.py``: a scene they reached, a kind that scene uploads, nothing after completion).

Anything malformed, oversized, nested too deeply (``wire_json.py``) or unknown is refused with a
reason (logged at a bounded rate); the connection stays up. (A single socket message over
engine.io's ``max_http_buffer_size``, 1 MB by default, is the exception: engine.io closes that
connection. The browser uploader never sends more than 48 KB.)
Writes go through a :class:`~interactive_gym.data.writer.ChunkWriter` thread (group commit),
never blocking the event loop.

Once a chunk carrying ``pending`` is stored (or found stored), ``ingest.on_pending(participant_id,
n)`` (when set) hears ``n``: the records the browser still held besides this chunk's.

An accepted connection is bound to its participant in :class:`~.connections.Connections`
(``ingest.connections``): other socket handlers (the participant flow, server-side games) share
this server's ``connect`` and ``disconnect`` through its ``on_connect`` / ``on_disconnect``
hooks and find the participant behind a socket with its ``participant_of``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import socketio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from interactive_gym.data.chunks import Chunk, SeqConflict
from interactive_gym.data.records import (
    MAX_INT,
    RecordError,
    validate_chunk_id,
    validate_records,
    validate_seq,
)
from interactive_gym.data.store import Store
from interactive_gym.data.writer import ChunkWriter, WriteFailed
from interactive_gym.server.connections import Connections
from interactive_gym.server.gate import RecordGate
from interactive_gym.server.gc_tuning import tune_gc as tune_process_gc
from interactive_gym.server.limits import LogThrottle
from interactive_gym.server.refusals import Refused
from interactive_gym.server.tokens import InvalidToken, TokenSigner
from interactive_gym.server.uploads import UploadLimits
from interactive_gym.server.wire_json import TOO_DEEP, read_json

log = logging.getLogger("interactive_gym.ingest")

CHUNK_FIELDS = frozenset({"seq", "id", "records", "participant_id", "pending"})
POST_FIELDS = CHUNK_FIELDS | {"token"}
#: Chunks one connection may have waiting for the database at once.
MAX_IN_FLIGHT = 32
#: Largest body accepted by ``POST /api/chunks`` (browsers cap keep-alive bodies at 64 KiB).
MAX_POST_BYTES = 1024 * 1024

_gc_tuned = False


def tune_gc() -> None:
    """Tune the process's garbage collector once (``gc_tuning.py``): every message becomes
    short-lived dicts and lists, and full collections would stall the event loop."""
    global _gc_tuned
    if not _gc_tuned:
        _gc_tuned = True
        tune_process_gc()


class Ingest:
    """The data path's server side: token check on connect, chunk uploads, keep-alive route."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        store: Store,
        signer: TokenSigner,
        *,
        gate: RecordGate | None = None,
        uploads: UploadLimits | None = None,
        throttle: LogThrottle | None = None,
        writer: ChunkWriter | None = None,
        connections: Connections | None = None,
        tune_gc: bool = True,
    ) -> None:
        self.sio = sio
        self.store = store
        self.signer = signer
        self.gate = gate
        self.uploads = uploads or UploadLimits(store)
        self.throttle = throttle or LogThrottle()
        self.writer = writer or ChunkWriter(store)
        self.tune_gc = tune_gc
        self.connections = connections or Connections()
        #: Hears ``(participant_id, records still pending)`` after a chunk reporting it.
        self.on_pending: Callable[[str, int], object] | None = None
        self._in_flight: dict[str, int] = {}

    # socket handlers -----------------------------------------------------------------------

    async def authenticate(self, token: Any) -> str:
        """The participant a token belongs to, or :class:`Refused`.

        The token must be valid for this experiment and issued for the browser the participant
        is bound to now (not one they moved away from).
        """
        try:
            claims = self.signer.verify(token)
        except InvalidToken as exc:
            raise Refused(exc.reason, status=403) from exc
        try:
            found = await asyncio.to_thread(self.store.get_participant, claims.participant_id)
            if found is None or found.experiment_id != claims.experiment_id:
                raise Refused("token: unknown participant", status=403)
            if found.device != claims.device:
                raise Refused("token: this participant continued in another browser", status=403)
            # What the chunk checks need is read now, once per connection, not on a first chunk.
            if self.gate is not None:
                self.gate.update(found)
            await self.uploads.totals(claims.participant_id)
        except Refused:
            raise
        except Exception as exc:  # noqa: BLE001 - the database is down: refuse, do not crash
            log.error("looking up participant %s failed: %s", claims.participant_id, exc)
            raise Refused("storage unavailable; retry later", retry=True, status=503) from None
        return claims.participant_id

    async def handle_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        if self.tune_gc:
            tune_gc()
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            participant_id = await self.authenticate(token)
        except Refused as exc:
            self.throttle.log(log, "connect", "connection %s refused: %s", sid, exc.reason)
            raise socketio.exceptions.ConnectionRefusedError(exc.reason) from None
        await self.connections.connect(sid, participant_id, auth)

    async def handle_disconnect(self, sid: str, reason: Any = None, *_: Any) -> None:
        self._in_flight.pop(sid, None)
        participant_id = self.connections.participant_of(sid)
        if participant_id is not None:
            log.info("participant %s: connection %s closed (%s)", participant_id, sid, reason)
        await self.connections.disconnect(sid)

    async def handle_chunk(self, sid: str, payload: Any = None, *extra: Any) -> dict[str, Any]:
        """Store one chunk from a connected participant; returns the acknowledgement."""
        seq = payload.get("seq") if isinstance(payload, dict) else None
        participant_id = self.connections.participant_of(sid)
        if participant_id is None:
            return self._refuse(sid, None, seq, "not connected as a participant")
        if extra:
            return self._refuse(sid, participant_id, seq, "chunk: expected one argument")
        if payload is TOO_DEEP:
            return self._refuse(sid, participant_id, seq, f"chunk: {TOO_DEEP.reason}")
        if self._in_flight.get(sid, 0) >= MAX_IN_FLIGHT:
            return self._refuse(
                sid, participant_id, seq, "too many chunks waiting; retry later", retry=True
            )
        self._in_flight[sid] = self._in_flight.get(sid, 0) + 1
        try:
            chunk = self.parse(participant_id, payload, CHUNK_FIELDS)
            stored = await self.store_chunk(chunk)
        except Refused as exc:
            return self._refuse(sid, participant_id, seq, exc.reason, retry=exc.retry)
        except SeqConflict as exc:
            return self._refuse(sid, participant_id, seq, str(exc), next_seq=exc.next_seq)
        except WriteFailed as exc:
            return self._refuse(sid, participant_id, seq, str(exc), retry=True)
        except Exception:  # noqa: BLE001 - always answer; the sender keeps the chunk and retries
            log.exception("chunk from %s failed", sid)
            return self._refuse(sid, participant_id, seq, "internal error; retry later", retry=True)
        finally:
            if sid in self._in_flight:
                self._in_flight[sid] -= 1
        self._pending(chunk, payload)
        return {"ok": True, "seq": chunk.seq, "duplicate": not stored}

    async def store_chunk(self, chunk: Chunk) -> bool:
        """Admit a parsed chunk (limits, then the participant's progress) and write it.

        Returns whether it was stored now (False: a resend of a stored chunk).
        """
        reservation = await self.uploads.admit(chunk)
        try:
            if self.gate is not None:
                reason = await self.gate.check(chunk.participant_id, chunk.records)
                if reason is not None:
                    raise Refused(reason)
            stored = await self.writer.submit(chunk)
        except BaseException:
            reservation.cancel()
            raise
        reservation.done(stored)
        return stored

    def parse(self, participant_id: str, payload: Any, fields: frozenset[str]) -> Chunk:
        """Check a chunk message and return it validated, or raise :class:`Refused`."""
        if not isinstance(payload, dict):
            raise Refused(f"chunk: expected an object, got {type(payload).__name__}")
        unknown = sorted(str(k) for k in payload if k not in fields)
        if unknown:
            raise Refused(f"chunk: unknown field {unknown[0]!r:.60}")
        if payload.get("participant_id", participant_id) != participant_id:
            raise Refused("chunk: participant_id is not the participant this token belongs to")
        try:
            seq = validate_seq(payload.get("seq"))
            chunk_id = validate_chunk_id(payload.get("id"))
            records = validate_records(payload.get("records"), self.store.limits)
        except RecordError as exc:
            raise Refused(str(exc)) from None
        pending = payload.get("pending")
        if pending is not None and (
            not isinstance(pending, int) or isinstance(pending, bool) or not 0 <= pending <= MAX_INT
        ):
            shown = type(pending).__name__
            if isinstance(pending, float) or (
                isinstance(pending, int) and pending.bit_length() < 64
            ):
                shown = repr(pending)
            raise Refused(f"pending: expected an integer from 0 to {MAX_INT}, got {shown}")
        return Chunk(participant_id, seq, records, chunk_id)

    def _pending(self, chunk: Chunk, payload: dict[str, Any]) -> None:
        """Tell :attr:`on_pending` what the browser still held besides this (stored) chunk."""
        pending = payload.get("pending")
        if pending is None or self.on_pending is None:
            return
        try:
            self.on_pending(chunk.participant_id, max(0, pending - len(chunk.records)))
        except Exception:  # noqa: BLE001 - a reader's bug never breaks the acknowledgement
            log.exception("on_pending failed for %s", chunk.participant_id)

    async def handle_unknown(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        """Any event no handler knows: refused (and acknowledged, if the sender asked)."""
        participant_id = self.connections.participant_of(sid)
        return self._refuse(sid, participant_id, None, f"unknown event {event!r:.60}")

    def _refuse(
        self,
        sid: str,
        participant_id: str | None,
        seq: Any,
        reason: str,
        retry: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        self.throttle.log(
            log,
            "message",
            "message from %s (participant %s) refused: %s",
            sid,
            participant_id,
            reason,
        )
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        return {"ok": False, "seq": seq, "error": reason, "retry": retry, **extra}

    # keep-alive route ----------------------------------------------------------------------

    async def post_chunks(self, request: Request) -> JSONResponse:
        """``POST /api/chunks``: ``{token, seq, records}`` → ``{ok, seq}`` (the keep-alive tail)."""
        seq = None
        try:
            payload = await read_json(request, MAX_POST_BYTES)
            if isinstance(payload, dict) and isinstance(payload.get("seq"), int):
                seq = payload["seq"]
            if not isinstance(payload, dict):
                raise Refused(f"body: expected an object, got {type(payload).__name__}")
            participant_id = await self.authenticate(payload.get("token"))
            chunk = self.parse(participant_id, payload, POST_FIELDS)
            stored = await self.store_chunk(chunk)
            self._pending(chunk, payload)
        except Refused as exc:
            self.throttle.log(log, "post", "POST /api/chunks refused: %s", exc.reason)
            return _error(exc.status, seq, exc.reason, retry=exc.retry)
        except SeqConflict as exc:
            self.throttle.log(log, "post", "POST /api/chunks refused: %s", exc)
            return _error(409, seq, str(exc), next_seq=exc.next_seq)
        except WriteFailed as exc:
            log.warning("POST /api/chunks not stored: %s", exc)
            return _error(503, seq, str(exc), retry=True)
        return JSONResponse({"ok": True, "seq": chunk.seq, "duplicate": not stored})

    def routes(self) -> list[Route]:
        """The HTTP routes of the data path, for the Starlette app."""
        return [Route("/api/chunks", self.post_chunks, methods=["POST"])]


def _error(status: int, seq: Any, reason: str, retry: bool = False, **extra: Any) -> JSONResponse:
    body = {"ok": False, "seq": seq, "error": reason, "retry": retry, **extra}
    return JSONResponse(body, status)


def register_ingest(
    sio: socketio.AsyncServer,
    store: Store,
    signer: TokenSigner,
    *,
    gate: RecordGate | None = None,
    uploads: UploadLimits | None = None,
    throttle: LogThrottle | None = None,
    connections: Connections | None = None,
    tune_gc: bool = True,
) -> Ingest:
    """Install the ``connect``, ``disconnect`` and ``chunk`` handlers on ``sio``.

    Returns the :class:`Ingest`; add ``ingest.routes()`` to the Starlette routes, and use
    ``ingest.connections`` (``on_connect``, ``on_disconnect``, ``participant_of``) from other
    socket handlers instead of registering ``connect``/``disconnect`` again. With ``tune_gc``
    the first connection tunes the process's garbage collector (:func:`tune_gc`).
    """
    ingest = Ingest(
        sio,
        store,
        signer,
        gate=gate,
        uploads=uploads,
        throttle=throttle,
        connections=connections,
        tune_gc=tune_gc,
    )
    sio.on("connect", ingest.handle_connect)
    sio.on("disconnect", ingest.handle_disconnect)
    sio.on("chunk", ingest.handle_chunk)
    sio.on("*", ingest.handle_unknown)
    return ingest
