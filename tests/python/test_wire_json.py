"""Messages nested too deeply to decode: acknowledged with the reason over a real socket.io
connection (python-socketio server behind uvicorn, python-socketio client), refused with 400
over HTTP; every other message decodes exactly as before."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import engineio.json
import engineio.packet
import httpx
import pytest
import socketio
import socketio.packet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from interactive_gym.local_server import serve
from interactive_gym.server import wire_json
from interactive_gym.server.refusals import Refused
from interactive_gym.server.wire_json import TOO_DEEP, WirePacket, loads, parse_body

DEPTH = 5_000
#: A string the test client's JSON encoder replaces by raw JSON text (see RawPacket).
RAW: dict[str, str] = {
    "@deep-lists": "[" * DEPTH + "]" * DEPTH,
    "@deep-objects": '{"a":' * DEPTH + "1" + "}" * DEPTH,
    # Decodes, but python-socketio's recursive reconstruct_binary cannot walk it (see below).
    "@deep-700": "[" * 700 + "]" * 700,
}
REFUSAL = {"ok": False, "error": "chunk: JSON nested too deeply", "retry": False}


class RawJson:
    """The client's JSON module: a placeholder string goes out as the raw text it stands for,
    so the client sends nesting its own encoder could not produce (it would recurse)."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        text = json.dumps(obj, **kwargs)
        for name, raw in RAW.items():
            text = text.replace(json.dumps(name), raw)
        return text

    @staticmethod
    def loads(text: str, **kwargs: Any) -> Any:
        return json.loads(text, **kwargs)


class RawPacket(socketio.packet.Packet):
    json = RawJson


def new_server(**options: Any) -> tuple[socketio.AsyncServer, list[Any]]:
    """A python-socketio server whose ``chunk`` handler echoes what it receives, refusing the
    stand-in for a message too deep to decode as the ingest handler is meant to."""
    sio = socketio.AsyncServer(async_mode="asgi", **options)
    received: list[Any] = []

    @sio.on("chunk")
    async def chunk(sid: str, payload: Any = None) -> dict[str, Any]:
        received.append(payload)
        if payload is TOO_DEEP:
            return {"ok": False, "error": f"chunk: {TOO_DEEP.reason}", "retry": False}
        return {"ok": True, "echo": payload}

    return sio, received


@contextmanager
def default_json_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """python-socketio's own JSON module on its packet classes for the duration of a test
    (``json=`` sets it process-wide; this puts back what was there, whatever happens)."""
    monkeypatch.setattr(socketio.packet.Packet, "json", engineio.json)
    monkeypatch.setattr(engineio.packet.Packet, "json", engineio.json)
    yield


@asynccontextmanager
async def connected(sio: socketio.AsyncServer) -> AsyncIterator[socketio.AsyncClient]:
    with serve(socketio.ASGIApp(sio)) as url:
        client = socketio.AsyncClient(reconnection=False, serializer=RawPacket)
        await client.connect(url, transports=["websocket"], wait_timeout=10)
        try:
            yield client
        finally:
            await client.disconnect()


def wired(how: str) -> dict[str, Any]:
    return {"serializer": WirePacket} if how == "serializer" else {"json": wire_json}


# over the socket ------------------------------------------------------------------------------


async def test_a_plain_server_drops_a_deeply_nested_message(monkeypatch) -> None:  # noqa: ANN001
    with default_json_module(monkeypatch):
        sio, received = new_server()
        async with connected(sio) as client:
            with pytest.raises(socketio.exceptions.TimeoutError):
                await client.call("chunk", {"seq": 1, "records": "@deep-lists"}, timeout=3)
            assert received == []  # never reached the handler: no acknowledgement, ever
            ok = await client.call("chunk", {"seq": 2}, timeout=10)
            assert ok == {"ok": True, "echo": {"seq": 2}}


@pytest.mark.parametrize("how", ["serializer", "json"])
@pytest.mark.parametrize(
    "payload",
    [
        {"seq": 1, "records": "@deep-lists"},
        {"seq": 1, "records": [{"data": "@deep-objects"}]},
        "@deep-lists",
        {"seq": 1, "blob": b"\x00\xff" * 10, "records": "@deep-lists"},  # binary attachment
    ],
    ids=["lists", "objects", "bare", "binary"],
)
async def test_a_deeply_nested_message_is_acknowledged_with_the_reason(
    monkeypatch,  # noqa: ANN001
    how: str,
    payload: Any,
) -> None:
    with default_json_module(monkeypatch):
        sio, received = new_server(**wired(how))
        async with connected(sio) as client:
            ack = await client.call("chunk", payload, timeout=10)
            assert ack == REFUSAL
            assert received == [TOO_DEEP]
            ok = await client.call("chunk", {"seq": 2}, timeout=10)  # the connection is fine
            assert ok == {"ok": True, "echo": {"seq": 2}}


def test_the_700_deep_payload_decodes_but_cannot_be_reassembled_with_attachments() -> None:
    """What the next test relies on (in this process's stack, as in the server's)."""
    data = json.loads(f'["chunk",{RAW["@deep-700"]},{{"_placeholder":true,"num":0}}]')
    with pytest.raises(RecursionError):
        socketio.packet.Packet.reconstruct_binary(data, [b"x"])


@pytest.mark.parametrize(("serializer", "answered"), [(WirePacket, True), ("default", False)])
async def test_binary_message_too_deep_to_reassemble(
    monkeypatch,  # noqa: ANN001
    serializer: Any,
    answered: bool,
) -> None:
    with default_json_module(monkeypatch):
        sio, received = new_server(serializer=serializer)
        async with connected(sio) as client:
            payload = {"blob": b"\x01\x02", "records": "@deep-700"}
            if answered:
                assert await client.call("chunk", payload, timeout=10) == REFUSAL
                assert received == [TOO_DEEP]
                assert (await client.call("chunk", {"seq": 2}, timeout=10))["ok"] is True
            else:
                with pytest.raises(socketio.exceptions.TimeoutError):
                    await client.call("chunk", payload, timeout=3)
                assert received == []


NORMAL = [
    {"seq": 0, "id": "a-1", "records": [{"kind": "step", "t": 1.5, "data": {"x": [1, 2.25]}}]},
    {"text": 'héllo \u2603 \U0001f600 \\ " \n', "none": None, "flags": [True, False]},
    {"big": 10**99, "negative": -(10**20), "float": 1e300, "small": 5e-324, "zero": -0.0},
    {"nested": {"a": [[{"b": [[[]]]}]]}, "empty": {}, "list": []},
    [1, "two", {"three": 3}],
    "just text",
    12,
    None,
    {"blob": bytes(range(256)), "parts": [b"", {"x": b"abc"}], "after": "bytes"},
]


@pytest.mark.parametrize("how", ["serializer", "json"])
async def test_normal_payloads_decode_exactly_as_before(monkeypatch, how: str) -> None:  # noqa: ANN001
    with default_json_module(monkeypatch):
        echoes: dict[str, list[Any]] = {}
        for name, options in [("plain", {}), ("wire", wired(how))]:
            sio, received = new_server(**options)
            async with connected(sio) as client:
                echoes[name] = [await client.call("chunk", p, timeout=10) for p in NORMAL]
            assert received == NORMAL
    assert echoes["wire"] == echoes["plain"] == [{"ok": True, "echo": p} for p in NORMAL]
    assert isinstance(echoes["wire"][-1]["echo"]["blob"], bytes)


# the JSON module itself -----------------------------------------------------------------------


def test_loads_is_python_socketio_json_loads_for_anything_that_decodes() -> None:
    for text in ['["chunk",{"a":[1,2.5,"x"]}]', '{"a":1}', '"s"', "null", "[" * 200 + "]" * 200]:
        assert loads(text) == engineio.json.loads(text)
    assert loads(b'["x", 1]') == ["x", 1]
    for bad in ["{not json", "1" * 101, "", "probe"]:  # engine.io relies on ValueError here
        with pytest.raises(ValueError):
            engineio.json.loads(bad)
        with pytest.raises(ValueError):
            loads(bad)
    assert loads("1" * 101, parse_int=int) == int("1" * 101)


def test_loads_gives_the_stand_in_for_text_too_deep_to_decode() -> None:
    deep = RAW["@deep-lists"]
    assert loads(f'["chunk",{deep}]') == ["chunk", TOO_DEEP]
    assert loads(f' [ "ch\\u00e9", {deep}, 3]') == ["ché", TOO_DEEP]
    assert loads(f'["chunk",{deep}]'.encode()) == ["chunk", TOO_DEEP]
    assert loads(f"[{deep}]") == [TOO_DEEP]  # no event name to recover
    assert loads(RAW["@deep-objects"]) is TOO_DEEP  # say, a connection's auth
    assert loads("[" * DEPTH) == [TOO_DEEP]  # too deep and unfinished
    assert repr(TOO_DEEP) == "<JSON nested too deeply>"


# over HTTP ------------------------------------------------------------------------------------


def test_parse_body() -> None:
    assert parse_body(b'{"seq": 1, "records": []}') == {"seq": 1, "records": []}
    assert parse_body("[1e400]") == json.loads("[1e400]")  # as json.loads does
    bodies: list[tuple[str | bytes, str]] = [
        (b"{not json", "body: not valid JSON"),
        (b"\xff\xfe\x00", "body: not valid JSON"),
        (b"", "body: not valid JSON"),
        (RAW["@deep-lists"].encode(), "body: JSON nested too deeply"),
        (RAW["@deep-objects"], "body: JSON nested too deeply"),
    ]
    for body, reason in bodies:
        with pytest.raises(Refused) as refused:
            parse_body(body)
        assert (refused.value.reason, refused.value.status) == (reason, 400)


def http_app(parse: Any) -> Starlette:
    async def route(request: Request) -> JSONResponse:
        try:
            payload = parse(await request.body())
        except Refused as exc:
            return JSONResponse({"ok": False, "error": exc.reason}, exc.status)
        return JSONResponse({"ok": True, "type": type(payload).__name__})

    return Starlette(routes=[Route("/api/chunks", route, methods=["POST"])])


async def post_deep_and_normal(parse: Any) -> tuple[httpx.Response | None, httpx.Response]:
    """POST a body nested too deeply, then a normal one, to a route reading it with ``parse``;
    None for a request that got no answer at all."""
    with serve(http_app(parse)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            try:
                deep: httpx.Response | None = await http.post(
                    "/api/chunks", content=RAW["@deep-lists"]
                )
            except httpx.TransportError:
                deep = None
        async with httpx.AsyncClient(base_url=url) as http:  # a new connection
            ok = await http.post("/api/chunks", json={"seq": 1, "records": []})
    assert ok.json() == {"ok": True, "type": "dict"}
    return deep, ok


async def test_a_deep_body_is_a_400_with_the_reason() -> None:
    deep, _ = await post_deep_and_normal(parse_body)
    assert deep is not None and deep.status_code == 400
    assert deep.json() == {"ok": False, "error": "body: JSON nested too deeply"}


async def test_with_json_loads_a_deep_body_gets_no_reason() -> None:
    deep, _ = await post_deep_and_normal(json.loads)
    assert deep is None or deep.status_code == 500
