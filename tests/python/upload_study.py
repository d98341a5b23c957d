"""A small study with one game scene, for the tests of the upload path.

Participants made with :func:`add_participant` are at the game scene, so the step records of
``step(n)`` are what their progress allows.
"""

from __future__ import annotations

from interactive_gym.data import Store
from interactive_gym.examples import envs
from interactive_gym.study import EndScene, Experiment, GymScene

EXPERIMENT_ID = "exp"


def experiment(episodes: int = 2, scene_id: str = "game") -> Experiment:
    game = GymScene(
        scene_id,
        env_file="physics_duel.py",
        agents={0: "human", 1: "random"},
        controls={"ArrowUp": 1, "ArrowDown": 2},
        num_actions=9,
        episodes=episodes,
    )
    return Experiment(EXPERIMENT_ID, scenes=[game, EndScene()], base_dir=envs.__path__[0], seed=1)


def add_participant(store: Store, participant_id: str, scene_id: str = "game") -> str:
    store.create_participant(
        participant_id,
        EXPERIMENT_ID,
        condition=None,
        url_params={},
        seed=1,
        scene_order=[scene_id, "end"],
    )
    return participant_id


def step(n: int, scene: str = "game", episode: int = 0) -> dict:
    return {
        "kind": "step",
        "scene_id": scene,
        "episode": episode,
        "step": n,
        "t": n,
        "data": {"a": n},
    }
