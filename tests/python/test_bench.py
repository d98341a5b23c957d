"""The benchmark command: report structure and internal consistency (never speed thresholds)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from interactive_gym.bench import __main__ as bench_cli
from interactive_gym.bench.report import format_table
from interactive_gym.bench.sections import Section, nested

TINY_STEPS = 50
TINY_ROLLBACKS = 10


@pytest.fixture(scope="module")
def worker_report() -> dict[str, Any]:
    from interactive_gym.bench.snapshots import SnapshotPlan
    from interactive_gym.bench.worker import Plan, run_worker_benchmark

    snapshots = SnapshotPlan(runs=1, game_runs=1, reloads=1, play_s=0.2, control_ms=300)
    plan = Plan(
        runs=1,
        steps=TINY_STEPS,
        warmup=5,
        rollbacks=TINY_ROLLBACKS,
        control_ms=300,
        snapshots=snapshots,
    )
    return run_worker_benchmark(plan=plan)


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.browser
def test_worker_section_reports_every_figure_for_both_runtimes(worker_report) -> None:
    worker, baseline = worker_report["worker"], worker_report["baseline"]
    for side in (worker, baseline):
        for key in (
            "max_main_thread_stall_ms",
            "init_ms",
            "init_cold_ms",
            "init_warm_ms",
            "step_roundtrip_p50_ms",
            "step_roundtrip_p99_ms",
            "step_env_p50_ms",
        ):
            assert _positive(side[key]), (key, side[key])
        assert side["cross_origin_isolated"] is True
        assert side["python_version"].startswith("3.")
        [run] = side["runs"]
        assert run["step_roundtrip"]["count"] == TINY_STEPS
    assert _positive(worker["rollback_roundtrip_ms"])
    assert _positive(worker["rollback_env_ms"])
    assert worker["rollback_steps"] == 8
    assert worker["runs"][0]["rollback_roundtrip"]["count"] == TINY_ROLLBACKS
    assert worker["render_objects_per_frame"] >= 10  # puck, trail, paddles, knobs, scores
    assert _positive(worker["control_page_stall_ms"])
    run = worker["runs"][0]
    for phase in ("cold", "warm"):
        stages = run[f"init_stages_{phase}_ms"]
        assert list(stages)[:3] == ["start", "runtime", "python"], stages
        assert all(v >= 0 for v in stages.values()) and _positive(stages["python"])
        # the stages split the wait for READY exactly
        assert sum(stages.values()) == pytest.approx(run[f"init_{phase}_ms"], abs=1)
    assert baseline["init_stages_cold_ms"] == {}  # loadPyodide on the page reports no stages
    # the report is plain JSON (no NaN, no objects)
    json.dumps(worker_report, allow_nan=False)


@pytest.mark.browser
def test_worker_figures_are_consistent(worker_report) -> None:
    worker, baseline = worker_report["worker"], worker_report["baseline"]
    slack = 0.011  # timers are coarsened to 5 µs and figures rounded
    for side in (worker, baseline):
        assert side["step_roundtrip_p50_ms"] <= side["step_roundtrip_p99_ms"]
        assert side["step_env_p50_ms"] <= side["step_env_p99_ms"]
        assert side["init_cold_ms"] == side["init_ms"]
        # the headline stall is the median over every page load, cold and warm
        run = side["runs"][0]
        assert side["max_main_thread_stall_ms"] == pytest.approx(
            (run["stall_cold_ms"] + run["stall_warm_ms"]) / 2, abs=0.1
        )
        for phase, detail in run["stall_detail"].items():
            assert detail["max_gap_ms"] <= run[f"stall_{phase}_ms"] + 0.01  # gaps or Long Tasks
            assert detail["monitor_started_at_ms"] <= detail["max_gap_at_ms"]
    # per sample, the env's time lies inside the worker's, which lies inside the round trip,
    # so every percentile keeps that order
    for stat in ("p50", "p99"):
        run = worker["runs"][0]
        assert run["step_env"][stat] <= run["step_in_worker"][stat] + slack
        assert run["step_in_worker"][stat] <= run["step_roundtrip"][stat] + slack
        assert run["rollback_env"][stat] <= run["rollback_in_worker"][stat] + slack
        assert run["rollback_in_worker"][stat] <= run["rollback_roundtrip"][stat] + slack
    parts = worker["step_breakdown_ms"]["p50"]
    assert set(parts) == {"env", "conversion_in_worker", "messaging_and_main_thread", "roundtrip"}
    assert all(v >= -slack for v in parts.values()), parts
    # targets are reported with a verdict each, never asserted
    assert set(worker["passed"]) == set(worker["targets"])
    assert all(isinstance(v, bool) for v in worker["passed"].values())
    assert worker["targets"]["rollback_roundtrip_ms"] == pytest.approx(
        1 + worker["rollback_env_ms"], abs=0.001
    )
    ratio = baseline["max_main_thread_stall_ms"] / worker["max_main_thread_stall_ms"]
    assert worker["stall_ratio_to_baseline"] == pytest.approx(ratio, rel=0.01)
    profile = worker["step_profile"]["p50_ms"]
    for stage in ("to_py", "operation", "env", "to_js", "rollback_operation", "echoRoundTrip"):
        assert _positive(profile[stage]), (stage, profile[stage])
    assert profile["env"] <= profile["operation"] + slack


@pytest.mark.browser
def test_worker_section_reports_snapshot_boot_restore_and_reload(
    worker_report: dict[str, Any],
) -> None:
    from interactive_gym.bench.snapshots import PHASES

    snapshots = worker_report["worker"]["snapshots"]
    runtime, game, reload = snapshots["runtime"], snapshots["game"], snapshots["reload"]
    # every page started Python the way its phase says (a warm page that booted is an error)
    assert runtime["load_kinds"] == {
        "cold": {"boot/made": 1},
        "warm": {"restore/restored": 1},
        "off_cold": {"boot/off": 1},
        "off_warm": {"boot/off": 1},
    }
    for phase in PHASES:
        assert _positive(runtime[f"{phase}_ms"]), phase
        assert runtime[f"{phase}_ms"] <= runtime[f"page_to_ready_{phase}_ms"]
        assert _positive(runtime[f"worker_load_{phase}_ms"]), phase
        assert runtime[f"stall_{phase}_ms"] is not None
    assert "restoring" in runtime["stages_warm_ms"] and "python" not in runtime["stages_warm_ms"]
    assert "python" in runtime["stages_cold_ms"] and "restoring" not in runtime["stages_cold_ms"]
    assert runtime["snapshot_bytes"] > 1_000_000
    [run] = runtime["runs"]
    assert run["warm_steps_after_restore"] == 10  # the restored runtime plays, not only starts
    assert sum(run["warm"]["stages_ms"].values()) == pytest.approx(run["warm"]["init_ms"], abs=1)
    assert _positive(runtime["control_stall_ms"])

    assert (game["study"], game["scene_id"], game["runs_count"]) == ("demo", "kitchen", 1)
    assert game["load_kinds"] == {"cold": {"boot": 1}, "warm": {"restore": 1}}
    assert _positive(game["cold_load_ms"]) and _positive(game["warm_load_ms"])
    assert game["warm_load_ms"] <= game["page_to_loaded_warm_ms"]
    assert game["snapshot_bytes"] > 1_000_000

    assert (reload["reloads"], reload["load_kinds"]) == (1, {"restore": 1})
    [sample] = reload["samples"]
    assert sample["played_episode"] is not None
    # since the reload: the loader starts, the game is loaded, then the countdown, playing
    assert 0 < sample["to_load_start_ms"] < sample["to_loaded_ms"] < sample["to_playing_ms"]
    assert sample["game_load_ms"] < sample["to_loaded_ms"]
    assert sample["countdown_ms"] >= 0.9 * 1000 * reload["countdown_s"]
    assert reload["to_loaded_p50_ms"] == sample["to_loaded_ms"]

    # targets are reported with a verdict each, never asserted
    assert set(snapshots["passed"]) == set(snapshots["targets"])
    assert all(isinstance(v, bool) for v in snapshots["passed"].values())
    assert snapshots["targets"]["stall_warm_ms"] == pytest.approx(
        runtime["control_stall_ms"] + 2, abs=0.01
    )


@pytest.mark.browser
def test_worker_rows_show_targets_and_verdicts(worker_report) -> None:
    from interactive_gym.bench.worker_table import worker_rows

    table = format_table(worker_rows(worker_report))
    for text in ("max main-thread stall until READY", "step+render round trip p99", "rollback"):
        assert text in table
    for text in ("warm: restore", "reload mid-game", "game loaded again", "playing again"):
        assert text in table
    verdicts = [line for line in table.splitlines() if line.rstrip().endswith(("pass", "MISS"))]
    assert len(verdicts) >= 7


def test_nested_places_a_result_under_its_dotted_path() -> None:
    run = nested("server.ingest", lambda quick: {"quick": quick})
    assert run(True) == {"server": {"ingest": {"quick": True}}}


def test_cli_runs_sections_merges_results_and_reports_a_failing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(quick: bool) -> dict:
        raise RuntimeError("no browser here")

    sections = [
        Section("first", lambda quick: {"server": {"a": {"n": 1}}}, lambda r: []),
        Section("broken", broken, lambda r: []),
        Section("third", lambda quick: {"server": {"b": {"quick": quick}}}, lambda r: []),
    ]
    monkeypatch.setattr(bench_cli, "SECTIONS", sections)
    out = tmp_path / "report.json"
    assert bench_cli.main(["--quick", "--json", str(out)]) == 1
    report = json.loads(out.read_text())
    assert report["server"] == {"a": {"n": 1}, "b": {"quick": True}}
    assert report["meta"]["errors"] == {"broken": "RuntimeError: no browser here"}
    assert report["meta"]["sections"] == ["first", "broken", "third"]
    assert report["meta"]["quick"] is True
    assert "ERROR" in capsys.readouterr().out

    monkeypatch.setattr(bench_cli, "SECTIONS", sections)
    assert bench_cli.main(["--only", "third", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["server"] == {"b": {"quick": False}}
