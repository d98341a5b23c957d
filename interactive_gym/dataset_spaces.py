"""The observation and action spaces of a dataset: declared by the env, or inferred from the data.

The other half: :mod:`interactive_gym.minari_dataset`, which writes the episodes with these
spaces. Needs ``numpy`` and ``gymnasium`` (the ``minari`` extra brings both).

Values come as the browser records them (``replay._values.browser_value``): dict keys are
text, tuples are lists, and NaN and the infinities are the strings ``"NaN"``, ``"Infinity"``
and ``"-Infinity"`` (read back as numbers wherever a number belongs).

:func:`infer_space` gives every part of the values the narrowest space that holds it the same
way at every step, and falls back to JSON text for a part that changes shape:

- numbers (and rectangular lists of numbers) of one shape: ``Box(-inf, inf, shape, float64)``;
- booleans of one shape: ``MultiBinary(shape)`` (``Discrete(2)`` for a single one);
- dicts with the same keys: ``Dict`` of each key's space;
- lists of one length holding anything else: ``Tuple`` of each position's space;
- anything else (None, text, a list whose length changes, a dict whose keys change, a number
  that is sometimes a list): ``Text`` whose value at each step is that part's JSON.

:func:`infer_action_space`: whole numbers from 0 are ``Discrete(n)``, ``n`` the game's number of
actions (or the largest recorded action + 1 when the game does not know it); other actions are
inferred like observations. :func:`columns` turns a list of values into what a Minari episode
buffer holds for a space (arrays, and dicts/tuples of them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

#: How the browser records NaN and the infinities (``jsonSafe`` in ``game/record.js``).
SPECIAL_NUMBERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class SpaceError(ValueError):
    """Values that do not fit a space (or a space that cannot be used); names where."""


def is_number(value: Any) -> bool:
    """A number as recorded: int or float (not bool), or one of :data:`SPECIAL_NUMBERS`."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (isinstance(value, str) and value in SPECIAL_NUMBERS)


def number(value: Any) -> float:
    """A recorded number as a float (``"NaN"`` → nan); raises SpaceError for anything else."""
    if isinstance(value, str) and value in SPECIAL_NUMBERS:
        return SPECIAL_NUMBERS[value]
    if not is_number(value):
        raise SpaceError(f"{value!r} is not a number")
    return float(value)


def _shape(value: Any, leaf: Any) -> tuple[int, ...] | None:
    """The shape of ``value`` as a rectangular array whose leaves all pass ``leaf``, or None."""
    if not isinstance(value, list):
        return () if leaf(value) else None
    if not value:
        return (0,)
    inner = [_shape(v, leaf) for v in value]
    first = inner[0]
    if first is None or any(s != first for s in inner):
        return None
    return (len(value), *first)


def _same_shape(values: Sequence[Any], leaf: Any) -> tuple[int, ...] | None:
    shapes = {_shape(v, leaf) for v in values}
    if len(shapes) != 1:
        return None
    return shapes.pop()


def json_text(value: Any) -> str:
    """A value's JSON text (compact, keys in recorded order, NaN as its recorded string)."""
    from interactive_gym.replay._values import browser_value

    return json.dumps(browser_value(value), separators=(",", ":"), ensure_ascii=False)


def text_space(values: Sequence[Any]) -> spaces.Text:
    """A Text space holding every value's JSON (its characters and length)."""
    texts = [json_text(v) for v in values]
    characters = "".join(sorted(set("".join(texts))))
    return spaces.Text(max_length=max(len(t) for t in texts), min_length=1, charset=characters)


def infer_space(values: Sequence[Any]) -> spaces.Space[Any]:
    """The narrowest space holding every value the same way (see the module docstring)."""
    if not values:
        raise SpaceError("no values to infer a space from")
    shape = _same_shape(values, is_number)
    if shape is not None:
        return spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float64)
    shape = _same_shape(values, lambda v: isinstance(v, bool))
    if shape is not None:
        return spaces.MultiBinary(list(shape)) if shape else spaces.Discrete(2)
    if all(isinstance(v, dict) for v in values):
        keys = {tuple(v) for v in values}
        if len(keys) == 1 and values[0]:
            return spaces.Dict({k: infer_space([v[k] for v in values]) for k in values[0]})
    if all(isinstance(v, list) for v in values):
        lengths = {len(v) for v in values}
        if len(lengths) == 1 and values[0]:
            return spaces.Tuple(
                [infer_space([v[i] for v in values]) for i in range(len(values[0]))]
            )
    return text_space(values)


def infer_action_space(actions: Sequence[Any], num_actions: int | None) -> spaces.Space[Any]:
    """``Discrete(n)`` for whole-number actions, else :func:`infer_space`."""
    whole = [a for a in actions if isinstance(a, int) and not isinstance(a, bool) and a >= 0]
    if actions and len(whole) == len(actions):
        n = num_actions if num_actions is not None else max(whole) + 1
        if max(whole) >= n:
            raise SpaceError(f"action {max(whole)} recorded, but the game has {n} actions")
        return spaces.Discrete(n)
    return infer_space(actions)


def describe(space: spaces.Space[Any]) -> str:
    """A short text of a space for the command's output."""
    return str(space).replace("\n", " ")


def columns(
    values: Sequence[Any], space: spaces.Space[Any], inferred: bool, where: str = ""
) -> Any:
    """What an episode buffer holds for ``values`` (one per step) in ``space``.

    Box, Discrete, MultiDiscrete, MultiBinary: one array (steps first) of the space's dtype;
    Dict: a dict of each key's columns; Tuple: a tuple of each position's; Text: a list of
    text: each value's JSON in an ``inferred`` space, the value itself in a declared one.
    Raises SpaceError naming the part (``where``) that does not fit.
    """
    if isinstance(space, spaces.Dict):
        out: dict[str, Any] = {}
        for key, sub in space.spaces.items():
            part = f"{where}[{key!r}]"
            missing = next((i for i, v in enumerate(values) if not _has(v, key)), None)
            if missing is not None:
                raise SpaceError(f"{part}: value {missing} has no key {key!r}")
            out[key] = columns([v[key] for v in values], sub, inferred, part)
        return out
    if isinstance(space, spaces.Tuple):
        n = len(space.spaces)
        bad = next((i for i, v in enumerate(values) if not _sized(v, n)), None)
        if bad is not None:
            raise SpaceError(f"{where or 'the value'}: value {bad} is not a list of {n}")
        return tuple(
            columns([v[i] for v in values], sub, inferred, f"{where}[{i}]")
            for i, sub in enumerate(space.spaces)
        )
    if isinstance(space, spaces.Text):
        if inferred:
            return [json_text(v) for v in values]
        bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
        if bad is not None:
            raise SpaceError(f"{where or 'the value'}: value {bad} is not text")
        return list(values)
    if isinstance(space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary):
        shape = tuple(space.shape or ())
        try:
            array = np.asarray([_numbers(v) for v in values], dtype=space.dtype)
        except (SpaceError, TypeError, ValueError) as error:
            raise SpaceError(f"{where or 'the value'}: not numbers of {space}: {error}") from None
        if array.shape[1:] != shape:
            raise SpaceError(
                f"{where or 'the value'}: shape {array.shape[1:]} recorded, the space "
                f"{describe(space)} has shape {shape}"
            )
        return array
    raise SpaceError(f"{where or 'the value'}: the space {describe(space)} is not supported")


def _has(value: Any, key: str) -> bool:
    return isinstance(value, dict) and key in value


def _sized(value: Any, n: int) -> bool:
    return isinstance(value, list | tuple) and len(value) == n


def _numbers(value: Any) -> Any:
    """Nested lists with the recorded NaN and infinity strings read as floats."""
    if isinstance(value, list | tuple):
        return [_numbers(v) for v in value]
    if isinstance(value, str):
        return number(value)
    if value is None:
        raise SpaceError("null is not a number")
    return value


def declared_space(env: Any, attribute: str, agent: Any, multi_agent: bool) -> Any:
    """The env's own ``observation_space`` / ``action_space`` (a Gymnasium space), or None.

    A multi-agent env's (PettingZoo's ``observation_space(agent)``, or a dict of spaces by
    agent) is the space of ``agent`` (the env's agent id).
    """
    found = getattr(env, attribute, None)
    if multi_agent:
        if callable(found) and not isinstance(found, spaces.Space):
            try:
                found = found(agent)
            except Exception:  # noqa: BLE001 - an env that cannot say has no declared space
                return None
        elif isinstance(found, spaces.Dict) and agent in found.spaces:
            found = found.spaces[agent]
        elif isinstance(found, dict):
            found = found.get(agent)
        else:
            return None  # one space for the whole multi-agent env is not an agent's
    return found if isinstance(found, spaces.Space) else None
