"""The participant entry (``GET /`` and ``POST /api/start``) against a real database."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from interactive_gym.data import Store
from interactive_gym.server import Settings, create_app
from interactive_gym.server.participants import COOKIE, STARTED_ELSEWHERE
from interactive_gym.server.tokens import TokenSigner
from interactive_gym.study import Conditions, EndScene, Experiment, RandomizeOrder, StaticScene

SECRET = "s" * 40


def page(scene_id: str) -> StaticScene:
    return StaticScene(scene_id, html=f"<p>{scene_id}</p>")


def study(**options: object) -> Experiment:
    return Experiment(
        "entry_test",
        scenes=[
            page("intro"),
            Conditions({"solo": [page("s")], "team": [page("t")], "mix": [page("m")]}),
            RandomizeOrder([page("a"), page("b")]),
            EndScene(
                completion_code="DONE42", redirect_url="https://example.org/?p={PROLIFIC_PID}"
            ),
        ],
        seed=3,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def app_and_store(db_url: str, tmp_path: Path):  # noqa: ANN201
    settings = Settings(db_url=db_url, secret=SECRET, wheelhouse=tmp_path / "wheels")
    app = create_app(settings, study())
    store = Store(db_url)
    yield app, store
    store.close()


def browser(app) -> httpx.AsyncClient:  # noqa: ANN001
    """One browser: its own cookies."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def start(c: httpx.AsyncClient, query: str = "") -> httpx.Response:
    """What the study page's script does: POST its URL parameters to /api/start."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    return await c.post("/api/start", json={"params": params})


def signer() -> TokenSigner:
    return TokenSigner(SECRET, "entry_test")


async def test_start_keeps_every_url_parameter_and_takes_the_prolific_id(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with browser(app) as c:
        response = await start(c, "PROLIFIC_PID=5f1a&STUDY_ID=st&SESSION_ID=se&hitId=h1&custom=x y")
    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"] and answer["participant_id"] == "5f1a" and answer["status"] == "active"
    assert signer().verify(answer["token"]).participant_id == "5f1a"
    assert response.cookies[COOKIE] == answer["token"]
    participant = store.get_participant("5f1a")
    assert participant is not None
    assert participant.url_params == {
        "PROLIFIC_PID": "5f1a",
        "STUDY_ID": "st",
        "SESSION_ID": "se",
        "hitId": "h1",
        "custom": "x y",
    }
    exp = study()
    assert participant.seed == exp.participant_seed("5f1a")
    # No condition before the participant reaches the Conditions block: only the scenes before it.
    assert participant.condition is None
    assert participant.scene_order == ["intro"]
    assert participant.status == "active" and participant.scene_index == 0


async def test_a_get_creates_nobody(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with browser(app) as c:
        for _ in range(20):
            page_ = await c.get("/?PROLIFIC_PID=visitor&STUDY_ID=x")
            assert page_.status_code == 200 and "main.js" in page_.text
            head = await c.head("/?PROLIFIC_PID=visitor")
            assert head.status_code in (200, 405)
    assert store.participants() == []
    assert COOKIE not in page_.cookies


async def test_mturk_worker_id_names_the_participant(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with browser(app) as c:
        answer = (await start(c, "workerId=A1B2&assignmentId=x&hitId=y")).json()
    assert answer["participant_id"] == "A1B2"
    assert store.get_participant("A1B2").url_params["assignmentId"] == "x"  # type: ignore[union-attr]


async def test_without_an_id_one_is_generated_and_the_cookie_brings_them_back(
    app_and_store,
) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with browser(app) as c:
        first = (await start(c, "src=mail")).json()["participant_id"]
        again = (await start(c)).json()["participant_id"]
    assert re.fullmatch(r"[0-9a-f]{24}", first)
    assert again == first
    async with browser(app) as other_browser:
        stranger = (await start(other_browser)).json()["participant_id"]
    assert stranger != first
    assert len(store.participants("entry_test")) == 2


async def test_a_returning_participant_keeps_first_values_and_gains_new_parameters(
    app_and_store,
) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with browser(app) as c:
        await start(c, "PROLIFIC_PID=p9&SESSION_ID=one")
        await start(c, "PROLIFIC_PID=p9&SESSION_ID=two&extra=1")
    params = store.get_participant("p9").url_params  # type: ignore[union-attr]
    assert params == {"PROLIFIC_PID": "p9", "SESSION_ID": "one", "extra": "1"}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"PROLIFIC_PID": "a b"}, "PROLIFIC_PID parameter is not a valid participant id"),
        ({"PROLIFIC_PID": "x" * 200}, "not a valid participant id"),
        ({"a": "x" * 3000}, "too long"),
        ({f"k{i}": "1" for i in range(70)}, "more than 64 parameters"),
        ({"a": 1}, "expected text"),
        ([], "expected an object"),
    ],
)
async def test_a_bad_link_gets_a_clear_refusal(
    app_and_store, params: object, fragment: str
) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with browser(app) as c:
        response = await c.post("/api/start", json={"params": params})
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert store.participants() == []


async def test_an_id_from_another_study_is_refused(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    store.create_participant(
        "taken", "other_study", condition=None, url_params={}, seed=1, scene_order=["end"]
    )
    async with browser(app) as c:
        response = await start(c, "PROLIFIC_PID=taken")
    assert response.status_code == 400
    assert "already took part in another study" in response.json()["message"]


async def test_a_completed_participant_sees_the_code_instead_of_the_study(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with browser(app) as c:
        await start(c, "PROLIFIC_PID=done1")
        store.complete_participant("done1", "DONE42")
        response = await c.get("/?PROLIFIC_PID=done1")
        answer = (await start(c, "PROLIFIC_PID=done1")).json()
    assert response.status_code == 200
    assert "already completed this study" in response.text
    assert '<strong class="ig-code" id="ig-completion-code">DONE42</strong>' in response.text
    assert 'href="https://example.org/?p=done1"' in response.text
    assert "main.js" not in response.text  # the study itself is not started again
    assert answer["status"] == "completed"
    assert answer["completion"]["completion_code"] == "DONE42"


async def test_the_page_escapes_what_it_embeds(app_and_store) -> None:  # noqa: ANN001
    app, _ = app_and_store
    async with browser(app) as c:
        response = await c.get("/?PROLIFIC_PID=a&x=%3C/script%3E%3Cscript%3Ealert(1)")
    assert "alert(1)" not in response.text  # URL parameters are not echoed into the page
    assert response.headers["cache-control"] == "no-store"


async def test_simultaneous_first_starts_of_one_participant_make_one_record(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with browser(app) as c:
        responses = await asyncio.gather(*(start(c, "PROLIFIC_PID=twin&n=1") for _ in range(5)))
    # One browser without a cookie yet: one start creates, the others find the participant
    # bound to a browser they cannot prove to be (no cookie had arrived yet).
    ok = [r for r in responses if r.status_code == 200]
    assert ok and all(r.json()["participant_id"] == "twin" for r in ok)
    assert all(r.json()["error"] == STARTED_ELSEWHERE for r in responses if r.status_code != 200)
    assert [p.participant_id for p in store.participants("entry_test")] == ["twin"]


async def test_the_entry_leaves_the_other_routes_alone(app_and_store) -> None:  # noqa: ANN001
    app, _ = app_and_store
    async with browser(app) as c:
        script = await c.get("/static/js/study/main.js")
        health = await c.get("/healthz")
        missing = await c.get("/static/js/no_such_page.html")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert health.text == "ok"
    assert missing.status_code == 404
