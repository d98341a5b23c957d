"""Group commit: one thread writes the chunks of every participant, many per transaction.

The event loop never touches the database for writes. ``await writer.submit(chunk)`` queues the
chunk and resolves once the transaction holding it has committed, so an acknowledgement always
means the chunk is on disk. While one transaction commits, the next chunks pile up in the queue
and go into the following transaction together: the busier the server, the larger the batches,
and one fsync serves hundreds of chunks.

``writer.watch(callback)`` lets a reader follow what is stored (the admin console's live
monitor, ``interactive_gym/admin/monitor.py``): ``callback(chunk)`` runs on the submitter's
event loop for each chunk newly stored (never for a resend of a stored one), after its
acknowledgement is settled; an exception in a callback is logged and changes nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable

from interactive_gym.data.chunks import MAX_BATCH, Chunk
from interactive_gym.data.store import Store

log = logging.getLogger("interactive_gym.data.writer")

_Item = tuple[Chunk, asyncio.Future[bool], asyncio.AbstractEventLoop]
#: A chunk's future, what the database said (True: stored now), and the chunk.
_Outcome = tuple[asyncio.Future[bool], object, Chunk]
#: Called on the event loop with each chunk newly stored.
Watcher = Callable[[Chunk], object]


class WriteFailed(RuntimeError):
    """The database refused or could not take the chunk; nothing of it was stored."""


class ChunkWriter:
    """A writer thread in front of a :class:`Store`; started on first use."""

    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.chunks = 0
        self._watchers: list[Watcher] = []

    def watch(self, callback: Watcher) -> Watcher:
        """Call ``callback(chunk)`` on the event loop for every chunk newly stored (not for
        duplicates or refused ones). Keep it cheap: it runs once per chunk on the hot path.
        Usable as a decorator."""
        self._watchers.append(callback)
        return callback

    async def submit(self, chunk: Chunk) -> bool:
        """Store the chunk; True if stored now, False if it was already stored.

        Raises :class:`WriteFailed` when the database could not store it (the sender retries).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._ensure_started()
        self._queue.put((chunk, future, loop))
        return await future

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="interactive-gym-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        chunks = [chunk for chunk, _, _ in batch]
        outcomes: list[bool | BaseException]
        try:
            outcomes = list(self.store.write_chunks(chunks))
        except Exception:  # noqa: BLE001 - isolate the culprit, then report per chunk
            log.exception("writing a batch of %d chunks failed; retrying one by one", len(batch))
            outcomes = [self._write_one(chunk) for chunk in chunks]
        self.batches += 1
        self.chunks += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = defaultdict(list)
        for (chunk, future, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop[loop].append((future, outcome, chunk))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolver(results, self._watchers))
            except RuntimeError:  # the loop has closed: nobody waits for these any more
                pass

    def _write_one(self, chunk: Chunk) -> bool | BaseException:
        try:
            return self.store.write_chunks([chunk])[0]
        except Exception as exc:  # noqa: BLE001
            log.error("chunk %s/%d could not be stored: %s", chunk.participant_id, chunk.seq, exc)
            return WriteFailed(f"storage error: {type(exc).__name__}")


def _resolver(results: list[_Outcome], watchers: list[Watcher]) -> Callable[[], None]:
    def resolve() -> None:
        for future, outcome, _ in results:
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(bool(outcome))
        if watchers:
            for _, outcome, chunk in results:
                if outcome is True:
                    _notify(watchers, chunk)

    return resolve


def _notify(watchers: list[Watcher], chunk: Chunk) -> None:
    for watcher in watchers:
        try:
            watcher(chunk)
        except Exception:  # noqa: BLE001 - a reader's bug never breaks the acknowledgement
            log.exception(
                "chunk watcher %r failed for %s/%d", watcher, chunk.participant_id, chunk.seq
            )
