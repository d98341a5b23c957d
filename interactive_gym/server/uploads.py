"""Per-participant upload limits: sequence numbers within reach, a storage quota, a rate.

Checked for every chunk before it is written (``ingest.py``):

- ``seq`` may run at most :data:`SEQ_WINDOW` ahead of the participant's stored chunks, so a
  forged ``seq`` near the top of the range cannot leave the participant with no valid number
  for their next chunk (a conflict answers the next free one, which must itself be valid).
- The data a participant stores is bounded by a quota; a chunk that would exceed it is refused
  for good (``retry: false``) and the reason names the quota.
- Uploads are rate-limited in bytes per participant; an over-rate chunk is refused with
  ``retry: true``, so the browser keeps it in its journal and sends it again: nothing is lost.

A chunk's bytes are reserved when it is admitted and released if it is not stored (a resend,
a refusal, a failed write), so chunks in flight together cannot overrun the quota. What each
participant has stored is read from the database the first time they upload (per process).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from interactive_gym.data.chunks import Chunk
from interactive_gym.data.store import Store
from interactive_gym.server.limits import KeyedLimiter, UploadSettings
from interactive_gym.server.refusals import Refused

#: How far ahead of the participant's stored chunks a ``seq`` may be.
SEQ_WINDOW = 100_000
#: Participants whose totals are kept in memory (least recently used first out).
MAX_TRACKED = 20_000


@dataclass
class Totals:
    next_seq: int
    bytes: int


class Reservation:
    """A chunk's place within its participant's limits until it is stored or not."""

    def __init__(self, totals: Totals, chunk: Chunk) -> None:
        self.totals = totals
        self.chunk = chunk
        self.size = chunk.size
        totals.bytes += self.size

    def done(self, stored: bool) -> None:
        """The chunk was written (``stored``) or was a resend of a stored one."""
        if stored:
            self.totals.next_seq = max(self.totals.next_seq, self.chunk.seq + 1)
        else:
            self.cancel()

    def cancel(self) -> None:
        self.totals.bytes -= self.size
        self.size = 0


class UploadLimits:
    """Admits chunks within each participant's sequence window, quota and rate."""

    def __init__(self, store: Store, settings: UploadSettings | None = None) -> None:
        self.store = store
        self.settings = settings or UploadSettings()
        self.rate: KeyedLimiter[str] = KeyedLimiter(
            self.settings.burst_bytes, self.settings.bytes_per_s
        )
        self._totals: OrderedDict[str, Totals] = OrderedDict()
        self._loading: dict[str, asyncio.Future[Totals]] = {}

    async def totals(self, participant_id: str) -> Totals:
        known = self._totals.get(participant_id)
        if known is not None:
            self._totals.move_to_end(participant_id)
            return known
        loading = self._loading.get(participant_id)
        if loading is not None:  # another chunk of theirs is reading them already
            return await asyncio.shield(loading)
        future: asyncio.Future[Totals] = asyncio.get_running_loop().create_future()
        self._loading[participant_id] = future
        try:
            next_seq, size = await asyncio.to_thread(self.store.upload_totals, participant_id)
            known = Totals(next_seq, size)
            self._totals[participant_id] = known
            while len(self._totals) > MAX_TRACKED:
                self._totals.popitem(last=False)
            future.set_result(known)
            return known
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._loading[participant_id]

    def forget(self, participant_id: str) -> None:
        """Read the participant's totals from the store again next time (they were reset)."""
        self._totals.pop(participant_id, None)

    async def admit(self, chunk: Chunk) -> Reservation:
        """Reserve the chunk's place, or raise :class:`Refused` naming the limit."""
        totals = await self.totals(chunk.participant_id)
        if chunk.seq >= totals.next_seq + SEQ_WINDOW:
            raise Refused(
                f"seq: {chunk.seq} is too far ahead (the next expected is {totals.next_seq}; "
                f"at most {SEQ_WINDOW} ahead)"
            )
        quota = self.settings.quota_bytes
        if totals.bytes + chunk.size > quota:
            raise Refused(
                f"quota: this participant's data would exceed the storage quota of "
                f"{quota} bytes ({totals.bytes} stored)",
                status=413,
            )
        if not self.rate.take(chunk.participant_id, max(chunk.size, 1)):
            raise Refused(
                "rate: uploading faster than allowed; the chunk is kept and sent again",
                retry=True,
                status=429,
            )
        return Reservation(totals, chunk)
