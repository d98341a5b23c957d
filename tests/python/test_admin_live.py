"""The admin console's live data: the monitor fed by stored chunks, the views over a real
SQLite store, the ``/admin`` socket namespace of a real server, and the JSON routes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import update
from starlette.applications import Starlette

from interactive_gym.admin.api import AdminApi
from interactive_gym.admin.auth import AdminAuth
from interactive_gym.admin.figures import FRAME_EDGES, game_row
from interactive_gym.admin.hub import DISABLED, REFUSED, AdminHub
from interactive_gym.admin.monitor import LiveMonitor
from interactive_gym.admin.passwords import hash_password
from interactive_gym.admin.views import AdminViews
from interactive_gym.data import Chunk, Store, validate_records
from interactive_gym.data.models import ParticipantRow
from interactive_gym.data.store import Verdict
from interactive_gym.data.writer import ChunkWriter
from interactive_gym.examples import envs
from interactive_gym.local_server import serve
from interactive_gym.server.connections import Connections
from interactive_gym.server.game_records import ServerSeqs
from interactive_gym.server.groups import Groups
from interactive_gym.server.ingest import register_ingest
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.server.tokens import TokenSigner
from interactive_gym.server.waiting_rooms import WaitingRooms
from interactive_gym.server.wire_json import WirePacket
from interactive_gym.study import (
    Conditions,
    EndScene,
    Experiment,
    FreeText,
    GymScene,
    Likert,
    StaticScene,
    SurveyScene,
    WaitingRoom,
)

SECRET = "admin-live-secret-" + "s" * 24
PASSWORD = "correct horse battery"
EXPERIMENT_ID = "adm"


# -- helpers -----------------------------------------------------------------------------------


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tick(n: int, scene: str = "game", *, hz: float = 30, late: float = 1.0, **extra: Any) -> dict:
    """The n-th step record of a browser game at ``hz``."""
    data = {
        "action": 0,
        "reward": 1.0,
        "tick_t": n * 1000 / hz,
        "tick_late_ms": late,
        "dropped_ticks": 0,
        "worker_ms": 3.0,
        "round_trip_ms": 4.0,
        "draw_ms": 2.0,
        "focus": "focused",
        "runtime": "browser",
        **extra,
    }
    t = 1_700_000_000_000 + n * 1000 / hz
    return {"kind": "step", "scene_id": scene, "episode": 0, "step": n, "t": t, "data": data}


def event(kind: str, scene: str = "game", t: float = 1_700_000_000_000, **data: Any) -> dict:
    return {"kind": "event", "scene_id": scene, "t": t, "data": {"type": kind, **data}}


def chunk(owner: str, records: list[dict], seq: int = 0) -> Chunk:
    return Chunk(owner, seq, validate_records(records))


def study() -> Experiment:
    game = GymScene(
        "game",
        env_file="physics_duel.py",
        agents={0: "human", 1: "random"},
        controls={"ArrowUp": 1},
        num_actions=9,
        episodes=2,
    )
    survey = SurveyScene(
        "feedback", questions=[Likert("fun", "Was it fun?"), FreeText("why", "Why?")]
    )
    return Experiment(
        EXPERIMENT_ID,
        scenes=[
            StaticScene("intro", html="<p>hi</p>"),
            Conditions({"a": [game], "b": [survey]}),
            EndScene(),
        ],  # fmt: skip
        base_dir=envs.__path__[0],
        seed=1,
    )


# -- the monitor -------------------------------------------------------------------------------


def test_steps_give_fps_and_percentiles_from_their_own_times() -> None:
    monitor = LiveMonitor()
    lates = [float(i % 10) for i in range(300)]  # 0..9 ms
    for start in range(0, 300, 15):  # 20 chunks of 15 steps, 10 s of play at 30 Hz
        records = [
            tick(n, late=lates[n], dropped_ticks=int(n == 290)) for n in range(start, start + 15)
        ]
        monitor.chunk_stored(chunk("alice", records, seq=start // 15))
    (game,) = monitor.games()
    row = game_row(game, target_fps=30)
    assert row["owner"] == "alice" and row["participant_ids"] == ["alice"]
    assert row["fps"] == pytest.approx(30, rel=0.01)
    assert row["samples"] == 151  # the last 5 s
    assert row["late_ms_p50"] == pytest.approx(4.5, abs=0.5)
    assert row["late_ms_p95"] == pytest.approx(9.0, abs=0.5)
    assert (row["dropped"], row["dropped_total"]) == (1, 1)
    assert (row["round_trip_ms_p50"], row["worker_ms_p50"], row["draw_ms_p50"]) == (4, 3, 2)
    assert (row["scene_id"], row["episode"], row["runtime"]) == ("game", 0, "browser")
    live = monitor.live()
    assert (live.acked_records, live.acked_chunks, live.playing) == (300, 20, 1)
    histograms = monitor.histograms()
    late = histograms["frame_ms"]["late"]
    assert sum(late) == 300 and late[FRAME_EDGES.index(8)] == 60  # 8 and 9 ms
    assert sum(histograms["latency_ms"]["round_trip"]) == 300


def test_pending_is_what_the_browser_still_holds_and_acked_what_was_stored() -> None:
    monitor = LiveMonitor()
    monitor.pending("nobody", 5)  # no chunk of theirs: nothing to attach it to
    monitor.chunk_stored(chunk("alice", [tick(0), tick(1)]))
    before = monitor.version
    monitor.pending("alice", 40)
    assert monitor.version > before
    owner = monitor.owner("alice")
    assert owner is not None
    assert (owner["records"], owner["chunks"], owner["pending_records"]) == (2, 1, 40)
    live = monitor.live()
    assert (live.acked_records, live.pending_records) == (2, 40)
    monitor.chunk_stored(chunk("alice", [tick(2)], seq=1))
    monitor.pending("alice", 0)
    assert monitor.live().pending_records == 0 and monitor.owner("alice")["records"] == 3


def test_errors_keep_their_tracebacks_newest_first() -> None:
    monitor = LiveMonitor()
    traceback = 'Traceback (most recent call last):\n  File "env.py", line 3\nZeroDivisionError'
    monitor.chunk_stored(
        chunk(
            "alice",
            [
                event("scene_start", index=1),
                event("game_error", stage="step", message="ZeroDivisionError", traceback=traceback),
                event("game_load_error", stage="init", message="no module", detail="ImportError"),
                event("focus", state="hidden"),
                event("focus", state="focused"),
                event("focus", state="blurred"),
            ],
        )
    )
    errors = monitor.recent_errors()
    assert [e["type"] for e in errors] == ["game_load_error", "game_error"]
    assert errors[1]["traceback"] == traceback and errors[1]["message"] == "ZeroDivisionError"
    assert errors[1]["participant_id"] == "alice" and errors[1]["stage"] == "step"
    assert errors[0]["traceback"] == "ImportError"
    owner = monitor.owner("alice")
    assert owner is not None
    assert owner["focus_losses"] == 2 and owner["focus"] == "blurred"
    assert owner["scene_id"] == "game" and owner["scene_index"] == 1
    assert len(owner["errors"]) == 2 and monitor.live().errors_seen == 2


def test_group_games_rollbacks_and_desyncs() -> None:
    monitor = LiveMonitor()
    rows = [
        tick(n, participant_0="alice", participant_1="bob", runtime="browser") for n in range(3)
    ]
    monitor.chunk_stored(chunk("g123", [*rows, event("desync", frame=2, group_id="g123")]))
    member = [
        {**tick(n), "kind": "input", "data": {**tick(n)["data"], "rollback_frames": n % 2}}
        for n in range(4)
    ]
    monitor.chunk_stored(chunk("alice", [event("desync", group_id="g123"), *member]))
    # a server-runtime game's key records carry no tick: no sample
    monitor.chunk_stored(chunk("carol", [{**tick(0), "kind": "input", "data": {"keys": "x"}}]))
    games = {g.owner_id: g for g in monitor.games()}
    assert set(games) == {"g123", "alice"}
    group = game_row(games["g123"])
    assert group["kind"] == "group" and group["participant_ids"] == ["alice", "bob"]
    assert group["desyncs"] == 1
    alice = game_row(games["alice"])
    assert (alice["rollbacks"], alice["rollback_frames"], alice["desyncs"]) == (2, 2, 1)
    assert alice["group_id"] == "g123" and alice["samples"] == 4


def test_a_new_scene_starts_the_game_figures_over() -> None:
    monitor = LiveMonitor()
    monitor.chunk_stored(chunk("alice", [tick(n, dropped_ticks=1) for n in range(5)]))
    monitor.chunk_stored(chunk("alice", [event("scene_start", "game2", index=2)], seq=1))
    monitor.chunk_stored(chunk("alice", [tick(n, "game2") for n in range(3)], seq=2))
    (game,) = monitor.games()
    assert game.scene_id == "game2" and len(game.samples) == 3 and game.dropped_total == 0
    # the tail of the first game, stored late (the server's last chunk): counted, not shown
    monitor.chunk_stored(chunk("alice", [tick(n, dropped_ticks=1) for n in range(5, 8)], seq=3))
    (game,) = monitor.games()
    assert game.scene_id == "game2" and len(game.samples) == 3 and game.dropped_total == 0
    assert sum(monitor.histograms()["frame_ms"]["late"]) == 11
    monitor.chunk_stored(chunk("alice", [event("scene_start", "survey", index=3)], seq=4))
    assert monitor.games() == [] and monitor.owner("alice")["scene_id"] == "survey"


def test_idle_owners_are_forgotten_connected_ones_kept() -> None:
    clock = Clock()
    monitor = LiveMonitor(idle_s=60, playing_s=15, clock=clock)
    monitor.chunk_stored(chunk("alice", [tick(0), tick(1)]))
    monitor.chunk_stored(chunk("bob", [tick(0)]))
    monitor.connected("sid-b", "bob")
    assert monitor.live().connected == {"bob"}
    clock.now += 20
    assert monitor.games() == [] and monitor.live().playing == 0  # nobody ticked for 20 s
    clock.now += 50
    assert monitor.prune() == 1
    assert monitor.owner("alice") is None and monitor.owner("bob") is not None
    monitor.disconnected("sid-b", "bob")
    clock.now += 61
    monitor.chunk_stored(chunk("carol", [tick(0)]))  # pruning also happens as chunks come
    assert set(monitor.owners) == {"carol"}
    assert monitor.forget("carol") is True and monitor.owners == {}
    assert monitor.forget("carol") is False


def test_memory_per_owner_is_bounded() -> None:
    monitor = LiveMonitor()
    for seq in range(100):
        monitor.chunk_stored(chunk("alice", [tick(seq * 20 + n) for n in range(20)], seq=seq))
    assert len(monitor.owners["alice"].samples) <= 320
    assert len(monitor._unfolded) < 20_000


# -- the writer's watch, the ingest's pending ---------------------------------------------------


async def test_watchers_hear_each_chunk_stored_once_and_cannot_break_the_ack(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    writer = ChunkWriter(store)
    heard: list[tuple[str, int]] = []
    writer.watch(lambda c: heard.append((c.participant_id, c.seq)))

    @writer.watch
    def broken(c: Chunk) -> None:
        raise RuntimeError("watcher bug")

    try:
        with caplog.at_level(logging.ERROR, "interactive_gym.data.writer"):
            assert await writer.submit(chunk("alice", [tick(0)])) is True
            assert await writer.submit(chunk("alice", [tick(0)])) is False  # a resend
            assert await writer.submit(chunk("alice", [tick(1)], seq=1)) is True
        assert heard == [("alice", 0), ("alice", 1)]
        assert "watcher bug" in caplog.text
    finally:
        writer.close()
        store.close()


@dataclass
class Server:
    url: str
    store: Store
    monitor: LiveMonitor
    auth: AdminAuth
    hub: AdminHub
    signer: TokenSigner
    password_hash: str

    def cookie(self, lifetime_s: float = 3600) -> tuple[str, str]:
        """A session cookie header and its CSRF token."""
        keys = self.auth.keys
        value, claims = keys.issue(keys.fingerprint(self.password_hash), lifetime_s, time.time())
        return f"ig_admin={value}", keys.csrf(claims.session_id)


def add_people(store: Store, *ids: str) -> None:
    for pid in ids:
        store.create_participant(
            pid, EXPERIMENT_ID, condition="a", url_params={}, seed=1,
            scene_order=["intro", "game", "end"],
        )  # fmt: skip


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def server(tmp_path: Path, password_hash: str) -> Iterator[Server]:
    """A real server: the data path and the admin console's live part (no other handlers)."""
    store = Store(f"sqlite:///{tmp_path / 'live.db'}")
    add_people(store, "alice", "bob")
    sio = socketio.AsyncServer(async_mode="asgi", serializer=WirePacket)
    signer = TokenSigner(SECRET, EXPERIMENT_ID)
    ingest = register_ingest(sio, store, signer, tune_gc=False)
    monitor = LiveMonitor()
    monitor.attach(ingest.writer, ingest, ingest.connections)
    auth = AdminAuth(store, SECRET, env_hash=password_hash)
    views = AdminViews(store, study(), monitor)
    hub = AdminHub(sio, auth, views, interval_s=0.2, quiet_s=2.0)
    hub.register()
    http = Starlette(routes=[*auth.routes(), *AdminApi(auth, views).routes(), *ingest.routes()])
    app = socketio.ASGIApp(sio, other_asgi_app=http)
    with serve(app) as url:
        yield Server(url, store, monitor, auth, hub, signer, password_hash)
    ingest.writer.close()
    store.close()


class Admin:
    """An admin's socket: the messages it got, by event."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.got: dict[str, list[Any]] = {}
        self.refusals: list[str] = []
        self.disconnected = asyncio.Event()
        for name in ("overview", "games", "participant", "session_ended"):
            self.client.on(name, self._keep(name), namespace="/admin")
        self.client.on("connect_error", self._refused, namespace="/admin")
        self.client.on("disconnect", lambda *_: self.disconnected.set(), namespace="/admin")

    def _keep(self, name: str) -> Any:
        def keep(data: Any) -> None:
            self.got.setdefault(name, []).append(data)

        return keep

    def _refused(self, data: Any) -> None:
        self.refusals.append(str(data.get("message") if isinstance(data, dict) else data))

    async def connect(self, url: str, cookie: str | None, csrf: str | None) -> None:
        headers = {"Cookie": cookie} if cookie else {}
        await self.client.connect(
            url, headers=headers, auth={"csrf": csrf}, namespaces=["/admin"],
            transports=["websocket"], wait_timeout=10,
        )  # fmt: skip

    async def next(self, name: str, until: Any = lambda m: True, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.got.get(name, []):
                if until(message):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {name} message as expected; got {self.got.get(name)}")


async def participant_socket(server: Server, pid: str) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        server.url, auth={"token": server.signer.issue(pid)}, transports=["websocket"],
        wait_timeout=10,
    )  # fmt: skip
    return client


async def test_pending_field_reaches_the_monitor_and_bad_values_are_refused(
    server: Server,
) -> None:
    client = await participant_socket(server, "alice")
    try:
        records = [tick(n) for n in range(10)]
        ack = await client.call("chunk", {"seq": 0, "records": records, "pending": 40}, timeout=10)
        assert ack["ok"] is True
        assert server.monitor.owner("alice")["pending_records"] == 30  # besides this chunk's 10
        for bad, shown in (("x", "str"), (-1, "-1"), (True, "True"), (1.5, "1.5")):
            ack = await client.call("chunk", {"seq": 1, "records": [tick(10)], "pending": bad})
            assert ack["ok"] is False and ack["error"].startswith("pending: ")
            assert shown in ack["error"], ack
        ack = await client.call("chunk", {"seq": 1, "records": [tick(10)]}, timeout=10)
        assert ack["ok"] is True  # pending is optional
        assert server.monitor.owner("alice")["pending_records"] == 30
    finally:
        await client.disconnect()
    body = {"token": server.signer.issue("alice"), "seq": 2, "records": [tick(11)], "pending": 1}
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.post("/api/chunks", json=body)
    assert answer.json()["ok"] is True
    assert server.monitor.owner("alice")["pending_records"] == 0
    assert server.monitor.live().acked_records == 12


# -- the /admin namespace ----------------------------------------------------------------------


async def test_admin_socket_refuses_without_a_session(server: Server) -> None:
    cookie, csrf = server.cookie()
    for given_cookie, given_csrf in ((None, None), (cookie, "wrong"), ("ig_admin=forged", csrf)):
        admin = Admin()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await admin.connect(server.url, given_cookie, given_csrf)
        assert admin.refusals == [REFUSED]
    # a participant's token opens nothing here
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.url, auth={"token": server.signer.issue("alice")}, namespaces=["/admin"],
            transports=["websocket"], wait_timeout=10,
        )  # fmt: skip
    assert server.hub.admins == {}


async def test_admin_socket_gets_pushes_and_watched_details(server: Server) -> None:
    cookie, csrf = server.cookie()
    admin = Admin()
    await admin.connect(server.url, cookie, csrf)
    try:
        first = await admin.next("overview")
        assert first["experiment_id"] == EXPERIMENT_ID and first["people"]["total"] == 2
        await asyncio.sleep(1.5)
        assert "games" not in admin.got  # worked out only for a console showing them
        view = await admin.client.call("view", {"games": True}, namespace="/admin", timeout=10)
        assert view == {"ok": True, "games": True}
        await admin.next("games")
        bad = await admin.client.call("view", {"games": "yes"}, namespace="/admin", timeout=10)
        assert bad == {"ok": False, "error": "games: expected true or false"}
        client = await participant_socket(server, "alice")
        try:
            records = [event("scene_start", index=1), *(tick(n) for n in range(30))]
            ack = await client.call("chunk", {"seq": 0, "records": records, "pending": 31})
            assert ack["ok"] is True
            seen = await admin.next("overview", lambda m: m["uploads"]["acked_records"] == 31)
            assert seen["people"]["connected"] == 1
            games = await admin.next("games", lambda m: m["games"])
            (game,) = games["games"]
            summary = games["summary"]
            assert (summary["games"], summary["shown"], summary["below_90_percent"]) == (1, 1, 0)
            assert summary["fps_ratio_p50"] == pytest.approx(1.0, rel=0.02)
            assert game["owner"] == "alice" and game["fps"] == pytest.approx(30, rel=0.02)
            assert game["target_fps"] == 30
            latest = server.hub.latest()
            assert latest is not None and latest["uploads"]["acked_records"] == 31
            assert "at" in latest and latest["pushed_at"] <= time.time()
            answer = await admin.client.call(
                "watch", {"participant_id": "alice"}, namespace="/admin", timeout=10
            )
            assert answer == {"ok": True, "participant_id": "alice"}
            detail = await admin.next("participant")
            assert detail["participant_id"] == "alice"
            assert detail["participant"]["participant_id"] == "alice"
            assert detail["uploads"]["acked_records"] == 31 and detail["uploads"]["connected"]
            assert [e["kind"] for e in detail["timeline"]][:1] == ["scene"]
            bad = await admin.client.call(
                "watch", {"participant_id": 3}, namespace="/admin", timeout=10
            )
            assert bad["ok"] is False and bad["error"].startswith("participant_id:")
            await admin.client.call("watch", {"participant_id": "nobody"}, namespace="/admin")
            unknown = await admin.next("participant", lambda m: m["participant_id"] == "nobody")
            assert unknown["participant"] is None
        finally:
            await client.disconnect()
    finally:
        await admin.client.disconnect()


async def test_a_revoked_session_is_disconnected(server: Server) -> None:
    cookie, csrf = server.cookie()
    admin = Admin()
    await admin.connect(server.url, cookie, csrf)
    try:
        await admin.next("overview")
        await asyncio.sleep(1.0)  # pushes every 0.2 s, but nothing changed: nothing sent
        assert len(admin.got["overview"]) == 1 and "games" not in admin.got
        await admin.next("overview", lambda m: m is not admin.got["overview"][0], timeout=3)
        assert len(admin.got["overview"]) == 2  # after quiet_s (2 s) anyway
        session = server.auth.session_of(cookie)
        assert session is not None
        server.auth.revoke(session)
        await asyncio.wait_for(admin.disconnected.wait(), 10)
        assert admin.got["session_ended"] == [{"reason": "login_required"}]
        assert server.hub.admins == {}
        await asyncio.sleep(0.5)
        assert server.hub._task is not None and server.hub._task.done()  # no admin: no loop
    finally:
        await admin.client.disconnect()


# -- the views over a real store ---------------------------------------------------------------


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[tuple[Store, Experiment, LiveMonitor]]:
    """Two people (one completed in condition b, one playing in a), one excluded, one bot."""
    experiment = study()
    store = Store(f"sqlite:///{tmp_path / 'views.db'}")
    t0 = 1_700_000_000_000
    for pid, condition, params in (
        ("p1", "b", {"PROLIFIC_PID": "abc123"}),
        ("p2", "a", {}),
        ("p3", "a", {}),
        ("bot1", "a", {"bot": "random"}),
    ):
        store.create_participant(
            pid, EXPERIMENT_ID, condition=condition, url_params=params, seed=1,
            scene_order=experiment.scene_order(pid, condition),
        )  # fmt: skip
        store.write_chunk(
            pid,
            0,
            [event("scene_start", "intro", t0, index=0), event("scene_end", "intro", t0 + 5000)],
        )
        store.advance_participant(
            pid, from_index=0, scene_index=1, scene_id=experiment.scene_order(pid, condition)[1]
        )
    answers = {"fun": 4, "why": "because"}
    survey = [{"kind": "survey", "scene_id": "feedback", "t": t0, "data": answers}]
    store.advance_participant("p1", from_index=1, records=survey, scene_index=2, scene_id="end")
    store.complete_participant("p1", "CODE1")
    store.write_chunk(
        "p2",
        1,
        [
            event("scene_start", "game", t0 + 6000, index=1),
            event("focus", "game", t0 + 7000, state="hidden"),
            event("game_error", "game", t0 + 8000, message="boom", traceback="Traceback: boom"),
            {
                "kind": "episode",
                "scene_id": "game",
                "episode": 0,
                "t": t0 + 9000,
                "data": {"return": 12.5, "length": 40, "ended_by": "done"},
            },  # fmt: skip
            *(tick(n) for n in range(3)),
        ],
    )
    store.save_verdicts("p2", [Verdict("p2", "game", 0, 0, True)], True)
    with store.engine.begin() as conn:
        conn.execute(
            update(ParticipantRow)
            .where(ParticipantRow.participant_id == "p3")
            .values(excluded=True)
        )
    monitor = LiveMonitor()
    monitor.chunk_stored(chunk("p2", [tick(n) for n in range(3)], seq=1))
    monitor.connected("sid", "p2")
    yield store, experiment, monitor
    store.close()


async def test_overview_counts_people_and_bots_apart(filled) -> None:
    store, experiment, monitor = filled
    views = AdminViews(store, experiment, monitor)
    found = await views.overview()
    assert found["people"] == {
        "total": 3, "active": 1, "completed": 1, "excluded": 1, "connected": 1, "reset": 0
    }  # fmt: skip
    assert found["bots"]["total"] == 1 and found["bots"]["active"] == 1
    funnel = {f["stage"]: f["count"] for f in found["funnel"]}
    assert funnel == {"arrived": 2, "intro": 2, "game": 1, "feedback": 1, "end": 1, "completed": 1}
    assert found["at_scene"] == [{"scene_id": "game", "count": 1}]
    conditions = {c["condition"]: c for c in found["conditions"]}
    assert conditions["a"]["assigned"] == 1 and conditions["b"]["completed"] == 1
    assert conditions["a"]["expected_share"] == 0.5
    assert sum(a["count"] for a in found["arrivals"]) == 2
    assert found["scene_times"][0] == {"scene_id": "intro", "median_s": 5.0, "n": 2}
    assert found["uploads"]["acked_records"] == 3 and found["games_in_progress"] == 1


async def test_plots_from_episodes_answers_and_ticks(filled) -> None:
    store, experiment, monitor = filled
    plots = await AdminViews(store, experiment, monitor).plots()
    assert plots["episode_returns"] == [{"condition": "a", "scene_id": "game", "returns": [12.5]}]
    assert len(plots["completion_minutes"]) == 1
    surveys = {s["question_id"]: s["answers"] for s in plots["surveys"]}
    assert surveys == {"fun": {"4": 1}, "why": {"(answered)": 1}}
    assert sum(plots["frame_ms"]["late"]) == 3 and len(plots["latency_ms"]["bins"]) > 5


async def test_participants_search_and_filters(filled) -> None:
    store, experiment, monitor = filled
    views = AdminViews(store, experiment, monitor)
    everyone = await views.participants()
    assert everyone["total"] == 4
    assert (await views.participants(q="abc1"))["participants"][0]["participant_id"] == "p1"
    assert [
        p["participant_id"] for p in (await views.participants(bots="only"))["participants"]
    ] == ["bot1"]
    assert (await views.participants(bots="exclude", excluded="exclude"))["total"] == 2
    assert (await views.participants(status="completed"))["total"] == 1
    page = await views.participants(limit=1, offset=1)
    assert page["total"] == 4 and len(page["participants"]) == 1
    p2 = next(p for p in everyone["participants"] if p["participant_id"] == "p2")
    assert p2["connected"] is True and p2["bot"] is False
    with pytest.raises(ValueError, match="bots"):
        await views.participants(bots="some")


async def test_participant_detail_and_records(filled) -> None:
    store, experiment, monitor = filled
    views = AdminViews(store, experiment, monitor)
    assert await views.participant("nobody") is None
    found = await views.participant("p2")
    assert found is not None
    assert found["participant"]["condition"] == "a" and found["participant"]["excluded"] is None
    kinds = [e["kind"] for e in found["timeline"]]
    assert {"scene", "focus", "error", "episode", "upload"} <= set(kinds)
    (error,) = found["errors"]
    assert error["data"]["traceback"] == "Traceback: boom"
    (episode,) = found["episodes"]
    assert (episode["return"], episode["steps"], episode["verified"]) == (12.5, 40, True)
    assert found["uploads"]["acked_records"] == 9 and found["uploads"]["connected"] is True
    first = await views.records("p2", limit=4)
    assert [r["idx"] for r in first["records"]] == [6, 5, 4, 3]
    rest = await views.records("p2", limit=100, before=first["next_before"])
    assert len(rest["records"]) == 5 and rest["next_before"] is None  # 3 + the 2 intro events
    steps = await views.records("p2", kind="step")
    assert len(steps["records"]) == 3
    with pytest.raises(ValueError, match="before"):
        await views.records("p2", before="x")


# -- the JSON routes ---------------------------------------------------------------------------


async def test_api_routes_need_a_session_and_answer_json(filled, password_hash: str) -> None:
    store, experiment, monitor = filled
    auth = AdminAuth(store, SECRET, env_hash=password_hash)
    views = AdminViews(store, experiment, monitor)
    app = Starlette(routes=AdminApi(auth, views).routes())
    keys = auth.keys
    value, _ = keys.issue(keys.fingerprint(password_hash), 3600, time.time())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin.test") as http:
        refused = await http.get("/admin/api/overview")
        assert refused.status_code == 401 and refused.json()["error"] == "login_required"
        http.headers["cookie"] = f"ig_admin={value}"
        for path in ("overview", "games", "plots", "participants", "audit"):
            answer = await http.get(f"/admin/api/{path}")
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["cache-control"] == "no-store"
        assert (await http.get("/admin/api/participants?bots=only")).json()["total"] == 1
        detail = await http.get("/admin/api/participants/p2")
        assert detail.json()["participant"]["participant_id"] == "p2"
        missing = await http.get("/admin/api/participants/nobody")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        records = await http.get("/admin/api/participants/p2/records?kind=event&limit=2")
        assert len(records.json()["records"]) == 2 and records.json()["next_before"]
        for bad, name in (("participants?limit=0", "limit"), ("participants?bots=x", "bots"),
                          ("participants/p2/records?kind=nope", "kind"),
                          ("participants/p2/records?before=zz", "before")):  # fmt: skip
            answer = await http.get(f"/admin/api/{bad}")
            assert answer.status_code == 400 and answer.json()["message"].startswith(name)


async def test_a_socket_refused_by_a_later_hook_does_not_count_as_connected() -> None:
    connections = Connections()
    monitor = LiveMonitor()
    monitor.registry = connections
    connections.on_connect(monitor.connected)
    connections.on_disconnect(monitor.disconnected)

    def second_tab(sid: str, pid: str, auth: Any) -> None:
        if sid == "s2":
            raise socketio.exceptions.ConnectionRefusedError("second_tab")

    connections.on_connect(second_tab)
    await connections.connect("s1", "alice", {})
    with pytest.raises(socketio.exceptions.ConnectionRefusedError):
        await connections.connect("s2", "bob", {})
    assert monitor.live().connected == {"alice"}
    assert monitor.owner("bob")["connected"] is False
    await connections.disconnect("s1")
    assert monitor.live().connected == set()


async def test_admin_socket_says_when_the_console_is_off(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'off.db'}")
    try:
        auth = AdminAuth(store, SECRET)  # no password anywhere
        hub = AdminHub(
            socketio.AsyncServer(async_mode="asgi"), auth, AdminViews(store, study(), LiveMonitor())
        )
        with pytest.raises(socketio.exceptions.ConnectionRefusedError) as refused:
            await hub.handle_connect("sid", {"HTTP_COOKIE": "ig_admin=x"}, {"csrf": "y"})
        assert refused.value.error_args["message"] == DISABLED
    finally:
        store.close()


async def test_games_view_lists_waiting_rooms_and_groups(tmp_path: Path) -> None:
    duel = GymScene(
        "duel", env_file="physics_duel.py", agents={0: "human", 1: "human"},
        controls={"ArrowUp": 1}, num_actions=9, episodes=1,
    )  # fmt: skip
    experiment = Experiment(
        "rooms", scenes=[WaitingRoom("lobby", timeout_s=60), duel, EndScene()],
        base_dir=envs.__path__[0], seed=2,
    )  # fmt: skip
    store = Store(f"sqlite:///{tmp_path / 'rooms.db'}")
    writer = ChunkWriter(store)
    connections = Connections()
    groups = Groups(experiment, store)
    events = ServerEvents(writer, ServerSeqs(store), store.limits)
    rooms = WaitingRooms(
        socketio.AsyncServer(async_mode="asgi"), connections, experiment, groups, events
    )
    rooms.register()
    monitor = LiveMonitor()
    monitor.attach(writer, connections=connections)
    views = AdminViews(store, experiment, monitor, rooms=rooms, groups=groups)

    async def join(pid: str) -> None:
        order = experiment.scene_order(pid, None)
        store.create_participant(
            pid, "rooms", condition=None, url_params={}, seed=1, scene_order=order
        )
        await connections.connect(f"sid-{pid}", pid, {})
        connections.claim_tab(f"sid-{pid}", "tab")
        answer = await rooms.handle_join(f"sid-{pid}", {"scene_id": "lobby"})
        assert answer["ok"] is True, answer

    try:
        await join("p1")
        found = await views.games()
        assert found["rooms"] == [{"room_id": "lobby", "waiting": 1, "present": 1, "group_size": 2}]
        assert found["groups"] == [] and found["games"] == []
        await join("p2")
        await rooms.tick()
        await rooms.flush()
        (group,) = (await views.games())["groups"]
        assert group["members"] == ["p1", "p2"] and group["status"] == "formed"
        assert monitor.owner("p1")["group_id"] == group["group_id"]  # from waiting_matched
        rows = [tick(n, "duel", participant_0="p1", participant_1="p2") for n in range(5)]
        monitor.chunk_stored(chunk(group["group_id"], rows))
        found = await views.games()
        assert found["groups"][0]["status"] == "playing"
        assert found["groups"][0]["scene_id"] == "duel"
        (game,) = found["games"]
        assert game["kind"] == "group" and game["participant_ids"] == ["p1", "p2"]
        assert game["target_fps"] == duel.fps
        assert found["rooms"][0]["waiting"] == 0
    finally:
        await rooms.close()
        writer.close()
        store.close()
