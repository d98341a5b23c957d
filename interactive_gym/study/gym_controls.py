"""The keyboard controls and HUD text of a game scene, checked when the study loads.

Controls map keys to actions: ``{"ArrowUp": 1, "ArrowUp+ArrowLeft": 5, " ": 6}``. A key is
named as the browser's ``KeyboardEvent.key`` names it: a single character (letters are
matched case-insensitively, ``"Space"`` is an alias of ``" "``) or a named key such as
``"ArrowUp"``, ``"Enter"`` or ``"Shift"``. A combination joins keys with ``+`` and wins over
its parts while all its keys are down.
"""

from __future__ import annotations

import difflib
import json
import string
from collections.abc import Mapping
from typing import Any

from interactive_gym.study.errors import StudyError
from interactive_gym.study.options import describe

#: Named keys accepted in controls (``KeyboardEvent.key`` values), plus aliases.
NAMED_KEYS = (
    "ArrowUp",
    "ArrowDown",
    "ArrowLeft",
    "ArrowRight",
    "Enter",
    "Tab",
    "Backspace",
    "Delete",
    "Escape",
    "Shift",
    "Control",
    "Alt",
    "Meta",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "Insert",
)
ALIASES = {"Space": " ", "Spacebar": " "}
INPUT_MODES = ("held", "pressed")
#: Placeholders the HUD template may use (filled in the browser on every tick).
HUD_FIELDS = ("episode", "episodes", "step", "max_steps", "score", "time_left", "env")


def normalize_key(where: str, field: str, key: str) -> str:
    """The canonical name of one key: lower-case characters, aliases resolved."""
    if key in ALIASES:
        return ALIASES[key]
    if len(key) == 1 and key.isprintable():
        return key.lower()
    if key in NAMED_KEYS:
        return key
    names = [*NAMED_KEYS, *ALIASES]
    same = [n for n in names if n.lower() in (key.lower(), "arrow" + key.lower())]
    close = same or difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise StudyError(
        where,
        f"{field}: unknown key {key!r}",
        f"{hint}use a single character or one of {', '.join(NAMED_KEYS)}, Space",
    )


def check_action(where: str, field: str, action: object, num_actions: int | None) -> Any:
    """An action value: a JSON-safe value; a whole number below ``num_actions`` when known."""
    try:
        json.dumps(action, allow_nan=False)
    except (TypeError, ValueError):
        raise StudyError(
            where, f"{field} is {describe(action)}, which is not a JSON value"
        ) from None
    if num_actions is not None:
        if not isinstance(action, int) or isinstance(action, bool) or not 0 <= action < num_actions:
            raise StudyError(
                where,
                f"{field} is {describe(action)}, not one of the {num_actions} actions "
                f"0 to {num_actions - 1}",
                "map keys to valid actions, or correct num_actions",
            )
    return action


def split_combo(combo: str) -> list[str]:
    """``"ArrowUp+ArrowLeft"`` → its key names; ``"+"`` and a trailing ``"++"`` name the + key."""
    if combo == "+":
        return ["+"]
    if combo.endswith("++"):
        return [*combo[:-2].split("+"), "+"]
    return combo.split("+")


def check_controls(where: str, controls: object, num_actions: int | None) -> list[dict[str, Any]]:
    """The controls as ``[{"keys": [...], "action": a}]``, key names normalized and sorted."""
    if not isinstance(controls, Mapping):
        raise StudyError(
            where,
            f"controls must be a dict of key to action, got {describe(controls)}",
            'e.g. controls={"ArrowLeft": 0, "ArrowRight": 1}',
        )
    entries: dict[tuple[str, ...], dict[str, Any]] = {}
    for combo, action in controls.items():
        field = f"controls[{combo!r}]"
        if not isinstance(combo, str) or not combo:
            raise StudyError(where, f"{field}: a key must be a non-empty string")
        parts = split_combo(combo)
        if any(not part for part in parts):
            raise StudyError(where, f"{field}: empty key name", 'join keys with "+"')
        keys = tuple(sorted({normalize_key(where, field, part) for part in parts}))
        if keys in entries:
            raise StudyError(where, f"{field} repeats the keys of another entry")
        entries[keys] = {
            "keys": list(keys),
            "action": check_action(where, field, action, num_actions),
        }
    return list(entries.values())


def check_hud(where: str, template: object) -> str | None:
    """A HUD text template using only :data:`HUD_FIELDS`, or None (no HUD)."""
    if template is None:
        return None
    if not isinstance(template, str):
        raise StudyError(where, f"hud must be a text or None, got {describe(template)}")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise StudyError(where, f"hud {template!r}: {error}", "write braces as {{ and }}") from None
    for name in fields:
        if name not in HUD_FIELDS:
            raise StudyError(
                where,
                f"hud uses {{{name}}}, which is not a HUD field",
                f"use {', '.join('{' + f + '}' for f in HUD_FIELDS)}",
            )
    return template
