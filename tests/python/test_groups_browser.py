"""Human–human studies end to end in headless Chromium: bots arrive, wait in a ``WaitingRoom``,
play one server-runtime group game together and finish the study; the export holds one
canonical step row per group step (written by the server), every member's key events, the
``groups`` table and the waiting-room outcomes. Drops, reloads, timeouts and a crowd of pairs
arriving at once are played here too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from game_study import GameServer, assert_verified, open_page, wait_finished
from playwright.sync_api import Browser, Page, sync_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.page_wait import wait_until
from interactive_gym.server.settings import PROJECT_DIR

pytestmark = pytest.mark.browser

EXAMPLES = PROJECT_DIR / "interactive_gym" / "examples"
STEPS = 24


def study(
    *,
    humans: int = 2,
    ai: int = 0,
    room: str = "",
    scene: str = "",
    fps: int = 15,
    episodes: int = 2,
    steps: int = STEPS,
    after: str = "",
    prelude: str = "",
    game: str | None = None,
) -> str:
    """A study: a room, one gather game of ``humans`` people (and ``ai`` greedy players)."""
    agents = ", ".join(
        [f"{i}: 'human'" for i in range(humans)]
        + [
            f"{humans + i}: PythonPolicy({str(EXAMPLES / 'policies/gather_greedy.py')!r})"
            for i in range(ai)
        ]  # fmt: skip
    )
    game = (
        game
        or f"""GymScene(
        "gather", runtime="server", env_file={str(EXAMPLES / "envs/gather.py")!r},
        env_config={{"players": {humans + ai}, "max_steps": 10000}},
        agents={{{agents}}},
        controls={{"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4}},
        fps={fps}, episodes={episodes}, max_steps={steps}, countdown_s=0,
        pause_after_episode_s=0.2, {scene})"""
    )
    return f"""
from interactive_gym.study import *
{prelude}
experiment = Experiment(
    "groups_test",
    scenes=[
        StaticScene("hello", html="<p>Hi</p>"),
        WaitingRoom("lobby", countdown_s=0, {room}),
        {game},
        {after}
        EndScene(),
    ],
    seed=5,
)
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[GameServer] = []

    def make(source: str) -> GameServer:
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        servers.append(GameServer(folder, source))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


def bots(browser: Browser, server: GameServer, names: list[str], extra: str = "") -> list[Page]:
    return [
        open_page(browser, server, f"bot=random&bot_pause_ms=40&PROLIFIC_PID={n}{extra}")
        for n in names
    ]


def finish_all(pages: list[Page], timeout_s: float = 180) -> None:
    for page in pages:
        wait_finished(page, timeout_s)
    for page in pages:
        page.context.close()


def rows(tables: dict[str, list[dict]], name: str, **where: Any) -> list[dict]:
    return [r for r in tables.get(name, []) if all(r.get(k) == v for k, v in where.items())]


def events_of(tables: dict[str, list[dict]], pid: str) -> list[str]:
    return [e["type"] for e in rows(tables, "events", participant_id=pid)]


def assert_canonical(tables: dict, group: dict, scene_id: str, episodes: int, steps: int) -> None:
    """One step row per group step (participant_id empty, group_id set), no gaps, every
    member named as the player of their agent."""
    steps_rows = rows(tables, f"steps_{scene_id}", group_id=group["group_id"])
    assert steps_rows and all(r["participant_id"] is None for r in steps_rows)
    keys = [(r["episode"], r["step"]) for r in steps_rows]
    assert len(keys) == len(set(keys)), "a group step is stored twice"
    for episode in range(episodes):
        got = sorted(r["step"] for r in steps_rows if r["episode"] == episode)
        assert got == list(range(steps)), f"episode {episode}: {got}"
    for pid, agent in group["agents"].items():
        assert all(r[f"participant_{agent}"] == pid for r in steps_rows), (pid, agent)
    summaries = rows(tables, "episodes", group_id=group["group_id"])
    assert sorted(s["episode"] for s in summaries) == list(range(episodes))
    assert all(s["participant_id"] is None and s["length"] == steps for s in summaries)


def test_two_bots_wait_pair_up_play_together_and_finish(browser: Browser, make_server) -> None:
    server = make_server(study())
    closes: list[str] = []
    pages = bots(browser, server, ["ann", "bob"])
    for page in pages:
        page.on("websocket", lambda ws: ws.on("close", lambda _: closes.append(ws.url)))
    # Both pages see the same frames while they play.
    wait_until(pages[0], "window.interactiveGymGame && window.interactiveGymGame.step > 5",
               timeout=120_000)  # fmt: skip
    finish_all(pages)
    assert closes == [], "a socket was disconnected"

    tables = server.export()
    (group,) = tables["groups"]
    assert sorted(group["members"]) == ["ann", "bob"]
    assert sorted(group["agents"].values()) == ["0", "1"]
    assert group["waiting_room"] == "lobby" and group["ended_how"] == "completed"
    assert_canonical(tables, group, "gather", 2, STEPS)
    for pid in ("ann", "bob"):
        (participant,) = rows(tables, "participants", participant_id=pid)
        assert participant["status"] == "completed"
        assert participant["group_ids"] == [group["group_id"]]
        assert "waiting_matched" in events_of(tables, pid)
        inputs = rows(tables, "inputs", participant_id=pid)
        assert inputs, f"{pid}: no key events recorded"
        assert all(i["group_id"] == group["group_id"] for i in inputs)
        # Each key event of a member is joinable with the canonical row of its tick.
        agent = group["agents"][pid]
        seqs = {r[f"input_seq_{agent}"] for r in rows(tables, "steps_gather")}
        assert any(i["seq"] in seqs for i in inputs)
    # the verify command replays the group's game from its seed and canonical rows
    report = server.verify()
    assert_verified(report, episodes=2)
    assert {e["owner"] for e in report["episodes"]} == {group["group_id"]}


def test_three_bots_play_one_game_with_an_ai_fourth(browser: Browser, make_server) -> None:
    server = make_server(study(humans=3, ai=1, episodes=1))
    pages = bots(browser, server, ["p1", "p2", "p3"])
    finish_all(pages)
    tables = server.export()
    (group,) = tables["groups"]
    assert sorted(group["members"]) == ["p1", "p2", "p3"]
    assert_canonical(tables, group, "gather", 1, STEPS)
    step = rows(tables, "steps_gather")[0]
    assert {"action_0", "action_1", "action_2", "action_3"} <= set(step)


def test_a_matcher_groups_by_url_parameter_and_conditions_are_per_group(
    browser: Browser, make_server
) -> None:
    prelude = """
def by_team(waiting):
    for team in ("red", "blue"):
        same = [w.participant_id for w in waiting if w.present and w.url_params.get("team") == team]
        if len(same) >= 2:
            return same[:2]
    return None
"""

    def scene(scene_id: str) -> str:
        return f"""GymScene("{scene_id}", runtime="server",
            env_file={str(EXAMPLES / "envs/gather.py")!r}, env_config={{"players": 2}},
            agents={{0: "human", 1: "human"}}, controls={{"ArrowUp": 1, "ArrowDown": 2}},
            fps=15, episodes=1, max_steps=12, countdown_s=0, pause_after_episode_s=0)"""

    game = f"Conditions({{'a': [{scene('gather_a')}], 'b': [{scene('gather_b')}]}}, per='group')"
    server = make_server(study(room="matcher=by_team", prelude=prelude, game=game))
    pages = [
        *bots(browser, server, ["r1"], "&team=red"),
        *bots(browser, server, ["b1"], "&team=blue"),
        *bots(browser, server, ["r2"], "&team=red"),
        *bots(browser, server, ["b2"], "&team=blue"),
    ]
    finish_all(pages)
    tables = server.export()
    groups = {tuple(sorted(g["members"])): g for g in tables["groups"]}
    assert set(groups) == {("r1", "r2"), ("b1", "b2")}
    conditions = sorted(g["condition"] for g in groups.values())
    assert conditions == ["a", "b"], "conditions are balanced over groups"
    for members, group in groups.items():
        for pid in members:
            (participant,) = rows(tables, "participants", participant_id=pid)
            assert participant["condition"] == group["condition"]


@pytest.mark.parametrize("on_timeout", ["skip", "stand_in", "end"])
def test_nobody_comes_and_the_room_times_out(browser: Browser, make_server, on_timeout) -> None:
    option = {
        "skip": "on_timeout='skip'",
        "stand_in": "on_timeout=StandIn({0: 'random', 1: 'random'})",
        "end": "on_timeout=EndScene('alone', completion_code='ALONE123')",
    }[on_timeout]
    after = 'SurveyScene("feedback", questions=[Likert("fun", "Fun?")]),'
    server = make_server(study(room=f"timeout_s=5, {option}", after=after, episodes=1))
    (page,) = bots(browser, server, ["solo"])
    # The waiting page says how long they waited and how many are needed.
    wait_until(page, "document.body.innerText.includes('Waited')", timeout=60_000)
    status = wait_finished(page, 120)
    text = page.inner_text("body")
    page.context.close()
    tables = server.export()
    (participant,) = rows(tables, "participants", participant_id="solo")
    assert participant["status"] == "completed"
    types = events_of(tables, "solo")
    assert "waiting_timeout" in types
    surveys = rows(tables, "survey_answers", participant_id="solo")
    if on_timeout == "skip":
        assert "scene_skipped" in types
        assert not tables.get("groups") and surveys
    elif on_timeout == "stand_in":
        (group,) = tables["groups"]
        assert group["members"] == ["solo"] and group["stand_ins"]
        assert_canonical(tables, group, "gather", 1, STEPS)
        assert surveys
    else:
        assert "ALONE123" in text and participant["completion_code"] == "ALONE123"
        assert not surveys
    assert status["finished"]


@pytest.mark.parametrize("leave", ["stand_in", "end", "end_scene"])
def test_a_member_closes_the_page_mid_game(browser: Browser, make_server, leave) -> None:
    """The member who stays is told, never left waiting, and goes on by on_member_leave;
    the study's second group scene follows the same rule (played with the stand-in from
    its start, or skipped)."""
    rule = {
        "stand_in": "StandIn({0: 'random', 1: 'random'})",
        "end": "'end'",
        "end_scene": "partner_left",
    }[leave]
    option = f"on_member_leave={rule}, reconnect_s=2"
    second = f"""GymScene(
        "second", runtime="server", env_file={str(EXAMPLES / "envs/gather.py")!r},
        env_config={{"players": 2}}, agents={{0: "human", 1: "human"}},
        controls={{"ArrowUp": 1}}, fps=15, episodes=1, max_steps=15, countdown_s=0,
        pause_after_episode_s=0, {option}),"""
    prelude = "partner_left = EndScene('partner_left', completion_code='PARTNERLEFT')"
    server = make_server(study(scene=option, steps=150, episodes=1, after=second, prelude=prelude))
    stay, go = bots(browser, server, ["stay", "go"])
    wait_until(go, "window.interactiveGymGame && window.interactiveGymGame.step > 10",
               timeout=120_000)  # fmt: skip
    go.context.close()
    wait_until(stay, "document.body.innerText.includes('partner')", timeout=20_000)
    finish_all([stay], 120)
    tables = server.export()
    (group,) = tables["groups"]
    assert group["left"] == {"go": "gather"}
    stay_events = events_of(tables, "stay")
    assert "member_away" in stay_events and "member_left" in stay_events
    steps_rows = rows(tables, "steps_gather", group_id=group["group_id"])
    keys = [r["step"] for r in steps_rows]
    assert len(keys) == len(set(keys)) and sorted(keys) == list(range(len(keys)))
    (summary,) = rows(tables, "episodes", group_id=group["group_id"], scene_id="gather")
    go_agent = group["agents"]["go"]
    (participant,) = rows(tables, "participants", participant_id="stay")
    assert participant["status"] == "completed"
    second_steps = rows(tables, "steps_second", group_id=group["group_id"])
    if leave == "stand_in":
        assert summary["length"] == 150 and summary["ended_by"] == "max_steps"
        assert steps_rows[-1][f"participant_{go_agent}"] == "stand_in"
        assert "stand_in" in stay_events
        assert len(second_steps) == 15
        assert all(r[f"participant_{go_agent}"] == "stand_in" for r in second_steps)
    else:
        assert summary["ended_by"] == "member_left" and summary["length"] < 150
        assert group["scenes"]["gather"] == "member_left"
        assert not second_steps
    if leave == "end":
        assert "scene_skipped" in stay_events
    if leave == "end_scene":
        assert participant["completion_code"] == "PARTNERLEFT"
        assert participant["scene_id"] == "partner_left"


def test_a_member_reloads_mid_game_and_rejoins(browser: Browser, make_server) -> None:
    server = make_server(study(scene="reconnect_s=20", steps=120, episodes=1))
    first, second = bots(browser, server, ["stays", "reloads"])
    wait_until(second, "window.interactiveGymGame && window.interactiveGymGame.step > 10",
               timeout=120_000)  # fmt: skip
    second.reload()
    wait_until(second, "window.interactiveGymGame && window.interactiveGymGame.step > 40",
               timeout=60_000)  # fmt: skip
    finish_all([first, second])
    tables = server.export()
    (group,) = tables["groups"]
    assert not group["left"]
    assert_canonical(tables, group, "gather", 1, 120)
    assert "member_back" in events_of(tables, "stays")


def test_ten_pairs_arriving_at_once_all_play_and_finish(browser: Browser, make_server) -> None:
    server = make_server(study(steps=20, episodes=1, fps=10))
    closes: list[str] = []
    names = [f"crowd{i:02d}" for i in range(20)]
    contexts = [browser.new_context() for _ in names]
    pages = [c.new_page() for c in contexts]
    for page in pages:
        page.on("websocket", lambda ws: ws.on("close", lambda _: closes.append(ws.url)))
    started = time.monotonic()
    for page, name in zip(pages, names, strict=True):  # no stagger: every page at once
        page.goto(f"{server.url}/?bot=random&bot_pause_ms=30&PROLIFIC_PID={name}",
                  wait_until="commit")  # fmt: skip
    finish_all(pages, 240)
    assert closes == [], "a socket was disconnected"
    tables = server.export()
    assert len(tables["groups"]) == 10
    assert sorted(m for g in tables["groups"] for m in g["members"]) == names
    for group in tables["groups"]:
        assert_canonical(tables, group, "gather", 1, 20)
    assert all(p["status"] == "completed" for p in tables["participants"])
    print(f"10 pairs played in {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize(
    ("example", "scene", "humans"),
    [("pairs_study", "kitchen", 2), ("trio_study", None, 2), ("duel_study", "duel", 2)],
)
def test_the_example_group_studies_play_end_to_end(
    browser: Browser, make_server, example: str, scene: str | None, humans: int
) -> None:
    """The examples as written, shortened: bots pair up, play, answer and finish."""
    shorten = (
        f"example.{scene}.max_steps = 16\nexample.{scene}.countdown_s = 0"
        if scene
        else "for s in example.experiment.scenes_by_id.values():\n"
        "    if isinstance(s, GymScene): s.max_steps, s.countdown_s = 16, 0"
    )
    server = make_server(
        f"from interactive_gym.examples import {example} as example\n"
        "from interactive_gym.study import GymScene\n"
        f"{shorten}\nexperiment = example.experiment\n"
    )
    pages = bots(browser, server, [f"{example}{i}" for i in range(humans)])
    finish_all(pages, 240)
    tables = server.export()
    (group,) = tables["groups"]
    assert group["ended_how"] == "completed"
    assert all(p["status"] == "completed" for p in tables["participants"])
    played = [name for name in tables if name.startswith("steps_")]
    assert played and all(rows(tables, name, group_id=group["group_id"]) for name in played)
    episodes = len(rows(tables, "episodes", group_id=group["group_id"]))
    assert_verified(server.verify(), episodes=episodes)
