"""The runtime package (interactive_gym.runtime) in CPython: where an environment comes from,
the worker's handler and its extensions, a game on a multi-agent env, plain data.

The same package runs in the browser's Pyodide worker (tests/js/pyodide_worker.test.mjs and
game_worker.test.mjs drive it there).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import interactive_gym.runtime as runtime
from interactive_gym.runtime import game_host, handler
from interactive_gym.runtime.env_host import EnvHost, OperationError
from interactive_gym.runtime.game_host import GameHost
from interactive_gym.runtime.plain import ConversionError, to_plain

COUNTER = """
class Counter:
    def __init__(self, start=0):
        self.start = start

    def reset(self, seed=None, options=None):
        self.n = self.start
        return self.n, {"seed": seed}

    def step(self, action):
        self.n += action
        return self.n, 1.0, self.n >= 10, False, {}

def make_env(**config):
    return Counter(**config)
"""


@pytest.fixture()
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for made-up packages; they leave sys.modules afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("ig_test_"):
            del sys.modules[name]


@pytest.fixture()
def worker(monkeypatch: pytest.MonkeyPatch) -> EnvHost:
    """The handler with its own host and operations, as a fresh worker has them."""
    host = EnvHost()
    monkeypatch.setattr(handler, "HOST", host)
    monkeypatch.setattr(handler, "OPERATIONS", dict(handler.OPERATIONS))
    monkeypatch.setattr(game_host, "_game", None)
    return host


def test_files_lists_every_module_of_the_package() -> None:
    package = Path(runtime.__file__).parent
    assert set(runtime.FILES) == {p.name for p in package.glob("*.py")}
    assert runtime.FILES[0] == "__init__.py"


# -- where the environment comes from ----------------------------------------------------------


def test_env_from_code_with_config() -> None:
    host = EnvHost()
    described = host.init_env(code=COUNTER, config={"start": 3}, filename="counter.py")
    assert described == {"envClass": "Counter", "agents": [], "hasState": False,
                         "hasRender": False}  # fmt: skip
    assert host.reset(seed=1) == {"observation": 3, "info": {"seed": 1}}
    assert host.step(4)["observation"] == 7


def test_env_from_a_module(modules: Path) -> None:
    (modules / "ig_test_counter.py").write_text(COUNTER + "\nenv = Counter(5)\n")
    host = EnvHost()
    host.init_env(module="ig_test_counter", config={"start": 2})  # make_env wins over env
    assert host.reset()["observation"] == 2
    assert host.function("make_env") is not None


def test_env_from_a_gymnasium_id() -> None:
    host = EnvHost()
    described = host.init_env(env_id="CartPole-v1")
    assert described["hasRender"] is True
    reset = host.reset(seed=0)
    assert isinstance(reset["observation"], np.ndarray)
    stepped = host.step(1, render=True)
    assert stepped["render"].shape[2] == 3, "rendered as an rgb_array"
    assert host.env_ms > 0
    plain = to_plain(stepped)
    assert isinstance(plain["observation"], list) and len(plain["observation"]) == 4
    assert all(type(x) is float for x in plain["observation"])
    assert type(plain["terminated"]) is bool


def test_env_from_a_factory(modules: Path) -> None:
    package = modules / "ig_test_factories"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "envs.py").write_text(
        COUNTER + "\nclass Maker:\n    @staticmethod\n    def build(**config):\n"
        "        return Counter(**config)\n"
    )
    host = EnvHost()
    host.init_env(factory="ig_test_factories.envs:make_env", config={"start": 4})
    assert host.reset()["observation"] == 4
    host.init_env(factory="ig_test_factories.envs:Maker.build", config={"start": 6})
    assert host.reset()["observation"] == 6
    with pytest.raises(OperationError, match="must look like 'package.module:callable'"):
        host.init_env(factory="ig_test_factories.envs")
    with pytest.raises(OperationError, match="ig_test_factories.envs has no nothing"):
        host.init_env(factory="ig_test_factories.envs:nothing")


@pytest.mark.parametrize(
    ("sources", "named"),
    [
        ({}, "got none"),
        ({"code": COUNTER, "env_id": "CartPole-v1"}, "got ['code', 'env_id']"),
        ({"module": "x", "factory": "x:y"}, "got ['module', 'factory']"),
    ],
)
def test_exactly_one_source_names_the_env(sources: dict[str, Any], named: str) -> None:
    with pytest.raises(OperationError) as error:
        EnvHost().init_env(**sources)
    message = str(error.value)
    assert "exactly one of 'code' (Python source), 'module', 'env_id' or 'factory'" in message
    assert named in message


def test_the_handler_names_a_missing_source(worker: EnvHost) -> None:
    reply = handler.handle("initEnv", {"config": {}})
    assert reply["ok"] is False
    assert reply["error"]["type"] == "OperationError"
    assert "got none" in reply["error"]["message"]
    assert "Traceback" in reply["error"]["traceback"]


# -- the handler and its extensions ------------------------------------------------------------


def test_handle_answers_plain_data_with_env_time(worker: EnvHost) -> None:
    assert handler.handle("initEnv", {"code": COUNTER})["ok"] is True
    reply = handler.handle("reset", {"seed": 2})
    assert reply["ok"] is True
    assert reply["value"] == {"observation": 0, "info": {"seed": 2}}
    assert isinstance(reply["envMs"], float) and reply["envMs"] >= 0
    unknown = handler.handle("fly", None)
    assert unknown["ok"] is False
    assert "unknown operation 'fly'" in unknown["error"]["message"]


def test_register_adds_operations_and_refuses_names_taken(worker: EnvHost) -> None:
    handler.register({"double": lambda host, args: args * 2})
    assert handler.handle("double", 21)["value"] == 42
    with pytest.raises(ValueError, match=r"already registered: \['step'\]"):
        handler.register({"step": lambda host, args: None, "fresh": lambda host, args: None})
    assert "fresh" not in handler.OPERATIONS, "a refused registration adds nothing"
    with pytest.raises(ValueError, match=r"already registered: \['double'\]"):
        handler.register({"double": lambda host, args: args})


def test_the_game_extension_answers_through_the_handler(worker: EnvHost) -> None:
    assert handler.handle("setupGame", {"agents": {}})["error"]["message"].startswith(
        "unknown operation 'setupGame'"
    )
    handler.register(game_host.OPERATIONS)
    handler.handle("initEnv", {"code": COUNTER})
    reply = handler.handle("setupGame", {"agents": {"player": {"kind": "human"}}})
    assert reply["value"]["multiAgent"] is False
    assert handler.handle("startEpisode", {"seed": 1})["ok"] is True
    tick = handler.handle("tick", {"actions": {"player": 4}})["value"]
    assert (tick["step"], tick["actions"], tick["reward"]) == (0, {"player": 4}, 1.0)


# -- a game on a PettingZoo-style parallel env ---------------------------------------------------


class Parallel:
    """Two agents with dict observations, rewards and flags, and numpy observations."""

    possible_agents = ["left", "right"]
    render_size = (64, 32)

    def action_space(self, agent: str) -> Any:
        class Discrete:
            n = 3

        return Discrete()

    def reset(self, seed: int | None = None, options: dict | None = None) -> Any:
        self.t = 0
        return {a: np.zeros(2, dtype=np.float32) for a in self.possible_agents}, {}

    def step(self, actions: dict[str, int]) -> Any:
        assert set(actions) == set(self.possible_agents), actions
        self.t += 1
        observations = {a: np.array([self.t, actions[a]], dtype=np.int64) for a in actions}
        rewards = {a: np.float32(actions[a]) for a in actions}
        terminated = {a: self.t >= 3 for a in actions}
        truncated = {a: False for a in actions}
        return observations, rewards, terminated, truncated, {a: {} for a in actions}

    def render(self) -> Any:
        return np.zeros((32, 64, 3), dtype=np.uint8)


def parallel_host(modules: Path) -> EnvHost:
    (modules / "ig_test_parallel.py").write_text("")
    module = __import__("ig_test_parallel")
    module.__dict__.update(make_env=Parallel, hud=lambda env: f"t={env.t}")
    host = EnvHost()
    host.init_env(module="ig_test_parallel")
    return host


def test_a_game_on_a_parallel_env(modules: Path) -> None:
    host = parallel_host(modules)
    assert host.describe()["agents"] == ["left", "right"]
    game = GameHost(
        host,
        agents={"left": {"kind": "human"}, "right": {"kind": "random"}},
        hud_function="hud",
        record_observations=True,
    )
    assert game.describe() == {"multiAgent": True, "agents": ["left", "right"], "numActions": 3,
                               "renderSize": (64, 32), "hasRender": True}  # fmt: skip
    assert game.multi_agent and game.kinds == {"left": "human", "right": "random"}
    start = to_plain(game.start_episode(seed=7))
    assert start["observation"] == {"left": [0.0, 0.0], "right": [0.0, 0.0]}
    assert start["hud"] == "t=0"
    replies = [to_plain(game.tick(actions={"left": 2})) for _ in range(3)]
    assert [r["step"] for r in replies] == [0, 1, 2]
    assert all(r["actions"]["left"] == 2 and 0 <= r["actions"]["right"] < 3 for r in replies)
    assert replies[0]["reward"]["left"] == 2.0
    assert replies[0]["observation"]["left"] == [1, 2]
    assert [r["done"] for r in replies] == [False, False, True]
    assert replies[2]["terminated"] is True, "every agent terminated: the episode ended"
    assert replies[0]["hud"] == "t=1"
    assert len(replies[0]["render"]) == 32 and len(replies[0]["render"][0][0]) == 3
    with pytest.raises(OperationError, match="the episode is over"):
        game.tick(actions={"left": 0})
    game.start_episode(seed=7)
    first = [to_plain(game.tick(actions={"left": 0}))["actions"]["right"] for _ in range(3)]
    assert first == [r["actions"]["right"] for r in replies], "the same seed, the same draws"


def test_a_game_names_agents_that_do_not_fit(modules: Path) -> None:
    host = parallel_host(modules)
    with pytest.raises(OperationError, match="the environment has no agent 'middle'"):
        GameHost(host, agents={"left": {"kind": "human"}, "middle": {"kind": "random"}})
    with pytest.raises(OperationError, match="agent 'right' has no entry"):
        GameHost(host, agents={"left": {"kind": "human"}})


# -- plain data ----------------------------------------------------------------------------------


def test_numpy_values_become_lists_and_numbers() -> None:
    value = {
        "grid": np.arange(6, dtype=np.int32).reshape(2, 3),
        "scalar": np.float64(0.5),
        "flag": np.bool_(True),
        (1, 2): (np.int64(3), {np.int8(4)}),
    }
    plain = to_plain(value)
    assert plain == {"grid": [[0, 1, 2], [3, 4, 5]], "scalar": 0.5, "flag": True,
                     "(1, 2)": [3, [4]]}  # fmt: skip
    assert type(plain["grid"][0][0]) is int and type(plain["flag"]) is bool
    assert math.isnan(to_plain(np.float32("nan")))


def test_strict_conversion_names_the_path() -> None:
    with pytest.raises(ConversionError, match=r"value\['a'\]\[1\] is a object"):
        to_plain({"a": [1, object()]}, strict=True)
    assert to_plain({"a": object()})["a"].startswith("<object object")


def test_nothing_in_the_package_needs_pyodide() -> None:
    source = "\n".join((Path(runtime.__file__).parent / name).read_text() for name in runtime.FILES)
    for needed in ("import pyodide", "from pyodide", "import js"):
        assert needed not in source
