"""Python memory snapshots (part of the ``worker`` section): boot against restore.

Measured side by side in one run, in headless Chromium against the real server:

- **bare runtime** (``static/bench/snapshot_bench.html``, ``PyodideWorker#init({snapshots})``):
  per run a fresh browser context with snapshots on, whose first page boots and makes the
  snapshot (*cold*: empty storage and HTTP cache) and waits until ``worker.snapshotSaved``
  reports it stored, then a new page in the same context that restores it (*warm*); and a
  fresh context with snapshots off (the control: a boot, cold and with a warm HTTP cache).
  Figures: time to READY, the worker's load report, the snapshot's size, and the longest
  main-thread stall from page start until READY next to that of the control page without
  Pyodide (``control_bench.html``), opened after the warm page in the same context (a new page
  of a used context, as the warm page is). A warm page that did not restore is an error, not
  a figure.
- **the demo study's kitchen game** and **a reload mid-game**: :mod:`.snapshot_game`.

Targets (reported, never asserted): restore to READY ≤ 0.5 s p50; a reload mid-game back to
a loaded game ≤ 1 s p50; main-thread stall during a restore ≤ the control page's + 2 ms.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from interactive_gym.bench.browser import run_page
from interactive_gym.bench.machine import CpuPressure
from interactive_gym.bench.report import Row, status
from interactive_gym.bench.stats import median, rounded

PAGE = "/static/bench/snapshot_bench.html"
CONTROL_PAGE = "/static/bench/control_bench.html"
WARM_LIMIT_MS = 500.0
RELOAD_LIMIT_MS = 1000.0
STALL_SLACK_MS = 2.0
#: The pages of a bare-runtime run, by phase name.
PHASES = {
    "cold": "snapshots on, empty storage: boot and make the snapshot",
    "warm": "snapshots on, a new page after the snapshot was stored: restore",
    "off_cold": "snapshots off (control), empty HTTP cache: boot",
    "off_warm": "snapshots off (control), warm HTTP cache: boot",
}


class SnapshotBenchError(RuntimeError):
    """A load did not go the way the measurement needs (a warm page that did not restore)."""


@dataclass(frozen=True)
class SnapshotPlan:
    """Bare-runtime runs, kitchen game runs (cold and warm page each) and mid-game reloads."""

    runs: int
    game_runs: int
    reloads: int
    #: Seconds played between arriving in "playing" and each reload.
    play_s: float = 1.0
    control_ms: int = 1500
    page_timeout_s: float = 300.0


SNAPSHOTS_QUICK = SnapshotPlan(runs=2, game_runs=1, reloads=3)
SNAPSHOTS_FULL = SnapshotPlan(runs=5, game_runs=3, reloads=7)


def measure_snapshots(
    browser: Any, base: str, config: dict[str, Any], plan: SnapshotPlan
) -> dict[str, Any]:
    """Every snapshot figure, judged against its target: the report's ``worker.snapshots``."""
    from interactive_gym.bench.snapshot_game import measure_game

    runs = []
    for index in range(plan.runs):
        runs.append(runtime_run(browser, base, config, plan, on_first=index % 2 == 0))
        _log(f"snapshot bench run {index + 1}/{plan.runs}: {_brief(runs[-1])}")
    out: dict[str, Any] = {"runtime": summarize_runtime(runs)}
    out.update(measure_game(browser, base, plan))
    out.update(judge(out))
    return out


def runtime_run(
    browser: Any, base: str, config: dict[str, Any], plan: SnapshotPlan, on_first: bool
) -> dict[str, Any]:
    """One run: a context with snapshots on (cold page, warm page, then the control page
    without Pyodide, in the same conditions as the warm page: a new page of a used context),
    and one with snapshots off (cold, then warm); which context goes first alternates."""
    url = base + PAGE
    page_config = {**config, "envCode": "", "initOnly": True}
    warm_config = {**config, "initOnly": True}  # the env plays a few steps after a restore
    control_config = {**page_config, "controlMs": plan.control_ms}
    results: dict[str, dict[str, Any]] = {}
    control: dict[str, Any] = {}
    with CpuPressure() as pressure:
        for snapshots in (True, False) if on_first else (False, True):
            prefix = "" if snapshots else "off_"
            context = browser.new_context()
            try:
                cold_config = {**page_config, "snapshots": snapshots, "awaitSnapshot": snapshots}
                results[prefix + "cold"] = _page(context, url, cold_config, plan)
                results[prefix + "warm"] = _page(
                    context, url, {**(warm_config if snapshots else page_config),
                                   "snapshots": snapshots}, plan
                )  # fmt: skip
                if snapshots:
                    control = _page(context, base + CONTROL_PAGE, control_config, plan)
            finally:
                context.close()
    check_loads(results)
    run: dict[str, Any] = {phase: phase_figures(results[phase]) for phase in PHASES}
    saved = results["cold"]["saved"]
    run["snapshot_bytes"] = saved["bytes"]
    run["stored_after_ready_ms"] = round(saved["afterReadyMs"], 1)
    run["warm_steps_after_restore"] = results["warm"].get("steps", 0)
    run["control_stall_ms"] = round(control["init"]["stallMs"], 2)
    run["machine_cpu_pressure_percent"] = pressure.percent
    return run


def _page(context: Any, url: str, config: dict[str, Any], plan: SnapshotPlan) -> dict[str, Any]:
    page = context.new_page()
    try:
        return run_page(page, url, config, plan.page_timeout_s)
    finally:
        page.close()


def check_loads(results: dict[str, dict[str, Any]]) -> None:
    """Each page started Python the way its phase needs, or the run is an error."""
    expected = {
        "cold": ("boot", "made"),
        "warm": ("restore", "restored"),
        "off_cold": ("boot", "off"),
        "off_warm": ("boot", "off"),
    }
    for phase, (kind, snapshot) in expected.items():
        load = results[phase]["init"]["load"]
        if (load["kind"], load["snapshot"]) != (kind, snapshot):
            raise SnapshotBenchError(
                f"the {phase} page ({PHASES[phase]}) started Python as {load}, "
                f"expected kind {kind!r} with snapshot {snapshot!r}"
            )
    saved = results["cold"]["saved"]
    if not saved.get("stored"):
        raise SnapshotBenchError(f"the cold page's snapshot was not stored: {saved}")
    if results["warm"].get("steps") != 10:
        raise SnapshotBenchError("the restored runtime did not play its steps")


def phase_figures(result: dict[str, Any]) -> dict[str, Any]:
    """One page's figures: times to READY, the load report, stalls and stages."""
    from interactive_gym.bench.worker import stage_durations, stall_detail

    init = result["init"]
    return {
        "init_ms": round(init["initMs"], 1),
        "page_to_ready_ms": round(init["pageToReadyMs"], 1),
        "load": {**init["load"], "ms": round(init["load"]["ms"], 1)},
        "stall_ms": round(init["stallMs"], 2),
        "long_task_max_ms": round(init["longTaskMaxMs"], 2),
        "stall_detail": stall_detail(init),
        "stages_ms": stage_durations(init),
    }


def summarize_runtime(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of each phase's figures, the load kinds seen, and every run."""

    def med(phase: str, key: str) -> float | None:
        return rounded(median(r[phase][key] for r in runs), 1)

    out: dict[str, Any] = {"runs_count": len(runs), "phases": PHASES}
    for phase in PHASES:
        out[f"{phase}_ms"] = med(phase, "init_ms")
        out[f"page_to_ready_{phase}_ms"] = med(phase, "page_to_ready_ms")
        out[f"worker_load_{phase}_ms"] = rounded(median(r[phase]["load"]["ms"] for r in runs), 1)
        out[f"stall_{phase}_ms"] = rounded(median(r[phase]["stall_ms"] for r in runs), 2)
        names = list(dict.fromkeys(n for r in runs for n in r[phase]["stages_ms"]))
        out[f"stages_{phase}_ms"] = {
            n: rounded(median(r[phase]["stages_ms"].get(n, float("nan")) for r in runs), 1)
            for n in names
        }
    out["load_kinds"] = {phase: load_kinds(r[phase]["load"] for r in runs) for phase in PHASES}
    out["snapshot_bytes"] = int(median(r["snapshot_bytes"] for r in runs))
    out["stored_after_ready_ms"] = rounded(median(r["stored_after_ready_ms"] for r in runs), 1)
    out["control_stall_ms"] = rounded(median(r["control_stall_ms"] for r in runs), 2)
    out["machine_cpu_pressure_percent"] = rounded(
        median(r["machine_cpu_pressure_percent"] for r in runs), 1
    )
    out["runs"] = runs
    return out


def load_kinds(loads: Any) -> dict[str, int]:
    """How many loads were of each ``kind/snapshot`` (e.g. ``{"restore/restored": 3}``)."""
    return dict(Counter(f"{load['kind']}/{load['snapshot']}" for load in loads))


def judge(snapshots: dict[str, Any]) -> dict[str, Any]:
    runtime, reload = snapshots["runtime"], snapshots["reload"]
    control = runtime["control_stall_ms"]
    stall_limit = None if control is None else round(control + STALL_SLACK_MS, 2)
    targets = {
        "runtime_warm_ms": WARM_LIMIT_MS,
        "reload_to_loaded_p50_ms": RELOAD_LIMIT_MS,
        "stall_warm_ms": stall_limit,
    }
    values = {
        "runtime_warm_ms": runtime["warm_ms"],
        "reload_to_loaded_p50_ms": reload["to_loaded_p50_ms"],
        "stall_warm_ms": runtime["stall_warm_ms"],
    }
    passed = {
        key: values[key] is not None and limit is not None and values[key] <= limit
        for key, limit in targets.items()
    }
    return {"targets": targets, "passed": passed}


def snapshot_rows(s: dict[str, Any]) -> list[Row]:
    """The table rows of the snapshot figures, with their targets."""
    rt, game, reload = s["runtime"], s["game"], s["reload"]
    t, ok = s["targets"], s["passed"]
    kinds = rt["load_kinds"]
    off = Counter(kinds["off_cold"]) + Counter(kinds["off_warm"])
    stages = rt["stages_warm_ms"]
    control = rt["control_stall_ms"]
    return [
        Row("snapshots", f"bare runtime, init to READY ({rt['runs_count']} runs, p50):", None),
        Row("snapshots", "  warm: restore", rt["warm_ms"], "ms",
            f"≤ {t['runtime_warm_ms']:g} ms", status(ok["runtime_warm_ms"])),
        Row("snapshots", "  cold: boot + make the snapshot", rt["cold_ms"], "ms"),
        Row("snapshots", "  control, snapshots off: boot, cold / warm cache",
            f"{_ms(rt['off_cold_ms'])} / {_ms(rt['off_warm_ms'])}", "ms"),
        Row("snapshots", "  restore stages: " + " / ".join(stages),
            " / ".join(_ms(v) for v in stages.values()), "ms"),
        Row("snapshots", "  snapshot size; stored after READY",
            f"{_mb(rt['snapshot_bytes'])} MB; {_ms(rt['stored_after_ready_ms'])} ms"),
        Row("snapshots", "  loads (kind/snapshot): warm / cold / off",
            f"{_kinds(kinds['warm'])} / {_kinds(kinds['cold'])} / {_kinds(off)}"),
        Row("snapshots", "max main-thread stall until READY, restore", rt["stall_warm_ms"], "ms",
            f"≤ {_ms(t['stall_warm_ms'], 2)} ms (control + {STALL_SLACK_MS:g})",
            status(ok["stall_warm_ms"])),
        Row("snapshots", "  control page, no Pyodide: stall", control, "ms"),
        Row("snapshots", "  stall, boot cold / snapshots off warm",
            f"{_ms(rt['stall_cold_ms'], 2)} / {_ms(rt['stall_off_warm_ms'], 2)}", "ms"),
        Row("snapshots", f"{game['scene_id']} game load ({game['runs_count']} runs, p50):", None),
        Row("snapshots", "  warm: restore", game["warm_load_ms"], "ms"),
        Row("snapshots", "  cold: boot + make the snapshot", game["cold_load_ms"], "ms"),
        Row("snapshots", f"reload mid-game ({reload['reloads']} reloads, p50; "
            f"loads {_kinds(reload['load_kinds'])}):", None),
        Row("snapshots", "  → game loaded again (state leaves loading)",
            reload["to_loaded_p50_ms"], "ms", f"≤ {t['reload_to_loaded_p50_ms']:g} ms",
            status(ok["reload_to_loaded_p50_ms"])),
        Row("snapshots", "  → of which until the game load starts (page, scene start)",
            reload["to_load_start_p50_ms"], "ms"),
        Row("snapshots", "  → of which the game load (GameLoader)", reload["game_load_p50_ms"],
            "ms"),
        Row("snapshots", f"  → playing again (incl. the {reload['countdown_s']:g} s countdown)",
            reload["to_playing_p50_ms"], "ms"),
    ]  # fmt: skip


def _kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{kind} ×{n}" for kind, n in kinds.items())


def _ms(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e6:.1f}"


def _brief(run: dict[str, Any]) -> str:
    return (
        f"READY warm {run['warm']['init_ms']:.0f} ms / cold {run['cold']['init_ms']:.0f} ms / "
        f"off {run['off_cold']['init_ms']:.0f}, {run['off_warm']['init_ms']:.0f} ms, stall warm "
        f"{run['warm']['stall_ms']:.1f} ms (control {run['control_stall_ms']:.1f}), snapshot "
        f"{_mb(run['snapshot_bytes'])} MB, CPU pressure {run['machine_cpu_pressure_percent']}%"
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
