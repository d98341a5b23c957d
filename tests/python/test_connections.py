"""The registry of sockets, participants and tabs (``server/connections.py``), without a network."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from interactive_gym.server.connections import (
    MAX_TAB_ID,
    SECOND_TAB,
    SECOND_TAB_MESSAGE,
    Connections,
    Tab,
)
from interactive_gym.server.refusals import Refused


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(coroutine)


def test_sockets_are_bound_to_their_participant_until_they_go() -> None:
    c = Connections()
    run(c.connect("s1", "p", {}))
    run(c.connect("s2", "p", {}))
    run(c.connect("s3", "q", {}))
    assert c.participant_of("s1") == c.participant_of("s2") == "p"
    assert c.sids_of("p") == {"s1", "s2"} and c.sids_of("q") == {"s3"}
    assert run(c.disconnect("s1")) == "p"
    assert c.participant_of("s1") is None and c.sids_of("p") == {"s2"}
    assert run(c.disconnect("s1")) is None  # twice: nothing
    run(c.disconnect("s2"))
    assert c.sids_of("p") == set() and c.participant_of("nope") is None


def test_hooks_run_in_order_and_a_refusing_hook_unbinds_the_socket() -> None:
    c = Connections()
    calls: list[tuple] = []

    @c.on_connect
    def first(sid: str, pid: str, auth: dict) -> None:
        calls.append(("first", sid, pid, auth.get("x")))

    @c.on_connect
    async def second(sid: str, pid: str, auth: dict) -> None:
        calls.append(("second", sid))
        if auth.get("refuse"):
            raise socketio.exceptions.ConnectionRefusedError("no")

    @c.on_disconnect
    def broken(sid: str, pid: str) -> None:
        raise RuntimeError("one hook failing must not stop the others")

    @c.on_disconnect
    async def gone(sid: str, pid: str) -> None:
        calls.append(("gone", sid, pid))

    run(c.connect("s1", "p", {"x": 1}))
    assert calls == [("first", "s1", "p", 1), ("second", "s1")]
    with pytest.raises(socketio.exceptions.ConnectionRefusedError):
        run(c.connect("s2", "p", {"refuse": True}))
    assert c.participant_of("s2") is None and c.sids_of("p") == {"s1"}
    calls.clear()
    run(c.disconnect("s2"))  # never bound: no disconnect hook
    run(c.disconnect("s1"))
    assert calls == [("gone", "s1", "p")]


def test_one_active_tab_per_participant() -> None:
    c = Connections()
    run(c.connect("s1", "p", {}))
    assert c.claim_tab("s1", "A") is None
    assert c.tab_of("p") == Tab("s1", "A") and c.is_active_tab("s1")
    run(c.connect("s2", "p", {}))
    with pytest.raises(Refused) as second:
        c.claim_tab("s2", "B")
    assert second.value.reason == SECOND_TAB
    assert second.value.extra == {"message": SECOND_TAB_MESSAGE}
    assert c.tab_of("p") == Tab("s1", "A") and not c.is_active_tab("s2")
    # The same tab on a new socket replaces its stale one (returned, for the caller to close).
    assert c.claim_tab("s2", "A") == Tab("s1", "A")
    assert c.is_active_tab("s2") and not c.is_active_tab("s1")
    run(c.disconnect("s1"))  # the old socket going does not release the new one's tab
    assert c.tab_of("p") == Tab("s2", "A")
    # A takeover: the holder is returned.
    run(c.connect("s3", "p", {}))
    assert c.claim_tab("s3", "B", takeover=True) == Tab("s2", "A")
    assert c.tab_of("p") == Tab("s3", "B")
    # Once the holder is gone, another tab is welcome.
    run(c.disconnect("s3"))
    assert c.tab_of("p") is None
    assert c.claim_tab("s2", "C") is None


def test_claiming_needs_a_bound_socket_and_a_short_tab_id() -> None:
    c = Connections()
    with pytest.raises(Refused, match="not connected"):
        c.claim_tab("ghost", "A")
    run(c.connect("s1", "p", {}))
    for bad in ("", "x" * (MAX_TAB_ID + 1), 5, None, ["A"]):
        with pytest.raises(Refused, match="tab: "):
            c.claim_tab("s1", bad)
    assert c.tab_of("p") is None
    c.claim_tab("s1", "A")
    c.release("s1")
    assert c.tab_of("p") is None and c.participant_of("s1") == "p"


def test_a_connect_hook_refusing_after_a_claim_releases_the_tab() -> None:
    c = Connections()
    c.on_connect(lambda sid, pid, auth: c.claim_tab(sid, auth["tab"]))

    @c.on_connect
    def refuse(sid: str, pid: str, auth: dict) -> None:
        if auth.get("refuse"):
            raise socketio.exceptions.ConnectionRefusedError("later hook")

    with pytest.raises(socketio.exceptions.ConnectionRefusedError):
        run(c.connect("s1", "p", {"tab": "A", "refuse": True}))
    assert c.tab_of("p") is None
    run(c.connect("s2", "p", {"tab": "B"}))
    assert c.tab_of("p") == Tab("s2", "B")
