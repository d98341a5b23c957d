"""The cost of a rollback in the real Pyodide worker (part of the ``game.netcode`` section).

Headless Chromium against the real server opens ``static/bench/netcode_bench.html``, which
starts the real worker (``PyodideWorker.js`` and the runtime package), creates the reference
environment (``examples/envs/physics_duel.py``, both agents ``"human"``), loads
``interactive_gym.runtime.game_host`` then ``interactive_gym.runtime.netcode`` with
``loadExtension`` as a browser group game's page does (``game/preload.js``), runs the load-time
determinism check, and then alternates, after a warm-up, the two ``netAdvance`` calls a tick of
``game/net_channel.js`` makes:

- an **8-frame rollback**: ``restore = n - 8`` (n: the next frame), 9 steps (the 8 frames again
  with other inputs, and frame n), the state hash of the hashed frames among them (every 5th),
  the render of the last state;
- a **plain advance** for comparison: no restore, 1 step, its render.

Figures: p50/p99 of the worker's own time (``timing.workerMs``) and of the round trip seen
from the page's main thread (``timing.roundTripMs``). Target: rollback worker time p99 ≤ 2 ms.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from interactive_gym.bench.browser import CHROMIUM, CHROMIUM_ARGS, bench_server, run_page
from interactive_gym.bench.stats import percentile, rounded

PAGE = "/static/bench/netcode_bench.html"
ROLLBACK_P99_LIMIT_MS = 2.0
ENV_CONFIG = {"goals_to_win": 1_000_000, "max_steps": 10_000_000}


@dataclass(frozen=True)
class CostPlan:
    repetitions: int
    warmup: int
    rollback_frames: int = 8
    hash_every: int = 5
    start_frames: int = 30  # past the serve: the puck moves
    seed: int = 20240612
    page_timeout_s: float = 300.0


COST_QUICK = CostPlan(repetitions=40, warmup=10)
COST_FULL = CostPlan(repetitions=200, warmup=30)


def run_rollback_cost(plan: CostPlan) -> dict[str, Any]:
    """One bench page: the figures of the rollbacks and of the plain advances."""
    from playwright.sync_api import sync_playwright

    from interactive_gym.examples.envs import physics_duel

    config = {
        "envCode": Path(physics_duel.__file__).read_text(),
        "envConfig": ENV_CONFIG,
        "seed": plan.seed,
        "numActions": physics_duel.PhysicsDuelEnv.num_actions,
        "warmup": plan.warmup,
        "repetitions": plan.repetitions,
        "rollbackFrames": plan.rollback_frames,
        "hashEvery": plan.hash_every,
        "startFrames": plan.start_frames,
    }
    with bench_server() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            try:
                result = run_page(context.new_page(), base + PAGE, config, plan.page_timeout_s)
            finally:
                context.close()
        finally:
            browser.close()
    return cost_figures(result, plan)


def cost_figures(result: dict[str, Any], plan: CostPlan) -> dict[str, Any]:
    """The page's raw samples as the report's figures (``result``: what the page published)."""
    out: dict[str, Any] = {
        "rollback_frames": plan.rollback_frames,
        "steps_per_rollback": plan.rollback_frames + 1,
        "hashed_frames_per_rollback": rounded(result["hashedFramesPerRollback"], 2),
        "repetitions": plan.repetitions,
        "warmup": plan.warmup,
        "target_worker_p99_ms": ROLLBACK_P99_LIMIT_MS,
    }
    for name, key in (("rollback", "rollback"), ("advance", "plain")):
        samples = result[key]
        for part, field in (("worker", "workerMs"), ("round_trip", "roundTripMs"),
                            ("env", "envMs")):  # fmt: skip
            values = [float(v) for v in samples[field] if _finite(v)]
            for stat, q in (("p50", 0.5), ("p99", 0.99)):
                out[f"{name}_{part}_{stat}_ms"] = rounded(percentile(values, q)) if values else None
        out[f"{name}_samples"] = len(samples["workerMs"])
    p99 = out["rollback_worker_p99_ms"]
    out["passed"] = p99 is not None and p99 <= ROLLBACK_P99_LIMIT_MS
    out["python_version"] = result.get("pythonVersion")
    out["snapshot_bytes"] = result.get("check", {}).get("snapshotBytes")
    out["plan"] = asdict(plan)
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
