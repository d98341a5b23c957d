"""The entry point the Pyodide worker calls: one operation in, one plain-data reply out.

``pyodide_worker.js`` (its other half) imports this module inside Pyodide and calls
:func:`handle` once per request. Environment operations are :data:`env_host.ENV_OPERATIONS`;
a layer above the environment (the game scene, ``game_host.py``) adds its own with
:func:`register` when the worker loads it, so this module knows nothing of games. Every reply
is converted to plain data here, once, so no ``PyProxy`` ever leaves the worker. Errors never
escape as exceptions: :func:`handle` returns ``{"ok": False, "error": ...}`` with the Python
type, message and traceback, and the environment stays usable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import plain
from .env_host import ENV_OPERATIONS, BatchError, EnvHost, OperationError, describe_error

Operation = Callable[[EnvHost, Any], Any]

#: The host of this interpreter's environment (one per worker).
HOST = EnvHost()
#: Every operation :func:`handle` answers, by name.
OPERATIONS: dict[str, Operation] = dict(ENV_OPERATIONS)


def register(operations: dict[str, Operation]) -> None:
    """Answer more operations (a layer above the environment); names must be new."""
    taken = sorted(set(operations) & set(OPERATIONS))
    if taken:
        raise ValueError(f"operations already registered: {taken}")
    OPERATIONS.update(operations)


def run(op: str, args: Any) -> Any:
    """Run one operation with the argument shape the protocol defines for it."""
    method = OPERATIONS.get(op)
    if method is None:
        raise OperationError(f"unknown operation {op!r}; expected one of {sorted(OPERATIONS)}")
    return method(HOST, args)


def handle(op: str, payload: Any, convert: Callable[[Any], Any] | None = None) -> Any:
    """Run one operation; return ``{"ok", "value" | "error", "envMs"}``.

    ``payload`` may be a JsProxy (converted with ``to_py``); ``convert`` turns the reply
    into a JavaScript object in the worker (``to_js``); in CPython tests it is omitted.
    """
    HOST.env_ms = 0.0
    try:
        if hasattr(payload, "to_py"):
            payload = plain.from_js(payload.to_py())
        # Operations return Python values; they are converted once, here.
        value = run(op, payload)
        if isinstance(value, plain.Converted):
            value = value.value
        else:
            value = plain.to_plain(value, path=op)
        reply: dict[str, Any] = {"ok": True, "value": value}
    except BatchError as error:
        details = describe_error(error.cause)
        details.update(opIndex=error.index, op=error.op)
        reply = {"ok": False, "error": details, "results": plain.to_plain(error.results)}
    except BaseException as error:  # KeyboardInterrupt too: the worker must stay usable
        reply = {"ok": False, "error": describe_error(error)}
    reply["envMs"] = HOST.env_ms if math.isfinite(HOST.env_ms) else None
    return convert(reply) if convert else reply
