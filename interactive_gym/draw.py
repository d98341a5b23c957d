"""Build and check draw lists: what an environment's ``render()`` returns for the browser.

A draw list is a list of plain dicts, one per object (see docs/draw-list.md for the reference).
The functions here build those dicts with only the fields that differ from the defaults, so
the lists stay small on the wire; :func:`validate_draw_list` names everything wrong with a
render output (a draw list, an ``rgb_array`` frame, or ``None``).

This module uses the standard library only, so an environment running in Pyodide can ship a
copy of it; environments may equally write the dicts by hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal, TypeGuard

Coords = Literal["relative", "pixels"]
Ease = Literal["linear", "ease-in", "ease-out", "ease-in-out"]
Point = Sequence[float]

#: Object types a draw list may contain.
OBJECT_TYPES = ("rect", "circle", "line", "polygon", "text", "image", "sprite", "remove")
EASES = ("linear", "ease-in", "ease-out", "ease-in-out")
#: Colour names accepted besides ``#rgb``, ``#rrggbb`` and ``#rrggbbaa``.
COLOR_NAMES = frozenset(
    "black white red green blue yellow cyan magenta gray grey orange purple brown pink "
    "lime navy teal olive maroon silver".split()
)
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
MAX_ERRORS = 20


def tween(duration_ms: float, ease: Ease = "linear") -> dict[str, Any]:
    """Animate position/size/angle/alpha changes of an id from its last values over a time."""
    return (
        {"duration": duration_ms} if ease == "linear" else {"duration": duration_ms, "ease": ease}
    )


def _common(
    kind: str,
    ident: str,
    depth: float,
    coords: Coords,
    alpha: float,
    permanent: bool,
    tween: dict[str, Any] | None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": kind, "id": ident}
    if depth != 0:
        obj["depth"] = depth
    if coords != "relative":
        obj["coords"] = coords
    if alpha != 1:
        obj["alpha"] = alpha
    if permanent:
        obj["permanent"] = True
    if tween is not None:
        obj["tween"] = tween
    return obj


def _placed(obj: dict[str, Any], anchor: Point | None, angle: float) -> dict[str, Any]:
    if anchor is not None and tuple(anchor) != (0, 0):
        obj["anchor"] = [anchor[0], anchor[1]]
    if angle != 0:
        obj["angle"] = angle
    return obj


def _paint(
    obj: dict[str, Any], fill: str | None, stroke: str | None, stroke_width: float
) -> dict[str, Any]:
    if fill != "#ffffff":
        obj["fill"] = fill
    if stroke is not None:
        obj["stroke"] = stroke
        if stroke_width != 1:
            obj["stroke_width"] = stroke_width
    return obj


def rect(
    id: str,
    x: float,
    y: float,
    w: float,
    h: float,
    *,
    fill: str | None = "#ffffff",
    stroke: str | None = None,
    stroke_width: float = 1,
    anchor: Point | None = None,
    angle: float = 0,
    depth: float = 0,
    coords: Coords = "relative",
    alpha: float = 1,
    permanent: bool = False,
    tween: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A rectangle whose ``anchor`` point (default its top-left corner) is at ``x, y``."""
    obj = _common("rect", id, depth, coords, alpha, permanent, tween)
    obj.update(x=x, y=y, w=w, h=h)
    return _placed(_paint(obj, fill, stroke, stroke_width), anchor, angle)


def circle(
    id: str,
    x: float,
    y: float,
    radius: float,
    *,
    fill: str | None = "#ffffff",
    stroke: str | None = None,
    stroke_width: float = 1,
    depth: float = 0,
    coords: Coords = "relative",
    alpha: float = 1,
    permanent: bool = False,
    tween: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A circle centred at ``x, y``; a relative radius is a fraction of the shorter side."""
    obj = _common("circle", id, depth, coords, alpha, permanent, tween)
    obj.update(x=x, y=y, radius=radius)
    return _paint(obj, fill, stroke, stroke_width)


def line(
    id: str,
    points: Sequence[Point],
    *,
    color: str = "#ffffff",
    width: float = 1,
    depth: float = 0,
    coords: Coords = "relative",
    alpha: float = 1,
    permanent: bool = False,
    tween: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A polyline through two or more points; ``width`` is in pixels."""
    obj = _common("line", id, depth, coords, alpha, permanent, tween)
    obj["points"] = [[p[0], p[1]] for p in points]
    if color != "#ffffff":
        obj["color"] = color
    if width != 1:
        obj["width"] = width
    return obj


def polygon(
    id: str,
    points: Sequence[Point],
    *,
    fill: str | None = "#ffffff",
    stroke: str | None = None,
    stroke_width: float = 1,
    depth: float = 0,
    coords: Coords = "relative",
    alpha: float = 1,
    permanent: bool = False,
    tween: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A closed polygon through three or more points."""
    obj = _common("polygon", id, depth, coords, alpha, permanent, tween)
    obj["points"] = [[p[0], p[1]] for p in points]
    return _paint(obj, fill, stroke, stroke_width)


def text(
    id: str,
    text: str,
    x: float,
    y: float,
    *,
    size: float = 16,
    color: str = "#ffffff",
    font: str = "sans-serif",
    anchor: Point | None = None,
    angle: float = 0,
    depth: float = 0,
    coords: Coords = "relative",
    alpha: float = 1,
    permanent: bool = False,
    tween: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A line (or lines, split on newlines) of text; ``size`` is the font size in pixels."""
    obj = _common("text", id, depth, coords, alpha, permanent, tween)
    obj.update(text=text, x=x, y=y)
    if size != 16:
        obj["size"] = size
    if color != "#ffffff":
        obj["color"] = color
    if font != "sans-serif":
        obj["font"] = font
    return _placed(obj, anchor, angle)


def image(
    id: str,
    url: str,
    x: float,
    y: float,
    *,
    w: float | None = None,
    h: float | None = None,
    anchor: Point | None = None,
    angle: float = 0,
    depth: float = 0,
    coords: Coords = "relative",
    alpha: float = 1,
    permanent: bool = False,
    tween: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An image from this server (``url`` starts with ``/``), natural size unless w/h given."""
    obj = _common("image", id, depth, coords, alpha, permanent, tween)
    obj.update(url=url, x=x, y=y)
    if w is not None:
        obj["w"] = w
    if h is not None:
        obj["h"] = h
    return _placed(obj, anchor, angle)


def sprite(
    id: str,
    atlas: str,
    frame: str | Sequence[int],
    x: float,
    y: float,
    *,
    atlas_json: str | None = None,
    w: float | None = None,
    h: float | None = None,
    anchor: Point | None = None,
    angle: float = 0,
    depth: float = 0,
    coords: Coords = "relative",
    alpha: float = 1,
    permanent: bool = False,
    tween: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One frame of an atlas image: ``[x, y, w, h]`` in atlas pixels, or a name in atlas_json."""
    obj = _common("sprite", id, depth, coords, alpha, permanent, tween)
    obj.update(atlas=atlas, frame=frame if isinstance(frame, str) else list(frame), x=x, y=y)
    if atlas_json is not None:
        obj["atlas_json"] = atlas_json
    if w is not None:
        obj["w"] = w
    if h is not None:
        obj["h"] = h
    return _placed(obj, anchor, angle)


def remove(id: str) -> dict[str, Any]:
    """Remove the object with this id (permanent or not) from the canvas."""
    return {"type": "remove", "id": id}


def rgb_frame(rgb: bytes | Sequence[int], width: int, height: int) -> dict[str, Any]:
    """An ``rgb_array`` frame as flat row-major RGB bytes (``width * height * 3`` values)."""
    return {"rgb": rgb, "width": width, "height": height}


# -- validation ------------------------------------------------------------------------------

_COMMON = {"type", "id", "depth", "coords", "alpha", "permanent", "tween"}
_PLACED = {"x", "y", "anchor", "angle"}
_PAINT = {"fill", "stroke", "stroke_width"}
#: Fields each type allows, and the ones it requires.
FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "rect": (_COMMON | _PLACED | _PAINT | {"w", "h"}, {"x", "y", "w", "h"}),
    "circle": (_COMMON | _PAINT | {"x", "y", "radius"}, {"x", "y", "radius"}),
    "line": (_COMMON | {"points", "color", "width"}, {"points"}),
    "polygon": (_COMMON | _PAINT | {"points"}, {"points"}),
    "text": (_COMMON | _PLACED | {"text", "size", "color", "font"}, {"text", "x", "y"}),
    "image": (_COMMON | _PLACED | {"url", "w", "h"}, {"url", "x", "y"}),
    "sprite": (
        _COMMON | _PLACED | {"atlas", "frame", "atlas_json", "w", "h"},
        {"atlas", "frame", "x", "y"},
    ),
    "remove": ({"type", "id"}, {"id"}),
}
_NUMBERS = ("x", "y", "w", "h", "radius", "depth", "angle", "stroke_width", "width", "size")
_POSITIVE = ("radius", "size")
_NON_NEGATIVE = ("w", "h", "stroke_width", "width")


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _color_error(value: Any, allow_none: bool) -> str | None:
    if value is None and allow_none:
        return None
    if isinstance(value, str) and (_HEX.fullmatch(value) or value.lower() in COLOR_NAMES):
        return None
    return f"is {value!r}, expected a colour like '#ff0000' or 'red'" + (
        " (or None)" if allow_none else ""
    )


def _url_error(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return None
    return f"is {value!r}, expected a path on this server starting with '/'"


def _object_errors(obj: dict[str, Any]) -> list[str]:
    kind = obj.get("type")
    if kind not in FIELDS:
        return [f"type is {kind!r}, expected one of {', '.join(OBJECT_TYPES)}"]
    allowed, required = FIELDS[kind]
    errors = [f"missing required field {name!r}" for name in sorted(required - obj.keys())]
    errors += [f"unknown field {name!r} for {kind}" for name in sorted(obj.keys() - allowed)]
    ident = obj.get("id")
    if not isinstance(ident, str) or not ident:
        errors.append(f"id is {ident!r}, expected a non-empty string")
    for name in _NUMBERS:
        if name in obj and not _is_number(obj[name]):
            errors.append(f"{name} is {obj[name]!r}, expected a finite number")
        elif name in _POSITIVE and name in obj and obj[name] <= 0:
            errors.append(f"{name} is {obj[name]!r}, expected a number > 0")
        elif name in _NON_NEGATIVE and name in obj and obj[name] < 0:
            errors.append(f"{name} is {obj[name]!r}, expected a number >= 0")
    if "alpha" in obj and not (_is_number(obj["alpha"]) and 0 <= obj["alpha"] <= 1):
        errors.append(f"alpha is {obj['alpha']!r}, expected a number from 0 to 1")
    if "coords" in obj and obj["coords"] not in ("relative", "pixels"):
        errors.append(f"coords is {obj['coords']!r}, expected 'relative' or 'pixels'")
    if "permanent" in obj and not isinstance(obj["permanent"], bool):
        errors.append(f"permanent is {obj['permanent']!r}, expected true or false")
    for name, allow_none in (("fill", True), ("stroke", True), ("color", False)):
        if name in obj and (problem := _color_error(obj[name], allow_none)):
            errors.append(f"{name} {problem}")
    for name in ("url", "atlas", "atlas_json"):
        if name in obj and (problem := _url_error(obj[name])):
            errors.append(f"{name} {problem}")
    if "text" in obj and not isinstance(obj["text"], str):
        errors.append(f"text is {obj['text']!r}, expected a string")
    if "font" in obj and not (isinstance(obj["font"], str) and obj["font"]):
        errors.append(f"font is {obj['font']!r}, expected a font family name")
    if "anchor" in obj and not _is_pair(obj["anchor"]):
        errors.append(f"anchor is {obj['anchor']!r}, expected [ax, ay] (0-1 each)")
    if "points" in obj:
        least = 2 if kind == "line" else 3
        points = obj["points"]
        if not isinstance(points, list | tuple) or len(points) < least:
            errors.append(f"points must be a list of at least {least} [x, y] pairs")
        elif bad := [i for i, p in enumerate(points) if not _is_pair(p)]:
            errors.append(f"points[{bad[0]}] is {points[bad[0]]!r}, expected [x, y] numbers")
    if "frame" in obj:
        errors += _frame_errors(obj)
    if "tween" in obj:
        errors += _tween_errors(obj["tween"])
    return errors


def _is_pair(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(map(_is_number, value))


def _frame_errors(obj: dict[str, Any]) -> list[str]:
    frame = obj["frame"]
    if isinstance(frame, str):
        if "atlas_json" not in obj:
            return [f"frame is the name {frame!r} but no atlas_json gives the frame rectangles"]
        return []
    if (
        isinstance(frame, list | tuple)
        and len(frame) == 4
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in frame)
        and frame[2] > 0
        and frame[3] > 0
    ):
        return []
    return [f"frame is {frame!r}, expected [x, y, w, h] in atlas pixels or a frame name"]


def _tween_errors(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"tween is {value!r}, expected {{'duration': ms, 'ease': ...}}"]
    errors = []
    duration = value.get("duration")
    if not (_is_number(duration) and duration >= 0):
        errors.append(f"tween duration is {duration!r}, expected milliseconds >= 0")
    if value.get("ease", "linear") not in EASES:
        errors.append(f"tween ease is {value.get('ease')!r}, expected one of {', '.join(EASES)}")
    if unknown := sorted(value.keys() - {"duration", "ease"}):
        errors.append(f"unknown tween field(s) {', '.join(map(repr, unknown))}")
    return errors


def _rgb_errors(frame: Any) -> list[str]:
    if isinstance(frame, dict):
        width, height, data = frame.get("width"), frame.get("height"), frame.get("rgb")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            return [f"rgb frame width/height are {width!r}/{height!r}, expected positive ints"]
        if unknown := sorted(frame.keys() - {"rgb", "width", "height"}):
            return [f"unknown rgb frame field(s) {', '.join(map(repr, unknown))}"]
        if not isinstance(data, bytes | bytearray | memoryview | list | tuple):
            return [f"rgb is a {type(data).__name__}, expected bytes or a flat list of ints"]
        if len(data) != width * height * 3:
            return [f"rgb has {len(data)} values, expected width*height*3 = {width * height * 3}"]
        if isinstance(data, list | tuple):
            for i, v in enumerate(data):
                if not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255):
                    return [f"rgb[{i}] is {v!r}, expected an int 0-255"]
        return []
    width = len(frame[0]) if isinstance(frame[0], list | tuple) else 0
    for r, row in enumerate(frame):
        if not isinstance(row, list | tuple) or len(row) != width or width == 0:
            return [f"rgb row {r} is not a list of {width or 'one or more'} [r, g, b] pixels"]
        for c, px in enumerate(row):
            if not (
                isinstance(px, list | tuple)
                and len(px) == 3
                and all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in px
                )
            ):
                return [f"rgb pixel [{r}][{c}] is {px!r}, expected [r, g, b] ints 0-255"]
    return []


def validate_draw_list(obj: Any) -> list[str]:
    """Everything wrong with a render output; an empty list means it will draw.

    Accepts what ``render()`` may return: ``None`` (nothing new), a draw list (list of object
    dicts), or an ``rgb_array`` frame (nested H×W×3 list, or a dict from :func:`rgb_frame`).
    Each message names the object by index and id. At most ``MAX_ERRORS`` are reported.
    """
    if obj is None:
        return []
    if isinstance(obj, dict):
        if "rgb" in obj:
            return _rgb_errors(obj)
        return [
            "render output is a dict without 'rgb'; expected a list of draw objects, "
            "an rgb frame {'rgb', 'width', 'height'} or None"
        ]
    if not isinstance(obj, list | tuple):
        return [
            f"render output is a {type(obj).__name__}, expected a list of draw objects, "
            "an rgb frame or None"
        ]
    if obj and isinstance(obj[0], list | tuple):
        return _rgb_errors(obj)
    errors: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(obj):
        if not isinstance(item, dict):
            errors.append(f"object {index}: is a {type(item).__name__}, expected a dict")
            continue
        label = f"object {index} (id {item.get('id')!r})"
        errors += [f"{label}: {problem}" for problem in _object_errors(item)]
        ident = item.get("id")
        if isinstance(ident, str) and item.get("type") != "remove":
            if ident in seen:
                errors.append(f"{label}: id also used by object {seen[ident]}")
            seen[ident] = index
        if len(errors) >= MAX_ERRORS:
            break
    return errors[:MAX_ERRORS]
