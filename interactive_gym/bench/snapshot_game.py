"""Python memory snapshots in a real game scene (part of the ``worker`` section).

The demo study (``examples/demo_study.py``, served by the bench server) played by the bot
(``?bot=random``) in headless Chromium: its kitchen scene loads the env and the AI partner's
policy in the page's worker (``game/preload.js``: worker init, packages, env, ``setupGame``).

- **cold**: a fresh browser context (empty storage): the load boots and makes the snapshot;
  the run waits until it is in the browser's Cache Storage (its size read from there).
- **warm**: a new participant (cookies cleared) in the same context: the load restores.
- **reload mid-game**: while the warm page plays (state ``playing``), the page is reloaded,
  several times; each reload resumes the scene and loads the game again from the snapshot.
  Times are since the reloaded document's navigation start: until the game is loaded again
  (state leaves ``loading``; the target) and until ``playing`` again (which includes the
  scene's countdown: the study's design, not load time).

Times come from a 4 ms poll of ``window.interactiveGymGame`` (``state``, ``loadKind``,
``loadMs``, ``loads()``) added to every page of the context; ``loadMs`` is the GameLoader's own
time from its start to the game being ready. A warm load or a reload that did not restore is
an error, not a figure.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from interactive_gym.bench.machine import CpuPressure
from interactive_gym.bench.stats import median, rounded
from interactive_gym.page_wait import wait_until

if TYPE_CHECKING:
    from interactive_gym.bench.snapshots import SnapshotPlan

CACHE_NAME = "interactive-gym-python-snapshots"
#: Records every change of the game probe's state, load kind and background load stages.
TRACE = """(() => {
  const trace = [];
  window.__igBenchTrace = trace;
  let last = "";
  setInterval(() => {
    const g = window.interactiveGymGame;
    if (!g) return;
    const loads = Object.values(g.loads()).map((l) => l.stage).join(",");
    const key = `${g.state}|${g.loadKind}|${loads}`;
    if (key === last) return;
    last = key;
    trace.push({ at: performance.now(), state: g.state, loadKind: g.loadKind, loadMs: g.loadMs,
                 episode: g.episode, loads });
  }, 4);
})();"""
STORED = f"""(async () => {{
  const cache = await caches.open({CACHE_NAME!r});
  const keys = await cache.keys();
  return Promise.all(keys.map(async (k) => Number((await cache.match(k)).headers.get("x-bytes"))));
}})()"""
LOADED = "window.interactiveGymGame?.loadKind || window.interactiveGymGame?.state === 'error'"


class GameBenchError(RuntimeError):
    """The game scene failed, or a load was not the boot or restore the measurement needs."""


def measure_game(browser: Any, base: str, plan: SnapshotPlan) -> dict[str, Any]:
    """``{"game": ..., "reload": ...}``: kitchen cold/warm loads and the mid-game reloads."""
    from interactive_gym.examples import demo_study

    scene = demo_study.game
    runs, samples = [], []
    pressure_runs = []
    for index in range(plan.game_runs):
        with CpuPressure() as pressure:
            run, reloads = game_run(browser, base, plan, plan.reloads if index == 0 else 0)
        run["machine_cpu_pressure_percent"] = pressure.percent
        pressure_runs.append(pressure.percent)
        runs.append(run)
        samples.extend(reloads)
        _log(f"snapshot bench {scene.scene_id} run {index + 1}/{plan.game_runs}: game load cold "
             f"{run['cold']['load_ms']:.0f} ms, warm {run['warm']['load_ms']:.0f} ms; reloads "
             f"to loaded {[s['to_loaded_ms'] for s in reloads]} ms")  # fmt: skip
    return {
        "game": {
            "study": demo_study.experiment.experiment_id,
            "scene_id": scene.scene_id,
            "runs_count": len(runs),
            **{f"{p}_load_ms": _med(r[p]["load_ms"] for r in runs) for p in ("cold", "warm")},
            **{f"page_to_loaded_{p}_ms": _med(r[p]["page_to_loaded_ms"] for r in runs)
               for p in ("cold", "warm")},
            "load_kinds": {p: dict(Counter(r[p]["load_kind"] for r in runs))
                           for p in ("cold", "warm")},
            "snapshot_bytes": int(median(r["snapshot_bytes"] for r in runs)),
            "machine_cpu_pressure_percent": _med(pressure_runs),
            "runs": runs,
        },
        "reload": summarize_reloads(samples, scene.countdown_s),
    }  # fmt: skip


def game_run(
    browser: Any, base: str, plan: SnapshotPlan, reloads: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A cold page, a warm page (new participant, same storage), then ``reloads`` reloads."""
    context = browser.new_context()
    context.add_init_script(TRACE)
    timeout_ms = plan.page_timeout_s * 1000
    try:
        page = _open(context, base)
        cold = loaded(page, timeout_ms)
        wait_until(page, f"{STORED}.then((sizes) => sizes.length > 0)", timeout=timeout_ms)
        sizes = page.evaluate(STORED)
        page.close()
        context.clear_cookies()  # a new participant; Cache Storage stays
        page = _open(context, base)
        warm = loaded(page, timeout_ms)
        _expect("cold", cold, "boot")
        _expect("warm", warm, "restore")
        samples = [reload_mid_game(page, plan) for _ in range(reloads)]
    finally:
        context.close()
    return {"cold": cold, "warm": warm, "snapshot_bytes": max(sizes)}, samples


def _open(context: Any, base: str) -> Any:
    page = context.new_page()
    pid = f"snapbench{random.randrange(10**9)}"
    page.goto(f"{base}/?bot=random&bot_pause_ms=50&PROLIFIC_PID={pid}", wait_until="commit")
    return page


def loaded(page: Any, timeout_ms: float) -> dict[str, Any]:
    """Wait until the game scene's load finished; its figures."""
    wait_until(page, LOADED, timeout=timeout_ms, interval_ms=20)
    game = page.evaluate(
        "({state: window.interactiveGymGame.state, loadKind: window.interactiveGymGame.loadKind,"
        " loadMs: window.interactiveGymGame.loadMs, trace: window.__igBenchTrace})"
    )
    if game["state"] == "error":
        raise GameBenchError(f"the game scene failed to load: {game['trace'][-3:]}")
    return {
        "load_kind": game["loadKind"],
        "load_ms": round(game["loadMs"], 1),
        "page_to_loaded_ms": round(_first(game["trace"], lambda e: e["loadKind"]), 1),
        "load_start_ms": round(_first(game["trace"], lambda e: e["loads"]), 1),
    }


def reload_mid_game(page: Any, plan: SnapshotPlan) -> dict[str, Any]:
    """Play ``plan.play_s``, reload, and time the way back to a loaded game and to playing."""
    timeout_ms = plan.page_timeout_s * 1000
    wait_until(page, "window.interactiveGymGame?.state === 'playing'", timeout=timeout_ms)
    time.sleep(plan.play_s)
    before = page.evaluate("({...window.interactiveGymGame})")
    if before["state"] != "playing":
        raise GameBenchError(f"the game was {before['state']!r}, not playing, before a reload")
    reloaded_at = time.time() * 1000
    page.reload(wait_until="commit")
    wait_until(
        page,
        "window.__igBenchTrace?.some((e) => e.state === 'playing' || e.state === 'error')",
        timeout=timeout_ms,
        interval_ms=20,
    )
    seen = page.evaluate("({trace: window.__igBenchTrace, origin: performance.timeOrigin})")
    trace = seen["trace"]
    if any(e["state"] == "error" for e in trace):
        raise GameBenchError(f"the game failed after a reload: {trace[-3:]}")
    kind = next(e["loadKind"] for e in trace if e["loadKind"])
    if kind != "restore":
        raise GameBenchError(f"a reload mid-game loaded the game by {kind!r}, not a restore")
    loaded_at = _first(trace, lambda e: e["state"] not in ("idle", "loading"))
    playing_at = _first(trace, lambda e: e["state"] == "playing")
    return {
        "played_episode": before["episode"],
        "played_step": before["step"],
        "load_kind": kind,
        "to_loaded_ms": round(loaded_at, 1),
        "to_playing_ms": round(playing_at, 1),
        "countdown_ms": round(playing_at - loaded_at, 1),
        "game_load_ms": round(next(e["loadMs"] for e in trace if e["loadKind"]), 1),
        "to_load_start_ms": round(_first(trace, lambda e: e["loads"]), 1),
        "navigation_after_reload_ms": round(seen["origin"] - reloaded_at, 1),
    }


def summarize_reloads(samples: list[dict[str, Any]], countdown_s: float) -> dict[str, Any]:
    def p50(key: str) -> float | None:
        return _med(s[key] for s in samples)

    return {
        "reloads": len(samples),
        "countdown_s": countdown_s,
        "to_loaded_p50_ms": p50("to_loaded_ms"),
        "to_playing_p50_ms": p50("to_playing_ms"),
        "game_load_p50_ms": p50("game_load_ms"),
        "to_load_start_p50_ms": p50("to_load_start_ms"),
        "navigation_after_reload_p50_ms": p50("navigation_after_reload_ms"),
        "load_kinds": dict(Counter(s["load_kind"] for s in samples)),
        "samples": samples,
    }


def _expect(phase: str, figures: dict[str, Any], kind: str) -> None:
    if figures["load_kind"] != kind:
        raise GameBenchError(
            f"the {phase} game load started Python by {figures['load_kind']!r}, not a {kind}"
        )


def _first(trace: list[dict[str, Any]], test: Any) -> float:
    for entry in trace:
        if test(entry):
            return float(entry["at"])
    raise GameBenchError(f"the page's trace has no such moment: {trace[-3:]}")


def _med(values: Any) -> float | None:
    return rounded(median(values), 1)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
