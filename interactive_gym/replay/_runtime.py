"""The game as the browser's worker builds it, in this interpreter.

The worker runs ``static/py/ig_runtime.py`` (the environment host) and ``static/py/ig_game.py``
(agents, ticks); neither imports anything of Pyodide, so the replay loads those same files and
builds the environment with ``EnvHost.init_env`` and the game with a ``GameHost`` whose only
change is where the actions come from: every agent's action is the recorded one, and the actions
the AI agents would have chosen are kept aside to be compared with it.
"""

from __future__ import annotations

import importlib.util
import json
import linecache
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from interactive_gym.replay._values import through_js
from interactive_gym.study.gym import GymScene
from interactive_gym.study.gym_agents import PythonPolicy

PY_DIR = Path(__file__).resolve().parent.parent / "server" / "static" / "py"

_LOAD_LOCK = threading.Lock()
#: Building an environment runs its source with ``sys.modules["ig_env"]`` pointing at it, as the
#: worker does (dataclasses look their module up while the classes are made); one at a time.
_BUILD_LOCK = threading.Lock()
_MODULES: dict[str, Any] = {}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, PY_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def runtime() -> dict[str, Any]:
    """``{"runtime", "game", "ReplayHost"}``: the worker's modules, loaded once, privately.

    ``ig_game`` imports ``ig_runtime`` by name, so that name points at the private copy while
    ``ig_game`` loads; afterwards ``sys.modules`` is as it was.
    """
    with _LOAD_LOCK:
        if not _MODULES:
            runtime_module = _load("ig_runtime")
            previous = sys.modules.get("ig_runtime")
            sys.modules["ig_runtime"] = runtime_module
            try:
                game_module = _load("ig_game")
            finally:
                if previous is None:
                    sys.modules.pop("ig_runtime", None)
                else:
                    sys.modules["ig_runtime"] = previous
            _MODULES.update(
                runtime=runtime_module,
                game=game_module,
                ReplayHost=_replay_host_class(game_module, runtime_module),
            )
        return _MODULES


def _replay_host_class(game_module: ModuleType, runtime_module: ModuleType) -> type:
    game_host: type = game_module.GameHost
    operation_error: type = runtime_module.OperationError

    class ReplayHost(game_host):  # type: ignore[misc]
        """A GameHost stepping with the recorded actions of every agent.

        ``expected`` holds, after each tick, the actions the seeded ``"random"`` agents drew
        and the Python policies returned (those loaded), as the worker would have chosen them.
        """

        expected: dict[str, Any]

        def _choose(self, actions: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
            self.expected = {}
            for key, kind in self.kinds.items():
                if kind == "random":
                    if self.num_actions is None:
                        raise operation_error(
                            f"agents[{key!r}] is 'random' but the number of actions is unknown"
                        )
                    self.expected[key] = self.rngs[key].randrange(self.num_actions)
                elif kind == "python":
                    self.expected[key] = self._call_policy(key)
            return dict(actions)

    return ReplayHost


def actions_used(scene: GymScene) -> dict[str, Any]:
    """What ``actionsUsed`` in ``game/preload.js`` sends to ``setupGame``."""
    used = {f"controls[{json.dumps('+'.join(c['keys']))}]": c["action"] for c in scene.controls}
    if scene.human is not None:
        used["default_action"] = scene.default_action
    return used


def agent_specs(scene: GymScene, check_policies: bool) -> dict[str, dict[str, Any]]:
    """The ``agents`` of ``setupGame``. Agents whose actions are not recomputed are "onnx":
    the game then takes their action as given, as it takes an ONNX model's."""
    specs: dict[str, dict[str, Any]] = {}
    for key, agent in scene.agents.items():
        if isinstance(agent, PythonPolicy) and check_policies:
            specs[key] = agent.to_client()
        elif isinstance(agent, str):
            specs[key] = {"kind": agent}
        else:
            specs[key] = {"kind": "onnx"}
    return specs


class Game:
    """One environment and its game, built like the page's worker builds them.

    Raises whatever building raises (the environment's source, ``make_env``, an import of a
    package that is not installed here, the game's checks of agents and actions).
    """

    def __init__(self, scene: GymScene, check_policies: bool) -> None:
        modules = runtime()
        self.host = modules["runtime"].EnvHost()
        with _BUILD_LOCK:
            self._init_env(scene)
        self.game = modules["ReplayHost"](
            self.host,
            agents=agent_specs(scene, check_policies),
            hud_function=scene.hud_function,
            max_steps=scene.max_steps,
            num_actions=scene.num_actions,
            actions_used=actions_used(scene),
            record_observations=True,
        )
        self.multi_agent: bool = self.game.multi_agent
        self.to_plain = modules["runtime"].to_plain

    def _init_env(self, scene: GymScene) -> None:
        """``initEnv`` as ``game/preload.js`` calls it; global state is put back afterwards."""
        config = through_js(dict(scene.env_config))
        saved_env = sys.modules.get("ig_env")
        if scene.env_file is not None:
            if scene.env_code is None:
                raise RuntimeError(
                    "the scene's env_file was not read (load the study with load_study)"
                )
            filename = Path(scene.env_file).name
            saved_lines = linecache.cache.get(filename)
            try:
                self.host.init_env(code=scene.env_code, config=config, filename=filename)
            finally:
                if saved_lines is None:
                    linecache.cache.pop(filename, None)
                else:
                    linecache.cache[filename] = saved_lines
                _restore("ig_env", saved_env)
        else:
            # A fresh copy of the module, as each worker imports its own: a module-level `env`
            # is never shared between replays.
            name = str(scene.env_module)
            saved_module = sys.modules.pop(name, None)
            try:
                self.host.init_env(module=name, config=config)
            finally:
                _restore(name, saved_module)
                _restore("ig_env", saved_env)

    def start(self, seed: int) -> None:
        """``startEpisode({seed})``."""
        self.game.start_episode(seed=seed)

    def tick(self, actions: dict[str, Any]) -> dict[str, Any]:
        """``tick`` with every agent's action given; the reply as the worker builds it."""
        reply: dict[str, Any] = self.game.tick(actions=actions)
        return reply

    @property
    def expected(self) -> dict[str, Any]:
        """The actions the AI agents would have chosen at the last tick."""
        expected: dict[str, Any] = getattr(self.game, "expected", {})
        return expected


def _restore(name: str, module: Any) -> None:
    """Put ``sys.modules[name]`` (and the attribute of its parent package) back as it was."""
    if module is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = module
    parent_name, _, child = name.rpartition(".")
    parent = sys.modules.get(parent_name) if parent_name else None
    if parent is not None:
        if module is None:
            parent.__dict__.pop(child, None)
        else:
            setattr(parent, child, module)
