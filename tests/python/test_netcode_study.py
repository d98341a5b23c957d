"""The study side of group games in the browser: GymScene's netcode options, checked at load,
and what the page is told (``client_options``) and may upload (``record_kinds``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interactive_gym.study import (
    EndScene,
    Experiment,
    GymScene,
    OnnxPolicy,
    ParticipantContext,
    StudyError,
    WaitingRoom,
)

GATHER = Path(__file__).parents[2] / "interactive_gym" / "examples" / "envs" / "gather.py"


def game(humans: int = 2, runtime: str = "browser", **options: Any) -> GymScene:
    agents: dict[int, Any] = {i: "human" for i in range(humans)}
    settings: dict[str, Any] = {
        "runtime": runtime,
        "env_file": str(GATHER),
        "agents": agents,
        "controls": {"ArrowUp": 1, "ArrowDown": 2},
    }
    settings.update(options)
    return GymScene("game", **settings)


def error_of(**options: Any) -> str:
    with pytest.raises(StudyError) as caught:
        game(**options)
    return str(caught.value)


def test_a_browser_group_game_defaults_to_rollback() -> None:
    scene = game()
    assert scene.is_group and scene.runtime == "browser"
    assert tuple(scene.net) == ("rollback", 2, 8, 5)
    assert scene.netcode == "rollback"
    assert scene.record_kinds == frozenset({"event", "input"})


def test_lockstep_never_predicts() -> None:
    scene = game(netcode="lockstep", input_delay_frames=3, hash_every_frames=10)
    assert tuple(scene.net) == ("lockstep", 3, 0, 10)
    text = error_of(netcode="lockstep", max_prediction_frames=4)
    assert "max_prediction_frames applies to netcode='rollback' only" in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"netcode": "gossip"}, "netcode must be 'rollback' or 'lockstep', got str 'gossip'"),
        ({"input_delay_frames": 11}, "input_delay_frames"),
        ({"input_delay_frames": -1}, "input_delay_frames"),
        ({"max_prediction_frames": 0}, "max_prediction_frames"),
        ({"hash_every_frames": 0}, "hash_every_frames"),
        ({"humans": 1, "netcode": "rollback"}, "fewer than 2 'human' agents"),
        (
            {"runtime": "server", "input_delay_frames": 2},
            "input_delay_frames applies to group games in the browser only; this one runs on",
        ),
    ],
)
def test_bad_netcode_options_name_the_field(options: dict[str, Any], message: str) -> None:
    text = error_of(**options)
    assert text.startswith("GymScene('game'): ")
    assert message in text


def test_onnx_agents_cannot_play_a_browser_group_game(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    text = error_of(agents={0: "human", 1: "human", 2: OnnxPolicy(str(model))})
    assert "agents['2'] is an OnnxPolicy" in text
    assert "PythonPolicy or 'random'" in text


def test_the_page_gets_the_netcode_and_the_env() -> None:
    experiment = Experiment(
        "e",
        scenes=[WaitingRoom("lobby"), game(input_delay_frames=1), EndScene()],
        base_dir=Path.cwd(),
    )
    scene = experiment.scene("game")
    ctx = ParticipantContext("p1", "e", seed=7, condition=None, url_params={})
    options = scene.client_options(ctx)
    assert options["runtime"] == "browser" and options["group"] is True
    assert options["env"]["code"] == GATHER.read_text()
    assert (options["netcode"], options["input_delay_frames"]) == ("rollback", 1)
    assert (options["max_prediction_frames"], options["hash_every_frames"]) == (8, 5)
    assert options["humans"] == ["0", "1"]
    assert options["reconnect_s"] == 20.0  # how long the others wait for a member
    solo = GymScene("solo", env_file=str(GATHER), agents={0: "human"}, controls={"ArrowUp": 1})
    Experiment("s", scenes=[solo, EndScene()], base_dir=Path.cwd())
    assert "netcode" not in solo.client_options(ctx)
    assert solo.record_kinds == frozenset({"step", "episode", "event"})
