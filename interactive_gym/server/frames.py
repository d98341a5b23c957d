"""Frames of the server runtime: a render value as a draw list or as an encoded image.

The env worker process (``env_process.py``) calls :func:`frame_of` on every rendered frame,
so an rgb array never leaves that process: it leaves as JPEG, WebP or PNG bytes
(:func:`encode_frame`), which the page decodes and draws. A draw list (docs/draw-list.md)
goes as plain data. ``env_pool.py`` holds the pool's :class:`FrameSettings` and hands them to
every process; a game may override them at ``open``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from interactive_gym.runtime.plain import json_safe, to_plain

#: The image formats a frame can be sent in (the page draws each with createImageBitmap).
FORMATS = ("jpeg", "webp", "png")

# Encoder options per format: chosen for speed, since one frame is encoded per step.
# WebP method 0 is ~4x faster than the default (4) for a few percent more bytes; PNG is
# lossless, so quality does not apply to it and compress_level 1 keeps it fast.
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "jpeg": {"format": "JPEG"},
    "webp": {"format": "WEBP", "method": 0},
    "png": {"format": "PNG", "compress_level": 1},
}


class FrameSettingsError(ValueError):
    """A frame setting is invalid; ``field`` is its name (``"format"`` or ``"quality"``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class FrameError(ValueError):
    """A render value is neither a draw list nor an rgb frame that can be encoded."""


@dataclass(frozen=True)
class FrameSettings:
    """How rgb frames are encoded: ``format`` ("jpeg", "webp", "png"), ``quality`` 1–100.

    ``quality`` applies to JPEG and WebP; PNG is lossless.
    """

    format: str = "jpeg"
    quality: int = 80

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise FrameSettingsError(
                "format",
                f"format: the frame format must be 'jpeg', 'webp' or 'png', got {self.format!r}",
            )
        quality = self.quality
        if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
            raise FrameSettingsError(
                "quality",
                f"quality: the frame quality must be an int from 1 to 100, got {quality!r}",
            )

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (what crosses to an env process)."""
        return {"format": self.format, "quality": self.quality}


def is_image(render: Any) -> bool:
    """True when ``render`` is an rgb frame (an array, or a nested list of rows of pixels)."""
    if hasattr(render, "__array_interface__") or hasattr(render, "shape"):
        return True
    return (
        isinstance(render, (list, tuple)) and bool(render) and isinstance(render[0], list | tuple)
    )


def frame_of(render: Any, settings: FrameSettings | None = None) -> dict[str, Any] | None:
    """The frame sent to the page for one render value; None when there is nothing to draw.

    - an rgb frame → ``{"kind": "image", "format", "width", "height", "data": bytes}``
    - anything else (a draw list) → ``{"kind": "draw", "format": "json", "data": bytes}``: the
      draw list's JSON text, encoded here in the env process so that the server's event loop
      sends it as one binary attachment instead of serialising (and python-socketio scanning)
      every shape of every frame. A draw list JSON cannot hold (NaN, infinities) travels as
      ``{"kind": "draw", "draw": <plain data>}``.
    """
    if render is None:
        return None
    if is_image(render):
        settings = settings or FrameSettings()
        data, width, height = encode_frame(render, settings)
        return {
            "kind": "image",
            "format": settings.format,
            "width": width,
            "height": height,
            "data": data,
        }
    draw = to_plain(render, path="render()")
    try:
        text = json.dumps(draw, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except ValueError:
        return {"kind": "draw", "draw": draw}
    return {"kind": "draw", "format": "json", "data": text.encode()}


def encode_frame(array: Any, settings: FrameSettings | None = None) -> tuple[bytes, int, int]:
    """Encode an H×W×3 (or H×W×4: alpha dropped) uint8 frame; ``(bytes, width, height)``.

    ``array`` is anything numpy can read (an ndarray, a nested list of rows of pixels).
    """
    from PIL import Image

    settings = settings or FrameSettings()
    image = _image(array, Image)
    buffer = io.BytesIO()
    options = dict(_SAVE_OPTIONS[settings.format])
    if settings.format != "png":
        options["quality"] = settings.quality
    image.save(buffer, **options)
    return buffer.getvalue(), image.width, image.height


def warm_up(settings: FrameSettings) -> None:
    """Load the encoder now (the first encode of a process pays ~30 ms of plugin loading)."""
    encode_frame([[[0, 0, 0], [255, 255, 255]]], settings)


def _image(array: Any, Image: Any) -> Any:  # noqa: N803 - the PIL.Image module
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with every rgb-rendering env
        return _image_from_lists(array, Image)
    if isinstance(array, (list, tuple)):
        values = np.asarray(array)
        if values.dtype != np.uint8 and values.dtype.kind in "iu" and values.size:
            if values.min() < 0 or values.max() > 255:
                raise FrameError(
                    f"an rgb frame's values must be 0 to 255, got {values.min()} to {values.max()}"
                )
            values = values.astype(np.uint8)
    else:
        values = np.asarray(array)
    shape = tuple(values.shape)
    if len(shape) != 3 or shape[2] not in (3, 4) or shape[0] < 1 or shape[1] < 1:
        raise FrameError(
            f"an rgb frame must be an H×W×3 (or H×W×4) array of uint8, got shape {shape}"
        )
    if values.dtype != np.uint8:
        raise FrameError(f"an rgb frame must be an array of uint8, got {values.dtype}")
    if shape[2] == 4:
        values = values[:, :, :3]
    if not values.flags.c_contiguous:
        swapped = values.transpose(1, 0, 2)
        if swapped.flags.c_contiguous:  # column-major frames (pygame's): no strided copy
            return Image.fromarray(swapped, "RGB").transpose(Image.Transpose.TRANSPOSE)
        values = np.ascontiguousarray(values)
    return Image.fromarray(values, "RGB")


def _image_from_lists(rows: Any, Image: Any) -> Any:  # noqa: N803 - the PIL.Image module
    """The fallback without numpy: a nested list of rows of [r, g, b(, a)] pixels."""
    if not isinstance(rows, (list, tuple)) or not rows or not isinstance(rows[0], (list, tuple)):
        raise FrameError("an rgb frame must be an H×W×3 array or a list of rows of pixels")
    height, width = len(rows), len(rows[0])
    data = bytearray()
    for y, row in enumerate(rows):
        if len(row) != width:
            raise FrameError(f"rgb frame row {y} has {len(row)} pixels, row 0 has {width}")
        for pixel in row:
            if len(pixel) not in (3, 4):
                raise FrameError(f"rgb frame row {y} has a pixel with {len(pixel)} values")
            data.extend(pixel[:3])
    return Image.frombytes("RGB", (width, height), bytes(data))


def frame_message(
    scene_id: str, episode: int, step: int, fields: dict[str, Any], render: Any
) -> dict[str, Any]:
    """The ``game:frame`` payload the server sends for one step (``game_clock.py``).

    - a draw list (JSON text from the env process): ``{scene_id, episode, step, text}``, where
      ``text`` is one JSON text of the other fields with the draw list under ``draw`` (put
      together from the pieces, never decoded here). The message is one WebSocket message per
      member, the cheapest a frame can be for the server and for the page;
    - an image (or a draw list JSON cannot hold): ``{scene_id, episode, step, meta, data}``,
      the other fields and the render's description as one JSON text (``meta``, bytes) and the
      image bytes (``data``) as binary attachments.

    Either way python-socketio walks a handful of values however large the frame. The page
    unpacks both in ``game/socket_channel.js`` (``unpackFrame``).
    """
    meta = dict(fields)
    draw = render.get("data") if isinstance(render, dict) and render.get("kind") == "draw" else None
    meta["render"] = {"kind": "draw"} if isinstance(draw, bytes) else render
    data = None
    if not isinstance(draw, bytes) and isinstance(render, dict) and "data" in render:
        meta["render"] = {k: v for k, v in render.items() if k != "data"}
        data = render["data"]
    try:
        text = json.dumps(meta, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a value JSON cannot hold (NaN): as text
        text = json.dumps(json_safe(meta), separators=(",", ":"))
    ids = {"scene_id": scene_id, "episode": episode, "step": step}
    if isinstance(draw, bytes):
        return {**ids, "text": f'{text[:-1]},"draw":{draw.decode()}}}'}
    return {**ids, "meta": text.encode(), "data": data}
