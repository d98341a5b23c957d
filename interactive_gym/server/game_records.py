"""The records of a game the server runs: built like the page's, written once by the server.

The data of a ``step`` record is :func:`step_data` and of an ``episode`` record
:func:`episode_data`: the same columns as the browser runtime's (``static/js/game/record.js``
``stepData`` and ``game/episode.js`` ``finish``), plus ``runtime: "server"`` and
``input_seq`` (the ``seq`` of the last ``game:input`` the server had applied, -1 for none).
A step whose tick reply carries ``stateHash`` (the scene's ``record_state_hash_every``) has it
as ``state_hash``, as the browser's.

:class:`GameRecords` writes one game's records through the chunk writer as the server's own
chunks, numbered in :data:`~interactive_gym.data.chunks.SERVER_GAME_SEQS` (:class:`ServerSeqs`
hands out the numbers per participant): steps in chunks of about a second, the rest of an
episode's steps with its summary. Each chunk keeps its seq and id across retries, so a chunk
is stored exactly once. The other half: ``game_clock.py`` produces the data.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Mapping
from typing import Any

from interactive_gym.data.chunks import SERVER_GAME_SEQS, Chunk, SeqConflict
from interactive_gym.data.records import Limits, Record, validate_record
from interactive_gym.data.store import Store
from interactive_gym.data.writer import ChunkWriter, WriteFailed
from interactive_gym.runtime.plain import json_safe

log = logging.getLogger("interactive_gym.game_records")

#: Largest chunk the server writes (in bytes of record data); under the upload limit.
MAX_CHUNK_BYTES = 512 * 1024
#: Tries of one chunk before its records are given up (logged), and the first wait.
WRITE_TRIES = 8
FIRST_RETRY_S = 0.25


# -- the data of the records (record.js / episode.js) --------------------------------------


def ms(value: float) -> float:
    """A duration rounded to 1/100 ms as record.js rounds it (``Math.round(ms * 100) / 100``)."""
    return math.floor(value * 100 + 0.5) / 100


def agent_columns(name: str, value: Any, per_agent: bool) -> dict[str, Any]:
    """``{0: 1, 1: 3}`` → ``{action_0: 1, action_1: 3}``; a single agent's value: one column."""
    if per_agent and isinstance(value, Mapping):
        return {f"{name}_{agent}": json_safe(v) for agent, v in value.items()}
    return {name: json_safe(value)}


def score_of(reward: Any, human: str | None, multi_agent: bool) -> float:
    """The human's reward of a step (single agent: the reward; no human: the sum)."""

    def number(v: Any) -> float:
        try:
            n = float(v)
        except (TypeError, ValueError):
            return 0.0
        return n if math.isfinite(n) else 0.0

    if not multi_agent or not isinstance(reward, Mapping):
        return number(reward) if not isinstance(reward, Mapping) else 0.0
    if human is not None:
        return number(reward.get(human))
    return sum(number(r) for r in reward.values())


class Returns:
    """Sums of rewards over an episode: the score and, for several agents, each one's."""

    def __init__(self) -> None:
        self.score = 0.0
        self.by_agent: dict[str, float] = {}

    def add(self, reward: Any, human: str | None, multi_agent: bool) -> None:
        self.score += score_of(reward, human, multi_agent)
        if multi_agent and isinstance(reward, Mapping):
            for agent, r in reward.items():
                self.by_agent[str(agent)] = self.by_agent.get(str(agent), 0.0) + score_of(
                    r, None, False
                )


def step_data(
    reply: Mapping[str, Any],
    *,
    multi_agent: bool,
    keys: str,
    key_events: list[list[Any]],
    tick_t: float,
    tick_late_ms: float,
    dropped_ticks: int,
    round_trip_ms: float | None,
    focus: str,
    observation: bool,
    input_seq: int,
) -> dict[str, Any]:
    """The data of one step record (``stepData`` of record.js, plus runtime and input_seq).

    ``reply`` is the env pool's tick reply, whose values are already JSON-safe (the env process
    applies :func:`~interactive_gym.runtime.plain.json_safe`, off the event loop)."""
    actions = reply.get("actions") or {}
    if not multi_agent:
        actions = next(iter(actions.values()), None) if isinstance(actions, Mapping) else actions
    timing = reply.get("timing") or {}
    worker_ms, env_ms, policy_ms = (
        timing.get("worker_ms"),
        timing.get("env_ms"),
        reply.get("policyMs"),
    )
    data = {
        **agent_columns("action", actions, multi_agent),
        **agent_columns("reward", reply.get("reward"), multi_agent),
        "terminated": reply.get("terminated"),
        "truncated": reply.get("truncated"),
        "keys": keys,
        "key_events": key_events,
        "info": reply.get("info"),
        "tick_t": ms(tick_t),
        "tick_late_ms": ms(tick_late_ms),
        "dropped_ticks": dropped_ticks,
        "worker_ms": ms(worker_ms) if worker_ms is not None else None,
        "env_ms": ms(env_ms) if env_ms is not None else None,
        "policy_ms": ms(policy_ms) if policy_ms is not None else None,
        "round_trip_ms": ms(round_trip_ms) if round_trip_ms is not None else None,
        "draw_ms": None,
        "focus": focus,
    }
    if observation:
        data["observation"] = reply.get("observation")
    if reply.get("stateHash") is not None:
        data["state_hash"] = reply["stateHash"]
    data["runtime"] = "server"
    data["input_seq"] = input_seq
    return data


def episode_data(
    *,
    seed: int | None,
    returns: Returns,
    multi_agent: bool,
    length: int,
    last: Mapping[str, Any] | None,
    ended_by: str,
    duration_ms: float,
    ticks: int,
    late_ticks: int,
    dropped_ticks: int,
    hidden_steps: int,
    fps: int,
    input_seq: int,
) -> dict[str, Any]:
    """The data of one episode record (``finish`` of episode.js, plus runtime and input_seq)."""
    data: dict[str, Any] = {"seed": seed, "return": returns.score}
    if multi_agent:
        data["returns"] = dict(returns.by_agent)
    data.update(
        length=length,
        terminated=bool(last and last.get("terminated")),
        truncated=bool(last and last.get("truncated")),
        ended_by=ended_by,
        duration_ms=round(duration_ms),
        ticks=ticks,
        late_ticks=late_ticks,
        dropped_ticks=dropped_ticks,
        hidden_steps=hidden_steps,
        fps=fps,
        runtime="server",
        input_seq=input_seq,
    )
    safe: dict[str, Any] = json_safe(data)
    return safe


# -- writing them ----------------------------------------------------------------------------


class ServerSeqs:
    """Hands out each participant's next server-game chunk number (read once from the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._next: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def take(self, participant_id: str) -> int:
        async with self._lock:
            seq = self._next.get(participant_id)
            if seq is None:
                seq = await asyncio.to_thread(
                    self.store.next_seq_in, participant_id, SERVER_GAME_SEQS
                )
            if seq >= SERVER_GAME_SEQS.stop:
                raise WriteFailed("no server chunk numbers left for this participant")
            self._next[participant_id] = seq + 1
            return seq

    def forget(self, participant_id: str) -> None:
        """Read the number from the store again next time (the participant left)."""
        self._next.pop(participant_id, None)


class GameRecords:
    """One game's records: built, checked, and written once, in order, as server chunks."""

    def __init__(
        self,
        writer: ChunkWriter,
        seqs: ServerSeqs,
        participant_id: str,
        scene_id: str,
        *,
        limits: Limits | None = None,
        flush_every: int = 30,
    ) -> None:
        self.writer = writer
        self.seqs = seqs
        self.participant_id = participant_id
        self.scene_id = scene_id
        self.limits = limits or Limits()
        self.flush_every = max(1, flush_every)
        self._pending: list[Record] = []
        self._bytes = 0
        self._tail: asyncio.Task[None] | None = None
        self.written = 0
        self.lost = 0

    def make(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        episode: int | None = None,
        attempt: int | None = None,
        step: int | None = None,
    ) -> Record:
        """A checked record (:class:`~interactive_gym.data.records.RecordError` if it cannot
        be stored, e.g. an observation larger than a record may be)."""
        record = {
            "kind": kind,
            "scene_id": self.scene_id,
            "episode": episode,
            "attempt": attempt,
            "step": step,
            "t": time.time() * 1000,
            "data": data,
        }
        return validate_record(record, f"{kind} record", self.limits)

    def add(self, record: Record) -> None:
        """Queue a record; a full chunk goes to the writer in the background."""
        if self._bytes + record.size > MAX_CHUNK_BYTES and self._pending:
            self._send()
        self._pending.append(record)
        self._bytes += record.size
        if len(self._pending) >= min(self.flush_every, self.limits.max_records):
            self._send()

    async def flush(self) -> None:
        """Write every queued record; returns once all of them are stored (or given up)."""
        if self._pending:
            self._send()
        tail = self._tail
        if tail is not None:
            await asyncio.shield(tail)

    def _send(self) -> None:
        records, self._pending, self._bytes = self._pending, [], 0
        previous = self._tail
        self._tail = asyncio.get_running_loop().create_task(self._write(records, previous))

    async def _write(self, records: list[Record], previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # in order: the chunks before this one first
        chunk_id = "srv-" + uuid.uuid4().hex
        wait = FIRST_RETRY_S
        seq: int | None = None
        for attempt in range(WRITE_TRIES):
            try:
                if seq is None:
                    seq = await self.seqs.take(self.participant_id)
                await self.writer.submit(Chunk(self.participant_id, seq, records, chunk_id))
                self.written += len(records)
                return
            except SeqConflict:  # another server process wrote there: take a fresh number
                self.seqs.forget(self.participant_id)
                seq = None
            except WriteFailed as exc:
                log.warning(
                    "participant %s: server chunk not stored (try %d): %s",
                    self.participant_id,
                    attempt + 1,
                    exc,
                )
            except Exception:  # noqa: BLE001 - keep the game's other chunks going
                log.exception("participant %s: writing a server chunk failed", self.participant_id)
            await asyncio.sleep(wait)
            wait = min(wait * 2, 10.0)
        self.lost += len(records)
        log.error(
            "participant %s: %d record(s) of scene %s could not be stored",
            self.participant_id,
            len(records),
            self.scene_id,
        )
