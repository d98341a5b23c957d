"""A hostile participant: a socket client and plain HTTP requests, nothing more.

Each test plays one attack on a real server (uvicorn, python-socketio, the real store) and checks
the refusal, its reason, and that the database holds nothing it should not. The honest path is
played too, so a refusal that also hit legitimate pages would show.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from simulated_page import Page

from interactive_gym.data import Store
from interactive_gym.examples import envs
from interactive_gym.export import export
from interactive_gym.local_server import serve
from interactive_gym.server import Settings, create_app
from interactive_gym.server.limits import EntrySettings, LimitSettings, UploadSettings
from interactive_gym.server.tokens import TokenSigner, derive_key
from interactive_gym.study import (
    Conditions,
    EndScene,
    Experiment,
    FreeText,
    GymScene,
    Likert,
    Number,
    StaticScene,
    SurveyScene,
)
from interactive_gym.study.end_scene import generated_code

SECRET = "hostile-secret-" + "h" * 30
EXPERIMENT = "hostile"


def game(episodes: int = 1) -> GymScene:
    return GymScene(
        "game",
        env_file="physics_duel.py",
        env_config={"max_steps": 40},
        agents={0: "human", 1: "random"},
        controls={"ArrowUp": 1, "ArrowDown": 2},
        num_actions=9,
        episodes=episodes,
        max_steps=40,
    )


def study(**options: Any) -> Experiment:
    return Experiment(
        EXPERIMENT,
        scenes=[
            StaticScene("consent", html="<p>c</p>", consent="I agree"),
            SurveyScene(
                "survey",
                questions=[
                    Likert("clear", "Clear?", points=5),
                    Number("age", "Age", minimum=18, maximum=99),
                    FreeText("device", "Device", required=False),
                ],
            ),
            game(),
            EndScene(),
        ],
        base_dir=envs.__path__[0],
        seed=0,
        **options,
    )


@contextmanager
def server(
    tmp_path: Path, experiment: Experiment | None = None, **settings: Any
) -> Iterator[tuple[str, Store]]:
    db = f"sqlite:///{tmp_path / 'study.db'}"
    config = Settings(db_url=db, secret=SECRET, wheelhouse=tmp_path / "wheels", **settings)
    store = Store(db)
    try:
        with serve(create_app(config, experiment or study())) as url:
            yield url, store
    finally:
        store.close()


class Browser:
    """One browser: its own cookies, and sockets opened with its token."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=20)
        self.token = ""
        self.sockets: list[socketio.AsyncClient] = []

    async def start(self, **params: str) -> httpx.Response:
        response = await self.http.post("/api/start", json={"params": params})
        if response.status_code == 200:
            self.token = response.json()["token"]
        return response

    async def connect(self, token: str | None = None, **auth: Any) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        refusals: list[str] = []
        client.on("connect_error", lambda data: refusals.append(str(data)))
        try:
            await client.connect(
                self.url,
                auth={"token": token or self.token, "tab": "tab-1", **auth},
                transports=["websocket"],
                wait_timeout=10,
            )
        except socketio.exceptions.ConnectionError as exc:
            raise ConnectionRefusedError("; ".join(refusals) or str(exc)) from None
        self.sockets.append(client)
        return client

    async def close(self) -> None:
        for client in self.sockets:
            await client.disconnect()
        await self.http.aclose()


@asynccontextmanager
async def browser(url: str) -> AsyncIterator[Browser]:
    b = Browser(url)
    try:
        yield b
    finally:
        await b.close()


async def call(client: socketio.AsyncClient, event: str, payload: Any = None) -> dict:
    return await client.call(event, payload, timeout=15)


CONSENT = {"scene_id": "consent", "response": {"consent": True}}
ANSWERS = {"clear": 4, "age": 30, "device": None}


async def to_game(client: socketio.AsyncClient) -> None:
    """An honest participant's consent and survey."""
    assert (await call(client, "study:advance", CONSENT))["ok"]
    survey = {"scene_id": "survey", "response": {"answers": ANSWERS}, "attempt": 1}
    assert (await call(client, "study:advance", survey))["ok"]


def genuine_records(experiment: Experiment, participant_seed: int) -> list[dict]:
    scene = experiment.scene("game")
    assert isinstance(scene, GymScene)
    return Page(scene, participant_seed=participant_seed).play_all()


async def upload(client: socketio.AsyncClient, records: list[dict], first_seq: int = 0) -> None:
    for i in range(0, len(records), 50):
        ack = await call(
            client, "chunk", {"seq": first_seq + i // 50, "records": records[i : i + 50]}
        )
        assert ack["ok"], ack


# 1. what is stored is what was checked --------------------------------------------------------


async def test_1_stored_survey_answers_are_the_checked_ones(tmp_path: Path) -> None:
    with server(tmp_path) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="p1")
            client = await b.connect()
            assert (await call(client, "study:advance", CONSENT))["ok"]
            forged = {
                "seq": 0,
                "records": [
                    {"kind": "survey", "scene_id": "survey", "t": 1, "data": {"clear": 99}},
                ],
            }
            ack = await call(client, "chunk", forged)
            assert ack["ok"] is False
            assert "survey scenes do not upload 'survey' records" in ack["error"]
            bad = {"scene_id": "survey", "response": {"answers": {"clear": 99, "age": 30}}}
            refused = await call(client, "study:advance", bad)
            assert refused["ok"] is False and refused["field"] == "clear"
            honest = {"scene_id": "survey", "response": {"answers": ANSWERS}, "attempt": 2}
            assert (await call(client, "study:advance", honest))["ok"]
            assert (await call(client, "study:advance", honest))["ok"]  # a resend: stored once
    surveys = store.records("p1", kind="survey")
    assert [(r["scene_id"], r["attempt"], r["data"]) for r in surveys] == [("survey", 2, ANSWERS)]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"kind": "event", "scene_id": "survey"}, "'survey' is not a scene reached yet"),
        ({"kind": "step", "scene_id": "consent", "episode": 0, "step": 0}, "static scenes do not"),
        ({"kind": "step", "scene_id": "nowhere", "episode": 0, "step": 0}, "not a scene reached"),
    ],
)
async def test_1_records_must_fit_the_participants_progress(
    tmp_path: Path, record: dict, reason: str
) -> None:
    with server(tmp_path) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="p1")
            client = await b.connect()
            ack = await call(client, "chunk", {"seq": 0, "records": [{**record, "t": 1}]})
            assert ack["ok"] is False and reason in ack["error"], ack
            ok = await call(
                client,
                "chunk",
                {
                    "seq": 0,
                    "records": [
                        {
                            "kind": "event",
                            "scene_id": "consent",
                            "t": 1,
                            "data": {"type": "scene_start"},
                        }
                    ],
                },
            )
            assert ok["ok"], ok  # the honest page's records still go through
    assert [r["scene_id"] for r in store.records("p1")] == ["consent"]


async def test_1_episodes_never_played_and_records_after_completion_are_refused(
    tmp_path: Path,
) -> None:
    experiment = study()
    with server(tmp_path, experiment) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="p1")
            client = await b.connect()
            await to_game(client)
            beyond = {"kind": "step", "scene_id": "game", "episode": 1, "step": 0, "t": 1}
            ack = await call(client, "chunk", {"seq": 0, "records": [beyond]})
            assert ack["ok"] is False and "this game has 1 episode" in ack["error"]
            late = {**beyond, "episode": 0, "step": 40}
            ack = await call(client, "chunk", {"seq": 0, "records": [late]})
            assert ack["ok"] is False and "after 40 steps" in ack["error"]
            seed = store.get_participant("p1").seed  # type: ignore[union-attr]
            await upload(client, genuine_records(experiment, seed))
            done = {
                "scene_id": "game",
                "response": {"status": "completed", "episodes": 1, "error": None},
            }
            assert (await call(client, "study:advance", done))["ok"]
            assert (await call(client, "study:complete", {"scene_id": "end"}))["ok"]
            stored = len(store.records("p1"))
            after = {"kind": "event", "scene_id": "end", "t": 1, "data": {"type": "x"}}
            ack = await call(client, "chunk", {"seq": 99, "records": [after]})
            assert ack["ok"] is False and "already completed" in ack["error"]
        async with httpx.AsyncClient(base_url=url) as http:
            posted = await http.post(
                "/api/chunks", json={"token": b.token, "seq": 100, "records": [after]}
            )
            assert posted.status_code == 400 and "already completed" in posted.json()["error"]
    assert len(store.records("p1")) == stored


# 2. a participant is who they claim -------------------------------------------------------------


async def test_2_a_url_id_is_not_handed_to_another_browser(tmp_path: Path) -> None:
    with server(tmp_path) as (url, store):
        async with browser(url) as real, browser(url) as thief:
            first = await real.start(PROLIFIC_PID="victim", STUDY_ID="s1", SESSION_ID="a")
            assert first.status_code == 200
            stolen = await thief.start(PROLIFIC_PID="victim", STUDY_ID="s1", SESSION_ID="forged")
            assert stolen.status_code == 409
            body = stolen.json()
            assert body["error"] == "started_elsewhere" and "another browser" in body["message"]
            assert "token" not in body and "ig_participant" not in stolen.cookies
            # Taking over needs a token of the participant, which the thief does not have.
            with pytest.raises(ConnectionRefusedError):
                await thief.connect(takeover=True)
            client = await real.connect()
            assert (await call(client, "study:state"))["ok"]  # the real tab is untouched
            again = await real.start(PROLIFIC_PID="victim", SESSION_ID="later", extra="1")
            assert again.status_code == 200
    params = store.get_participant("victim").url_params  # type: ignore[union-attr]
    assert params == {"PROLIFIC_PID": "victim", "STUDY_ID": "s1", "SESSION_ID": "a", "extra": "1"}


async def test_2_stored_parameters_stay_bounded_across_visits(tmp_path: Path) -> None:
    with server(tmp_path) as (url, store):
        async with browser(url) as b:
            for visit in range(5):
                params = {f"v{visit}_{i}": "x" * 300 for i in range(30)}
                assert (await b.start(PROLIFIC_PID="p1", **params)).status_code == 200
    params = store.get_participant("p1").url_params  # type: ignore[union-attr]
    assert len(params) <= 64
    assert sum(len(k) + len(v) for k, v in params.items()) <= 16 * 1024


async def test_2_moving_to_a_new_device_when_the_study_allows_it_or_after_release(
    tmp_path: Path,
) -> None:
    with server(tmp_path, study(allow_device_change=True)) as (url, store):
        async with browser(url) as laptop, browser(url) as phone:
            await laptop.start(PROLIFIC_PID="mover")
            old = laptop.token
            assert (await phone.start(PROLIFIC_PID="mover")).status_code == 200
            with pytest.raises(ConnectionRefusedError, match="continued in another browser"):
                await laptop.connect(old)
            assert (await call(await phone.connect(), "study:state"))["ok"]
    with server(tmp_path / "b") as (url, store):
        async with browser(url) as laptop, browser(url) as phone:
            await laptop.start(PROLIFIC_PID="stuck")
            assert (await phone.start(PROLIFIC_PID="stuck")).status_code == 409
            released = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "interactive_gym.participants",
                    "release",
                    "stuck",
                    "--db",
                    store.url,
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert released.returncode == 0, released.stderr
            assert (await phone.start(PROLIFIC_PID="stuck")).status_code == 200
            assert (await laptop.start(PROLIFIC_PID="stuck")).status_code == 409
            with pytest.raises(ConnectionRefusedError, match="continued in another browser"):
                await laptop.connect()


# 3. no completion without the study -------------------------------------------------------------


async def test_3_a_game_is_complete_only_with_its_records(tmp_path: Path) -> None:
    with server(tmp_path) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="lazy")
            client = await b.connect()
            await to_game(client)
            claim = {
                "scene_id": "game",
                "response": {"status": "completed", "episodes": 1, "error": None},
            }
            refused = await call(client, "study:advance", claim)
            assert refused["ok"] is False and refused["field"] == "episodes"
            assert "episode 0 was not played to its end" in refused["error"]
            error = {
                "scene_id": "game",
                "response": {"status": "error", "episodes": 0, "error": "boom"},
            }
            refused = await call(client, "study:advance", error)
            assert refused["ok"] is False and "no error was recorded" in refused["error"]
            done = await call(client, "study:complete", {"scene_id": "end"})
            assert done["ok"] is False
    participant = store.get_participant("lazy")
    assert participant.status == "active" and participant.scene_id == "game"  # type: ignore[union-attr]


async def test_3_a_genuine_game_error_ends_the_scene(tmp_path: Path) -> None:
    with server(tmp_path) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="unlucky")
            client = await b.connect()
            await to_game(client)
            event = {
                "kind": "event",
                "scene_id": "game",
                "t": 1,
                "data": {"type": "game_error", "stage": "step", "message": "boom"},
            }
            assert (await call(client, "chunk", {"seq": 0, "records": [event]}))["ok"]
            error = {
                "scene_id": "game",
                "response": {"status": "error", "episodes": 0, "error": "boom"},
            }
            assert (await call(client, "study:advance", error))["ok"]


def old_derived_code(experiment_id: str, seed: int, participant_id: str) -> str:
    """How codes used to be made: from what the page can see (kept here to prove they are not)."""
    encoded = json.dumps(["completion", experiment_id, seed, participant_id], separators=(",", ":"))
    value = int.from_bytes(hashlib.sha256(encoded.encode()).digest(), "big")
    alphabet, letters = "23456789ABCDEFGHJKMNPQRSTUVWXYZ", []
    for _ in range(8):
        value, index = divmod(value, len(alphabet))
        letters.append(alphabet[index])
    return "".join(letters)


async def test_3_codes_are_keyed_and_every_episode_is_replayed(tmp_path: Path) -> None:
    experiment = study()
    with server(tmp_path, experiment) as (url, store):
        codes = {}
        for pid, cheat in (("honest", False), ("cheat", True)):
            async with browser(url) as b:
                await b.start(PROLIFIC_PID=pid)
                client = await b.connect()
                await to_game(client)
                seed = store.get_participant(pid).seed  # type: ignore[union-attr]
                records = genuine_records(experiment, seed)
                if cheat:  # a perfect score: every step rewarded, the summary to match
                    steps = [r for r in records if r["kind"] == "step"]
                    for r in steps:
                        r["data"]["reward_0"] = 1.0  # the human is agent 0
                    (summary,) = [r for r in records if r["kind"] == "episode"]
                    summary["data"]["return"] = float(len(steps))
                    summary["data"]["returns"]["0"] = float(len(steps))
                await upload(client, records)
                done = {
                    "scene_id": "game",
                    "response": {"status": "completed", "episodes": 1, "error": None},
                }
                assert (await call(client, "study:advance", done))["ok"]
                answer = await call(client, "study:complete", {"scene_id": "end"})
                assert answer["ok"]  # the code is never held back
                codes[pid] = answer["completion_code"]
        deadline = time.monotonic() + 60
        while any(store.get_participant(p).verified is None for p in codes):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the replay did not finish"
            await asyncio.sleep(0.2)
    key = derive_key(SECRET, "completion-codes")
    for pid, code in codes.items():
        participant = store.get_participant(pid)
        assert participant is not None and participant.completion_code == code
        assert code == generated_code(key, EXPERIMENT, pid)
        assert code != old_derived_code(EXPERIMENT, participant.seed, pid)
        assert code != old_derived_code(EXPERIMENT, 0, pid)
    assert store.get_participant("honest").verified is True  # type: ignore[union-attr]
    assert store.get_participant("cheat").verified is False  # type: ignore[union-attr]
    (verdict,) = store.verdicts("cheat")
    assert verdict.verified is False and "step 0: reward" in (verdict.reason or "")


# 4. nothing can be steered -------------------------------------------------------------------


def conditions_study() -> Experiment:
    page = lambda i: StaticScene(i, html=i)  # noqa: E731
    return Experiment(
        "steer",
        scenes=[
            StaticScene("consent", html="c", consent="I agree"),
            Conditions({"a": [page("a1")], "b": [page("b1")], "c": [page("c1")]}),
            EndScene(),
        ],
    )


async def test_4_throwaway_visits_neither_create_participants_nor_steer_conditions(
    tmp_path: Path,
) -> None:
    with server(tmp_path, conditions_study()) as (url, store):
        async with httpx.AsyncClient(base_url=url) as http:
            for i in range(50):
                assert (await http.get(f"/?PROLIFIC_PID=g{i}")).status_code == 200
                assert (await http.head(f"/?PROLIFIC_PID=h{i}")).status_code in (200, 405)
        assert store.participants() == []
        # Throwaway starts that never reach the Conditions block do not count.
        for i in range(6):
            async with browser(url) as b:
                assert (await b.start(PROLIFIC_PID=f"throwaway{i}")).status_code == 200
        assert all(p.condition is None for p in store.participants())
        reached = []
        for i in range(6):
            async with browser(url) as b:
                await b.start(PROLIFIC_PID=f"real{i}")
                client = await b.connect()
                answer = await call(client, "study:advance", CONSENT)
                assert answer["ok"] and answer["path_changed"] is True
                state = await call(client, "study:state")
                reached.append(state["condition"])
                assert [s["scene_id"] for s in state["scenes"]] == [
                    "consent",
                    f"{state['condition']}1",
                    "end",
                ]
    assert reached == ["a", "b", "c", "a", "b", "c"]
    assert store.condition_counts("steer") == {"a": 2, "b": 2, "c": 2}


# 5. limits ---------------------------------------------------------------------------------------


async def test_5_storage_quota_and_upload_rate(tmp_path: Path) -> None:
    uploads = UploadSettings(quota_bytes=30_000, burst_bytes=20_000, bytes_per_s=1)
    with server(tmp_path, limits=LimitSettings(uploads=uploads)) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="hog")
            client = await b.connect()
            blob = {"kind": "event", "scene_id": "consent", "t": 1, "data": {"x": "y" * 9000}}
            acks = [await call(client, "chunk", {"seq": s, "records": [blob]}) for s in range(3)]
            assert [a["ok"] for a in acks] == [True, True, False]
            assert acks[2]["retry"] is True and "rate" in acks[2]["error"]
    with server(
        tmp_path / "q", limits=LimitSettings(uploads=UploadSettings(quota_bytes=30_000))
    ) as (
        url,
        store,
    ):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="hog")
            client = await b.connect()
            acks = [await call(client, "chunk", {"seq": s, "records": [blob]}) for s in range(4)]
            assert [a["ok"] for a in acks] == [True, True, True, False]
            assert acks[3]["retry"] is False and "quota" in acks[3]["error"]
    assert len(store.records("hog")) == 3


async def test_5_starts_are_rate_limited_per_address(tmp_path: Path) -> None:
    entry = EntrySettings(burst=5, per_s=0.01)
    with server(tmp_path, limits=LimitSettings(entry=entry)) as (url, store):
        statuses = []
        for _ in range(8):
            async with browser(url) as b:
                statuses.append((await b.start()).status_code)
    assert statuses == [200] * 5 + [429] * 3
    assert len(store.participants()) == 5


async def test_5_refusals_are_logged_at_a_bounded_rate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with server(tmp_path) as (url, _):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="noisy")
            client = await b.connect()
            with caplog.at_level(logging.WARNING, logger="interactive_gym"):
                for i in range(2000):
                    await client.emit("junk", {"i": i})
                await call(client, "study:state")  # every emit before it was handled
    logged = [r for r in caplog.records if "refused" in r.getMessage()]
    assert 1 <= len(logged) <= 20
    assert sum(len(r.getMessage()) for r in logged) < 5000


# 6. smaller holes -------------------------------------------------------------------------------


async def test_6_tokens_expire_and_belong_to_one_experiment(tmp_path: Path) -> None:
    with server(tmp_path, token_max_age_s=1) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="p1")
            await asyncio.sleep(2.1)
            with pytest.raises(ConnectionRefusedError, match="expired"):
                await b.connect()
            # Another experiment's token, same data folder and secret: refused by the chunk path.
            store.create_participant(
                "p2", "other", condition=None, url_params={}, seed=1, scene_order=["consent"]
            )
            foreign = TokenSigner(SECRET, "other").issue("p2")
            async with httpx.AsyncClient(base_url=url) as http:
                body = {"token": foreign, "seq": 0, "records": []}
                posted = await http.post("/api/chunks", json=body)
            assert posted.status_code == 403 and "another study" in posted.json()["error"]
    assert store.records() == []


async def test_6_a_seq_at_the_top_of_the_range_cannot_block_later_uploads(tmp_path: Path) -> None:
    event = {"kind": "event", "scene_id": "consent", "t": 1, "data": {"type": "x"}}
    with server(tmp_path) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="p1")
            client = await b.connect()
            top = await call(client, "chunk", {"seq": 2**31 - 1, "records": [event]})
            assert top["ok"] is False and "too far ahead" in top["error"]
            assert (await call(client, "chunk", {"seq": 0, "id": "a", "records": [event]}))["ok"]
            clash = await call(client, "chunk", {"seq": 0, "id": "b", "records": [event]})
            assert clash["next_seq"] == 1
            assert (await call(client, "chunk", {"seq": 1, "id": "b", "records": [event]}))["ok"]
    assert [r["seq"] for r in store.records("p1")] == [0, 1]


DEEP = '{"d":' * 5000 + "1" + "}" * 5000


class DeepPacket(socketio.packet.Packet):
    """A client packet whose ``"@deep"`` strings go out as JSON nested 5,000 levels deep."""

    def encode(self):  # noqa: ANN201
        encoded = super().encode()
        return encoded.replace('"@deep"', DEEP) if isinstance(encoded, str) else encoded


async def test_6_deeply_nested_json_is_refused_with_a_reason(tmp_path: Path) -> None:
    chunk = {
        "seq": 0,
        "records": [{"kind": "event", "scene_id": "consent", "t": 1, "data": "@deep"}],
    }
    with server(tmp_path) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="p1")
            client = socketio.AsyncClient(reconnection=False, serializer=DeepPacket)
            await client.connect(url, auth={"token": b.token, "tab": "t"}, transports=["websocket"])
            try:
                ack = await call(client, "chunk", chunk)
                assert ack["ok"] is False and "nested too deeply" in ack["error"]
                assert (await call(client, "study:state"))["ok"]  # the connection is fine
            finally:
                await client.disconnect()
            text = json.dumps({"token": b.token, **chunk}).replace('"@deep"', DEEP)
            async with httpx.AsyncClient(base_url=url) as http:
                posted = await http.post("/api/chunks", content=text)
            assert posted.status_code == 400 and "nested too deeply" in posted.json()["error"]
    assert store.records() == []


async def test_6_the_socket_accepts_only_the_servers_own_origin(tmp_path: Path) -> None:
    with server(tmp_path) as (url, _):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="p1")
            with pytest.raises(ConnectionRefusedError):
                client = socketio.AsyncClient(reconnection=False)
                try:
                    await client.connect(
                        url,
                        auth={"token": b.token, "tab": "t"},
                        transports=["websocket"],
                        headers={"Origin": "https://evil.example"},
                        wait_timeout=10,
                    )
                except socketio.exceptions.ConnectionError as exc:
                    raise ConnectionRefusedError(str(exc)) from None
            own = socketio.AsyncClient(reconnection=False)
            await own.connect(
                url,
                auth={"token": b.token, "tab": "t"},
                transports=["websocket"],
                headers={"Origin": url},
                wait_timeout=10,
            )
            await own.disconnect()
        async with httpx.AsyncClient(base_url=url) as http:
            forged = await http.post(
                "/api/start", json={"params": {}}, headers={"Origin": "https://evil.example"}
            )
            assert forged.status_code == 403


async def test_6_pages_carry_protective_headers_and_no_forged_host(tmp_path: Path) -> None:
    with server(tmp_path) as (url, _):
        async with httpx.AsyncClient(base_url=url) as http:
            page = await http.get("/")
            runtime = await http.get("/runtime.json", headers={"Host": "evil.example"})
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "evil.example" not in runtime.text


def test_6_database_files_are_private_and_closed_at_shutdown(tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    with server(tmp_path) as (url, _):
        httpx.post(f"{url}/api/start", json={"params": {"PROLIFIC_PID": "p1"}}, timeout=20)
        assert db.stat().st_mode & 0o777 == 0o600
    # The server stopped: the store was closed, SQLite folded its log back in.
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


def test_6_an_empty_secret_file_stops_the_start_with_an_explanation(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret.key").write_text("")
    started = subprocess.run(
        [sys.executable, "-m", "interactive_gym.run", "--port", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert started.returncode == 2
    assert "secret file data/secret.key is empty" in started.stderr
    assert "Traceback" not in started.stderr


async def test_6_what_a_participant_types_is_no_formula_and_no_column_is_lost(
    tmp_path: Path,
) -> None:
    with server(tmp_path) as (url, store):
        async with browser(url) as b:
            await b.start(PROLIFIC_PID="p1", STUDY_ID='=HYPERLINK("http://evil")')
            client = await b.connect()
            assert (await call(client, "study:advance", CONSENT))["ok"]
            answers = {**ANSWERS, "device": "=cmd|' /C calc'!A0"}
            survey = {"scene_id": "survey", "response": {"answers": answers}, "attempt": 1}
            assert (await call(client, "study:advance", survey))["ok"]
            step = {
                "kind": "step",
                "scene_id": "game",
                "episode": 0,
                "step": 0,
                "t": 1,
                "data": {"step": "mine", "data_step": "also mine", "action": 0},
            }
            assert (await call(client, "chunk", {"seq": 0, "records": [step]}))["ok"]
        export(store, tmp_path / "csv", "csv")
    cells = [
        cell
        for path in (tmp_path / "csv").glob("*.csv")
        for row in csv.reader(path.open(newline="", encoding="utf-8"))
        for cell in row
    ]
    assert "'=cmd|' /C calc'!A0" in cells and '\'=HYPERLINK("http://evil")' in cells
    for cell in cells:  # no cell a spreadsheet would run
        assert not cell.startswith(("=", "+", "@")), cell
        assert not cell.startswith("-") or cell.lstrip("-").replace(".", "").isdigit(), cell
    header = (tmp_path / "csv" / "steps_game.csv").read_text().splitlines()[0].split(",")
    assert {"data_step", "data_data_step"} <= set(header)
