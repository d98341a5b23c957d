"""The game host: a game scene's episodes on an environment host, one reply per tick.

In the browser runtime the Pyodide worker loads this module as an extension of ``handler.py``
(its :data:`OPERATIONS`: ``setupGame``, ``startEpisode``, ``tick``, ``onnxObservations``); in
the server runtime an env worker process drives a :class:`GameHost` directly. A tick takes
the human agents' actions, asks every AI policy for its action (``"random"``, a Python
policy, or actions the worker computed with ONNX models and passes in ``external``), steps the
environment, renders it and computes the HUD text, all in one call: one message per frame.
With ``state_hash_every=K`` (the scene's ``record_state_hash_every``) a tick's reply also
carries ``stateHash``, the hash of the env's ``get_state()`` after the step
(``hashing.env_state_hash``), on every K-th step and on the last step of each episode.
Browser group games add ``netcode.py`` on top: it saves and loads a game's state
(:meth:`GameHost.save`/:meth:`GameHost.load` with the env's ``get_state``) and ticks without
rendering while it re-simulates frames.

The module has no Pyodide imports, so the server and the tests run it in CPython.
"""

from __future__ import annotations

import random
import time
import types
from collections.abc import Callable
from typing import Any

from .env_host import EnvHost, OperationError, kwargs_of
from .hashing import env_state_hash
from .plain import to_plain

AGENT_KINDS = ("human", "random", "python", "onnx")
#: The largest ``state_hash_every`` (as the scene's ``record_state_hash_every`` allows).
MAX_STATE_HASH_EVERY = 10000


class PolicyError(Exception):
    """An AI policy raised or returned something unusable; names the agent and file."""


def episode_flag(value: Any) -> bool:
    """One bool for the whole episode from ``terminated``/``truncated`` (bool or per-agent dict)."""
    if isinstance(value, dict):
        if "__all__" in value:
            return bool(value["__all__"])
        return bool(value) and all(bool(v) for v in value.values())
    return bool(value)


def count_actions(env: Any) -> int | None:
    """The number of discrete actions of an env: ``num_actions`` or ``action_space.n``."""
    n = getattr(env, "num_actions", None)
    if n is None:
        space = getattr(env, "action_space", None)
        if callable(space):  # PettingZoo: action_space(agent)
            try:
                space = space(next(iter(getattr(env, "possible_agents", []) or [None])))
            except Exception:  # noqa: BLE001 - any failure means "unknown"
                space = None
        n = getattr(space, "n", None)
    if n is None or not (isinstance(n, int) or hasattr(n, "__index__")):
        return None
    return int(n)


class GameHost:
    """Runs a game scene's episodes on the environment of an :class:`EnvHost`.

    Args (the ``setupGame`` payload):
        agents: ``{agent_id: {"kind": "human"|"random"|"python"|"onnx", ...}}``; a Python
            policy has ``code``, ``filename``, ``function`` and ``config`` (keyword arguments).
        hud_function: name of a function ``f(env) -> str`` in the environment's source.
        max_steps: end an episode (truncated) after this many steps; None: only the env ends it.
        num_actions: the number of discrete actions, when the env does not say.
        actions_used: ``{what: action}`` for the actions the controls produce, checked here.
        record_observations: send the observation back with every step.
        stand_ins: ``{agent_id: {"kind": "random"|"python", ...}}``: AI policies playing a
            human agent when a tick brings no action for it (a group member who left, or
            never came, or whose input is ``None``); a random stand-in draws from the agent's
            own seeded generator.
        state_hash_every: K (1 to 10000): the reply of every tick at step ``s`` with
            ``(s + 1) % K == 0``, and of the episode's last step, carries ``stateHash``; the
            env must implement ``get_state()``. None: no hashes.
    """

    def __init__(
        self,
        host: EnvHost,
        agents: dict,
        hud_function: str | None = None,
        max_steps: int | None = None,
        num_actions: int | None = None,
        actions_used: dict | None = None,
        record_observations: bool = False,
        stand_ins: dict | None = None,
        state_hash_every: int | None = None,
    ) -> None:
        self.host = host
        self.env = host.require_env()
        self.state_hash_every = self._check_state_hash_every(state_hash_every)
        self.multi_agent = bool(host.agent_keys)
        self.max_steps = max_steps
        self.record_observations = bool(record_observations)
        self.num_actions = num_actions if num_actions is not None else count_actions(self.env)
        if not isinstance(agents, dict) or not agents:
            raise OperationError("setupGame needs agents: {agent_id: {kind: ...}}")
        self.agents = self._match_agents(agents)
        self.kinds = {key: spec.get("kind") for key, spec in agents.items()}
        for key, kind in self.kinds.items():
            if kind not in AGENT_KINDS:
                raise OperationError(
                    f"agents[{key!r}]: unknown kind {kind!r}; one of {AGENT_KINDS}"
                )
        self._check_actions(actions_used or {})
        self.policies = {
            key: self._load_policy(key, spec)
            for key, spec in agents.items()
            if spec.get("kind") == "python"
        }
        self.stand_ins = self._load_stand_ins(stand_ins or {})
        self.hud_function = self._find_hud(hud_function)
        #: The actions the controls produce (what a human agent may send), without duplicates.
        self.actions_used = sorted({a for a in (actions_used or {}).values() if type(a) is int})
        self._saved_parts()
        self.observation: Any = None
        self.rngs: dict[str, random.Random] = {}
        self.t = 0
        self.done = True

    # setup --------------------------------------------------------------------------------

    def _match_agents(self, agents: dict) -> dict[str, Any]:
        """``{scene agent key: env agent id}``; every env agent must have exactly one entry."""
        if not self.multi_agent:
            if len(agents) != 1:
                raise OperationError(
                    f"agents: the environment is single-agent (no possible_agents) but the scene "
                    f"lists {len(agents)} agents {sorted(agents)}; list exactly one"
                )
            return {next(iter(agents)): None}
        env_ids = self.host.agent_keys
        unknown = sorted(k for k in agents if k not in env_ids)
        if unknown:
            raise OperationError(
                f"agents[{unknown[0]!r}]: the environment has no agent {unknown[0]!r}; "
                f"its agents are {sorted(env_ids)}"
            )
        missing = sorted(k for k in env_ids if k not in agents)
        if missing:
            raise OperationError(
                f"agents: the environment's agent {missing[0]!r} has no entry; give every "
                f"agent of {sorted(env_ids)} a kind"
            )
        return {key: env_ids[key] for key in agents}

    def _check_actions(self, actions_used: dict) -> None:
        n = self.num_actions
        for what, action in actions_used.items():
            if n is not None and not (isinstance(action, int) and 0 <= action < n):
                raise OperationError(
                    f"{what} is action {action!r}, but the environment has {n} actions "
                    f"(0 to {n - 1})"
                )

    def _check_state_hash_every(self, every: Any) -> int | None:
        if every is None:
            return None
        if type(every) is not int or not 1 <= every <= MAX_STATE_HASH_EVERY:
            raise OperationError(
                f"state_hash_every (the scene's record_state_hash_every) must be a whole number "
                f"from 1 to {MAX_STATE_HASH_EVERY}, got {every!r}"
            )
        if not callable(getattr(self.env, "get_state", None)):
            raise OperationError(
                f"record_state_hash_every: the environment {type(self.env).__name__} does not "
                "implement get_state(), which the state hash is made from; implement "
                "get_state() (returning its state as plain data), or leave "
                "record_state_hash_every out"
            )
        return every

    def set_stand_ins(self, stand_ins: dict) -> None:
        """Replace the stand-ins (a group game learns its group's when it joins)."""
        self.stand_ins = self._load_stand_ins(stand_ins)
        self._saved_parts()

    def _saved_parts(self) -> None:
        """What :meth:`save` keeps, which the agents and the stand-ins decide: a game given its
        stand-ins later saves (and hashes) exactly as one built with them."""
        #: The agents whose generators are drawn from (random agents, random stand-ins).
        self.drawn = [
            key
            for key, kind in self.kinds.items()
            if kind == "random" or (key in self.stand_ins and self.stand_ins[key] is None)
        ]
        #: A Python policy reads the observation: it is part of the saved state.
        self.keeps_observation = bool(self.policies) or any(
            policy is not None for policy in self.stand_ins.values()
        )

    def _load_stand_ins(self, stand_ins: dict) -> dict[str, Callable[..., Any] | None]:
        """``{human agent: its policy}`` (None: random)."""
        if not isinstance(stand_ins, dict):
            raise OperationError("stand_ins: expected {agent_id: {kind: ...}}")
        loaded: dict[str, Callable[..., Any] | None] = {}
        for key, spec in stand_ins.items():
            kind = spec.get("kind") if isinstance(spec, dict) else None
            if self.kinds.get(key) != "human":
                raise OperationError(f"stand_ins[{key!r}]: the scene has no human agent {key!r}")
            if kind not in ("random", "python"):
                raise OperationError(f"stand_ins[{key!r}]: kind must be 'random' or 'python'")
            loaded[key] = self._load_policy(key, spec) if kind == "python" else None
        return loaded

    def _load_policy(self, key: str, spec: dict) -> Callable[..., Any]:
        filename = str(spec.get("filename") or f"<policy of agent {key}>")
        module = types.ModuleType(f"ig_policy_{key}")
        module.__file__ = filename
        try:
            exec(compile(spec["code"], filename, "exec"), module.__dict__)
        except Exception as error:
            raise PolicyError(
                f"agents[{key!r}]: the policy file {filename} failed to load: "
                f"{type(error).__name__}: {error}"
            ) from error
        name = spec.get("function") or "policy"
        function = getattr(module, name, None)
        if not callable(function):
            raise PolicyError(f"agents[{key!r}]: {filename} defines no function {name}()")
        config = dict(spec.get("config") or {})
        return lambda observation, agent_id: function(observation, agent_id, **config)

    def _find_hud(self, name: str | None) -> Callable[[Any], Any] | None:
        if not name:
            return None
        function = self.host.function(name)
        if not callable(function):
            raise OperationError(
                f"hud_function: the environment's source defines no function {name}(env)"
            )
        return function

    def describe(self) -> dict[str, Any]:
        """What the page needs to know about the game: agents, actions, canvas size."""
        size = getattr(self.env, "render_size", None)
        return {
            "multiAgent": self.multi_agent,
            "agents": list(self.agents),
            "numActions": self.num_actions,
            "renderSize": size or None,
            "hasRender": callable(getattr(self.env, "render", None)),
        }

    # episodes -----------------------------------------------------------------------------

    def start_episode(self, seed: int | None = None, options: dict | None = None) -> dict:
        """Reset the env with ``seed``; the random policies draw from ``seed`` too."""
        reset = self.host.reset(seed=seed, options=options)
        observation, info = reset["observation"], reset["info"]
        frame = self.host.frame()
        self.observation = observation
        self.rngs = {key: random.Random(f"{seed}:{key}") for key in self.agents}
        self.t = 0
        self.done = False
        reply = {"info": info, "render": frame}
        reply["hud"] = self._hud()
        if self.record_observations:
            reply["observation"] = observation
        return reply

    def tick(
        self, actions: dict | None = None, external: dict | None = None, render: bool = True
    ) -> dict:
        """One step: AI actions, env step, render and HUD; see the module docstring.

        ``render=False`` skips the render and the HUD (``render`` and ``hud`` are None): a
        frame re-simulated by the netcode is never shown.
        """
        if self.done:
            raise OperationError("the episode is over: call startEpisode first")
        policy_started = time.perf_counter()
        chosen = self._choose(actions or {}, external or {})
        policy_ms = (time.perf_counter() - policy_started) * 1000
        env_actions: Any = (
            {self.agents[k]: a for k, a in chosen.items()}
            if self.multi_agent
            else next(iter(chosen.values()))
        )
        stepped = self.host.step(env_actions)
        observation, reward, info = stepped["observation"], stepped["reward"], stepped["info"]
        terminated, truncated = stepped["terminated"], stepped["truncated"]
        self.t += 1
        ended = episode_flag(terminated)
        cut = episode_flag(truncated)
        limit = self.max_steps is not None and self.t >= self.max_steps and not (ended or cut)
        self.done = ended or cut or limit
        frame = self.host.frame() if render else None
        self.observation = observation
        reply = {
            "step": self.t - 1,
            "actions": chosen,
            "reward": reward,
            "terminated": ended,
            "truncated": cut or limit,
            "maxStepsReached": limit,
            "done": self.done,
            "info": info,
            "render": frame,
            "hud": self._hud() if render else None,
            "policyMs": policy_ms,
        }
        if self.record_observations:
            reply["observation"] = observation
        every = self.state_hash_every
        if every is not None and (self.done or self.t % every == 0):
            reply["stateHash"] = self._state_hash()
        return reply

    def _state_hash(self) -> str:
        """:func:`~.hashing.env_state_hash` now; its time is not the step's ``env_ms``."""
        env_ms = self.host.env_ms
        try:
            return env_state_hash(self.host)
        finally:
            self.host.env_ms = env_ms

    def view(self) -> dict[str, Any]:
        """The current frame and HUD text: ``{render, hud}``."""
        return {"render": self.host.frame(), "hud": self._hud()}

    # saved state (netcode.py) -----------------------------------------------------------------

    def save(self) -> dict[str, Any]:
        """The game's own state as plain data: ``{t, done, observation, rngs}``.

        ``observation`` is kept (by scene agent key when multi-agent) only when a Python policy
        reads it, else None; ``rngs`` holds the generators that are drawn from (random agents
        and random stand-ins), each as ``getstate()`` in lists. The env's state is not here:
        ``netcode.py`` takes it with ``EnvHost.get_state``.
        """
        observation = None
        if self.keeps_observation:
            if self.multi_agent:
                observation = {
                    key: to_plain(
                        self._observation_of(key),
                        strict=True,
                        path=f"the observation of agent {key!r}",
                    )
                    for key in self.agents
                }
            else:
                observation = to_plain(self.observation, strict=True, path="the observation")
        rngs: dict[str, Any] = {}
        for key in self.drawn:
            rng = self.rngs.get(key)
            if rng is not None:
                version, internal, gauss = rng.getstate()
                rngs[key] = [version, list(internal), gauss]
        return {"t": self.t, "done": self.done, "observation": observation, "rngs": rngs}

    def load(self, saved: Any) -> None:
        """Take back what :meth:`save` returned (also after a trip through JSON)."""
        try:
            t, done, observation, rngs = (
                saved["t"], saved["done"], saved["observation"], saved["rngs"]
            )  # fmt: skip
            states = {}
            for key, state in rngs.items():
                if key not in self.agents:
                    raise ValueError(f"rngs has agent {key!r}, which the game does not have")
                version, internal, gauss = state
                states[key] = (version, tuple(internal), gauss)
            if type(t) is not int or type(done) is not bool:
                raise ValueError("t must be an int and done a bool")
        except (KeyError, TypeError, ValueError) as error:
            raise OperationError(
                f"the saved game state is malformed ({type(error).__name__}: {error}); "
                "expected {t, done, observation, rngs} as save() returns it"
            ) from error
        for key, state in states.items():
            rng = self.rngs.get(key) or random.Random()
            rng.setstate(state)
            self.rngs[key] = rng
        if self.multi_agent and isinstance(observation, dict):
            observation = {self.agents.get(k, k): v for k, v in observation.items()}
        self.observation = observation
        self.t = t
        self.done = done

    def onnx_observations(self) -> dict[str, Any]:
        """The current observation of every ONNX agent, for the worker's ONNX hook."""
        return {
            key: to_plain(self._observation_of(key))
            for key, kind in self.kinds.items()
            if kind == "onnx"
        }

    # helpers ------------------------------------------------------------------------------

    def _observation_of(self, key: str) -> Any:
        if self.multi_agent and isinstance(self.observation, dict):
            return self.observation.get(self.agents[key])
        return self.observation

    def _choose(self, actions: dict, external: dict) -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        for key, kind in self.kinds.items():
            if kind == "human":
                action = actions.get(key)
                if action is not None:
                    chosen[key] = action
                elif key in self.stand_ins:  # no action, or None: the stand-in plays
                    policy = self.stand_ins[key]
                    chosen[key] = self._random(key) if policy is None else self._call(key, policy)
                else:
                    raise OperationError(
                        f"tick: no action for the human agent {key!r} and no stand-in"
                    )
            elif kind == "random":
                chosen[key] = self._random(key)
            elif kind == "onnx":
                if key not in external:
                    raise OperationError(f"tick: the ONNX policy of agent {key!r} gave no action")
                chosen[key] = external[key]
            else:
                chosen[key] = self._call_policy(key)
        return chosen

    def _random(self, key: str) -> int:
        if self.num_actions is None:
            raise OperationError(
                f"agents[{key!r}] is 'random' but the number of actions is unknown; "
                "give the env num_actions or the scene num_actions"
            )
        return self.rngs[key].randrange(self.num_actions)

    def _call_policy(self, key: str) -> Any:
        return self._call(key, self.policies[key])

    def _call(self, key: str, policy: Callable[..., Any]) -> Any:
        agent_id = self.agents[key] if self.multi_agent else key
        try:
            action = policy(self._observation_of(key), agent_id)
        except Exception as error:
            raise PolicyError(
                f"the policy of agent {key!r} raised {type(error).__name__}: {error}"
            ) from error
        return to_plain(action, strict=True, path=f"the action of agent {key!r}")

    def _hud(self) -> str | None:
        if self.hud_function is None:
            return None
        text = self.hud_function(self.env)
        return None if text is None else str(text)


# -- the worker's game operations (registered with handler.register) ---------------------------

_game: GameHost | None = None


def _setup_game(host: EnvHost, args: Any) -> Any:
    global _game
    _game = GameHost(host, **kwargs_of(args, "setupGame"))
    return _game.describe()


def current_game() -> GameHost:
    """The game ``setupGame`` built last (extensions such as ``netcode.py`` play on it)."""
    if _game is None:
        raise OperationError("no game yet: call setupGame first")
    return _game


OPERATIONS: dict[str, Callable[[EnvHost, Any], Any]] = {
    "setupGame": _setup_game,
    "startEpisode": lambda host, a: current_game().start_episode(**kwargs_of(a, "startEpisode")),
    "tick": lambda host, a: current_game().tick(**kwargs_of(a, "tick")),
    "onnxObservations": lambda host, a: current_game().onnx_observations(),
}
