"""The participant entry at ``/`` against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

import httpx
import pytest

from interactive_gym.data import Store
from interactive_gym.server import Settings, create_app
from interactive_gym.server.participants import COOKIE
from interactive_gym.server.tokens import TokenSigner
from interactive_gym.study import Conditions, EndScene, Experiment, RandomizeOrder, StaticScene

SECRET = "s" * 40


def page(scene_id: str) -> StaticScene:
    return StaticScene(scene_id, html=f"<p>{scene_id}</p>")


def study() -> Experiment:
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
    )


@pytest.fixture
def app_and_store(db_url: str, tmp_path: Path):  # noqa: ANN201
    settings = Settings(db_url=db_url, secret=SECRET, wheelhouse=tmp_path / "wheels")
    app = create_app(settings, study())
    store = Store(db_url)
    yield app, store
    store.close()


def client(app) -> httpx.AsyncClient:  # noqa: ANN001
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def boot_of(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="ig-boot">(.*?)</script>', html)
    assert match, html[:500]
    return json.loads(match.group(1))


async def test_entry_keeps_every_url_parameter_and_takes_the_prolific_id(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    query = "PROLIFIC_PID=5f1a&STUDY_ID=st&SESSION_ID=se&hitId=h1&custom=x%20y"
    async with client(app) as c:
        response = await c.get(f"/?{query}")
    assert response.status_code == 200
    boot = boot_of(response.text)
    assert boot["participantId"] == "5f1a"
    assert TokenSigner(SECRET).verify(boot["token"]) == "5f1a"
    assert response.cookies[COOKIE] == boot["token"]
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
    assert participant.condition == "solo"
    assert participant.scene_order == exp.scene_order("5f1a", "solo")
    assert participant.status == "active" and participant.scene_index == 0


async def test_mturk_worker_id_names_the_participant(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with client(app) as c:
        response = await c.get("/?workerId=A1B2&assignmentId=x&hitId=y")
    assert boot_of(response.text)["participantId"] == "A1B2"
    assert store.get_participant("A1B2").url_params["assignmentId"] == "x"  # type: ignore[union-attr]


async def test_without_an_id_one_is_generated_and_the_cookie_brings_them_back(
    app_and_store,
) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with client(app) as c:
        first = boot_of((await c.get("/?src=mail")).text)["participantId"]
        again = boot_of((await c.get("/")).text)["participantId"]
    assert re.fullmatch(r"[0-9a-f]{24}", first)
    assert again == first
    async with client(app) as other_browser:
        stranger = boot_of((await other_browser.get("/")).text)["participantId"]
    assert stranger != first
    assert len(store.participants("entry_test")) == 2


async def test_a_returning_participant_keeps_first_values_and_gains_new_parameters(
    app_and_store,
) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with client(app) as c:
        await c.get("/?PROLIFIC_PID=p9&SESSION_ID=one")
        await c.get("/?PROLIFIC_PID=p9&SESSION_ID=two&extra=1")
    params = store.get_participant("p9").url_params  # type: ignore[union-attr]
    assert params == {"PROLIFIC_PID": "p9", "SESSION_ID": "one", "extra": "1"}


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("PROLIFIC_PID=a%20b", "PROLIFIC_PID parameter is not a valid participant id"),
        ("PROLIFIC_PID=" + "x" * 200, "not a valid participant id"),
        ("a=" + "x" * 3000, "too long"),
        ("&".join(f"k{i}=1" for i in range(70)), "more than 64 parameters"),
    ],
)
async def test_a_bad_link_gets_a_clear_page(app_and_store, query: str, fragment: str) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with client(app) as c:
        response = await c.get(f"/?{query}")
    assert response.status_code == 400
    assert fragment in response.text.replace("&#x27;", "'")
    assert store.participants() == []


async def test_an_id_from_another_study_is_refused(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    store.create_participant(
        "taken", "other_study", condition=None, url_params={}, seed=1, scene_order=["end"]
    )
    async with client(app) as c:
        response = await c.get("/?PROLIFIC_PID=taken")
    assert response.status_code == 400
    assert "already took part in another study" in response.text


async def test_a_completed_participant_sees_the_code_instead_of_the_study(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with client(app) as c:
        await c.get("/?PROLIFIC_PID=done1")
        store.update_participant("done1", status="completed")
        response = await c.get("/?PROLIFIC_PID=done1")
    assert response.status_code == 200
    assert "already completed this study" in response.text
    assert '<strong class="ig-code" id="ig-completion-code">DONE42</strong>' in response.text
    assert 'href="https://example.org/?p=done1"' in response.text
    assert "main.js" not in response.text  # the study itself is not started again


async def test_conditions_are_balanced_even_for_simultaneous_arrivals(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with client(app) as c:
        await asyncio.gather(*(c.get(f"/?PROLIFIC_PID=c{i}") for i in range(9)))
    counts = Counter(p.condition for p in store.participants("entry_test"))
    assert counts == {"solo": 3, "team": 3, "mix": 3}
    # Completed participants count too: the next one goes to the first least-filled condition.
    store.update_participant("c0", status="completed")
    async with client(app) as c:
        await c.get("/?PROLIFIC_PID=c9")
    assert store.get_participant("c9").condition == "solo"  # type: ignore[union-attr]
    assert store.condition_counts("entry_test") == {"solo": 4, "team": 3, "mix": 3}


async def test_the_page_escapes_what_it_embeds(app_and_store) -> None:  # noqa: ANN001
    app, _ = app_and_store
    async with client(app) as c:
        response = await c.get("/?PROLIFIC_PID=a&x=%3C/script%3E%3Cscript%3Ealert(1)")
    assert "alert(1)" not in response.text  # URL parameters are not echoed into the page
    assert response.headers["cache-control"] == "no-store"


async def test_simultaneous_first_visits_of_one_participant_make_one_record(app_and_store) -> None:  # noqa: ANN001
    app, store = app_and_store
    async with client(app) as c:
        responses = await asyncio.gather(*(c.get("/?PROLIFIC_PID=twin&n=1") for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert {boot_of(r.text)["participantId"] for r in responses} == {"twin"}
    assert [p.participant_id for p in store.participants("entry_test")] == ["twin"]


async def test_the_entry_leaves_the_other_routes_alone(app_and_store) -> None:  # noqa: ANN001
    app, _ = app_and_store
    async with client(app) as c:
        script = await c.get("/static/js/study/main.js")
        health = await c.get("/healthz")
        missing = await c.get("/static/js/no_such_page.html")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert health.text == "ok"
    assert missing.status_code == 404
