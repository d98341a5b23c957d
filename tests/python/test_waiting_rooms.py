"""Waiting rooms on the server: matching, presence, timeouts, and what is recorded.

Most tests drive ``WaitingRooms`` directly: its handlers called as socket.io would call them,
a fake socket server recording what is emitted, a fake clock, and the tick called by hand;
the participants, groups and event records are in a real store. The last tests go through
the real app and real sockets.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from server_games_app import starlette_of

from interactive_gym.data import Store
from interactive_gym.data.writer import ChunkWriter
from interactive_gym.local_server import serve
from interactive_gym.server import Settings, create_app
from interactive_gym.server.connections import Connections
from interactive_gym.server.game_records import ServerSeqs
from interactive_gym.server.groups import Groups, RoomOutcome
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.server.waiting_rooms import WaitingRooms
from interactive_gym.study import (
    Conditions,
    EndScene,
    Experiment,
    GymScene,
    StaticScene,
    derive_seed,
)
from interactive_gym.study.waiting_room import StandIn, WaitingParticipant, WaitingRoom

ENV = """
num_actions = 2


class Together:
    def reset(self, seed=None, options=None):
        return {}, {}

    def step(self, actions):
        return {}, {}, True, False, {}

    def render(self):
        return []


def make_env(**config):
    return Together()
"""


def game(scene_id: str, size: int) -> GymScene:
    return GymScene(
        scene_id,
        runtime="server",
        env_file="env.py",
        agents={i: "human" for i in range(size)},
        controls={"ArrowUp": 1},
        default_action=0,
        fps=10,
        episodes=1,
    )


def study(folder: Path, size: int = 2, conditions: bool = False, **room: Any) -> Experiment:
    (folder / "env.py").write_text(ENV)
    options: dict[str, Any] = {"timeout_s": 60, "presence_after_s": 20, "presence_answer_s": 10}
    lobby = WaitingRoom("lobby", **{**options, **room})
    games: list[Any] = [game("game", size)]
    if conditions:
        games = [
            Conditions({"a": [game("game_a", size)], "b": [game("game_b", size)]}, per="group")
        ]
    return Experiment(
        "rooms",
        scenes=[StaticScene("consent", html="<p>c</p>", consent="ok"), lobby, *games, EndScene()],
        base_dir=folder,
        seed=5,
    )


class FakeSio:
    """Records the handlers registered and every emit."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.emitted: list[tuple[str | None, str, dict[str, Any]]] = []

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self.handlers[event] = handler

    async def emit(self, event: str, payload: dict[str, Any], to: str | None = None) -> None:
        self.emitted.append((to, event, payload))

    def sent(self, event: str, to: str | None = None) -> list[dict[str, Any]]:
        return [p for sid, e, p in self.emitted if e == event and (to is None or sid == to)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """One study's waiting rooms, with participants bound to fake sockets."""

    def __init__(self, tmp_path: Path, experiment: Experiment, store: Store | None = None) -> None:
        self.experiment = experiment
        self.store = store or Store(f"sqlite:///{tmp_path / 'study.db'}")
        self.writer = ChunkWriter(self.store)
        self.events = ServerEvents(self.writer, ServerSeqs(self.store), self.store.limits)
        self.groups = Groups(experiment, self.store)
        self.connections = Connections()
        self.sio = FakeSio()
        self.clock = FakeClock()
        self.rooms = WaitingRooms(
            self.sio,
            self.connections,
            experiment,
            self.groups,
            self.events,
            clock=self.clock,
        )
        self.rooms.register()
        self.sids: dict[str, str] = {}
        self._n = 0

    def add(self, pid: str, at: str = "lobby", **url_params: str) -> None:
        order = self.experiment.path_before_conditions(pid)
        self.store.create_participant(
            pid, "rooms", condition=None, url_params=url_params, seed=1, scene_order=order
        )
        self.store.update_participant(pid, scene_index=order.index(at), scene_id=at)

    async def connect(self, pid: str, tab: str | None = "tab") -> str:
        self._n += 1
        sid = f"sid{self._n}"
        await self.connections.connect(sid, pid, {})
        if tab is not None:
            self.connections.claim_tab(sid, tab)
            self.sids[pid] = sid
        return sid

    async def disconnect(self, pid: str) -> None:
        await self.connections.disconnect(self.sids.pop(pid))

    async def call(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        return await self.sio.handlers[event](sid, *args)

    async def join(self, pid: str, *, new_socket: bool = False) -> dict[str, Any]:
        if pid not in self.sids or new_socket:
            await self.connect(pid)
        return await self.call("room:join", self.sids[pid], {"scene_id": "lobby"})

    async def here(self, pid: str) -> dict[str, Any]:
        return await self.call("room:here", self.sids[pid], {"scene_id": "lobby"})

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass, ticking every 0.5 s as the loop does."""
        end = self.clock.now + seconds
        while self.clock.now < end - 1e-9:
            self.clock.now = min(end, self.clock.now + 0.5)
            await self.rooms.tick()

    def to(self, pid: str, event: str) -> list[dict[str, Any]]:
        return self.sio.sent(event, to=self.sids.get(pid, "-"))

    async def events_of(self, pid: str) -> list[dict[str, Any]]:
        await self.rooms.flush()
        records = self.store.records(pid, kind="event", scene_id="lobby")
        return [r["data"] for r in records]

    async def types_of(self, pid: str) -> list[str]:
        return [e["type"] for e in await self.events_of(pid)]

    async def close(self) -> None:
        await self.rooms.close()
        self.writer.close()
        self.store.close()


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(experiment: Experiment | None = None, **room: Any) -> Rig:
        rig = Rig(tmp_path, experiment or study(tmp_path, **room))
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.close()


# matching ----------------------------------------------------------------------------------


async def test_pairs_form_first_come_first_served_and_are_recorded(make_rig: Any) -> None:
    rig = make_rig()
    for pid in ("p1", "p2", "p3"):
        rig.add(pid)
    first = await rig.join("p1")
    assert first == {"ok": True, "waiting": 1, "needed": 1, "waited_s": 0.0, "timeout_s": 60}
    rig.clock.now += 4
    second = await rig.join("p2")
    assert second["ok"] and second["outcome"]["kind"] == "matched", second
    group_id = second["outcome"]["group_id"]
    assert second["outcome"] == {"kind": "matched", "group_id": group_id, "agent_id": "1",
                                 "countdown_s": 3}  # fmt: skip
    [matched1] = rig.to("p1", "room:matched")
    [matched2] = rig.to("p2", "room:matched")
    assert matched1 == {"scene_id": "lobby", "group_id": group_id, "agent_id": "0", "size": 2,
                        "countdown_s": 3}  # fmt: skip
    assert matched2["agent_id"] == "1" and matched2["group_id"] == group_id
    group = rig.store.get_group(group_id)
    assert group is not None and group.room_id == "lobby" and group.stand_ins == {}
    assert [(m.participant_id, m.agent_id, m.waited_s) for m in group.members] == [
        ("p1", "0", 4.0),
        ("p2", "1", 0.0),
    ]
    third = await rig.join("p3")
    assert third["waiting"] == 1 and "outcome" not in third
    assert rig.to("p3", "room:matched") == []
    assert await rig.events_of("p1") == [
        {
            "type": "waiting_matched",
            "group_id": group_id,
            "agent_id": "0",
            "waited_s": 4.0,
            "size": 2,
        }  # fmt: skip
    ]
    assert await rig.types_of("p2") == ["waiting_matched"]
    assert await rig.groups.outcome("p1", "lobby") == RoomOutcome("matched", group_id, "0", 4.0)
    assert (await rig.groups.group_for("p2", "game")) == group


@pytest.fixture
def trio(tmp_path: Path, make_rig: Any) -> Rig:
    rig: Rig = make_rig(study(tmp_path, 3))
    return rig


async def test_trios_skip_a_disconnected_participant(trio: Rig) -> None:
    rig = trio
    for pid in ("p1", "p2", "p3", "p4", "p5"):
        rig.add(pid)
    assert (await rig.join("p1"))["needed"] == 2
    rig.clock.now += 1
    await rig.join("p2")
    await rig.disconnect("p2")  # not present: passed over
    rig.clock.now += 1
    answer = await rig.join("p3")
    assert answer["waiting"] == 2 and answer["needed"] == 1 and "outcome" not in answer
    assert rig.to("p3", "room:status")[-1] == {"scene_id": "lobby", "waiting": 2, "needed": 1,
                                              "waited_s": 0.0}  # fmt: skip
    rig.clock.now += 1
    answer = await rig.join("p4")
    assert answer["outcome"]["agent_id"] == "2"
    group = rig.store.get_group(answer["outcome"]["group_id"])
    assert group is not None and group.member_ids == ["p1", "p3", "p4"]
    assert [m.agent_id for m in group.members] == ["0", "1", "2"]
    assert "p2" in rig.rooms.waiters and "p5" not in rig.rooms.waiters
    assert await rig.types_of("p2") == ["waiting_not_present"]


async def test_random_roles_are_shuffled_with_the_group_id(make_rig: Any) -> None:
    rig = make_rig(roles="random")
    swapped = 0
    for i in range(16):
        a, b = f"a{i}", f"b{i}"
        rig.add(a)
        rig.add(b)
        await rig.join(a)
        rig.clock.now += 1
        answer = await rig.join(b)
        group = rig.store.get_group(answer["outcome"]["group_id"])
        assert group is not None
        expected = [a, b]
        random.Random(group.group_id).shuffle(expected)
        assert group.member_ids == expected
        assert [m.agent_id for m in group.members] == ["0", "1"]
        assert rig.to(expected[0], "room:matched")[-1]["agent_id"] == "0"
        swapped += group.member_ids[0] == b
    assert 0 < swapped < 16  # fails with probability 2**-15


# the matcher -------------------------------------------------------------------------------


def by_team(waiting: list[WaitingParticipant]) -> list[str] | None:
    teams: dict[str, list[str]] = {}
    for p in waiting:
        if p.present:
            teams.setdefault(p.url_params.get("team", ""), []).append(p.participant_id)
    return next((ids[:2] for ids in teams.values() if len(ids) >= 2), None)


async def test_a_matcher_groups_by_a_url_parameter(make_rig: Any) -> None:
    seen: list[list[WaitingParticipant]] = []

    def matcher(waiting: list[WaitingParticipant]) -> list[str] | None:
        seen.append(waiting)
        return by_team(waiting)

    rig = make_rig(matcher=matcher)
    rig.add("p1", team="red")
    rig.add("p2", team="blue")
    rig.add("p3", team="red")
    await rig.join("p1")
    rig.clock.now += 2
    answer = await rig.join("p2")
    assert "outcome" not in answer and answer["needed"] == 0  # two there, but not a group
    rig.clock.now += 3
    answer = await rig.join("p3")
    assert answer["outcome"]["kind"] == "matched"
    group = rig.store.get_group(answer["outcome"]["group_id"])
    assert group is not None and group.member_ids == ["p1", "p3"]
    assert list(rig.rooms.waiters) == ["p2"]
    last = seen[-1]
    assert [p.participant_id for p in last] == ["p1", "p2", "p3"]
    assert last[0] == WaitingParticipant("p1", 5.0, None, {"team": "red"}, True)
    assert last[1].waited_s == 3.0 and last[1].url_params == {"team": "blue"}


async def test_a_matcher_that_raises_is_logged_once_and_the_room_goes_on(
    make_rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []

    def matcher(waiting: list[WaitingParticipant]) -> list[str] | None:
        calls.append(len(waiting))
        if len(calls) <= 3:
            raise KeyError("team")
        return by_team(waiting)

    rig = make_rig(matcher=matcher)
    rig.add("p1")
    rig.add("p2")
    with caplog.at_level(logging.WARNING, logger="interactive_gym.waiting_rooms"):
        await rig.join("p1")
        answer = await rig.join("p2")  # the matcher raises: no group, but an answer
        assert answer["ok"] and "outcome" not in answer
        await rig.wait(2)  # raises again (every 2 s)
        await rig.wait(2)  # and again
        assert rig.sio.sent("room:matched") == []
        await rig.wait(2)  # answers
    assert len(calls) == 4
    raised = [r for r in caplog.records if "matcher raised" in r.getMessage()]
    assert len(raised) == 1
    assert "WaitingRoom('lobby')" in raised[0].getMessage()
    assert raised[0].exc_info is not None and raised[0].exc_info[0] is KeyError
    assert rig.to("p1", "room:matched") and rig.to("p2", "room:matched")


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (["p1", "nobody"], "'nobody' is not waiting in the room"),
        (["p1", "p1"], "a participant is named twice"),
        (["p1"], "1 id(s) given; the room's groups have 2"),
        ("p1p2", "expected a list of participant ids or None"),
        (42, "expected a list of participant ids or None"),
        ([1, 2], "expected participant ids (strings)"),
        (["p1", "p3"], "'p3' is not present (disconnected or not answering)"),
    ],
)
async def test_bad_matcher_answers_are_ignored_with_one_warning(
    make_rig: Any, caplog: pytest.LogCaptureFixture, answer: Any, problem: str
) -> None:
    rig = make_rig(matcher=lambda waiting: answer)
    for pid in ("p1", "p2", "p3"):
        rig.add(pid)
    with caplog.at_level(logging.WARNING, logger="interactive_gym.waiting_rooms"):
        await rig.join("p3")
        await rig.disconnect("p3")
        await rig.join("p1")
        await rig.join("p2")
        await rig.wait(6)
    warnings = [r.getMessage() for r in caplog.records if "answer" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "WaitingRoom('lobby')" in warnings[0] and problem in warnings[0]
    assert rig.sio.sent("room:matched") == []
    assert set(rig.rooms.waiters) == {"p1", "p2", "p3"}


async def test_a_slow_matcher_is_logged(make_rig: Any, caplog: pytest.LogCaptureFixture) -> None:
    def slow(waiting: list[WaitingParticipant]) -> None:
        time.sleep(0.12)

    rig = make_rig(matcher=slow)
    rig.add("p1")
    rig.add("p2")
    with caplog.at_level(logging.WARNING, logger="interactive_gym.waiting_rooms"):
        await rig.join("p1")
        await rig.join("p2")
    assert any("the matcher took" in r.getMessage() for r in caplog.records)


# presence ----------------------------------------------------------------------------------


async def test_an_unanswered_presence_prompt_keeps_a_participant_out_until_they_answer(
    make_rig: Any,
) -> None:
    rig = make_rig()  # presence_after_s=20, presence_answer_s=10
    rig.add("p1")
    rig.add("p2")
    await rig.join("p1")
    await rig.wait(19.5)
    assert rig.to("p1", "room:presence") == []
    await rig.wait(0.5)
    assert rig.to("p1", "room:presence") == [{"scene_id": "lobby", "answer_s": 10}]
    await rig.wait(10)
    assert not rig.rooms.waiters["p1"].present
    answer = await rig.join("p2")
    assert "outcome" not in answer and answer["waiting"] == 1
    assert rig.to("p1", "room:presence") == [{"scene_id": "lobby", "answer_s": 10}]  # no more
    await rig.wait(2)
    assert rig.sio.sent("room:matched") == []
    assert (await rig.here("p1")) == {"ok": True}
    assert rig.to("p1", "room:matched") and rig.to("p2", "room:matched")
    events = await rig.events_of("p1")
    assert [e["type"] for e in events] == [
        "waiting_presence_prompt",
        "waiting_not_present",
        "waiting_present_again",
        "waiting_matched",
    ]
    assert events[0]["idle_s"] == 20.0 and events[1]["why"] == "no_answer"
    assert events[2]["via"] == "here" and events[3]["waited_s"] == 32.0


async def test_activity_and_answers_postpone_the_prompt(make_rig: Any) -> None:
    rig = make_rig()
    rig.add("p1")
    await rig.join("p1")
    await rig.wait(15)
    assert (await rig.here("p1"))["ok"]
    await rig.wait(19.5)
    assert rig.to("p1", "room:presence") == []
    await rig.wait(0.5)
    assert len(rig.to("p1", "room:presence")) == 1
    await rig.wait(9)
    assert (await rig.here("p1"))["ok"]  # answered in time: still present, no events
    await rig.wait(10)
    assert rig.rooms.waiters["p1"].present
    assert await rig.types_of("p1") == ["waiting_presence_prompt"]


# timeouts ----------------------------------------------------------------------------------


async def test_a_present_participant_times_out(make_rig: Any) -> None:
    rig = make_rig(timeout_s=30, presence_after_s=100)
    rig.add("p1")
    await rig.join("p1")
    await rig.wait(29.5)
    assert rig.to("p1", "room:timeout") == []
    await rig.wait(0.5)
    assert rig.to("p1", "room:timeout") == [{"scene_id": "lobby", "outcome": "timeout"}]
    assert rig.rooms.waiters == {}
    assert await rig.events_of("p1") == [
        {"type": "waiting_timeout", "outcome": "timeout", "waited_s": 30.0, "on_timeout": "skip"}
    ]
    assert await rig.groups.outcome("p1", "lobby") == RoomOutcome("timeout", waited_s=30.0)
    again = await rig.join("p1")  # after a reload: the answer, not a new wait
    assert again["outcome"] == {"kind": "timeout", "group_id": None, "agent_id": None,
                                "countdown_s": 3}  # fmt: skip
    assert rig.rooms.waiters == {}


async def test_an_absent_participant_times_out_as_not_present(make_rig: Any) -> None:
    end = EndScene("no_partner", completion_code="NOPARTNER")
    rig = make_rig(timeout_s=30, on_timeout=end)
    rig.add("p1")
    await rig.join("p1")
    await rig.wait(5)
    await rig.disconnect("p1")
    await rig.wait(25)
    events = await rig.events_of("p1")
    assert events[-1] == {"type": "waiting_timeout", "outcome": "not_present", "waited_s": 30.0,
                          "on_timeout": "end_scene", "end_scene": "no_partner"}  # fmt: skip
    assert events[0] == {"type": "waiting_not_present", "why": "disconnected", "waited_s": 5.0}
    outcome = await rig.groups.outcome("p1", "lobby")
    assert outcome is not None and outcome.kind == "not_present"
    answer = await rig.join("p1", new_socket=True)
    assert answer["outcome"]["kind"] == "not_present"


async def test_a_stand_in_forms_a_group_of_one(make_rig: Any) -> None:
    rig = make_rig(timeout_s=30, presence_after_s=100, on_timeout=StandIn({1: "random"}))
    rig.add("p1")
    await rig.join("p1")
    await rig.wait(30)
    [timeout] = rig.to("p1", "room:timeout")
    group_id = timeout["group_id"]
    assert timeout == {"scene_id": "lobby", "outcome": "stand_in", "group_id": group_id,
                       "agent_id": "0"}  # fmt: skip
    group = rig.store.get_group(group_id)
    assert group is not None and group.stand_ins == {"1": "random"}
    assert [(m.participant_id, m.agent_id, m.waited_s) for m in group.members] == [
        ("p1", "0", 30.0)
    ]
    assert await rig.groups.group_for("p1", "game") == group
    assert await rig.groups.outcome("p1", "lobby") == RoomOutcome("stand_in", group_id, "0", 30.0)
    [event] = await rig.events_of("p1")
    assert event == {"type": "waiting_timeout", "outcome": "stand_in", "waited_s": 30.0,
                     "on_timeout": "stand_in", "group_id": group_id, "agent_id": "0"}  # fmt: skip


async def test_a_rejoin_keeps_the_arrival_time(make_rig: Any) -> None:
    rig = make_rig(timeout_s=30, presence_after_s=100)
    rig.add("p1")
    await rig.join("p1")
    await rig.wait(3)
    await rig.disconnect("p1")
    await rig.wait(4)
    answer = await rig.join("p1", new_socket=True)
    assert answer["waited_s"] == 7.0 and answer["waiting"] == 1
    assert rig.rooms.waiters["p1"].present
    await rig.wait(23)
    assert rig.to("p1", "room:timeout") == [{"scene_id": "lobby", "outcome": "timeout"}]
    assert await rig.types_of("p1") == [
        "waiting_not_present",
        "waiting_present_again",
        "waiting_timeout",
    ]


# after a match, and after a restart --------------------------------------------------------


async def test_joining_after_a_match_answers_the_outcome(tmp_path: Path, make_rig: Any) -> None:
    rig = make_rig()
    rig.add("p1")
    rig.add("p2")
    await rig.join("p1")
    group_id = (await rig.join("p2"))["outcome"]["group_id"]
    again = await rig.join("p1", new_socket=True)  # a reload
    assert again["outcome"] == {"kind": "matched", "group_id": group_id, "agent_id": "0",
                                "countdown_s": 3}  # fmt: skip
    assert rig.rooms.waiters == {}
    await rig.rooms.flush()
    # After a restart: the group is read back from the store.
    restarted = Rig(tmp_path, rig.experiment, store=Store(f"sqlite:///{tmp_path / 'study.db'}"))
    try:
        answer = await restarted.join("p2")
        assert answer["outcome"]["group_id"] == group_id and answer["outcome"]["agent_id"] == "1"
        assert restarted.rooms.waiters == {}
    finally:
        await restarted.close()


async def test_a_timeout_is_read_back_after_a_restart(tmp_path: Path, make_rig: Any) -> None:
    rig = make_rig(timeout_s=30)
    rig.add("p1")
    await rig.join("p1")
    await rig.disconnect("p1")
    await rig.wait(30)
    await rig.rooms.flush()
    restarted = Rig(tmp_path, rig.experiment, store=Store(f"sqlite:///{tmp_path / 'study.db'}"))
    try:
        outcome = await restarted.groups.outcome("p1", "lobby")
        assert outcome == RoomOutcome("not_present", waited_s=30.0)
        assert await restarted.groups.outcome("p2", "lobby") is None
    finally:
        await restarted.close()


# refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((), "expected one object argument"),
        (([],), "expected one object argument"),
        (("lobby",), "expected one object argument"),
        (({"scene_id": "lobby"}, 2), "expected one object argument"),
        (({},), "scene_id: expected the id of the current scene"),
        (({"scene_id": 3},), "scene_id: expected the id of the current scene"),
        (({"scene_id": ""},), "scene_id: expected the id of the current scene"),
        (({"scene_id": "lobby", "x": 1},), "unknown field 'x'"),
    ],
)
@pytest.mark.parametrize("event", ["room:join", "room:here"])
async def test_malformed_messages_are_refused(
    make_rig: Any, event: str, args: tuple[Any, ...], error: str
) -> None:
    rig = make_rig()
    rig.add("p1")
    sid = await rig.connect("p1")
    answer = await rig.call(event, sid, *args)
    assert answer == {"ok": False, "error": error, "reason": "bad_request"}
    assert rig.rooms.waiters == {}


async def test_only_the_current_room_on_the_active_tab_can_be_joined(make_rig: Any) -> None:
    rig = make_rig()
    rig.add("early", at="consent")
    rig.add("playing", at="game")
    rig.add("p1")
    early = await rig.connect("early")
    playing = await rig.connect("playing")
    assert await rig.call("room:join", early, {"scene_id": "lobby"}) == {
        "ok": False, "error": "scene_id: 'lobby' is not the current scene", "reason": "not_current"
    }  # fmt: skip
    answer = await rig.call("room:join", playing, {"scene_id": "game"})
    assert answer["reason"] == "not_room" and "not a waiting room" in answer["error"]
    answer = await rig.call("room:join", "unknown-sid", {"scene_id": "lobby"})
    assert answer["reason"] == "not_connected"
    upload_only = await rig.connect("p1", tab=None)  # bound, but not the participant's tab
    answer = await rig.call("room:join", upload_only, {"scene_id": "lobby"})
    assert answer["reason"] == "not_tab"
    answer = await rig.call("room:here", await rig.connect("p1"), {"scene_id": "lobby"})
    assert answer["reason"] == "not_waiting"
    assert (await rig.join("p1"))["ok"]
    assert (await rig.call("room:here", upload_only, {"scene_id": "lobby"}))["reason"] == "not_tab"
    answer = await rig.call("room:here", rig.sids["p1"], {"scene_id": "other"})
    assert answer["reason"] == "not_waiting"
    assert set(rig.rooms.waiters) == {"p1"}


async def test_a_completed_participant_cannot_join(make_rig: Any) -> None:
    rig = make_rig()
    rig.add("p1")
    rig.store.update_participant("p1", status="completed")
    answer = await rig.join("p1")
    assert answer["reason"] == "not_current" and "completed" in answer["error"]


# groups --------------------------------------------------------------------------------------


async def test_groups_are_given_balanced_conditions_and_their_own_context(
    tmp_path: Path, make_rig: Any
) -> None:
    rig = make_rig(study(tmp_path, conditions=True))
    pids = [f"p{i}" for i in range(6)]
    for pid in pids:
        rig.add(pid)
        await rig.join(pid)
    groups = rig.store.groups("rooms")
    assert [g.condition for g in groups] == ["a", "b", "a"]
    group = groups[0]
    ctx = rig.groups.context(group)
    assert ctx.participant_id == group.group_id and ctx.condition == "a"
    assert ctx.seed == derive_seed(5, "group", group.group_id) and ctx.url_params == {}
    assert await rig.groups.group_for("p0", "game_a") == group
    assert await rig.groups.group_for("p0", "consent") is None


async def test_a_group_records_members_leaving_and_scenes_ending(make_rig: Any) -> None:
    rig = make_rig()
    rig.add("p1")
    rig.add("p2")
    await rig.join("p1")
    group_id = (await rig.join("p2"))["outcome"]["group_id"]
    group = await rig.groups.group_for("p1", "game")
    assert group is not None and group.group_id == group_id
    group = await rig.groups.member_left(group, "p2", "game")
    assert group.left == {"p2": "game"}
    group = await rig.groups.scene_ended(group, "game", "member_left")
    assert group.scenes == {"game": "member_left"} and group.ended_how == "member_left"
    assert group.ended_at is not None
    assert await rig.groups.group_for("p1", "game") == group == rig.store.get_group(group_id)


async def test_the_loop_ticks_until_closed(make_rig: Any) -> None:
    rig = make_rig(timeout_s=30)
    rig.add("p1")
    await rig.join("p1")
    rig.rooms.start()
    rig.clock.now += 31
    for _ in range(40):
        if rig.to("p1", "room:timeout"):
            break
        await asyncio.sleep(0.05)
    assert rig.to("p1", "room:timeout") == [{"scene_id": "lobby", "outcome": "timeout"}]
    await rig.rooms.close()
    assert rig.rooms._task is None


# through the real app ------------------------------------------------------------------------


async def test_two_pages_are_matched_over_their_sockets(tmp_path: Path) -> None:
    experiment = study(tmp_path)
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'study.db'}",
        secret="waiting-rooms-secret-" + "w" * 30,
        wheelhouse=tmp_path / "wheels",
        env_workers=1,
    )
    app = create_app(settings, experiment)
    state = starlette_of(app).state
    groups = Groups(experiment, state.store)
    events = ServerEvents(state.ingest.writer, ServerSeqs(state.store), state.store.limits)
    rooms = WaitingRooms(state.sio, state.connections, experiment, groups, events)
    rooms.register()
    clients: list[socketio.AsyncClient] = []
    matched: dict[str, asyncio.Queue[dict]] = {}
    tokens: dict[str, str] = {}
    with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:

            async def page(name: str, tab: str | None = "tab") -> socketio.AsyncClient:
                if name not in tokens:
                    start = await http.post("/api/start", json={"params": {"PROLIFIC_PID": name}})
                    assert start.status_code == 200, start.text
                    tokens[name] = start.json()["token"]
                client = socketio.AsyncClient(reconnection=False)
                matched.setdefault(name, asyncio.Queue())
                client.on("room:matched", matched[name].put_nowait)
                auth = {"token": tokens[name], **({"tab": tab} if tab else {})}
                await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=10)
                clients.append(client)
                return client

            try:
                one, two = await page("one"), await page("two")
                for client in (one, two):
                    answer = await client.call(
                        "study:advance",
                        {"scene_id": "consent", "response": {"consent": True}},
                        timeout=10,
                    )
                    assert answer["ok"], answer
                stray = await page("one", tab=None)  # the same participant, not its tab
                refused = await stray.call("room:join", {"scene_id": "lobby"}, timeout=10)
                assert refused["ok"] is False and refused["reason"] == "not_tab"
                first = await one.call("room:join", {"scene_id": "lobby"}, timeout=10)
                assert first["ok"] and first["needed"] == 1, first
                second = await two.call("room:join", {"scene_id": "lobby"}, timeout=10)
                assert second["outcome"]["kind"] == "matched", second
                got = await asyncio.wait_for(matched["one"].get(), 10)
                assert got["group_id"] == second["outcome"]["group_id"] and got["agent_id"] == "0"
                assert matched["one"].empty() and matched["two"].qsize() == 1
                [group] = state.store.groups("rooms")
                assert group.member_ids == ["one", "two"]
                for _ in range(100):  # the event records are written in the background
                    stored = state.store.records("two", kind="event", scene_id="lobby")
                    if stored:
                        break
                    await asyncio.sleep(0.05)
                assert [r["data"]["type"] for r in stored] == ["waiting_matched"]
            finally:
                for client in clients:
                    await client.disconnect()
