"""The admin console's live figures, kept in memory and fed by every chunk the server stores.

The other half: ``views.py`` (with ``figures.py`` for the arithmetic) turns them, and the
database, into what the console shows; ``hub.py`` pushes that to the admins connected. What is
kept per owner is ``owner.py``.

Fed by (:meth:`LiveMonitor.attach`):

- ``ChunkWriter.watch``: every chunk newly stored, whoever wrote it: the participants'
  uploads, and the server's own chunks (server-runtime games' steps and episodes, browser
  group games' rows, the event records of waiting rooms and group games);
- ``Ingest.on_pending``: the records a participant's browser still held when it sent a chunk;
- the ``Connections`` hooks: which participants have a socket open.

Per *owner* (a participant, or a group for its group games' records): last seen, records and
chunks stored, pending records, the current scene, episode and step, the game's last tick
samples (``t``, ``tick_late_ms``, ``dropped_ticks``, ``round_trip_ms``, ``worker_ms``,
``draw_ms`` of a step record or, in a browser group game, of the member's per-tick ``input``
record; ``figures.py`` makes steps/s and percentiles of their last 5 s by ``t``), rollbacks and
desyncs, focus losses and the last errors. Across owners: histograms of latency and frame times
since the start, the latest errors with their tracebacks, totals. Owners idle for
:data:`IDLE_S` without a socket are forgotten, and each keeps a bounded ring of samples, so
memory stays bounded.

Cheap by design: the ingest path stores thousands of records a second, and each costs here a
few dict look-ups and one append. ``version`` grows on every change (``hub.py`` pushes only
when it moved).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from interactive_gym.admin.figures import (
    FRAME_EDGES,
    LATENCY_EDGES,
    GameSamples,
    Histogram,
    Sample,
)
from interactive_gym.admin.owner import Live, Owner, is_error, iso
from interactive_gym.data.chunks import Chunk
from interactive_gym.data.records import Record

#: An owner with no record and no socket for this long is forgotten.
IDLE_S = 300.0
#: An owner counts as playing while a tick sample arrived this recently.
PLAYING_S = 15.0
#: Errors kept across owners.
MAX_ERRORS = 200
#: Longest traceback kept (characters, the end of it).
MAX_TRACEBACK = 8000
#: Tick samples waiting to be counted in the histograms (counted in batches: cheaper).
FOLD_EVERY = 20_000


class Registry(Protocol):
    """What the monitor uses of ``server.connections.Connections``."""

    def participant_of(self, sid: str) -> str | None: ...
    def on_connect(self, hook: Any) -> Any: ...
    def on_disconnect(self, hook: Any) -> Any: ...


class LiveMonitor:
    """In-memory live figures of the study; see the module documentation.

    ``clock`` gives unix time (seconds); tests pass their own.
    """

    def __init__(
        self,
        *,
        idle_s: float = IDLE_S,
        playing_s: float = PLAYING_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle_s = idle_s
        self.playing_s = playing_s
        self.clock = clock
        self.started = clock()
        self.version = 0
        self.acked_records = 0
        self.acked_chunks = 0
        self.events_seen = 0
        self.episodes_seen = 0
        self.errors_seen = 0
        self.owners: dict[str, Owner] = {}
        #: participant_id -> their sockets open (checked against ``registry`` when set: a
        #: socket another connect hook refused is never heard of again).
        self.sockets: dict[str, set[str]] = {}
        self.registry: Registry | None = None
        self.errors: deque[dict[str, Any]] = deque(maxlen=MAX_ERRORS)
        self.round_trip = Histogram(LATENCY_EDGES)
        self.worker = Histogram(LATENCY_EDGES)
        self.late = Histogram(FRAME_EDGES)
        self.draw = Histogram(FRAME_EDGES)
        self._unfolded: list[Sample] = []
        self._next_prune = self.started + idle_s / 4

    # feeding ------------------------------------------------------------------------------

    def attach(self, writer: Any, ingest: Any = None, connections: Registry | None = None) -> None:
        """Follow ``writer`` (a ``ChunkWriter``), ``ingest.on_pending`` and ``connections``."""
        writer.watch(self.chunk_stored)
        if ingest is not None:
            ingest.on_pending = self.pending
        if connections is not None:
            self.registry = connections
            connections.on_connect(self.connected)
            connections.on_disconnect(self.disconnected)

    def chunk_stored(self, chunk: Chunk) -> None:
        """A chunk was stored (``ChunkWriter.watch``): a few dict operations per record."""
        now = self.clock()
        owner = self.owners.get(chunk.participant_id)
        if owner is None:
            owner = self.owners[chunk.participant_id] = Owner(chunk.participant_id, now)
        records = chunk.records
        self.version += 1
        self.acked_chunks += 1
        self.acked_records += len(records)
        owner.version = self.version
        owner.last_seen = now
        owner.chunks += 1
        owner.records += len(records)
        last: Record | None = None
        scene = owner.scene_id
        append = owner.samples.append
        unfolded = self._unfolded.append
        for r in records:
            kind = r.kind
            if kind == "step" or kind == "input":
                d = r.data
                late = d.get("tick_late_ms")
                if late is None and kind == "input":
                    continue  # a key event of a server-runtime game: no tick
                dropped = d.get("dropped_ticks")
                sample = (
                    r.t, late, dropped, d.get("round_trip_ms"), d.get("worker_ms"), d.get("draw_ms")
                )  # fmt: skip
                unfolded(sample)
                if r.scene_id != scene:
                    if owner.started:
                        continue  # the tail of a game the owner has left (the server's)
                    scene = r.scene_id
                    owner.new_scene(scene)
                if kind == "input":
                    frames = d.get("rollback_frames")
                    if frames:
                        owner.rollbacks += 1
                        owner.rollback_frames += frames if frames.__class__ is int else 0
                if dropped:
                    owner.dropped_total += dropped if dropped.__class__ is int else 0
                append(sample)
                last = r
            elif kind == "event":
                self._event(owner, r, now)
                scene = owner.scene_id
            elif kind == "episode":
                self._episode(owner, r)
        if last is not None:
            self._ticked(owner, last, now)
            if len(self._unfolded) >= FOLD_EVERY:
                self.fold()
        if now >= self._next_prune:
            self.prune(now)

    def fold(self) -> None:
        """Count the tick samples stored since the last fold in the histograms."""
        samples, self._unfolded = self._unfolded, []
        if samples:
            self.late.add_many([s[1] for s in samples])
            self.round_trip.add_many([s[3] for s in samples])
            self.worker.add_many([s[4] for s in samples])
            self.draw.add_many([s[5] for s in samples])

    def _ticked(self, owner: Owner, last: Record, now: float) -> None:
        """Once per chunk with ticks: where the owner's game is now."""
        owner.last_tick = now
        owner.episode, owner.attempt, owner.step = last.episode, last.attempt, last.step
        d = last.data
        owner.runtime = d.get("runtime") or owner.runtime
        owner.netcode = d.get("netcode") or owner.netcode
        if last.kind == "step":
            members = tuple(
                str(v) for k, v in d.items() if k.startswith("participant_") and v not in (None, "")
            )
            if members:
                owner.members = members

    def _event(self, owner: Owner, r: Record, now: float) -> None:
        self.events_seen += 1
        d = r.data
        kind = d.get("type")
        if owner.scene_id is None:
            owner.new_scene(r.scene_id)
        if kind == "scene_start":
            if r.scene_id != owner.scene_id:
                owner.new_scene(r.scene_id)
            owner.started = True
            index = d.get("index")
            owner.scene_index = index if index.__class__ is int else None
        elif kind == "focus":
            state = d.get("state")
            if state != "focused" and owner.focus in (None, "focused"):
                owner.focus_losses += 1
            owner.focus = state if isinstance(state, str) else None
        elif kind == "desync":
            owner.desyncs += 1
        elif is_error(kind):
            self._error(owner, r, now)
        group_id = d.get("group_id")
        if isinstance(group_id, str) and group_id != owner.owner_id:
            owner.group_id = group_id

    def _error(self, owner: Owner, r: Record, now: float) -> None:
        d = r.data
        traceback = d.get("traceback") or d.get("detail") or ""
        message = d.get("message") or d.get("error") or d.get("type")
        error = {
            "at": iso(now),
            "participant_id": owner.owner_id,
            "scene_id": r.scene_id,
            "type": d.get("type"),
            "stage": d.get("stage"),
            "episode": r.episode,
            "step": r.step,
            "message": str(message)[:2000],
            "traceback": str(traceback)[-MAX_TRACEBACK:],
        }
        self.errors.append(error)
        owner.errors.append(error)
        self.errors_seen += 1

    def _episode(self, owner: Owner, r: Record) -> None:
        self.episodes_seen += 1
        owner.episodes += 1
        value = r.data.get("return")
        owner.last_return = float(value) if isinstance(value, int | float) else None
        desyncs = r.data.get("desyncs")
        if desyncs.__class__ is int and desyncs > owner.desyncs:
            owner.desyncs = desyncs

    def pending(self, participant_id: str, pending: int) -> None:
        """The participant's browser still held ``pending`` records (``Ingest.on_pending``)."""
        owner = self.owners.get(participant_id)
        if owner is None:
            return  # its chunk was refused, or the owner is forgotten: nothing to attach it to
        if owner.pending != pending:
            self.version += 1
            owner.version = self.version
        owner.pending = pending
        owner.pending_at = self.clock()

    def connected(self, sid: str, participant_id: str, auth: Any = None) -> None:
        """A participant's socket is bound (``Connections.on_connect``)."""
        self.sockets.setdefault(participant_id, set()).add(sid)
        self._touch(participant_id)

    def disconnected(self, sid: str, participant_id: str) -> None:
        """A participant's socket went away (``Connections.on_disconnect``)."""
        sids = self.sockets.get(participant_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self.sockets[participant_id]
        self._touch(participant_id)

    def _connected(self, owner_ids: Any = None) -> set[str]:
        """The participants (of ``owner_ids``) with a socket open now; forgets the sockets the
        registry no longer knows (refused by a later connect hook)."""
        ids = self.sockets if owner_ids is None else [o for o in owner_ids if o in self.sockets]
        found = set()
        for pid in list(ids):
            sids = self.sockets[pid]
            if self.registry is not None:
                sids -= {s for s in sids if self.registry.participant_of(s) != pid}
                if not sids:
                    del self.sockets[pid]
                    continue
            found.add(pid)
        return found

    def _touch(self, participant_id: str) -> None:
        now = self.clock()
        self.version += 1
        owner = self.owners.get(participant_id)
        if owner is None:
            owner = self.owners[participant_id] = Owner(participant_id, now)
        owner.last_seen = now
        owner.version = self.version

    def forget(self, owner_id: str) -> bool:
        """Drop what is kept of one owner (say, a participant reset to start again); its open
        sockets still count as connected. Returns whether anything was kept."""
        found = self.owners.pop(owner_id, None) is not None
        if found:
            self.version += 1
        return found

    def prune(self, now: float | None = None) -> int:
        """Forget owners idle for ``idle_s`` without a socket; returns how many."""
        now = self.clock() if now is None else now
        self._next_prune = now + self.idle_s / 4
        cutoff = now - self.idle_s
        idle = [
            o for o, owner in self.owners.items()
            if owner.last_seen < cutoff and o not in self.sockets
        ]  # fmt: skip
        for owner_id in idle:
            del self.owners[owner_id]
        if idle:
            self.version += 1
        return len(idle)

    # reading (on the event loop: copies for the views, which work in a thread) -------------

    def live(self) -> Live:
        """The totals now."""
        now = self.clock()
        since = now - self.playing_s
        pending = playing = 0
        for owner in self.owners.values():
            if owner.pending:
                pending += owner.pending
            if owner.last_tick is not None and owner.last_tick >= since:
                playing += 1
        return Live(
            at=now,
            since=self.started,
            version=self.version,
            acked_records=self.acked_records,
            acked_chunks=self.acked_chunks,
            pending_records=pending,
            connected=frozenset(self._connected()),
            events_seen=self.events_seen,
            episodes_seen=self.episodes_seen,
            errors_seen=self.errors_seen,
            playing=playing,
        )

    def games(self) -> list[GameSamples]:
        """The owners playing now (a tick within ``playing_s``), their samples copied."""
        now = self.clock()
        since = now - self.playing_s
        return [
            self._game(owner, now)
            for owner in list(self.owners.values())
            if owner.last_tick is not None and owner.last_tick >= since
        ]

    def game_of(self, owner_id: str) -> GameSamples | None:
        """One owner's game (played now or not), or None when nothing is known of it."""
        owner = self.owners.get(owner_id)
        if owner is None or owner.last_tick is None:
            return None
        return self._game(owner, self.clock())

    def _game(self, owner: Owner, now: float) -> GameSamples:
        return GameSamples(
            owner_id=owner.owner_id,
            kind="group" if owner.members else "participant",
            members=owner.members,
            group_id=owner.group_id,
            scene_id=owner.scene_id,
            episode=owner.episode,
            step=owner.step,
            runtime=owner.runtime,
            netcode=owner.netcode,
            rollbacks=owner.rollbacks,
            rollback_frames=owner.rollback_frames,
            desyncs=owner.desyncs,
            dropped_total=owner.dropped_total,
            last_seen_s=round(now - owner.last_seen, 3),
            samples=list(owner.samples),
        )

    def owner(self, owner_id: str) -> dict[str, Any] | None:
        """What is known live of one owner (None: nothing, or forgotten)."""
        owner = self.owners.get(owner_id)
        if owner is None:
            return None
        now = self.clock()
        return {
            "connected": owner_id in self._connected([owner_id]),
            "sockets": len(self.sockets.get(owner_id, ())),
            "last_seen_s": round(now - owner.last_seen, 3),
            "records": owner.records,
            "chunks": owner.chunks,
            "pending_records": owner.pending,
            "pending_at": iso(owner.pending_at) if owner.pending_at is not None else None,
            "scene_id": owner.scene_id,
            "scene_index": owner.scene_index,
            "episode": owner.episode,
            "step": owner.step,
            "focus": owner.focus,
            "focus_losses": owner.focus_losses,
            "episodes": owner.episodes,
            "last_return": owner.last_return,
            "group_id": owner.group_id,
            "errors": list(owner.errors),
        }

    def owner_version(self, owner_id: str) -> int:
        """The monitor's ``version`` when the owner last changed (0: unknown)."""
        owner = self.owners.get(owner_id)
        return owner.version if owner is not None else 0

    def recent_errors(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest errors, newest first."""
        errors = list(self.errors)
        errors.reverse()
        return errors[:limit]

    def histograms(self) -> dict[str, Any]:
        """Latency and frame-time histograms of every tick since the start."""
        self.fold()
        return {
            "latency_ms": {
                "bins": list(LATENCY_EDGES),
                "round_trip": list(self.round_trip.counts),
                "worker": list(self.worker.counts),
            },
            "frame_ms": {
                "bins": list(FRAME_EDGES),
                "late": list(self.late.counts),
                "draw": list(self.draw.counts),
            },
        }
