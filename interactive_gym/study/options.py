"""Checks for the options of a study definition; each failure is a StudyError naming the field.

Every check takes ``where`` (who owns the option, e.g. ``StaticScene('consent')``) and the
option's name, so the message says exactly which line of the study file to change.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, overload

from interactive_gym.study.errors import StudyError

#: Ids of experiments, scenes, questions and conditions: they end up in file and column names.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ID_RULE = "1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"


def describe(value: object) -> str:
    """``str 'abc'``, ``int 3``: the type and a short repr, for error messages."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def check_id(where: str, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise StudyError(where, f"{field} must be a string, got {describe(value)}", ID_RULE)
    if not ID_PATTERN.match(value):
        suggestion = re.sub(r"[^A-Za-z0-9_.-]+", "_", value).strip("_.-")[:64] or "my_id"
        raise StudyError(
            where, f"{field} {value!r} is not a valid id", f"use {ID_RULE}, e.g. {suggestion!r}"
        )
    return value


@overload
def check_str(
    where: str, field: str, value: object, *, optional: Literal[False] = False
) -> str: ...
@overload
def check_str(where: str, field: str, value: object, *, optional: bool) -> str | None: ...
def check_str(where: str, field: str, value: object, *, optional: bool = False) -> str | None:
    """A non-empty string (or None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        wanted = "a non-empty string" + (" or None" if optional else "")
        raise StudyError(where, f"{field} must be {wanted}, got {describe(value)}")
    return value


def check_bool(where: str, field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise StudyError(where, f"{field} must be True or False, got {describe(value)}")
    return value


@overload
def check_int(
    where: str,
    field: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    optional: Literal[False] = False,
) -> int: ...
@overload
def check_int(
    where: str,
    field: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    optional: bool,
) -> int | None: ...
def check_int(
    where: str,
    field: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    optional: bool = False,
) -> int | None:
    """A whole number (bools refused) within ``minimum``..``maximum`` (or None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise StudyError(where, f"{field} must be a whole number, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise StudyError(where, f"{field} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise StudyError(where, f"{field} must be at most {maximum}, got {value}")
    return value


@overload
def check_number(
    where: str, field: str, value: object, *, optional: Literal[False] = False
) -> float: ...
@overload
def check_number(where: str, field: str, value: object, *, optional: bool) -> float | None: ...
def check_number(where: str, field: str, value: object, *, optional: bool = False) -> float | None:
    """A finite int or float (bools refused)."""
    if value is None and optional:
        return None
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(float(value))
    ):
        raise StudyError(where, f"{field} must be a finite number, got {describe(value)}")
    return value


def check_str_list(where: str, field: str, value: object, *, min_len: int = 1) -> list[str]:
    """A list of distinct non-empty strings."""
    if not isinstance(value, list | tuple) or len(value) < min_len:
        raise StudyError(
            where, f"{field} must be a list of at least {min_len} strings, got {describe(value)}"
        )
    for i, item in enumerate(value):
        check_str(where, f"{field}[{i}]", item)
    duplicates = sorted({item for item in value if list(value).count(item) > 1})
    if duplicates:
        raise StudyError(where, f"{field} lists {duplicates[0]!r} twice", "list each entry once")
    return list(value)


def check_file(where: str, field: str, value: object, base_dir: Path) -> Path:
    """An existing file; relative paths are relative to the study file's folder."""
    if not isinstance(value, str | Path):
        raise StudyError(where, f"{field} must be a file path, got {describe(value)}")
    path = Path(value)
    full = path if path.is_absolute() else base_dir / path
    if not full.is_file():
        raise StudyError(
            where,
            f"{field} {str(value)!r}: no such file ({full})",
            f"check the path; relative paths are relative to {base_dir}",
        )
    return full


def keyword_options(function: Callable[..., Any]) -> list[str]:
    """The keyword-only parameter names of a constructor: the options it accepts."""
    parameters = inspect.signature(function).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]


def reject_unknown(where: str, unknown: Mapping[str, object], known: Iterable[str]) -> None:
    """Refuse options nobody reads, suggesting the closest known name."""
    if not unknown:
        return
    known = list(known)
    name = sorted(unknown)[0]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise StudyError(
        where,
        f"unknown option {name!r}",
        f"{hint}known options: {', '.join(known) or 'none'}",
    )
