"""Python memory snapshots of browser games, end to end: a real study server, real Pyodide in
headless Chromium, the Cache API of the page's origin, SQLite and the verify command.

A reload mid-game restores Python from the snapshot the first load stored, and the game plays
on with results the replay confirms; a scene with another package set gets its own snapshot;
an altered snapshot falls back to a boot; a study can turn snapshots off. How each load went
is read from the ``game_loaded`` events the page recorded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from game_study import (
    WHEELHOUSE,
    GameServer,
    assert_verified,
    open_page,
    rows_of,
    wait_finished,
)
from playwright.sync_api import Browser, Page, sync_playwright
from wheels import make_wheel

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.page_wait import wait_until
from interactive_gym.server.wheelhouse import Wheelhouse
from interactive_gym.study.loader import DEMO_STUDY

pytestmark = pytest.mark.browser

CARTPOLE = DEMO_STUDY.parent / "envs" / "cartpole.py"
BOT = "bot=random&bot_pause_ms=40"
STORED = """async () => {
  const cache = await caches.open("interactive-gym-python-snapshots");
  const found = [];
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    found.push({url: request.url, created: response.headers.get("x-created")});
  }
  return found;
}"""
CORRUPT = """async () => {
  const cache = await caches.open("interactive-gym-python-snapshots");
  const [request] = await cache.keys();
  const response = await cache.match(request);
  const bytes = new Uint8Array(await response.arrayBuffer());
  bytes[bytes.length >> 1] ^= 0xff;
  await cache.put(request, new Response(bytes, {headers: response.headers}));
}"""


def cartpole_study(python_snapshots: bool) -> str:
    """One short CartPole episode, then the end."""
    return f"""
from interactive_gym.study import EndScene, Experiment, GymScene

game = GymScene(
    "cartpole",
    env_file={str(CARTPOLE)!r},
    agents={{"player": "human"}},
    controls={{"ArrowLeft": 0, "ArrowRight": 1}},
    default_action=0,
    fps=30,
    max_steps=40,
    countdown_s=0,
)
experiment = Experiment(
    "snapshots", scenes=[game, EndScene()], python_snapshots={python_snapshots!r}
)
"""


#: The kitchen example (an AI partner with its policy) in two short episodes.
KITCHEN = """
from interactive_gym.examples import kitchen_study as example
example.kitchen.max_steps = 40
example.kitchen.countdown_s = 0
example.kitchen.pause_after_episode_s = 0.2
experiment = example.experiment
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def stored(page: Page) -> list[dict[str, Any]]:
    """The snapshots the page's origin holds: ``[{url, created}]``."""
    found: list[dict[str, Any]] = page.evaluate(STORED)
    return found


def wait_playing(page: Page, scene: str, episode: int = 0) -> None:
    wait_until(
        page,
        f"window.interactiveGymGame && window.interactiveGymGame.sceneId === {scene!r}"
        f" && window.interactiveGymGame.episode === {episode}"
        " && window.interactiveGymGame.step > 5",
        timeout=120_000,
    )


def wait_stored(page: Page, count: int, besides: set[str] = frozenset()) -> list[dict[str, Any]]:
    """Wait until ``count`` snapshots are stored, none created at a time in ``besides``."""
    for _ in range(600):
        found = stored(page)
        if len(found) == count and not {f["created"] for f in found} & besides:
            return found
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {count} stored snapshots, found {stored(page)}")


def loads(tables: dict[str, list[dict]], pid: str, scene: str) -> list[dict[str, Any]]:
    """The data of the participant's ``game_loaded`` events of ``scene``, in order."""
    events = rows_of(tables, "events", pid)
    return [e["data"] for e in events if e["type"] == "game_loaded" and e["scene_id"] == scene]


def test_a_corrupt_snapshot_falls_back_to_a_boot_and_a_reload_then_restores(
    browser: Browser, tmp_path: Path
) -> None:
    server = GameServer(tmp_path, KITCHEN)
    try:
        page = open_page(browser, server, f"{BOT}&PROLIFIC_PID=corrupt")
        wait_playing(page, "kitchen")
        (first,) = wait_stored(page, 1)
        page.evaluate(CORRUPT)
        page.reload()
        wait_playing(page, "kitchen")
        # The altered snapshot was dropped and the boot stored a new one in its place.
        (second,) = wait_stored(page, 1, besides={first["created"]})
        assert second["url"] == first["url"]
        page.reload()
        wait_finished(page)
        page.context.close()
        tables = server.export()
        boot, fallback, restore = loads(tables, "corrupt", "kitchen")
        assert (boot["load_kind"], boot["snapshot"]) == ("boot", "made")
        assert "snapshot_problem" not in boot
        assert (fallback["load_kind"], fallback["snapshot"]) == ("boot", "made")
        assert "SHA-256" in fallback["snapshot_problem"], fallback
        assert (restore["load_kind"], restore["snapshot"]) == ("restore", "restored")
        assert restore["python_ms"] < boot["python_ms"]
        assert "snapshot_problem" not in restore
        errors = [e for e in rows_of(tables, "events", "corrupt") if "error" in e["type"]]
        assert errors == []
        # Two runs cut short by the reloads, then both episodes in full: all as the replay says.
        assert_verified(server.verify(), episodes=4, cut_short=2)
    finally:
        server.stop()


def package_study(env_dir: Path) -> str:
    for name, module in (("first", "ig_demo_b"), ("second", "ig_demo_a")):
        value = "FACTOR" if module == "ig_demo_b" else "scale(1)"
        (env_dir / f"{name}.py").write_text(
            f"import {module}\n\n"
            "class Env:\n"
            "    def reset(self, seed=None, options=None):\n"
            "        self.n = 0\n"
            "        return 0, {}\n\n"
            "    def step(self, action):\n"
            "        self.n += 1\n"
            f"        return self.n, float({module}.{value}), False, False, {{}}\n\n"
            "env = Env()\n"
        )
    return f"""
from interactive_gym.study import EndScene, Experiment, GymScene

def scene(scene_id, package):
    return GymScene(
        scene_id,
        env_file={str(env_dir)!r} + f"/{{scene_id}}.py",
        packages=[package],
        agents={{"player": "human"}},
        controls={{"ArrowLeft": 0, "ArrowRight": 1}},
        default_action=0,
        fps=30,
        max_steps=60,
        countdown_s=0,
        pause_after_episode_s=0,
    )

experiment = Experiment(
    "packages", scenes=[scene("first", "ig-demo-b"), scene("second", "ig-demo-a"), EndScene()]
)
"""


def test_another_package_set_gets_its_own_snapshot_and_restores_with_its_packages(
    browser: Browser, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheelhouse"
    wheels.mkdir()
    shutil.copy(Wheelhouse(WHEELHOUSE).find("micropip")[-1].path, wheels)
    make_wheel(wheels, "ig-demo-b", "1.0", {"ig_demo_b.py": "FACTOR = 7\n"})
    scale = "from ig_demo_b import FACTOR\n\ndef scale(x):\n    return x * FACTOR * 2\n"
    make_wheel(wheels, "ig-demo-a", "2.0", {"ig_demo_a/__init__.py": scale}, ("ig-demo-b>=1.0",))
    envs = tmp_path / "envs"
    envs.mkdir()
    server = GameServer(tmp_path, package_study(envs), wheelhouse=wheels)
    try:
        page = open_page(browser, server, f"{BOT}&PROLIFIC_PID=packages")
        wait_playing(page, "second")
        found = wait_stored(page, 2)
        assert len({f["url"] for f in found}) == 2
        page.reload()
        wait_finished(page)
        page.context.close()
        tables = server.export()
        (first,) = loads(tables, "packages", "first")
        assert (first["load_kind"], first["snapshot"]) == ("boot", "made")
        second_boot, second_restore = loads(tables, "packages", "second")
        # Not the first scene's snapshot: ig-demo-a was not in it.
        assert (second_boot["load_kind"], second_boot["snapshot"]) == ("boot", "made")
        assert (second_restore["load_kind"], second_restore["snapshot"]) == ("restore", "restored")
        rewards = {
            scene: {r["reward"] for r in rows_of(tables, f"steps_{scene}", "packages")}
            for scene in ("first", "second")
        }
        attempts = {r["attempt"] for r in rows_of(tables, "steps_second", "packages")}
        assert rewards == {"first": {7.0}, "second": {14.0}}
        assert attempts == {1, 2}  # the restored Python imported ig_demo_a and played on
    finally:
        server.stop()


def test_a_study_can_turn_snapshots_off(browser: Browser, tmp_path: Path) -> None:
    server = GameServer(tmp_path, cartpole_study(python_snapshots=False))
    try:
        page = open_page(browser, server, f"{BOT}&PROLIFIC_PID=nosnap")
        wait_finished(page)
        assert stored(page) == []
        page.context.close()
        tables = server.export()
        ((loaded),) = loads(tables, "nosnap", "cartpole")
        assert (loaded["load_kind"], loaded["snapshot"]) == ("boot", "off")
        assert_verified(server.verify(), episodes=1)
    finally:
        server.stop()
