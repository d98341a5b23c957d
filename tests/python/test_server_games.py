"""Games the server runs, played by a socket client acting as the page.

A real uvicorn server with the real app, the real env pool (env processes), Gymnasium's
CartPole-v1 and a pure-Python env file; the client speaks the ``game:*`` protocol of
``server_games.py`` on the participant's study socket, as the page's socket channel does.
"""

from __future__ import annotations

import asyncio
import csv
import json
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from server_games_app import app_with_games

from interactive_gym.data import Store
from interactive_gym.export import export
from interactive_gym.local_server import serve
from interactive_gym.server import Settings
from interactive_gym.server.env_check import check_server_scenes
from interactive_gym.server.verification import SERVER_RUNTIME, Verifier
from interactive_gym.study import (
    EndScene,
    Experiment,
    GymScene,
    StaticScene,
    StudyError,
    load_study,
)
from interactive_gym.study.scene import ParticipantContext

SECRET = "server-games-secret-" + "s" * 30
#: The columns of a browser-runtime step record (game/record.js stepData), without observation.
BROWSER_STEP_COLUMNS = {
    "action",
    "reward",
    "terminated",
    "truncated",
    "keys",
    "key_events",
    "info",
    "tick_t",
    "tick_late_ms",
    "dropped_ticks",
    "worker_ms",
    "env_ms",
    "policy_ms",
    "round_trip_ms",
    "draw_ms",
    "focus",
}
#: The columns of a browser-runtime episode record (game/episode.js finish), single agent.
BROWSER_EPISODE_COLUMNS = {
    "seed",
    "return",
    "length",
    "terminated",
    "truncated",
    "ended_by",
    "duration_ms",
    "ticks",
    "late_ticks",
    "dropped_ticks",
    "hidden_steps",
    "fps",
}


def unpack_frame(message: dict) -> dict:
    """A ``game:frame`` message as the page unpacks it (``unpackFrame`` of socket_channel.js)."""
    ids = {"scene_id", "episode", "step"}
    if "text" in message:  # a draw list: one JSON text, the draw list under "draw"
        assert set(message) == {*ids, "text"} and isinstance(message["text"], str)
        frame = json.loads(message["text"])
        render = {"kind": "draw", "draw": frame.pop("draw")}
    else:
        assert set(message) == {*ids, "meta", "data"}
        assert isinstance(message["meta"], bytes), "the fields travel as one binary JSON text"
        frame = json.loads(message["meta"])
        render = frame["render"]
        if render is not None and message["data"] is not None:
            render = {**render, "data": message["data"]}
    return {**frame, "scene_id": message["scene_id"], "episode": message["episode"],
            "step": message["step"], "render": render}  # fmt: skip


TICKER = textwrap.dedent(
    """
    import os

    num_actions = 3


    class Ticker:
        render_size = (120, 40)

        def __init__(self, length=20, bad=None):
            self.length = length
            self.bad = bad
            self.t = 0
            self.x = 0

        def reset(self, seed=None, options=None):
            self.t = 0
            self.x = 0
            return [0, 0], {"seed": seed}

        def step(self, action):
            if action == 2 and self.bad == "hang":
                while True:
                    pass
            if action == 2 and self.bad == "crash":
                os._exit(3)
            if action == 2 and self.bad == "raise":
                raise ValueError("the ticker broke")
            self.t += 1
            self.x += {0: 0, 1: 1, 2: -1}[action]
            return [self.t, self.x], float(action), self.t >= self.length, False, {"x": self.x}

        def render(self):
            return [{"type": "rect", "id": "bar", "x": 0, "y": 0, "w": self.t / self.length,
                     "h": 1, "fill": "#336699"}]


    def make_env(**config):
        return Ticker(**config)
    """
)


def ticker_scene(**options: Any) -> GymScene:
    defaults: dict[str, Any] = {
        "runtime": "server",
        "env_file": "ticker.py",
        "env_config": {"length": 20},
        "agents": {"me": "human"},
        "controls": {"ArrowLeft": 0, "ArrowRight": 1, "ArrowUp": 2},
        "fps": 30,
        "episodes": 1,
        "reconnect_s": 5,
    }
    return GymScene("game", **{**defaults, **options})


def cartpole_scene(**options: Any) -> GymScene:
    defaults: dict[str, Any] = {
        "runtime": "server",
        "env_id": "CartPole-v1",
        "agents": {"player": "human"},
        "controls": {"ArrowLeft": 0, "ArrowRight": 1},
        "fps": 30,
        "episodes": 2,
        "max_steps": 12,
    }
    return GymScene("game", **{**defaults, **options})


def study(folder: Path, game: GymScene) -> Experiment:
    (folder / "ticker.py").write_text(TICKER)
    return Experiment(
        "server_games",
        scenes=[
            StaticScene("consent", html="<p>c</p>", consent="I agree"),
            game,
            EndScene(),
        ],
        base_dir=folder,
        seed=0,
    )


@contextmanager
def server(tmp_path: Path, experiment: Experiment, workers: int = 1) -> Iterator[tuple[str, Store]]:
    db = f"sqlite:///{tmp_path / 'study.db'}"
    settings = Settings(db_url=db, secret=SECRET, wheelhouse=tmp_path / "wheels")
    app, _ = app_with_games(settings, experiment, workers=workers)
    store = Store(db)
    try:
        with serve(app) as url:
            yield url, store
    finally:
        store.close()


class Page:
    """One participant's page: its token, its socket and the game events it received."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=20)
        self.token = ""
        self.participant_id = ""
        self.client: socketio.AsyncClient | None = None
        self.frames: asyncio.Queue[dict] = asyncio.Queue()
        self.ends: asyncio.Queue[dict] = asyncio.Queue()
        self.errors: asyncio.Queue[dict] = asyncio.Queue()
        self.seq = 0

    async def start(self, pid: str) -> None:
        response = await self.http.post("/api/start", json={"params": {"PROLIFIC_PID": pid}})
        assert response.status_code == 200, response.text
        self.token = response.json()["token"]
        self.participant_id = response.json()["participant_id"]

    async def connect(self) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        client.on("game:frame", lambda message: self.frames.put_nowait(unpack_frame(message)))
        client.on("game:end", self.ends.put_nowait)
        client.on("game:error", self.errors.put_nowait)
        await client.connect(
            self.url,
            auth={"token": self.token, "tab": "tab-1"},
            transports=["websocket"],
            wait_timeout=10,
        )
        self.client = client
        return client

    async def call(self, event: str, payload: Any) -> dict:
        assert self.client is not None
        return await self.client.call(event, payload, timeout=30)

    async def to_game(self) -> None:
        answer = await self.call(
            "study:advance", {"scene_id": "consent", "response": {"consent": True}}
        )
        assert answer["ok"], answer

    async def press(self, action: int, keys: str, episode: int = 0) -> None:
        assert self.client is not None
        self.seq += 1
        await self.client.emit(
            "game:input",
            {
                "scene_id": "game",
                "episode": episode,
                "seq": self.seq,
                "action": action,
                "keys": keys,
                "t": time.monotonic() * 1000,
                "type": "down",
                "key": keys,
            },
        )

    async def frame(self, timeout: float = 10) -> dict:
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def close(self) -> None:
        if self.client is not None and self.client.connected:
            await self.client.disconnect()
        await self.http.aclose()


@asynccontextmanager
async def page(url: str, pid: str) -> AsyncIterator[Page]:
    p = Page(url)
    try:
        await p.start(pid)
        await p.connect()
        yield p
    finally:
        await p.close()


async def play_to_end(p: Page, episode: int) -> tuple[list[dict], dict]:
    frames = []
    while True:
        frame = await p.frame()
        frames.append(frame)
        if frame["done"]:
            break
    end = await asyncio.wait_for(p.ends.get(), 10)
    assert end["episode"] == episode
    return frames, end


def seeds_of(experiment: Experiment, store: Store, pid: str) -> list[int]:
    participant = store.get_participant(pid)
    assert participant is not None
    scene = experiment.scene("game")
    assert isinstance(scene, GymScene)
    return scene.episode_seeds(experiment.context(participant))


# the whole game --------------------------------------------------------------------------------


async def test_cartpole_is_played_streamed_as_images_and_every_step_recorded_once(
    tmp_path: Path,
) -> None:
    experiment = study(tmp_path, cartpole_scene())
    with server(tmp_path, experiment) as (url, store):
        async with page(url, "p1") as p:
            await p.to_game()
            opened = await p.call("game:open", {"scene_id": "game"})
            assert opened["ok"], opened
            assert opened["game"]["numActions"] == 2 and "resume" not in opened
            seeds = seeds_of(experiment, store, "p1")
            for episode in range(2):
                first = await p.call(
                    "game:episode", {"scene_id": "game", "episode": episode, "attempt": 1}
                )
                assert first["ok"], first
                assert first["seed"] == seeds[episode] and first["attempt"] == 1
                assert first["render"]["kind"] == "image"
                assert isinstance(first["render"]["data"], bytes)
                assert (await p.call("game:play", {"scene_id": "game", "episode": episode}))["ok"]
                await p.press(1, "ArrowRight", episode)
                frames, end = await play_to_end(p, episode)
                steps = [f["step"] for f in frames]
                assert steps == list(range(len(frames)))
                for frame in frames:
                    render = frame["render"]
                    assert render["kind"] == "image" and render["format"] == "jpeg"
                    assert isinstance(render["data"], bytes)  # a binary attachment, not base64
                    assert render["data"][:2] == b"\xff\xd8"
                    assert render["width"] == 600 and render["height"] == 400
                assert frames[-1]["input_seq"] == p.seq
                assert end["summary"]["length"] == len(frames)
                assert end["summary"]["runtime"] == "server"
                assert end["summary"]["ended_by"] in ("terminated", "max_steps")
            assert (await p.call("game:close", {"scene_id": "game"}))["ok"]
            done = await p.call(
                "study:advance",
                {
                    "scene_id": "game",
                    "response": {"status": "completed", "episodes": 2, "error": None},
                },
            )
            assert done["ok"], done
    steps = store.records("p1", kind="step")
    episodes = store.records("p1", kind="episode")
    assert [(r["episode"], r["attempt"]) for r in episodes] == [(0, 1), (1, 1)]
    for episode, summary in enumerate(episodes):
        mine = [r for r in steps if r["episode"] == episode]
        assert [r["step"] for r in mine] == list(range(summary["data"]["length"]))
        assert all(r["seq"] < -(2**30) for r in mine)  # the server's own chunks
        assert summary["data"]["seed"] == seeds[episode]
    for record in steps:
        data = record["data"]
        assert set(data) == BROWSER_STEP_COLUMNS | {"runtime", "input_seq"}
        assert data["runtime"] == "server" and data["focus"] == "focused"
        assert data["draw_ms"] is None and data["env_ms"] is not None
    assert set(episodes[0]["data"]) == BROWSER_EPISODE_COLUMNS | {"runtime", "input_seq"}
    # the held key (ArrowRight, action 1) drove every step after it arrived
    pressed = [r for r in steps if r["data"]["input_seq"] >= 1 and r["episode"] == 0]
    assert pressed and all(r["data"]["action"] == 1 for r in pressed)
    ((kind, key, _t),) = pressed[0]["data"]["key_events"]  # the step that applied the press
    assert (kind, key) == ("down", "ArrowRight")
    verified = await Verifier(experiment, store).verify("p1")
    assert verified is True
    assert {v.reason for v in store.verdicts("p1")} == {SERVER_RUNTIME}


# the connection coming and going ---------------------------------------------------------------


async def test_a_reconnect_within_reconnect_s_resumes_the_episode(tmp_path: Path) -> None:
    experiment = study(tmp_path, ticker_scene(env_config={"length": 60}))
    with server(tmp_path, experiment) as (url, store):
        async with page(url, "p1") as p:
            await p.to_game()
            assert (await p.call("game:open", {"scene_id": "game"}))["ok"]
            assert (await p.call("game:episode", {"scene_id": "game", "episode": 0}))["ok"]
            assert (await p.call("game:play", {"scene_id": "game", "episode": 0}))["ok"]
            await p.press(1, "ArrowRight")
            for _ in range(5):
                await p.frame()
            # hidden tab: the clock stops until the page is shown again
            assert (await p.call("game:pause", {"scene_id": "game"}))["ok"]
            await asyncio.sleep(0.2)
            while not p.frames.empty():
                p.frames.get_nowait()
            await asyncio.sleep(0.3)
            assert p.frames.empty()
            assert (await p.call("game:resume", {"scene_id": "game"}))["ok"]
            last = await p.frame()
            assert p.client is not None
            await p.client.disconnect()
            await asyncio.sleep(0.5)
            seen = p.frames.qsize()
            await asyncio.sleep(0.3)
            assert p.frames.qsize() == seen  # paused while away
            while not p.frames.empty():
                last = p.frames.get_nowait()
            await p.connect()
            reopened = await p.call("game:open", {"scene_id": "game"})
            assert reopened["ok"], reopened
            assert reopened["resume"]["episode"] == 0
            resume_at = reopened["resume"]["step"]
            assert resume_at == last["step"] + 1
            assert (await p.call("game:play", {"scene_id": "game", "episode": 0}))["ok"]
            frames, end = await play_to_end(p, 0)
            assert frames[0]["step"] == resume_at
            assert end["summary"]["ended_by"] == "terminated" and end["summary"]["length"] == 60
    steps = store.records("p1", kind="step")
    assert [r["step"] for r in steps] == list(range(60))
    assert [r["data"]["ended_by"] for r in store.records("p1", kind="episode")] == ["terminated"]


async def test_beyond_reconnect_s_the_episode_ends_disconnected_and_keeps_its_steps(
    tmp_path: Path,
) -> None:
    experiment = study(tmp_path, ticker_scene(env_config={"length": 500}, reconnect_s=0.3))
    first = {"scene_id": "game", "episode": 0, "attempt": 1}
    with server(tmp_path, experiment) as (url, store):
        async with page(url, "p1") as p:
            await p.to_game()
            assert (await p.call("game:open", {"scene_id": "game"}))["ok"]
            assert (await p.call("game:episode", first))["ok"]
            assert (await p.call("game:play", {"scene_id": "game", "episode": 0}))["ok"]
            for _ in range(4):
                await p.frame()
            assert p.client is not None
            await p.client.disconnect()
            for _ in range(100):
                if store.records("p1", kind="episode"):
                    break
                await asyncio.sleep(0.05)
            (summary,) = store.records("p1", kind="episode")
            assert summary["data"]["ended_by"] == "disconnected"
            length = summary["data"]["length"]
            assert length >= 4
            assert [r["step"] for r in store.records("p1", kind="step")] == list(range(length))
            # coming back later: a new game, and the episode's new run gets its own attempt
            await p.connect()
            reopened = await p.call("game:open", {"scene_id": "game"})
            assert reopened["ok"] and "resume" not in reopened
            again = await p.call("game:episode", first)
            assert again["ok"] and again["attempt"] == 2


# failures stay with their game -----------------------------------------------------------------


@pytest.mark.parametrize(("bad", "kind"), [("hang", "timeout"), ("crash", "crash")])
async def test_a_runaway_or_crashing_env_ends_only_its_own_game(
    tmp_path: Path, bad: str, kind: str
) -> None:
    scene = ticker_scene(env_config={"length": 90, "bad": bad}, step_timeout_s=0.5)
    experiment = study(tmp_path, scene)
    with server(tmp_path, experiment, workers=2) as (url, store):
        async with page(url, "p1") as p1, page(url, "p2") as p2:
            for p in (p1, p2):
                await p.to_game()
                assert (await p.call("game:open", {"scene_id": "game"}))["ok"]
                assert (await p.call("game:episode", {"scene_id": "game", "episode": 0}))["ok"]
            for p in (p1, p2):
                assert (await p.call("game:play", {"scene_id": "game", "episode": 0}))["ok"]
            for _ in range(3):
                await p1.frame()
            await p1.press(2, "ArrowUp")  # the action that breaks p1's env
            error = await asyncio.wait_for(p1.errors.get(), 15)
            assert error["stage"] == "step" and error["kind"] == kind
            assert error["scene_id"] == "game" and error["episode"] == 0
            before = p2.frames.qsize()
            frames, end = await play_to_end(p2, 0)
            assert len(frames) + before >= 10 and end["summary"]["ended_by"] == "terminated"
            refused = await p1.call("game:episode", {"scene_id": "game", "episode": 0})
            assert refused["ok"] is False and refused["reason"] == "failed"
            answer = await p1.call(
                "study:advance",
                {
                    "scene_id": "game",
                    "response": {"status": "error", "episodes": 0, "error": error["message"]},
                },
            )
            assert answer["ok"], answer
    (event,) = [
        r for r in store.records("p1", kind="event") if r["data"].get("type") == "game_error"
    ]
    assert event["data"]["stage"] == "step" and event["data"]["kind"] == kind
    (summary,) = store.records("p1", kind="episode")
    assert summary["data"]["ended_by"] == "error"
    kept = [r["step"] for r in store.records("p1", kind="step")]
    assert kept == list(range(summary["data"]["length"])) and len(kept) >= 3
    assert [r["step"] for r in store.records("p2", kind="step")] == list(range(90))


def test_a_misspelt_env_id_stops_the_start_naming_the_scene_and_field(tmp_path: Path) -> None:
    experiment = study(tmp_path, cartpole_scene(env_id="CartPol-v1"))
    with pytest.raises(StudyError) as raised:
        check_server_scenes(experiment)
    message = str(raised.value)
    assert message.startswith("scene 'game': env_id 'CartPol-v1': NameNotFound")
    broken = study(tmp_path, ticker_scene(env_config={"lenght": 3}))
    with pytest.raises(StudyError, match="scene 'game': env_file 'ticker.py': TypeError"):
        check_server_scenes(broken)
    check_server_scenes(study(tmp_path, ticker_scene()))


# refusals ---------------------------------------------------------------------------------------


async def test_game_events_of_a_scene_that_is_not_the_current_one_are_refused(
    tmp_path: Path,
) -> None:
    experiment = study(tmp_path, ticker_scene())
    with server(tmp_path, experiment) as (url, store):
        async with page(url, "p1") as p:
            early = await p.call("game:open", {"scene_id": "game"})
            assert early["ok"] is False and early["reason"] == "not_current"
            consent = await p.call("game:open", {"scene_id": "consent"})
            assert consent["ok"] is False and consent["reason"] == "not_server_game"
            await p.to_game()
            for event, payload in [
                ("game:episode", {"scene_id": "game", "episode": 0}),
                ("game:play", {"scene_id": "game", "episode": 0}),
                ("game:input", {"scene_id": "game", "episode": 0, "seq": 1, "action": 1}),
            ]:
                answer = await p.call(event, payload)
                assert answer["ok"] is False and answer["reason"] == "not_open", (event, answer)
            assert (await p.call("game:open", {"scene_id": "game"}))["ok"]
            other = await p.call("game:episode", {"scene_id": "consent", "episode": 0})
            assert other["ok"] is False and other["reason"] == "not_open"
            beyond = await p.call("game:episode", {"scene_id": "game", "episode": 1})
            assert beyond["ok"] is False and beyond["reason"] == "bad_request"
            assert (await p.call("game:episode", {"scene_id": "game", "episode": 0}))["ok"]
            forged = await p.call(
                "game:input",
                {"scene_id": "game", "episode": 0, "seq": 1, "action": 7, "keys": ""},
            )
            assert forged["ok"] is False and "action" in forged["error"]
            # the page may not upload steps of a game the server runs, only its key inputs
            step = {"kind": "step", "scene_id": "game", "episode": 0, "step": 0, "t": 1}
            ack = await p.call("chunk", {"seq": 0, "records": [step]})
            assert ack["ok"] is False and "do not upload 'step'" in ack["error"]
            key = {
                "kind": "input",
                "scene_id": "game",
                "episode": 0,
                "attempt": 1,
                "step": 0,
                "t": 1,
                "data": {"type": "down", "key": "ArrowRight", "t": 1, "action": 1, "seq": 1},
            }
            assert (await p.call("chunk", {"seq": 0, "records": [key]}))["ok"]
    assert store.records("p1", kind="step") == []
    assert len(store.records("p1", kind="input")) == 1
    written = export(store, tmp_path / "export", "csv")
    assert "inputs.csv" in written
    (row,) = list(csv.DictReader((tmp_path / "export" / "inputs.csv").open()))
    assert (row["scene_id"], row["key"], row["action"], row["seq"]) == (
        "game",
        "ArrowRight",
        "1",
        "1",
    )


def test_the_scene_options_of_the_server_runtime(tmp_path: Path) -> None:
    scene = study(tmp_path, ticker_scene()).scene("game")
    client = scene.to_client(ParticipantContext("p", "server_games", 1))
    assert client["runtime"] == "server" and "env" not in client and "packages" not in client
    assert client["agents"] == {"me": {"kind": "human"}}
    assert scene.record_kinds == {"event", "input"}
    with pytest.raises(StudyError, match="env_id needs runtime='server'"):
        GymScene("g", env_id="CartPole-v1", agents={0: "human"}, controls={"a": 0})
    with pytest.raises(StudyError, match="not both"):
        cartpole_scene(env_factory="pkg.mod:make")
    with pytest.raises(StudyError, match="env_factory 'nope' is not"):
        cartpole_scene(env_id=None, env_factory="nope")
    with pytest.raises(StudyError, match="frame_format must be one of"):
        cartpole_scene(frame_format="gif")


def test_the_gymnasium_example_loads_and_its_env_builds() -> None:
    import interactive_gym.examples as examples

    experiment = load_study(Path(examples.__path__[0]) / "gymnasium_study.py")
    scene = experiment.scene("cartpole")
    assert isinstance(scene, GymScene) and scene.runtime == "server"
    check_server_scenes(experiment)


async def test_malformed_game_events_are_refused_with_a_reason_and_the_game_plays_on(
    tmp_path: Path,
) -> None:
    experiment = study(tmp_path, ticker_scene())
    deep: Any = 0
    for _ in range(200):
        deep = [deep]
    with server(tmp_path, experiment) as (url, store):
        async with page(url, "p1") as p, page(url, "p2") as other:
            await p.to_game()
            assert (await p.call("game:open", {"scene_id": "game"}))["ok"]
            before_episode = [
                ("game:open", ["game"]),
                ("game:open", "game"),
                ("game:open", {}),
                ("game:open", {"scene_id": "game", "extra": 1}),
                ("game:episode", {"scene_id": "game", "episode": True}),
                ("game:episode", {"scene_id": "game", "episode": 2**40}),
            ]
            during_episode = [
                ("game:input", {"scene_id": "game", "episode": 0, "seq": -1, "action": 1}),
                ("game:input", {"scene_id": "game", "episode": 0, "seq": 1, "action": deep}),
                ("game:play", deep),
            ]
            for events in (before_episode, during_episode):
                for event, payload in events:
                    answer = await p.call(event, payload)
                    assert answer["ok"] is False, (event, answer)
                    assert answer["reason"] == "bad_request" and answer["error"], (event, answer)
                if events is before_episode:
                    start = await p.call("game:episode", {"scene_id": "game", "episode": 0})
                    assert start["ok"], start
            # another participant cannot reach this game: its socket speaks for itself only
            stranger = await other.call("game:play", {"scene_id": "game", "episode": 0})
            assert stranger["ok"] is False and stranger["reason"] == "not_open"
            assert (await p.call("game:play", {"scene_id": "game", "episode": 0}))["ok"]
            frames, end = await play_to_end(p, 0)
            assert end["summary"]["ended_by"] in ("terminated", "max_steps")
    steps = store.records("p1", kind="step")
    assert len(steps) == len(frames) == end["summary"]["length"]
    assert store.records("p2", kind="step") == []
