"""Every page runs in headless Chromium under the server's Content-Security-Policy, unhindered.

The server's policy is enforced as it is, with one directive added for the test:
``report-uri``, so the browser reports every violation to the test server, also those inside
the Pyodide worker (which the page's ``securitypolicyviolation`` event never sees). A test
passes only when its pages did what they are for and no violation was reported; the first
test shows that a blocked inline script and a blocked ``eval`` in the worker are reported.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from offline import local_only_context
from onnx_models import linear_policy, write
from playwright.sync_api import Browser, Page, sync_playwright
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.local_server import free_port, serve
from interactive_gym.page_wait import wait_until
from interactive_gym.server import Settings, create_app
from interactive_gym.server.settings import PROJECT_DIR
from interactive_gym.study import load_study

pytestmark = pytest.mark.browser

REPORTS_PATH = "/csp-reports"
WHEELHOUSE = PROJECT_DIR / "data" / "wheelhouse"
FINISHED = (
    "window.interactiveGym && (window.interactiveGym.finished || window.interactiveGym.error)"
)

#: The demo study, short: a consent page whose researcher HTML carries an inline style, one
#: episode of the kitchen game (Pyodide in the worker, PixiJS), the survey, the end page.
DEMO_STUDY = """
from interactive_gym.examples import demo_study as demo

demo.consent.html = '<p id="styled" style="color: rgb(1, 2, 3)">Styled by the researcher</p>'
demo.game.max_steps = 24
demo.game.episodes = 1
demo.game.countdown_s = 0
demo.game.pause_after_episode_s = 0
experiment = demo.experiment
"""

#: Physics duel against an ONNX agent run by onnxruntime-web (WebAssembly) in the worker.
ONNX_STUDY = """
from pathlib import Path

from interactive_gym.examples import __file__ as examples
from interactive_gym.study import EndScene, Experiment, GymScene, OnnxPolicy

duel = GymScene(
    "duel",
    env_file=str(Path(examples).parent / "envs" / "physics_duel.py"),
    agents={0: "human", 1: OnnxPolicy("duel.onnx")},
    controls={"ArrowUp": 1, "ArrowDown": 2},
    num_actions=9,
    max_steps=30,
    countdown_s=0,
    pause_after_episode_s=0,
)
experiment = Experiment("csp_onnx", [duel, EndScene()])
"""


class ViolationReports:
    """Wraps the app: adds ``report-uri`` to its policy and keeps the reports POSTed to it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.reports: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def taken(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.reports)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == REPORTS_PATH:
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            with self.lock:
                self.reports.append(json.loads(body)["csp-report"])
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_reporting(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, value + f"; report-uri {REPORTS_PATH}".encode())
                    if name == b"content-security-policy"
                    else (name, value)
                    for name, value in message["headers"]
                ]
            await send(message)

        await self.app(scope, receive, send_reporting)


class Served:
    """A real server for one study, its violation reports, and what its pages logged."""

    def __init__(self, reports: ViolationReports, base_url: str, browser: Browser) -> None:
        self.reports = reports
        self.base_url = base_url
        self.browser = browser
        self.problems: list[str] = []
        self.outside: list[str] = []

    def page(self, path: str, init_script: str | None = None) -> Page:
        """A page in a fresh context that may only reach this server."""
        context, outside = local_only_context(self.browser, self.base_url)
        self.outside = outside
        page = context.new_page()
        if init_script is not None:
            page.add_init_script(init_script)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: self.problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(self.base_url + path)
        return page

    def assert_no_violation(self) -> None:
        time.sleep(1)  # reports are sent at once; let the last ones arrive
        assert self.reports.taken() == []
        assert self.problems == []
        assert self.outside == [], f"requests left the server: {self.outside}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def serving(browser: Browser, folder: Path, study_source: str | None = None) -> Iterator[Served]:
    """A real uvicorn server for the study in ``study_source`` (default: the demo study)."""
    experiment = None
    if study_source is not None:
        (folder / "study.py").write_text(study_source)
        experiment = load_study(folder / "study.py")
    settings = Settings(
        wheelhouse=WHEELHOUSE,
        db_url=f"sqlite:///{folder / 'study.db'}",
        secret="a-test-secret-of-enough-length",
    )
    reports = ViolationReports(create_app(settings, experiment))
    with serve(reports) as base_url:
        yield Served(reports, base_url, browser)


def test_a_blocked_inline_script_and_eval_in_the_worker_are_reported(
    browser: Browser, tmp_path: Path
) -> None:
    with serving(browser, tmp_path) as served:
        page = served.page("/healthz")
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.inlineRan = true'; document.head.append(s); }"
        )
        result = page.evaluate(
            """async () => {
              const { PyodideWorker } = await import("/static/js/PyodideWorker.js");
              const worker = new PyodideWorker({ timeoutMs: 60000 });
              window.cspWorker = worker;  // alive until its report is in
              await worker.init();
              try {
                await worker.initEnv({ code: "from pyodide.code import run_js\\nrun_js('1')" });
                return "eval ran";
              } catch (error) {
                return error.message;
              }
            }"""
        )
        assert page.evaluate("window.inlineRan") is None
        assert "EvalError" in result and "Content Security Policy" in result
        deadline = time.monotonic() + 10
        while len(served.reports.taken()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        page.evaluate("window.cspWorker.destroy()")
        found = {(r["effective-directive"], r["blocked-uri"], r["document-uri"].split("/")[-1])
                 for r in served.reports.taken()}  # fmt: skip
        assert found == {("script-src-elem", "inline", "healthz"),
                         ("script-src", "eval", "pyodide_worker.js")}  # fmt: skip


def test_the_study_and_its_game_run_with_no_violation(browser: Browser, tmp_path: Path) -> None:
    with serving(browser, tmp_path, DEMO_STUDY) as served:
        reader = served.page("/?PROLIFIC_PID=csp_reader")
        wait_until(reader, "document.getElementById('styled')", timeout=60_000)
        color = reader.evaluate("getComputedStyle(document.getElementById('styled')).color")
        assert color == "rgb(1, 2, 3)", "the researcher's inline style applies"
        assert reader.evaluate("window.crossOriginIsolated") is True
        reader.context.close()

        page = served.page("/?PROLIFIC_PID=csp_bot&bot=random&bot_pause_ms=40")
        wait_until(page, FINISHED, timeout=180_000)
        status = page.evaluate("({...window.interactiveGym})")
        assert status["error"] is None and status["finished"] is True
        game = page.evaluate("window.interactiveGymGame.stats")
        assert game["ticks"] == 24, game
        served.assert_no_violation()


def test_an_onnx_agent_plays_in_the_worker_with_no_violation(
    browser: Browser, tmp_path: Path
) -> None:
    write(tmp_path / "duel.onnx", linear_policy(np.ones((12, 9)), np.zeros(9)))
    with serving(browser, tmp_path, ONNX_STUDY) as served:
        page = served.page("/?PROLIFIC_PID=csp_onnx&bot=random&bot_pause_ms=40")
        wait_until(page, FINISHED, timeout=180_000)
        status = page.evaluate("({...window.interactiveGym})")
        assert status["error"] is None and status["finished"] is True
        served.assert_no_violation()


def test_the_verification_page_passes_with_no_violation(browser: Browser, tmp_path: Path) -> None:
    with serving(browser, tmp_path) as served:
        page = served.page("/static/js/test_pyodide_worker.html")
        page.click("text=Run Test")
        wait_until(page, "window.testResults && window.testResults.done", timeout=180_000)
        results = page.evaluate("window.testResults")
        assert results["failed"] == 0 and results["passed"] >= 10, results["checks"]
        served.assert_no_violation()


@pytest.mark.parametrize("preference", ["canvas", "webgl"])
def test_pixi_draws_shapes_text_and_images_with_no_violation(
    browser: Browser, tmp_path: Path, preference: str
) -> None:
    atlas = "/static/js/render/test_atlas.png"
    draw_list = [
        {"type": "rect", "id": "r", "x": 0.1, "y": 0.1, "w": 0.3, "h": 0.3, "color": "#ff0000"},
        {"type": "text", "id": "t", "text": "score 3", "x": 0.5, "y": 0.1},
        {"type": "image", "id": "i", "url": atlas, "x": 0.5, "y": 0.5, "w": 0.2, "h": 0.2},
    ]
    with serving(browser, tmp_path) as served:
        page = served.page(f"/static/js/render/test_renderer.html?preference={preference}")
        wait_until(page, "document.title !== ''", timeout=30_000)
        assert page.title() == "ready", page.evaluate("window.renderCheck?.errors")
        assert page.evaluate("(items) => window.renderCheck.draw(items)", draw_list) is None
        wait_until(page, "window.renderCheck.renderer.objectCount === 3")
        page.evaluate("window.renderCheck.painted()")
        assert page.evaluate("window.renderCheck.errors") == []
        served.assert_no_violation()


def test_the_uploader_check_page_runs_and_opens_its_websocket_with_no_violation(
    browser: Browser, tmp_path: Path
) -> None:
    # Uploading itself is part of the study test; here the page's module runs and its socket
    # reaches the server over a WebSocket (which then refuses the made-up token).
    with serving(browser, tmp_path) as served:
        sockets: list[str] = []
        page = served.page("/healthz")
        page.on("websocket", lambda socket: sockets.append(socket.url))
        page.goto(f"{served.base_url}/static/js/data/uploader_check.html?pid=p1&token=made-up")
        wait_until(page, "window.uploaderReady === true && typeof window.produce === 'function'")
        deadline = time.monotonic() + 10
        while not sockets and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {url.split("?")[0].split("/", 3)[-1] for url in sockets} == {"socket.io/"}
        served.assert_no_violation()


@pytest.mark.parametrize(
    ("path", "config", "done"),
    [
        ("/static/bench/worker_bench.html", {"initOnly": True}, "window.benchResult?.init"),
        ("/static/bench/baseline_bench.html", {"initOnly": True}, "window.benchResult?.init"),
        ("/static/bench/control_bench.html", {"controlMs": 200}, "window.benchResult?.init"),
        ("/static/bench/runtime_profile.html", None, "window.benchResult?.error"),
    ],
)
def test_the_benchmark_pages_run_with_no_violation(
    browser: Browser, tmp_path: Path, path: str, config: dict | None, done: str
) -> None:
    with serving(browser, tmp_path) as served:
        init = None if config is None else f"window.benchConfig = {json.dumps(config)}"
        page = served.page(path, init_script=init)
        wait_until(page, done, timeout=120_000)
        error = page.evaluate("window.benchResult?.error") or ""
        assert config is None or not error, error
        # runtime_profile needs the benchmark's environment: its module ran and said so.
        assert path.endswith("runtime_profile.html") == ("benchConfig is missing" in error)
        served.assert_no_violation()


@pytest.mark.parametrize("allowed", [False, True])
def test_only_the_configured_sites_may_show_the_study_in_a_frame(
    browser: Browser, tmp_path: Path, allowed: bool
) -> None:
    study_port, platform_port = free_port(), free_port()
    platform = f"http://127.0.0.1:{platform_port}"  # another origin, as MTurk's worker site
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'study.db'}",
        secret="a-test-secret-of-enough-length",
        frame_ancestors=(platform,) if allowed else (),
    )
    reports = ViolationReports(create_app(settings))
    study = f"http://127.0.0.1:{study_port}/static/js/test_pyodide_worker.html"
    hit_page = HTMLResponse(f'<!DOCTYPE html><iframe src="{study}"></iframe>')
    platform_app = Starlette(routes=[Route("/hit", lambda request: hit_page)])
    with serve(reports, port=study_port), serve(platform_app, port=platform_port):
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{platform}/hit")
        page.wait_for_load_state("load")
        (framed,) = [f for f in page.frames if f is not page.main_frame]
        if allowed:
            assert framed.url == study
            assert framed.title() == "Pyodide worker verification"
            time.sleep(1)
            assert reports.taken() == []
        else:
            assert framed.url != study
            deadline = time.monotonic() + 10
            while not reports.taken() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert [r["effective-directive"] for r in reports.taken()] == ["frame-ancestors"]
        context.close()
