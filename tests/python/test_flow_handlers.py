"""Property-based tests of the flow's socket handlers (real Store and Ingest, no network).

The handler tests run on SQLite and PostgreSQL; the state machine on SQLite.

Any message, in any order, from any participant's socket is answered (``ok`` true or false),
never raises, never moves a participant other than the sender, and moves the sender only by a
valid advance of their current scene.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from interactive_gym.data import Store
from interactive_gym.server.flow import SECOND_TAB, Flow
from interactive_gym.server.ingest import register_ingest
from interactive_gym.server.tokens import TokenSigner
from interactive_gym.study import (
    EndScene,
    Experiment,
    FreeText,
    Likert,
    StaticScene,
    SurveyScene,
)

EXPERIMENT = Experiment(
    "flow_test",
    scenes=[
        StaticScene("consent", html="c", consent="I agree"),
        SurveyScene(
            "survey",
            questions=[Likert("fun", "Fun?", points=5), FreeText("note", "Note", required=False)],
        ),
        StaticScene("info", html="i"),
        EndScene(completion_code="CODE7"),
    ],
    seed=1,
)
ORDER = ["consent", "survey", "info", "end"]
VALID = {"consent": {"consent": True}, "survey": {"answers": {"fun": 2}}, "info": {}}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = json_values | st.fixed_dictionaries(
    {"scene_id": st.sampled_from([*ORDER, "nope", ""]) | st.text(max_size=8)},
    optional={"response": json_values, "extra": json_values},
)


class Harness:
    """A Flow wired to a real Store and Ingest, driven without a network."""

    _sids = itertools.count()

    def __init__(self, db_url: str) -> None:
        self.store = Store(db_url)
        self.signer = TokenSigner("k" * 32, EXPERIMENT.experiment_id)
        self.sio = socketio.AsyncServer(async_mode="asgi")
        self.ingest = register_ingest(self.sio, self.store, self.signer)
        self.flow = Flow(EXPERIMENT, self.store, self.ingest.connections, self.sio, self.signer)
        self.flow.register()
        self.loop = asyncio.new_event_loop()
        self.ids = itertools.count()

    def run(self, coroutine):  # noqa: ANN001, ANN201
        return self.loop.run_until_complete(coroutine)

    def participant(self, participant_id: str) -> str:
        self.store.create_participant(
            participant_id,
            EXPERIMENT.experiment_id,
            condition=None,
            url_params={},
            seed=EXPERIMENT.participant_seed(participant_id),
            scene_order=ORDER,
        )
        return participant_id

    def connect(self, participant_id: str, tab: str | None = "tab-1", **auth: object) -> str:
        """Connect a socket; returns its sid or raises ConnectionRefusedError."""
        sid = f"sid{next(self._sids)}"
        fields = {"token": self.signer.issue(participant_id), **auth}
        if tab is not None:
            fields["tab"] = tab
        self.run(self.ingest.handle_connect(sid, {}, fields))
        return sid

    def disconnect(self, sid: str) -> None:
        self.run(self.ingest.handle_disconnect(sid))

    def call(self, handler: str, sid: str, *args: object) -> dict:
        return self.run(getattr(self.flow, f"handle_{handler}")(sid, *args))

    def index(self, participant_id: str) -> int:
        return self.store.get_participant(participant_id).scene_index  # type: ignore[union-attr]

    def pair(self) -> tuple[str, str, str]:
        """Two participants kept across examples, and the first one's socket."""
        if not hasattr(self, "_pair"):
            me, other = self.participant("me"), self.participant("other")
            self._pair = (me, other, self.connect(me))
            self.connect(other)
        return self._pair

    def close(self) -> None:
        self.loop.close()
        self.store.close()


@pytest.fixture
def harness(db_url: str):  # noqa: ANN201
    h = Harness(db_url)
    yield h
    h.close()


def test_a_valid_path_runs_to_completion(harness: Harness) -> None:
    pid = harness.participant("p")
    sid = harness.connect(pid)
    state = harness.call("state", sid)
    assert state["ok"] and state["index"] == 0 and state["count"] == 4
    assert [s["scene_id"] for s in state["scenes"]] == ORDER
    assert "CODE7" not in repr(state)  # the code is not revealed before completion
    for i, scene_id in enumerate(ORDER[:-1]):
        answer = harness.call("advance", sid, {"scene_id": scene_id, "response": VALID[scene_id]})
        token = answer.pop("token")
        assert harness.signer.verify(token).participant_id == pid  # renewed with every answer
        assert answer == {
            "ok": True,
            "index": i + 1,
            "scene_id": ORDER[i + 1],
            "count": 4,
            "path_changed": False,
        }
        # A resent advance (its acknowledgement was lost) is acknowledged again, not re-applied.
        assert harness.call("advance", sid, {"scene_id": scene_id, "response": VALID[scene_id]})[
            "ok"
        ]
        assert harness.index(pid) == i + 1
    done = harness.call("complete", sid, {"scene_id": "end"})
    assert done == {"ok": True, "completion_code": "CODE7", "redirect_url": None}
    assert harness.store.get_participant(pid).status == "completed"  # type: ignore[union-attr]
    assert harness.call("complete", sid, {"scene_id": "end"}) == done  # idempotent
    state = harness.call("state", sid)
    assert state["status"] == "completed" and state["completion"]["completion_code"] == "CODE7"
    refused = harness.call("advance", sid, {"scene_id": "end", "response": {}})
    assert refused["ok"] is False and "already completed" in refused["error"]


def test_bad_answers_are_refused_naming_the_field(harness: Harness) -> None:
    pid = harness.participant("p")
    sid = harness.connect(pid)
    refused = harness.call("advance", sid, {"scene_id": "consent", "response": {"consent": False}})
    assert refused["ok"] is False and refused["field"] == "consent"
    harness.call("advance", sid, {"scene_id": "consent", "response": {"consent": True}})
    refused = harness.call("advance", sid, {"scene_id": "survey", "response": {"answers": {}}})
    assert refused == {
        "ok": False,
        "error": "response: fun: an answer is required",
        "field": "fun",
    }
    assert harness.index(pid) == 1
    early = harness.call("complete", sid, {"scene_id": "end"})
    assert early["ok"] is False and harness.index(pid) == 1


def test_a_second_tab_is_refused_until_it_takes_over(harness: Harness) -> None:
    pid = harness.participant("p")
    first = harness.connect(pid, tab="A")
    with pytest.raises(socketio.exceptions.ConnectionRefusedError) as refused:
        harness.connect(pid, tab="B")
    assert refused.value.error_args["message"] == SECOND_TAB
    assert "another tab" in refused.value.error_args["data"]["message"]
    # The same tab reconnecting (a reload, a network cut) is welcome and replaces the old socket.
    again = harness.connect(pid, tab="A")
    assert harness.call("state", again)["ok"]
    assert harness.call("state", first)["ok"] is False
    # Taking over: the new tab holds the study; the old one is no longer heard.
    taken = harness.connect(pid, tab="B", takeover=True)
    assert harness.call("state", taken)["ok"]
    assert (
        harness.call("advance", again, {"scene_id": "consent", "response": {"consent": True}})["ok"]
        is False
    )
    # Once the holder is gone, a new tab is accepted without taking over.
    harness.disconnect(taken)
    assert harness.call("state", harness.connect(pid, tab="C"))["ok"]


def test_upload_only_sockets_are_not_part_of_the_flow(harness: Harness) -> None:
    pid = harness.participant("p")
    tab = harness.connect(pid, tab="A")
    uploader = harness.connect(pid, tab=None)  # e.g. a protocol-level client: accepted
    answer = harness.call(
        "advance", uploader, {"scene_id": "consent", "response": {"consent": True}}
    )
    assert answer["ok"] is False and "active tab" in answer["error"]
    assert harness.call("state", tab)["ok"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    handler=st.sampled_from(["state", "advance", "complete"]),
    args=st.tuples(payloads) | st.lists(json_values, max_size=3),
)
def test_any_message_is_answered_and_moves_no_one_else(
    harness: Harness, handler: str, args: tuple | list
) -> None:
    me, other, sid = harness.pair()
    before = (harness.index(me), harness.index(other))
    answer = harness.call(handler, sid, *args)
    assert isinstance(answer, dict) and isinstance(answer["ok"], bool)
    if not answer["ok"]:
        assert isinstance(answer["error"], str) and answer["error"]
    after = (harness.index(me), harness.index(other))
    assert after[1] == before[1]  # never another participant
    assert after[0] in (before[0], before[0] + 1)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.integers(0, 3),
    payload=st.fixed_dictionaries(
        {"scene_id": st.sampled_from([*ORDER, "nope"])},
        optional={
            "response": st.sampled_from([*VALID.values(), None, {"answers": {"fun": 9}}])
            | json_values,
            "extra": json_values,
        },
    ),
)
def test_only_a_valid_advance_of_the_current_scene_moves_the_participant(
    harness: Harness, start: int, payload: dict
) -> None:
    pid = harness.participant(f"a{next(harness.ids)}")
    harness.store.update_participant(pid, scene_index=start, scene_id=ORDER[start])
    sid = harness.connect(pid, tab=f"t{pid}")
    answer = harness.call("advance", sid, payload)
    scene_id = payload["scene_id"]
    current = ORDER[start]
    expected_ok = (
        "extra" not in payload
        and scene_id == current
        and current != "end"
        and _valid(current, payload.get("response"))
    )
    resend = "extra" not in payload and start > 0 and scene_id == ORDER[start - 1]
    assert answer["ok"] is (expected_ok or resend), (answer, payload)
    assert harness.index(pid) == start + (1 if expected_ok else 0)


def _valid(scene_id: str, response: object) -> bool:
    """The model of a valid response, written independently of the scene classes."""
    if scene_id == "consent":
        return (
            isinstance(response, dict)
            and set(response) == {"consent"}
            and response["consent"] is True
        )
    if scene_id == "survey":
        if not isinstance(response, dict) or set(response) != {"answers"}:
            return False
        answers = response["answers"]
        if not isinstance(answers, dict) or not set(answers) <= {"fun", "note"}:
            return False
        fun, note = answers.get("fun"), answers.get("note")
        fun_ok = type(fun) is int and 1 <= fun <= 5
        note_ok = note is None or (isinstance(note, str) and len(note.strip()) <= 1000)
        return fun_ok and note_ok
    return response in (None, {})


class FlowMachine(RuleBasedStateMachine):
    """Random sequences of reconnects, tabs, good and bad advances against a model."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.folder = tempfile.TemporaryDirectory(prefix="ig-flow-")
        self.h = Harness(f"sqlite:///{Path(self.folder.name) / 'flow.db'}")
        self.pid = self.h.participant("m")
        self.index = 0
        self.completed = False
        self.sid = ""
        self.tab = "A"

    @initialize()
    def open_page(self) -> None:
        self.sid = self.h.connect(self.pid, tab=self.tab)

    @rule()
    def advance_current(self) -> None:
        scene_id = ORDER[self.index]
        answer = self.h.call(
            "advance", self.sid, {"scene_id": scene_id, "response": VALID.get(scene_id)}
        )
        if scene_id == "end" or self.completed:
            assert answer["ok"] is False
        else:
            assert answer["ok"] is True
            self.index += 1

    @rule()
    def resend_previous(self) -> None:
        answer = self.h.call(
            "advance",
            self.sid,
            {"scene_id": ORDER[self.index - 1] if self.index else "consent", "response": None},
        )
        if self.index == 0:
            assert answer["ok"] is False  # consent without the box
        elif not self.completed:
            assert answer["ok"] is True and answer["index"] == self.index

    @rule(scene_id=st.sampled_from(ORDER), response=json_values)
    def advance_anything(self, scene_id: str, response: object) -> None:
        answer = self.h.call("advance", self.sid, {"scene_id": scene_id, "response": response})
        if answer["ok"] and scene_id == ORDER[self.index]:
            self.index += 1

    @rule()
    def complete(self) -> None:
        answer = self.h.call("complete", self.sid, {"scene_id": "end"})
        assert answer["ok"] is (self.index == 3)
        if answer["ok"]:
            self.completed = True

    @rule()
    def reload(self) -> None:
        self.h.disconnect(self.sid)
        self.sid = self.h.connect(self.pid, tab=self.tab)

    @rule()
    def network_cut_reconnect(self) -> None:
        self.sid = self.h.connect(self.pid, tab=self.tab)  # the old socket is still "connected"

    @rule()
    def second_tab(self) -> None:
        with pytest.raises(socketio.exceptions.ConnectionRefusedError):
            self.h.connect(self.pid, tab=self.tab + "x")

    @precondition(lambda self: len(self.tab) < 5)
    @rule()
    def take_over(self) -> None:
        old = self.sid
        self.tab += "y"
        self.sid = self.h.connect(self.pid, tab=self.tab, takeover=True)
        assert self.h.call("state", old)["ok"] is False

    @invariant()
    def matches_the_model(self) -> None:
        state = self.h.call("state", self.sid)
        assert state["ok"] and state["index"] == self.index
        assert state["status"] == ("completed" if self.completed else "active")

    def teardown(self) -> None:
        self.h.close()
        self.folder.cleanup()


FlowMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_flow_state_machine = FlowMachine.TestCase
