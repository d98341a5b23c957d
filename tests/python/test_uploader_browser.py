"""The browser uploader in real headless Chromium against a real server and database.

Network cut, reload with unacknowledged chunks, and the keep-alive tail on leaving the page:
afterwards the database holds every record exactly once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, sync_playwright
from upload_study import EXPERIMENT_ID, add_participant, experiment

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.data import Store
from interactive_gym.local_server import serve
from interactive_gym.page_wait import wait_until
from interactive_gym.server import Settings, create_app
from interactive_gym.server.tokens import TokenSigner

pytestmark = pytest.mark.browser

SECRET = "browser-test-secret-" + "z" * 20
SOCKET_URL = re.compile(r".*/socket\.io/.*")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def study(tmp_path: Path):
    """A running server on a fresh SQLite file, a store on the same file, and a participant."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    settings = Settings(db_url=url, secret=SECRET, wheelhouse=tmp_path / "wheels")
    store = Store(url)
    add_participant(store, "p1", scene_id="check")
    token = TokenSigner(SECRET, EXPERIMENT_ID).issue("p1")
    with serve(create_app(settings, experiment(scene_id="check"))) as base:
        yield base, store, f"{base}/static/js/data/uploader_check.html?pid=p1&token={token}"
    store.close()


def open_page(page: Page, address: str) -> None:
    page.on("console", lambda m: print(f"[page {m.type}] {m.text}"))
    page.goto(address)
    wait_until(page, "window.uploaderReady === true && window.uploader.socket.connected")


def drain(page: Page) -> int:
    """Wait for every record to be acknowledged; returns how many the page produced."""
    page.evaluate("() => window.uploader.drain()")
    assert page.evaluate("window.uploader.pendingUploads") == 0
    return page.evaluate("window.produced()")


def assert_exactly_once(store: Store, produced: int) -> None:
    steps = [r["step"] for r in store.records("p1")]
    assert len(steps) == produced, f"{len(steps)} stored for {produced} produced"
    assert sorted(steps) == list(range(produced))
    assert produced > 0


def hold_socket(page: Page, *, drop_acks: bool = False, drop_chunks: bool = False) -> dict:
    """Relay the page's socket through Playwright, dropping chunk acks or chunk messages.

    Socket.io over a WebSocket: ``42<id>["chunk",…]`` is an event with an ack id, ``43<id>[…]``
    the acknowledgement. Returns counters of what was dropped; setting its ``"drop_acks"`` or
    ``"drop_chunks"`` to False lets everything through from then on.
    """
    dropped = {"acks": 0, "chunks": 0, "drop_acks": drop_acks, "drop_chunks": drop_chunks}

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def up(message: str | bytes) -> None:
            if (
                dropped["drop_chunks"]
                and isinstance(message, str)
                and re.match(r'42\d+\["chunk"', message)
            ):
                dropped["chunks"] += 1
                return
            server.send(message)

        def down(message: str | bytes) -> None:
            if dropped["drop_acks"] and isinstance(message, str) and message.startswith("43"):
                dropped["acks"] += 1
                return
            ws.send(message)

        ws.on_message(up)
        server.on_message(down)

    page.route_web_socket(SOCKET_URL, route)
    return dropped


def test_records_survive_five_seconds_offline(browser: Browser, study) -> None:
    _, store, address = study
    context = browser.new_context()
    page = context.new_page()
    open_page(page, address)
    page.evaluate("window.startProducing(10)")
    page.wait_for_timeout(1000)
    context.set_offline(True)
    page.wait_for_timeout(5000)
    pending_offline = page.evaluate("window.uploader.pendingUploads")
    context.set_offline(False)
    page.wait_for_timeout(500)
    page.evaluate("window.stopProducing()")
    produced = drain(page)
    context.close()
    assert pending_offline > 0  # records did pile up while the network was cut
    assert_exactly_once(store, produced)


def test_reload_resends_unacknowledged_chunks_from_the_journal(browser: Browser, study) -> None:
    _, store, address = study
    context = browser.new_context()
    page = context.new_page()
    dropped = hold_socket(page, drop_acks=True)
    open_page(page, address)
    page.evaluate("window.produce(300); window.uploader.flush()")
    wait_until(page, "window.uploader.chunks.size > 0")
    page.wait_for_timeout(500)  # the chunks reach the server, the acks do not come back
    assert page.evaluate("window.uploader.pendingUploads") == 300
    dropped["drop_acks"] = False
    page.reload()
    wait_until(page, "window.uploaderReady === true")
    assert page.evaluate("window.resumedChunks") > 0  # loaded from IndexedDB after the reload
    page.evaluate("window.produce(50)")
    produced = drain(page)
    context.close()
    assert dropped["acks"] > 0
    assert produced == 350
    assert_exactly_once(store, produced)


def test_leaving_the_page_flushes_the_tail_with_keepalive(browser: Browser, study) -> None:
    _, store, address = study
    context = browser.new_context()
    page = context.new_page()
    dropped = hold_socket(page, drop_chunks=True)
    open_page(page, address)
    page.evaluate("window.produce(120); window.uploader.flush()")
    page.wait_for_timeout(300)  # cut into chunks; none of them gets through the socket
    assert store.records("p1") == []
    page.goto("about:blank")  # pagehide: the tail leaves with fetch(..., {keepalive: true})
    deadline = time.monotonic() + 20
    while len(store.records("p1")) < 120 and time.monotonic() < deadline:
        time.sleep(0.1)
    context.close()
    assert dropped["chunks"] > 0
    assert_exactly_once(store, 120)


def test_fresh_browser_storage_renumbers_instead_of_overwriting(
    browser: Browser, study, caplog: pytest.LogCaptureFixture
) -> None:
    """A second browser for the same participant starts at seq 0 again: nothing is lost."""
    _, store, address = study
    first = browser.new_context()
    page = first.new_page()
    open_page(page, address)
    page.evaluate("window.produce(100)")
    assert drain(page) == 100
    first.close()
    second = browser.new_context()  # empty localStorage and IndexedDB
    page = second.new_page()
    open_page(page, address + "&firstStep=100")
    page.evaluate("window.produce(100)")
    assert drain(page) == 200
    second.close()
    assert any("already holds another chunk" in r.getMessage() for r in caplog.records)
    assert_exactly_once(store, 200)


def test_refused_records_are_reported_not_dropped(browser: Browser, study) -> None:
    _, store, address = study
    context = browser.new_context()
    page = context.new_page()
    open_page(page, address)
    outcome = page.evaluate(
        """async () => {
            window.uploader.add({kind: "step", scene_id: "check", episode: 0, step: -1});
            try { await window.uploader.drain(); return "resolved"; }
            catch (error) { return error.message; }
        }"""
    )
    rejected = page.evaluate("JSON.stringify(window.uploader.rejected)")
    context.close()
    assert "records[0].step" in outcome
    assert json.loads(rejected)[0]["records"][0]["step"] == -1
    assert store.records("p1") == []
