"""The example environments and policies: API shapes, determinism, state round trips, drawing."""

from __future__ import annotations

import ast
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from interactive_gym.draw import validate_draw_list
from interactive_gym.examples.envs import cartpole, kitchen, physics_duel
from interactive_gym.examples.policies import kitchen_partner, physics_duel_tracker

EXAMPLES = Path(physics_duel.__file__).resolve().parent.parent
MULTI_AGENT = [
    pytest.param(physics_duel, 9, id="physics_duel"),
    pytest.param(kitchen, 6, id="kitchen"),
]


def random_actions(n_actions: int, seed: int) -> list[dict[int, int]]:
    rng = random.Random(seed)
    return [{0: rng.randrange(n_actions), 1: rng.randrange(n_actions)} for _ in range(400)]


def play(env: Any, actions: list[Any]) -> list[Any]:
    """Step through actions (stopping at the episode end); JSON of every result."""
    out = []
    for action in actions:
        result = env.step(action)
        out.append(json.dumps(result, sort_keys=False, default=str))
        terminated, truncated = result[2], result[3]
        done = (
            terminated["__all__"] or truncated["__all__"]
            if isinstance(terminated, dict)
            else (terminated or truncated)
        )
        if done:
            break
    return out


@pytest.mark.parametrize(("module", "n_actions"), MULTI_AGENT)
def test_multi_agent_api_shapes(module: Any, n_actions: int) -> None:
    env = module.make_env()
    assert env.possible_agents == [0, 1]
    assert env.num_actions == n_actions
    observations, infos = env.reset(seed=3)
    assert set(observations) == {0, 1} and set(infos) == {0, 1}
    obs, rewards, terminated, truncated, infos = env.step({0: 0, 1: n_actions - 1})
    assert set(obs) == {0, 1} and set(rewards) == {0, 1} and set(infos) == {0, 1}
    assert set(terminated) == {0, 1, "__all__"} and set(truncated) == {0, 1, "__all__"}
    assert all(isinstance(r, float) for r in rewards.values())
    assert all(isinstance(v, bool) for v in [*terminated.values(), *truncated.values()])
    json.dumps(obs)  # observations are JSON-safe
    json.dumps(infos)


@pytest.mark.parametrize(("module", "n_actions"), MULTI_AGENT)
def test_multi_agent_actions_are_checked_by_agent(module: Any, n_actions: int) -> None:
    env = module.make_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="agent 1"):
        env.step({0: 0, 1: n_actions})
    with pytest.raises(ValueError, match="agent 1"):
        env.step({0: 0})
    with pytest.raises(ValueError, match="agent 0"):
        env.step({0: "left", 1: 0})
    env.step({"0": 1, "1": 2})  # string keys, as they arrive from JSON, are accepted


@pytest.mark.parametrize(("module", "n_actions"), MULTI_AGENT)
def test_multi_agent_same_seed_same_episode(module: Any, n_actions: int) -> None:
    actions = random_actions(n_actions, 7)
    runs = []
    for seed in (11, 11, 12):
        env = module.make_env()
        runs.append((json.dumps(env.reset(seed=seed)), play(env, actions)))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.parametrize(("module", "n_actions"), MULTI_AGENT)
def test_multi_agent_state_round_trip_continues_identically(module: Any, n_actions: int) -> None:
    actions = random_actions(n_actions, 5)
    env = module.make_env()
    env.reset(seed=4)
    play(env, actions[:150])
    state = json.loads(json.dumps(env.get_state()))
    restored = module.make_env()
    restored.reset(seed=999)
    restored.set_state(state)
    assert play(env, actions[150:]) == play(restored, actions[150:])
    assert env.get_state() == restored.get_state()


@pytest.mark.parametrize(("module", "n_actions"), MULTI_AGENT)
def test_multi_agent_state_from_other_config_is_refused(module: Any, n_actions: int) -> None:
    env = module.make_env(max_steps=50)
    env.reset(seed=0)
    other = module.make_env(max_steps=60)
    with pytest.raises(ValueError, match="config"):
        other.set_state(env.get_state())
    with pytest.raises(ValueError, match="state"):
        other.set_state({"something": "else"})


@pytest.mark.parametrize(("module", "n_actions"), MULTI_AGENT)
def test_multi_agent_truncates_at_max_steps_and_refuses_more(module: Any, n_actions: int) -> None:
    env = module.make_env(max_steps=5)
    env.reset(seed=0)
    for _ in range(4):
        *_, terminated, truncated, _ = env.step({0: 0, 1: 0})
        assert not truncated["__all__"]
    *_, terminated, truncated, _ = env.step({0: 0, 1: 0})
    assert truncated == {0: True, 1: True, "__all__": True}
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({0: 0, 1: 0})


@pytest.mark.parametrize(
    "module", [physics_duel, kitchen, cartpole], ids=["physics_duel", "kitchen", "cartpole"]
)
def test_render_is_a_valid_draw_list_with_permanent_scenery_once(module: Any) -> None:
    env = module.make_env()
    env.reset(seed=2)
    first = env.render()
    assert validate_draw_list(first) == []
    assert any(obj.get("permanent") for obj in first)
    action = {0: 1, 1: 2} if hasattr(env, "possible_agents") else 1
    env.step(action)
    second = env.render()
    assert validate_draw_list(second) == []
    assert not any(obj.get("permanent") for obj in second)
    assert {o["id"] for o in second} < {o["id"] for o in first}  # same ids, updated in place
    env.reset(seed=2)
    assert any(obj.get("permanent") for obj in env.render())  # a new episode resends them


def test_physics_duel_has_about_twenty_objects_and_scores_goals() -> None:
    env = physics_duel.make_env()
    env.reset(seed=0)
    assert 18 <= len(env.render()) <= 30
    goals = 0
    for action in random_actions(9, 1) * 5:
        _, rewards, terminated, truncated, infos = env.step(action)
        assert rewards[0] == -rewards[1]
        goals += rewards[0] != 0
        if terminated["__all__"] or truncated["__all__"]:
            break
    assert goals == sum(infos[0]["score"]) > 0


def test_physics_duel_episode_ends_when_a_player_wins() -> None:
    env = physics_duel.make_env(goals_to_win=1, max_steps=5000)
    obs, _ = env.reset(seed=3)
    for _ in range(5000):
        action = {0: physics_duel_tracker.policy(obs[0], 0), 1: 0}
        obs, _, terminated, truncated, infos = env.step(action)
        if terminated["__all__"]:
            break
    assert terminated == {0: True, 1: True, "__all__": True} and not truncated["__all__"]
    assert max(infos[0]["score"]) == 1


def test_physics_duel_tracker_beats_a_random_opponent() -> None:
    env = physics_duel.make_env()
    totals = [0, 0]
    for seed in range(6):
        rng = random.Random(seed)
        obs, _ = env.reset(seed=seed)
        while True:
            actions = {0: physics_duel_tracker.policy(obs[0], 0), 1: rng.randrange(9)}
            obs, _, terminated, truncated, infos = env.step(actions)
            if terminated["__all__"] or truncated["__all__"]:
                break
        totals[0] += infos[0]["score"][0]
        totals[1] += infos[0]["score"][1]
    assert totals[0] > 3 * totals[1]


def test_physics_duel_tracker_plays_either_side() -> None:
    obs, _ = physics_duel.make_env().reset(seed=0)
    assert all(0 <= physics_duel_tracker.policy(obs[a], a) < 9 for a in (0, 1))
    # with the puck in agent 1's half and agent 1 behind it, it pushes left (towards goal 0)
    observation = [0.9, 0.5, 0, 0, 0.1, 0.5, 0, 0, 0.7, 0.5, 0, 0]
    assert physics_duel_tracker.policy(observation, 1) == 3


def test_kitchen_partner_alone_delivers_orders() -> None:
    env = kitchen.make_env(max_steps=600)
    obs, _ = env.reset(seed=0)
    total = 0.0
    for _ in range(600):
        obs, rewards, _, truncated, infos = env.step({0: 0, 1: kitchen_partner.policy(obs[1], 1)})
        total += rewards[1]
        if truncated["__all__"]:
            break
    assert infos[1]["delivered"] >= 2
    assert total == infos[1]["score"] == infos[1]["delivered"] * env.order_reward


def test_kitchen_two_partners_do_not_deadlock() -> None:
    env = kitchen.make_env(max_steps=600)
    obs, _ = env.reset(seed=3)
    for _ in range(600):
        actions = {a: kitchen_partner.policy(obs[a], a) for a in (0, 1)}
        obs, _, _, truncated, infos = env.step(actions)
    assert truncated["__all__"]
    assert infos[0]["delivered"] >= 4


def test_kitchen_rules_fill_cook_plate_serve() -> None:
    env = kitchen.make_env(cook_time=3)
    env.reset(seed=0)

    def hold(item: str | None, cell: tuple[int, int] = (3, 1), facing: int = 0) -> None:
        state = env.get_state()
        state["cooks"][0] = [*cell, facing, item]  # (3, 1) facing up is the pot at (3, 0)
        state["orders"][0] = ["onion", "onion", "onion"]
        env.set_state(state)

    for _ in range(3):
        hold("onion")
        obs, *_ = env.step({0: 5, 1: 0})
        assert obs[0]["self"]["holding"] is None
    # full after the third onion: cooking starts (and ticks once at the end of that step)
    assert obs[0]["pots"][0] == {"pos": [3, 0], "ingredients": ["onion"] * 3, "cook_left": 2}
    hold("dish")
    obs, *_ = env.step({0: 5, 1: 0})  # not ready yet: the dish stays in hand
    assert obs[0]["self"]["holding"] == "dish" and obs[0]["pots"][0]["cook_left"] == 1
    obs, *_ = env.step({0: 5, 1: 0})
    assert obs[0]["pots"][0]["cook_left"] == 0
    obs, *_ = env.step({0: 5, 1: 0})
    assert obs[0]["self"]["holding"] == "soup:onion+onion+onion"
    assert obs[0]["pots"][0] == {"pos": [3, 0], "ingredients": [], "cook_left": -1}
    other_order = obs[0]["orders"][1]
    hold("soup:onion+onion+onion", cell=(3, 3), facing=1)  # facing down: window at (3, 4)
    obs, rewards, *_, infos = env.step({0: 5, 1: 0})
    assert rewards == {0: 20.0, 1: 20.0} and infos[0]["delivered"] == 1
    assert obs[0]["self"]["holding"] is None
    assert obs[0]["orders"][1] == other_order  # only the served order is replaced
    hold("soup:tomato+tomato+tomato", cell=(3, 3), facing=1)
    state = env.get_state()
    state["orders"] = [["onion", "onion", "tomato"], ["onion", "onion", "onion"]]
    env.set_state(state)
    obs, rewards, *_, infos = env.step({0: 5, 1: 0})  # a soup nobody ordered earns nothing
    assert rewards == {0: 0.0, 1: 0.0} and infos[0]["delivered"] == 1


def test_kitchen_counters_hold_one_item_each() -> None:
    env = kitchen.make_env()
    env.reset(seed=0)
    state = env.get_state()
    state["cooks"][0] = [2, 2, 3, "tomato"]  # facing right at the counter (3, 2)
    env.set_state(state)
    obs, *_ = env.step({0: 5, 1: 0})
    assert obs[0]["counters"] == {"3,2": "tomato"} and obs[0]["self"]["holding"] is None
    state = env.get_state()
    state["cooks"][0][3] = "onion"
    env.set_state(state)
    obs, *_ = env.step({0: 5, 1: 0})  # taken: the onion stays in hand
    assert obs[0]["counters"] == {"3,2": "tomato"} and obs[0]["self"]["holding"] == "onion"


def test_kitchen_cooks_never_share_a_cell() -> None:
    env = kitchen.make_env(max_steps=2000)
    env.reset(seed=0)
    for actions in random_actions(5, 3) * 3:
        obs, *_ = env.step(actions)
        assert obs[0]["self"]["pos"] != obs[0]["other"]["pos"]
        for cook in (obs[0]["self"], obs[0]["other"]):
            assert kitchen.LAYOUT[cook["pos"][1]][cook["pos"][0]] == " "


def test_cartpole_single_agent_api() -> None:
    env = cartpole.make_env()
    assert not hasattr(env, "possible_agents")
    observation, info = env.reset(seed=0)
    assert len(observation) == 4 and all(abs(v) < 0.05 for v in observation)
    observation, reward, terminated, truncated, info = env.step(1)
    assert reward == 1.0 and terminated is False and truncated is False and info == {"t": 1}
    with pytest.raises(ValueError, match="action"):
        env.step(2)
    with pytest.raises(ValueError, match="action"):
        env.step({0: 1})


def test_cartpole_falls_when_pushed_one_way_and_balances_with_feedback() -> None:
    env = cartpole.make_env()
    observation, _ = env.reset(seed=0)
    steps = 0
    terminated = truncated = False
    while not (terminated or truncated):
        observation, _, terminated, truncated, _ = env.step(1)
        steps += 1
    assert terminated and steps < 30
    observation, _ = env.reset(seed=0)
    for _ in range(500):
        action = 1 if observation[2] + 0.5 * observation[3] > 0 else 0
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    assert truncated and not terminated


def test_cartpole_determinism_and_state_round_trip() -> None:
    actions = [random.Random(1).randrange(2) for _ in range(300)]
    a, b = cartpole.make_env(), cartpole.make_env()
    assert a.reset(seed=5) == b.reset(seed=5)
    assert a.reset(seed=5) != b.reset(seed=6)
    a.reset(seed=5)
    play(a, actions[:5])
    b.set_state(json.loads(json.dumps(a.get_state())))
    assert play(a, actions[5:]) == play(b, actions[5:])


def test_cartpole_sine_and_cosine_match_math() -> None:
    for i in range(-700, 700):
        angle = i / 37
        s, c = cartpole.sin_cos(angle)
        assert math.isclose(s, math.sin(angle), abs_tol=1e-14)
        assert math.isclose(c, math.cos(angle), abs_tol=1e-14)


def test_examples_use_only_the_standard_library() -> None:
    allowed = {"__future__", "collections", "math", "random", "typing"}
    for path in [*EXAMPLES.glob("envs/*.py"), *EXAMPLES.glob("policies/*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert {n.split(".")[0] for n in names} <= allowed, (path.name, names)
