"""The game benchmarks' arithmetic on made-up probe frames (the runs themselves are benchmarks)."""

from __future__ import annotations

from typing import Any

import pytest

from interactive_gym.bench.game import drop_causes, latency_run, pacing_run, slowest_tick


def frame(episode: int, step: int, start: float, **fields: Any) -> dict[str, Any]:
    base = {
        "episode": episode, "step": step, "slot": step, "target": start, "start": start,
        "lateMs": 0.0, "dropped": 0, "intervalMs": None if step == 0 else 1000 / 60,
        "workerMs": 1.0, "envMs": 0.5, "policyMs": 0.1, "roundTripMs": 1.5, "drawMs": 0.4,
        "drawnAt": start + 2, "paintedAt": start + 10, "keyEvents": [],
    }  # fmt: skip
    base.update(fields)
    return base


def test_latency_is_from_each_key_down_to_the_paint_of_the_tick_that_used_it() -> None:
    frames = [
        frame(0, 0, 100.0),
        frame(0, 1, 133.0, keyEvents=[{"type": "down", "key": "ArrowUp", "t": 120.0}]),
        frame(0, 2, 166.0, keyEvents=[{"type": "up", "key": "ArrowUp", "t": 150.0}]),
        frame(0, 3, 200.0, keyEvents=[{"type": "down", "key": "ArrowDown", "t": 190.0},
                                      {"type": "down", "key": "ArrowLeft", "t": 195.0}]),
        frame(1, 0, 900.0, keyEvents=[{"type": "down", "key": "ArrowUp", "t": 880.0}]),
        frame(0, 4, 233.0, paintedAt=None,
              keyEvents=[{"type": "down", "key": "ArrowUp", "t": 220.0}]),
    ]  # fmt: skip
    run = latency_run(frames, episode=0, presses=4)
    # 143-120, 210-190, 210-195; the unpainted last frame is not counted; episode 1 is not ours
    assert run["measured"] == 3 and run["presses"] == 4
    assert run["latency_ms"]["p50"] == pytest.approx(20.0)
    assert run["latency_ms"]["max"] == pytest.approx(23.0)
    assert run["to_drawn_ms"]["p50"] == pytest.approx(12.0)  # 135-120, 202-190, 202-195
    assert run["ticks"] == 5


def test_pacing_counts_ticks_per_second_drops_and_jitter() -> None:
    interval = 1000 / 60
    frames = [frame(0, 0, 0.0)]
    for step in range(1, 61):
        frames.append(frame(0, step, step * interval))
    # one tick 36 ms late: two slots skipped, counted as dropped by the loop
    frames.append(frame(0, 61, 61 * interval + 36, intervalMs=interval + 36, dropped=2,
                        lateMs=36 - 2 * interval, workerMs=30.0))  # fmt: skip
    frames.append(frame(1, 0, 5000.0))
    run = pacing_run(frames, episode=0, fps=60)
    assert run["ticks"] == 62
    assert run["fps"] == pytest.approx(61 * 1000 / (61 * interval + 36), abs=1e-3)
    assert run["dropped_ticks"] == 2
    assert run["late_ticks"] == 0  # 36 - 33.3 ms after its new slot: under ¼ interval
    assert run["jitter_ms"]["p50"] == pytest.approx(0.0, abs=1e-9)
    assert run["jitter_ms"]["max"] == pytest.approx(36.0)
    assert run["slowest_tick"]["step"] == 61 and run["slowest_tick"]["workerMs"] == 30.0


def test_a_run_without_ticks_is_an_error_not_a_figure() -> None:
    with pytest.raises(RuntimeError, match="recorded 1 ticks"):
        pacing_run([frame(0, 0, 0.0)], episode=0, fps=60)


def test_slowest_tick_reports_where_its_time_went() -> None:
    worst = slowest_tick([frame(0, 1, 0.0), frame(0, 2, 20.0, intervalMs=25.123456)])
    assert worst["step"] == 2 and worst["intervalMs"] == 25.123


def test_drops_are_blamed_on_a_slow_tick_or_a_late_timer() -> None:
    interval = 1000 / 60
    frames = [
        frame(0, 0, 0.0),
        frame(0, 1, 60.0, roundTripMs=1.0, drawMs=0.5),
        frame(0, 2, 90.0, dropped=1, roundTripMs=40.0),  # the tick before was quick
        frame(0, 3, 150.0, dropped=3),  # the tick before took 40.4 ms
    ]
    assert drop_causes(frames, interval) == {"slow_tick": 3, "late_timer": 1}
