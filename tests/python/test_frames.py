"""Frames of the server runtime (server/frames.py): settings, encoding, draw lists vs images."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from interactive_gym.server.frames import (
    FrameError,
    FrameSettings,
    FrameSettingsError,
    encode_frame,
    frame_of,
)


def gradient(height: int = 40, width: int = 60) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 6 % 256, (x + y) % 256], axis=2).astype(np.uint8)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_settings_are_validated_naming_the_field() -> None:
    assert FrameSettings() == FrameSettings("jpeg", 80)
    with pytest.raises(FrameSettingsError, match="format.*'gif'") as bad_format:
        FrameSettings("gif")
    assert bad_format.value.field == "format"
    for quality in (0, 101, 80.0, True, "80"):
        with pytest.raises(FrameSettingsError, match="quality") as bad_quality:
            FrameSettings("webp", quality)  # type: ignore[arg-type]
        assert bad_quality.value.field == "quality"
    assert isinstance(bad_quality.value, ValueError)


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
def test_each_format_decodes_to_the_frame(fmt: str) -> None:
    frame = gradient()
    data, width, height = encode_frame(frame, FrameSettings(fmt, 95))
    image = decode(data)
    assert (width, height) == image.size == (60, 40)
    assert image.format == {"jpeg": "JPEG", "webp": "WEBP", "png": "PNG"}[fmt]
    error = np.abs(np.asarray(image.convert("RGB"), dtype=int) - frame).mean()
    assert error == 0 if fmt == "png" else error < 8


def test_quality_changes_the_size() -> None:
    frame = gradient(200, 300)
    small, _, _ = encode_frame(frame, FrameSettings("jpeg", 10))
    large, _, _ = encode_frame(frame, FrameSettings("jpeg", 95))
    assert len(small) < len(large)


def test_alpha_is_dropped_and_lists_and_column_major_arrays_are_accepted() -> None:
    frame = gradient(8, 12)
    rgba = np.concatenate([frame, np.full((8, 12, 1), 7, np.uint8)], axis=2)
    png = FrameSettings("png")
    expected = encode_frame(frame, png)
    assert encode_frame(rgba, png) == expected
    assert encode_frame(frame.tolist(), png) == expected
    column_major = np.ascontiguousarray(frame.transpose(1, 0, 2)).transpose(1, 0, 2)
    assert not column_major.flags.c_contiguous
    assert encode_frame(column_major, png) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((4, 5), np.uint8), r"H×W×3.*\(4, 5\)"),
        (np.zeros((4, 5, 2), np.uint8), r"H×W×3.*\(4, 5, 2\)"),
        (np.zeros((4, 5, 3), np.float32), "uint8, got float32"),
        ([[[0, 0, 300]]], "0 to 255"),
    ],
)
def test_bad_frames_are_refused_clearly(value: object, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        encode_frame(value)


def test_frame_of_tells_draw_lists_from_images() -> None:
    assert frame_of(None) is None
    draw = [{"type": "circle", "id": "c", "x": np.float64(0.5), "y": 0.5, "radius": 0.1}]
    frame = frame_of(draw)
    assert frame is not None and (frame["kind"], frame["format"]) == ("draw", "json")
    assert json.loads(frame["data"]) == [
        {"type": "circle", "id": "c", "x": 0.5, "y": 0.5, "radius": 0.1}
    ]
    assert frame_of([]) == {"kind": "draw", "format": "json", "data": b"[]"}
    # JSON has no NaN: such a draw list travels as plain data (the page draws what it can).
    odd = frame_of([{"type": "circle", "x": float("nan")}])
    assert odd is not None and odd["kind"] == "draw" and "data" not in odd
    assert odd["draw"][0]["x"] != odd["draw"][0]["x"]  # NaN
    image = frame_of(gradient(), FrameSettings("webp"))
    assert image is not None and image["kind"] == "image"
    assert (image["format"], image["width"], image["height"]) == ("webp", 60, 40)
    assert decode(image["data"]).size == (60, 40)
    from_list = frame_of(gradient(2, 3).tolist())
    assert from_list is not None and from_list["kind"] == "image"
    assert from_list["format"] == "jpeg"


def test_a_real_gymnasium_frame() -> None:
    gymnasium = pytest.importorskip("gymnasium")
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    env.close()
    data, width, height = encode_frame(frame)
    assert (width, height) == (600, 400) and decode(data).size == (600, 400)
