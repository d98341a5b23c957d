"""Values as the browser records them, compared with a tolerance, and shown in reasons.

A value the environment returns travels ``runtime.plain.to_plain`` → Pyodide's ``to_js`` (dict
keys become strings, integers beyond 2**53 become BigInt) → ``jsonSafe`` in ``record.js``
(NaN and infinities become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, BigInt a
Number, bytes a list of numbers) → JSON → the database. :func:`browser_value` does the same to a
plain value, so it can be compared with what was stored.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Numbers agree when ``math.isclose(recorded, replayed, rel_tol=REL_TOL, abs_tol=ABS_TOL)``.
REL_TOL = 1e-9
ABS_TOL = 1e-9
#: ``Number.MAX_SAFE_INTEGER``: larger integers reach JavaScript as BigInt, then a Number.
MAX_SAFE_INTEGER = 2**53 - 1


class _Missing:
    """A key a dict does not have (shown as "nothing")."""

    def __repr__(self) -> str:
        return "nothing"


MISSING: Any = _Missing()


def browser_value(value: Any) -> Any:
    """What a plain value (``to_plain`` output) is once the browser has recorded it."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else browser_value(_float(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, bytes | bytearray):
        return list(value)
    if isinstance(value, list | tuple):
        return [browser_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): browser_value(v) for k, v in value.items()}
    return str(value)


def through_js(value: Any) -> Any:
    """A JSON value as Pyodide's ``to_py`` hands it to Python: integral numbers become ints.

    The scene's ``env_config`` reaches the worker this way, so ``2.0`` arrives as ``2``.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
        return int(value)
    if isinstance(value, list | tuple):
        return [through_js(v) for v in value]
    if isinstance(value, dict):
        return {k: through_js(v) for k, v in value.items()}
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _close(a: float, b: float) -> bool:
    try:
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    except OverflowError:  # an integer beyond any float
        return a == b


def _float(value: float) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def first_difference(recorded: Any, replayed: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """``(path, recorded part, replayed part)`` of the first place two values differ, or None.

    Numbers agree within the tolerance (ints and floats alike); booleans, strings and None must
    be equal; lists must have the same length; dicts the same keys.
    """
    if _number(replayed) and _number(recorded):
        return None if _close(recorded, replayed) else (path, recorded, replayed)
    if isinstance(replayed, list):
        if not isinstance(recorded, list) or len(recorded) != len(replayed):
            return path, recorded, replayed
        for i, (r, e) in enumerate(zip(recorded, replayed, strict=True)):
            found = first_difference(r, e, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(replayed, dict):
        if not isinstance(recorded, dict):
            return path, recorded, replayed
        for key, e in replayed.items():
            found = first_difference(recorded.get(key, MISSING), e, f"{path}[{key!r}]")
            if found:
                return found
        extra = next((k for k in recorded if k not in replayed), MISSING)
        if extra is not MISSING:
            return f"{path}[{extra!r}]", recorded[extra], MISSING
        return None
    if type(recorded) is type(replayed) and recorded == replayed:
        return None
    return path, recorded, replayed


def show(value: Any, limit: int = 60) -> str:
    """A short text of a value for a reason: ``1.0``, ``True``, ``'NaN'``, ``[0.1, 0.2, …]``."""
    if value is MISSING or value is None or isinstance(value, bool | int | float | str):
        text = repr(value)
    else:
        text = json.dumps(value, separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# -- the score the page adds up (record.js: scoreOf, Returns) ---------------------------------


def js_number(value: Any) -> float:
    """JavaScript's ``Number(value) || 0`` of a reward as it reaches the page (or as recorded)."""
    if isinstance(value, bool):
        number = float(value)
    elif _number(value):
        number = _float(value)
    elif isinstance(value, str):
        text = value.strip()
        special = {"Infinity": math.inf, "+Infinity": math.inf, "-Infinity": -math.inf}
        try:
            number = special[text] if text in special else float(text) if text else 0.0
        except ValueError:
            number = 0.0
        if text.lower().lstrip("+-") in ("inf", "infinity", "nan") and text not in special:
            number = 0.0  # Python reads these words; JavaScript's Number() does not
    else:
        number = 0.0
    return 0.0 if math.isnan(number) else number


def _entries(reward: Any) -> list[tuple[str, Any]]:
    """``Object.entries`` of an object or array reward."""
    if isinstance(reward, dict):
        return [(str(k), v) for k, v in reward.items()]
    if isinstance(reward, list):
        return [(str(i), v) for i, v in enumerate(reward)]
    return []


def score_of(reward: Any, human: str | None, multi_agent: bool) -> float:
    """``scoreOf`` in record.js: the human's reward (single agent: the reward; no human: sum)."""
    if not multi_agent or _number(reward):
        return js_number(reward)
    if not isinstance(reward, dict | list):
        return 0.0
    entries = dict(_entries(reward))
    if human is not None:
        return js_number(entries.get(str(human)))
    total = 0.0
    for _, r in _entries(reward):
        total += js_number(r)
    return total


def add_returns(by_agent: dict[str, float], reward: Any, multi_agent: bool) -> None:
    """``Returns.add`` in record.js: per-agent sums of object rewards (multi-agent only)."""
    if multi_agent and isinstance(reward, dict | list):
        for agent, r in _entries(reward):
            by_agent[agent] = by_agent.get(agent, 0.0) + js_number(r)
