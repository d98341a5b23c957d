"""The environment host: one environment, created from source, a module, an id or a factory.

:class:`EnvHost` answers the worker's environment operations (``initEnv``, ``reset``,
``step``, ``render``, ``getState``, ``setState``, ``batch``); ``handler.py`` dispatches them
and converts the replies. The game host (``game_host.py``) plays episodes on an EnvHost through
its public methods. Nothing here imports Pyodide, so the server runtime and the tests import
it in CPython.
"""

from __future__ import annotations

import importlib
import linecache
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

from .plain import to_plain

ENV_FILENAME = "<environment>"

# -- errors ----------------------------------------------------------------------------------


def describe_error(error: BaseException) -> dict[str, Any]:
    """The parts of an exception the browser needs: type, message and formatted traceback."""
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
    }


class OperationError(Exception):
    """An operation was asked for in a way that cannot work (bad arguments, no env…)."""


# -- where an environment comes from ---------------------------------------------------------


def _run_source(code: Any, filename: str, globals: dict | None) -> types.ModuleType:  # noqa: A002
    if not isinstance(code, str):
        raise OperationError(f"initEnv code must be a string, got {type(code).__name__}")
    namespace = types.ModuleType("ig_env")
    namespace.__file__ = filename
    namespace.__dict__.update(globals or {})
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    sys.modules["ig_env"] = namespace
    exec(compile(code, filename, "exec"), namespace.__dict__)
    return namespace


def _env_of(namespace: types.ModuleType, config: dict) -> Any:
    factory = getattr(namespace, "make_env", None)
    if callable(factory):
        return factory(**config)
    if hasattr(namespace, "env"):
        if config:
            raise OperationError(
                "initEnv got a config but the code defines `env`, not `make_env(**config)`"
            )
        return namespace.env
    raise OperationError("the environment code defines neither `env` nor `make_env(**config)`")


def _make_registered(env_id: str, config: dict) -> Any:
    try:
        import gymnasium
    except ImportError as error:
        raise OperationError(
            f"env_id {env_id!r} needs the gymnasium package, which is not installed"
        ) from error
    return gymnasium.make(env_id, render_mode="rgb_array", **config)


def _call_factory(reference: str, config: dict) -> Any:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise OperationError(f"env_factory {reference!r} must look like 'package.module:callable'")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise OperationError(f"env_factory {reference!r}: {module_name} has no {attribute}")
    if not callable(target):
        raise OperationError(f"env_factory {reference!r} is not callable")
    return target(**config)


# -- the environment host ----------------------------------------------------------------------


class EnvHost:
    """Owns one environment and runs the worker's operations on it."""

    def __init__(self) -> None:
        self.env: Any = None
        self.namespace: types.ModuleType | None = None
        self.agent_keys: dict[str, Any] = {}
        self.env_ms = 0.0  # time spent inside the environment's own methods, last operation

    # operations -----------------------------------------------------------------------------

    def init_env(
        self,
        code: str | None = None,
        config: dict | None = None,
        globals: dict | None = None,  # noqa: A002 - the protocol's name
        module: str | None = None,
        filename: str = ENV_FILENAME,
        env_id: str | None = None,
        factory: str | None = None,
    ) -> dict[str, Any]:
        """Create the environment; exactly one of four sources names it.

        - ``code``: Python source defining a module-level ``env`` or ``make_env(**config)``;
          ``globals`` are injected into its namespace before it runs.
        - ``module``: an importable module defining the same.
        - ``env_id``: a Gymnasium registry id, made with ``render_mode="rgb_array"`` and
          ``config`` as keyword arguments (the server runtime; Gymnasium must be installed).
        - ``factory``: ``"package.module:callable"``, called with ``config`` as keyword
          arguments; it returns a Gymnasium env, a PettingZoo ``ParallelEnv`` or an env that
          follows :class:`~interactive_gym.runtime.contract.Env`.
        """
        config = config or {}
        if not isinstance(config, dict):
            raise OperationError(f"initEnv config must be an object, got {type(config).__name__}")
        given = [n for n, v in (("code", code), ("module", module), ("env_id", env_id),
                                ("factory", factory)) if v is not None]  # fmt: skip
        if len(given) != 1:
            raise OperationError(
                "initEnv needs exactly one of 'code' (Python source), 'module', 'env_id' or "
                f"'factory'; got {given or 'none'}"
            )
        namespace: types.ModuleType | None = None
        if env_id is not None:
            env = _make_registered(str(env_id), config)
        elif factory is not None:
            env = _call_factory(str(factory), config)
        else:
            if code is not None:
                namespace = _run_source(code, filename, globals)
            else:
                namespace = importlib.import_module(str(module))
                namespace.__dict__.update(globals or {})
            env = _env_of(namespace, config)
        for method in ("reset", "step"):
            if not callable(getattr(env, method, None)):
                raise OperationError(f"the environment {type(env).__name__} has no {method}()")
        self.env, self.namespace = env, namespace
        self._learn_agents(getattr(env, "possible_agents", None) or getattr(env, "agents", None))
        return self.describe()

    def describe(self) -> dict[str, Any]:
        """What ``initEnv`` answers: the env's class, agents and optional methods."""
        env = self.require_env()
        return {
            "envClass": type(env).__name__,
            "agents": to_plain(list(self.agent_keys.values())),
            "hasState": callable(getattr(env, "get_state", None))
            and callable(getattr(env, "set_state", None)),
            "hasRender": callable(getattr(env, "render", None)),
        }

    def function(self, name: str) -> Any:
        """A function defined by the environment's source or module, or None."""
        return getattr(self.namespace, name, None) if self.namespace is not None else None

    def reset(self, seed: int | None = None, options: dict | None = None) -> dict[str, Any]:
        env = self.require_env()
        started = time.perf_counter()
        result = env.reset(seed=seed, options=options)
        self.env_ms += (time.perf_counter() - started) * 1000
        if isinstance(result, tuple) and len(result) == 2:
            observation, info = result
        else:  # older Gym API: reset returns the observation alone
            observation, info = result, {}
        if not self.agent_keys and isinstance(observation, dict):
            self._learn_agents([k for k in observation if not isinstance(k, str)])
        return {"observation": observation, "info": info}

    def step(self, actions: Any = None, render: bool = False) -> dict[str, Any]:
        env = self.require_env()
        actions = self.restore_agent_keys(actions)
        started = time.perf_counter()
        result = env.step(actions)
        if not isinstance(result, tuple) or len(result) != 5:
            raise OperationError(
                f"{type(env).__name__}.step() must return (observation, reward, terminated, "
                f"truncated, info), got {type(result).__name__}"
                + (f" of length {len(result)}" if isinstance(result, tuple) else "")
            )
        frame = env.render() if render else None
        self.env_ms += (time.perf_counter() - started) * 1000
        observation, reward, terminated, truncated, info = result
        reply = {
            "observation": observation,
            "reward": reward,
            "terminated": terminated,
            "truncated": truncated,
            "info": info,
        }
        if render:
            reply["render"] = frame
        return reply

    def render(self) -> Any:
        env = self.require_env()
        if not callable(getattr(env, "render", None)):
            raise OperationError(f"the environment {type(env).__name__} has no render()")
        started = time.perf_counter()
        frame = env.render()
        self.env_ms += (time.perf_counter() - started) * 1000
        return frame

    def frame(self) -> Any:
        """The env's rendered frame, or None when it has no ``render()`` (timed as env time)."""
        render = getattr(self.require_env(), "render", None)
        if not callable(render):
            return None
        started = time.perf_counter()
        frame = render()
        self.env_ms += (time.perf_counter() - started) * 1000
        return frame

    def get_state(self) -> Any:
        env = self.require_env()
        if not callable(getattr(env, "get_state", None)):
            raise OperationError(
                f"the environment {type(env).__name__} does not implement get_state()"
            )
        started = time.perf_counter()
        state = env.get_state()
        self.env_ms += (time.perf_counter() - started) * 1000
        return to_plain(state, strict=True, path="get_state()")

    def set_state(self, state: Any = None) -> None:
        env = self.require_env()
        if not callable(getattr(env, "set_state", None)):
            raise OperationError(
                f"the environment {type(env).__name__} does not implement set_state()"
            )
        started = time.perf_counter()
        env.set_state(state)
        self.env_ms += (time.perf_counter() - started) * 1000
        return None

    def batch(self, ops: list) -> list[Any]:
        """Run ``[{op, args}, ...]`` back to back; stop at the first error (see BatchError)."""
        if not isinstance(ops, list):
            raise OperationError(f"batch needs a list of operations, got {type(ops).__name__}")
        results: list[Any] = []
        for index, item in enumerate(ops):
            name = item.get("op") if isinstance(item, dict) else None
            try:
                if name not in BATCH_OPS:
                    raise OperationError(
                        f"batch operation {index} is {name!r}; expected one of {sorted(BATCH_OPS)}"
                    )
                results.append(self.run(name, item.get("args")))
            except BaseException as error:
                raise BatchError(index, str(name), results, error) from error
        return results

    # dispatch ------------------------------------------------------------------------------------

    def run(self, op: str, args: Any) -> Any:
        """Run one operation with the argument shape the protocol defines for it."""
        method = ENV_OPERATIONS.get(op)
        if method is None:
            raise OperationError(
                f"unknown operation {op!r}; expected one of {sorted(ENV_OPERATIONS)}"
            )
        return method(self, args)

    # helpers ---------------------------------------------------------------------------------

    def require_env(self) -> Any:
        """The environment; an OperationError before ``initEnv``."""
        if self.env is None:
            raise OperationError("no environment yet: call initEnv first")
        return self.env

    def _learn_agents(self, agents: Any) -> None:
        if agents:
            self.agent_keys = {str(a): a for a in agents}

    def restore_agent_keys(self, actions: Any) -> Any:
        """JS object keys are strings: give agent ids back their Python type (``"0"`` → ``0``)."""
        if isinstance(actions, dict) and self.agent_keys:
            return {self.agent_keys.get(k, k) if isinstance(k, str) else k: v
                    for k, v in actions.items()}  # fmt: skip
        return actions


class BatchError(Exception):
    """A batch stopped at ``index`` (operation ``op``); ``results`` holds the ones before."""

    def __init__(self, index: int, op: str, results: list, cause: BaseException) -> None:
        super().__init__(f"batch operation {index} ({op}) failed: {type(cause).__name__}: {cause}")
        self.index, self.op, self.results, self.cause = index, op, results, cause


def kwargs_of(args: Any, name: str) -> dict:
    """An operation's arguments as keyword arguments (None: none)."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise OperationError(f"{name} arguments must be an object, got {type(args).__name__}")
    return args


def _step(host: EnvHost, args: Any) -> Any:
    """``step`` takes ``{actions, render}``; in a batch a bare action value is accepted too."""
    if isinstance(args, dict) and "actions" in args:
        return host.step(args["actions"], bool(args.get("render", False)))
    return host.step(args)


ENV_OPERATIONS: dict[str, Callable[[EnvHost, Any], Any]] = {
    "initEnv": lambda host, a: host.init_env(**kwargs_of(a, "initEnv")),
    "reset": lambda host, a: host.reset(**kwargs_of(a, "reset")),
    "step": _step,
    "render": lambda host, a: host.render(),
    "getState": lambda host, a: host.get_state(),
    "setState": lambda host, a: host.set_state(a),
    "batch": lambda host, a: host.batch(a),
}
BATCH_OPS = frozenset({"reset", "step", "render", "getState", "setState"})
