"""The ``server.capacity`` benchmark: how many server-runtime games one machine runs at 30 FPS.

Each level runs ``n`` games at once for a few seconds through the server's own parts: the env
pool (one worker process per core), the games' shared clock (``server/game_clock.py``), the
step records written to a real SQLite database through the chunk writer, and every frame
serialised as the socket would send it (python-socketio's packet encoding with the server's
serializer, image bytes as binary attachments). Only the network send itself is left out, so
the figure is what the server can compute and hand to its sockets.

A level passes with no dropped ticks and a p99 tick lateness (slot due → tick started) under
5 ms, measured after a one-second warm-up (all games start in the same instant). Two kinds of game:

- **draw**: ``examples/envs/physics_duel.py`` (draw lists), a person (no keys pressed) against
  the random agent. Target: ≥ 100 games.
- **rgb**: Gymnasium's ``CartPole-v1`` with ``rgb_array`` frames (600×400), JPEG at the default
  quality, played by a participant who balances the pole: every 20 ms each game gets the key a
  simple controller presses for its latest observation, as ``game:input`` would bring it, so
  episodes last hundreds of steps as they do with a person playing well (an unplayed CartPole
  falls within a dozen steps, and the benchmark would measure resets instead). Target: ≥ 20
  games.

The capacity is the largest level that passed; the levels go up until one fails.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interactive_gym.bench.report import Row, status
from interactive_gym.bench.stats import percentile, rounded

FPS = 30
MAX_P99_LATE_MS = 5.0
WARM_UP_S = 1.0
TARGETS = {"draw": 100, "rgb": 20}
#: Episodes each game may play: a CartPole episode with nobody pressing keys lasts about ten
#: steps, and each game starts its next episode as soon as one ends (a reset, as a participant's
#: next episode would).
EPISODES = 1_000


@dataclass(frozen=True)
class Plan:
    levels: dict[str, tuple[int, ...]]
    seconds: float


QUICK = Plan({"draw": (50, 100), "rgb": (10, 20)}, seconds=4)
FULL = Plan({"draw": (50, 100, 125, 150, 200), "rgb": (10, 15, 20, 25, 30)}, seconds=10)


def _scene(kind: str) -> Any:
    from interactive_gym.examples import __file__ as examples_init
    from interactive_gym.study import EndScene, Experiment, GymScene

    if kind == "draw":
        game = GymScene(
            "game",
            runtime="server",
            env_file="envs/physics_duel.py",
            env_config={"goals_to_win": 1_000_000, "max_steps": 10_000_000},
            agents={0: "human", 1: "random"},
            controls={"ArrowUp": 1, "ArrowDown": 2},
            num_actions=9,
            fps=FPS,
            episodes=EPISODES,
        )
    else:
        game = GymScene(
            "game",
            runtime="server",
            env_id="CartPole-v1",
            env_config={"max_episode_steps": 1_000_000},
            agents={"player": "human"},
            controls={"ArrowLeft": 0, "ArrowRight": 1},
            fps=FPS,
            episodes=EPISODES,
            record_observations=True,
        )
    experiment = Experiment(
        f"capacity_{kind}", [game, EndScene()], base_dir=Path(examples_init).parent
    )
    return experiment.scene("game")


def _encoder() -> Any:
    """Encode an event as python-socketio sends it (packet text and binary attachments)."""
    from socketio import packet

    from interactive_gym.server.wire_json import WirePacket

    def encode(event: str, payload: dict[str, Any]) -> int:
        encoded = WirePacket(packet.EVENT, data=[event, payload]).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        return sum(len(p) for p in parts)

    return encode


async def _level(kind: str, n: int, seconds: float, folder: Path) -> dict[str, Any]:
    from interactive_gym.data import Store
    from interactive_gym.data.writer import ChunkWriter
    from interactive_gym.server.env_pool import EnvPool
    from interactive_gym.server.game_clock import GameClock
    from interactive_gym.server.game_records import GameRecords, ServerSeqs
    from interactive_gym.server.ingest import tune_gc
    from interactive_gym.server.metronome import Metronome
    from interactive_gym.study.scene import ParticipantContext

    tune_gc()  # as the server does at its first connection
    scene = _scene(kind)
    store = Store(f"sqlite:///{folder / f'{kind}_{n}.db'}")
    writer = ChunkWriter(store)
    seqs = ServerSeqs(store)
    pool = EnvPool(max(1, os.cpu_count() or 1))
    await pool.start()
    encode = _encoder()
    sent = {"frames": 0, "bytes": 0}

    async def emit(event: str, payload: dict[str, Any]) -> None:
        sent["bytes"] += encode(event, payload)
        sent["frames"] += event == "game:frame"

    clocks: list[GameClock] = []
    metronome = Metronome(FPS)
    try:
        for i in range(n):
            pid = f"{kind}{i}"
            ctx = ParticipantContext(pid, scene.scene_id, i)
            info = await pool.open(pid, scene.game_spec(ctx))
            records = GameRecords(writer, seqs, pid, scene.scene_id, flush_every=FPS)
            seeds = scene.episode_seeds(ctx)
            clock = GameClock(pool=pool, game_id=pid, scene=scene, seeds=seeds, records=records,
                              emit=emit, info=info, metronome=metronome)  # fmt: skip
            await clock.start_episode(0, 1)
            clocks.append(clock)
        for clock in clocks:
            clock.play()
        await _keep_playing(clocks, WARM_UP_S)  # every game starts at once: let that settle
        seen = {id(c): (c.stats.dropped, len(c.stats.late_ms)) for c in clocks}
        cpu0, wall0 = time.process_time(), time.monotonic()
        ticks0 = sum(c.stats.ticks for c in clocks)
        await _keep_playing(clocks, seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        late = [ms for c in clocks for ms in c.stats.late_ms[seen[id(c)][1] :]]
        ticks = sum(c.stats.ticks for c in clocks) - ticks0
        dropped = sum(c.stats.dropped - seen[id(c)][0] for c in clocks)
        failed = sum(1 for c in clocks if c.failed)
        p99 = percentile(late, 0.99) if late else None
        passed = dropped == 0 and failed == 0 and p99 is not None and p99 < MAX_P99_LATE_MS
        return {
            "games": n,
            "ticks_per_s": rounded(ticks / wall),
            "dropped_ticks": dropped,
            "failed_games": failed,
            "late_p50_ms": rounded(percentile(late, 0.5)) if late else None,
            "late_p99_ms": rounded(p99) if p99 is not None else None,
            "bytes_per_frame": round(sent["bytes"] / max(1, sent["frames"])),
            "server_cpu_share": rounded(cpu / wall),
            "passed": passed,
        }
    finally:
        for clock in clocks:
            await clock.close()
        await metronome.stop()
        await pool.shutdown()
        writer.close()
        store.close()


async def _keep_playing(clocks: list[Any], seconds: float) -> None:
    """Let the games play for ``seconds``: the balancing participant's keys (CartPole), and
    each game's next episode as soon as one ends."""
    from interactive_gym.server.game_clock import Input

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    for clock in clocks:
        clock.bench_episode = getattr(clock, "bench_episode", 0)
    while loop.time() < deadline:
        await asyncio.sleep(0.02)
        for clock in clocks:
            run = clock.run
            if clock.failed is not None or run is None:
                continue
            if run.summary is not None:
                clock.bench_episode += 1
                await clock.start_episode(clock.bench_episode, 1)
                clock.play()
            elif run.last is not None and isinstance(run.last.get("observation"), list):
                action = _balance(run.last["observation"])
                clock.input(Input(clock.input_seq + 1, action, "", loop.time() * 1000))


def _balance(observation: list[float]) -> int:
    """CartPole's push (0 left, 1 right) that keeps the pole up: follow its lean."""
    _, _, angle, angular_velocity = observation
    return 1 if angle + 0.5 * angular_velocity > 0 else 0


def run_capacity_benchmark(quick: bool) -> dict[str, Any]:
    """``{"draw": {...}, "rgb": {...}}``: each kind's levels and its capacity."""
    plan = QUICK if quick else FULL
    result: dict[str, Any] = {"fps": FPS, "max_p99_late_ms": MAX_P99_LATE_MS,
                              "env_workers": os.cpu_count()}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ig-capacity-") as tmp:
        for kind, levels in plan.levels.items():
            runs = []
            for n in levels:
                run = asyncio.run(_level(kind, n, plan.seconds, Path(tmp)))
                runs.append(run)
                if not run["passed"]:
                    break
            best = max((r["games"] for r in runs if r["passed"]), default=0)
            result[kind] = {"capacity": best, "target": TARGETS[kind], "runs": runs}
    return result


def capacity_rows(report: dict[str, Any]) -> list[Row]:
    capacity = report["server"]["capacity"]
    rows = []
    for kind, label in (("draw", "draw-list games"), ("rgb", "rgb games (CartPole 600×400)")):
        part = capacity[kind]
        rows.append(
            Row("server.capacity", f"{label} at {FPS} FPS, 0 dropped, p99 late < 5 ms",
                part["capacity"], "", f"≥ {part['target']}",
                status(part["capacity"] >= part["target"]))
        )  # fmt: skip
        for run in part["runs"]:
            rows.append(
                Row("server.capacity", f"  {run['games']} games: p99 late / dropped",
                    f"{run['late_p99_ms']} ms / {run['dropped_ticks']}", "", "", "")
            )  # fmt: skip
    return rows
