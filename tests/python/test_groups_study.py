"""Groups in the study definition: WaitingRoom, StandIn, group GymScenes, per-group conditions.

Every mistake names its scene and option; the Experiment fills in each room's group scenes,
human agents and group size, and knows which room's groups play which scene.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from interactive_gym.study import (
    Conditions,
    EndScene,
    Experiment,
    GymScene,
    ParticipantContext,
    PythonPolicy,
    RandomizeOrder,
    ResponseError,
    StandIn,
    StaticScene,
    StudyError,
    WaitingParticipant,
    WaitingRoom,
    derive_seed,
)
from interactive_gym.study.end_scene import generated_code
from interactive_gym.study.scene import StoredScene
from interactive_gym.study.waiting_room import DEFAULT_MESSAGE, GROUP_ID_PATTERN, new_group_id

ENV = """
class Env:
    num_actions = 3

    def reset(self, seed=None, options=None):
        return 0, {}

    def step(self, action):
        return 0, 0.0, False, False, {}


def make_env(**config):
    return Env()
"""
POLICY = "def policy(observation, agent_id):\n    return 0\n"
CTX = ParticipantContext("p1", "e", 1234)
GROUP = "g0123456789abcde"


@pytest.fixture(autouse=True)
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "partner.py").write_text(POLICY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def game(scene_id: str = "game", humans: int = 2, **options: Any) -> GymScene:
    """A server-runtime GymScene with ``humans`` human agents (0..n-1) and one AI agent."""
    agents: dict[int, Any] = {i: "human" for i in range(humans)}
    agents[humans] = "random"
    settings: dict[str, Any] = {
        "runtime": "server",
        "env_file": "env.py",
        "agents": agents,
        "controls": {"ArrowLeft": 0, "ArrowRight": 1},
    }
    settings.update(options)
    return GymScene(scene_id, **settings)


def page(scene_id: str) -> StaticScene:
    return StaticScene(scene_id, html=f"<p>{scene_id}</p>")


def study(*scenes: Any, **options: Any) -> Experiment:
    return Experiment("e", scenes=[*scenes, EndScene()], base_dir=Path.cwd(), **options)


def study_error(*scenes: Any) -> str:
    with pytest.raises(StudyError) as caught:
        study(*scenes)
    return str(caught.value)


@dataclasses.dataclass
class Participant:
    participant_id: str = "p1"
    experiment_id: str = "e"
    seed: int = 5
    condition: str | None = None
    url_params: dict[str, str] = dataclasses.field(default_factory=dict)


# StandIn -------------------------------------------------------------------------------------


def test_stand_in_keys_agents_by_text_and_describes_them(folder: Path) -> None:
    stand_in = StandIn({1: "random", "2": PythonPolicy("partner.py", config={"k": 1})})
    assert list(stand_in.agents) == ["1", "2"]
    stand_in.load(folder, "GymScene('g').on_member_leave")
    assert stand_in.to_client(7, "g") == {
        "1": {"kind": "random"},
        "2": {
            "kind": "python",
            "code": POLICY,
            "filename": "partner.py",
            "function": "policy",
            "config": {"k": 1},
        },
    }


@pytest.mark.parametrize(
    ("agents", "message"),
    [
        ({}, "StandIn: expected a non-empty dict of agent id to policy, got dict {}"),
        ([1], "StandIn: expected a non-empty dict of agent id to policy, got list [1]"),
        ({True: "random"}, "StandIn: agents[True]: agent ids are strings or whole numbers"),
        ({1: "human"}, "StandIn: agents[1] is str 'human'; a stand-in is an AI policy"),
        ({1: "robot"}, "StandIn: agents[1] is str 'robot'; a stand-in is an AI policy"),
        ({1: "random", "1": "random"}, "StandIn: agents['1']: agent id '1' is listed twice"),
    ],
)
def test_stand_in_refuses_what_is_not_an_ai_policy(agents: Any, message: str) -> None:
    with pytest.raises(StudyError) as caught:
        StandIn(agents)
    assert str(caught.value).startswith(message)


def test_stand_in_policy_files_are_read_with_the_study(folder: Path) -> None:
    room = WaitingRoom("lobby", on_timeout=StandIn({1: PythonPolicy("nope.py")}))
    text = study_error(room, game())
    assert "WaitingRoom('lobby').on_timeout.agents[1]: file 'nope.py': no such file" in text
    stand_in = StandIn({1: PythonPolicy("partner.py")})
    scene = game(on_member_leave=stand_in)
    study(WaitingRoom("lobby"), scene)
    assert stand_in.to_client(1, "game")["1"]["code"] == POLICY
    bad = game(on_member_leave=StandIn({0: PythonPolicy("partner.py", function="act")}))
    text = study_error(WaitingRoom("lobby"), bad)
    assert "GymScene('game').on_member_leave.agents[0]: partner.py defines no function act" in text


# WaitingRoom ---------------------------------------------------------------------------------


def test_a_waiting_room_describes_itself_to_the_browser() -> None:
    room = WaitingRoom("lobby")
    assert (room.scene_type, room.record_kinds) == ("waiting_room", frozenset({"event"}))
    assert room.to_client(CTX) == {
        "scene_id": "lobby",
        "scene_type": "waiting_room",
        "module": "/static/js/study/scenes/waiting_room.js",
        "title": None,
        "message": DEFAULT_MESSAGE,
        "show_count": True,
        "group_size": None,
        "timeout_s": 300.0,
        "presence_after_s": 60.0,
        "presence_answer_s": 30.0,
        "countdown_s": 3,
    }
    assert (room.matcher, room.roles, room.on_timeout) == (None, "arrival", "skip")
    assert (room.group_scenes, room.humans) == ([], [])
    custom = WaitingRoom(
        "lobby",
        group_size=3,
        timeout_s=60,
        roles="random",
        message="<p>Hold on</p>",
        show_count=False,
        presence_after_s=5,
        presence_answer_s=600,
        countdown_s=0,
        title="Waiting",
    )
    options = custom.client_options(CTX)
    assert options["group_size"] == 3 and options["timeout_s"] == 60.0
    assert (options["title"], options["message"], options["show_count"]) == (
        "Waiting",
        "<p>Hold on</p>",
        False,
    )
    assert (options["presence_after_s"], options["presence_answer_s"]) == (5.0, 600.0)
    assert options["countdown_s"] == 0 and custom.roles == "random"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"group_size": 1}, "group_size must be at least 2, got 1"),
        ({"group_size": 2.0}, "group_size must be a whole number, got float 2.0"),
        ({"timeout_s": 4}, "timeout_s must be between 5 and 3600, got 4"),
        ({"timeout_s": 3601}, "timeout_s must be between 5 and 3600, got 3601"),
        ({"timeout_s": "60"}, "timeout_s must be a finite number, got str '60'"),
        ({"matcher": 3}, "matcher must be a function or None, got int 3"),
        ({"roles": "fifo"}, "roles must be 'arrival' or 'random', got str 'fifo'"),
        (
            {"on_timeout": "end"},
            "on_timeout must be 'skip', a StandIn or an EndScene, got str 'end'",
        ),
        ({"message": ""}, "message must be a non-empty string, got str ''"),
        ({"show_count": 1}, "show_count must be True or False, got int 1"),
        ({"presence_after_s": 4}, "presence_after_s must be between 5 and 3600, got 4"),
        ({"presence_answer_s": 601}, "presence_answer_s must be between 5 and 600, got 601"),
        ({"countdown_s": 11}, "countdown_s must be at most 10, got 11"),
        ({"countdown_s": -1}, "countdown_s must be at least 0, got -1"),
        ({"title": ""}, "title must be a non-empty string or None"),
        ({"grup_size": 2}, "unknown option 'grup_size'\n  fix: did you mean 'group_size'?"),
    ],
)
def test_a_wrong_room_option_is_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(StudyError) as caught:
        WaitingRoom("lobby", **options)
    text = str(caught.value)
    assert text.startswith("WaitingRoom('lobby'): ")
    assert message in text


def test_a_matcher_is_kept_and_sees_waiting_participants() -> None:
    def pair(waiting: list[WaitingParticipant]) -> list[str] | None:
        present = [w.participant_id for w in waiting if w.present]
        return present[:2] if len(present) >= 2 else None

    room = WaitingRoom("lobby", matcher=pair)
    waiting = [
        WaitingParticipant("a", 3.0, None, {}, True),
        WaitingParticipant("b", 2.0, "x", {"k": "v"}, False),
        WaitingParticipant("c", 1.0, None, {}, True),
    ]
    assert room.matcher is pair and pair(waiting) == ["a", "c"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        waiting[0].present = False  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(WaitingParticipant)] == [
        "participant_id",
        "waited_s",
        "condition",
        "url_params",
        "present",
    ]


def test_group_ids_are_g_and_15_hex_digits() -> None:
    ids = {new_group_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(GROUP_ID_PATTERN.match(i) and len(i) == 16 for i in ids)
    assert not GROUP_ID_PATTERN.match("g0123456789ABCDE")
    assert not GROUP_ID_PATTERN.match("p0123456789abcde")


def test_room_responses_are_checked() -> None:
    room = WaitingRoom("lobby")
    check = room.validate_response
    assert check({"outcome": "matched", "group_id": GROUP}, CTX) == {
        "outcome": "matched",
        "group_id": GROUP,
    }
    assert check({"outcome": "timeout", "group_id": None}, CTX) == {
        "outcome": "timeout",
        "group_id": None,
    }
    assert check({"outcome": "not_present"}, CTX) == {"outcome": "not_present", "group_id": None}
    assert check({"outcome": "timeout", "group_id": GROUP}, CTX)["group_id"] == GROUP
    for bad, field in [
        (None, "outcome"),
        ({}, "outcome"),
        ({"outcome": "left"}, "outcome"),
        ({"outcome": "matched"}, "group_id"),
        ({"outcome": "matched", "group_id": "g1"}, "group_id"),
        ({"outcome": "matched", "group_id": 5}, "group_id"),
        ({"outcome": "not_present", "group_id": GROUP}, "group_id"),
        ({"outcome": "timeout", "group_id": "nope"}, "group_id"),
        ({"outcome": "stand_in", "group_id": GROUP}, "outcome"),  # no StandIn in this room
        ({"outcome": "matched", "group_id": GROUP, "extra": 1}, ""),
    ]:
        with pytest.raises(ResponseError) as caught:
            check(bad, CTX)
        assert caught.value.field == field, bad
    with_stand_in = WaitingRoom("lobby", on_timeout=StandIn({1: "random"}))
    answer = {"outcome": "stand_in", "group_id": GROUP}
    assert with_stand_in.validate_response(answer, CTX) == answer
    with pytest.raises(ResponseError) as caught:
        with_stand_in.validate_response({"outcome": "stand_in", "group_id": None}, CTX)
    assert caught.value.field == "group_id"


# group GymScenes -----------------------------------------------------------------------------


def test_a_game_with_several_humans_is_a_group_game() -> None:
    scene = game(humans=3)
    assert (scene.humans, scene.human, scene.is_group) == (["0", "1", "2"], "0", True)
    assert (scene.when_member_away, scene.on_member_leave, scene.reconnect_s) == (
        "pause",
        "end",
        20.0,
    )
    solo = game(humans=1)
    assert (solo.humans, solo.human, solo.is_group, solo.reconnect_s) == (["0"], "0", False, 30.0)
    nobody = GymScene("watch", runtime="server", env_file="env.py", agents={0: "random"})
    assert (nobody.humans, nobody.human, nobody.is_group, nobody.reconnect_s) == (
        [],
        None,
        False,
        30.0,
    )
    assert game(reconnect_s=0).reconnect_s == 0.0
    assert game(humans=1, reconnect_s=45).reconnect_s == 45.0


@pytest.mark.parametrize(
    ("humans", "options", "message"),
    [
        (2, {"when_member_away": "wait"}, "when_member_away must be 'pause' or 'default_action'"),
        (2, {"on_member_leave": "stop"}, "on_member_leave must be 'end', a StandIn or an EndScene"),
        (
            2,
            {"on_member_leave": StandIn({2: "random"})},
            "on_member_leave StandIn has agent '2', which is not a human agent of this scene "
            "(human agents: '0', '1')",
        ),
        (2, {"reconnect_s": -1}, "reconnect_s must be between 0 and 3600, got -1"),
        (2, {"reconnect_s": 3601}, "reconnect_s must be between 0 and 3600, got 3601"),
        (2, {"reconnect_s": "20"}, "reconnect_s must be a finite number, got str '20'"),
        (1, {"reconnect_s": -1}, "reconnect_s must be between 0 and 3600"),
        (
            1,
            {"when_member_away": "default_action"},
            "when_member_away applies to group games only (2 or more 'human' agents)",
        ),
        (
            1,
            {"on_member_leave": StandIn({0: "random"})},
            "on_member_leave applies to group games only",
        ),
        (2, {"on_membr_leave": "end"}, "did you mean 'on_member_leave'?"),
    ],
)
def test_a_wrong_group_option_is_named(humans: int, options: dict, message: str) -> None:
    with pytest.raises(StudyError) as caught:
        game(humans=humans, **options)
    text = str(caught.value)
    assert text.startswith("GymScene('game'): ")
    assert message in text


def test_group_options_go_to_the_browser() -> None:
    scene = game(when_member_away="default_action")
    study(WaitingRoom("lobby"), scene)
    options = scene.to_client(CTX)
    assert options["humans"] == ["0", "1"] and options["human"] == "0"
    assert options["group"] is True
    assert options["when_member_away"] == "default_action"
    assert options["reconnect_s"] == 20.0
    solo = game("solo", humans=1)
    study(solo)
    options = solo.to_client(CTX)
    assert (options["humans"], options["group"], options["when_member_away"]) == (
        ["0"],
        False,
        "pause",
    )
    assert options["reconnect_s"] == 30.0


def test_game_spec_carries_the_stand_ins() -> None:
    scene = game(on_member_leave=StandIn({0: "random", 1: PythonPolicy("partner.py")}))
    study(WaitingRoom("lobby"), scene)
    spec = scene.game_spec(CTX)
    assert spec["stand_ins"]["0"] == {"kind": "random"}
    assert spec["stand_ins"]["1"]["kind"] == "python"
    assert spec["stand_ins"]["1"]["code"] == POLICY
    given = {"1": {"kind": "random"}}
    merged = scene.game_spec(CTX, stand_ins=given)["stand_ins"]
    assert merged == {"0": {"kind": "random"}, "1": {"kind": "random"}}
    plain = game("plain")
    study(WaitingRoom("lobby"), plain)
    assert plain.game_spec(CTX)["stand_ins"] == {}
    assert plain.game_spec(CTX, stand_ins=given)["stand_ins"] == given
    assert plain.game_spec(CTX)["agents"] == {
        "0": {"kind": "human"},
        "1": {"kind": "human"},
        "2": {"kind": "random"},
    }


def test_a_group_game_may_end_because_a_member_left() -> None:
    scene = game(episodes=3)
    answer = {"status": "group_ended", "episodes": 1, "error": None}
    assert scene.validate_response(answer, CTX) == answer
    assert scene.validate_response({"status": "group_ended", "episodes": 0}, CTX) == {
        "status": "group_ended",
        "episodes": 0,
        "error": None,
    }
    with pytest.raises(ResponseError) as caught:
        scene.validate_response({"status": "group_ended", "episodes": 4}, CTX)
    assert caught.value.field == "episodes"
    scene.check_done(answer, StoredScene(event_types=frozenset({"member_away", "member_left"})))
    with pytest.raises(ResponseError) as caught:
        scene.check_done(answer, StoredScene(event_types=frozenset({"member_away"})))
    assert caught.value.field == "status"
    assert "no one's leaving was recorded" in caught.value.reason
    solo = game(humans=1)
    with pytest.raises(ResponseError) as caught:
        solo.validate_response(answer, CTX)
    assert caught.value.field == "status"
    assert caught.value.reason == "a game scene ends with status completed or error"
    assert "completed or error or group_ended" in str(
        pytest.raises(ResponseError, scene.validate_response, {"status": "x"}, CTX).value
    )


# the experiment as a whole -------------------------------------------------------------------


def test_a_room_learns_its_group_scenes_humans_and_size() -> None:
    room = WaitingRoom("lobby")
    first, second = game("first"), game("second", episodes=2)
    experiment = study(page("intro"), room, first, page("between"), second, page("after"))
    assert experiment.rooms == {"lobby": room}
    assert room.group_scenes == ["first", "second"]
    assert room.humans == ["0", "1"]
    assert room.group_size == 2 and room.given_group_size is None
    assert room.client_options(CTX)["group_size"] == 2
    assert experiment.room_of("first") is room and experiment.room_of("second") is room
    assert experiment.room_of("intro") is None and experiment.room_of("lobby") is None
    assert experiment.room_of("nothing") is None
    assert experiment.group_conditions_room is None
    assert experiment.scenes_by_id["lobby"] is room
    assert study(page("intro")).rooms == {}


def test_a_later_room_starts_a_new_block() -> None:
    one, two = WaitingRoom("one"), WaitingRoom("two", group_size=3)
    a, b = game("a"), game("b", humans=3)
    experiment = study(one, a, page("mid"), two, b)
    assert experiment.room_of("a") is one and experiment.room_of("b") is two
    assert (one.group_scenes, one.group_size) == (["a"], 2)
    assert (two.group_scenes, two.humans, two.group_size) == (["b"], ["0", "1", "2"], 3)


def test_a_group_scene_needs_a_room_before_it() -> None:
    text = study_error(page("intro"), game("pair"))
    assert text.startswith(
        "GymScene('pair'): is a group scene (human agents '0', '1') with no WaitingRoom before it"
    )
    assert 'fix: put a WaitingRoom("lobby") before it' in text
    text = study_error(game("pair"), WaitingRoom("lobby"), game("other"))
    assert text.startswith("GymScene('pair'): is a group scene")
    pair = game("pair")
    text = study_error(Conditions({"a": [WaitingRoom("lobby"), pair], "b": [pair]}))
    assert "GymScene('pair'): is a group scene (human agents '0', '1') with no WaitingRoom " in text
    assert "before it (in condition 'b')" in text


def test_a_room_needs_group_scenes_after_it() -> None:
    text = study_error(WaitingRoom("lobby"), game("solo", humans=1))
    assert text.startswith(
        "WaitingRoom('lobby'): is followed by no group scene before the end of the study"
    )
    text = study_error(WaitingRoom("one"), page("x"), WaitingRoom("two"), game("pair"))
    assert "WaitingRoom('one'): is followed by no group scene before WaitingRoom('two')" in text
    text = study_error(
        WaitingRoom("lobby"), Conditions({"a": [game("pair")], "b": [page("alone")]})
    )
    assert (
        "WaitingRoom('lobby'): is followed by no group scene before the end of the study " in text
    )
    assert "(in condition 'b')" in text


def test_rooms_and_group_scenes_stay_out_of_randomized_blocks() -> None:
    text = study_error(RandomizeOrder([page("x"), WaitingRoom("lobby")]), game("pair"))
    assert text.startswith("WaitingRoom('lobby'): is inside a RandomizeOrder")
    text = study_error(
        Conditions({"a": [RandomizeOrder([WaitingRoom("lobby")]), game("pair")], "b": [page("y")]})
    )
    assert text.startswith("WaitingRoom('lobby'): is inside a RandomizeOrder")
    text = study_error(WaitingRoom("lobby"), RandomizeOrder([game("one"), game("two")]))
    assert text.startswith("GymScene('one'): is a group scene inside a RandomizeOrder")
    # a solo game may still be shuffled after a room
    experiment = study(WaitingRoom("lobby"), game("pair"), RandomizeOrder([game("s", humans=1)]))
    assert experiment.room_of("pair") is not None and experiment.room_of("s") is None


def test_group_sizes_and_humans_must_agree_within_a_block() -> None:
    text = study_error(WaitingRoom("lobby"), game("two"), game("three", humans=3))
    assert text.startswith(
        "WaitingRoom('lobby'): group_size is 2 (from GymScene('two')), but GymScene('three') "
        "has 3 human agents ('0', '1', '2')"
    )
    text = study_error(WaitingRoom("lobby", group_size=3), game("two"))
    assert text.startswith(
        "WaitingRoom('lobby'): group_size is 3 (given), but GymScene('two') has 2 human agents"
    )
    other_ids = GymScene(
        "other",
        runtime="server",
        env_file="env.py",
        agents={"a": "human", "b": "human"},
        controls={"ArrowLeft": 0},
    )
    text = study_error(WaitingRoom("lobby"), game("two"), other_ids)
    assert text.startswith(
        "WaitingRoom('lobby'): GymScene('other') has human agents 'a', 'b', but GymScene('two') "
        "has '0', '1'"
    )


def test_a_scene_after_two_rooms_is_refused() -> None:
    shared = game("shared")
    text = study_error(
        Conditions({"a": [WaitingRoom("room_a"), shared], "b": [WaitingRoom("room_b"), shared]})
    )
    assert text.startswith(
        "GymScene('shared'): is reached after two different waiting rooms ('room_a' and "
        "'room_b' (in condition 'b'))"
    )


def test_per_participant_conditions_cannot_split_a_group() -> None:
    text = study_error(WaitingRoom("lobby"), Conditions({"a": [game("fast")], "b": [game("slow")]}))
    assert text.startswith(
        "WaitingRoom('lobby'): its groups play ['fast'] in condition 'a' but ['slow'] in "
        "condition 'b'"
    )
    assert 'per="group"' in text
    # the same group scenes in every condition are fine
    shared = game("shared")
    experiment = study(
        WaitingRoom("lobby"), Conditions({"a": [page("x"), shared], "b": [shared, page("y")]})
    )
    assert experiment.room_of("shared") is experiment.rooms["lobby"]
    # a room inside each condition is fine too
    experiment = study(
        Conditions({"a": [WaitingRoom("ra"), game("fast")], "b": [WaitingRoom("rb"), game("slow")]})
    )
    assert experiment.room_of("fast").scene_id == "ra"  # type: ignore[union-attr]
    assert experiment.room_of("slow").scene_id == "rb"  # type: ignore[union-attr]
    assert experiment.group_conditions_room is None


def test_per_group_conditions_follow_a_top_level_room() -> None:
    with pytest.raises(StudyError, match="per must be 'participant' or 'group', got str 'pair'"):
        Conditions({"a": [page("x")], "b": [page("y")]}, per="pair")
    assert Conditions({"a": [page("x")], "b": [page("y")]}).per == "participant"
    lobby, later = WaitingRoom("lobby"), WaitingRoom("later")
    fast, slow = game("fast"), game("slow")
    experiment = study(
        WaitingRoom("first"),
        game("warmup"),
        lobby,
        Conditions({"fast": [fast], "slow": [slow]}, per="group"),
        later,
        game("again"),
    )
    assert experiment.group_conditions_room == "lobby"
    assert experiment.conditions is not None and experiment.conditions.per == "group"
    assert lobby.group_scenes == ["fast", "slow"]
    assert experiment.room_of("fast") is lobby and experiment.room_of("slow") is lobby
    assert experiment.room_of("warmup") is experiment.rooms["first"]
    assert experiment.room_of("again") is later
    text = study_error(page("intro"), Conditions({"a": [page("x")], "b": [page("y")]}, per="group"))
    assert text.startswith(
        "Conditions(per='group'): has no WaitingRoom before it at the top level of scenes"
    )
    text = study_error(
        Conditions(
            {"a": [WaitingRoom("ra"), game("x")], "b": [WaitingRoom("rb"), game("y")]},
            per="group",
        )
    )
    assert text.startswith("Conditions(per='group'): has no WaitingRoom before it")


def test_an_on_timeout_stand_in_must_fit_the_group_scenes() -> None:
    room = WaitingRoom("lobby", on_timeout=StandIn({1: "random"}))
    study(room, game("pair"))
    assert room.stand_in is not None and room.end_scene is None
    text = study_error(WaitingRoom("lobby", on_timeout=StandIn({5: "random"})), game("pair"))
    assert text.startswith(
        "WaitingRoom('lobby'): on_timeout StandIn has agent '5', which is not a human agent "
        "of its group scenes (human agents: '0', '1')"
    )
    text = study_error(WaitingRoom("lobby", on_timeout=StandIn({2: "random"})), game("trio", 3))
    assert text.startswith(
        "WaitingRoom('lobby'): on_timeout StandIn has no policy for human agents '0', '1' of "
        "GymScene('trio')"
    )
    study(WaitingRoom("lobby", on_timeout=StandIn({1: "random", 2: "random"})), game("trio", 3))


# extra end scenes ----------------------------------------------------------------------------


def test_end_scenes_of_rooms_and_games_are_registered() -> None:
    no_partner = EndScene("no_partner", completion_code="NOPARTNER")
    partner_left = EndScene("partner_left", completion_code="LEFT")
    room = WaitingRoom("lobby", on_timeout=no_partner)
    scene = game(on_member_leave=partner_left)
    experiment = study(room, scene)
    assert room.end_scene is no_partner and room.stand_in is None
    assert experiment.end_scenes == {
        "end": experiment.end_scene,
        "no_partner": no_partner,
        "partner_left": partner_left,
    }
    assert experiment.scenes_by_id["no_partner"] is no_partner
    assert experiment.scenes_by_id["partner_left"] is partner_left
    # one EndScene may serve both, and the study's last one may be reused
    shared = EndScene("sorry", completion_code="SORRY")
    last = EndScene()
    experiment = Experiment(
        "e",
        scenes=[WaitingRoom("lobby", on_timeout=shared), game(on_member_leave=last), last],
        base_dir=Path.cwd(),
    )
    assert experiment.end_scenes == {"end": last, "sorry": shared}
    solo = study(page("x"))
    assert solo.end_scenes == {"end": solo.end_scene}


def test_end_scene_ids_must_not_clash() -> None:
    text = study_error(WaitingRoom("lobby", on_timeout=EndScene(completion_code="X")), game())
    assert text.startswith(
        "WaitingRoom('lobby'): on_timeout EndScene('end') has the scene id of EndScene('end')"
    )
    assert 'fix: give it its own scene_id, e.g. EndScene("on_timeout_lobby", ...)' in text
    text = study_error(WaitingRoom("lobby"), game(on_member_leave=EndScene("lobby")))
    assert text.startswith(
        "GymScene('game'): on_member_leave EndScene('lobby') has the scene id of "
        "WaitingRoom('lobby')"
    )


def test_completion_codes_per_end_scene() -> None:
    key = b"k" * 32
    no_partner = EndScene(
        "no_partner",
        completion_code="NOPARTNER",
        redirect_url="https://x.org/done?cc={completion_code}&p={participant_id}",
    )
    experiment = study(WaitingRoom("lobby", on_timeout=no_partner), game())
    who = Participant()
    mine = generated_code(key, "e", "p1")
    assert experiment.completion_code(who, key) == mine
    assert experiment.completion_code(who, key, "end") == mine
    assert experiment.completion_code(who, key, "no_partner") == "NOPARTNER"
    assert experiment.completion(who, key) == {"completion_code": mine, "redirect_url": None}
    assert experiment.completion(who, key, end_id="no_partner") == {
        "completion_code": "NOPARTNER",
        "redirect_url": "https://x.org/done?cc=NOPARTNER&p=p1",
    }
    assert experiment.completion(who, key, "STORED", "no_partner")["completion_code"] == "STORED"
    with pytest.raises(KeyError, match="no EndScene 'lobby'"):
        experiment.completion_code(who, key, "lobby")


def test_a_solo_study_is_unchanged() -> None:
    solo = game("solo", humans=1)
    experiment = study(page("intro"), solo)
    assert experiment.rooms == {} and experiment.group_conditions_room is None
    assert list(experiment.end_scenes) == ["end"]
    assert experiment.room_of("solo") is None
    assert solo.game_spec(CTX)["stand_ins"] == {}
    assert solo.to_client(CTX)["seeds"] == [derive_seed(1234, "solo", "episode", 0)]
    done = {"status": "completed", "episodes": 1, "error": None}
    assert solo.validate_response(done, CTX) == done
