"""Property tests of the ingest handlers: arbitrary messages never crash them, a refused message
stores nothing, and an accepted chunk is stored exactly as sent, for its own participant only.

The handlers run against a real store (SQLite and PostgreSQL) and the real writer thread; only
the transport is left out (the handlers are called as python-socketio would call them).
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from interactive_gym.data import Store
from interactive_gym.server.ingest import Ingest
from interactive_gym.server.tokens import TokenSigner

SECRET = "property-secret-" + "q" * 20
KINDS = ["step", "survey", "event", "episode"]
HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
counts = st.one_of(
    st.none(),
    st.integers(min_value=-3, max_value=2**33),
    st.booleans(),
    st.text(max_size=3),
    st.floats(allow_nan=False, max_value=10, min_value=-10),
)
records = st.fixed_dictionaries(
    {
        "kind": st.one_of(st.sampled_from(KINDS), st.text(max_size=6), st.integers()),
        "scene_id": st.one_of(
            st.sampled_from(["game", "survey"]), st.text(max_size=140), st.none()
        ),
    },
    optional={
        "episode": counts,
        "attempt": counts,
        "step": counts,
        "t": st.one_of(st.floats(), st.integers(), st.text(max_size=3), st.booleans()),
        "data": st.one_of(
            st.dictionaries(st.text(max_size=8), json_values, max_size=5), json_values
        ),
        "extra": json_values,
    },
)
clean_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
small = st.integers(min_value=0, max_value=2**31 - 1)
valid_records = st.builds(
    lambda kind, scene, episode, attempt, step, t, data: {
        "kind": kind,
        "scene_id": scene,
        "episode": episode if kind not in ("step", "episode") or episode is not None else 0,
        "attempt": attempt,
        "step": step if kind != "step" or step is not None else 0,
        "t": t,
        "data": data,
    },
    st.sampled_from(KINDS),
    st.sampled_from(["game", "survey", "consent", "level 2"]),
    st.none() | small,
    st.none() | small,
    st.none() | small,
    st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53),
    st.dictionaries(st.text(max_size=8), clean_json, max_size=5),
)
seqs = st.one_of(
    st.integers(min_value=-2, max_value=2**32), st.none(), st.text(max_size=3), st.floats()
)
payloads = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"seq": st.integers(0, 2**31 - 1), "records": st.lists(valid_records, max_size=8)},
        optional={"id": st.text("abc-_019", min_size=1, max_size=64)},
    ),
    st.fixed_dictionaries(
        {"seq": seqs, "records": st.one_of(st.lists(records, max_size=6), json_values)},
        optional={
            "id": st.one_of(st.text(max_size=70), st.integers()),
            "participant_id": st.one_of(st.text(max_size=5), st.integers()),
            "bogus": json_values,
        },
    ),
)


@pytest.fixture
def ingest(db_url: str):
    store = Store(db_url)
    ingest = Ingest(socketio.AsyncServer(async_mode="asgi"), store, TokenSigner(SECRET, "exp"))
    yield ingest
    ingest.writer.close()
    store.close()


def new_participant(ingest: Ingest) -> tuple[str, str]:
    """A fresh participant and a socket id bound to it through a real connect."""
    pid = f"p-{uuid.uuid4().hex[:12]}"
    ingest.store.create_participant(
        pid, "exp", condition=None, url_params={}, seed=0, scene_order=[]
    )
    sid = f"sid-{pid}"
    asyncio.run(ingest.handle_connect(sid, {}, {"token": ingest.signer.issue(pid)}))
    assert ingest.connections.participant_of(sid) == pid
    return pid, sid


def expected_rows(chunk_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What storing must keep of accepted records (an independent statement of the format)."""
    rows = []
    for r in chunk_records:
        assert r["kind"] in KINDS
        assert isinstance(r["scene_id"], str) and 0 < len(r["scene_id"]) <= 128
        for key in ("episode", "attempt", "step"):
            value = r.get(key)
            assert value is None or (type(value) is int and 0 <= value < 2**31)
        assert type(r["t"]) in (int, float) and math.isfinite(r["t"])
        attempt = r.get("attempt")
        if attempt is None and r["kind"] in ("step", "episode"):
            attempt = 0
        rows.append(
            {
                "kind": r["kind"],
                "scene_id": r["scene_id"],
                "episode": r.get("episode"),
                "attempt": attempt,
                "step": r.get("step"),
                "t": float(r["t"]),
                "data": r.get("data", {}),
            }
        )
    return rows


@HYPOTHESIS
@given(payload=payloads)
def test_any_chunk_message_is_answered_and_stored_right(ingest: Ingest, payload: Any) -> None:
    pid, sid = new_participant(ingest)
    ack = asyncio.run(ingest.handle_chunk(sid, payload))
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool)
    event("accepted" if ack["ok"] else "refused")
    stored = ingest.store.records(pid)
    if not ack["ok"]:
        assert isinstance(ack["error"], str) and ack["error"]
        assert stored == []
        assert ingest.store.acked_seqs(pid) == set()
        return
    assert ack["seq"] == payload["seq"] and ack["duplicate"] is False
    assert payload.get("participant_id", pid) == pid
    keep = ("kind", "scene_id", "episode", "attempt", "step", "t", "data")
    assert [{k: r[k] for k in keep} for r in stored] == expected_rows(payload["records"])
    assert all(r["participant_id"] == pid and r["seq"] == payload["seq"] for r in stored)
    assert ingest.store.acked_seqs(pid) == {payload["seq"]}
    # the only participant whose data changed is this one
    assert all(r["participant_id"].startswith("p-") for r in ingest.store.records(kind=None))


@HYPOTHESIS
@given(auth=st.one_of(json_values, st.fixed_dictionaries({"token": json_values})))
def test_any_connect_auth_without_a_valid_token_is_refused(ingest: Ingest, auth: Any) -> None:
    with pytest.raises(socketio.exceptions.ConnectionRefusedError):
        asyncio.run(ingest.handle_connect("sid-x", {}, auth))
    assert ingest.connections.participant_of("sid-x") is None
    ack = asyncio.run(ingest.handle_chunk("sid-x", {"seq": 0, "records": []}))
    assert ack["ok"] is False and "not connected" in ack["error"]


@HYPOTHESIS
@given(body=st.one_of(st.binary(max_size=200), payloads.map(lambda p: json.dumps(p).encode())))
def test_any_keepalive_body_without_a_valid_token_is_refused(ingest: Ingest, body: bytes) -> None:
    app = Starlette(routes=ingest.routes())

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/api/chunks", content=body)

    response = asyncio.run(post())
    assert response.status_code in (400, 403)
    assert response.json()["ok"] is False
    assert ingest.store.records() == []


@HYPOTHESIS
@given(payload=payloads)
def test_any_keepalive_chunk_with_a_token_is_answered(ingest: Ingest, payload: Any) -> None:
    pid, _ = new_participant(ingest)
    body = {**payload, "token": ingest.signer.issue(pid)} if isinstance(payload, dict) else payload
    app = Starlette(routes=ingest.routes())

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/api/chunks", content=json.dumps(body))

    response = asyncio.run(post())
    answer = response.json()
    assert (response.status_code == 200) == answer["ok"]
    stored = ingest.store.records(pid)
    if answer["ok"]:
        assert len(stored) == len(payload["records"])
    else:
        assert response.status_code == 400 and stored == []


def test_unknown_events_are_answered(ingest: Ingest, tmp_path: Path) -> None:
    _, sid = new_participant(ingest)
    ack = asyncio.run(ingest.handle_unknown("read_all", sid, {"participant_id": "someone"}))
    assert ack["ok"] is False and "unknown event 'read_all'" in ack["error"]
