"""The ``server.groups`` benchmark: how many 2-person group games one server runs at 30 FPS.

The server is the real one, ``python -m interactive_gym.run study.py`` in its own process on a
fresh SQLite file, serving a study of a ``WaitingRoom`` then a two-person server-runtime game
(``examples/envs/gather.py``, 30 FPS). The members are simulated at the socket level in the
benchmark's process (no browser: httpx and ``light_socket.py``, a Socket.IO client light enough
that 200 of them leave the cores to the server; frames are counted, not decoded), doing what a
page does:
``POST /api/start``, ``study:state``, ``room:join`` (the answer's ``outcome`` or
``room:matched``), ``study:advance`` out of the room, ``game:open``, ``game:episode``,
``game:play``; then a ``game:input`` with a random arrow about every 100 ms, counting the
``game:frame`` messages. Each member starts from its own loopback address (``127.0.x.y``), as
participants arrive from their own networks (the server limits starts per address).

A level of ``n`` pairs: all ``2n`` members send ``room:join`` at once. Once every pair has its
first frame and a one-second warm-up has passed, the games are measured for a few seconds; the
figures come from the groups' canonical step records in the database (owner: the group id),
for the steps made within that window:

- ``dropped_ticks`` and ``tick_late_ms`` (slot due → tick started) of every step;
- the frame fan-out: ``prev_fanout_ms`` (``server/group_clock.py``), the server's time from a
  frame being ready (the env's reply) until it was handed to every member's socket.

A level passes when every pair started, no tick was dropped and the p99 fan-out is under 5 ms.
The capacity is the largest level that passed (the levels go up until one fails). Target:
≥ 50 pairs. Also reported: the time from the pair's second ``room:join`` to the moment both
members have the game's first frame (p50 and p95 over the pairs), the frames each member
received per second, and the CPU share of the server (its main process; the env workers are
separate) and of the simulated members, which share this machine's cores with it.

    python -m interactive_gym.bench --quick --only server.groups
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interactive_gym.bench.report import Row, status
from interactive_gym.bench.stats import percentile, rounded
from interactive_gym.local_server import StudyProcess

FPS = 30
MAX_P99_FANOUT_MS = 5.0
WARM_UP_S = 1.0
TARGET_PAIRS = 50
INPUT_EVERY_S = 0.1
CALL_TIMEOUT_S = 60.0
#: Members starting from one loopback address (the server allows 60 starts at once per address).
PER_ADDRESS = 40
ARROWS = {"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4}


@dataclass(frozen=True)
class Plan:
    levels: tuple[int, ...]
    seconds: float


QUICK = Plan((10, 25, 50), seconds=5)
FULL = Plan((25, 50, 75, 100), seconds=10)

STUDY = """\
from interactive_gym.study import EndScene, Experiment, GymScene, WaitingRoom

experiment = Experiment(
    "bench_groups",
    [
        WaitingRoom("lobby", countdown_s=0),
        GymScene(
            "game",
            runtime="server",
            env_file={env_file!r},
            env_config={{"players": 2, "max_steps": 100000}},
            agents={{0: "human", 1: "human"}},
            controls={controls!r},
            fps={fps},
            episodes=1,
            max_steps={max_steps},
            countdown_s=0,
            pause_after_episode_s=0,
        ),
        EndScene(),
    ],
    participant_id_param="PROLIFIC_PID",
)
"""


def write_study(folder: Path, seconds: float) -> Path:
    from interactive_gym.examples import envs

    env_file = Path(envs.__path__[0]) / "gather.py"
    max_steps = int(FPS * (seconds + 600))  # the run ends long before the episode does
    source = STUDY.format(env_file=str(env_file.resolve()), controls=ARROWS, fps=FPS,
                          max_steps=max_steps)  # fmt: skip
    path = folder / "study.py"
    path.write_text(source)
    return path


def study_server(folder: Path, study: Path) -> StudyProcess:
    """The real server of ``study`` in its own process (wheelhouse: none needed)."""
    return StudyProcess(folder, study, wheelhouse=folder / "wheels")


@dataclass
class Member:
    """One simulated participant's page."""

    name: str
    address: str
    client: Any = None
    group_id: str | None = None
    joined_at: float | None = None  # when room:join was sent (monotonic)
    first_frame_at: float | None = None
    frames: int = 0
    seq: int = 0
    refusals: list[str] = field(default_factory=list)
    matched: asyncio.Future[dict[str, Any]] | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)


async def _connect(url: str, member: Member) -> None:
    """``POST /api/start`` and the study socket, as the page opens them (not timed)."""
    import httpx

    from interactive_gym.bench.light_socket import LightSocket

    transport = httpx.AsyncHTTPTransport(local_address=member.address)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as http:
        response = await http.post("/api/start", json={"params": {"PROLIFIC_PID": member.name}})
        response.raise_for_status()
        token = response.json()["token"]
    client = LightSocket(member.address)
    loop = asyncio.get_running_loop()
    member.matched = loop.create_future()

    def on_matched(message: dict[str, Any]) -> None:
        if message.get("scene_id") == "lobby" and not member.matched.done():  # type: ignore[union-attr]
            member.matched.set_result(message)  # type: ignore[union-attr]

    def on_count(event: str) -> None:
        if event != "game:frame":
            return
        member.frames += 1
        if member.first_frame_at is None:
            member.first_frame_at = time.monotonic()
            member.started.set()

    client.on("room:matched", on_matched)
    client.on_count = on_count
    await client.connect(url, {"token": token, "tab": uuid.uuid4().hex})
    member.client = client


async def _call(member: Member, event: str, payload: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = await member.client.call(event, payload, CALL_TIMEOUT_S)
    if not answer.get("ok", True) or answer.get("error"):
        raise RuntimeError(f"{member.name} {event}: {answer}")
    return answer


async def _arrive(member: Member) -> None:
    """The page's way from the waiting room into the game (``study:state`` → ``game:play``)."""
    state = await _call(member, "study:state")
    current = state["scenes"][state["index"]]
    if current.get("scene_id") != "lobby":
        raise RuntimeError(f"{member.name}: the current scene is {current.get('scene_id')!r}")
    member.joined_at = time.monotonic()
    answer = await _call(member, "room:join", {"scene_id": "lobby"})
    outcome = answer.get("outcome")
    if outcome is None:
        assert member.matched is not None
        matched = await asyncio.wait_for(member.matched, CALL_TIMEOUT_S)
        outcome = {"kind": "matched", "group_id": matched["group_id"]}
    if outcome.get("kind") != "matched":
        raise RuntimeError(f"{member.name}: the wait ended with {outcome}")
    member.group_id = str(outcome["group_id"])
    response = {"outcome": "matched", "group_id": member.group_id}
    await _call(member, "study:advance", {"scene_id": "lobby", "response": response})
    await _call(member, "game:open", {"scene_id": "game"})
    await _call(member, "game:episode", {"scene_id": "game", "episode": 0, "attempt": 0})
    await _call(member, "game:play", {"scene_id": "game", "episode": 0})


async def _press_keys(member: Member, rng: random.Random) -> None:
    """A random arrow about every 100 ms (``game:input``, no acknowledgement asked)."""
    await asyncio.sleep(rng.uniform(0, INPUT_EVERY_S))
    while True:
        key = rng.choice(list(ARROWS))
        member.seq += 1
        payload = {"scene_id": "game", "episode": 0, "seq": member.seq, "action": ARROWS[key],
                   "keys": key, "t": time.monotonic() * 1000}  # fmt: skip
        await member.client.emit("game:input", payload)
        await asyncio.sleep(INPUT_EVERY_S * rng.uniform(0.8, 1.2))


async def _play_level(url: str, pairs: int, seconds: float, server_pid: int) -> dict[str, Any]:
    """Members of ``pairs`` groups arrive at once, play, and are measured (client side)."""
    from interactive_gym.bench.ingest import cpu_seconds
    from interactive_gym.bench.machine import cpu_pressure_seconds

    members = [
        Member(f"m{i:04d}", f"127.0.{1 + i // PER_ADDRESS // 250}.{1 + i // PER_ADDRESS % 250}")
        for i in range(2 * pairs)
    ]
    gate = asyncio.Semaphore(16)

    async def connect(member: Member) -> None:
        async with gate:
            await _connect(url, member)

    inputs: list[asyncio.Task[None]] = []
    try:
        await asyncio.gather(*(connect(m) for m in members))
        arrivals = await asyncio.gather(*(_arrive(m) for m in members), return_exceptions=True)
        errors = [f"{type(e).__name__}: {e}" for e in arrivals if isinstance(e, BaseException)]
        rng = random.Random(pairs)
        inputs = [asyncio.create_task(_press_keys(m, random.Random(rng.random())))
                  for m in members if m.group_id is not None]  # fmt: skip
        try:
            await asyncio.wait_for(
                asyncio.gather(*(m.started.wait() for m in members if m.group_id is not None)),
                CALL_TIMEOUT_S,
            )
        except TimeoutError:
            errors.append("not every member had a frame within 60 s")
        await asyncio.sleep(WARM_UP_S)
        frames0 = sum(m.frames for m in members)
        start = (time.monotonic(), time.time(), time.process_time(), cpu_seconds(server_pid),
                 cpu_pressure_seconds())  # fmt: skip
        await asyncio.sleep(seconds)
        end = (time.monotonic(), time.time(), time.process_time(), cpu_seconds(server_pid),
               cpu_pressure_seconds())  # fmt: skip
        frames = sum(m.frames for m in members) - frames0
        await asyncio.sleep(1.5)  # the window's step records reach the database (chunks of 1 s)
    finally:
        for task in inputs:
            task.cancel()
        await asyncio.gather(*inputs, return_exceptions=True)
        await asyncio.gather(
            *(m.client.close() for m in members if m.client is not None),
            return_exceptions=True,
        )
    wall = end[0] - start[0]
    by_group: dict[str, list[Member]] = {}
    for m in members:
        if m.group_id is not None:
            by_group.setdefault(m.group_id, []).append(m)
    to_first_frame = [
        (max(m.first_frame_at for m in group) - max(m.joined_at for m in group)) * 1000  # type: ignore[type-var, operator]
        for group in by_group.values()
        if len(group) == 2 and all(m.first_frame_at and m.joined_at for m in group)
    ]
    pressure = None if start[4] is None or end[4] is None else (end[4] - start[4]) / wall
    return {
        "errors": errors[:5],
        "groups": sorted(g for g, ms in by_group.items() if len(ms) == 2),
        "started": len(to_first_frame),
        "window_ms": (start[1] * 1000, end[1] * 1000),
        "wall": wall,
        "to_first_frame_ms": to_first_frame,
        "frames_per_member_s": frames / wall / len(members),
        "members_cpu_share": (end[2] - start[2]) / wall,
        "server_cpu_share": (end[3] - start[3]) / wall,
        "cpu_pressure_share": pressure,
    }


def _steps(db_url: str, groups: list[str], window: tuple[float, float]) -> list[dict[str, Any]]:
    """The groups' step records made within the window (their data)."""
    from interactive_gym.data import Store

    wanted = set(groups)
    store = Store(db_url)
    try:
        return [r["data"] for r in store.iter_records(kind="step", scene_id="game")
                if r["participant_id"] in wanted and window[0] <= r["t"] <= window[1]]  # fmt: skip
    finally:
        store.close()


def run_level(pairs: int, seconds: float, folder: Path) -> dict[str, Any]:
    """One level: a fresh server and database, ``pairs`` pairs arriving at once."""
    from interactive_gym.bench.ingest import raise_file_limit

    raise_file_limit()
    here = folder / f"pairs_{pairs}"
    here.mkdir()
    server = study_server(here, write_study(here, seconds))
    try:
        played = asyncio.run(_play_level(server.url, pairs, seconds, server.process.pid))
    finally:
        server.stop()
    steps = _steps(server.db_url, played["groups"], played["window_ms"])
    late = [s["tick_late_ms"] for s in steps if s.get("tick_late_ms") is not None]
    fanout = [s["prev_fanout_ms"] for s in steps if s.get("prev_fanout_ms") is not None]
    dropped = sum(int(s.get("dropped_ticks") or 0) for s in steps)
    fanout_p99 = percentile(fanout, 0.99) if fanout else None
    first = played["to_first_frame_ms"]
    passed = (
        not played["errors"]
        and played["started"] == pairs
        and dropped == 0
        and fanout_p99 is not None
        and fanout_p99 < MAX_P99_FANOUT_MS
    )
    return {
        "pairs": pairs,
        "started_pairs": played["started"],
        "steps": len(steps),
        "steps_per_pair_s": rounded(len(steps) / played["wall"] / pairs),
        "dropped_ticks": dropped,
        "late_p50_ms": rounded(percentile(late, 0.5)) if late else None,
        "late_p99_ms": rounded(percentile(late, 0.99)) if late else None,
        "fanout_p50_ms": rounded(percentile(fanout, 0.5)) if fanout else None,
        "fanout_p99_ms": rounded(fanout_p99) if fanout_p99 is not None else None,
        "fanout_max_ms": rounded(max(fanout)) if fanout else None,
        "to_first_frame_p50_ms": rounded(percentile(first, 0.5), 1) if first else None,
        "to_first_frame_p95_ms": rounded(percentile(first, 0.95), 1) if first else None,
        "frames_per_member_s": rounded(played["frames_per_member_s"], 2),
        "server_cpu_share": rounded(played["server_cpu_share"]),
        "members_cpu_share": rounded(played["members_cpu_share"]),
        "cpu_pressure_share": rounded(played["cpu_pressure_share"])
        if played["cpu_pressure_share"] is not None
        else None,
        "errors": played["errors"],
        "passed": passed,
    }


def run_groups_benchmark(quick: bool, plan: Plan | None = None) -> dict[str, Any]:
    """``{"capacity": pairs, "target": 50, "runs": [...], ...}``: the levels up to the first
    that failed."""
    plan = plan or (QUICK if quick else FULL)
    runs = []
    with tempfile.TemporaryDirectory(prefix="ig-groups-") as tmp:
        for pairs in plan.levels:
            print(f"server.groups: {pairs} pairs", file=sys.stderr, flush=True)
            run = run_level(pairs, plan.seconds, Path(tmp))
            runs.append(run)
            if not run["passed"]:
                break
    return {
        "capacity": max((r["pairs"] for r in runs if r["passed"]), default=0),
        "target": TARGET_PAIRS,
        "fps": FPS,
        "seconds": plan.seconds,
        "max_p99_fanout_ms": MAX_P99_FANOUT_MS,
        "env_workers": os.cpu_count(),
        "runs": runs,
    }


def groups_rows(report: dict[str, Any]) -> list[Row]:
    groups = report["server"]["groups"]
    rows = [
        Row("server.groups", f"2-person games at {FPS} FPS, 0 dropped, p99 fan-out < 5 ms",
            groups["capacity"], "pairs", f"≥ {groups['target']}",
            status(groups["capacity"] >= groups["target"])),
    ]  # fmt: skip
    for run in groups["runs"]:
        label = f"  {run['pairs']} pairs:"
        rows += [
            Row("server.groups", f"{label} p99 fan-out / p99 tick late",
                f"{run['fanout_p99_ms']} / {run['late_p99_ms']} ms", "", "< 5 ms / -",
                status(bool(run["passed"]))),
            Row("server.groups", f"{label} dropped ticks / pairs started",
                f"{run['dropped_ticks']} / {run['started_pairs']}", "", f"0 / {run['pairs']}"),
            Row("server.groups", f"{label} join → first frame p50 / p95",
                f"{run['to_first_frame_p50_ms']} / {run['to_first_frame_p95_ms']} ms"),
        ]  # fmt: skip
    return rows
