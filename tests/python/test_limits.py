"""Token buckets, the keyed limiter, the log throttle and the limit settings (a fake clock)."""

from __future__ import annotations

import io
import logging
import math
import re
import uuid

import pytest

from interactive_gym.server.limits import (
    EntrySettings,
    KeyedLimiter,
    LimitSettings,
    LogThrottle,
    TokenBucket,
    UploadSettings,
)


class FakeClock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# token bucket ---------------------------------------------------------------------------------


def test_bucket_starts_full_and_refills_at_its_rate(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=4, rate=2, clock=clock)
    assert [bucket.take() for _ in range(5)] == [True, True, True, True, False]
    assert bucket.retry_after() == 0.5
    clock.advance(0.25)
    assert not bucket.take()  # half a token
    assert bucket.retry_after() == 0.25
    clock.advance(0.25)
    assert bucket.take() and not bucket.take()
    clock.advance(3600)
    assert bucket.tokens == 4  # never more than the capacity, however long it rests
    assert bucket.is_full()


def test_bucket_takes_costs_and_refuses_without_spending(clock: FakeClock) -> None:
    bucket = TokenBucket(capacity=100, rate=10, clock=clock)
    assert bucket.take(70)
    assert not bucket.take(40)  # refused: nothing spent
    assert bucket.tokens == 30
    assert bucket.retry_after(40) == 1.0
    assert bucket.take(30) and bucket.tokens == 0
    assert bucket.take(0)


def test_a_cost_over_the_capacity_passes_only_from_a_full_bucket_and_leaves_a_debt(
    clock: FakeClock,
) -> None:
    bucket = TokenBucket(capacity=10, rate=1, clock=clock)
    assert bucket.take(1)
    assert not bucket.take(25)  # never passes while the bucket is not full
    assert bucket.retry_after(25) == 1.0
    clock.advance(1)
    assert bucket.take(25)
    assert bucket.tokens == -15
    assert not bucket.take(1)
    assert bucket.retry_after(1) == 16.0  # the debt is paid back first
    clock.advance(16)
    assert bucket.take(1)


@pytest.mark.parametrize("cost", [-1, math.nan])
def test_bucket_refuses_a_negative_cost(clock: FakeClock, cost: float) -> None:
    bucket = TokenBucket(1, 1, clock=clock)
    with pytest.raises(ValueError, match=r"^cost: expected a number >= 0"):
        bucket.take(cost)
    with pytest.raises(ValueError, match=r"^cost: "):
        bucket.retry_after(cost)


@pytest.mark.parametrize(
    ("capacity", "rate", "field"),
    [(0, 1, "capacity"), (-5, 1, "capacity"), (1, 0, "rate"), (1, math.inf, "rate")],
)
def test_bucket_settings_must_be_positive(capacity: float, rate: float, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: expected a positive number"):
        TokenBucket(capacity, rate)


# keyed limiter --------------------------------------------------------------------------------


def test_each_key_has_its_own_bucket(clock: FakeClock) -> None:
    limiter: KeyedLimiter[str] = KeyedLimiter(2, 1, clock=clock)
    assert [limiter.take("10.0.0.1") for _ in range(3)] == [True, True, False]
    assert limiter.take("10.0.0.2")
    assert limiter.retry_after("10.0.0.1") == 1.0
    assert limiter.retry_after("never-seen") == 0.0
    clock.advance(1)
    assert limiter.take("10.0.0.1") and not limiter.take("10.0.0.1")


def test_buckets_full_again_are_forgotten(clock: FakeClock) -> None:
    limiter: KeyedLimiter[str] = KeyedLimiter(10, 5, clock=clock)
    for i in range(1000):
        limiter.take(f"key{i}", 10)
    assert len(limiter) == 1000
    clock.advance(1.9)  # not full yet (10 tokens take 2 s)
    limiter.take("key0", 0)
    assert len(limiter) == 1000
    clock.advance(0.1)
    limiter.take("another")
    assert len(limiter) == 1  # every full bucket was dropped; "another" took a token


def test_a_flood_of_distinct_keys_keeps_at_most_max_keys(clock: FakeClock) -> None:
    limiter: KeyedLimiter[str] = KeyedLimiter(5, 0.001, max_keys=1000, clock=clock)
    assert [limiter.take("victim", 5), limiter.take("victim")] == [True, False]
    for i in range(100_000):
        limiter.take(f"flood{i}")
        assert len(limiter) <= 1000
    assert len(limiter) == 1000
    for i in range(99_000, 100_000):  # the most recently used keep their (drained) state
        assert limiter.retry_after(f"flood{i}", 5) > 0
    # The least recently used were dropped: a dropped key starts again with a full bucket.
    assert limiter.retry_after("victim") == 0.0
    assert limiter.take("victim", 5)


def test_keyed_limiter_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"^max_keys: expected an integer >= 1"):
        KeyedLimiter(1, 1, max_keys=0)
    with pytest.raises(ValueError, match=r"^rate: "):
        KeyedLimiter(1, -1)
    limiter: KeyedLimiter[str] = KeyedLimiter(1, 1)
    with pytest.raises(ValueError, match=r"^cost: "):
        limiter.take("k", -3)


# log throttle ---------------------------------------------------------------------------------

LINE = "message from %s (participant %s) refused: %s"
REASON = "records[3].kind: expected one of step, survey, event, episode, got 'nope'"
SUPPRESSED = re.compile(r"\((\d+) similar refusals not logged in the last (\d+) s\)$")
FLUSHED = re.compile(r"^WARNING \S+: (\d+) similar refusals \((\S+)\) not logged in the last")


@pytest.fixture
def logged() -> tuple[logging.Logger, io.StringIO]:
    """A real logger writing formatted lines (as a server's log would) to a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(f"test.limits.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, stream


def refuse(throttle: LogThrottle, logger: logging.Logger, i: int, category: str = "message"):
    return throttle.log(logger, category, LINE, f"sid{i:06d}xxxxxxxxxxxx", f"p{i % 50}", REASON)


def test_unthrottled_refusals_write_megabytes(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged  # what the throttle is for: the same 10,000 lines, all logged
    for i in range(10_000):
        logger.warning(LINE, f"sid{i:06d}xxxxxxxxxxxx", f"p{i % 50}", REASON)
    assert len(stream.getvalue().encode()) > 1_000_000


def test_10000_refusals_at_once_log_a_few_lines_then_the_count(
    logged: tuple[logging.Logger, io.StringIO], clock: FakeClock
) -> None:
    logger, stream = logged
    throttle = LogThrottle(lines=10, interval_s=60, clock=clock)
    results = [refuse(throttle, logger, i) for i in range(10_000)]
    assert results == [True] * 10 + [False] * 9_990
    lines = stream.getvalue().splitlines()
    assert [line.split()[4] for line in lines] == [f"sid{i:06d}xxxxxxxxxxxx" for i in range(10)]
    assert all(line.endswith(REASON) for line in lines)
    assert len(stream.getvalue().encode()) < 2_000

    clock.advance(6)  # one line's worth of the rate (10 lines a minute)
    assert refuse(throttle, logger, 10_000)
    last = stream.getvalue().splitlines()[-1]
    assert "sid010000" in last
    assert last.endswith("(9990 similar refusals not logged in the last 6 s)")
    assert len(stream.getvalue().encode()) < 2_500


def test_a_long_flood_in_many_categories_stays_small_and_every_refusal_is_counted(
    logged: tuple[logging.Logger, io.StringIO], clock: FakeClock
) -> None:
    """10,000 refusals over 100 s: fixed categories plus names a sender chooses (1,000 of
    them), all either logged or counted in a later line, in a few kilobytes."""
    logger, stream = logged
    throttle = LogThrottle(lines=10, interval_s=60, max_categories=8, clock=clock)
    categories = ["message", "connect", "post", "entry"]
    for i in range(10_000):
        clock.advance(0.01)
        category = categories[i % 4] if i % 10 else f"event-{i}"
        refuse(throttle, logger, i, category)
    clock.advance(1)
    throttle.flush()
    text = stream.getvalue()
    lines = text.splitlines()
    # At most (8 categories + "other") x (10 lines + 100 s at 10 lines a minute), of about
    # 170 bytes each: tens of kilobytes where all 10,000 lines take 1.7 MB.
    assert len(lines) <= 9 * (10 + 100 * 10 / 60)
    assert len(text.encode()) < 40_000
    refusals = [line for line in lines if not FLUSHED.match(line)]
    suppressed = sum(int(m.group(1)) for m in map(SUPPRESSED.search, refusals) if m)
    flushed = sum(int(m.group(1)) for m in map(FLUSHED.match, lines) if m)
    assert len(refusals) + suppressed + flushed == 10_000
    for i in range(10):  # the first refusals of the busiest categories are all there
        assert f"sid{i:06d}" in text
    assert throttle.flush() == 0  # nothing left to report


def test_flush_reports_what_is_pending_once(
    logged: tuple[logging.Logger, io.StringIO], clock: FakeClock
) -> None:
    logger, stream = logged
    throttle = LogThrottle(lines=2, interval_s=10, clock=clock)
    for i in range(7):
        refuse(throttle, logger, i, "entry")
    assert throttle.flush() == 1
    assert stream.getvalue().splitlines()[-1] == (
        f"WARNING {logger.name}: 5 similar refusals (entry) not logged in the last 1 s"
    )
    assert throttle.flush() == 0


def test_lines_below_the_logger_level_are_neither_logged_nor_counted(
    logged: tuple[logging.Logger, io.StringIO], clock: FakeClock
) -> None:
    logger, stream = logged
    throttle = LogThrottle(lines=2, interval_s=10, clock=clock)
    assert not any(throttle.log(logger, "c", "debug %d", i, level=logging.DEBUG) for i in range(9))
    assert throttle.log(logger, "c", "one") and throttle.log(logger, "c", "two")
    assert stream.getvalue().splitlines() == [f"WARNING {logger.name}: {w}" for w in ("one", "two")]
    assert throttle.flush() == 0


def test_log_throttle_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"^lines: expected a positive number"):
        LogThrottle(lines=0)
    with pytest.raises(ValueError, match=r"^interval_s: "):
        LogThrottle(interval_s=-1)


# settings -------------------------------------------------------------------------------------


def test_default_settings() -> None:
    limits = LimitSettings()
    assert (limits.entry.burst, limits.entry.per_s) == (60, 1.0)
    assert limits.uploads == UploadSettings(
        bytes_per_s=64 * 1024, burst_bytes=16 * 1024 * 1024, quota_bytes=200 * 1024 * 1024
    )
    # The rate leaves room for a 60 fps game (about 20 KB/s); the burst, for a journal
    # flushed after more than 10 minutes offline.
    assert limits.uploads.bytes_per_s > 3 * 20_000
    assert limits.uploads.burst_bytes > 10 * 60 * 20_000


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: EntrySettings(burst=0), "limits.entry.burst"),
        (lambda: EntrySettings(per_s=-1.0), "limits.entry.per_s"),
        (lambda: EntrySettings(per_s=math.nan), "limits.entry.per_s"),
        (lambda: UploadSettings(bytes_per_s=0), "limits.uploads.bytes_per_s"),
        (lambda: UploadSettings(burst_bytes=math.inf), "limits.uploads.burst_bytes"),  # type: ignore[arg-type]
        (lambda: UploadSettings(quota_bytes=True), "limits.uploads.quota_bytes"),
        (lambda: UploadSettings(quota_bytes="200MB"), "limits.uploads.quota_bytes"),  # type: ignore[arg-type]
        (lambda: LimitSettings(entry=None), "limits.entry"),  # type: ignore[arg-type]
        (lambda: LimitSettings(uploads={}), "limits.uploads"),  # type: ignore[arg-type]
    ],
)
def test_settings_refuse_bad_values_naming_the_field(make, field: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}: expected "):
        make()
