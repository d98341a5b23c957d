"""The ``game`` benchmarks: input-to-display latency and frame pacing of the game scene.

The latency runs on both runtimes, one after the other in the same run: the env in the page's
Pyodide worker, then on the server's env processes with the frames over the study socket.

Both play the reference environment (``examples/envs/physics_duel.py``) through the real
study page: the real server on a loopback port with a SQLite database, a study whose first
scene is a :class:`~interactive_gym.study.GymScene` (a person against the puck-tracking
Python policy), headless Chromium, the Pyodide worker, the fixed-step loop, the PixiJS
renderer, and every step recorded through the uploader. Each episode is one run; figures are
read from ``window.interactiveGymGame`` (``static/js/game/probe.js``):

- **latency** (30 FPS): Playwright presses and releases arrow keys at random moments. A
  press's latency is from its ``event.timeStamp`` to ``paintedAt`` of the first tick that
  used it: the ``requestAnimationFrame`` timestamp of the first frame after that tick's
  drawing. The environment moves the paddle in the same step, so that frame shows the effect.
  Target: p50 ≤ one frame interval + 5 ms.
- **pacing** (60 FPS): the loop runs with the AI playing and nobody pressing keys; achieved
  ticks per second, dropped ticks (slots skipped because a whole interval passed) and the
  tick-interval jitter ``|interval - 1000/fps|``. Targets: ≥ 59.5 FPS, 0 dropped.

Each run gives its own percentiles; the report gives the median over runs and keeps each run.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from interactive_gym.bench.browser import CHROMIUM, CHROMIUM_ARGS, bench_server
from interactive_gym.bench.report import Row, status
from interactive_gym.bench.stats import median, percentile, rounded, summary
from interactive_gym.page_wait import wait_until

ENV_FILE = "envs/physics_duel.py"
POLICY_FILE = "policies/physics_duel_tracker.py"
LATENCY_SLACK_MS = 5.0
MIN_FPS_SHARE = 59.5 / 60
#: Keys pressed in the latency runs and the actions they map to (physics_duel: up, down).
KEYS = {"ArrowUp": 1, "ArrowDown": 2}
DROP_CAUSES = ("slow_tick", "late_timer")


@dataclass(frozen=True)
class LatencyPlan:
    runs: int
    presses: int
    fps: int = 30
    hold_ms: tuple[int, int] = (60, 160)
    gap_ms: tuple[int, int] = (60, 200)
    seed: int = 20240611


@dataclass(frozen=True)
class PacingPlan:
    runs: int
    seconds: float
    fps: int = 60


LATENCY_QUICK = LatencyPlan(runs=3, presses=25)
LATENCY_FULL = LatencyPlan(runs=5, presses=80)
PACING_QUICK = PacingPlan(runs=3, seconds=6)
PACING_FULL = PacingPlan(runs=3, seconds=60)


# -- the study, the server, the page ----------------------------------------------------------


def bench_study(
    scene_id: str, fps: int, episodes: int, max_steps: int, runtime: str = "browser"
) -> Any:
    """A study of one game scene (person vs puck tracker) and the end page, on ``runtime``."""
    from interactive_gym.examples import __file__ as examples_init
    from interactive_gym.study import EndScene, Experiment, GymScene, PythonPolicy

    game = GymScene(
        scene_id,
        runtime=runtime,
        env_file=ENV_FILE,
        env_config={"goals_to_win": 1_000_000, "max_steps": 10_000_000},
        agents={0: "human", 1: PythonPolicy(POLICY_FILE)},
        controls={"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4},
        fps=fps,
        episodes=episodes,
        max_steps=max_steps,
        num_actions=9,
        countdown_s=0,
        pause_after_episode_s=0,
    )
    return Experiment(
        f"bench_{scene_id}_{runtime}", [game, EndScene()], base_dir=Path(examples_init).parent
    )


@contextmanager
def game_page(experiment: Any) -> Iterator[tuple[Any, str]]:
    """A headless Chromium page playing the study's game scene, and the browser's version."""
    from playwright.sync_api import sync_playwright

    with bench_server(experiment) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/?PROLIFIC_PID=bench{random.randrange(10**9)}")
            wait_until(page, "window.interactiveGymGame?.state === 'playing'", timeout=180_000)
            yield page, browser.version
        finally:
            browser.close()


def game_state(page: Any) -> dict[str, Any]:
    return page.evaluate(
        "(() => { const g = window.interactiveGymGame;"
        " return {state: g.state, episode: g.episode, step: g.step}; })()"
    )


def wait_episode(page: Any, episode: int, timeout_s: float) -> None:
    """Wait until ``episode`` is being played (and it is not already over)."""
    wait_until(
        page,
        f"(() => {{ const g = window.interactiveGymGame; return g.state === 'error' ||"
        f" g.state === 'done' || (g.episode === {episode} && g.state === 'playing'); }})()",
        timeout=timeout_s * 1000,
        interval_ms=20,
    )
    state = game_state(page)
    if state["state"] == "error":
        raise RuntimeError(f"the game scene failed in episode {episode}")


def wait_done(page: Any, timeout_s: float) -> list[dict[str, Any]]:
    wait_until(
        page,
        "['done', 'error'].includes(window.interactiveGymGame.state)"
        " && window.interactiveGymGame.frames(1).every((f) => f.paintedAt !== null)",
        timeout=timeout_s * 1000,
        interval_ms=100,
    )
    if game_state(page)["state"] == "error":
        raise RuntimeError("the game scene ended with an error")
    return page.evaluate("window.interactiveGymGame.frames()")


# -- latency ---------------------------------------------------------------------------------


def run_latency_benchmark(quick: bool = False, *, plan: LatencyPlan | None = None) -> dict:
    """Key press to painted frame at 30 FPS on both runtimes; the ``game.latency`` report part.

    The browser runtime's figures are the part's own keys (as before the server runtime
    existed); the server runtime's, measured right after in the same run with the same key
    presses, are under ``"server"``. Target for the server runtime on loopback: its p50 at most
    the browser's p50 + 5 ms.
    """
    plan = plan or (LATENCY_QUICK if quick else LATENCY_FULL)
    result = latency_figures(plan, "browser")
    server = latency_figures(plan, "server")
    result["server"] = server
    gap = None
    if result["p50_ms"] is not None and server["p50_ms"] is not None:
        gap = rounded(server["p50_ms"] - result["p50_ms"])
    result["server_minus_browser_p50_ms"] = gap
    result["server_passed"] = gap is not None and gap <= LATENCY_SLACK_MS
    return result


def latency_figures(plan: LatencyPlan, runtime: str) -> dict[str, Any]:
    """Play ``plan.runs`` episodes on ``runtime``, pressing keys; the figures of the runs."""
    cycle_s = (sum(plan.hold_ms) + sum(plan.gap_ms)) / 2000
    steps = math.ceil(plan.fps * (plan.presses * cycle_s * 1.3 + 1.5))
    rng = random.Random(plan.seed)
    pressed: list[int] = []
    study = bench_study("latency", plan.fps, plan.runs, steps, runtime)
    with game_page(study) as (page, chromium):
        for run in range(plan.runs):
            wait_episode(page, run, 60)
            pressed.append(press_keys(page, run, plan, rng))
            _log(f"game latency ({runtime}) run {run + 1}/{plan.runs}: {pressed[-1]} presses")
        frames = wait_done(page, steps / plan.fps + 60)
    runs = [latency_run(frames, run, pressed[run]) for run in range(plan.runs)]
    interval = 1000 / plan.fps
    result = {
        "runtime": runtime,
        "fps": plan.fps,
        "frame_interval_ms": rounded(interval),
        "target_p50_ms": rounded(interval + LATENCY_SLACK_MS),
        "p50_ms": rounded(median(r["latency_ms"].get("p50", math.nan) for r in runs)),
        "p99_ms": rounded(median(r["latency_ms"].get("p99", math.nan) for r in runs)),
        "to_drawn_p50_ms": rounded(median(r["to_drawn_ms"].get("p50", math.nan) for r in runs)),
        "round_trip_p50_ms": rounded(median(r["round_trip_p50_ms"] for r in runs)),
        "presses": sum(r["presses"] for r in runs),
        "measured": sum(r["measured"] for r in runs),
        "dropped_ticks": sum(r["dropped_ticks"] for r in runs),
        "runs": runs,
        "plan": asdict(plan),
        "chromium_version": chromium,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    result["passed"] = bool(
        result["p50_ms"] is not None and result["p50_ms"] <= interval + LATENCY_SLACK_MS
    )
    return result


def press_keys(page: Any, episode: int, plan: LatencyPlan, rng: random.Random) -> int:
    """Press keys at random moments while ``episode`` is played; returns how many."""
    done = 0
    keys = list(KEYS)
    for i in range(plan.presses):
        state = game_state(page)
        if state["state"] != "playing" or state["episode"] != episode:
            break
        key = keys[i % len(keys)]
        page.keyboard.down(key)
        time.sleep(rng.uniform(*plan.hold_ms) / 1000)
        page.keyboard.up(key)
        done += 1
        time.sleep(rng.uniform(*plan.gap_ms) / 1000)
    return done


def latency_run(frames: list[dict[str, Any]], episode: int, presses: int) -> dict[str, Any]:
    """The latencies of one episode's key presses: the first tick that used each one."""
    mine = [f for f in frames if f["episode"] == episode]
    latencies, to_drawn = [], []
    for frame in mine:
        for event in frame["keyEvents"]:
            if event["type"] == "down" and frame["paintedAt"] is not None:
                latencies.append(frame["paintedAt"] - event["t"])
                to_drawn.append(frame["drawnAt"] - event["t"])
    trips = [f["roundTripMs"] for f in mine if f["roundTripMs"] is not None]
    return {
        "episode": episode,
        "presses": presses,
        "measured": len(latencies),
        "latency_ms": summary(latencies),
        "to_drawn_ms": summary(to_drawn),
        "round_trip_p50_ms": rounded(percentile(trips, 0.5)),
        "ticks": len(mine),
        "dropped_ticks": sum(f["dropped"] for f in mine),
    }


def latency_rows(report: dict[str, Any]) -> list[Row]:
    part = report["game"]["latency"]
    target = part["target_p50_ms"]
    rows = [
        Row("game.latency", f"key → painted frame p50 ({part['fps']} FPS)", part["p50_ms"],
            "ms", f"≤ {target:g}", status(part["passed"])),
        Row("game.latency", "key → painted frame p99", part["p99_ms"], "ms"),
        Row("game.latency", "key → canvas drawn p50", part["to_drawn_p50_ms"], "ms"),
        Row("game.latency", "tick round trip p50", part["round_trip_p50_ms"], "ms"),
        Row("game.latency", "presses measured / sent", f"{part['measured']}/{part['presses']}"),
    ]  # fmt: skip
    server = part.get("server")
    if server:
        browser_p50 = part["p50_ms"]
        rows += [
            Row("game.latency", "server runtime: key → painted frame p50", server["p50_ms"], "ms",
                f"≤ browser p50 + {LATENCY_SLACK_MS:g}" + (f" = {browser_p50 + LATENCY_SLACK_MS:g}"
                                                           if browser_p50 is not None else ""),
                status(part["server_passed"])),
            Row("game.latency", "server runtime: key → painted frame p99", server["p99_ms"], "ms"),
            Row("game.latency", "server runtime: presses measured / sent",
                f"{server['measured']}/{server['presses']}"),
        ]  # fmt: skip
    return rows


# -- pacing ----------------------------------------------------------------------------------


def run_pacing_benchmark(quick: bool = False, *, plan: PacingPlan | None = None) -> dict:
    """Ticks per second, dropped ticks and jitter at 60 FPS; the ``game.pacing`` part."""
    plan = plan or (PACING_QUICK if quick else PACING_FULL)
    steps = round(plan.fps * plan.seconds)
    with game_page(bench_study("pacing", plan.fps, plan.runs, steps)) as (page, chromium):
        frames = wait_done(page, plan.runs * (plan.seconds + 30) + 60)
    runs = [pacing_run(frames, run, plan.fps) for run in range(plan.runs)]
    for run in runs:
        _log(f"game pacing run {run['episode'] + 1}/{plan.runs}: {run['fps']} FPS, "
             f"{run['dropped_ticks']} dropped")  # fmt: skip
    result = {
        "target_fps": plan.fps,
        "fps": rounded(median(r["fps"] for r in runs)),
        "dropped_ticks": sum(r["dropped_ticks"] for r in runs),
        "late_ticks": sum(r["late_ticks"] for r in runs),
        "drop_causes": {
            cause: sum(r["drop_causes"][cause] for r in runs) for cause in DROP_CAUSES
        },
        "jitter_p50_ms": rounded(median(r["jitter_ms"].get("p50", math.nan) for r in runs)),
        "jitter_p99_ms": rounded(median(r["jitter_ms"].get("p99", math.nan) for r in runs)),
        "jitter_max_ms": rounded(max(r["jitter_ms"].get("max", math.nan) for r in runs)),
        "round_trip_p99_ms": rounded(median(r["round_trip_ms"].get("p99", math.nan) for r in runs)),
        "runs": runs,
        "plan": asdict(plan),
        "chromium_version": chromium,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    result["passed"] = bool(
        result["fps"] is not None
        and result["fps"] >= plan.fps * MIN_FPS_SHARE
        and result["dropped_ticks"] == 0
    )
    return result


def pacing_run(frames: list[dict[str, Any]], episode: int, fps: int) -> dict[str, Any]:
    mine = [f for f in frames if f["episode"] == episode]
    if len(mine) < 2:
        raise RuntimeError(f"pacing run {episode} recorded {len(mine)} ticks")
    interval = 1000 / fps
    elapsed = mine[-1]["start"] - mine[0]["start"]
    intervals = [f["intervalMs"] for f in mine if f["intervalMs"] is not None]
    trips = [f["roundTripMs"] for f in mine if f["roundTripMs"] is not None]
    return {
        "episode": episode,
        "ticks": len(mine),
        "seconds": round(elapsed / 1000, 3),
        "fps": round((len(mine) - 1) * 1000 / elapsed, 3),
        "dropped_ticks": sum(f["dropped"] for f in mine),
        "late_ticks": sum(1 for f in mine if f["lateMs"] > interval / 4),
        "interval_ms": summary(intervals),
        "jitter_ms": summary([abs(i - interval) for i in intervals]),
        "round_trip_ms": summary(trips),
        "worker_ms": summary([f["workerMs"] for f in mine if f["workerMs"] is not None]),
        "slowest_tick": slowest_tick(mine),
        "drop_causes": drop_causes(mine, interval),
    }


def drop_causes(frames: list[dict[str, Any]], interval: float) -> dict[str, int]:
    """Why slots were dropped: the tick before took longer than an interval (round trip and
    drawing), or it did not and the next tick's timer still fired late (the main thread was
    busy, or the browser was not scheduled)."""
    causes = dict.fromkeys(DROP_CAUSES, 0)
    for before, after in zip(frames, frames[1:], strict=False):
        if after["dropped"]:
            busy = (before["roundTripMs"] or 0) + (before["drawMs"] or 0)
            causes["slow_tick" if busy >= interval else "late_timer"] += after["dropped"]
    return causes


def slowest_tick(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the time of the longest tick interval went (worker, env, policies, drawing)."""
    worst = max(frames, key=lambda f: f["intervalMs"] or 0)
    fields = ("step", "intervalMs", "lateMs", "dropped", "roundTripMs", "workerMs", "envMs",
              "policyMs", "drawMs")  # fmt: skip
    return {k: rounded(worst[k]) if isinstance(worst[k], float) else worst[k] for k in fields}


def pacing_rows(report: dict[str, Any]) -> list[Row]:
    part = report["game"]["pacing"]
    fps = part["target_fps"]
    fps_ok = part["fps"] is not None and part["fps"] >= fps * MIN_FPS_SHARE
    return [
        Row("game.pacing", f"achieved ticks per second (target {fps})", part["fps"], "FPS",
            f"≥ {fps * MIN_FPS_SHARE:g}", status(fps_ok)),
        Row("game.pacing", "dropped ticks (all runs)", part["dropped_ticks"], "", "= 0",
            status(part["dropped_ticks"] == 0)),
        Row("game.pacing", "  dropped after a slow tick / a late timer",
            "{slow_tick}/{late_timer}".format(**part["drop_causes"])),
        Row("game.pacing", "late ticks (> ¼ interval, all runs)", part["late_ticks"]),
        Row("game.pacing", "tick-interval jitter p50", part["jitter_p50_ms"], "ms"),
        Row("game.pacing", "tick-interval jitter p99", part["jitter_p99_ms"], "ms"),
        Row("game.pacing", "tick round trip p99", part["round_trip_p99_ms"], "ms"),
    ]  # fmt: skip


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
