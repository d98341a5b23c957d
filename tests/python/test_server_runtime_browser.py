"""The server runtime end to end: the bot plays ``examples/gymnasium_study.py`` in headless
Chromium; the env runs in the server's env processes, the frames come over the study socket
(``static/js/game/socket_channel.js``), and the export has every step once, written by the
server, and the participant's key changes as ``input`` rows written by the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gymnasium
import pytest
from game_study import (
    GameServer,
    assert_steps_once,
    assert_verified,
    game_state,
    open_page,
    rows_of,
    wait_finished,
)
from playwright.sync_api import Browser, sync_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.data.store import Store
from interactive_gym.study import derive_seed

pytestmark = pytest.mark.browser

MAX_STEPS = 45
STUDY = f"""
from interactive_gym.examples import gymnasium_study as example
example.cartpole.max_steps = {MAX_STEPS}
example.cartpole.countdown_s = 0
example.cartpole.pause_after_episode_s = 0.2
example.cartpole.record_observations = True
experiment = example.experiment
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GameServer]:
    server = GameServer(tmp_path, STUDY)
    yield server
    server.stop()


def test_the_bot_plays_cartpole_on_the_server_and_every_step_is_exported_once(
    browser: Browser, server: GameServer
) -> None:
    page = open_page(browser, server, "bot=random&bot_pause_ms=60&PROLIFIC_PID=serverbot")
    wait_finished(page, timeout_s=240)
    state = game_state(page)
    assert state["state"] == "done"
    frames = page.evaluate("window.interactiveGymGame.frames()")
    page.context.close()

    # The page saw every step as a server frame, most of them drawn.
    assert {f["runtime"] for f in frames} == {"server"}
    assert all(f["roundTripMs"] is None for f in frames)
    drawn = [f for f in frames if f["drawnAt"] is not None]
    assert len(drawn) >= 0.8 * len(frames)
    assert all(f["paintedAt"] is None or f["paintedAt"] >= f["start"] for f in frames)

    tables = server.export()
    (participant,) = rows_of(tables, "participants", "serverbot")
    assert participant["status"] == "completed"
    episodes = sorted(rows_of(tables, "episodes", "serverbot"), key=lambda r: r["episode"])
    assert [e["episode"] for e in episodes] == [0, 1, 2]
    seeds = [derive_seed(participant["seed"], "cartpole", "episode", i) for i in range(3)]
    assert [e["seed"] for e in episodes] == seeds
    steps = rows_of(tables, "steps_cartpole", "serverbot")
    assert_steps_once(steps, {e["episode"]: e["length"] for e in episodes})
    for episode in episodes:
        assert 0 < episode["length"] <= MAX_STEPS
        assert episode["ended_by"] in ("terminated", "max_steps")
    assert {r["runtime"] for r in steps} == {"server"}
    assert all(r["action"] in (0, 1) for r in steps)

    # The key changes the page sent are its input rows; the steps name the inputs they applied.
    store = Store(server.db_url)
    try:
        inputs = [
            {**r["data"], "episode": r["episode"], "step": r["step"], "attempt": r["attempt"]}
            for r in store.iter_records(participant["participant_id"], kind="input")
        ]
    finally:
        store.close()
    assert inputs, "the page recorded the key changes"
    assert {r["attempt"] for r in inputs} == {1}
    for row in inputs:
        assert row["type"] in ("down", "up", "release") and row["key"] in (
            "ArrowLeft",
            "ArrowRight",
        )
        assert row["action"] in (0, 1) and row["seq"] >= 1
    seqs = [r["seq"] for r in sorted(inputs, key=lambda r: r["t"])]
    assert seqs == sorted(seqs)
    applied = {r["input_seq"] for r in steps}
    assert applied & set(seqs), "the server applied the page's inputs"

    # Replayable in CPython: Gymnasium's CartPole-v1 from each episode's seed, stepped with the
    # recorded actions, gives the recorded observations, rewards and ends.
    for episode in episodes:
        rows = sorted((r for r in steps if r["episode"] == episode["episode"]),
                      key=lambda r: r["step"])  # fmt: skip
        env = gymnasium.make("CartPole-v1")
        env.reset(seed=episode["seed"])
        for row in rows:
            observation, reward, terminated, _, _ = env.step(row["action"])
            assert row["observation"] == observation.tolist()
            assert row["reward"] == reward and row["terminated"] == terminated
        env.close()
    # as the verify command does, for every episode (it runs the study's own scene)
    assert_verified(server.verify(), episodes=len(episodes))


@pytest.mark.parametrize(
    ("module", "scene", "columns"),
    [
        ("physics_duel_study", "duel", {"action_0", "action_1", "reward_1"}),
        ("kitchen_study", "kitchen", {"action_0", "action_1", "reward_1"}),
        ("cartpole_study", "cartpole", {"action", "reward", "observation"}),
    ],
)
def test_each_browser_example_plays_unchanged_on_the_server_runtime(
    browser: Browser, tmp_path: Path, module: str, scene: str, columns: set[str]
) -> None:
    """The pure-Python examples, written for the browser, played with runtime="server"."""
    study = "\n".join([
        f"from interactive_gym.examples import {module} as example",
        f"example.{scene}.runtime = 'server'",
        f"example.{scene}.max_steps = 25",
        f"example.{scene}.episodes = 1",
        f"example.{scene}.countdown_s = 0",
        f"example.{scene}.pause_after_episode_s = 0.2",
        "experiment = example.experiment",
    ])  # fmt: skip
    server = GameServer(tmp_path, study + "\n")
    try:
        page = open_page(browser, server, "bot=random&bot_pause_ms=40&PROLIFIC_PID=ex1")
        wait_finished(page, timeout_s=240)
        page.context.close()
        tables = server.export()
        report = server.verify()
    finally:
        server.stop()
    assert_verified(report, episodes=1)
    (episode,) = rows_of(tables, "episodes", "ex1")
    assert 1 <= episode["length"] <= 25
    assert episode["ended_by"] in ("max_steps", "terminated")
    steps = rows_of(tables, f"steps_{scene}", "ex1")
    assert_steps_once(steps, {0: episode["length"]})
    assert columns <= set(steps[0])
    assert {r["runtime"] for r in steps} == {"server"}
