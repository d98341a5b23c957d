"""Uploads over a real socket.io connection and the keep-alive route, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import gc
import re
from pathlib import Path

import httpx
import pytest
import socketio
from upload_study import EXPERIMENT_ID, add_participant, experiment, step

from interactive_gym.data import Store
from interactive_gym.local_server import serve
from interactive_gym.server import Settings, create_app
from interactive_gym.server.gc_tuning import GC_THRESHOLDS
from interactive_gym.server.tokens import TokenSigner

SECRET = "test-secret-" + "x" * 24


@pytest.fixture
def server(db_url: str, tmp_path: Path):
    """A running server, its store, and a signer with the server's secret."""
    settings = Settings(db_url=db_url, secret=SECRET, wheelhouse=tmp_path / "wheels")
    store = Store(db_url)
    for pid in ("alice", "bob"):
        add_participant(store, pid)
    with serve(create_app(settings, experiment())) as url:
        yield url, store, TokenSigner(SECRET, EXPERIMENT_ID)
    store.close()


class Refused(Exception):
    """The server refused the connection; the message is its reason."""


async def connect(url: str, token: object) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[str] = []

    @client.on("connect_error")
    def _refused(data: object) -> None:
        reasons.append(str(data.get("message") if isinstance(data, dict) else data))

    try:
        await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError as exc:
        raise Refused("; ".join(reasons) or str(exc)) from exc
    return client


async def test_chunk_is_stored_once_and_acknowledged(server) -> None:
    url, store, signer = server
    client = await connect(url, signer.issue("alice"))
    try:
        ack = await client.call("chunk", {"seq": 0, "records": [step(0), step(1)]}, timeout=10)
        assert ack == {"ok": True, "seq": 0, "duplicate": False}
        again = await client.call("chunk", {"seq": 0, "records": [step(0), step(1)]}, timeout=10)
        assert again == {"ok": True, "seq": 0, "duplicate": True}
    finally:
        await client.disconnect()
    assert [(r["participant_id"], r["step"]) for r in store.records()] == [
        ("alice", 0),
        ("alice", 1),
    ]
    assert gc.get_threshold() == GC_THRESHOLDS  # tuned by the first connection


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("forged.token.value", "bad signature"),
        (None, "missing"),
        (TokenSigner("another-secret-" + "y" * 20, EXPERIMENT_ID).issue("alice"), "bad signature"),
        (TokenSigner(SECRET, "another_study").issue("alice"), "another study"),
    ],
)
async def test_bad_tokens_are_refused(server, token: object, reason: str) -> None:
    url, store, _ = server
    with pytest.raises(Refused, match=reason):
        await connect(url, token)
    assert store.records() == []


async def test_token_of_unknown_participant_is_refused(server) -> None:
    url, _, signer = server
    with pytest.raises(Refused, match="unknown participant"):
        await connect(url, signer.issue("mallory"))


async def test_bad_chunks_are_refused_and_the_connection_survives(server) -> None:
    url, store, signer = server
    client = await connect(url, signer.issue("alice"))
    try:
        cases = [
            ({"seq": "1", "records": []}, "seq"),
            ({"seq": 1, "records": [{**step(0), "kind": "nope"}]}, r"records\[0\]\.kind"),
            ({"seq": 1, "records": [step(0)], "extra": 1}, "unknown field 'extra'"),
            ({"seq": 1, "records": [step(0)], "participant_id": "bob"}, "participant_id"),
            ({"seq": 1, "records": [{**step(0), "data": {"x": "y" * 300_000}}]}, "bytes"),
            ([1, 2, 3], "expected an object"),
            ("text", "expected an object"),
        ]
        for payload, reason in cases:
            ack = await client.call("chunk", payload, timeout=10)
            assert ack["ok"] is False, payload
            assert re.search(reason, ack["error"]), (payload, ack)
        unknown = await client.call("read_records", {"participant_id": "bob"}, timeout=10)
        assert unknown["ok"] is False and "unknown event" in unknown["error"]
        ok = await client.call("chunk", {"seq": 1, "records": [step(5)]}, timeout=10)
        assert ok["ok"] is True
    finally:
        await client.disconnect()
    assert [(r["participant_id"], r["seq"], r["step"]) for r in store.records()] == [
        ("alice", 1, 5)
    ]
    assert store.records("bob") == []


async def test_connections_are_bound_to_their_own_participant(server) -> None:
    url, store, signer = server
    alice = await connect(url, signer.issue("alice"))
    bob = await connect(url, signer.issue("bob"))
    try:
        await alice.call("chunk", {"seq": 0, "records": [step(1)]}, timeout=10)
        await bob.call("chunk", {"seq": 0, "records": [step(2)]}, timeout=10)
    finally:
        await alice.disconnect()
        await bob.disconnect()
    assert [r["step"] for r in store.records("alice")] == [1]
    assert [r["step"] for r in store.records("bob")] == [2]


async def test_many_clients_in_parallel_each_record_once(server) -> None:
    url, store, signer = server
    pids = [f"p{i}" for i in range(20)]
    for pid in pids:
        add_participant(store, pid)

    async def participant(pid: str) -> None:
        client = await connect(url, signer.issue(pid))
        try:
            acks = await asyncio.gather(
                *(
                    client.call("chunk", {"seq": s, "records": [step(s * 3 + i) for i in range(3)]})
                    for s in range(10)
                )
            )
            assert all(a["ok"] for a in acks)
        finally:
            await client.disconnect()

    await asyncio.gather(*(participant(pid) for pid in pids))
    for pid in pids:
        assert [r["step"] for r in store.records(pid)] == list(range(30))


async def test_keepalive_post(server) -> None:
    url, store, signer = server
    token = signer.issue("bob")
    async with httpx.AsyncClient(base_url=url) as http:
        body = {"token": token, "seq": 7, "records": [step(1), step(2)]}
        first = await http.post("/api/chunks", json=body)
        assert first.status_code == 200 and first.json() == {
            "ok": True,
            "seq": 7,
            "duplicate": False,
        }
        second = await http.post("/api/chunks", json=body)
        assert second.json()["duplicate"] is True
        forged = await http.post("/api/chunks", json={**body, "token": token[:-3] + "abc"})
        assert forged.status_code == 403 and "signature" in forged.json()["error"]
        bad_json = await http.post("/api/chunks", content=b"{not json")
        assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]
        bad_record = await http.post("/api/chunks", json={**body, "seq": 8, "records": [{}]})
        assert bad_record.status_code == 400 and "records[0]" in bad_record.json()["error"]
        huge = await http.post("/api/chunks", content=b"x" * (2 * 1024 * 1024))
        assert huge.status_code == 413
        other = await http.post("/api/chunks", json={**body, "seq": 9, "participant_id": "alice"})
        assert other.status_code == 400
    assert [(r["seq"], r["step"]) for r in store.records()] == [(7, 1), (7, 2)]


async def test_reused_seq_is_answered_with_the_next_free_seq(server) -> None:
    url, store, signer = server
    client = await connect(url, signer.issue("alice"))
    try:
        first = await client.call("chunk", {"seq": 0, "id": "aaa", "records": [step(0)]})
        resend = await client.call("chunk", {"seq": 0, "id": "aaa", "records": [step(0)]})
        clash = await client.call("chunk", {"seq": 0, "id": "bbb", "records": [step(1)]})
        moved = await client.call(
            "chunk", {"seq": clash["next_seq"], "id": "bbb", "records": [step(1)]}
        )
    finally:
        await client.disconnect()
    assert first["ok"] and resend["duplicate"]
    assert clash["ok"] is False and clash["next_seq"] == 1 and clash["retry"] is False
    assert moved == {"ok": True, "seq": 1, "duplicate": False}
    assert [r["step"] for r in store.records("alice")] == [0, 1]


class BrokenStore(Store):
    """A real store whose database stops answering participant look-ups."""

    def get_participant(self, participant_id: str):  # noqa: ANN201
        raise OSError("could not connect to server")


async def test_database_down_refuses_connections_without_crashing(tmp_path: Path) -> None:
    from interactive_gym.server.ingest import Ingest

    store = BrokenStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ingest = Ingest(
        socketio.AsyncServer(async_mode="asgi"), store, TokenSigner(SECRET, EXPERIMENT_ID)
    )
    with pytest.raises(socketio.exceptions.ConnectionRefusedError, match="storage unavailable"):
        await ingest.handle_connect("sid", {}, {"token": ingest.signer.issue("alice")})
    assert ingest.connections.participant_of("sid") is None
    store.close()
