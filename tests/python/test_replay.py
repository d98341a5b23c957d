"""The server-side replay of recorded episodes (interactive_gym.replay).

Genuine records are made the way a participant's page makes them (``simulated_page.Page``:
the worker's own runtime package ``interactive_gym.runtime`` plays the environment tick by
tick with keys a simulated participant holds, recorded with the data keys of
``game/record.js``). Those verify; tampered copies do not, each with the reason naming the
first mismatch; what cannot be checked is None.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from simulated_page import SEED, Page

import interactive_gym
from interactive_gym.replay import (
    EpisodeVerdict,
    ParticipantVerdict,
    records_from_export,
    replay_participant,
    roll_up,
)
from interactive_gym.runtime import handler
from interactive_gym.study import GymScene, PythonPolicy, load_study

PACKAGE = Path(interactive_gym.__file__).resolve().parent
EXAMPLES = PACKAGE / "examples"


# -- scenes ----------------------------------------------------------------------------------


def example(study: str, scene_id: str, **changes: Any) -> GymScene:
    """A scene of an example study, loaded as the server loads it, with shorter settings."""
    scene = load_study(EXAMPLES / f"{study}.py").scene(scene_id)
    assert isinstance(scene, GymScene)
    for name, value in changes.items():
        setattr(scene, name, value)
    return scene


def duel() -> GymScene:
    return example("physics_duel_study", "duel", max_steps=400, episodes=2)


def kitchen() -> GymScene:
    return example("kitchen_study", "kitchen", max_steps=60, episodes=2)


def cartpole() -> GymScene:
    return example("cartpole_study", "cartpole", episodes=3)


def own_scene(tmp_path: Path, source: str, **options: Any) -> GymScene:
    """A GymScene of an environment written for the test."""
    (tmp_path / "env.py").write_text(source)
    options.setdefault("agents", {"player": "human"})
    options.setdefault("controls", {"ArrowLeft": 0, "ArrowRight": 1})
    scene = GymScene(options.pop("scene_id", "own"), env_file="env.py", **options)
    scene.load_files(tmp_path)
    return scene


COUNTER_ENV = '''
class Counter:
    """Reward: the action, plus how many episodes this instance has started before."""

    num_actions = 2

    def __init__(self, length):
        self.length = length
        self.started = -1

    def reset(self, seed=None, options=None):
        self.started += 1  # kept across episodes, as an env may
        self.t = 0
        return self.t, {}

    def step(self, action):
        self.t += 1
        return self.t, float(action + self.started), False, self.t >= self.length, {}


def make_env(length=5):
    return Counter(length)
'''


def replay(scene: GymScene, records: list[dict], **options: Any) -> ParticipantVerdict:
    options.setdefault("participant_seed", SEED)
    return replay_participant(scene, records, **options)


def only(verdict: ParticipantVerdict, verified: bool | None) -> EpisodeVerdict:
    """The one episode whose verdict is not True, checked to be ``verified``."""
    (odd,) = [e for e in verdict.episodes if e.verified is not True]
    assert odd.verified is verified, odd
    assert verdict.verified is verified or (verified is None and verdict.verified is True)
    return odd


# -- genuine records verify ----------------------------------------------------------------


@pytest.mark.parametrize("make", [duel, kitchen, cartpole], ids=lambda f: f.__name__)
def test_genuine_episodes_of_the_examples_verify(make: Callable[[], GymScene]) -> None:
    scene = make()
    records = Page(scene).play_all()
    verdict = replay(scene, records, check_policies=True)
    assert verdict.verified is True and verdict.reason is None, verdict
    assert [(e.episode, e.attempt) for e in verdict.episodes] == [
        (e, 1) for e in range(scene.episodes)
    ]
    assert all(e.verified is True and e.reason is None for e in verdict.episodes)
    steps = sum(r["kind"] == "step" for r in records)
    assert sum(e.steps for e in verdict.episodes) == steps > 10


def test_a_genuine_duel_scores_goals_and_verifies() -> None:
    """Episodes with non-zero rewards and an env-ended episode, not only empty ones."""
    scene = example("physics_duel_study", "duel", max_steps=None, episodes=1)
    scene.env_config = {"goals_to_win": 1, "max_steps": 1800}
    records = Page(scene, keys_seed=3).play_all()
    (summary,) = [r["data"] for r in records if r["kind"] == "episode"]
    assert summary["ended_by"] in ("terminated", "truncated")
    assert any(r["data"]["reward_1"] != 0 for r in records if r["kind"] == "step")
    assert replay(scene, records, check_policies=True).verified is True


def test_a_random_partner_is_checked_against_its_seeded_draws() -> None:
    scene = example("kitchen_study", "kitchen", max_steps=30, episodes=1)
    scene.agents = {"0": "human", "1": "random"}
    records = Page(scene).play_all()
    assert replay(scene, records).verified is True
    step = next(r for r in records if r["kind"] == "step" and r["step"] == 7)
    drawn = step["data"]["action_1"]
    step["data"]["action_1"] = (drawn + 1) % 6
    assert only(replay(scene, records), False).reason == (
        f"step 7: action_1 {(drawn + 1) % 6} recorded, but the random draw of agent 1 gives {drawn}"
    )


def test_episodes_of_one_page_share_one_env_and_a_reload_starts_another(
    tmp_path: Path,
) -> None:
    """An env that keeps state across resets replays as the pages played it."""
    scene = own_scene(tmp_path, COUNTER_ENV, episodes=3, env_config={"length": 4})
    first = Page(scene, attempt=1)
    records = first.play(0) + first.play(1, stop_after=2)  # reloaded during episode 1
    second = Page(scene, attempt=2)
    records += second.play_all(first=1)
    verdict = replay(scene, records)
    assert verdict.verified is True, verdict
    assert [(e.episode, e.attempt, e.steps) for e in verdict.episodes] == [
        (0, 1, 4),
        (1, 1, 2),
        (1, 2, 4),
        (2, 2, 4),
    ]
    # the second page's env started afresh: in episode 1 it pays the action, the first's one more
    bonus = {r["attempt"]: r["data"]["reward"] - r["data"]["action"] for r in steps_of(records, 1)}
    assert bonus == {1: 1.0, 2: 0.0}


def test_an_interrupted_run_needs_the_participant_seed() -> None:
    scene = kitchen()
    page = Page(scene)
    records = page.play(0) + page.play(1, stop_after=12)
    verdict = replay(scene, records, participant_seed=None)
    assert verdict.verified is True  # episode 0 is checked; the interrupted run is not
    assert only(verdict, None).reason == (
        "the episode's seed is unknown (no episode summary, and no participant seed)"
    )
    assert replay(scene, records).verified is True
    assert all(e.verified for e in replay(scene, records).episodes)


def test_an_env_module_replays_from_its_own_fresh_copy() -> None:
    from interactive_gym.examples.envs import cartpole as module

    scene = GymScene(
        "module_cartpole",
        env_module="interactive_gym.examples.envs.cartpole",
        agents={"player": "human"},
        controls={"ArrowLeft": 0, "ArrowRight": 1},
        episodes=2,
        record_observations=True,
    )
    records = Page(scene).play_all()
    before = dict(sys.modules)
    worker_env = handler.HOST.env
    assert replay(scene, records).verified is True
    assert sys.modules["interactive_gym.examples.envs.cartpole"] is module
    assert sys.modules.get("ig_env") is before.get("ig_env")
    assert handler.HOST.env is worker_env, "a replay builds its own host, never the worker's"


# -- tampered records are False, with the first mismatch named -------------------------------


def steps_of(records: list[dict], episode: int = 0) -> list[dict]:
    return [r for r in records if r["kind"] == "step" and r["episode"] == episode]


def summary_of(records: list[dict], episode: int = 0) -> dict:
    (summary,) = [r for r in records if r["kind"] == "episode" and r["episode"] == episode]
    return summary["data"]


@pytest.fixture(scope="module")
def genuine() -> dict[str, tuple[GymScene, list[dict]]]:
    scenes = {"kitchen": kitchen(), "cartpole": cartpole(), "duel": duel()}
    return {name: (scene, Page(scene).play_all()) for name, scene in scenes.items()}


def tampered(genuine: dict, name: str) -> tuple[GymScene, list[dict]]:
    scene, records = genuine[name]
    return scene, copy.deepcopy(records)


def test_a_changed_reward(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    data = steps_of(records)[17]["data"]
    real = data["reward_0"]
    data["reward_0"] = real + 1.0
    episode = only(replay(scene, records), False)
    assert episode.reason == f"step 17: reward_0 {real + 1.0!r} recorded, env gives {real!r}"
    assert (episode.status, episode.step, episode.nondeterministic) == ("differs", 17, False)
    scene, records = tampered(genuine, "cartpole")
    steps_of(records)[5]["data"]["reward"] = 1.5
    assert only(replay(scene, records), False).reason == (
        "step 5: reward 1.5 recorded, env gives 1.0"
    )


def test_rewards_agree_within_the_tolerance_only(genuine: dict) -> None:
    scene, records = tampered(genuine, "cartpole")
    steps_of(records)[3]["data"]["reward"] = 1.0 + 1e-12
    assert replay(scene, records).verified is True
    steps_of(records)[3]["data"]["reward"] = 1.001
    assert only(replay(scene, records), False).reason.startswith("step 3: reward 1.001 ")
    steps_of(records)[3]["data"]["reward"] = 10**400  # beyond any float: still just False
    assert only(replay(scene, records), False).reason.startswith("step 3: reward 1000")


def test_a_dropped_step(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    records.remove(steps_of(records)[20])
    last = scene.max_steps - 1
    assert only(replay(scene, records), False).reason == (
        f"step 20 is missing (steps 0 to {last} are recorded)"
    )
    scene, records = tampered(genuine, "kitchen")
    records.remove(steps_of(records)[-1])
    assert only(replay(scene, records), False).reason == (
        f"episode summary: length {scene.max_steps} recorded, {last} steps are recorded"
    )


def test_a_duplicated_step(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    records.append(copy.deepcopy(steps_of(records)[9]))
    assert only(replay(scene, records), False).reason == "step 9 is recorded 2 times"


def test_a_changed_human_action(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    data = next(r["data"] for r in steps_of(records) if r["data"]["keys"] == "ArrowUp")
    step = next(r["step"] for r in steps_of(records) if r["data"] is data)
    data["action_0"] = 5
    assert only(replay(scene, records), False).reason == (
        f"step {step}: action_0 5 recorded, but its keys 'ArrowUp' give 1"
    )
    scene, records = tampered(genuine, "kitchen")
    steps_of(records)[4]["data"]["action_0"] = 9
    assert only(replay(scene, records), False).reason == (
        "step 4: action_0 9 recorded, which no control gives"
    )


def test_a_changed_action_with_matching_keys_changes_what_the_env_gives(genuine: dict) -> None:
    scene, records = tampered(genuine, "cartpole")
    data = steps_of(records)[2]["data"]
    data["action"], data["keys"] = 1 - data["action"], "ArrowRight" if data["action"] == 0 else ""
    reason = only(replay(scene, records), False).reason
    assert reason.startswith("step 2: observation[1] "), reason
    assert "recorded, env gives" in reason


def test_a_changed_partner_action_against_its_policy(genuine: dict) -> None:
    scene, records = tampered(genuine, "duel")
    data = steps_of(records)[30]["data"]
    real = data["action_1"]
    data["action_1"] = (real + 4) % 9
    assert only(replay(scene, records, check_policies=True), False).reason == (
        f"step 30: action_1 {(real + 4) % 9} recorded, but the policy of agent 1 gives {real}"
    )


def test_termination_claimed_early(genuine: dict) -> None:
    scene, records = tampered(genuine, "cartpole")
    steps = steps_of(records)
    for record in steps[6:]:
        records.remove(record)
    steps[5]["data"]["terminated"] = True
    summary = summary_of(records)
    summary.update(length=6, terminated=True, truncated=False, ended_by="terminated")
    summary["return"] = 6.0
    assert only(replay(scene, records), False).reason == (
        "step 5: terminated True recorded, env gives False"
    )


def test_steps_after_the_env_ended(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    steps = steps_of(records)
    extra = copy.deepcopy(steps[-1])
    extra["step"] = len(steps)
    extra["data"].update(terminated=False, truncated=False)
    records.append(extra)
    summary_of(records)["length"] = len(steps) + 1
    last = len(steps) - 1
    assert only(replay(scene, records), False).reason == (
        f"step {last}: the episode ends here (max_steps), but 1 more step is recorded"
    )


def test_a_wrong_seed(genuine: dict) -> None:
    scene, records = tampered(genuine, "cartpole")
    summary = summary_of(records)
    real = summary["seed"]
    summary["seed"] = real + 1
    assert only(replay(scene, records), False).reason == (
        f"seed {real + 1} recorded, but the scene gives episode 0 seed {real}"
    )
    # Without the participant's seed the summary's seed is used: the replay then diverges.
    reason = only(replay(scene, records, participant_seed=None), False).reason
    assert reason.startswith("step 0: observation[0] "), reason


def test_an_inflated_score(genuine: dict) -> None:
    scene, records = tampered(genuine, "cartpole")
    summary = summary_of(records, 1)
    real = summary["return"]
    summary["return"] = 500
    assert only(replay(scene, records), False).reason == (
        f"episode summary: return 500 recorded, the steps give {real!r}"
    )
    scene, records = tampered(genuine, "duel")
    summary_of(records)["returns"]["0"] += 3
    real = summary_of(genuine["duel"][1])["returns"]["0"]
    assert only(replay(scene, records), False).reason == (
        f"episode summary: returns['0'] {real + 3!r} recorded, the steps give {real!r}"
    )


def test_a_wrong_ending(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    summary_of(records)["ended_by"] = "terminated"
    assert only(replay(scene, records), False).reason == (
        "episode summary: ended_by 'terminated' recorded, the steps give 'max_steps'"
    )


def test_an_episode_the_scene_does_not_have(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    for record in records:
        if record["episode"] == 1:
            record["episode"] = 2
    assert only(replay(scene, records), False).reason == ("episode 2 recorded, but the scene has 2")


def test_a_missing_action_column(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    del steps_of(records)[3]["data"]["action_1"]
    assert only(replay(scene, records), False).reason == "step 3: no action_1 recorded"


def test_an_observation_that_was_not_what_the_env_gave(genuine: dict) -> None:
    scene, records = tampered(genuine, "cartpole")
    observation = steps_of(records, 2)[4]["data"]["observation"]
    observation[2] += 0.01
    reason = only(replay(scene, records), False).reason
    assert reason.startswith(f"step 4: observation[2] {observation[2]!r} recorded, env gives ")


# -- what cannot be checked is None ----------------------------------------------------------

RAISING_ENV = """
class Env:
    num_actions = 2

    def reset(self, seed=None, options=None):
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        if self.t == 4:
            raise ValueError("the cart fell off the table")
        return self.t, 1.0, False, self.t >= 6, {}


env = Env()
"""

PLAIN_ENV = RAISING_ENV.replace("self.t == 4", "self.t == -1")


def test_an_env_that_raises_during_the_replay_is_not_checked(tmp_path: Path) -> None:
    scene = own_scene(tmp_path, PLAIN_ENV, episodes=2)
    records = Page(scene).play_all()
    assert replay(scene, records).verified is True
    broken = own_scene(tmp_path, RAISING_ENV, episodes=2)
    verdict = replay(broken, records)
    assert verdict.verified is None
    assert [e.reason for e in verdict.episodes] == [
        "step 3: the environment raised ValueError: the cart fell off the table"
    ] * 2
    assert verdict.reason == (
        "nothing could be checked: own episode 0 attempt 1: step 3: the environment raised "
        "ValueError: the cart fell off the table"
    )


def test_an_env_that_cannot_be_built_here_is_not_checked(tmp_path: Path) -> None:
    scene = own_scene(tmp_path, PLAIN_ENV, episodes=1)
    records = Page(scene).play_all()
    missing = own_scene(tmp_path, "import not_installed_here\n" + PLAIN_ENV)
    (episode,) = replay(missing, records).episodes
    assert episode.verified is None
    assert episode.reason == (
        "the game cannot be built here: ModuleNotFoundError: No module named 'not_installed_here'"
    )
    module = GymScene(
        "own",
        env_module="not_installed_pkg.env",
        packages=["not_installed_pkg"],
        agents={"player": "human"},
        controls={"ArrowLeft": 0, "ArrowRight": 1},
    )
    (episode,) = replay(module, records).episodes
    assert episode.verified is None
    assert episode.reason == (
        "the game cannot be built here: ModuleNotFoundError: No module named "
        "'not_installed_pkg' (the scene's packages ['not_installed_pkg'] are installed in the "
        "browser, not here)"
    )


def test_records_that_disagree_with_themselves_are_false_even_without_an_env(
    tmp_path: Path,
) -> None:
    scene = own_scene(tmp_path, PLAIN_ENV, episodes=1)
    records = Page(scene).play_all()
    summary_of(records)["return"] = 99
    missing = own_scene(tmp_path, "import not_installed_here\n" + PLAIN_ENV)
    assert only(replay(missing, records), False).reason == (
        "episode summary: return 99 recorded, the steps give 6.0"
    )


def test_an_env_that_is_not_deterministic_is_not_accused(tmp_path: Path) -> None:
    source = PLAIN_ENV.replace("return self.t, 1.0,", "return self.t, random.random(),")
    scene = own_scene(tmp_path, "import random\n" + source, episodes=1)
    records = Page(scene).play_all()
    verdict = replay(scene, records)
    episode = only(verdict, None)
    assert episode.status == "nondeterministic"
    assert episode.nondeterministic and episode.step == 0
    assert episode.reason.startswith(
        "the environment is not deterministic: two replays of the same seed and actions differ "
        "at step 0 (reward: "
    ), episode.reason
    assert "(against the records: step 0: reward " in episode.reason


def test_the_first_step_where_two_replays_differ_is_named(tmp_path: Path) -> None:
    # the observation (not recorded) drifts from the third step on, the reward only at the
    # last: the records differ at step 5, but the env stopped being deterministic at step 2
    source = PLAIN_ENV.replace(
        "return self.t, 1.0,",
        "self.drift = getattr(self, 'drift', 0) + (random.random() if self.t >= 3 else 0)\n"
        "        return [self.t, self.drift], (1.0 if self.t < 6 else self.drift),",
    )
    scene = own_scene(tmp_path, "import random\n" + source, episodes=1)
    records = Page(scene).play_all()
    episode = only(replay(scene, records), None)
    assert episode.status == "nondeterministic", episode.reason
    assert episode.step == 2
    assert "(against the records: step 5: reward " in episode.reason
    assert episode.reason.startswith(
        "the environment is not deterministic: two replays of the same seed and actions differ "
        "at step 2 (observation[1]: "
    ), episode.reason


def test_the_step_and_time_limits(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    verdict = replay(scene, records, step_limit=scene.max_steps + 10)
    first, second = verdict.episodes
    assert first.verified is True
    assert second.verified is None
    assert second.reason == (
        "not checked from step 10 on: the replay stopped at its limit of 70 steps"
    )
    assert verdict.verified is True  # one episode checked, none implausible
    verdict = replay(scene, records, time_limit_s=0)
    assert verdict.verified is None
    assert verdict.episodes[1].reason == (
        "not replayed: the replay stopped at its time limit of 0 s"
    )


def test_nothing_recorded_is_none() -> None:
    verdict = replay(kitchen(), [])
    assert verdict == ParticipantVerdict(None, "no game episodes recorded", ())


def test_odd_records_never_raise(genuine: dict) -> None:
    scene, records = tampered(genuine, "kitchen")
    odd = [
        {"kind": "survey", "scene_id": "feedback", "data": {"x": 1}},
        {"kind": "step", "scene_id": "another_game", "episode": 0, "step": 0, "data": {}},
        {"kind": "step", "scene_id": "kitchen", "episode": None, "step": 0, "data": {}},
        {"kind": "event", "scene_id": "kitchen", "data": None},
    ]
    assert replay(scene, records + odd).verified is True
    broken = records + [
        {"kind": "step", "scene_id": "kitchen", "episode": 5, "attempt": 1, "step": "x"},
        {"kind": "episode", "scene_id": "kitchen", "episode": 6, "attempt": 1, "data": None},
        {"kind": "step", "scene_id": "kitchen", "episode": 0, "attempt": 3, "step": 0},
    ]
    verdict = replay(scene, broken)
    assert verdict.verified is False
    reasons = {(e.episode, e.attempt): e.reason for e in verdict.episodes}
    assert reasons[(5, 1)] == "episode 5 recorded, but the scene has 2"
    assert reasons[(0, 3)] == "step 0: action_0 nothing recorded, which no control gives"


def test_roll_up() -> None:
    def v(verified: bool | None) -> EpisodeVerdict:
        return EpisodeVerdict("game", 0, 1, verified)

    assert roll_up([]) is None
    assert roll_up([v(None), v(None)]) is None
    assert roll_up([v(True), v(None)]) is True
    assert roll_up([v(True), v(False), v(None)]) is False


def test_several_scenes_at_once(genuine: dict, tmp_path: Path) -> None:
    kitchen_scene, kitchen_records = tampered(genuine, "kitchen")
    cart_scene, cart_records = tampered(genuine, "cartpole")
    steps_of(cart_records, 1)[2]["data"]["reward"] = 0.0
    verdict = replay_participant(
        [kitchen_scene, cart_scene], kitchen_records + cart_records, participant_seed=SEED
    )
    assert verdict.verified is False
    assert verdict.reason == (
        "cartpole episode 1 attempt 1: step 2: reward 0.0 recorded, env gives 1.0"
    )
    assert [e.scene_id for e in verdict.episodes] == ["kitchen"] * 2 + ["cartpole"] * 3


def test_records_from_export_rows_replay_like_stored_records(genuine: dict) -> None:
    """The export flattens ``data`` into columns (interactive_gym.data.tables); back again."""
    from interactive_gym.data.tables import EPISODE_COLUMNS, STEP_COLUMNS, flatten

    scene, records = tampered(genuine, "duel")
    for record in records:
        record["participant_id"] = "p1"
    step_rows = [
        {**{k: r[k] for k in STEP_COLUMNS}, **flatten(STEP_COLUMNS, r["data"])}
        for r in records
        if r["kind"] == "step"
    ]
    episode_rows = [
        {**{k: r.get(k) for k in EPISODE_COLUMNS}, **flatten(EPISODE_COLUMNS, r["data"])}
        for r in records
        if r["kind"] == "episode"
    ]
    back = records_from_export(step_rows, episode_rows)
    assert sorted(json.dumps(r, sort_keys=True) for r in back) == sorted(
        json.dumps(r, sort_keys=True) for r in records
    )
    assert replay(scene, back, check_policies=True).verified is True


def test_python_policies_are_taken_as_recorded_unless_checked(genuine: dict) -> None:
    scene, records = tampered(genuine, "duel")
    assert isinstance(scene.agents["1"], PythonPolicy)
    data = steps_of(records)[30]["data"]
    data["action_1"] = (data["action_1"] + 4) % 9
    # Unchecked, the env is stepped with the changed action: here the game then goes another
    # way, and a later reward no longer matches.
    reason = only(replay(scene, records), False).reason
    match = re.fullmatch(r"step (\d+): reward_\d \S+ recorded, env gives \S+", reason)
    assert match and int(match[1]) > 30, reason
    # Checked, the action itself is the first mismatch.
    assert only(replay(scene, records, check_policies=True), False).reason.startswith(
        "step 30: action_1 "
    )


def test_replays_in_threads_at_once_keep_to_their_own_env(genuine: dict) -> None:
    """The server replays in threads: each replay builds its own env, none leaks globally."""
    import linecache
    from concurrent.futures import ThreadPoolExecutor

    jobs = []
    for name in ("kitchen", "cartpole", "duel") * 2:
        scene, records = tampered(genuine, name)
        jobs.append((scene, records))
    scene, records = tampered(genuine, "cartpole")
    steps_of(records, 2)[1]["data"]["reward"] = 3.0
    jobs.append((scene, records))
    before_env = sys.modules.get("ig_env")
    before_lines = {k: linecache.cache.get(k) for k in ("kitchen.py", "cartpole.py")}
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda job: replay(*job, check_policies=True), jobs))
    assert [v.verified for v in verdicts] == [True] * 6 + [False]
    assert verdicts[-1].reason == (
        "cartpole episode 2 attempt 1: step 1: reward 3.0 recorded, env gives 1.0"
    )
    assert sys.modules.get("ig_env") is before_env
    assert {k: linecache.cache.get(k) for k in before_lines} == before_lines


def test_an_unexpected_argument_gives_a_verdict_not_an_exception() -> None:
    verdict = replay_participant(kitchen(), 42)  # type: ignore[arg-type]
    assert verdict.verified is None
    assert verdict.reason == "the replay failed: TypeError: 'int' object is not iterable"
