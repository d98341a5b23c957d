"""A record the server refuses ends the study at once, for a bot and for a person alike.

The server runs in a thread with a Store whose limits refuse the first scene's records (its
scene id is longer than allowed). The bots command must then report an "error" naming the
server's reason within seconds, not a "timeout"; the page itself shows the refusal.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import sync_playwright

import interactive_gym.server.app as app_module
from interactive_gym import bots
from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.data import Store
from interactive_gym.data.records import Limits
from interactive_gym.local_server import serve
from interactive_gym.page_wait import wait_until
from interactive_gym.server import Settings, create_app
from interactive_gym.study import load_study

pytestmark = pytest.mark.browser

STUDY = """
from interactive_gym.study import *

experiment = Experiment(
    "refusal_study",
    scenes=[
        StaticScene("a_scene_id_too_long", html="<p>Read this slowly.</p>"),
        EndScene(completion_code="NEVER-SHOWN"),
    ],
    seed=1,
)
"""
#: Scene ids up to 10 characters: every record of the first scene is refused.
LIMITS = Limits(max_scene_id=10)
REASON = "records[0].scene_id: longer than 10 characters"
TIMEOUT_S = 120
#: The bot's mean pause: it reads the first page for at least 30 s before it clicks on.
PAUSE_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("refusal")
    (folder / "study.py").write_text(STUDY)
    settings = Settings(
        db_url=f"sqlite:///{folder / 'study.db'}",
        secret="refusal-test-" + "x" * 24,
        wheelhouse=folder / "wheels",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_module, "Store", functools.partial(Store, limits=LIMITS))
        app = create_app(settings, load_study(folder / "study.py"))
    with serve(app) as url:
        yield url


def test_the_bots_command_reports_a_refused_upload_as_an_error_at_once(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [f"{server}/", "--timeout", str(TIMEOUT_S), "--pause-ms", str(PAUSE_MS), "--json"]
    started = time.monotonic()
    with pytest.raises(SystemExit) as exit_:
        bots.main(argv)
    took = time.monotonic() - started
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert "0 of 1 bots finished" in err
    (outcome,) = [json.loads(line) for line in out.splitlines()]
    assert outcome["outcome"] == "error", outcome
    assert REASON in outcome["detail"]
    assert outcome["completion_code"] is None and outcome["participant_id"]
    # Long before the bot would have clicked on (and long before the timeout).
    assert outcome["seconds"] < 20 and took < 30


def test_the_page_shows_the_refusal_and_stops(server: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/")
            wait_until(page, "window.interactiveGym && window.interactiveGym.error")
            status = page.evaluate("({...window.interactiveGym})")
            assert REASON in status["error"] and not status["finished"]
            assert status["rejectedUploads"] >= 1
            message = page.inner_text("#ig-message")
            assert "could not be saved" in message and REASON in message
            assert page.locator("[data-ig-continue]").count() == 0  # the scene is gone
        finally:
            browser.close()
