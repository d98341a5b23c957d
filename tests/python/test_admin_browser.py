"""The researcher's console end to end: a real server, headless Chromium, SQLite, the export CLI.

One server serves the demo (short episodes) for the whole module. It starts with no admin
password: the console explains how to turn it on; a password set with the CLI while it runs
opens the login. A bot then plays the demo while the console watches: the overview and the
bot's timeline update without a reload. The rest follows from that run: the downloaded export
equals the CLI's, an exclusion shows in the export and the audit table, the overview and a plot
render, a participant's token opens nothing admin, requests without the CSRF token are refused,
and repeated wrong passwords are throttled (last: it locks the login for this address).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from game_study import GameServer, open_page, wait_finished
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.page_wait import wait_until

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
STUDY = """
from interactive_gym.examples import demo_study as example
example.game.max_steps = 40
example.game.countdown_s = 0
example.game.pause_after_episode_s = 0.2
experiment = example.experiment
"""
BOT = "adminbot"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GameServer]:
    server = GameServer(tmp_path_factory.mktemp("admin"), STUDY)
    yield server
    server.stop()


def set_password(server: GameServer, password: str = PASSWORD) -> None:
    command = [sys.executable, "-m", "interactive_gym.admin", "set-password"]
    command += ["--db", server.db_url, "--stdin"]
    done = subprocess.run(
        command, input=password + "\n", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def log_in(context: BrowserContext, server: GameServer, password: str = PASSWORD) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda e: print(f"[admin pageerror] {e}"))
    page.goto(f"{server.url}/admin")
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()
    return page


@pytest.fixture(scope="module")
def enabled(server: GameServer) -> GameServer:
    """The module's server once the admin password is set (the CLI, while it runs; the server
    takes it up within a second)."""
    set_password(server)
    deadline = time.monotonic() + 10
    while b'name="password"' not in urllib.request.urlopen(f"{server.url}/admin").read():
        assert time.monotonic() < deadline, "the server did not take up the new password"
        time.sleep(0.1)
    return server


@pytest.fixture(scope="module")
def admin(browser: Browser, enabled: GameServer) -> Iterator[Page]:
    """A researcher logged in to the console (one session for the whole module)."""
    context = browser.new_context(accept_downloads=True)
    page = log_in(context, enabled)
    wait_until(page, "document.body.dataset.lastPush !== undefined", timeout=15_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def bot(browser: Browser, enabled: GameServer) -> Iterator[Page]:
    """A bot playing the demo (started once; tests that need it finished wait for it)."""
    page = open_page(browser, enabled, f"bot=random&bot_pause_ms=60&PROLIFIC_PID={BOT}")
    yield page
    page.context.close()


def csrf_of(page: Page) -> str:
    return page.eval_on_selector("meta[name=ig-csrf]", "m => m.content")


def text_of(page: Page, name: str) -> str:
    return page.get_by_test_id(name).first.inner_text().strip()


def cli_export(server: GameServer, out: Path, fmt: str = "csv") -> dict[str, bytes]:
    command = [sys.executable, "-m", "interactive_gym.export", "--db", server.db_url]
    command += ["--out", str(out), "--format", fmt]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return {path.name: path.read_bytes() for path in out.iterdir()}


# off until a password is set ---------------------------------------------------------------


def test_without_a_password_the_console_says_how_to_turn_it_on(
    browser: Browser, tmp_path: Path
) -> None:
    server = GameServer(tmp_path, STUDY)
    try:
        page = browser.new_page()
        response = page.goto(f"{server.url}/admin")
        assert response is not None and response.status == 200
        text = page.inner_text("body")
        assert "python -m interactive_gym.admin set-password" in text
        assert "IG_ADMIN_PASSWORD_HASH" in text
        assert page.locator("input[type=password]").count() == 0
        api = page.request.get(f"{server.url}/admin/api/overview")
        assert api.status == 404 and api.json()["error"] == "admin_disabled"
        page.close()
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "is off until a password is set" in log
    assert "python -m interactive_gym.admin set-password --db" in log


def test_a_password_set_while_the_server_runs_opens_the_login(
    browser: Browser, enabled: GameServer
) -> None:
    assert "is off until a password is set" in enabled.log_path.read_text()  # started without
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{enabled.url}/admin")
    assert page.locator("input[type=password]").count() == 1
    assert page.locator("input:not([type=hidden])").count() == 1  # one password field, no user
    wrong = log_in(context, enabled, "not the password at all")
    assert "Wrong password." in wrong.inner_text("body")
    assert all(c["name"] != "ig_admin" for c in context.cookies())
    right = log_in(context, enabled)
    wait_until(right, "document.body.dataset.lastPush !== undefined", timeout=15_000)
    (cookie,) = [c for c in context.cookies() if c["name"] == "ig_admin"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    context.close()


# live while a bot plays ----------------------------------------------------------------------


def test_the_overview_and_the_timeline_update_live_while_a_bot_plays(
    admin: Page, bot: Page, enabled: GameServer
) -> None:
    admin.evaluate("window.__sameDocument = true")
    admin.get_by_test_id("tab-overview").click()
    wait_until(
        admin,
        "document.querySelector('[data-testid=overview-bots-total]')?.textContent.trim() === '1'",
        timeout=30_000,
    )
    assert text_of(admin, "overview-people-total") == "0"  # the bot is shown apart
    # Open the bot's detail from the participant list and watch its timeline grow.
    admin.get_by_test_id("tab-participants").click()
    admin.get_by_test_id("participants-search").fill(BOT)
    admin.get_by_test_id("participant-row").first.click()
    wait_until(admin, "document.querySelectorAll('[data-testid=timeline-item]').length > 0")
    first = admin.get_by_test_id("timeline-item").count()
    wait_until(
        admin,
        "document.querySelector('[data-testid=timeline-item][data-kind=episode]') !== null",
        timeout=120_000,
    )
    assert admin.get_by_test_id("timeline-item").count() > first
    wait_finished(bot)
    wait_until(
        admin,
        "document.querySelector('[data-testid=detail-completion-code]')?.textContent.trim()"
        ".length > 3",
        timeout=30_000,
    )
    wait_until(
        admin,
        "document.querySelector('[data-testid=overview-bots-completed]')?.textContent.trim()"
        " === '1'",
        timeout=30_000,
    )
    assert admin.evaluate("window.__sameDocument === true"), "the console reloaded"
    code = text_of(admin, "detail-completion-code")
    assert code in bot.inner_text("body")


# data ----------------------------------------------------------------------------------------


def test_the_downloaded_export_equals_the_cli_export(
    admin: Page, bot: Page, enabled: GameServer, tmp_path: Path
) -> None:
    wait_finished(bot)
    admin.get_by_test_id("tab-data").click()
    admin.get_by_test_id("export-format").select_option("csv")
    with admin.expect_download() as download:
        admin.get_by_test_id("export-link").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    names = set(archive.namelist())
    described = {"datapackage.json", "CODEBOOK.md"}
    assert {*described, "filter.json", "participants.csv", "episodes.csv"} <= names
    assert "completion_code" in archive.read("CODEBOOK.md").decode()
    cli = cli_export(enabled, tmp_path / "cli")
    assert cli.keys() == names - {"filter.json"}
    for name, content in cli.items():
        if name not in described:  # these two state the time of their export
            assert archive.read(name) == content, name
    assert any(name.startswith("steps_") for name in cli)


def non_blank(png: bytes) -> int:
    """How many distinct colours a screenshot holds (a blank one has one or two)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=1 << 20) or [])


def test_the_overview_and_a_plot_render(
    admin: Page, bot: Page, enabled: GameServer, tmp_path: Path
) -> None:
    wait_finished(bot)
    admin.get_by_test_id("tab-overview").click()
    overview = admin.get_by_test_id("panel-overview")
    wait_until(admin, "document.querySelectorAll('[data-testid=funnel-row]').length >= 3")
    shot = overview.screenshot(path=str(tmp_path / "overview.png"))
    assert non_blank(shot) > 20
    funnel = admin.eval_on_selector_all(
        "[data-testid=funnel-row]", "rows => rows.map(r => [r.dataset.stage, r.dataset.count])"
    )
    assert funnel[0][0] == "arrived"
    admin.get_by_test_id("tab-plots").click()
    admin.get_by_test_id("plots-bots").check()  # the only player is the bot
    canvas = admin.get_by_test_id("plot-episode-returns")
    wait_until(
        admin,
        "Number(document.querySelector('[data-testid=plot-episode-returns]')?.dataset.points) > 0",
        timeout=20_000,
    )
    painted = admin.evaluate(
        """() => { const c = document.querySelector('[data-testid=plot-episode-returns]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
    )
    assert painted > 500, "the episode returns chart drew nothing"
    assert non_blank(canvas.screenshot(path=str(tmp_path / "returns.png"))) > 5


def test_an_exclusion_shows_in_the_export_and_the_audit_table(
    admin: Page, bot: Page, enabled: GameServer, tmp_path: Path
) -> None:
    wait_finished(bot)
    admin.get_by_test_id("tab-participants").click()
    admin.get_by_test_id("participants-search").fill(BOT)
    admin.get_by_test_id("participant-row").first.click()
    admin.get_by_test_id("action-exclude").click()
    dialog = admin.get_by_test_id("confirm-dialog")
    assert dialog.is_visible()
    admin.get_by_test_id("confirm-reason").fill("pressed keys at random")
    admin.get_by_test_id("confirm-ok").click()
    wait_until(
        admin,
        "document.querySelector('[data-testid=action-result]')?.dataset.state === 'ok'",
        timeout=15_000,
    )
    cli = cli_export(enabled, tmp_path / "cli", "jsonl")
    (row,) = [
        json.loads(line)
        for line in cli["participants.jsonl"].decode().splitlines()
        if json.loads(line)["participant_id"] == BOT
    ]
    assert row["excluded"] is True and row["excluded_reason"] == "pressed keys at random"
    assert row["status"] == "completed"  # kept in the data
    audit = admin.request.get(f"{enabled.url}/admin/api/audit?limit=50").json()
    entries = audit["entries"] if isinstance(audit, dict) else audit
    (excluded,) = [e for e in entries if e["action"] == "exclude"]
    assert excluded["target"] == BOT and excluded["actor"].startswith("admin:")
    assert any(e["action"] == "login" for e in entries)
    assert any(e["action"] == "export" for e in entries)
    admin.get_by_test_id("tab-audit").click()
    wait_until(admin, "document.querySelectorAll('[data-testid=audit-row]').length >= 3")
    assert "exclude" in admin.get_by_test_id("audit-table").inner_text()


# security ------------------------------------------------------------------------------------


def test_a_request_without_the_csrf_token_is_refused(admin: Page, enabled: GameServer) -> None:
    url = f"{enabled.url}/admin/api/actions/include"
    body = {"participant_id": BOT, "confirm": BOT}
    missing = admin.request.post(url, data=body)
    assert missing.status == 403 and missing.json()["error"] == "csrf"
    forged = admin.request.post(url, data=body, headers={"X-CSRF-Token": "0" * 43})
    assert forged.status == 403 and forged.json()["error"] == "csrf"
    logout = admin.request.post(f"{enabled.url}/admin/logout")
    assert logout.status == 403
    # The session is untouched: reading still works.
    assert admin.request.get(f"{enabled.url}/admin/api/overview").status == 200


def test_a_participant_token_opens_nothing_admin(browser: Browser, enabled: GameServer) -> None:
    page = open_page(browser, enabled, "PROLIFIC_PID=curious")
    wait_until(page, "window.interactiveGym && window.interactiveGym.sceneId === 'consent'")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    token = cookies["ig_participant"]
    for path in ("/admin/api/overview", "/admin/api/participants", "/admin/api/audit",
                 "/admin/api/export?format=csv", "/admin/assets/console.js"):  # fmt: skip
        for headers in ({}, {"Authorization": f"Bearer {token}"}, {"X-CSRF-Token": token}):
            response = page.request.get(f"{enabled.url}{path}", headers=headers)
            assert response.status == 401, (path, headers, response.status)
    refused = page.request.post(
        f"{enabled.url}/admin/api/actions/exclude",
        data={"participant_id": "curious", "confirm": "curious", "reason": "x"},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status == 401
    page.goto(f"{enabled.url}/admin")
    assert page.locator("input[type=password]").count() == 1  # the login form, not the console
    outcome = page.evaluate(
        """async (token) => {
          const { io } = await import('/vendor/socket.io-client@4.8.4/dist/socket.io.esm.min.js');
          return await new Promise((resolve) => {
            const socket = io('/admin', { auth: { token, csrf: token }, transports: ['websocket'],
                                          reconnection: false });
            socket.on('connect', () => { socket.disconnect(); resolve('connected'); });
            socket.on('connect_error', (e) => resolve('refused: ' + e.message));
            setTimeout(() => resolve('timeout'), 10000);
          });
        }""",
        token,
    )
    assert outcome.startswith("refused: ") and "login" in outcome, outcome
    page.context.close()


def test_repeated_wrong_passwords_are_throttled(browser: Browser, enabled: GameServer) -> None:
    """Last in the module: afterwards this address must wait before trying again."""
    context = browser.new_context()
    page = context.new_page()  # one page for every attempt, each from a freshly served form
    statuses = []
    for _ in range(8):
        page.goto(f"{enabled.url}/admin")
        page.fill("input[name=password]", "guessing wrongly again")
        with page.expect_response(re.compile(r"/admin/login$")) as answer:
            page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        statuses.append(answer.value.status)
        if statuses[-1] == 429:
            assert "Too many login attempts" in page.inner_text("body")
            assert int(answer.value.headers["retry-after"]) >= 1
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
    log = enabled.log_path.read_text()
    assert "failed: wrong password" in log and "refused: too many" in log
    context.close()
