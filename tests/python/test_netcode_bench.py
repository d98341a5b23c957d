"""The ``game.netcode`` benchmark: the arithmetic of the per-tick figures on made-up ticks, and
one small run for real (single player, rollback and server runtime at 100 ms RTT, the rollback
cost in Pyodide), whose report must have every figure as a number. Speed targets are the
benchmark's business: they are reported with a verdict, never asserted here."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from interactive_gym.bench.netcode import netcode_rows, run_benchmark
from interactive_gym.bench.netcode_cost import CostPlan
from interactive_gym.bench.netcode_games import NetPlan, tick_figures
from interactive_gym.bench.report import format_table


def tick(episode: int, shown: int, t: float, **fields: Any) -> dict[str, Any]:
    base = {"episode": episode, "shown_frame": shown, "tick_t": t, "rollback_frames": 0,
            "stalled_ms": 0, "predicted": 0, "prediction_misses": 0, "worker_ms": 1.0,
            "confirmed_frame": shown}  # fmt: skip
    base.update(fields)
    return base


def test_tick_figures_count_rollbacks_frames_and_stalls_per_minute_after_the_warm_up() -> None:
    ticks = [tick(0, 0, 0.0, stalled_ms=500.0, predicted=8)]  # start-up: not counted
    ticks += [tick(0, f, f * 100.0) for f in range(1, 301)]  # 29.9 s + one interval
    ticks[10] = tick(0, 10, 1000.0, rollback_frames=3, prediction_misses=1, predicted=2)
    ticks[20] = tick(0, 20, 2000.0, rollback_frames=8, worker_ms=None)
    ticks[30] = tick(0, 30, 3000.0, stalled_ms=30.0)
    ticks += [tick(1, f, 50_000.0 + f * 100.0) for f in range(1, 301)]  # episode 1: 30 s
    ticks[400] = tick(1, 100, 60_000.0, rollback_frames=1)
    for f in range(200, 207):  # no input of the other member for 7 ticks (700 ms)
        ticks[f] = tick(0, f, f * 100.0, confirmed_frame=199)
    figures = tick_figures(ticks, fps=10, warmup_frames=1)
    assert figures["ticks"] == len(ticks) - 1 and figures["startup_ticks"] == 1
    assert figures["minutes"] == pytest.approx(1.0)
    assert figures["rollbacks"] == 3 and figures["rollback_frames"] == 12
    assert figures["rollbacks_per_min"] == pytest.approx(3.0)
    assert figures["rollback_frames_per_min"] == pytest.approx(12.0)
    assert figures["stall_ms_per_min"] == pytest.approx(30.0)
    assert figures["startup_stalled_ms"] == pytest.approx(500.0)
    assert figures["rollback_frames_max"] == 8 and figures["predicted_max"] == 2
    assert figures["prediction_misses"] == 1 and figures["stalled_ticks"] == 1
    assert figures["input_gap_max_ms"] == pytest.approx(800.0)  # confirmed 199 at 19.9 s … 20.7 s
    assert figures["input_gaps_over_5_frames"] == 1


def test_a_page_without_ticks_past_the_warm_up_is_an_error_not_a_figure() -> None:
    with pytest.raises(RuntimeError, match="none past frame 30"):
        tick_figures([tick(0, 5, 0.0)], fps=30, warmup_frames=30)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: The smallest run that has every figure: one injected round trip (netem on), few presses.
SMALL = NetPlan(rtts_ms=(100,), runs=1, presses=8, cost=CostPlan(repetitions=20, warmup=5))


@pytest.mark.browser
def test_a_small_run_reports_every_figure_side_by_side() -> None:
    part = run_benchmark(plan=SMALL)
    json.dumps(part, allow_nan=False)  # plain JSON
    assert part["input_delay_frames"] == 0 and part["max_prediction_frames"] == 8
    assert part["prediction_window_ms"] == pytest.approx(8000 / 30, abs=0.001)
    single = part["single_player"]
    assert single["runtime"] == "browser" and _number(single["p50_ms"]) and single["measured"] > 0
    assert [r["rtt_ms"] for r in part["rtts"]] == list(SMALL.rtts_ms)
    for r in part["rtts"]:
        for runtime in ("browser", "server"):
            cell = r[runtime]
            for key in ("p50_ms", "p99_ms", "to_drawn_p50_ms"):
                assert _number(cell[key]), (r["rtt_ms"], runtime, key, cell[key])
            assert cell["p50_ms"] <= cell["p99_ms"]
            # every press is attributed to exactly one frame that showed it
            assert 0 < cell["measured"] <= cell["presses"], (r["rtt_ms"], runtime, cell)
            assert cell["netem"] == (f"latency={r['rtt_ms'] / 2:g}ms" if r["rtt_ms"] else None)
        browser = r["browser"]
        assert set(browser["members"]) == {"keys", "bot"}
        for key in ("rollbacks_per_min", "rollback_frames_per_min", "stall_ms_per_min"):
            assert _number(browser[key]) and browser[key] >= 0, (key, browser[key])
            values = [m[key] for m in browser["members"].values()]
            assert browser[key] == pytest.approx(sum(values) / 2, abs=0.01)
        assert _number(browser["input_gap_max_ms"]) and browser["input_gap_max_ms"] > 0
        for member in browser["members"].values():
            assert member["ticks"] > 0 and member["predicted_max"] <= 8
            assert member["rollback_frames_max"] <= 8
        # the bot's inputs change all the time: somebody predicted wrong and rolled back
        assert sum(m["rollbacks"] for m in browser["members"].values()) > 0
        for key in ("browser_minus_single_p50_ms", "server_minus_browser_p50_ms"):
            assert _number(r[key]), (key, r[key])
        assert r["server_minus_browser_p50_ms"] == pytest.approx(
            r["server"]["p50_ms"] - browser["p50_ms"], abs=0.002
        )
        assert r["within_window"] is (r["rtt_ms"] <= 267) and isinstance(r["passed"], bool)
    assert isinstance(part["passed"], bool)
    cost = part["rollback_cost"]
    assert cost["rollback_samples"] == SMALL.cost.repetitions == cost["advance_samples"]
    assert cost["steps_per_rollback"] == 9 and cost["hashed_frames_per_rollback"] > 0
    for name in ("rollback", "advance"):
        for stat in ("worker_p50", "worker_p99", "round_trip_p50", "round_trip_p99"):
            assert _number(cost[f"{name}_{stat}_ms"]), (name, stat)
        assert cost[f"{name}_worker_p50_ms"] <= cost[f"{name}_round_trip_p50_ms"] + 0.011
    assert cost["rollback_env_p50_ms"] > cost["advance_env_p50_ms"]  # 9 steps against 1
    assert isinstance(cost["passed"], bool) and cost["target_worker_p99_ms"] == 2.0
    table = format_table(netcode_rows({"game": {"netcode": part}}))
    assert "rollback p50" in table and "8-frame rollback in the worker" in table
    verdicts = [line for line in table.splitlines() if line.rstrip().endswith(("pass", "MISS"))]
    assert len(verdicts) == len(part["rtts"]) + 1
