"""The ``server.admin`` benchmark: what a researcher watching ``/admin`` costs, and how live it is.

The load is the ingest benchmark's (:mod:`interactive_gym.bench.ingest`): N simulated
participants stream 30 step records a second each, in a chunk every 500 ms, to the real app
under uvicorn in its own process, with a fresh SQLite file and an admin password set. Runs
without and with one admin connected alternate (off, on, off, on, …), each on a fresh server, so
that the machine's noise falls on both alike. The admin logs in like a browser (``GET /admin``
for the login form's hidden token and cookie, ``POST /admin/login``, ``GET /admin`` for the
console's CSRF token), then opens the ``/admin`` socket, receives ``overview``, asks for
``games`` (``view``, as a console showing its Games tab: the costliest) and ``watch``\\ es one
streaming participant (``participant`` pushes).

Figures:

- server CPU (user + system time of the server process over the streaming window, percent of
  one core) of every run; the overhead is ``on / off - 1`` of each side-by-side pair, and the
  figure is the median over pairs (target: below 10 %). The live monitor is fed by every
  stored chunk whether an admin is connected or not, so it is in both runs; its own cost at
  this load is measured apart, in this process (``monitor``), as is the CPU time of one round
  of pushes (the three views and their JSON) over the last run's database (``push_cost``):
  they say where the cost goes when the side-by-side figure is noisy;
- freshness, on the client's clock (participants and admin share one process and event loop):
  for every chunk of the watched participant, the time from its acknowledgement to the first
  ``participant`` push whose ``uploads.acked_records`` includes it; for the overview, every
  0.5 s the total of records acknowledged to all participants so far, and the time from the
  acknowledgement that reached it to the first ``overview`` push whose
  ``uploads.acked_records`` is at least as much. Target: p95 ≤ 2 s, and no gap over 2 s between
  consecutive pushes while records arrive;
- nothing lost: every run's database is checked record by record (ingest's ``check``).

``within_capacity`` says whether the runs without an admin met the ingest benchmark's own
target (p99 acknowledgement ≤ 200 ms): when they did not, the server is saturated by the load
alone, its CPU use cannot grow much (the side-by-side overhead understates the admin's cost;
``push_cost`` does not) and every push waits behind the backlog.

    python -m interactive_gym.bench.admin [--quick] [--participants N] [--duration S] [--pairs K]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import statistics
import sys
import tempfile
import time
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from interactive_gym.bench.ingest import (
    P99_LIMIT_MS,
    RATE_HZ,
    Level,
    Participant,
    check,
    enrol,
    percentile,
    raise_file_limit,
    record_latencies,
    start_server,
    step_record,
    stop_server,
    stream,
)
from interactive_gym.bench.report import Row, status
from interactive_gym.local_server import free_port

PASSWORD = "bench-admin-password"
NAMESPACE = "/admin"
SESSION_COOKIE = "ig_admin"
OVERHEAD_LIMIT = 0.10
FRESHNESS_LIMIT_MS = 2000.0
GAP_LIMIT_MS = 2000.0
#: The overview's freshness is sampled this often (seconds).
SAMPLE_EVERY_S = 0.5
#: The admin stays connected this long after the streaming ends, for the pushes of the last
#: chunks (the hub pushes at most every second).
LINGER_S = 3.0
#: Chunk size of the monitor's own cost measurement (a 500 ms chunk at 30 Hz).
MONITOR_CHUNK = 15

_FORM_TOKEN = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)"')
_CONSOLE_TOKEN = re.compile(r'<meta name="ig-csrf" content="([^"]*)"')


@dataclass(frozen=True)
class Plan:
    """How much to run: ``pairs`` × (a run without an admin, then one with)."""

    participants: int
    duration_s: float
    pairs: int


FULL = Plan(participants=500, duration_s=30.0, pairs=3)
QUICK = Plan(participants=50, duration_s=6.0, pairs=1)


@dataclass
class Acks:
    """The records acknowledged to the simulated participants: ``(time, records so far)`` at
    every chunk, for the watched participant and for all of them together."""

    watched_id: str
    watched: list[tuple[float, int]] = field(default_factory=list)
    total: list[tuple[float, int]] = field(default_factory=list)
    records: int = 0
    _seen: dict[str, int] = field(default_factory=dict)

    def __call__(self, p: Participant) -> None:
        now = time.monotonic()
        self.records += p.acked - self._seen.get(p.participant_id, 0)
        self._seen[p.participant_id] = p.acked
        self.total.append((now, self.records))
        if p.participant_id == self.watched_id:
            self.watched.append((now, p.acked))


@dataclass
class Feed:
    """What the admin socket received: ``(time, uploads.acked_records)`` per push."""

    overview: list[tuple[float, int]] = field(default_factory=list)
    games: list[float] = field(default_factory=list)
    participant: list[tuple[float, int]] = field(default_factory=list)
    #: ``(time, live.records)`` of the ``participant`` pushes: the monitor's count.
    participant_live: list[tuple[float, int]] = field(default_factory=list)
    games_rows: int = 0
    session_ended: bool = False
    #: When the admin stopped listening.
    closed_at: float = 0.0


@dataclass
class Freshness:
    """Milliseconds from an acknowledgement to the first push that showed it."""

    latencies_ms: list[float] = field(default_factory=list)
    #: Acknowledgements no push showed before the admin left (in ``latencies_ms`` as the time
    #: until then: a lower bound).
    unseen: int = 0

    def summary(self) -> dict[str, Any]:
        values = self.latencies_ms
        return {
            "n": len(values),
            "p50": round(percentile(values, 0.50), 1),
            "p95": round(percentile(values, 0.95), 1),
            "max": round(max(values, default=0.0), 1),
            "unseen": self.unseen,
        }


@dataclass
class AdminRun:
    """One run: the ingest figures, and with an admin what it was sent and how fresh."""

    admin: bool
    level: Level
    overview_pushes: int = 0
    games_pushes: int = 0
    participant_pushes: int = 0
    games_rows_max: int = 0
    participant_freshness: Freshness = field(default_factory=Freshness)
    participant_live_freshness: Freshness = field(default_factory=Freshness)
    overview_freshness: Freshness = field(default_factory=Freshness)
    max_push_gap_ms: dict[str, float] = field(default_factory=dict)
    session_ended: bool = False

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"admin": self.admin, **asdict(self.level)}
        if self.admin:
            found.update(
                overview_pushes=self.overview_pushes,
                games_pushes=self.games_pushes,
                participant_pushes=self.participant_pushes,
                games_rows_max=self.games_rows_max,
                freshness_ms={
                    "participant": self.participant_freshness.summary(),
                    "overview": self.overview_freshness.summary(),
                    "participant_live": self.participant_live_freshness.summary(),
                },
                max_push_gap_ms=self.max_push_gap_ms,
                session_ended=self.session_ended,
            )
        return found


# the freshness arithmetic (pure) ------------------------------------------------------------


def freshness(
    acks: list[tuple[float, int]], pushes: list[tuple[float, int]], until: float
) -> Freshness:
    """For every ``(ack time, records acknowledged so far)``: the time until the first push
    (``(time, records shown)``) showing at least as many, or until ``until`` when none did. A
    push can arrive before the acknowledgement it includes (they travel on different sockets):
    that counts as 0."""
    ordered = sorted(pushes)
    times = [t for t, _ in ordered]
    shown: list[int] = []
    most = -1
    for _, count in ordered:
        most = max(most, count)
        shown.append(most)
    found = Freshness()
    for acked_at, count in acks:
        i = bisect_left(shown, count)
        if i == len(shown):
            found.unseen += 1
        found.latencies_ms.append(
            max(0.0, ((times[i] if i < len(times) else until) - acked_at) * 1000)
        )
    return found


def sampled(
    acks: list[tuple[float, int]], every_s: float = SAMPLE_EVERY_S
) -> list[tuple[float, int]]:
    """Every ``every_s`` from the first acknowledgement to the last: the total acknowledged
    then, with the time it was reached (each total once)."""
    if not acks:
        return []
    times = [t for t, _ in acks]
    found: list[tuple[float, int]] = []
    moment = times[0]
    while moment <= times[-1] + every_s:
        reached, total = acks[bisect_right(times, moment) - 1]
        if not found or total != found[-1][1]:
            found.append((reached, total))
        moment += every_s
    return found


def max_gap_ms(pushes: list[float], start: float, end: float) -> float:
    """The longest time without a push while data changed (from ``start`` to ``end``): between
    consecutive pushes, from the last push before ``start`` (or ``start``) to the first after
    ``end`` (or ``end``)."""
    points = sorted(pushes)
    edges = [
        max((t for t in points if t <= start), default=start),
        *(t for t in points if start < t < end),
        min((t for t in points if t >= end), default=end),
    ]
    return round(
        1000 * max((b - a for a, b in zip(edges, edges[1:], strict=False)), default=0.0), 1
    )


# the admin, like a browser ---------------------------------------------------------------------


def _token(pattern: re.Pattern[str], page: str, what: str) -> str:
    match = pattern.search(page)
    if match is None:
        raise RuntimeError(f"admin login: {what} not found in the page: {page[:300]!r}")
    return html.unescape(match.group(1))


async def login(url: str, password: str) -> tuple[str, str]:
    """Log in as the login form does; returns the ``Cookie`` header and the CSRF token."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        form = await http.get("/admin")
        token = _token(_FORM_TOKEN, form.text, "the login form's hidden csrf field")
        answer = await http.post("/admin/login", data={"csrf": token, "password": password})
        if answer.status_code != 303:
            raise RuntimeError(f"admin login: HTTP {answer.status_code}: {answer.text[:300]}")
        session = answer.cookies.get(SESSION_COOKIE)
        if not session:
            raise RuntimeError(f"admin login: no {SESSION_COOKIE} cookie in the answer")
        cookie = f"{SESSION_COOKIE}={session}"
        console = await http.get("/admin", headers={"Cookie": cookie})
        csrf = _token(_CONSOLE_TOKEN, console.text, "the console's ig-csrf meta tag")
    return cookie, csrf


async def follow(url: str, cookie: str, csrf: str, watched_id: str, feed: Feed) -> Any:
    """Open the ``/admin`` socket, record its pushes in ``feed``, watch ``watched_id``."""
    import socketio

    client = socketio.AsyncClient(reconnection=False)

    def acked(payload: Any) -> int:
        return int(payload["uploads"]["acked_records"])

    def on_overview(payload: Any) -> None:
        feed.overview.append((time.monotonic(), acked(payload)))

    def on_games(payload: Any) -> None:
        feed.games.append(time.monotonic())
        feed.games_rows = max(feed.games_rows, len(payload.get("games", ())))

    def on_participant(payload: Any) -> None:
        if payload.get("participant_id") == watched_id and payload.get("uploads"):
            now = time.monotonic()
            feed.participant.append((now, acked(payload)))
            live = payload.get("live")
            if isinstance(live, dict) and isinstance(live.get("records"), int):
                feed.participant_live.append((now, live["records"]))

    def on_session_ended(payload: Any = None) -> None:
        feed.session_ended = True

    client.on("overview", on_overview, namespace=NAMESPACE)
    client.on("games", on_games, namespace=NAMESPACE)
    client.on("participant", on_participant, namespace=NAMESPACE)
    client.on("session_ended", on_session_ended, namespace=NAMESPACE)
    await client.connect(
        url,
        headers={"Cookie": cookie},
        auth={"csrf": csrf},
        namespaces=[NAMESPACE],
        transports=["websocket"],
        wait_timeout=30,
    )
    answer = await client.call(
        "watch", {"participant_id": watched_id}, namespace=NAMESPACE, timeout=30
    )
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        await client.disconnect()
        raise RuntimeError(f"admin watch {watched_id}: refused: {answer!r}")
    # The costliest console: its Games tab open, so the games are worked out every second too.
    answer = await client.call("view", {"games": True}, namespace=NAMESPACE, timeout=30)
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        await client.disconnect()
        raise RuntimeError(f"admin view games: refused: {answer!r}")
    return client


# one run ---------------------------------------------------------------------------------------


async def _stream(
    url: str, participants: list[Participant], level: Level, server_pid: int, feed: Feed | None
) -> list[float]:
    client = None
    if feed is not None:
        cookie, csrf = await login(url, PASSWORD)
        client = await follow(url, cookie, csrf, participants[0].participant_id, feed)
    try:
        latencies = await stream(url, participants, level, server_pid)
        if client is not None:
            await asyncio.sleep(LINGER_S)
    finally:
        if client is not None and feed is not None:
            feed.closed_at = time.monotonic()
            await client.disconnect()
    return latencies


def run_once(
    n: int, duration_s: float, admin: bool, costs: dict[str, Any] | None = None
) -> AdminRun:
    """A fresh database and server (admin password set), ``n`` participants streaming for
    ``duration_s``, with or without an admin watching. With ``costs``, the cost of a round of
    pushes over this run's database is put there (:func:`push_cost`)."""
    from interactive_gym.admin.passwords import set_password
    from interactive_gym.data import Store

    level = Level(n=n, duration_s=duration_s)
    feed = Feed() if admin else None
    with tempfile.TemporaryDirectory(prefix="ig-bench-admin-") as folder:
        db_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        secret = os.urandom(24).hex()
        store = Store(db_url)
        set_password(store, PASSWORD)
        participants = enrol(store, secret, n)
        acks = Acks(participants[0].participant_id)
        for p in participants:
            p.on_acked = acks
        port = free_port()
        server = start_server(db_url, secret, port, Path(folder) / "server.log")
        try:
            url = f"http://127.0.0.1:{port}"
            latencies = asyncio.run(_stream(url, participants, level, server.pid, feed))
        finally:
            stop_server(server)
        check(store, participants, level)
        if costs is not None:
            costs.update(push_cost(store, [p.participant_id for p in participants]))
        store.close()
    record_latencies(level, latencies)
    level.passed = level.lost == 0 and level.duplicated == 0 and level.connect_failures == 0
    run = AdminRun(admin, level)
    if feed is not None:
        summarise_feed(run, feed, acks)
    return run


def summarise_feed(run: AdminRun, feed: Feed, acks: Acks) -> None:
    run.overview_pushes = len(feed.overview)
    run.games_pushes = len(feed.games)
    run.participant_pushes = len(feed.participant)
    run.games_rows_max = feed.games_rows
    run.session_ended = feed.session_ended
    until = feed.closed_at
    run.participant_freshness = freshness(acks.watched, feed.participant, until)
    run.participant_live_freshness = freshness(acks.watched, feed.participant_live, until)
    run.overview_freshness = freshness(sampled(acks.total), feed.overview, until)
    gaps: dict[str, float] = {}
    if acks.watched:
        start, end = acks.watched[0][0], acks.watched[-1][0]
        gaps["participant"] = max_gap_ms([t for t, _ in feed.participant], start, end)
    if acks.total:
        start, end = acks.total[0][0], acks.total[-1][0]
        gaps["overview"] = max_gap_ms([t for t, _ in feed.overview], start, end)
        gaps["games"] = max_gap_ms(feed.games, start, end)
    run.max_push_gap_ms = gaps
    run.level.passed = (
        run.level.passed
        and run.overview_pushes > 0
        and run.participant_pushes > 0
        and not run.session_ended
    )


# the monitor's own cost -------------------------------------------------------------------------


def monitor_cost(participants: int, seconds: float = 2.0) -> dict[str, Any]:
    """Feed a fresh ``LiveMonitor`` what ``participants`` streaming for ``seconds`` store (15
    records a chunk), in this process; its CPU time as a share of one core at that rate."""
    from interactive_gym.admin.monitor import LiveMonitor
    from interactive_gym.data.chunks import Chunk
    from interactive_gym.data.records import validate_records

    per_participant = int(RATE_HZ * seconds)
    chunks = [
        Chunk(
            f"bench-{i:05d}",
            seq,
            validate_records([step_record(n) for n in range(start, start + MONITOR_CHUNK)]),
        )
        for seq, start in enumerate(range(0, per_participant, MONITOR_CHUNK))
        for i in range(participants)
    ]
    monitor = LiveMonitor()
    started = time.process_time()
    for chunk in chunks:
        monitor.chunk_stored(chunk)
    monitor.fold()
    spent = time.process_time() - started
    records = sum(len(c.records) for c in chunks)
    return {
        "records": records,
        "us_per_record": round(1e6 * spent / records, 2),
        "cpu_percent_at_load": round(100 * spent / seconds, 1),
    }


def push_cost(store: Any, participant_ids: list[str], rounds: int = 5) -> dict[str, Any]:
    """CPU time of one round of the hub's pushes (the ``overview``, ``games`` and one
    ``participant`` view, each encoded as JSON), in this process, over a run's database and a
    monitor holding a full ring of tick samples for every participant (all of them playing)."""
    from interactive_gym.admin.monitor import LiveMonitor
    from interactive_gym.admin.owner import MAX_SAMPLES
    from interactive_gym.admin.views import AdminViews
    from interactive_gym.bench.ingest import bench_study
    from interactive_gym.data.chunks import Chunk
    from interactive_gym.data.records import validate_records

    monitor = LiveMonitor()
    for seq in range(-(-MAX_SAMPLES // MONITOR_CHUNK)):
        records = [step_record(seq * MONITOR_CHUNK + i) for i in range(MONITOR_CHUNK)]
        for pid in participant_ids:
            monitor.chunk_stored(Chunk(pid, seq, validate_records(records)))
    views = AdminViews(store, bench_study(), monitor)
    watched = participant_ids[0]
    spent: dict[str, list[float]] = {"overview": [], "games": [], "participant": []}
    sizes: dict[str, int] = {}

    async def measure() -> None:
        async def participant() -> dict[str, Any] | None:
            return await views.participant(watched)

        calls: dict[str, Callable[[], Awaitable[dict[str, Any] | None]]] = {
            "overview": views.overview,
            "games": views.games,
            "participant": participant,
        }
        for _ in range(rounds + 1):  # the first round fills the views' caches: not counted
            for name, call in calls.items():
                started = time.process_time()
                sizes[name] = len(json.dumps(await call()))
                spent[name].append(1000 * (time.process_time() - started))
            monitor.version += 1  # as if everything moved (every participant streams)
            monitor.owners[watched].version = monitor.version
            await asyncio.sleep(1.1)  # past the views' one-second caches

    asyncio.run(measure())
    per_view = {name: round(statistics.median(ms[1:]), 1) for name, ms in spent.items()}
    total = round(sum(per_view.values()), 1)
    return {
        "ms_per_round": per_view,
        "bytes": sizes,
        "total_ms": total,
        "cpu_percent_at_one_round_per_s": round(total / 10, 1),
    }


# the benchmark ---------------------------------------------------------------------------------


def run_admin_benchmark(quick: bool = False, *, plan: Plan | None = None) -> dict[str, Any]:
    """Runs without and with an admin, alternated; see the module documentation.

    Returns ``{"benchmark": "server.admin", "participants", "duration_s", "runs": [{"admin",
    "server_cpu_percent", "lost", "duplicated", "p99_ack_ms", ...}], "cpu_overhead_ratio",
    "freshness_ms": {"participant": {"p50", "p95", "max"}, "overview": {...}},
    "max_push_gap_ms", "passed", ...}``.
    """
    raise_file_limit()
    plan = plan or (QUICK if quick else FULL)
    runs: list[AdminRun] = []
    costs: dict[str, Any] = {}
    for pair in range(plan.pairs):
        for admin in (False, True):
            last = pair == plan.pairs - 1 and admin
            run = run_once(plan.participants, plan.duration_s, admin, costs if last else None)
            runs.append(run)
            print(json.dumps(run.as_dict()), file=sys.stderr, flush=True)
    return admin_report(plan, runs, monitor_cost(plan.participants), costs)


def admin_report(
    plan: Plan, runs: list[AdminRun], monitor: dict[str, Any], push: dict[str, Any]
) -> dict[str, Any]:
    off = [r.level.server_cpu_percent for r in runs if not r.admin]
    on = [r.level.server_cpu_percent for r in runs if r.admin]
    pairs = [
        round(b / a - 1, 3) for a, b in zip(off, on, strict=False) if a > 0
    ]  # runs alternate off, on: each pair ran side by side
    ratio = round(statistics.median(pairs), 3) if pairs else None
    watched = [r for r in runs if r.admin]

    def pooled(name: str) -> dict[str, Any]:
        parts: list[Freshness] = [getattr(r, f"{name}_freshness") for r in watched]
        return Freshness(
            [x for f in parts for x in f.latencies_ms], sum(f.unseen for f in parts)
        ).summary()

    gap = max((g for r in watched for g in r.max_push_gap_ms.values()), default=None)
    within = all(r.level.p99_ack_ms <= P99_LIMIT_MS for r in runs if not r.admin)
    fresh = {name: pooled(name) for name in ("participant", "overview", "participant_live")}
    passed = (
        all(r.level.passed for r in runs)
        and ratio is not None
        and ratio < OVERHEAD_LIMIT
        and all(fresh[f]["n"] > 0 for f in ("participant", "overview"))
        and all(fresh[f]["p95"] <= FRESHNESS_LIMIT_MS for f in ("participant", "overview"))
        and gap is not None
        and gap <= GAP_LIMIT_MS
    )
    return {
        "benchmark": "server.admin",
        "participants": plan.participants,
        "records_per_second_per_participant": RATE_HZ,
        "duration_s": plan.duration_s,
        "cpu_count": os.cpu_count(),
        "runs": [r.as_dict() for r in runs],
        "server_cpu_percent": {
            "off_median": round(statistics.median(off), 1) if off else None,
            "on_median": round(statistics.median(on), 1) if on else None,
        },
        "cpu_overhead_pairs": pairs,
        "cpu_overhead_ratio": ratio,
        "cpu_overhead_limit": OVERHEAD_LIMIT,
        "within_capacity": within,
        "freshness_ms": fresh,
        "freshness_limit_ms": FRESHNESS_LIMIT_MS,
        "max_push_gap_ms": gap,
        "gap_limit_ms": GAP_LIMIT_MS,
        "lost": sum(r.level.lost for r in runs),
        "duplicated": sum(r.level.duplicated for r in runs),
        "monitor": monitor,
        "push_cost": push,
        "passed": passed,
    }


def admin_rows(report: dict[str, Any]) -> list[Row]:
    """The table lines of ``report["server"]["admin"]``."""
    admin = report["server"]["admin"]
    section = "server.admin"
    ratio = admin.get("cpu_overhead_ratio")
    fresh = admin.get("freshness_ms", {})
    cpu = admin.get("server_cpu_percent", {})
    gap = admin.get("max_push_gap_ms")
    lost = admin.get("lost", 0) + admin.get("duplicated", 0)
    rows = [
        Row(section, f"{admin['participants']} participants streaming, one admin watching", None),
        Row(section, "  server CPU overhead of the admin (median of pairs)",
            None if ratio is None else round(100 * ratio, 1), "%", "< 10 %",
            status(ratio is not None and ratio < OVERHEAD_LIMIT)),
        Row(section, "  server CPU without admin (median)", cpu.get("off_median"), "%"),
        Row(section, "  server CPU with admin (median)", cpu.get("on_median"), "%"),
        Row(section, "  load within the server's capacity (runs without admin: p99 ack)",
            "yes" if admin.get("within_capacity") else "no (saturated)", "", "≤ 200 ms"),
    ]  # fmt: skip
    for name in ("participant", "overview"):
        found = fresh.get(name, {})
        p95 = found.get("p95")
        unseen = f", {found['unseen']} never shown" if found.get("unseen") else ""
        rows.append(
            Row(section, f"  {name} push freshness p95 (p50 {found.get('p50')} ms{unseen})", p95,
                "ms", "≤ 2000 ms", status(p95 is not None and p95 <= FRESHNESS_LIMIT_MS))
        )  # fmt: skip
    rows += [
        Row(section, "  longest gap between pushes", gap, "ms", "≤ 2000 ms",
            status(gap is not None and gap <= GAP_LIMIT_MS)),
        Row(section, "  records lost or duplicated (every run)", lost, "", "0", status(lost == 0)),
        Row(section, "  live monitor's own CPU at this load (in process)",
            admin.get("monitor", {}).get("cpu_percent_at_load"), "%"),
        Row(section, "  one round of pushes: overview + games + participant (in process)",
            admin.get("push_cost", {}).get("total_ms"), "ms"),
    ]  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.bench.admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="one short pair of runs, 50 participants"
    )
    parser.add_argument("--participants", type=int, help="simulated participants per run")
    parser.add_argument("--duration", type=float, help="seconds of streaming per run")
    parser.add_argument("--pairs", type=int, help="pairs of runs (without, then with an admin)")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    plan = Plan(
        participants=args.participants or base.participants,
        duration_s=args.duration or base.duration_s,
        pairs=args.pairs or base.pairs,
    )
    print(json.dumps(run_admin_benchmark(plan=plan), indent=2))


if __name__ == "__main__":
    main()
