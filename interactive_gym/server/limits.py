"""Rate limits and bounded logging for what participants' browsers send.

- :class:`TokenBucket`: up to ``capacity`` tokens, refilled at ``rate`` per second; an action
  takes tokens or waits (:meth:`~TokenBucket.retry_after` says how long).
- :class:`KeyedLimiter`: one bucket per key (a client's address, a participant id) in bounded
  memory: buckets that are full again are forgotten, and at most ``max_keys`` are kept.
- :class:`LogThrottle`: at most a few log lines per category and interval; a line let through
  after some were held back says how many (``... (412 similar refusals not logged in the last
  6 s)``), so a flood of refusals cannot fill the disk with log.
- :class:`LimitSettings` (:class:`EntrySettings`, :class:`UploadSettings`): the numbers.

Everything takes an injectable clock (``time.monotonic`` by default). The buckets and the
limiter are meant for one thread (the event loop); the log throttle may be shared by threads.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Generic, TypeVar

Clock = Callable[[], float]
K = TypeVar("K", bound=Hashable)

KIB = 1024
MIB = 1024 * KIB


def _check_positive(name: str, value: object) -> None:
    """Refuse anything but a finite number > 0; the message names the field."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name}: expected a positive number, got {value!r:.60}")


def _check_cost(cost: float) -> None:
    if not cost >= 0:  # also refuses NaN
        raise ValueError(f"cost: expected a number >= 0, got {cost!r:.60}")


class TokenBucket:
    """Up to ``capacity`` tokens, refilled continuously at ``rate`` tokens per second.

    It starts full. :meth:`take` spends ``cost`` tokens if there are enough. A cost larger
    than the capacity is allowed when the bucket is full and leaves it in debt (fewer than
    zero tokens), so no single action is refused forever, and the debt is paid back at
    ``rate`` before anything else is allowed.
    """

    __slots__ = ("capacity", "rate", "_clock", "_tokens", "_stamp")

    def __init__(self, capacity: float, rate: float, clock: Clock = time.monotonic) -> None:
        _check_positive("capacity", capacity)
        _check_positive("rate", rate)
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._stamp = now
        return self._tokens

    @property
    def tokens(self) -> float:
        """The tokens available now (negative while in debt)."""
        return self._refill()

    def is_full(self) -> bool:
        """Whether the bucket is full again (as if it had never been used)."""
        return self._refill() >= self.capacity

    def take(self, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens and return True, or return False and spend nothing."""
        _check_cost(cost)
        if self._refill() < min(cost, self.capacity):
            return False
        self._tokens -= cost
        return True

    def retry_after(self, cost: float = 1.0) -> float:
        """Seconds until :meth:`take` of ``cost`` would succeed (0.0: it would now)."""
        _check_cost(cost)
        return max(0.0, (min(cost, self.capacity) - self._refill()) / self.rate)


class KeyedLimiter(Generic[K]):
    """A :class:`TokenBucket` per key, in bounded memory.

    A key seen for the first time gets a full bucket. Buckets are kept in the order they were
    last used; the least recently used ones are forgotten once they are full again (a full
    bucket is what a new key gets anyway), and when more than ``max_keys`` are in use the least
    recently used one is dropped even if it is not full. A flood of distinct keys therefore
    costs at most ``max_keys`` buckets (about 200 bytes each); what it can gain is a fresh,
    full bucket for a key dropped early, never a smaller one for anybody.
    """

    def __init__(
        self,
        capacity: float,
        rate: float,
        *,
        max_keys: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        _check_positive("capacity", capacity)
        _check_positive("rate", rate)
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys: expected an integer >= 1, got {max_keys!r:.60}")
        self.capacity = capacity
        self.rate = rate
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[K, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        """How many keys have a bucket that is not known to be full."""
        return len(self._buckets)

    def _forget_full(self) -> None:
        buckets = self._buckets
        while buckets:
            key, oldest = next(iter(buckets.items()))
            if not oldest.is_full():
                return
            del buckets[key]

    def take(self, key: K, cost: float = 1.0) -> bool:
        """Spend ``cost`` from ``key``'s bucket (see :meth:`TokenBucket.take`)."""
        _check_cost(cost)
        self._forget_full()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.capacity, self.rate, self._clock)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(cost)

    def retry_after(self, key: K, cost: float = 1.0) -> float:
        """Seconds until :meth:`take` of ``cost`` for ``key`` would succeed (0.0: now)."""
        _check_cost(cost)
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.retry_after(cost)


@dataclass
class _Category:
    bucket: TokenBucket
    suppressed: int = 0
    since: float = 0.0
    logger: logging.Logger | None = None
    level: int = logging.WARNING


class LogThrottle:
    """Logs at most ``lines`` lines per ``interval_s`` seconds for each category.

    A token bucket per category: a burst of ``lines`` lines, then one line every
    ``interval_s / lines`` seconds. Lines over that are counted, not logged; the next line let
    through ends with ``(412 similar refusals not logged in the last 6 s)``. :meth:`flush`
    logs the counts still pending (say, once a minute, or at shutdown).

    Categories should be a few fixed names (``"message"``, ``"entry"``, ...). Past
    ``max_categories``, new names share the category ``"other"``, so even names made from what
    senders send cannot grow the memory, and the log grows by at most ``max_categories + 1``
    times ``lines`` per ``interval_s``.
    """

    OTHER: ClassVar[str] = "other"

    def __init__(
        self,
        lines: int = 10,
        interval_s: float = 60.0,
        *,
        what: str = "refusals",
        max_categories: int = 32,
        clock: Clock = time.monotonic,
    ) -> None:
        _check_positive("lines", lines)
        _check_positive("interval_s", interval_s)
        _check_positive("max_categories", max_categories)
        self.lines = lines
        self.interval_s = interval_s
        self.what = what
        self.max_categories = max_categories
        self._clock = clock
        self._categories: dict[str, _Category] = {}
        self._lock = threading.Lock()

    def _category(self, name: str) -> _Category:
        found = self._categories.get(name)
        if found is None and len(self._categories) >= self.max_categories:
            name = self.OTHER
            found = self._categories.get(name)
        if found is None:
            bucket = TokenBucket(self.lines, self.lines / self.interval_s, self._clock)
            found = self._categories[name] = _Category(bucket)
        return found

    def log(
        self,
        logger: logging.Logger,
        category: str,
        msg: str,
        *args: Any,
        level: int = logging.WARNING,
    ) -> bool:
        """``logger.log(level, msg, *args)`` unless ``category`` is over its rate.

        Returns whether the line was logged. A line the logger would not log at that level
        anyway is neither logged nor counted.
        """
        if not logger.isEnabledFor(level):
            return False
        with self._lock:
            state = self._category(category)
            if not state.bucket.take():
                if not state.suppressed:
                    state.since = self._clock()
                state.suppressed += 1
                state.logger, state.level = logger, level
                return False
            suppressed, since = state.suppressed, state.since
            state.suppressed = 0
        if suppressed:
            msg += " (%d similar %s not logged in the last %d s)"
            args = (*args, suppressed, self.what, self._seconds_since(since))
        logger.log(level, msg, *args)
        return True

    def flush(self) -> int:
        """Log the counts of lines held back and not reported yet; returns how many lines."""
        with self._lock:
            pending = [
                (name, c.logger, c.level, c.suppressed, c.since)
                for name, c in self._categories.items()
                if c.suppressed and c.logger is not None
            ]
            for name, *_ in pending:
                self._categories[name].suppressed = 0
        for name, logger, level, suppressed, since in pending:
            logger.log(
                level,
                "%d similar %s (%s) not logged in the last %d s",
                suppressed,
                self.what,
                name,
                self._seconds_since(since),
            )
        return len(pending)

    def _seconds_since(self, since: float) -> int:
        return max(1, math.ceil(self._clock() - since))


def _check_fields(settings: Any, prefix: str) -> None:
    for f in fields(settings):
        _check_positive(f"{prefix}.{f.name}", getattr(settings, f.name))


@dataclass(frozen=True)
class EntrySettings:
    """How fast new participants may start the study from one network address.

    Attributes:
        burst: starts allowed at once from one address (default 60). A lab session may start
            20-40 participants within a minute behind one NAT address, with some reloads.
        per_s: starts per second from one address once the burst is spent (default 1.0,
            3,600 an hour): more than any lab needs, yet it bounds how fast one address can
            fill the participants table. The address is the one the server sees: behind a
            reverse proxy, every participant shares the proxy's unless the proxy's
            ``X-Forwarded-For`` is trusted (uvicorn ``--proxy-headers``).
    """

    burst: float = 60
    per_s: float = 1.0

    def __post_init__(self) -> None:
        _check_fields(self, "limits.entry")


@dataclass(frozen=True)
class UploadSettings:
    """How much each participant may upload, and how fast (bytes of record data).

    Attributes:
        bytes_per_s: sustained upload rate per participant (default 64 KiB/s). A game at
            60 frames per second records about 20 KB/s; this leaves three times that.
        burst_bytes: what may arrive at once on top of the rate (default 16 MiB). An uploader
            that was offline flushes its journal when it is back: 16 MiB is more than 13
            minutes of a 20 KB/s game. A chunk over the rate is refused with ``retry: true``:
            the browser keeps it in its journal and sends it again later, so nothing is lost,
            only delayed. Empty, the bucket refills in 16 MiB / 64 KiB/s = 256 s.
        quota_bytes: the most record data one participant may store (default 200 MiB). A
            20 KB/s game fills about 72 MB an hour, so this leaves close to three hours of it,
            more than any session; it bounds what one participant, or a leaked token, can make
            the database hold. A chunk past the quota is refused for good (``retry: false``).
            The database may still hold up to the number of participants times the quota.
    """

    bytes_per_s: int = 64 * KIB
    burst_bytes: int = 16 * MIB
    quota_bytes: int = 200 * MIB

    def __post_init__(self) -> None:
        _check_fields(self, "limits.uploads")


@dataclass(frozen=True)
class LimitSettings:
    """The server's limits on what participants' browsers may do.

    Attributes:
        entry: starting the study, per client address (:class:`EntrySettings`).
        uploads: uploading records, per participant (:class:`UploadSettings`).
    """

    entry: EntrySettings = field(default_factory=EntrySettings)
    uploads: UploadSettings = field(default_factory=UploadSettings)

    def __post_init__(self) -> None:
        if not isinstance(self.entry, EntrySettings):
            raise ValueError(f"limits.entry: expected EntrySettings, got {self.entry!r:.60}")
        if not isinstance(self.uploads, UploadSettings):
            raise ValueError(f"limits.uploads: expected UploadSettings, got {self.uploads!r:.60}")
