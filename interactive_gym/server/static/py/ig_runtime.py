"""The Python side of the Pyodide worker: hosts one environment and answers operations.

``pyodide_worker.js`` imports this module inside Pyodide and calls :func:`handle` once per
request. Everything that crosses back to JavaScript is plain data (dicts, lists, numbers,
strings, booleans, None, bytes), converted here once, so no ``PyProxy`` ever leaves the
worker. Errors never escape as exceptions: :func:`handle` returns ``{"ok": False, "error":
...}`` with the Python type, message and traceback, and the environment stays usable.

The module has no Pyodide imports at top level, so its logic can be tested in CPython too.
"""

from __future__ import annotations

import dataclasses
import importlib
import linecache
import math
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

ENV_FILENAME = "<environment>"

# -- conversion to plain data ----------------------------------------------------------------


class ConversionError(TypeError):
    """A value cannot be sent to the browser as plain data."""


_SCALARS = (str, int, float, bool)
_KEYS = (str, int)

#: What ``None`` becomes. The worker sets this to Pyodide's ``jsnull`` so that ``None`` arrives
#: in JavaScript as ``null`` (``to_js`` alone would make it ``undefined``).
NULL: Any = None


def to_plain(value: Any, *, strict: bool = False, path: str = "value") -> Any:
    """Convert ``value`` to data the browser can receive without any proxy.

    Tuples and sets become lists; numpy-like arrays become nested lists (``tolist``) and
    numpy-like scalars numbers (``item``); dataclasses become dicts; dict keys stay ``str`` or
    ``int`` (other keys become ``str``). Anything else becomes its ``repr`` unless ``strict``,
    in which case :class:`ConversionError` names where in ``value`` (``path``) it is.
    """
    try:
        return _plain(value, strict)
    except ConversionError:
        _locate(value, path)  # this runs only on failure: it builds the path strings
        raise


def _plain(value: Any, strict: bool) -> Any:
    """The conversion itself; this is on every step's path, so it builds no strings."""
    if value is None or value is NULL:
        return NULL
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        return [_plain(v, strict) for v in value]
    if kind is dict:
        return {(k if type(k) in _KEYS else str(k)): _plain(v, strict) for k, v in value.items()}
    if isinstance(value, _SCALARS):  # subclasses: IntEnum, str enums
        return _base_scalar(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (set, frozenset)):
        return [_plain(v, strict) for v in sorted(value, key=repr)]
    if isinstance(value, (list, tuple, dict)):
        return _plain(dict(value) if isinstance(value, dict) else list(value), strict)
    if callable(getattr(value, "tolist", None)):  # numpy arrays and scalars
        return _plain(value.tolist(), strict)
    if callable(getattr(value, "item", None)):
        return _plain(value.item(), strict)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), strict)
    if strict:
        raise ConversionError(type(value).__name__)
    return repr(value)


def _locate(value: Any, path: str) -> None:
    """Raise a ConversionError naming the path of the first value that cannot be sent."""
    try:
        _plain(value, True)
    except ConversionError:
        pass
    else:
        return
    items: Any = ()
    if isinstance(value, dict):
        items = ((f"{path}[{k!r}]", v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    for inner_path, inner in items:
        _locate(inner, inner_path)
    raise ConversionError(
        f"{path} is a {type(value).__name__}, which cannot be sent to the browser; "
        f"use dicts, lists, numbers, strings, booleans and None"
    )


def _base_scalar(value: Any) -> Any:
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    return value


def from_js(value: Any) -> Any:
    """Give JavaScript ``null`` (``to_py`` leaves it as ``jsnull``) back as ``None``."""
    if NULL is None:
        return value
    if value is NULL:
        return None
    if type(value) is dict:
        return {k: from_js(v) for k, v in value.items()}
    if type(value) is list:
        return [from_js(v) for v in value]
    return value


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
    ) -> dict[str, Any]:
        """Create the environment from source (or an installed module).

        The source defines either a module-level ``env`` or a ``make_env(**config)`` factory;
        ``globals`` are injected into its namespace before it runs.
        """
        config = config or {}
        if not isinstance(config, dict):
            raise OperationError(f"initEnv config must be an object, got {type(config).__name__}")
        if (code is None) == (module is None):
            raise OperationError("initEnv needs exactly one of 'code' (Python source) or 'module'")
        if code is not None:
            if not isinstance(code, str):
                raise OperationError(f"initEnv code must be a string, got {type(code).__name__}")
            namespace = types.ModuleType("ig_env")
            namespace.__file__ = filename
            namespace.__dict__.update(globals or {})
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            sys.modules["ig_env"] = namespace
            exec(compile(code, filename, "exec"), namespace.__dict__)
        else:
            namespace = importlib.import_module(str(module))
            namespace.__dict__.update(globals or {})
        factory = getattr(namespace, "make_env", None)
        if callable(factory):
            env = factory(**config)
        elif hasattr(namespace, "env"):
            if config:
                raise OperationError(
                    "initEnv got a config but the code defines `env`, not `make_env(**config)`"
                )
            env = namespace.env
        else:
            raise OperationError(
                "the environment code defines neither `env` nor `make_env(**config)`"
            )
        for method in ("reset", "step"):
            if not callable(getattr(env, method, None)):
                raise OperationError(f"the environment {type(env).__name__} has no {method}()")
        self.env, self.namespace = env, namespace
        self._learn_agents(getattr(env, "possible_agents", None) or getattr(env, "agents", None))
        return {
            "envClass": type(env).__name__,
            "agents": to_plain(list(self.agent_keys.values())),
            "hasState": callable(getattr(env, "get_state", None))
            and callable(getattr(env, "set_state", None)),
            "hasRender": callable(getattr(env, "render", None)),
        }

    def reset(self, seed: int | None = None, options: dict | None = None) -> dict[str, Any]:
        env = self._require_env()
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
        env = self._require_env()
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
        env = self._require_env()
        if not callable(getattr(env, "render", None)):
            raise OperationError(f"the environment {type(env).__name__} has no render()")
        started = time.perf_counter()
        frame = env.render()
        self.env_ms += (time.perf_counter() - started) * 1000
        return frame

    def get_state(self) -> Any:
        env = self._require_env()
        if not callable(getattr(env, "get_state", None)):
            raise OperationError(
                f"the environment {type(env).__name__} does not implement get_state()"
            )
        started = time.perf_counter()
        state = env.get_state()
        self.env_ms += (time.perf_counter() - started) * 1000
        return to_plain(state, strict=True, path="get_state()")

    def set_state(self, state: Any = None) -> None:
        env = self._require_env()
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
        method = OPERATIONS.get(op)
        if method is None:
            raise OperationError(f"unknown operation {op!r}; expected one of {sorted(OPERATIONS)}")
        return method(self, args)

    # helpers ---------------------------------------------------------------------------------

    def _require_env(self) -> Any:
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


def _kwargs(args: Any, name: str) -> dict:
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


# -- game scenes: ig_game.GameHost (its source arrives with setupGame) -------------------------

GAME: Any = None


def _setup_game(host: EnvHost, args: Any) -> Any:
    """Load ``ig_game`` from ``gameModuleSource`` (once) and set up the scene's GameHost."""
    global GAME
    spec = dict(_kwargs(args, "setupGame"))
    source = spec.pop("gameModuleSource", None)
    if source is not None and "ig_game" not in sys.modules:
        module = types.ModuleType("ig_game")
        module.__file__ = "ig_game.py"
        sys.modules["ig_game"] = module
        exec(compile(source, "ig_game.py", "exec"), module.__dict__)
    if "ig_game" not in sys.modules:
        raise OperationError("setupGame needs gameModuleSource (the source of ig_game.py)")
    GAME = sys.modules["ig_game"].GameHost(host, **spec)
    return GAME.describe()


def _game() -> Any:
    if GAME is None:
        raise OperationError("no game yet: call setupGame first")
    return GAME


OPERATIONS: dict[str, Callable[[EnvHost, Any], Any]] = {
    "setupGame": _setup_game,
    "startEpisode": lambda host, a: _game().start_episode(**_kwargs(a, "startEpisode")),
    "tick": lambda host, a: _game().tick(**_kwargs(a, "tick")),
    "onnxObservations": lambda host, a: _game().onnx_observations(),
    "initEnv": lambda host, a: host.init_env(**_kwargs(a, "initEnv")),
    "reset": lambda host, a: host.reset(**_kwargs(a, "reset")),
    "step": _step,
    "render": lambda host, a: host.render(),
    "getState": lambda host, a: host.get_state(),
    "setState": lambda host, a: host.set_state(a),
    "batch": lambda host, a: host.batch(a),
}
BATCH_OPS = frozenset({"reset", "step", "render", "getState", "setState"})


# -- the entry point the worker calls ----------------------------------------------------------

HOST = EnvHost()


def handle(op: str, payload: Any, convert: Callable[[Any], Any] | None = None) -> Any:
    """Run one operation; return ``{"ok", "value" | "error", "envMs"}``.

    ``payload`` may be a JsProxy (converted with ``to_py``); ``convert`` turns the reply
    into a JavaScript object in the worker (``to_js``); in CPython tests it is omitted.
    """
    HOST.env_ms = 0.0
    try:
        if hasattr(payload, "to_py"):
            payload = from_js(payload.to_py())
        # Operations return Python values; they are converted once, here.
        reply: dict[str, Any] = {"ok": True, "value": to_plain(HOST.run(op, payload), path=op)}
    except BatchError as error:
        details = describe_error(error.cause)
        details.update(opIndex=error.index, op=error.op)
        reply = {"ok": False, "error": details, "results": to_plain(error.results)}
    except BaseException as error:  # KeyboardInterrupt too: the worker must stay usable
        reply = {"ok": False, "error": describe_error(error)}
    reply["envMs"] = HOST.env_ms if math.isfinite(HOST.env_ms) else None
    return convert(reply) if convert else reply
