"""Plain data: what crosses from an environment to the page, converted once.

Everything an environment returns travels to JavaScript (the Pyodide worker's ``to_js``) or to
the socket (the server runtime's JSON) as dicts, lists, numbers, strings, booleans, None and
bytes; :func:`to_plain` makes it so, and :func:`from_js` undoes JavaScript's ``null``. The
other half is ``handler.py``, which converts every reply here before it leaves.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

# -- conversion to plain data ----------------------------------------------------------------


class Converted:
    """A reply already made of plain data: ``handler.py`` sends ``value`` as it is instead of
    converting it again (the rollback's per-tick reply, on the hot path)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


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


def json_safe(value: Any) -> Any:
    """``jsonSafe`` of the page's ``game/record.js`` for plain data: non-finite numbers as text
    (``"NaN"``, ``"Infinity"``, ``"-Infinity"``), keys as text, bytes as lists of numbers."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return list(bytes(value))
    return str(value)
