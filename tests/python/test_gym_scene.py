"""GymScene's options, checked when the study loads: each mistake names its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interactive_gym.study import (
    EndScene,
    Experiment,
    GymScene,
    ParticipantContext,
    PythonPolicy,
    ResponseError,
    StudyError,
    derive_seed,
    load_study,
)
from interactive_gym.study.loader import DEMO_STUDY

EXAMPLES = DEMO_STUDY.parent
ENV = """
class Env:
    num_actions = 3

    def reset(self, seed=None, options=None):
        return 0, {}

    def step(self, action):
        return 0, 0.0, False, False, {}


def hud(env):
    return "hi"


def make_env(**config):
    return Env()
"""
POLICY = "def policy(observation, agent_id):\n    return 0\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "partner.py").write_text(POLICY)
    return tmp_path


def build(folder: Path, **options: Any) -> GymScene:
    """A GymScene with working defaults, loaded through an Experiment in ``folder``."""
    settings: dict[str, Any] = {
        "env_file": "env.py",
        "agents": {0: "human"},
        "controls": {"ArrowLeft": 0, "ArrowRight": 1},
    }
    settings.update(options)
    scene = GymScene("game", **settings)
    Experiment("e", scenes=[scene, EndScene()], base_dir=folder)
    return scene


def error_of(folder: Path, **options: Any) -> str:
    with pytest.raises(StudyError) as caught:
        build(folder, **options)
    return str(caught.value)


CTX = ParticipantContext("p1", "e", 1234)


def test_python_snapshots_are_on_unless_the_experiment_turns_them_off(folder: Path) -> None:
    assert build(folder).to_client(CTX)["python_snapshots"] is True
    scene = GymScene("game", env_file="env.py", agents={0: "human"}, controls={"A": 0})
    Experiment("e", scenes=[scene, EndScene()], base_dir=folder, python_snapshots=False)
    assert scene.to_client(CTX)["python_snapshots"] is False
    with pytest.raises(StudyError, match="python_snapshots must be True or False, got str 'no'"):
        Experiment("e", scenes=[EndScene()], python_snapshots="no")


def test_a_valid_scene_describes_itself_to_the_browser(folder: Path) -> None:
    scene = build(
        folder,
        agents={0: "human", 1: PythonPolicy("partner.py", config={"speed": 2})},
        controls={"ArrowUp+ArrowLeft": 2, "Space": 1, "A": 0},
        episodes=3,
        hud_function="hud",
    )
    options = scene.to_client(CTX)
    assert options["scene_type"] == "gym" and options["module"].endswith("/scenes/gym.js")
    assert options["env"] == {"code": ENV, "module": None, "filename": "env.py", "config": {}}
    assert options["agents"] == {
        "0": {"kind": "human"},
        "1": {
            "kind": "python",
            "code": POLICY,
            "filename": "partner.py",
            "function": "policy",
            "config": {"speed": 2},
        },
    }
    assert options["human"] == "0"
    assert options["controls"] == [
        {"keys": ["ArrowLeft", "ArrowUp"], "action": 2},
        {"keys": [" "], "action": 1},
        {"keys": ["a"], "action": 0},
    ]
    assert scene.num_actions == 3  # read from `num_actions = 3` in the env file
    assert options["seeds"] == [derive_seed(1234, "game", "episode", i) for i in range(3)]
    assert len(set(options["seeds"])) == 3
    other = scene.to_client(ParticipantContext("p2", "e", 99))
    assert other["seeds"] != options["seeds"]


def test_fixed_seeds_are_used_for_every_participant(folder: Path) -> None:
    scene = build(folder, episodes=2, seeds=[5, 6])
    assert scene.to_client(CTX)["seeds"] == [5, 6]
    assert "seeds must be a list of 2 seeds" in error_of(folder, episodes=2, seeds=[5])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"env_fille": "env.py"}, "unknown option 'env_fille'\n  fix: did you mean 'env_file'?"),
        ({"env_file": None}, "give the environment as env_file=... or env_module=..."),
        ({"env_module": "pkg.env"}, "not both"),
        ({"env_file": "missing.py"}, "env_file 'missing.py': no such file"),
        ({"agents": {0: "robot"}}, "agents[0] is 'robot', not a kind of agent"),
        ({"agents": {0: 3}}, "agents[0] is int 3, not an agent"),
        ({"agents": {}}, "agents must be a non-empty dict"),
        ({"agents": {0: "human", 1: "human"}, "netcode": "p2p"}, "netcode must be"),
        ({"agents": {0: "human", "0": "random"}}, "agent id '0' is listed twice"),
        ({"controls": {}}, "agent '0' is human but controls is empty"),
        (
            {"controls": {"Up": 1}},
            "controls['Up']: unknown key 'Up'\n  fix: did you mean 'ArrowUp'?",
        ),
        ({"controls": {"ArrowUp+": 1}}, "controls['ArrowUp+']: empty key name"),
        ({"controls": {"a": 0, "A": 1}}, "controls['A'] repeats the keys of another entry"),
        (
            {"controls": {"ArrowUp": 3}},
            "controls['ArrowUp'] is action 3, but the environment has 3",
        ),
        (
            {"controls": {"ArrowUp": 7}, "num_actions": 5},
            "controls['ArrowUp'] is int 7, not one of",
        ),
        ({"default_action": 4}, "default_action is int 4, not one of the 3 actions"),
        ({"fps": 0}, "fps must be at least 1"),
        ({"fps": 500}, "fps must be at most 120"),
        ({"fps": 30.0}, "fps must be a whole number"),
        ({"episodes": 0}, "episodes must be at least 1"),
        ({"max_steps": -1}, "max_steps must be at least 1"),
        ({"input_mode": "hold"}, "input_mode must be 'held' or 'pressed'"),
        ({"when_hidden": "stop"}, "when_hidden must be 'pause' or 'continue'"),
        ({"hud": "Score {points}"}, "hud uses {points}, which is not a HUD field"),
        ({"hud": "Score {"}, "hud 'Score {'"),
        ({"hud_function": "status"}, "hud_function 'status': env.py defines no such function"),
        ({"env_config": {"a": float("nan")}}, "env_config must hold JSON values only"),
        ({"canvas_size": (10, 10)}, "canvas_size must be (width, height) in pixels"),
        ({"countdown_s": 11}, "countdown_s must be at most 10"),
        ({"load_timeout_s": 1}, "load_timeout_s must be between 5"),
        ({"packages": ["a", "a"]}, "packages lists 'a' twice"),
    ],
)
def test_a_wrong_option_is_named(folder: Path, options: dict, message: str) -> None:
    text = error_of(folder, **options)
    assert text.startswith("GymScene('game'): ")
    assert message in text


def test_env_file_problems_name_the_file_and_line(folder: Path) -> None:
    (folder / "broken.py").write_text("def make_env(**config):\n    return (\n")
    assert "env_file broken.py line 2" in error_of(folder, env_file="broken.py")
    (folder / "empty.py").write_text("X = 1\n")
    assert "empty.py defines neither env nor make_env" in error_of(folder, env_file="empty.py")


def test_policy_files_are_checked(folder: Path) -> None:
    (folder / "bad.py").write_text("def policy(:\n")
    text = error_of(folder, agents={0: "human", 1: PythonPolicy("bad.py")})
    assert "GymScene('game').agents[1]: file bad.py line 1" in text
    text = error_of(folder, agents={0: "human", 1: PythonPolicy("nope.py")})
    assert "agents[1]: file 'nope.py': no such file" in text
    text = error_of(folder, agents={0: "human", 1: PythonPolicy("partner.py", function="act")})
    assert "partner.py defines no function act(observation, agent_id)" in text
    with pytest.raises(StudyError, match="config must hold JSON values only"):
        PythonPolicy("partner.py", config={"f": object()})


def test_the_location_in_the_study_file_is_given(folder: Path) -> None:
    study = folder / "study.py"
    study.write_text(
        "from interactive_gym.study import *\n"
        "game = GymScene('game', env_file='env.py', agents={0: 'human'},\n"
        "                controls={'ArrowUp': 9})\n"
        "experiment = Experiment('e', scenes=[game, EndScene()])\n"
    )
    with pytest.raises(StudyError) as caught:
        load_study(study)
    assert f"{study}:4" in str(caught.value)  # checked against the env file when it is read
    assert "controls['ArrowUp'] is action 9, but the environment has 3 actions" in str(caught.value)


def test_responses_are_checked(folder: Path) -> None:
    scene = build(folder, episodes=2)
    ok = {"status": "completed", "episodes": 2, "error": None}
    assert scene.validate_response(ok, CTX) == ok
    failed = {"status": "error", "episodes": 1, "error": "ValueError: boom"}
    assert scene.validate_response(failed, CTX) == failed
    for bad, field in [
        ({}, "status"),
        ({"status": "completed", "episodes": 1}, "episodes"),
        ({"status": "error", "episodes": 3}, "episodes"),
        ({"status": "error", "episodes": 0, "error": 5}, "error"),
        ({"status": "error", "episodes": 0, "extra": 1}, ""),
    ]:
        with pytest.raises(ResponseError) as caught:
            scene.validate_response(bad, CTX)
        assert caught.value.field == field


@pytest.mark.parametrize(
    "name", ["demo_study", "physics_duel_study", "kitchen_study", "cartpole_study"]
)
def test_the_examples_load(name: str) -> None:
    experiment = load_study(EXAMPLES / f"{name}.py")
    games = [s for s in experiment.scenes_by_id.values() if isinstance(s, GymScene)]
    assert len(games) == 1
    options = games[0].to_client(ParticipantContext("p", experiment.experiment_id, 1))
    assert options["env"]["code"] and options["controls"]
