"""Episodes recorded by a real participant page (headless Chromium, Pyodide) replay as True.

A study with the three example games and a kitchen with a ``"random"`` partner is played to the
end by the bot; the stored records (read from the export, and straight from the database) are
replayed in CPython, with the participant's seed and the Python partners' policies checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from game_study import play_to_the_end, rows_of
from playwright.sync_api import Browser, sync_playwright

import interactive_gym
from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.data.store import Store
from interactive_gym.replay import records_from_export, replay_participant
from interactive_gym.study import GymScene, load_study

pytestmark = pytest.mark.browser

EXAMPLES = Path(interactive_gym.__file__).resolve().parent / "examples"
KITCHEN_CONTROLS = {"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4, "Space": 5}
STUDY = f"""
from interactive_gym.study import EndScene, Experiment, GymScene, PythonPolicy

SHORT = dict(countdown_s=0, pause_after_episode_s=0.2)
KITCHEN_CONTROLS = {KITCHEN_CONTROLS!r}
TRACKER = PythonPolicy("policies/physics_duel_tracker.py", config={{"speed": 0.8}})

duel = GymScene(
    "duel",
    env_file="envs/physics_duel.py",
    env_config={{"goals_to_win": 3, "max_steps": 1800}},
    agents={{0: "human", 1: TRACKER}},
    controls={{"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4,
               "ArrowUp+ArrowLeft": 5, "ArrowDown+ArrowRight": 8}},
    num_actions=9,
    fps=30,
    max_steps=150,
    **SHORT,
)
kitchen = GymScene(
    "kitchen",
    env_file="envs/kitchen.py",
    env_config={{"max_steps": 480, "cook_time": 40}},
    agents={{0: "human", 1: PythonPolicy("policies/kitchen_partner.py")}},
    controls=KITCHEN_CONTROLS,
    fps=15,
    episodes=2,
    max_steps=45,
    **SHORT,
)
cartpole = GymScene(
    "cartpole",
    env_file="envs/cartpole.py",
    agents={{"player": "human"}},
    controls={{"ArrowLeft": 0, "ArrowRight": 1, "a": 0, "d": 1}},
    fps=50,
    episodes=2,
    max_steps=80,
    record_observations=True,
    **SHORT,
)
kitchen_random = GymScene(
    "kitchen_random",
    env_file="envs/kitchen.py",
    env_config={{"max_steps": 480}},
    agents={{0: "human", 1: "random"}},
    controls=KITCHEN_CONTROLS,
    fps=20,
    max_steps=40,
    **SHORT,
)

experiment = Experiment(
    "replays",
    scenes=[duel, kitchen, cartpole, kitchen_random, EndScene()],
    seed=31,
    base_dir={str(EXAMPLES)!r},
)
"""
SCENES = ("duel", "kitchen", "cartpole", "kitchen_random")
PID = "replay1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_every_episode_a_real_page_recorded_replays_as_recorded(
    browser: Browser, tmp_path: Path
) -> None:
    tables = play_to_the_end(
        browser, tmp_path, STUDY, f"bot=random&bot_pause_ms=40&PROLIFIC_PID={PID}"
    )
    experiment = load_study(tmp_path / "study.py")
    scenes = [experiment.scene(s) for s in SCENES]
    assert all(isinstance(s, GymScene) for s in scenes)
    (participant,) = rows_of(tables, "participants", PID)
    assert participant["status"] == "completed"
    seed = participant["seed"]
    assert seed == experiment.participant_seed(PID)

    episodes = rows_of(tables, "episodes", PID)
    steps = [row for s in SCENES for row in rows_of(tables, f"steps_{s}", PID)]
    assert len(episodes) == 6 and len(steps) > 150
    assert any(row["keys"] for row in steps), "the bot pressed keys"

    records = records_from_export(steps, episodes)
    verdict = replay_participant(scenes, records, participant_seed=seed, check_policies=True)
    assert verdict.verified is True, verdict.reason
    got = [(e.scene_id, e.episode, e.attempt, e.verified, e.reason) for e in verdict.episodes]
    assert got == [
        ("duel", 0, 1, True, None),
        ("kitchen", 0, 1, True, None),
        ("kitchen", 1, 1, True, None),
        ("cartpole", 0, 1, True, None),
        ("cartpole", 1, 1, True, None),
        ("kitchen_random", 0, 1, True, None),
    ]
    assert sum(e.steps for e in verdict.episodes) == len(steps)

    # The records as the server holds them give the same verdicts.
    store = Store(f"sqlite:///{tmp_path / 'study.db'}")
    try:
        stored = store.records(PID)
    finally:
        store.close()
    again = replay_participant(scenes, stored, participant_seed=seed, check_policies=True)
    assert again == verdict

    # and a step the page did not record is caught.
    changed = [dict(r, data=dict(r["data"])) for r in stored]
    step = next(r for r in changed if r["kind"] == "step" and r["scene_id"] == "kitchen_random")
    step["data"]["action_1"] = (step["data"]["action_1"] + 1) % 6
    tampered = replay_participant(scenes, changed, participant_seed=seed)
    assert tampered.verified is False
    assert tampered.reason.startswith("kitchen_random episode 0 attempt 1: step 0: action_1 ")
