"""A study run end to end in headless Chromium against the real server, on SQLite and PostgreSQL.

The server runs as its own process (``python -m interactive_gym.run study.py --db URL``) so it
can be killed and restarted on the same database. After every run the export
(``python -m interactive_gym.export``) must hold every record exactly once: the fault tests cut
the network for 5 s, reload in the middle of a scene, and kill the server mid-study.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.data import Store
from interactive_gym.local_server import free_port
from interactive_gym.page_wait import wait_until
from interactive_gym.study import ParticipantContext, load_study

pytestmark = pytest.mark.browser

STUDY = """
from interactive_gym.study import *

experiment = Experiment(
    "browser_study",
    scenes=[
        StaticScene("consent", html="<p>Information.</p>", consent="I agree to take part."),
        SurveyScene("survey", questions=[
            Likert("fun", "The task was fun."),
            MultipleChoice("keys", "Keys used", choices=["arrows", "wasd", "mouse"], multiple=True),
            Number("age", "Age", minimum=18, maximum=99, integer=True),
            FreeText("notes", "Notes", required=False),
        ]),
        StaticScene("info", html="<p>Almost done.</p>"),
        EndScene(
            completion_code="CODE-77",
            redirect_url="/healthz?cc={completion_code}&pid={PROLIFIC_PID}",
        ),
    ],
    seed=5,
)
"""
SCENES = ["consent", "survey", "info", "end"]
FINISHED = "window.interactiveGym && window.interactiveGym.finished"


class StudyServer:
    """``python -m interactive_gym.run`` in a subprocess; killable and restartable."""

    def __init__(self, folder: Path, db_url: str) -> None:
        self.folder = folder
        self.db_url = db_url
        self.port = free_port()
        self.study = folder / "study.py"
        self.study.write_text(STUDY)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = (folder / "server.log").open("ab")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "interactive_gym.run", str(self.study)]
        command += ["--port", str(self.port), "--db", self.db_url, "--wheelhouse", "wheels"]
        self.process = subprocess.Popen(command, cwd=self.folder, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError((self.folder / "server.log").read_text())

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing; whatever was acknowledged must be on disk."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path: Path, db_url: str) -> Iterator[StudyServer]:
    server = StudyServer(tmp_path, db_url)
    server.start()
    yield server
    server.stop()


def open_study(browser: Browser, server: StudyServer, query: str) -> tuple[Page, object]:
    context = browser.new_context()
    page = context.new_page()
    page.on("console", lambda m: print(f"[page {m.type}] {m.text}") if m.type == "error" else None)
    page.goto(f"{server.url}/?{query}")
    return page, context


def status(page: Page) -> dict:
    return page.evaluate("({...window.interactiveGym})")


def wait_scene(page: Page, scene_id: str) -> None:
    wait_until(page, f"window.interactiveGym && window.interactiveGym.sceneId === '{scene_id}'")


def export(server: StudyServer, out: Path) -> dict[str, list[dict]]:
    """Run the export CLI (JSON Lines) and read every table it wrote."""
    command = [sys.executable, "-m", "interactive_gym.export", "--db", server.db_url]
    command += ["--out", str(out), "--format", "jsonl"]
    subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=server.folder)
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines()]
        for path in out.glob("*.jsonl")
    }


def assert_exactly_once(
    tables: dict[str, list[dict]], pid: str, attempts: dict[str, int], study_file: Path
) -> None:
    """Every record of one participant's run once: events per scene attempt, one survey.

    ``attempts``: how many times each scene was started (a reload starts it again).
    """
    (participant,) = [p for p in tables["participants"] if p["participant_id"] == pid]
    assert participant["status"] == "completed"
    assert participant["url_PROLIFIC_PID"] == pid
    events = [e for e in tables["events"] if e["participant_id"] == pid]
    rows = Counter(json.dumps(e, sort_keys=True) for e in events)
    assert max(rows.values()) == 1, "an event is stored twice"
    kinds = Counter((e["scene_id"], e["type"]) for e in events)
    expected = Counter()
    for scene_id in SCENES:
        expected[(scene_id, "scene_start")] = attempts.get(scene_id, 1)
        if scene_id != "end":
            expected[(scene_id, "scene_end")] = 1
    expected[("consent", "consent")] = 1
    assert kinds == expected
    starts = sorted(
        e["data"]["attempt"]
        for e in events
        if e["type"] == "scene_start" and e["scene_id"] == "survey"
    )
    assert starts == list(range(1, attempts.get("survey", 1) + 1))
    answers = [a for a in tables["survey_answers"] if a["participant_id"] == pid]
    assert sorted(a["question_id"] for a in answers) == ["age", "fun", "keys", "notes"]
    # The answers stored are valid by the survey's own rules (bots answer validly too).
    survey = load_study(study_file).scene("survey")
    ctx = ParticipantContext(pid, "browser_study", participant["seed"])
    survey.validate_response({"answers": {a["question_id"]: a["answer"] for a in answers}}, ctx)


def run_bot_to_end(page: Page, timeout_s: float = 90) -> dict:
    wait_until(page, FINISHED, timeout=timeout_s * 1000)
    return status(page)


# the happy path --------------------------------------------------------------------------------


def test_a_bot_runs_the_study_to_the_end_and_every_record_is_stored_once(
    browser: Browser, server: StudyServer, tmp_path: Path
) -> None:
    page, context = open_study(browser, server, "bot=random&PROLIFIC_PID=bot1&STUDY_ID=s9")
    page.wait_for_selector("#ig-completion-code", timeout=90_000)
    # The code is on screen: by now the server has acknowledged (stored) every record.
    store = Store(server.db_url)
    stored = store.records("bot1")
    store.close()
    assert status(page)["pendingUploads"] == 0
    final = status(page)
    assert final["finished"] and final["sceneId"] == "end" and final["error"] is None
    assert page.inner_text("#ig-completion-code") == "CODE-77"
    assert page.inner_text("#ig-progress-label") == "Page 4 of 4"
    assert page.get_attribute("#ig-redirect", "href") == "/healthz?cc=CODE-77&pid=bot1"
    assert page.url.startswith(f"{server.url}/?")  # bots are not redirected
    # The status is read-only: a page script cannot change what tests and monitors see.
    page.evaluate(
        "() => { try { window.interactiveGym.finished = false } catch {}"
        " try { window.interactiveGym = {} } catch {} }"
    )
    assert status(page) == final
    context.close()  # type: ignore[attr-defined]
    assert len(stored) == 9 and {r["kind"] for r in stored} == {"event", "survey"}
    tables = export(server, tmp_path / "export")
    assert_exactly_once(tables, "bot1", {}, server.study)
    (participant,) = tables["participants"]
    assert participant["url_STUDY_ID"] == "s9" and participant["url_bot"] == "random"


def test_a_person_is_stopped_by_missing_answers_and_redirected_at_the_end(
    browser: Browser, server: StudyServer, tmp_path: Path
) -> None:
    page, context = open_study(browser, server, "PROLIFIC_PID=human1")
    wait_scene(page, "consent")
    assert page.inner_text("#ig-progress-label") == "Page 1 of 4"
    button = page.locator("[data-ig-continue]")
    assert button.is_disabled()  # the consent box is required
    page.check("[data-ig-consent]")
    button.click()
    wait_scene(page, "survey")
    page.click("[data-ig-continue]")  # nothing answered
    assert page.locator(".ig-invalid").count() == 3  # fun, keys, age; notes is optional
    assert status(page)["sceneId"] == "survey"
    page.locator('[data-ig-question="fun"] input').nth(5).check()
    page.locator('[data-ig-question="keys"] input').nth(1).check()
    page.fill('[data-ig-question="age"] input', "17")
    page.click("[data-ig-continue]")
    assert "at least 18" in page.inner_text('[data-ig-question="age"]')
    page.fill('[data-ig-question="age"] input', "31")
    page.click("[data-ig-continue]")
    wait_scene(page, "info")
    page.click("[data-ig-continue]")
    page.wait_for_url("**/healthz?cc=CODE-77&pid=human1", timeout=30_000)
    context.close()  # type: ignore[attr-defined]
    tables = export(server, tmp_path / "export")
    assert_exactly_once(tables, "human1", {}, server.study)
    answers = {a["question_id"]: a["answer"] for a in tables["survey_answers"]}
    assert answers == {"fun": 6, "keys": ["wasd"], "age": 31, "notes": None}


def test_coming_back_resumes_and_a_completed_participant_cannot_redo(
    browser: Browser, server: StudyServer
) -> None:
    page, context = open_study(browser, server, "PROLIFIC_PID=back1")
    wait_scene(page, "consent")
    page.check("[data-ig-consent]")
    page.click("[data-ig-continue]")
    wait_scene(page, "survey")
    page.close()
    page = context.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server.url}/")  # closed tab, new tab, no parameters: the cookie resumes
    wait_scene(page, "survey")
    assert status(page)["participantId"] == "back1"
    page.goto(f"{server.url}/?PROLIFIC_PID=back1&bot=random")
    run_bot_to_end(page)
    page.goto(f"{server.url}/?PROLIFIC_PID=back1")
    assert "already completed this study" in page.inner_text("#ig-message")
    assert page.inner_text("#ig-completion-code") == "CODE-77"
    assert page.locator("[data-ig-continue]").count() == 0
    context.close()  # type: ignore[attr-defined]


def test_a_second_tab_gets_a_message_and_can_take_over(
    browser: Browser, server: StudyServer
) -> None:
    first, context = open_study(browser, server, "PROLIFIC_PID=tabs1")
    wait_scene(first, "consent")
    second = context.new_page()  # type: ignore[attr-defined]
    second.goto(f"{server.url}/?PROLIFIC_PID=tabs1")
    second.wait_for_selector("#ig-message")
    assert "already open in another tab" in second.inner_text("#ig-message")
    assert status(second)["sceneId"] is None  # no second session
    second.get_by_role("button", name="Use this tab instead").click()
    wait_scene(second, "consent")
    wait_until(first, "window.interactiveGym.error === 'superseded'")
    assert "continued in another tab" in first.inner_text("#ig-message")
    second.check("[data-ig-consent]")
    second.click("[data-ig-continue]")
    wait_scene(second, "survey")
    context.close()  # type: ignore[attr-defined]


# faults: afterwards every record is stored exactly once ------------------------------------------


def test_network_cut_for_five_seconds(
    browser: Browser, server: StudyServer, tmp_path: Path
) -> None:
    page, context = open_study(browser, server, "bot=random&bot_pause_ms=300&PROLIFIC_PID=off1")
    wait_scene(page, "survey")
    context.set_offline(True)  # type: ignore[attr-defined]
    page.wait_for_timeout(5000)
    during = status(page)
    context.set_offline(False)  # type: ignore[attr-defined]
    # Offline, the survey was answered but the page cannot move on before its records are stored.
    assert during["sceneId"] == "survey" and during["pendingUploads"] > 0
    run_bot_to_end(page)
    context.close()  # type: ignore[attr-defined]
    assert_exactly_once(export(server, tmp_path / "export"), "off1", {}, server.study)


def test_reload_in_the_middle_of_a_scene(
    browser: Browser, server: StudyServer, tmp_path: Path
) -> None:
    page, context = open_study(browser, server, "bot=random&bot_pause_ms=400&PROLIFIC_PID=rel1")
    wait_scene(page, "survey")
    page.wait_for_timeout(600)  # the bot is part-way through the questions
    page.reload()
    wait_scene(page, "survey")  # resumed at the current scene
    run_bot_to_end(page)
    context.close()  # type: ignore[attr-defined]
    assert_exactly_once(export(server, tmp_path / "export"), "rel1", {"survey": 2}, server.study)


def test_server_killed_and_restarted_on_the_same_database(
    browser: Browser, server: StudyServer, tmp_path: Path
) -> None:
    page, context = open_study(browser, server, "bot=random&bot_pause_ms=300&PROLIFIC_PID=kill1")
    wait_scene(page, "survey")
    server.kill()
    page.wait_for_timeout(2000)  # the bot answers and waits: nothing can be stored meanwhile
    assert status(page)["sceneId"] == "survey"
    server.start()
    run_bot_to_end(page)
    context.close()  # type: ignore[attr-defined]
    assert_exactly_once(export(server, tmp_path / "export"), "kill1", {}, server.study)


# the bots command ------------------------------------------------------------------------------


def run_bots(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "interactive_gym.bots", url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_bots_command_runs_bots_at_once_and_reports_them(
    server: StudyServer, tmp_path: Path
) -> None:
    result = run_bots(
        f"{server.url}/", "--n", "3", "--id-param", "PROLIFIC_PID", "--pause-ms", "50"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 of 3 bots finished" in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all("finished" in line and "code CODE-77" in line for line in lines)
    tables = export(server, tmp_path / "export")
    ids = sorted(p["participant_id"] for p in tables["participants"])
    assert len(ids) == 3 and all(i.startswith("bot-") for i in ids)
    for pid in ids:
        assert_exactly_once(tables, pid, {}, server.study)


def test_the_bots_command_reports_bots_that_cannot_finish(server: StudyServer) -> None:
    result = run_bots(f"{server.url}/?PROLIFIC_PID=not%20valid", "--timeout", "5", "--json")
    assert result.returncode == 1
    assert "0 of 1 bots finished" in result.stderr
    (outcome,) = [json.loads(line) for line in result.stdout.splitlines()]
    # The start is refused with the server's reason, which the bot reports at once.
    assert outcome["outcome"] == "error" and outcome["completion_code"] is None
    assert "not a valid participant id" in outcome["detail"]
    assert outcome["seconds"] < 5


def test_the_same_link_in_another_browser_is_told_the_study_was_started_elsewhere(
    browser: Browser, server: StudyServer
) -> None:
    first, first_context = open_study(browser, server, "PROLIFIC_PID=mover1&STUDY_ID=s1")
    wait_scene(first, "consent")
    second, second_context = open_study(browser, server, "PROLIFIC_PID=mover1&STUDY_ID=s1")
    wait_until(second, "window.interactiveGym && window.interactiveGym.error")
    assert status(second)["error"].startswith("started_elsewhere")
    assert "already started in another browser" in second.inner_text("#ig-message")
    assert status(second)["participantId"] is None  # nothing of the participant reached it
    assert status(first)["error"] is None and status(first)["sceneId"] == "consent"
    first_context.close()  # type: ignore[attr-defined]
    second_context.close()  # type: ignore[attr-defined]
