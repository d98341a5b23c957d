"""Rollback netcode in the worker (interactive_gym/runtime/netcode.py) in CPython.

Real envs (the gather example, small envs written here) on a real EnvHost and GameHost; the
operations go through ``handler.handle`` as the Pyodide worker calls them. Two workers of one
group game are two EnvHost/GameHost pairs built from the same source.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from interactive_gym.examples.envs import gather
from interactive_gym.runtime import game_host, handler, net_state, netcode
from interactive_gym.runtime.env_host import EnvHost, OperationError
from interactive_gym.runtime.game_host import GameHost
from interactive_gym.runtime.netcode import Rollback, state_hash

GATHER = Path(gather.__file__).read_text()
GREEDY = (Path(gather.__file__).parents[1] / "policies" / "gather_greedy.py").read_text()
TWO = {"0": {"kind": "human"}, "1": {"kind": "human"}}


def build(code: str = GATHER, agents: dict | None = None, **game: Any) -> GameHost:
    host = EnvHost()
    config = {"players": 2} if code is GATHER else {}
    host.init_env(code=code, config=config, filename="env.py")
    return GameHost(host, agents=agents or TWO, **game)


def inputs(n: int, shift: int = 0) -> list[dict[str, Any]]:
    return [{"0": (f + shift) % 5, "1": (3 * f + 1) % 5} for f in range(n)]


def strip(results: list[dict]) -> list[tuple]:
    """What must match between runs: frame, actions, rewards, flags and hash."""
    return [(r["frame"], r["actions"], r["reward"], r["done"], r.get("hash")) for r in results]


@pytest.fixture()
def worker(monkeypatch: pytest.MonkeyPatch) -> EnvHost:
    """A fresh worker: its own host, the game extension, then the netcode extension."""
    host = EnvHost()
    monkeypatch.setattr(handler, "HOST", host)
    monkeypatch.setattr(handler, "OPERATIONS", dict(handler.OPERATIONS))
    monkeypatch.setattr(game_host, "_game", None)
    monkeypatch.setattr(netcode, "_session", None)
    handler.register(game_host.OPERATIONS)
    handler.register(netcode.OPERATIONS)
    return host


def call(op: str, payload: Any = None) -> Any:
    reply = handler.handle(op, payload)
    assert reply["ok"], reply["error"]["traceback"]
    return reply["value"]


def error_of(op: str, payload: Any = None) -> str:
    reply = handler.handle(op, payload)
    assert not reply["ok"], f"{op} should have failed: {reply}"
    return str(reply["error"]["message"])


def setup(code: str = GATHER, agents: dict | None = None, **game: Any) -> None:
    call("initEnv", {"code": code, "config": {"players": 2} if code is GATHER else {}})
    call("setupGame", {"agents": agents or TWO, **game})


# -- the state hash ------------------------------------------------------------------------------


def test_state_hash_is_blake2b_of_canonical_json() -> None:
    snapshot = {"env": {"b": [1, 2.5, None], "a": "x"}, "host": {"t": 3}}
    text = '{"env":{"a":"x","b":[1,2.5,null]},"host":{"t":3}}'
    expected = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    assert state_hash(snapshot) == expected and len(expected) == 16


def test_the_hash_survives_a_json_round_trip_of_a_snapshot() -> None:
    game = build(stand_ins={"1": {"kind": "random"}})
    rollback = Rollback(game)
    rollback.start(seed=4)
    rollback.advance(steps=[{"0": 1, "1": None}] * 7, first=0)
    snapshot = net_state.take_snapshot(game)
    copy = json.loads(json.dumps(snapshot))
    assert copy["host"]["rngs"]["1"][1], "the stand-in's generator is in the snapshot"
    assert state_hash(copy) == state_hash(snapshot) == rollback.state()["hash"]


def test_net_state_hands_over_json_text_that_keeps_big_ints_and_floats() -> None:
    rollback = Rollback(build())
    rollback.start(seed=4)
    state = rollback.state()
    text = state["snapshot"]
    assert isinstance(text, str)
    assert hashlib.blake2b(text.encode(), digest_size=8).hexdigest() == state["hash"]
    assert json.loads(text)["env"]["state"]["rng"] > 2**53, "gather's generator is 64-bit"
    assert state_hash(json.loads(text)) == state["hash"]


# -- GameHost additions ------------------------------------------------------------------------


def test_tick_without_render_keeps_the_reply_shape() -> None:
    game = build(hud_function=None)
    game.start_episode(seed=1)
    quiet = game.tick({"0": 1, "1": 2}, render=False)
    assert quiet["render"] is None and quiet["hud"] is None and quiet["step"] == 0
    shown = game.tick({"0": 1, "1": 2})
    assert isinstance(shown["render"], list) and set(shown) == set(quiet)


def test_a_null_input_is_played_by_the_stand_in_or_named() -> None:
    game = build(stand_ins={"1": {"kind": "python", "code": GREEDY}})
    game.start_episode(seed=1)
    tick = game.tick({"0": 0, "1": None})
    assert tick["actions"]["1"] in range(5)
    bare = build()
    bare.start_episode(seed=1)
    with pytest.raises(OperationError, match="no action for the human agent '1' and no stand-in"):
        bare.tick({"0": 0, "1": None})


@pytest.mark.parametrize(
    "stand_in", [{"kind": "python", "code": GREEDY}, {"kind": "random"}], ids=["python", "random"]
)
def test_stand_ins_given_after_setup_save_as_stand_ins_given_at_setup(stand_in: dict) -> None:
    """A browser group game's worker learns its stand-ins when it joins (netStandIns); the
    server's replay builds the game with them. Both must save, and hash, the same state."""
    late = build()
    late.set_stand_ins({"1": stand_in})
    early = build(stand_ins={"1": stand_in})
    for game in (late, early):
        game.start_episode(seed=3)
        for _ in range(4):
            game.tick({"0": 1, "1": None}, render=False)
    assert late.save() == early.save()
    assert (late.save()["observation"] is not None) is (stand_in["kind"] == "python")
    assert state_hash(net_state.take_snapshot(late)) == state_hash(net_state.take_snapshot(early))


def test_save_and_load_through_json_give_the_same_draws() -> None:
    game = build(agents={"0": {"kind": "human"}, "1": {"kind": "random"}})
    game.start_episode(seed=9)
    for _ in range(3):
        game.tick({"0": 2})
    saved = json.loads(json.dumps(game.save()))
    state = game.host.get_state()
    ahead = [game.tick({"0": 2})["actions"]["1"] for _ in range(6)]
    game.load(saved)
    game.host.set_state(state)
    assert game.t == 3 and not game.done
    assert [game.tick({"0": 2})["actions"]["1"] for _ in range(6)] == ahead
    with pytest.raises(OperationError, match="the saved game state is malformed"):
        game.load({"t": 1})


# -- netAdvance --------------------------------------------------------------------------------


def test_a_rollback_equals_a_straight_run_with_the_final_inputs() -> None:
    predicted = inputs(20)
    final = predicted[:5] + inputs(15, shift=2)[:15]
    assert final != predicted
    every = list(range(20))

    game = build()
    rollback = Rollback(game)
    rollback.start(seed=11)
    first = rollback.advance(steps=predicted, first=0, hash=every)
    assert [r["frame"] for r in first["results"]] == every and first["frame"] == 20
    fixed = rollback.advance(restore=5, first=5, steps=final[5:], hash=every)
    assert fixed["frame"] == 20 and isinstance(fixed["render"], list)

    straight = Rollback(build())
    straight.start(seed=11)
    fresh = straight.advance(steps=final, first=0, hash=every)
    assert strip(fixed["results"]) == strip(fresh["results"])[5:]
    assert strip(first["results"])[:5] == strip(fresh["results"])[:5]
    assert strip(first["results"]) != strip(fresh["results"]), "the inputs made a difference"
    assert rollback.state()["hash"] == straight.state()["hash"]


def test_stand_ins_with_null_inputs_replay_the_same_after_a_restore() -> None:
    agents = {"0": {"kind": "human"}, "1": {"kind": "human"}}
    stand_ins = {"0": {"kind": "python", "code": GREEDY}, "1": {"kind": "random"}}
    steps = [{"0": None if f % 3 else 4, "1": None} for f in range(20)]
    every = list(range(20))
    game = build(agents=agents, stand_ins=stand_ins)
    rollback = Rollback(game)
    rollback.start(seed=2)
    ahead = rollback.advance(steps=steps, first=0, hash=every)["results"]
    again = rollback.advance(restore=6, first=6, steps=steps[6:], hash=every)["results"]
    assert strip(again) == strip(ahead)[6:]
    assert len({r["actions"]["1"] for r in ahead}) > 1, "the random stand-in really draws"


def test_a_python_agent_reads_the_restored_observation() -> None:
    agents = {"0": {"kind": "human"}, "1": {"kind": "python", "code": GREEDY}}
    game = build(agents=agents)
    rollback = Rollback(game)
    rollback.start(seed=5)
    ahead = rollback.advance(steps=[{"0": 4}] * 12, first=0, hash=list(range(12)))["results"]
    again = rollback.advance(restore=3, first=3, steps=[{"0": 4}] * 9, hash=list(range(12)))
    assert strip(again["results"]) == strip(ahead)[3:]


def test_frames_must_follow_on() -> None:
    rollback = Rollback(build())
    rollback.start(seed=1)
    rollback.advance(steps=inputs(4), first=0)
    with pytest.raises(
        OperationError, match="first is frame 3, but the next frame to simulate is 4"
    ):
        rollback.advance(steps=inputs(1), first=3)
    with pytest.raises(OperationError, match="restore is frame 2, so first must be 2, but it is 4"):
        rollback.advance(restore=2, steps=inputs(1), first=4)
    assert rollback.frame == 4 and 3 in rollback.snapshots, "a refused request changes nothing"
    with pytest.raises(OperationError, match="no snapshot of frame 9 to restore"):
        rollback.advance(restore=9, steps=[], first=9)
    with pytest.raises(OperationError, match="first must be a frame number"):
        rollback.advance(steps=[], first="4")


def test_old_snapshots_are_dropped_below_confirmed_minus_one() -> None:
    rollback = Rollback(build())
    rollback.start(seed=1)
    rollback.advance(steps=inputs(10), first=0, confirmed=6)
    assert sorted(rollback.snapshots) == [5, 6, 7, 8, 9]
    with pytest.raises(OperationError, match=r"no snapshot of frame 4 to restore \(kept: frames 5"):
        rollback.advance(restore=4, steps=[], first=4)
    rollback.advance(restore=5, steps=inputs(5), first=5, render=False)
    assert rollback.frame == 10 and sorted(rollback.snapshots) == [5, 6, 7, 8, 9]


def test_steps_stop_when_the_episode_is_done() -> None:
    host = EnvHost()
    host.init_env(code=GATHER, config={"players": 2, "max_steps": 6})
    rollback = Rollback(GameHost(host, agents=TWO))
    rollback.start(seed=1)
    reply = rollback.advance(steps=inputs(10), first=0, render=False)
    assert [r["frame"] for r in reply["results"]] == list(range(6))
    assert reply["done"] and reply["frame"] == 6 and reply["render"] is None
    assert "hash" in reply["results"][-1], "the episode's last frame always carries its hash"
    assert rollback.advance(steps=inputs(2), first=6)["results"] == []


# -- netState / netLoad: a second worker takes over ----------------------------------------------


def test_a_second_worker_continues_from_a_handed_over_state() -> None:
    agents = {"0": {"kind": "human"}, "1": {"kind": "human"}}
    stand_ins = {"0": {"kind": "python", "code": GREEDY}, "1": {"kind": "random"}}
    steps = [{"0": None if f % 3 else f % 5, "1": None if f % 2 else 3} for f in range(30)]
    every = list(range(30))
    one = Rollback(build(agents=agents, stand_ins=stand_ins))
    one.start(seed=8)
    one.advance(steps=steps[:12], first=0)
    state = one.state()
    two = Rollback(build(agents=agents, stand_ins=stand_ins))
    loaded = two.load(state["frame"], state["snapshot"])
    assert loaded["frame"] == 12 and loaded["hash"] == state["hash"]
    assert isinstance(loaded["render"], list)
    left = one.advance(steps=steps[12:], first=12, hash=every)
    right = two.advance(steps=steps[12:], first=12, hash=every)
    assert strip(left["results"]) == strip(right["results"])
    assert one.state()["hash"] == two.state()["hash"]


def test_net_operations_through_the_handler(worker: EnvHost) -> None:
    setup()
    started = call("netStart", {"seed": 3})
    assert started["frame"] == 0 and len(started["hash"]) == 16
    assert isinstance(started["render"], list)
    reply = call("netAdvance", {"restore": None, "steps": inputs(6), "first": 0,
                                "confirmed": 1, "hash": [4], "render": True})  # fmt: skip
    assert reply["frame"] == 6 and not reply["done"]
    assert [("hash" in r) for r in reply["results"]] == [False] * 4 + [True, False]
    assert set(reply["results"][0]) == {"frame", "actions", "reward", "terminated",
                                        "truncated", "done", "info"}  # fmt: skip
    state = call("netState", {})
    assert state["frame"] == 6 and state["hash"] == state_hash(json.loads(state["snapshot"]))
    assert "first is frame 0, but the next frame to simulate is 6" in error_of(
        "netAdvance", {"steps": [], "first": 0}
    )
    loaded = call("netLoad", {"frame": 40, "snapshot": state["snapshot"]})
    assert loaded["frame"] == 40 and loaded["hash"] == state["hash"]
    again = call("netLoad", {"frame": 40, "snapshot": json.loads(state["snapshot"])})
    assert again["hash"] == state["hash"], "the snapshot as an object loads too"
    assert "netLoad: snapshot is not JSON text" in error_of(
        "netLoad", {"frame": 1, "snapshot": "{nope"}
    )
    assert "a snapshot must be an object {env, host}" in error_of(
        "netLoad", {"frame": 1, "snapshot": "[]"}
    )
    assert call("netAdvance", {"steps": inputs(1), "first": 40})["frame"] == 41


# -- netCheck: the load-time check ---------------------------------------------------------------


def test_net_check_passes_gather_and_leaves_the_game_ready(worker: EnvHost) -> None:
    setup(stand_ins={"1": {"kind": "random"}})
    report = call("netCheck", {"seed": 7, "frames": 24})
    assert report["ok"] is True and report["frames"] == 24
    assert 0 < report["hash_ms"] < 50 and report["snapshot_bytes"] > 100
    assert "call startEpisode first" in error_of("tick", {"actions": {"0": 1, "1": 1}})
    assert call("netStart", {"seed": 7})["frame"] == 0
    assert call("netAdvance", {"steps": inputs(3), "first": 0})["frame"] == 3


NO_STATE = """
class Walk:
    num_actions = 3

    def reset(self, seed=None, options=None):
        self.x = 0
        return self.x, {}

    def step(self, action):
        self.x += action - 1
        return self.x, float(self.x), False, False, {}

env = Walk()
"""

UNSEEDED = NO_STATE.replace(
    "self.x += action - 1", "self.x += action - 1 + (random.random() < 0.5)"
)
UNSEEDED = "import random\n" + UNSEEDED.replace(
    "env = Walk()",
    "Walk.get_state = lambda self: {'x': self.x}\n"
    "Walk.set_state = lambda self, s: setattr(self, 'x', s['x'])\nenv = Walk()",
)

HIDDEN = """
class Hidden:
    num_actions = 3

    def reset(self, seed=None, options=None):
        self.x, self.speed = 0, 1
        return self.x, {}

    def step(self, action):
        self.speed += action
        self.x += self.speed
        return self.x, 0.0, False, False, {}

    def get_state(self):
        return {"x": self.x}  # speed is missing

    def set_state(self, state):
        self.x = state["x"]

env = Hidden()
"""


def stateful(state: str, restore: str = "self.s = state") -> str:
    """An env whose state is ``state`` (an expression); step counts in ``self.s['n']``."""
    return f"""
class Env:
    num_actions = 2

    def reset(self, seed=None, options=None):
        self.s = {state}
        return 0, {{}}

    def step(self, action):
        self.s["n"] += action
        return self.s["n"], 0.0, False, False, {{}}

    def get_state(self):
        return {{k: (dict(v) if isinstance(v, dict) else v) for k, v in self.s.items()}}

    def set_state(self, state):
        {restore}

env = Env()
"""


def check_error(code: str, **check: Any) -> str:
    setup(code, agents={"player": {"kind": "human"}})
    return error_of("netCheck", {"seed": 1, "frames": 24, **check})


def test_net_check_wants_get_state_or_lockstep(worker: EnvHost) -> None:
    message = check_error(NO_STATE)
    assert "Walk does not implement get_state()/set_state(state)" in message
    assert "or use netcode='lockstep'" in message


def test_lockstep_net_check_needs_no_get_state(worker: EnvHost) -> None:
    setup(NO_STATE, agents={"player": {"kind": "human"}})
    report = call("netCheck", {"seed": 1, "frames": 12, "lockstep": True})
    assert report["ok"] and report["frames"] == 12 and report["snapshot_bytes"] is None
    assert call("netStart", {"seed": 1, "lockstep": True})["hash"] is None
    assert call("netAdvance", {"steps": [{"player": 2}] * 3, "first": 0})["frame"] == 3
    assert "lockstep game does not keep" in error_of(
        "netAdvance", {"restore": 1, "steps": [], "first": 1}
    )


def test_net_check_names_unseeded_randomness(worker: EnvHost) -> None:
    message = check_error(UNSEEDED)
    assert "Walk is not deterministic: two runs from reset(seed=1)" in message
    assert "differ at frame" in message and "random.random()" in message
    lockstep = check_error(UNSEEDED.replace("Walk.get_state", "Walk.nope"), lockstep=True)
    assert "not deterministic" in lockstep


def test_net_check_names_state_outside_get_state(worker: EnvHost) -> None:
    message = check_error(HIDDEN)
    assert "restoring get_state() at frame 8 and stepping again differs at frame 8" in message
    assert "state kept outside get_state()" in message


def test_net_check_names_state_that_is_not_json_safe(worker: EnvHost) -> None:
    message = check_error(stateful("{'n': 0, 'when': object()}"))
    assert "the state at frame 0 is not plain data" in message
    assert "get_state()['when'] is a object" in message
    message = check_error(stateful("{'n': 0, 'bad': float('nan')}"))
    assert "not JSON-safe: snapshot['env']['bad'] is nan" in message
    message = check_error(stateful("{'n': 0, 'raw': b'ab'}"))
    assert "snapshot['env']['raw'] is bytes" in message


def test_net_check_names_int_keys_that_json_turns_into_strings(worker: EnvHost) -> None:
    message = check_error(stateful("{'n': 0, 'by_id': {2: 'a', 10: 'b'}}"))
    assert "does not survive a JSON round trip" in message
    assert "snapshot['env']['by_id'] has the key 2 (int)" in message


def test_net_check_names_a_set_state_that_keeps_its_argument(worker: EnvHost) -> None:
    source = stateful("{'n': 0}").replace(
        "return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.s.items()}",
        "return self.s",
    )
    message = check_error(source)
    assert "set_state() keeps the object it is given" in message


def test_net_check_names_a_render_that_changes_the_state(worker: EnvHost) -> None:
    source = stateful("{'n': 0, 'shown': 0}").replace(
        "    def set_state",
        "    def render(self):\n        self.s['shown'] += 1\n        return []\n\n"
        "    def set_state",
    )
    message = check_error(source)
    assert "render() changes the game" in message
