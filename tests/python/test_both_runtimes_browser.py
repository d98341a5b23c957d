"""One study file, both runtimes: the same ``env_file`` scene played in the browser's Pyodide
worker and on the server's env processes records the same trajectories for the same seeds.

The scene's only agent is the seeded ``"random"`` policy, so the actions are the same on both
runtimes too (``runtime/game_host.py`` draws them from the episode's seed on either side); the
page plays the study in headless Chromium each time, and the exports are compared step by step.
The env is ``examples/envs/cartpole.py``, whose draw-list frames reach the page as the worker's
replies in one case and as the server's JSON frames over the socket in the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from game_study import GameServer, assert_steps_once, open_page, rows_of, wait_finished
from playwright.sync_api import Browser, sync_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

STUDY = """
from pathlib import Path

import interactive_gym.examples
from interactive_gym.study import EndScene, Experiment, GymScene

game = GymScene(
    "game",
    runtime={runtime!r},
    env_file="envs/cartpole.py",
    agents={{"player": "random"}},
    episodes=2,
    seeds=[11, 12],
    max_steps=40,
    record_observations=True,
    countdown_s=0,
    pause_after_episode_s=0,
)
experiment = Experiment(
    "both_runtimes",
    [game, EndScene()],
    base_dir=Path(interactive_gym.examples.__file__).parent,
)
"""
COMPARED = ("action", "reward", "terminated", "truncated", "observation")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def play(browser: Browser, folder: Path, runtime: str) -> tuple[list[dict], list[dict]]:
    """Play the study on ``runtime``; its exported steps and episodes."""
    folder.mkdir()
    server = GameServer(folder, STUDY.format(runtime=runtime))
    try:
        page = open_page(browser, server, f"PROLIFIC_PID={runtime}")
        wait_finished(page, timeout_s=240)
        page.context.close()
        tables = server.export()
    finally:
        server.stop()
    steps = rows_of(tables, "steps_game", runtime)
    episodes = rows_of(tables, "episodes", runtime)
    return steps, episodes


def trajectory(steps: list[dict]) -> list[tuple[Any, ...]]:
    ordered = sorted(steps, key=lambda r: (r["episode"], r["step"]))
    return [(r["episode"], r["step"], *(r[c] for c in COMPARED)) for r in ordered]


def test_an_env_file_study_records_the_same_trajectories_on_both_runtimes(
    browser: Browser, tmp_path: Path
) -> None:
    browser_steps, browser_episodes = play(browser, tmp_path / "browser", "browser")
    server_steps, server_episodes = play(browser, tmp_path / "server", "server")

    for steps, episodes, runtime in (
        (browser_steps, browser_episodes, "browser"),
        (server_steps, server_episodes, "server"),
    ):
        assert sorted(e["seed"] for e in episodes) == [11, 12]
        assert_steps_once(steps, {e["episode"]: e["length"] for e in episodes})
        assert {r["runtime"] for r in steps} == {runtime}
        assert all(e["ended_by"] in ("terminated", "max_steps") for e in episodes)

    assert len(browser_steps) >= 10
    assert trajectory(server_steps) == trajectory(browser_steps)
    summary = ("episode", "seed", "length", "return", "terminated", "truncated", "ended_by")
    assert sorted(tuple(e[k] for k in summary) for e in server_episodes) == sorted(
        tuple(e[k] for k in summary) for e in browser_episodes
    )
