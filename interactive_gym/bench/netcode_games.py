"""One group game of the ``game.netcode`` benchmark (``bench/netcode.py``), played and measured.

The study: a ``WaitingRoom``, then a ``GymScene`` of the reference environment
(``examples/envs/physics_duel.py``, ``goals_to_win`` and ``max_steps`` out of reach) with both
agents ``"human"`` on ``runtime="browser"`` (``input_delay_frames=0``: a local key acts on the
very next frame, as it does for one player) or ``runtime="server"``, then the end page. It is
served by ``python -m interactive_gym.run`` (``local_server.StudyProcess``) with ``--netem
"latency=<RTT/2>ms"`` (one way, both ways: the round trip grows by RTT; RTT 0: no netem).

Page A is a participant whose keys Playwright presses as ``game.latency`` does
(``bench/game.py``); page B is ``?bot=random``, whose changing keys A must predict (and roll
back). A's latencies come from its probe (``window.interactiveGymGame.frames()``:
``game.latency_run``); on the browser runtime, both pages' rollbacks, re-simulated frames and
stall time per minute come from their per-tick ``input`` records (``net_channel.js``), read
from the server's database once both pages finished the study.

Presses, and the counts, begin once the episode has shown ``warmup_frames`` frames: a group
game is "playing" before its members pass the start barrier, and a member whose game loaded
later joins the episode under way while the other waits at its prediction window; that
start-up's stall time is reported on its own (``startup_stalled_ms``).
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interactive_gym.bench import game, netcode_cost
from interactive_gym.bench.stats import median, percentile, rounded
from interactive_gym.local_server import StudyProcess
from interactive_gym.page_wait import wait_until

SECTION = "game.netcode"
INPUT_DELAY_FRAMES = 0
PREDICTION_FRAMES = 8
ENV_CONFIG = {"goals_to_win": 1_000_000, "max_steps": 10_000_000}
CONTROLS = {"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4}
LOAD_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class NetPlan:
    """RTTs to play at; per game: episodes (runs) and key presses per episode."""

    rtts_ms: tuple[int, ...]
    runs: int
    presses: int
    cost: netcode_cost.CostPlan
    fps: int = 30
    seed: int = 20240613
    bot_pause_ms: int = 40
    #: Frames of each episode before the first press (the start-up: see wait_warmed_up).
    warmup_frames: int = 30

    def latency(self) -> game.LatencyPlan:
        return game.LatencyPlan(runs=self.runs, presses=self.presses, fps=self.fps, seed=self.seed)


STUDY = """\
from interactive_gym.study import EndScene, Experiment, GymScene, WaitingRoom

experiment = Experiment(
    "bench_netcode_{runtime}",
    [
        WaitingRoom("lobby", countdown_s=0),
        GymScene(
            "game",
            runtime={runtime!r},
            env_file={env_file!r},
            env_config={env_config!r},
            agents={{0: "human", 1: "human"}},
            controls={controls!r},
            fps={fps},
            episodes={episodes},
            max_steps={max_steps},
            num_actions=9,
            countdown_s=0,
            pause_after_episode_s=0,{netcode}
        ),
        EndScene(),
    ],
)
"""


def episode_steps(plan: game.LatencyPlan) -> int:
    """Steps of an episode long enough for ``plan.presses`` presses (as ``game.latency``)."""
    cycle_s = (sum(plan.hold_ms) + sum(plan.gap_ms)) / 2000
    return math.ceil(plan.fps * (plan.presses * cycle_s * 1.3 + 1.5))


def write_study(folder: Path, runtime: str, plan: NetPlan) -> Path:
    from interactive_gym.examples import __file__ as examples_init

    env_file = Path(examples_init).parent / game.ENV_FILE
    delay = f"input_delay_frames={INPUT_DELAY_FRAMES},"
    netcode = f"\n{' ' * 12}{delay}" if runtime == "browser" else ""  # browser group games only
    source = STUDY.format(runtime=runtime, env_file=str(env_file.resolve()), env_config=ENV_CONFIG,
                          controls=CONTROLS, fps=plan.fps, episodes=plan.runs,
                          max_steps=plan.warmup_frames + episode_steps(plan.latency()),
                          netcode=netcode)  # fmt: skip
    path = folder / "study.py"
    path.write_text(source)
    return path


# -- one group game ------------------------------------------------------------------------------


def play_group(browser: Any, folder: Path, runtime: str, rtt_ms: int, plan: NetPlan) -> dict:
    """Serve the group study on ``runtime`` at ``rtt_ms``; page A pressed, page B a bot.

    Returns A's latency figures and, for the browser runtime, both pages' tick figures.
    """
    from interactive_gym.server.settings import PROJECT_DIR

    here = folder / f"{runtime}_rtt{rtt_ms}"
    here.mkdir()
    netem = f"latency={rtt_ms / 2:g}ms" if rtt_ms else None
    server = StudyProcess(here, write_study(here, runtime, plan), start_timeout_s=60,
                          wheelhouse=PROJECT_DIR / "data" / "wheelhouse",
                          args=["--netem", netem] if netem else [])  # fmt: skip
    tag = f"{runtime}{rtt_ms}-{random.randrange(10**6)}"
    names = {"keys": f"keys-{tag}", "bot": f"bot-{tag}"}
    queries = {"bot": f"bot=random&bot_pause_ms={plan.bot_pause_ms}&PROLIFIC_PID={names['bot']}",
               "keys": f"PROLIFIC_PID={names['keys']}"}  # fmt: skip
    contexts = [browser.new_context() for _ in queries]
    latency = plan.latency()
    rng = random.Random(plan.seed + rtt_ms)
    try:
        pages = {role: c.new_page() for role, c in zip(queries, contexts, strict=True)}
        for role, page in pages.items():
            page.goto(f"{server.url}/?{queries[role]}", wait_until="commit")
        page = pages["keys"]
        wait_until(page, "window.interactiveGymGame?.state === 'playing'",
                   timeout=LOAD_TIMEOUT_S * 1000)  # fmt: skip
        pressed = []
        for run in range(plan.runs):
            game.wait_episode(page, run, 60)
            wait_warmed_up(page, run, plan.warmup_frames)
            pressed.append(game.press_keys(page, run, latency, rng))
            _log(f"{SECTION} {runtime} RTT {rtt_ms} ms run {run + 1}/{plan.runs}: "
                 f"{pressed[-1]} presses")  # fmt: skip
        frames = game.wait_done(page, (plan.warmup_frames + episode_steps(latency)) / plan.fps + 60)
        for page in pages.values():
            wait_finished(page, 120)
    except Exception as error:
        log = server.log_path.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{runtime} group game at RTT {rtt_ms} ms: {error}\n{log}") from error
    finally:
        for context in contexts:
            context.close()
        server.stop()
    result: dict[str, Any] = {"netem": netem}
    result.update(latency_cell([game.latency_run(frames, r, pressed[r]) for r in range(plan.runs)]))
    if runtime == "browser":
        ticks = input_ticks(server.db_url, set(names.values()))
        members = {role: tick_figures(ticks.get(n, []), plan.fps, plan.warmup_frames)
                   for role, n in names.items()}  # fmt: skip
        result["members"] = members
        for key in ("rollbacks_per_min", "rollback_frames_per_min", "stall_ms_per_min"):
            result[key] = rounded(sum(m[key] for m in members.values()) / len(members), 2)
        gaps = [m["input_gap_max_ms"] for m in members.values() if m["input_gap_max_ms"]]
        result["input_gap_max_ms"] = max(gaps, default=None)
    return result


def wait_warmed_up(page: Any, episode: int, frames: int) -> None:
    """Wait until the episode has shown ``frames`` frames. A group game is "playing" before its
    members pass the start barrier, and a member whose game loaded later joins the episode
    under way (``net_resumed``) while the other waits at its prediction window: a key pressed
    then waits for the game to start, which is not what is measured here."""
    wait_until(page, "([e, n]) => window.interactiveGymGame.frames(1)"
               ".some((f) => f.episode === e && f.step >= n)",
               arg=[episode, frames], timeout=60_000, interval_ms=10)  # fmt: skip


def wait_finished(page: Any, timeout_s: float) -> None:
    """Wait until the page's study is over (its records are stored by then)."""
    wait_until(page, "window.interactiveGym && (window.interactiveGym.finished"
               " || window.interactiveGym.error)", timeout=timeout_s * 1000)  # fmt: skip
    error = page.evaluate("window.interactiveGym.error")
    if error:
        raise RuntimeError(f"the study page failed: {error}")


def latency_cell(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median over runs of each run's latency figures (``game.latency_run``)."""
    return {
        "p50_ms": rounded(median(r["latency_ms"].get("p50", math.nan) for r in runs)),
        "p99_ms": rounded(median(r["latency_ms"].get("p99", math.nan) for r in runs)),
        "to_drawn_p50_ms": rounded(median(r["to_drawn_ms"].get("p50", math.nan) for r in runs)),
        "presses": sum(r["presses"] for r in runs),
        "measured": sum(r["measured"] for r in runs),
        "dropped_ticks": sum(r["dropped_ticks"] for r in runs),
        "runs": runs,
    }


def input_ticks(db_url: str, names: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Each page's per-tick ``input`` records of the game (those with ``netcode`` set)."""
    from interactive_gym.data import Store

    store = Store(db_url)
    try:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in store.iter_records(kind="input", scene_id="game"):
            if r["participant_id"] in names and r["data"].get("netcode"):
                tick = {"episode": r["episode"], **r["data"]}
                out.setdefault(r["participant_id"], []).append(tick)
        return out
    finally:
        store.close()


def tick_figures(ticks: list[dict[str, Any]], fps: int, warmup_frames: int) -> dict[str, Any]:
    """Rollbacks, re-simulated frames and stall time per minute of play, from one page's ticks.

    Counted from the ticks that showed frame ``warmup_frames`` or later (the presses' window);
    the stall time before is ``startup_stalled_ms``. A minute of play is measured by the ticks'
    own clock (``tick_t``, first to last counted tick of each episode, plus one interval).
    ``input_gap_*``: how long the confirmed frame stood still (no new input of the other
    member arrived), the cause of deep predictions and stalls.
    """
    counted = [t for t in ticks if t["shown_frame"] >= warmup_frames]
    if not counted:
        raise RuntimeError(f"a page of the browser group game recorded {len(ticks)} ticks, "
                           f"none past frame {warmup_frames}")  # fmt: skip
    ms = 0.0
    gaps: list[float] = []
    for episode in {t["episode"] for t in counted}:
        mine = [t for t in counted if t["episode"] == episode]
        ms += mine[-1]["tick_t"] - mine[0]["tick_t"] + 1000 / fps
        moved = [t for i, t in enumerate(mine)
                 if i == 0 or t["confirmed_frame"] != mine[i - 1]["confirmed_frame"]]  # fmt: skip
        gaps += [b["tick_t"] - a["tick_t"] for a, b in zip(moved, moved[1:], strict=False)]
    minutes = ms / 60_000
    depths = [t["rollback_frames"] for t in counted if t["rollback_frames"] > 0]
    stalled = sum(t["stalled_ms"] for t in counted)
    worker = [t["worker_ms"] for t in counted if t.get("worker_ms") is not None]
    return {
        "ticks": len(counted),
        "minutes": round(minutes, 4),
        "rollbacks": len(depths),
        "rollback_frames": sum(depths),
        "stalled_ms": round(stalled, 2),
        "stalled_ticks": sum(1 for t in counted if t["stalled_ms"] > 0),
        "prediction_misses": sum(t.get("prediction_misses") or 0 for t in counted),
        "predicted_max": max(t["predicted"] for t in counted),
        "rollback_frames_max": max(depths, default=0),
        "rollbacks_per_min": round(len(depths) / minutes, 2),
        "rollback_frames_per_min": round(sum(depths) / minutes, 2),
        "stall_ms_per_min": round(stalled / minutes, 2),
        "tick_worker_p50_ms": rounded(percentile(worker, 0.5)),
        "tick_worker_p99_ms": rounded(percentile(worker, 0.99)),
        "input_gap_p99_ms": rounded(percentile(gaps, 0.99)),
        "input_gap_max_ms": rounded(max(gaps, default=math.nan)),
        "input_gaps_over_5_frames": sum(1 for g in gaps if g > 5000 / fps),
        "startup_ticks": len(ticks) - len(counted),
        "startup_stalled_ms": round(sum(t["stalled_ms"] for t in ticks) - stalled, 2),
    }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
