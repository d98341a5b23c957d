"""The game scene end to end: real server, real Pyodide in headless Chromium, SQLite, export.

The demo is played to the end by the bot (``?bot=random``) and its export checked step by
step, down to replaying the recorded episodes in CPython; each example study plays a short
episode; the environment loads in the background during the first pages.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from game_study import (
    GameServer,
    assert_steps_once,
    assert_verified,
    game_state,
    open_page,
    play_to_the_end,
    rows_of,
    wait_finished,
)
from playwright.sync_api import Browser, sync_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.page_wait import wait_until
from interactive_gym.study import derive_seed, load_study
from interactive_gym.study.loader import DEMO_STUDY

pytestmark = pytest.mark.browser

EXAMPLES = DEMO_STUDY.parent
#: The columns of a two-agent game's step table (docs/game.md).
STEP_COLUMNS = {
    "participant_id", "scene_id", "episode", "attempt", "step", "t",
    "action_0", "action_1", "reward_0", "reward_1", "terminated", "truncated",
    "keys", "key_events", "info", "tick_t", "tick_late_ms", "dropped_ticks",
    "worker_ms", "env_ms", "policy_ms", "round_trip_ms", "draw_ms", "focus", "runtime",
}  # fmt: skip
KITCHEN_KEYS = {"": 0, "ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4, "Space": 5}


def short(module: str, scene: str, max_steps: int, episodes: int | None = None) -> str:
    """A study file serving an example with short episodes and no waits."""
    lines = [
        f"from interactive_gym.examples import {module} as example",
        f"example.{scene}.max_steps = {max_steps}",
        f"example.{scene}.countdown_s = 0",
        f"example.{scene}.pause_after_episode_s = 0.2",
        "experiment = example.experiment",
    ]
    if episodes is not None:
        lines.insert(1, f"example.{scene}.episodes = {episodes}")
    return "\n".join(lines) + "\n"


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"replay_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[GameServer]:
    server = GameServer(tmp_path, short("demo_study", "game", max_steps=40))
    yield server
    server.stop()


def test_the_bot_plays_the_demo_to_the_end_and_every_step_is_exported_once(
    browser: Browser, demo: GameServer
) -> None:
    page = open_page(browser, demo, "bot=random&bot_pause_ms=60&PROLIFIC_PID=gamebot")
    wait_finished(page)
    state = game_state(page)
    assert state["state"] == "done" and state["stats"]["ticks"] == 80
    page.context.close()
    tables = demo.export()
    (participant,) = rows_of(tables, "participants", "gamebot")
    assert participant["status"] == "completed"
    assert participant["scene_order"] == ["consent", "instructions", "kitchen", "survey", "end"]
    steps = rows_of(tables, "steps_kitchen", "gamebot")
    assert_steps_once(steps, {0: 40, 1: 40})
    assert all(set(row) == STEP_COLUMNS for row in steps), set(steps[0]) ^ STEP_COLUMNS
    assert {r["attempt"] for r in steps} == {1}
    for row in steps:
        # the human's action is the one its keys map to; the partner's comes from its policy
        assert row["action_0"] == KITCHEN_KEYS[row["keys"]]
        assert row["action_1"] in range(6)
        assert row["focus"] in ("focused", "blurred")
        assert row["truncated"] == (row["step"] == 39) and row["terminated"] is False
        assert row["worker_ms"] >= row["env_ms"] >= 0 and row["round_trip_ms"] >= row["worker_ms"]
        for kind, key, t in row["key_events"]:
            assert kind in ("down", "up", "release") and key in KITCHEN_KEYS and t > 0
    pressed = [r for r in steps if r["keys"]]
    assert len(pressed) > 10, "the bot pressed keys through the page's keyboard handlers"
    assert sum(len(r["key_events"]) for r in steps) > 10

    episodes = sorted(rows_of(tables, "episodes", "gamebot"), key=lambda r: r["episode"])
    seeds = [derive_seed(participant["seed"], "kitchen", "episode", i) for i in (0, 1)]
    assert [e["seed"] for e in episodes] == seeds
    for episode in episodes:
        mine = [r for r in steps if r["episode"] == episode["episode"]]
        assert episode["length"] == 40 and episode["ended_by"] == "max_steps"
        assert episode["return"] == sum(r["reward_0"] for r in mine)
        assert episode["ticks"] == 40 and episode["attempt"] == 1

    # Replaying the recorded human actions with the recorded seeds in CPython gives the same
    # partner actions and rewards: every episode can be reproduced from the export.
    kitchen = load_module(EXAMPLES / "envs" / "kitchen.py")
    partner = load_module(EXAMPLES / "policies" / "kitchen_partner.py")
    for episode in episodes:
        env = kitchen.make_env(max_steps=320)  # the demo's env_config
        observations, _ = env.reset(seed=episode["seed"])
        mine = sorted(
            (r for r in steps if r["episode"] == episode["episode"]), key=lambda r: r["step"]
        )
        for row in mine:
            assert partner.policy(observations[1], 1) == row["action_1"]
            observations, rewards, *_ = env.step({0: row["action_0"], 1: row["action_1"]})
            assert rewards[0] == row["reward_0"]

    # and the verify command replays both from the database, step by step
    assert_verified(demo.verify(), episodes=2)

    events = rows_of(tables, "events", "gamebot")
    kinds = [(e["scene_id"], e["type"]) for e in events]
    assert kinds.count(("kitchen", "game_loaded")) == 1
    assert ("kitchen", "game_error") not in kinds
    assert kinds.count(("kitchen", "scene_end")) == 1
    assert len(rows_of(tables, "survey_answers", "gamebot")) == 5


def test_the_game_loads_while_the_first_pages_are_read(browser: Browser, demo: GameServer) -> None:
    page = open_page(browser, demo, "PROLIFIC_PID=reader")
    wait_until(
        page,
        "window.interactiveGymGame && window.interactiveGymGame.loads().kitchen?.stage === 'ready'",
        timeout=120_000,
    )
    assert page.evaluate("window.interactiveGym.sceneId") == "consent"
    page.check("[data-ig-consent]")
    page.click("[data-ig-continue]")
    wait_until(page, "window.interactiveGym.sceneId === 'instructions'")
    page.click("[data-ig-continue]")
    page.wait_for_selector("[data-ig-game][data-state='playing']", timeout=10_000)
    # Ready before the scene started: no loading panel, the game started straight away.
    assert page.locator("[data-ig-loading]").is_hidden()
    page.keyboard.down("ArrowRight")
    wait_until(page, "window.interactiveGymGame.step > 8")
    page.keyboard.up("ArrowRight")
    wait_until(page, "window.interactiveGymGame.episode === 1")
    page.context.close()
    tables = demo.export()
    (loaded,) = [e for e in rows_of(tables, "events", "reader") if e["type"] == "game_loaded"]
    assert loaded["data"]["waited_ms"] < loaded["data"]["load_ms"]
    steps = rows_of(tables, "steps_kitchen", "reader")
    assert any(r["keys"] == "ArrowRight" and r["action_0"] == 4 for r in steps)
    held = [
        r for r in steps if r["key_events"] and r["key_events"][0][:2] == ["down", "ArrowRight"]
    ]
    assert len(held) == 1  # one keydown, however many ticks it was held


@pytest.mark.parametrize(
    ("module", "scene", "table", "columns"),
    [
        ("physics_duel_study", "duel", "steps_duel", {"action_0", "action_1", "reward_1"}),
        ("kitchen_study", "kitchen", "steps_kitchen", {"action_0", "action_1", "reward_1"}),
        ("cartpole_study", "cartpole", "steps_cartpole", {"action", "reward", "observation"}),
    ],
)
def test_each_example_plays_a_short_episode(
    browser: Browser, tmp_path: Path, module: str, scene: str, table: str, columns: set[str]
) -> None:
    study = short(module, scene, max_steps=25, episodes=1)
    query = "bot=random&bot_pause_ms=40&PROLIFIC_PID=ex1"
    tables = play_to_the_end(browser, tmp_path, study, query, verified=1)
    steps = rows_of(tables, table, "ex1")
    (episode,) = rows_of(tables, "episodes", "ex1")
    assert 1 <= episode["length"] <= 25
    assert episode["ended_by"] in ("max_steps", "terminated")
    assert_steps_once(steps, {0: episode["length"]})
    assert columns <= set(steps[0])
    experiment = load_study(EXAMPLES / f"{module}.py")
    seed = experiment.participant_seed("ex1")
    assert episode["seed"] == derive_seed(seed, scene, "episode", 0)
    if module == "cartpole_study":
        assert all(len(r["observation"]) == 4 for r in steps)
        assert all(r["action"] in (0, 1) for r in steps)


def test_a_reload_during_the_game_replays_only_the_interrupted_episode(
    browser: Browser, demo: GameServer
) -> None:
    page = open_page(browser, demo, "bot=random&bot_pause_ms=40&PROLIFIC_PID=reloader")
    wait_until(
        page,
        "window.interactiveGymGame && window.interactiveGymGame.episode === 1"
        " && window.interactiveGymGame.step > 10",
        timeout=120_000,
    )
    page.reload()
    wait_finished(page)
    page.context.close()
    tables = demo.export()
    steps = rows_of(tables, "steps_kitchen", "reloader")
    first = [r for r in steps if r["attempt"] == 1]
    second = [r for r in steps if r["attempt"] == 2]
    assert_steps_once([r for r in first if r["episode"] == 0], {0: 40})
    interrupted = sorted(r["step"] for r in first if r["episode"] == 1)
    assert 10 < len(interrupted) < 40 and interrupted == list(range(len(interrupted)))
    assert_steps_once(second, {1: 40})  # episode 0 was not played again
    episodes = rows_of(tables, "episodes", "reloader")
    assert sorted((e["episode"], e["attempt"], e["length"]) for e in episodes) == [
        (0, 1, 40),
        (1, 2, 40),
    ]
    (seed_1,) = {e["seed"] for e in episodes if e["episode"] == 1}
    starts = [e for e in rows_of(tables, "events", "reloader") if e["type"] == "scene_start"]
    assert [e["data"]["attempt"] for e in starts if e["scene_id"] == "kitchen"] == [1, 2]
    # The reload restored Python from the memory snapshot the first load stored.
    loaded = [
        e["data"] for e in rows_of(tables, "events", "reloader") if e["type"] == "game_loaded"
    ]
    assert [(d["load_kind"], d["snapshot"]) for d in loaded] == [
        ("boot", "made"),
        ("restore", "restored"),
    ]
    assert seed_1 == derive_seed(
        rows_of(tables, "participants", "reloader")[0]["seed"], "kitchen", "episode", 1
    )
    # the interrupted run is replayed as far as it was recorded, and said to be cut short
    report = demo.verify()
    assert_verified(report, episodes=3, cut_short=1)
    (cut,) = [e for e in report["episodes"] if e["status"] == "cut_short"]
    assert (cut["episode"], cut["attempt"], cut["steps"]) == (1, 1, len(interrupted))


TWO_GAMES = f"""
from interactive_gym.study import EndScene, Experiment, GymScene

def cartpole(scene_id):
    return GymScene(
        scene_id,
        env_file={str(EXAMPLES / "envs" / "cartpole.py")!r},
        agents={{"player": "human"}},
        controls={{"ArrowLeft": 0, "ArrowRight": 1}},
        fps=30,
        max_steps=60,
        countdown_s=0,
        pause_after_episode_s=0,
    )

experiment = Experiment("two", scenes=[cartpole("first"), cartpole("second"), EndScene()])
"""


def test_a_second_game_loads_only_after_the_first_is_played(
    browser: Browser, tmp_path: Path
) -> None:
    server = GameServer(tmp_path, TWO_GAMES)
    try:
        page = open_page(browser, server, "bot=random&PROLIFIC_PID=two")
        wait_until(
            page,
            "window.interactiveGymGame && window.interactiveGymGame.state === 'playing'",
            timeout=120_000,
        )
        loads = game_state(page)["loads"]
        assert loads["first"]["stage"] == "ready"
        assert loads["second"]["stage"] == "waiting"  # not competing with the game being played
        wait_finished(page)
        page.context.close()
        tables = server.export()
    finally:
        server.stop()
    for scene in ("first", "second"):
        (episode,) = [e for e in rows_of(tables, "episodes", "two") if e["scene_id"] == scene]
        assert_steps_once(rows_of(tables, f"steps_{scene}", "two"), {0: episode["length"]})
