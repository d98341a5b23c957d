"""The ``game.netcode`` benchmark: what rollback netcode costs a person pressing keys.

Side by side in one run (the machine is shared and noisy: medians, compared within the run),
at 30 FPS on the reference environment (``examples/envs/physics_duel.py``, ``goals_to_win`` and
``max_steps`` out of reach), key press → painted frame latency measured as ``game.latency``
measures it (``bench/game.py``: Playwright presses arrow keys at random moments; a press's
latency runs from its ``event.timeStamp`` to ``paintedAt`` of the first frame that shows it,
read from the page's probe, ``window.interactiveGymGame.frames()``):

- **single player**: the env alone in the browser against the puck tracker
  (``game.latency_figures(plan, "browser")``);
- **rollback**: a browser group game (``GymScene(runtime="browser")``, both agents ``"human"``,
  ``input_delay_frames=0`` so a local key acts on the very next frame as it does for one
  player) at each RTT, injected by the server's ``--netem "latency=<RTT/2>ms"``; page A is
  pressed by Playwright, page B is ``?bot=random`` (A predicts B's changing keys and rolls
  back); also both pages' rollbacks, re-simulated frames and stall time per minute of play
  (:mod:`.netcode_games`);
- **server runtime**: the same scene with ``runtime="server"`` (no netcode options) at the same
  RTTs and the same ``--netem``, which delays ``game:input`` and ``game:frame`` too;
- **rollback cost** in the real Pyodide worker (:mod:`.netcode_cost`).

Every episode's first second (``warmup_frames``) is its start-up, not measured
(:mod:`.netcode_games`).

Targets (reported, never asserted): the rollback p50 at most the single-player p50 + 5 ms at
every RTT within the prediction window (8 frames = 267 ms at 30 FPS); the server runtime's p50
is expected to grow by about the RTT (``server_minus_browser_p50_ms`` per RTT, no verdict); an
8-frame rollback's worker time p99 ≤ 2 ms.

    python -m interactive_gym.bench --quick --only game.netcode
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from interactive_gym.bench import game, netcode_cost
from interactive_gym.bench.browser import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.bench.netcode_games import (
    INPUT_DELAY_FRAMES,
    PREDICTION_FRAMES,
    SECTION,
    NetPlan,
    play_group,
)
from interactive_gym.bench.report import Row, status
from interactive_gym.bench.stats import rounded

RUNTIMES = ("browser", "server")
QUICK = NetPlan(rtts_ms=(0, 100), runs=1, presses=15, cost=netcode_cost.COST_QUICK)
FULL = NetPlan(rtts_ms=(0, 50, 100), runs=2, presses=60, cost=netcode_cost.COST_FULL)


def run_benchmark(quick: bool = False, *, plan: NetPlan | None = None) -> dict:
    """Single player, then each RTT on both runtimes, then the rollback cost; the
    ``game.netcode`` report part."""
    from playwright.sync_api import sync_playwright

    plan = plan or (QUICK if quick else FULL)
    single = game.latency_figures(plan.latency(), "browser")
    _log(f"{SECTION} single player: p50 {single['p50_ms']} ms")
    cells: dict[int, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="ig-netcode-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for rtt in plan.rtts_ms:
                for runtime in RUNTIMES:
                    cell = play_group(browser, Path(tmp), runtime, rtt, plan)
                    cells.setdefault(rtt, {})[runtime] = cell
                    _log(f"{SECTION} {runtime} RTT {rtt} ms: p50 {cell['p50_ms']} ms")
            chromium = browser.version
        finally:
            browser.close()
    cost = netcode_cost.run_rollback_cost(plan.cost)
    return judge(single, cells, cost, plan, chromium)


def judge(single: dict, cells: dict[int, dict[str, dict]], cost: dict, plan: NetPlan,
          chromium: str) -> dict[str, Any]:  # fmt: skip
    """The report part: every RTT's figures side by side, with the targets' verdicts."""
    window_ms = PREDICTION_FRAMES * 1000 / plan.fps
    base = single["p50_ms"]
    server_at_0 = cells.get(0, {}).get("server", {}).get("p50_ms")
    rtts = []
    for rtt, cell in cells.items():
        browser, server = cell["browser"], cell["server"]
        gap = _minus(browser["p50_ms"], base)
        rtts.append({
            "rtt_ms": rtt,
            "browser": browser,
            "server": server,
            "browser_minus_single_p50_ms": gap,
            "server_minus_browser_p50_ms": _minus(server["p50_ms"], browser["p50_ms"]),
            "server_growth_from_rtt0_ms": _minus(server["p50_ms"], server_at_0),
            "within_window": rtt <= window_ms,
            "passed": gap is not None and gap <= game.LATENCY_SLACK_MS,
        })  # fmt: skip
    judged = [r["passed"] for r in rtts if r["within_window"]]
    return {
        "fps": plan.fps,
        "input_delay_frames": INPUT_DELAY_FRAMES,
        "max_prediction_frames": PREDICTION_FRAMES,
        "prediction_window_ms": rounded(window_ms),
        "slack_ms": game.LATENCY_SLACK_MS,
        "single_player": single,
        "rtts": rtts,
        "passed": bool(judged) and all(judged),
        "rollback_cost": cost,
        "plan": asdict(plan),
        "chromium_version": chromium,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def netcode_rows(report: dict[str, Any]) -> list[Row]:
    part = report["game"]["netcode"]
    single = part["single_player"]
    base = single["p50_ms"]
    rows = [
        Row(SECTION, f"key → painted frame, {part['fps']} FPS (rollback: input delay "
            f"{part['input_delay_frames']}, window {part['prediction_window_ms']:.0f} ms):", None),
        Row(SECTION, "single player p50 / p99", f"{base} / {single['p99_ms']}", "ms"),
    ]  # fmt: skip
    for r in part["rtts"]:
        b, s = r["browser"], r["server"]
        target = f"≤ single p50 + {part['slack_ms']:g}" if r["within_window"] else ""
        rows += [
            Row(SECTION, f"RTT {r['rtt_ms']} ms: rollback p50", b["p50_ms"], "ms", target,
                status(r["passed"]) if r["within_window"] else ""),
            Row(SECTION, "  rollback p99 / presses measured / dropped ticks",
                f"{b['p99_ms']} ms / {b['measured']}/{b['presses']} / {b['dropped_ticks']}"),
            Row(SECTION, "  per member per minute: rollbacks / frames / stall",
                f"{b['rollbacks_per_min']} / {b['rollback_frames_per_min']} / "
                f"{b['stall_ms_per_min']} ms"),
            Row(SECTION, "  longest wait for the other member's input", b["input_gap_max_ms"],
                "ms"),
            Row(SECTION, "  server runtime p50 / p99", f"{s['p50_ms']} / {s['p99_ms']}", "ms"),
            Row(SECTION, "  server − rollback p50", r["server_minus_browser_p50_ms"], "ms",
                "grows ≈ RTT"),
        ]  # fmt: skip
    cost = part["rollback_cost"]
    rows += [
        Row(SECTION, f"{cost['rollback_frames']}-frame rollback in the worker p50 / p99",
            f"{cost['rollback_worker_p50_ms']} / {cost['rollback_worker_p99_ms']}", "ms",
            f"p99 ≤ {netcode_cost.ROLLBACK_P99_LIMIT_MS:g} ms", status(cost["passed"])),
        Row(SECTION, "  its round trip p50 / p99",
            f"{cost['rollback_round_trip_p50_ms']} / {cost['rollback_round_trip_p99_ms']}", "ms"),
        Row(SECTION, "  1-frame advance in the worker p50 / p99",
            f"{cost['advance_worker_p50_ms']} / {cost['advance_worker_p99_ms']}", "ms"),
        Row(SECTION, "  1-frame advance round trip p50 / p99",
            f"{cost['advance_round_trip_p50_ms']} / {cost['advance_round_trip_p99_ms']}", "ms"),
    ]  # fmt: skip
    return rows


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else rounded(a - b)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
