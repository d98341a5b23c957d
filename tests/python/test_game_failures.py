"""A game scene whose environment breaks, or cannot load, or whose tab is hidden, in Chromium.

The participant sees a clear message and can go on with the study; the failure is recorded
as an event; every step taken before it is in the export.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from game_study import GameServer, assert_steps_once, game_state, open_page, rows_of
from playwright.sync_api import Browser, Page, sync_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.page_wait import wait_until

pytestmark = pytest.mark.browser

ENV = """
class Env:
    num_actions = 2

    def __init__(self, fail):
        self.fail = fail
        self.t = 0

    def reset(self, seed=None, options=None):
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        if self.fail == "step" and self.t == 6:
            raise ValueError("the reactor melted")
        return self.t, 1.0, False, False, {"t": self.t, "odd": float("nan")}

    def render(self):
        if self.fail == "render" and self.t == 6:
            return [{"type": "blob", "id": "x"}]
        return [{"type": "rect", "id": "bar", "x": 0, "y": 0, "w": 0.02 * self.t, "h": 0.5}]


def make_env(fail="none"):
    if fail == "load":
        raise RuntimeError("the env needs a GPU")
    return Env(fail)
"""


def study(fail: str, *, when_hidden: str = "pause", max_steps: int = 200) -> str:
    return f"""
from interactive_gym.study import EndScene, Experiment, GymScene

game = GymScene(
    "game",
    env_file="env.py",
    env_config={{"fail": {fail!r}}},
    agents={{"player": "human"}},
    controls={{"ArrowRight": 1}},
    fps=20,
    episodes=2,
    max_steps={max_steps},
    countdown_s=0,
    when_hidden={when_hidden!r},
    load_timeout_s=60,
)
experiment = Experiment("broken", scenes=[game, EndScene(completion_code="DONE-1")], seed=3)
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def serve(tmp_path: Path, source: str) -> GameServer:
    (tmp_path / "env.py").write_text(ENV)
    return GameServer(tmp_path, source)


def finish_with_code(page: Page) -> None:
    page.wait_for_selector("#ig-completion-code", timeout=30_000)
    assert page.inner_text("#ig-completion-code") == "DONE-1"


@pytest.mark.parametrize(("fail", "stage", "steps"), [("step", "step", 5), ("render", "render", 6)])
def test_a_broken_env_shows_a_message_records_the_failure_and_keeps_the_steps(
    browser: Browser, tmp_path: Path, fail: str, stage: str, steps: int
) -> None:
    server = serve(tmp_path, study(fail))
    try:
        page = open_page(browser, server, "PROLIFIC_PID=p1")
        page.wait_for_selector("[data-ig-game][data-state='error']", timeout=120_000)
        text = page.inner_text("[data-ig-error-text]")
        assert "the game stopped because of an error" in text
        assert "Everything you did so far is saved" in text
        detail = page.inner_text("[data-ig-error]")
        assert ("ValueError: the reactor melted" if fail == "step" else "DrawListError") in detail
        assert game_state(page)["state"] == "error"
        page.click("[data-ig-continue]")
        finish_with_code(page)  # the code shows only after every record was acknowledged
        page.context.close()
        tables = server.export()
    finally:
        server.stop()
    rows = rows_of(tables, "steps_game", "p1")
    assert_steps_once(rows, {0: steps})
    assert [r["info"]["odd"] for r in rows] == ["NaN"] * steps  # made JSON-safe, not dropped
    (error,) = [e for e in rows_of(tables, "events", "p1") if e["type"] == "game_error"]
    assert error["data"]["stage"] == stage and error["data"]["episode"] == 0
    if fail == "step":
        assert error["data"]["step"] == 5
        assert "the reactor melted" in error["data"]["traceback"]
    else:
        assert "object 0" in error["data"]["message"] and "blob" in error["data"]["message"]
    (episode,) = rows_of(tables, "episodes", "p1")
    assert episode["ended_by"] == "error" and episode["length"] == steps
    (participant,) = rows_of(tables, "participants", "p1")
    assert participant["status"] == "completed"


def test_an_env_that_cannot_load_shows_an_error_page_with_retry(
    browser: Browser, tmp_path: Path
) -> None:
    server = serve(tmp_path, study("load"))
    try:
        page = open_page(browser, server, "PROLIFIC_PID=p2")
        page.wait_for_selector("[data-ig-retry]", timeout=120_000)
        assert "could not be loaded" in page.inner_text("[data-ig-error-text]")
        assert "RuntimeError: the env needs a GPU" in page.inner_text("[data-ig-error]")
        assert page.locator("[data-ig-skip]").count() == 0  # first failure: retry only
        page.click("[data-ig-retry]")
        page.wait_for_selector("[data-ig-skip]", timeout=120_000)  # failed again
        page.click("[data-ig-skip]")
        finish_with_code(page)
        page.context.close()
        tables = server.export()
    finally:
        server.stop()
    errors = [e for e in rows_of(tables, "events", "p2") if e["type"] == "game_load_error"]
    assert [e["data"]["attempts"] for e in errors] == [1, 2]
    assert all(e["data"]["stage"] == "environment" for e in errors)
    assert "the env needs a GPU" in errors[0]["data"]["message"]
    assert rows_of(tables, "steps_game", "p2") == []


HIDE = """visible => {
  Object.defineProperty(document, 'visibilityState', {value: visible ? 'visible' : 'hidden',
                                                      configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_a_hidden_tab_pauses_the_game(browser: Browser, tmp_path: Path) -> None:
    server = serve(tmp_path, study("none", when_hidden="pause", max_steps=60))
    try:
        page = open_page(browser, server, "PROLIFIC_PID=p3")
        wait_until(
            page,
            "window.interactiveGymGame && window.interactiveGymGame.step > 10",
            timeout=120_000,
        )
        page.evaluate(HIDE, False)
        page.wait_for_selector("[data-ig-game][data-state='paused']")
        paused_at = game_state(page)["step"]
        page.wait_for_timeout(600)  # 12 ticks at 20 fps, none may happen
        assert game_state(page)["step"] == paused_at
        page.evaluate(HIDE, True)
        wait_until(
            page, f"window.interactiveGymGame && window.interactiveGymGame.step > {paused_at}"
        )
        assert game_state(page)["stats"]["dropped"] == 0  # a pause is not dropped ticks
        wait_until(page, "window.interactiveGymGame.episode === 1")
        page.context.close()
        tables = server.export()
    finally:
        server.stop()
    rows = rows_of(tables, "steps_game", "p3")
    assert all(r["focus"] != "hidden" for r in rows if r["episode"] == 0)
    focus = [e["data"]["state"] for e in rows_of(tables, "events", "p3") if e["type"] == "focus"]
    assert focus[:2] == ["hidden", "focused"] or focus[:2] == ["hidden", "blurred"]


def test_a_hidden_tab_can_continue_with_the_no_key_action(browser: Browser, tmp_path: Path) -> None:
    server = serve(tmp_path, study("none", when_hidden="continue", max_steps=60))
    try:
        page = open_page(browser, server, "PROLIFIC_PID=p4")
        wait_until(
            page, "window.interactiveGymGame && window.interactiveGymGame.step > 5", timeout=120_000
        )
        page.keyboard.down("ArrowRight")
        wait_until(page, "window.interactiveGymGame && window.interactiveGymGame.step > 10")
        page.evaluate(HIDE, False)
        wait_until(page, "window.interactiveGymGame && window.interactiveGymGame.step > 20")
        page.evaluate(HIDE, True)
        wait_until(page, "window.interactiveGymGame && window.interactiveGymGame.step > 25")
        page.keyboard.up("ArrowRight")
        wait_until(page, "window.interactiveGymGame.episode === 1")
        page.context.close()
        tables = server.export()
    finally:
        server.stop()
    rows = [r for r in rows_of(tables, "steps_game", "p4") if r["episode"] == 0]
    hidden = [r for r in rows if r["focus"] == "hidden"]
    assert len(hidden) >= 5
    assert all(r["action"] == 0 and r["keys"] == "" for r in hidden)  # the key is still down
    assert any(r["action"] == 1 and r["keys"] == "ArrowRight" for r in rows)


SLOW_ENV = """
import time

_end = time.time() + 30
while time.time() < _end:  # an env file that never finishes loading
    pass

env = None
"""


def test_loading_that_takes_too_long_fails_with_a_message(browser: Browser, tmp_path: Path) -> None:
    (tmp_path / "env.py").write_text(SLOW_ENV)
    server = GameServer(tmp_path, study("none").replace("load_timeout_s=60", "load_timeout_s=6"))
    try:
        page = open_page(browser, server, "PROLIFIC_PID=p5")
        page.wait_for_selector("[data-ig-retry]", timeout=60_000)
        assert "loading took longer than 6 s" in page.inner_text("[data-ig-error]")
        page.context.close()
        tables = server.export()
    finally:
        server.stop()
    (error,) = [e for e in rows_of(tables, "events", "p5") if e["type"] == "game_load_error"]
    assert "loading took longer than 6 s" in error["data"]["message"]
