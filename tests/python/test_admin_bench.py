"""The admin benchmark's harness: a tiny pair of runs logs in, is pushed to, loses nothing.

Only behaviour and the report's shape are checked here; the CPU and freshness figures are the
benchmark's business, not the tests'.
"""

from __future__ import annotations

import json

import pytest

from interactive_gym.bench.admin import (
    Plan,
    admin_rows,
    freshness,
    max_gap_ms,
    run_admin_benchmark,
    sampled,
)
from interactive_gym.bench.report import format_table


def test_freshness_is_the_wait_for_the_first_push_showing_each_ack() -> None:
    acks = [(10.0, 15), (10.5, 30), (11.0, 45), (11.5, 60)]
    pushes = [(10.2, 15), (11.3, 45), (11.2, 44), (13.0, 50)]  # out of order on purpose
    found = freshness(acks, pushes, until=14.0)
    # 60 records were never shown: counted until the admin left, a lower bound
    assert found.latencies_ms == pytest.approx([200, 700, 300, 2500])
    assert found.unseen == 1
    # a push that overtook the acknowledgement it includes counts as 0
    assert freshness([(5.0, 10)], [(4.9, 12)], until=6.0).latencies_ms == [0.0]


def test_overview_samples_keep_when_each_total_was_reached() -> None:
    acks = [(0.0, 15), (0.1, 30), (0.2, 45), (1.4, 60)]
    assert sampled(acks, every_s=0.5) == [(0.0, 15), (0.2, 45), (1.4, 60)]
    assert sampled([]) == []


def test_push_gaps_cover_the_whole_window() -> None:
    assert max_gap_ms([0.5, 1.5, 2.0, 4.5], start=1.0, end=4.0) == pytest.approx(2500)
    assert max_gap_ms([], start=1.0, end=2.0) == pytest.approx(1000)
    assert max_gap_ms([0.0, 5.0], start=1.0, end=2.0) == pytest.approx(5000)


def test_tiny_pair_of_runs_is_pushed_to_and_loses_nothing() -> None:
    report = run_admin_benchmark(plan=Plan(participants=10, duration_s=3.0, pairs=1))
    assert report["benchmark"] == "server.admin"
    assert report["participants"] == 10 and report["duration_s"] == 3.0
    off, on = report["runs"]
    assert (off["admin"], on["admin"]) == (False, True)
    for run in (off, on):
        assert run["produced"] > 500  # 10 participants × 30 records/s × 3 s
        assert run["stored"] == run["produced"]
        assert run["lost"] == 0 and run["duplicated"] == 0 and run["connect_failures"] == 0
        assert run["server_cpu_percent"] > 0
    assert on["overview_pushes"] > 0 and on["games_pushes"] > 0
    assert on["participant_pushes"] > 0 and on["games_rows_max"] > 0
    assert not on["session_ended"]
    for name in ("participant", "overview"):
        fresh = report["freshness_ms"][name]
        assert fresh["n"] > 0 and fresh["unseen"] < fresh["n"]  # the pushes showed the acks
        assert 0 <= fresh["p50"] <= fresh["p95"] <= fresh["max"]
    assert isinstance(report["cpu_overhead_ratio"], float)
    assert report["max_push_gap_ms"] > 0
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert report["monitor"]["records"] > 0
    assert set(report["push_cost"]["ms_per_round"]) == {"overview", "games", "participant"}
    assert report["push_cost"]["bytes"]["games"] > 0
    assert isinstance(report["passed"], bool) and isinstance(report["within_capacity"], bool)
    json.dumps(report, allow_nan=False)
    table = format_table(admin_rows({"server": {"admin": report}}))
    assert "server CPU overhead" in table and "freshness" in table
