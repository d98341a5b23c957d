"""The game as the browser's worker builds it, in this interpreter.

The worker runs the runtime package ``interactive_gym.runtime`` (``env_host.py``, the
environment host, and ``game_host.py``, agents and ticks); it imports nothing of Pyodide, so
the replay imports that same package and builds the environment with ``EnvHost.init_env`` and
the game with a ``GameHost`` whose only change is where the actions come from: every agent's
action is the recorded one, and the actions the AI agents (and the stand-ins of a group game)
would have chosen are kept aside to be compared with it. Each replay has its own private
``EnvHost`` (never the worker handler's ``HOST``), and what building an environment changes in
``sys.modules`` is put back.

A group game in the browser (``replay/_group.py``) is built as every member's worker builds
it, policies and stand-ins included, so that its saved state (``runtime/netcode.py``: the env's
``get_state()`` and ``GameHost.save()``) hashes as the members' did.
"""

from __future__ import annotations

import json
import linecache
import sys
import threading
from pathlib import Path
from typing import Any

from interactive_gym.replay._values import through_js
from interactive_gym.runtime import netcode
from interactive_gym.runtime.env_host import EnvHost, OperationError
from interactive_gym.runtime.game_host import GameHost
from interactive_gym.runtime.hashing import env_state_hash
from interactive_gym.runtime.plain import to_plain
from interactive_gym.study.gym import GymScene
from interactive_gym.study.gym_agents import PythonPolicy
from interactive_gym.study.gym_env import SERVER_ONLY

#: Building an environment runs its source with ``sys.modules["ig_env"]`` pointing at it, as the
#: worker does (dataclasses look their module up while the classes are made); one at a time.
_BUILD_LOCK = threading.Lock()


class ReplayHost(GameHost):
    """A GameHost stepping with the recorded actions of every agent.

    ``expected`` holds, after each tick, the actions the seeded ``"random"`` agents drew
    and the Python policies returned (those loaded, when ``recompute_policies``), as the worker
    would have chosen them, and those of the stand-ins playing the agents in ``standing_in``
    (a random stand-in always draws, as the worker's did: its generator is part of the state).
    """

    expected: dict[str, Any]
    #: The human agents a stand-in plays at the next tick (their recorded input was None).
    standing_in: frozenset[str] = frozenset()
    recompute_policies = True

    def _choose(self, actions: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
        self.expected = {}
        for key, kind in self.kinds.items():
            if kind == "random":
                if self.num_actions is None:
                    raise OperationError(
                        f"agents[{key!r}] is 'random' but the number of actions is unknown"
                    )
                self.expected[key] = self.rngs[key].randrange(self.num_actions)
            elif kind == "python" and self.recompute_policies:
                self.expected[key] = self._call_policy(key)
            elif kind == "human" and key in self.standing_in and key in self.stand_ins:
                policy = self.stand_ins[key]
                if policy is None:
                    self.expected[key] = self._random(key)
                elif self.recompute_policies:
                    self.expected[key] = self._call(key, policy)
        return dict(actions)


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


def worker_agent_specs(scene: GymScene) -> dict[str, dict[str, Any]]:
    """The ``agents`` of ``setupGame`` as a group game's worker gets them: every Python policy
    loaded (whether it reads the observation decides what the game saves)."""
    specs: dict[str, dict[str, Any]] = {}
    for key, agent in scene.agents.items():
        if isinstance(agent, PythonPolicy):
            specs[key] = agent.to_client()
        elif isinstance(agent, str):
            specs[key] = {"kind": agent}
        else:
            raise OperationError(f"agents[{key!r}]: a group game in the browser has no ONNX agents")
    return specs


class Game:
    """One environment and its game, built like the page's worker builds them.

    With ``stand_ins`` (``{agent: spec}``, as ``setupGame`` takes them), the game is a group
    game's, built as its members' workers build it: every policy and stand-in loaded, ticking
    without rendering; ``check_policies`` then only decides whether the Python policies'
    actions are recomputed and compared.

    Raises whatever building raises (the environment's source, ``make_env``, an import of a
    package that is not installed here, the game's checks of agents and actions).
    """

    def __init__(
        self,
        scene: GymScene,
        check_policies: bool,
        stand_ins: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.host = EnvHost()
        with _BUILD_LOCK:
            self._init_env(scene)
        group = stand_ins is not None
        # A group game's rows are re-simulated without rendering; a server game's frames are
        # images (rgb arrays) that play no part in the env's dynamics: neither is drawn here.
        self.render = not group and scene.runtime != "server"
        self.game = ReplayHost(
            self.host,
            agents=worker_agent_specs(scene) if group else agent_specs(scene, check_policies),
            hud_function=scene.hud_function,
            max_steps=scene.max_steps,
            num_actions=scene.num_actions,
            actions_used=actions_used(scene),
            record_observations=True,
            stand_ins=stand_ins,
        )
        self.game.recompute_policies = check_policies
        self.multi_agent: bool = self.game.multi_agent
        self.to_plain = to_plain

    def _init_env(self, scene: GymScene) -> None:
        """``initEnv`` as ``game/preload.js`` calls it (or, for a server game, as the env
        process does: ``env_config`` as given, no JSON round trip); global state is put back
        afterwards."""
        if scene.runtime == "server":
            config = dict(scene.env_config)
        else:
            config = through_js(dict(scene.env_config))
        saved_env = sys.modules.get("ig_env")
        if scene.env_source.field in SERVER_ONLY:
            # env_id / env_factory: Gymnasium's registry or an installed package's callable
            spec = scene.env_source.spec(config)
            spec.pop("filename", None)
            try:
                self.host.init_env(**spec)
            finally:
                _restore("ig_env", saved_env)
        elif scene.env_file is not None:
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

    def start(self, seed: int) -> dict[str, Any]:
        """``startEpisode({seed})``; its reply (the reset's observation, info, frame)."""
        reply: dict[str, Any] = self.game.start_episode(seed=seed)
        return reply

    def tick(
        self, actions: dict[str, Any], standing_in: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """``tick`` with every agent's action given (``standing_in``: the human agents a
        stand-in played); the reply as the worker builds it."""
        self.game.standing_in = standing_in
        reply: dict[str, Any] = self.game.tick(actions=actions, render=self.render)
        return reply

    def state_hash(self) -> str:
        """``netcode.state_hash`` of the game's saved state now (after the last tick)."""
        return netcode.state_hash(netcode.snapshot(self.host, self.game))

    def env_state_hash(self) -> str:
        """The hash of the env's state now (``get_state()`` only), as a scene with
        ``record_state_hash_every`` records it in ``state_hash``."""
        return env_state_hash(self.host)

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
