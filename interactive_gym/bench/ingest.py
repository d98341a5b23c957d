"""The ``server.ingest`` benchmark: how many participants can stream step records at once.

N simulated participants (python-socketio clients speaking the uploader's protocol, no browser)
each produce 30 step records per second and upload them the way the browser does: a chunk every
500 ms (the uploader's default), resent when no acknowledgement comes. The server is the real
app under uvicorn, in its own process, on a loopback port, with a fresh SQLite file (the default
database). Afterwards the database is checked record by record.

A level passes with zero lost records, zero duplicated records and a p99 acknowledgement latency
of at most 200 ms. The figure is the largest N that passes, with the server's CPU use.

    python -m interactive_gym.bench.ingest [--quick] [--levels 100,250,500] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from interactive_gym.bench.machine import cpu_pressure_seconds
from interactive_gym.local_server import free_port

RATE_HZ = 30
CHUNK_EVERY_S = 0.5  # the browser uploader's default flushIntervalMs
ACK_TIMEOUT_S = 10.0
P99_LIMIT_MS = 200.0
FULL_LEVELS = (100, 250, 500, 750, 1000, 1250)
QUICK_LEVELS = (50, 150)
#: A level that fails on latency while tasks waited for a CPU this share of the time is rerun.
BUSY_PRESSURE_PERCENT = 20.0


@dataclass
class Level:
    """The outcome of one run with ``n`` participants."""

    n: int
    duration_s: float
    produced: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    acks: int = 0
    refused: int = 0
    resent: int = 0
    connect_failures: int = 0
    p50_ack_ms: float = 0.0
    p99_ack_ms: float = 0.0
    max_ack_ms: float = 0.0
    server_cpu_percent: float = 0.0
    client_cpu_percent: float = 0.0
    #: Share of the run during which runnable tasks waited for a CPU (Linux PSI "some"):
    #: high values mean the machine was busy with other work and the figures are pessimistic.
    machine_cpu_pressure_percent: float | None = None
    client_loop_lag_p99_ms: float = 0.0
    passed: bool = False


@dataclass
class Participant:
    """One simulated participant's upload state."""

    participant_id: str
    token: str
    produced: int = 0
    seq: int = 0
    #: seq → (payload, first send time, last send time)
    pending: dict[int, tuple[dict, float, float]] = field(default_factory=dict)
    #: Records acknowledged so far (a chunk counts once, at its first acknowledgement).
    acked: int = 0
    #: Called after each chunk's first acknowledgement, with ``acked`` already counted.
    on_acked: Callable[[Participant], None] | None = None


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: The benchmark's study: one game scene whose step records the participants stream.
BENCH_EXPERIMENT = "bench"


def bench_study() -> Any:
    """The study the benchmark server serves (its scene ``game`` takes every streamed step)."""
    from interactive_gym.examples import envs
    from interactive_gym.study import EndScene, Experiment, GymScene

    game = GymScene(
        "game",
        env_file="physics_duel.py",
        agents={0: "human"},
        controls={"ArrowUp": 1},
        num_actions=9,
        episodes=1000,
    )
    return Experiment(BENCH_EXPERIMENT, scenes=[game, EndScene()], base_dir=envs.__path__[0])


def step_record(n: int) -> dict[str, Any]:
    """A step record of a typical size (a small observation, action, reward, flags)."""
    return {
        "kind": "step",
        "scene_id": "game",
        "episode": n // 600,
        "step": n % 600,
        "t": time.time() * 1000,
        "data": {
            "action": n % 5,
            "reward": 0.0 if n % 7 else 1.0,
            "terminated": False,
            "truncated": False,
            "obs": [round(random.random(), 4) for _ in range(8)],
        },
    }


@dataclass
class Phases:
    """Connect everyone first, then stream together: latency is measured with all N online."""

    go: asyncio.Event = field(default_factory=asyncio.Event)
    settled: int = 0  # participants connected or given up
    stop_at: float = 0.0


async def participant_run(
    p: Participant, url: str, phases: Phases, level: Level, latencies: list
) -> None:
    import socketio

    loop = asyncio.get_running_loop()
    client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5)

    def on_ack(seq: int, ack: Any) -> None:
        entry = p.pending.get(seq)
        if entry is None:
            return
        if isinstance(ack, dict) and ack.get("ok") is True:
            del p.pending[seq]
            level.acks += 1
            latencies.append((loop.time() - entry[1]) * 1000)
            p.acked += len(entry[0]["records"])
            if p.on_acked is not None:
                p.on_acked(p)
        else:
            level.refused += 1

    async def send(seq: int, payload: dict) -> None:
        try:
            await client.emit("chunk", payload, callback=lambda ack=None: on_ack(seq, ack))
        except Exception:  # noqa: BLE001 - disconnected: resent after the timeout
            pass

    for attempt in range(5):
        try:
            await client.connect(
                url, auth={"token": p.token}, transports=["websocket"], wait_timeout=30
            )
            break
        except Exception:  # noqa: BLE001
            if attempt == 4:
                level.connect_failures += 1
                phases.settled += 1
                return
            await asyncio.sleep(0.5 + random.random())
    phases.settled += 1
    await phases.go.wait()
    stop_at = phases.stop_at
    start = loop.time()
    await asyncio.sleep(random.random() * CHUNK_EVERY_S)  # participants are not in lockstep
    while True:
        now = loop.time()
        producing = now < stop_at
        if producing:
            due = int((now - start) * RATE_HZ) - p.produced
            if due > 0:
                records = [step_record(p.produced + i) for i in range(due)]
                p.produced += due
                payload = {"seq": p.seq, "id": f"{p.participant_id}-{p.seq}", "records": records}
                p.pending[p.seq] = (payload, now, now)
                await send(p.seq, payload)
                p.seq += 1
        elif not p.pending or now > stop_at + 60:
            break
        for seq, (payload, first, last) in list(p.pending.items()):
            if now - last > ACK_TIMEOUT_S:
                p.pending[seq] = (payload, first, now)
                level.resent += 1
                await send(seq, payload)
        await asyncio.sleep(CHUNK_EVERY_S)
    await client.disconnect()


async def watch_loop_lag(lags: list[float]) -> None:
    """How late the client's own event loop wakes up (its lag inflates measured latencies)."""
    while True:
        start = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append((time.perf_counter() - start - 0.05) * 1000)


@dataclass
class Usage:
    """CPU counters at one moment, to measure the streaming window alone."""

    wall: float
    server: float
    client: float
    stall: float | None

    @classmethod
    def now(cls, server_pid: int) -> Usage:
        return cls(
            time.monotonic(), cpu_seconds(server_pid), time.process_time(), cpu_pressure_seconds()
        )


def record_usage(level: Level, start: Usage, end: Usage) -> None:
    wall = end.wall - start.wall
    level.server_cpu_percent = round(100 * (end.server - start.server) / wall, 1)
    level.client_cpu_percent = round(100 * (end.client - start.client) / wall, 1)
    if start.stall is not None and end.stall is not None:
        level.machine_cpu_pressure_percent = round(100 * (end.stall - start.stall) / wall, 1)


async def stream(
    url: str, participants: list[Participant], level: Level, server_pid: int
) -> list[float]:
    latencies: list[float] = []
    lags: list[float] = []
    watcher = asyncio.create_task(watch_loop_lag(lags))
    loop = asyncio.get_running_loop()
    phases = Phases()
    # Connect gradually (a study's participants do not arrive in the same millisecond) ...
    tasks = []
    for p in participants:
        tasks.append(asyncio.create_task(participant_run(p, url, phases, level, latencies)))
        await asyncio.sleep(1 / 200)
    while phases.settled < len(participants):
        await asyncio.sleep(0.05)
    # ... then everyone streams for the duration.
    lags.clear()
    phases.stop_at = loop.time() + level.duration_s
    phases.go.set()
    start = Usage.now(server_pid)
    await asyncio.sleep(level.duration_s)
    record_usage(level, start, Usage.now(server_pid))
    await asyncio.gather(*tasks)
    watcher.cancel()
    level.client_loop_lag_p99_ms = round(percentile(lags, 0.99), 1)
    return latencies


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_server(db_url: str, secret: str, port: int, log_path: Path) -> subprocess.Popen:
    """The real app under uvicorn in its own process; its log goes to ``log_path``."""
    command = [
        *(sys.executable, "-m", "interactive_gym.bench.ingest"),
        *("--serve", str(port), "--db", db_url),
    ]
    env = {**os.environ, "IG_BENCH_SECRET": secret}
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"benchmark server exited: {log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("benchmark server did not start within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


def enrol(store: Any, secret: str, n: int) -> list[Participant]:
    """Create ``n`` participants of the benchmark's study, each with a token for ``secret``."""
    from interactive_gym.server.tokens import TokenSigner

    signer = TokenSigner(secret, BENCH_EXPERIMENT)
    participants = []
    for i in range(n):
        pid = f"bench-{i:05d}"
        store.create_participant(
            pid,
            BENCH_EXPERIMENT,
            condition=None,
            url_params={},
            seed=i,
            scene_order=["game", "end"],
        )
        participants.append(Participant(pid, signer.issue(pid)))
    return participants


def record_latencies(level: Level, latencies: list[float]) -> None:
    level.p50_ack_ms = round(percentile(latencies, 0.50), 1)
    level.p99_ack_ms = round(percentile(latencies, 0.99), 1)
    level.max_ack_ms = round(max(latencies, default=0.0), 1)


def run_level(n: int, duration_s: float) -> Level:
    """One run: a fresh database and server, ``n`` participants for ``duration_s``."""
    from interactive_gym.data import Store

    level = Level(n=n, duration_s=duration_s)
    with tempfile.TemporaryDirectory(prefix="ig-bench-ingest-") as folder:
        db_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        secret = os.urandom(24).hex()
        store = Store(db_url)
        participants = enrol(store, secret, n)
        port = free_port()
        server = start_server(db_url, secret, port, Path(folder) / "server.log")
        try:
            url = f"http://127.0.0.1:{port}"
            latencies = asyncio.run(stream(url, participants, level, server.pid))
        finally:
            stop_server(server)
        check(store, participants, level)
        store.close()
    record_latencies(level, latencies)
    level.passed = (
        level.lost == 0
        and level.duplicated == 0
        and level.connect_failures == 0
        and level.p99_ack_ms <= P99_LIMIT_MS
    )
    return level


def check(store: Any, participants: list[Participant], level: Level) -> None:
    """Compare what every participant produced with what the database holds."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT participant_id, episode, step, COUNT(*) FROM records GROUP BY 1, 2, 3")
        ).all()
    counts: dict[str, dict[int, int]] = {}
    for pid, episode, step, count in rows:
        counts.setdefault(pid, {})[episode * 600 + step] = count
    for p in participants:
        have = counts.get(p.participant_id, {})
        level.produced += p.produced
        level.stored += sum(have.values())
        level.lost += sum(1 for n in range(p.produced) if n not in have)
        level.duplicated += sum(c - 1 for c in have.values() if c > 1)


def busy(level: Level) -> bool:
    """Whether a level failed on latency alone while other work kept the CPUs busy."""
    pressure = level.machine_cpu_pressure_percent
    return (
        level.lost == 0
        and level.duplicated == 0
        and pressure is not None
        and pressure > BUSY_PRESSURE_PERCENT
    )


def run_ingest_benchmark(
    quick: bool = False, *, levels: tuple[int, ...] | None = None, duration_s: float | None = None
) -> dict[str, Any]:
    """Run increasing numbers of participants until one fails; returns the figure and every run.

    A level that failed on latency alone while the machine was busy with other work (CPU
    pressure over 20 %) is run once more; every run is in ``runs``.

    Returns ``{"max_participants": N, "runs": [{"n", "p99_ack_ms", "lost", "duplicated",
    "server_cpu_percent", ...}], ...}``; N is 0 when even the smallest level failed.
    """
    raise_file_limit()
    levels = levels or (QUICK_LEVELS if quick else FULL_LEVELS)
    duration_s = duration_s or (6.0 if quick else 60.0)
    runs: list[Level] = []
    best = 0
    for n in levels:
        level = run_level(n, duration_s)
        runs.append(level)
        print(json.dumps(asdict(level)), file=sys.stderr, flush=True)
        if not level.passed and busy(level):
            # Other work took the CPUs: one more try (both runs are reported).
            level = run_level(n, duration_s)
            runs.append(level)
            print(json.dumps(asdict(level)), file=sys.stderr, flush=True)
        if not level.passed:
            break
        best = n
    return {
        "benchmark": "server.ingest",
        "database": "sqlite (WAL)",
        "records_per_second_per_participant": RATE_HZ,
        "chunk_interval_ms": int(CHUNK_EVERY_S * 1000),
        "duration_s": duration_s,
        "p99_limit_ms": P99_LIMIT_MS,
        "cpu_count": os.cpu_count(),
        "max_participants": best,
        "runs": [asdict(level) for level in runs],
    }


def serve(port: int, db_url: str) -> None:
    """The server side of the benchmark: the real app under uvicorn."""
    import logging

    import uvicorn

    from interactive_gym.server import Settings, create_app

    raise_file_limit()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(port=port, db_url=db_url, secret=os.environ["IG_BENCH_SECRET"])
    app = create_app(settings, bench_study())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.bench.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short runs with few participants")
    parser.add_argument("--levels", help="comma-separated participant counts to try in order")
    parser.add_argument("--duration", type=float, help="seconds of streaming per level")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.db)
        return
    levels = tuple(int(x) for x in args.levels.split(",")) if args.levels else None
    result = run_ingest_benchmark(args.quick, levels=levels, duration_s=args.duration)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
