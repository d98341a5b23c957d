"""The arithmetic of the admin console's game figures: tick samples, histograms, and steps per
second and percentiles over a game's recent samples (run off the event loop).

The other half: ``monitor.py`` collects the samples (:class:`GameSamples`) and fills the
histograms; ``views.py`` shows what these functions make of them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Seconds of tick samples (by record ``t``) behind a game's figures.
WINDOW_S = 5.0
#: Histogram bin edges (ms): bin i counts values from edges[i] up to edges[i+1], the last from
#: its edge up (and the first anything below edges[1], negative values included).
LATENCY_EDGES = (0, 1, 2, 5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 1000, 2000)
FRAME_EDGES = (0, 1, 2, 4, 6, 8, 10, 12, 16, 20, 25, 33, 50, 67, 100, 200, 500, 1000)

#: A tick sample: (t, tick_late_ms, dropped_ticks, round_trip_ms, worker_ms, draw_ms).
Sample = tuple[float, Any, Any, Any, Any, Any]


@dataclass(frozen=True)
class GameSamples:
    """One owner's game as copied from the monitor (figured out off the event loop)."""

    owner_id: str
    kind: str  # "participant" | "group"
    members: tuple[str, ...]
    group_id: str | None
    scene_id: str | None
    episode: int | None
    step: int | None
    runtime: str | None
    netcode: str | None
    rollbacks: int
    rollback_frames: int
    desyncs: int
    dropped_total: int
    last_seen_s: float
    samples: list[Sample]


class Histogram:
    """Counts of values in fixed bins (see :data:`LATENCY_EDGES`), filled in batches."""

    __slots__ = ("edges", "counts")

    def __init__(self, edges: tuple[float, ...]) -> None:
        self.edges = edges
        self.counts = [0] * len(edges)

    def add_many(self, values: list[Any]) -> None:
        """Count the finite numbers among ``values`` (None and anything else is skipped)."""
        ordered: list[float] = sorted(v for v in values if type(v) in _NUMBER and math.isfinite(v))
        if not ordered:
            return
        cuts = [0] + [bisect_left(ordered, e) for e in self.edges[1:]] + [len(ordered)]
        for i in range(len(self.counts)):
            self.counts[i] += cuts[i + 1] - cuts[i]


_NUMBER: frozenset[type] = frozenset({int, float})


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of sorted ``ordered``, linearly interpolated; None when
    empty."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(float(value), 2)


def _sorted(window: Sequence[Sample], column: int) -> list[float]:
    return sorted(v for v in (s[column] for s in window) if type(v) in _NUMBER and math.isfinite(v))


def recent(samples: Sequence[Sample], window_s: float = WINDOW_S) -> list[Sample]:
    """The samples of the last ``window_s`` before the newest one (by record ``t``, ms).

    Samples come in the order they were stored, which is their order in time: the window is
    found from the end, without looking at older samples.
    """
    if not samples:
        return []
    since = samples[-1][0] - window_s * 1000
    start = len(samples)
    while start > 0 and samples[start - 1][0] >= since:
        start -= 1
    return list(samples[start:])


def steps_per_s(samples: Sequence[Sample]) -> float | None:
    """Ticks per second over ``samples`` (their ``t`` in ms); None with fewer than two."""
    if len(samples) < 2:
        return None
    times = [s[0] for s in samples]
    span = max(times) - min(times)
    if span <= 0:
        return None
    return round((len(times) - 1) * 1000 / span, 2)


def game_row(
    game: GameSamples, *, target_fps: int | None = None, window_s: float = WINDOW_S
) -> dict[str, Any]:
    """One row of the ``games`` payload (see ``views.py``) from one owner's samples."""
    window = recent(game.samples, window_s)
    late = _sorted(window, 1)
    return {
        "owner": game.owner_id,
        "kind": game.kind,
        "participant_ids": list(game.members) if game.kind == "group" else [game.owner_id],
        "group_id": game.owner_id if game.kind == "group" else game.group_id,
        "scene_id": game.scene_id,
        "runtime": game.runtime,
        "netcode": game.netcode,
        "episode": game.episode,
        "step": game.step,
        "fps": steps_per_s(window),
        "target_fps": target_fps,
        "samples": len(window),
        "late_ms_p50": percentile(late, 50),
        "late_ms_p95": percentile(late, 95),
        "dropped": sum(d for d in (s[2] for s in window) if d.__class__ is int),
        "dropped_total": game.dropped_total,
        "round_trip_ms_p50": percentile(_sorted(window, 3), 50),
        "worker_ms_p50": percentile(_sorted(window, 4), 50),
        "draw_ms_p50": percentile(_sorted(window, 5), 50),
        "rollbacks": game.rollbacks,
        "rollback_frames": game.rollback_frames,
        "desyncs": game.desyncs,
        "last_seen_s": game.last_seen_s,
    }
