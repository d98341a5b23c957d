"""The ``worker`` benchmark: Pyodide in a Web Worker against Pyodide on the main thread.

Both runtimes are measured side by side in one run, in headless Chromium against the real
server, with the reference environment (``examples/envs/physics_duel.py``, its source injected
into the page) and the same seeded random actions for both players:

- main-thread stall: the longest gap between 4 ms timer ticks, or the longest Long Task, from
  page start until Pyodide is ready (cold: a fresh browser context; warm: a new page in the
  same context, whose HTTP cache holds the immutable vendor files); the headline figure is the
  median over every page load, cold and warm;
- time to READY, cold and warm;
- ``step(actions, {render: true})`` round trips, with the time spent in the worker and in the
  env itself (``timing.workerMs`` / ``timing.envMs``), so the overhead is visible;
- rollback: ``batch([setState, step × 8, getState])`` round trips;
- a control page with the same markup and no Pyodide (the browser's own start-up stall), and
  the stage-by-stage profile of a step and a rollback (:mod:`.step_profile`);
- Python memory snapshots: boot against restore, bare and in the demo study's game, and a
  reload mid-game (:mod:`.snapshots`, under ``worker.snapshots``).

Each run yields its own percentiles; the report gives the median over runs (the machine is
shared and noisy, so each run also records the machine's CPU pressure) and keeps every run.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from interactive_gym.bench.browser import CHROMIUM, CHROMIUM_ARGS, bench_server, run_page
from interactive_gym.bench.machine import CpuPressure
from interactive_gym.bench.snapshots import (
    SNAPSHOTS_FULL,
    SNAPSHOTS_QUICK,
    SnapshotPlan,
    measure_snapshots,
)
from interactive_gym.bench.stats import median, rounded, summary
from interactive_gym.bench.step_profile import measure_profile, summarize_profile

PAGES = {
    "worker": "/static/bench/worker_bench.html",
    "baseline": "/static/bench/baseline_bench.html",
    "control": "/static/bench/control_bench.html",
}

STALL_LIMIT_MS = 50.0
STALL_GOAL_MS = 16.0
STALL_RATIO = 10.0
STEP_P50_LIMIT_MS = 0.5
STEP_P99_LIMIT_MS = 2.0
ROLLBACK_OVERHEAD_MS = 1.0


@dataclass(frozen=True)
class Plan:
    """How much to measure: runs (each: both runtimes, cold and warm) and samples per run."""

    runs: int
    steps: int
    warmup: int
    rollbacks: int
    rollback_steps: int = 8
    seed: int = 20240601
    #: Runs that also take the step profile apart (runtime_profile.js) and time the control page.
    profile_runs: int = 1
    control_ms: int = 2500
    page_timeout_s: float = 300.0
    #: The memory-snapshot figures (:mod:`.snapshots`); None: not measured.
    snapshots: SnapshotPlan | None = None


QUICK = Plan(runs=3, steps=2000, warmup=50, rollbacks=200, profile_runs=1, control_ms=1500,
             snapshots=SNAPSHOTS_QUICK)  # fmt: skip
FULL = Plan(runs=5, steps=5000, warmup=100, rollbacks=500, profile_runs=3, snapshots=SNAPSHOTS_FULL)


def run_worker_benchmark(quick: bool = False, *, plan: Plan | None = None) -> dict[str, Any]:
    """Measure both runtimes; returns ``{"worker": {...}, "baseline": {...}}``."""
    from playwright.sync_api import sync_playwright

    from interactive_gym.examples.envs import physics_duel

    plan = plan or (QUICK if quick else FULL)
    config = {
        "envCode": Path(physics_duel.__file__).read_text(),
        "steps": plan.steps,
        "warmup": plan.warmup,
        "rollbacks": plan.rollbacks,
        "rollbackSteps": plan.rollback_steps,
        "seed": plan.seed,
        "numActions": physics_duel.PhysicsDuelEnv.num_actions,
        "initOnly": False,
        "controlMs": plan.control_ms,
    }
    runs: dict[str, list[dict[str, Any]]] = {"worker": [], "baseline": []}
    profiles: list[dict[str, Any]] = []
    controls: list[float] = []
    with bench_server() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for index in range(plan.runs):
                order = ("worker", "baseline") if index % 2 == 0 else ("baseline", "worker")
                for side in order:
                    run = measure_side(browser, base + PAGES[side], config, plan)
                    runs[side].append(run)
                    _log(f"worker bench run {index + 1}/{plan.runs} {side}: {_brief(run)}")
                if index < plan.profile_runs:
                    profiles.append(measure_profile(browser, base, config, plan.page_timeout_s))
                    controls.append(measure_control(browser, base + PAGES["control"], config, plan))
                    _log(f"worker bench run {index + 1}/{plan.runs}: control page stall "
                         f"{controls[-1]:.1f} ms, step profile taken")  # fmt: skip
            snapshots = None
            if plan.snapshots:
                snapshots = measure_snapshots(browser, base, config, plan.snapshots)
            chromium_version = browser.version
        finally:
            browser.close()
    worker = summarize(runs["worker"], plan)
    baseline = summarize(runs["baseline"], plan)
    worker["step_profile"] = summarize_profile(profiles)
    worker["control_page_stall_ms"] = rounded(median(controls), 1)
    worker.update(judge(worker, baseline))
    if snapshots:
        worker["snapshots"] = snapshots
    worker["chromium_version"] = baseline["chromium_version"] = chromium_version
    worker["plan"] = baseline["plan"] = asdict(plan)
    return {"worker": worker, "baseline": baseline}


def measure_side(browser: Any, url: str, config: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """One runtime: a cold page (init, steps, rollbacks), then a warm page (init only)."""
    context = browser.new_context()
    try:
        with CpuPressure() as pressure:
            page = context.new_page()
            cold = run_page(page, url, config, plan.page_timeout_s)
            page.close()
            page = context.new_page()
            warm = run_page(page, url, {**config, "initOnly": True}, plan.page_timeout_s)
            page.close()
    finally:
        context.close()
    run = per_run(cold, warm)
    run["machine_cpu_pressure_percent"] = pressure.percent
    return run


def measure_control(browser: Any, url: str, config: dict[str, Any], plan: Plan) -> float:
    """The stall of a page without Pyodide (fresh context): the browser's own start-up."""
    context = browser.new_context()
    try:
        result = run_page(context.new_page(), url, config, plan.page_timeout_s)
    finally:
        context.close()
    return float(result["init"]["stallMs"])


def per_run(cold: dict[str, Any], warm: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run of one runtime, from its cold and warm page results."""
    run: dict[str, Any] = {
        "stall_cold_ms": cold["init"]["stallMs"],
        "stall_warm_ms": warm["init"]["stallMs"],
        "stall_ms": max(cold["init"]["stallMs"], warm["init"]["stallMs"]),
        "stall_detail": {"cold": stall_detail(cold["init"]), "warm": stall_detail(warm["init"])},
        "long_task_max_ms": max(cold["init"]["longTaskMaxMs"], warm["init"]["longTaskMaxMs"]),
        "init_cold_ms": cold["init"]["initMs"],
        "init_warm_ms": warm["init"]["initMs"],
        "page_to_ready_cold_ms": cold["init"]["pageToReadyMs"],
        "page_to_ready_warm_ms": warm["init"]["pageToReadyMs"],
        "init_env_ms": cold["initEnvMs"],
        "init_stages_cold_ms": stage_durations(cold["init"]),
        "init_stages_warm_ms": stage_durations(warm["init"]),
        "python_version": cold["init"]["pythonVersion"],
        "cross_origin_isolated": cold["init"]["crossOriginIsolated"],
    }
    steps = cold["steps"]
    run["step_roundtrip"] = summary(steps["roundTripMs"])
    run["step_env"] = summary(steps["envMs"])
    run["step_resets"] = steps["resets"]
    if "workerMs" in steps:
        run["step_in_worker"] = summary(steps["workerMs"])
        run["step_timing_roundtrip"] = summary(steps["timingRoundTripMs"])
        run["step_parts"] = parts(steps)
        run["render_objects_per_frame"] = steps["renderObjectsPerFrame"]
        run["render_json_bytes_per_frame"] = steps["renderJsonBytesPerFrame"]
    if "rollbacks" in cold:
        rollbacks = cold["rollbacks"]
        run["rollback_roundtrip"] = summary(rollbacks["roundTripMs"])
        run["rollback_in_worker"] = summary(rollbacks["workerMs"])
        run["rollback_env"] = summary(rollbacks["envMs"])
        run["rollback_parts"] = parts(rollbacks)
    return run


def stall_detail(init: dict[str, Any]) -> dict[str, Any]:
    """When the longest gap began and the Long Tasks (ms since navigation), for diagnosis."""
    return {
        "max_gap_ms": round(init["maxGapMs"], 2),
        "max_gap_at_ms": round(init["maxGapAt"], 1),
        "monitor_started_at_ms": round(init["startedAt"], 1),
        "runtime_created_at_ms": round(init["createdAt"], 1),
        "long_tasks": init.get("longTasks", []),
    }


def stage_durations(init: dict[str, Any]) -> dict[str, float]:
    """How long each init stage the page saw took (``start``: before the first report).

    Stage names are those of the worker's progress reports (runtime, python, installer, …);
    the baseline page reports none.
    """
    stages = init.get("stages") or []
    if not stages:
        return {}
    marks = [("start", init["createdAt"])] + [(s["stage"], s["at"]) for s in stages]
    ends = [at for _, at in marks[1:]] + [init["pageToReadyMs"]]
    return {name: round(end - at, 1) for (name, at), end in zip(marks, ends, strict=True)}


#: How a worker request's round trip splits, sample by sample.
PARTS = {
    "env": "the env's own methods (timing.envMs)",
    "conversion_in_worker": "the rest of the time in the worker: to_py, to_plain, to_js, "
    "dispatch (workerMs - envMs)",
    "messaging_and_main_thread": "postMessage both ways, structured clone, thread wake-ups, "
    "promise resolution (round trip - workerMs)",
}


def parts(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Each part of every sample's round trip (see :data:`PARTS`), summarized."""
    rows = list(zip(samples["roundTripMs"], samples["workerMs"], samples["envMs"], strict=True))
    return {
        "env": summary([env for _, _, env in rows]),
        "conversion_in_worker": summary([w - env for _, w, env in rows]),
        "messaging_and_main_thread": summary([rt - w for rt, w, _ in rows]),
    }


def summarize(runs: list[dict[str, Any]], plan: Plan) -> dict[str, Any]:
    """Medians over runs of each run's figures, plus every run."""

    def med(key: str, stat: str | None = None, digits: int = 3) -> float | None:
        values = [r[key][stat] if stat else r[key] for r in runs if key in r]
        return rounded(median(values), digits)

    out: dict[str, Any] = {
        "runs_count": len(runs),
        "max_main_thread_stall_ms": rounded(
            median([r[k] for r in runs for k in ("stall_cold_ms", "stall_warm_ms")]), 1
        ),
        "max_main_thread_stall_cold_ms": med("stall_cold_ms", digits=1),
        "max_main_thread_stall_warm_ms": med("stall_warm_ms", digits=1),
        "long_task_max_ms": med("long_task_max_ms", digits=1),
        "init_ms": med("init_cold_ms", digits=0),
        "init_cold_ms": med("init_cold_ms", digits=0),
        "init_warm_ms": med("init_warm_ms", digits=0),
        "page_to_ready_cold_ms": med("page_to_ready_cold_ms", digits=0),
        "page_to_ready_warm_ms": med("page_to_ready_warm_ms", digits=0),
        "init_env_ms": med("init_env_ms", digits=1),
        "init_stages_cold_ms": _median_stages(runs, "init_stages_cold_ms"),
        "init_stages_warm_ms": _median_stages(runs, "init_stages_warm_ms"),
        "steps_per_run": plan.steps,
        "warmup_steps": plan.warmup,
        "step_roundtrip_p50_ms": med("step_roundtrip", "p50"),
        "step_roundtrip_p99_ms": med("step_roundtrip", "p99"),
        "step_roundtrip_mean_ms": med("step_roundtrip", "mean"),
        "step_env_p50_ms": med("step_env", "p50"),
        "step_env_p99_ms": med("step_env", "p99"),
        "python_version": runs[0]["python_version"],
        "cross_origin_isolated": all(r["cross_origin_isolated"] for r in runs),
        "machine_cpu_pressure_percent": med("machine_cpu_pressure_percent", digits=1),
    }
    if "step_in_worker" in runs[0]:
        out["step_in_worker_p50_ms"] = med("step_in_worker", "p50")
        out["step_in_worker_p99_ms"] = med("step_in_worker", "p99")
        out["step_timing_roundtrip_p50_ms"] = med("step_timing_roundtrip", "p50")
        out["step_breakdown_ms"] = breakdown(runs, "step")
        out["render_objects_per_frame"] = med("render_objects_per_frame", digits=1)
        out["render_json_bytes_per_frame"] = med("render_json_bytes_per_frame", digits=0)
    if "rollback_roundtrip" in runs[0]:
        env_ms = med("rollback_env", "p50")
        out.update(
            rollback_roundtrip_ms=med("rollback_roundtrip", "p50"),
            rollback_roundtrip_p99_ms=med("rollback_roundtrip", "p99"),
            rollback_in_worker_ms=med("rollback_in_worker", "p50"),
            rollback_env_ms=env_ms,
            rollback_steps=plan.rollback_steps,
            rollbacks_per_run=plan.rollbacks,
            rollback_env_step_ms=(
                None if env_ms is None else rounded(env_ms / plan.rollback_steps, 4)
            ),
            rollback_breakdown_ms=breakdown(runs, "rollback"),
        )
    out["runs"] = runs
    return out


def breakdown(runs: list[dict[str, Any]], request: str) -> dict[str, Any]:
    """Per part of the round trip: the median over runs of each run's p50 and p99."""
    out: dict[str, Any] = {}
    for stat in ("p50", "p99"):
        out[stat] = {
            name: rounded(median(r[f"{request}_parts"][name][stat] for r in runs)) for name in PARTS
        }
        out[stat]["roundtrip"] = rounded(median(r[f"{request}_roundtrip"][stat] for r in runs))
    out["parts"] = PARTS
    return out


def judge(worker: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The worker's targets and whether each was met (targets are reported, not asserted)."""
    stall, base_stall = worker["max_main_thread_stall_ms"], baseline["max_main_thread_stall_ms"]
    ratio = base_stall / stall if stall and base_stall is not None else None
    # The env's time inside the batch (8 steps plus setState/getState) stands for "8 × step".
    rollback_limit = ROLLBACK_OVERHEAD_MS + worker["rollback_env_ms"]
    targets = {
        "max_main_thread_stall_ms": STALL_LIMIT_MS,
        "max_main_thread_stall_goal_ms": STALL_GOAL_MS,
        "stall_ratio_to_baseline": STALL_RATIO,
        "step_roundtrip_p50_ms": STEP_P50_LIMIT_MS,
        "step_roundtrip_p99_ms": STEP_P99_LIMIT_MS,
        "rollback_roundtrip_ms": round(rollback_limit, 3),
    }
    passed = {
        "max_main_thread_stall_ms": stall is not None and stall <= STALL_LIMIT_MS,
        "max_main_thread_stall_goal_ms": stall is not None and stall <= STALL_GOAL_MS,
        "stall_ratio_to_baseline": ratio is not None and ratio >= STALL_RATIO,
        "step_roundtrip_p50_ms": _le(worker["step_roundtrip_p50_ms"], STEP_P50_LIMIT_MS),
        "step_roundtrip_p99_ms": _le(worker["step_roundtrip_p99_ms"], STEP_P99_LIMIT_MS),
        "rollback_roundtrip_ms": _le(worker["rollback_roundtrip_ms"], rollback_limit),
    }
    return {
        "stall_ratio_to_baseline": rounded(ratio, 1) if ratio is not None else None,
        "targets": targets,
        "passed": passed,
    }


def _median_stages(runs: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    names = list(dict.fromkeys(name for r in runs for name in r.get(key, {})))
    return {n: rounded(median(r[key][n] for r in runs if n in r[key]), 1) for n in names}


def _le(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _brief(run: dict[str, Any]) -> str:
    rt = run["step_roundtrip"]
    return (
        f"stall {run['stall_ms']:.1f} ms, init cold {run['init_cold_ms']:.0f} ms / warm "
        f"{run['init_warm_ms']:.0f} ms, step p50 {rt['p50']:.3f} ms p99 {rt['p99']:.3f} ms, "
        f"CPU pressure {run['machine_cpu_pressure_percent']}%"
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
