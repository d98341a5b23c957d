"""The browser renderer draws known draw lists: pixels are checked where shapes should be.

A real uvicorn server serves the renderer and the self-hosted PixiJS; real headless Chromium
loads static/js/render/test_renderer.html, draws through ``window.renderCheck.draw`` and the
canvas is screenshotted and decoded (PNG, standard library only).
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.examples.envs.physics_duel import make_env
from interactive_gym.local_server import serve
from interactive_gym.page_wait import wait_until
from interactive_gym.server.app import create_app
from interactive_gym.server.settings import Settings

pytestmark = pytest.mark.browser

W, H = 400, 300
BLACK = (0, 0, 0)
RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
ATLAS_GREEN = (0, 200, 0)
ATLAS_YELLOW = (255, 220, 0)


# -- PNG decoding ----------------------------------------------------------------------------


class Picture:
    """Decoded RGB pixels of a screenshot."""

    def __init__(self, png: bytes) -> None:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        pos, idat = 8, b""
        while pos < len(png):
            (length,) = struct.unpack(">I", png[pos : pos + 4])
            kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
            if kind == b"IHDR":
                self.width, self.height, depth, color, _, _, interlace = struct.unpack(
                    ">IIBBBBB", data
                )
                assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color)
                self.channels = 3 if color == 2 else 4
            elif kind == b"IDAT":
                idat += data
            pos += 12 + length
        raw = zlib.decompress(idat)
        stride = self.width * self.channels
        rows: list[bytearray] = []
        prev = bytearray(stride)
        for y in range(self.height):
            start = y * (stride + 1)
            kind = raw[start]
            row = bytearray(raw[start + 1 : start + 1 + stride])
            _unfilter(kind, row, prev, self.channels)
            rows.append(row)
            prev = row
        self.rows = rows

    def __getitem__(self, xy: tuple[float, float]) -> tuple[int, int, int]:
        x, y = int(xy[0]), int(xy[1])
        i = x * self.channels
        return tuple(self.rows[y][i : i + 3])  # type: ignore[return-value]

    def count(self, box: tuple[int, int, int, int], background: tuple[int, int, int]) -> int:
        """Pixels in ``(x0, y0, x1, y1)`` that differ from the background."""
        x0, y0, x1, y1 = box
        return sum(
            1 for y in range(y0, y1) for x in range(x0, x1) if not close(self[x, y], background, 40)
        )


def _unfilter(kind: int, row: bytearray, prev: bytearray, bpp: int) -> None:
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 1:
            row[i] = (row[i] + left) & 255
        elif kind == 2:
            row[i] = (row[i] + up) & 255
        elif kind == 3:
            row[i] = (row[i] + (left + up) // 2) & 255
        elif kind == 4:
            upleft = prev[i - bpp] if i >= bpp else 0
            p = left + up - upleft
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else upleft
            row[i] = (row[i] + pred) & 255


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("renderer")
    settings = Settings(
        db_url=f"sqlite:///{tmp / 'test.db'}",
        wheelhouse=tmp / "wheelhouse",
        secret="renderer-test-secret-" + "x" * 16,
        secret_file=tmp / "secret.key",
    )
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_check_page(browser: Any, server_url: str, width: int = W, height: int = H) -> Any:
    page = browser.new_page(viewport={"width": width + 40, "height": height + 40})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(
        f"{server_url}/static/js/render/test_renderer.html?width={width}&height={height}"
        "&background=%23000000"
    )
    wait_until(page, "document.title !== ''", timeout=30_000)
    assert page.title() == "ready", (page.evaluate("window.renderCheck?.errors"), problems)
    return page


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    page = open_check_page(browser, server_url)
    yield page
    page.close()


def draw(page: Any, output: Any) -> None:
    error = page.evaluate("(o) => window.renderCheck.draw(o)", output)
    assert error is None, error


def shot(page: Any) -> Picture:
    page.evaluate("window.renderCheck.painted()")
    return Picture(page.locator("canvas").screenshot())


def wait_for_pixel(page: Any, xy: tuple[int, int], color: tuple[int, int, int]) -> Picture:
    """Screenshots until the pixel shows ``color`` (images load asynchronously)."""
    deadline = time.monotonic() + 10
    while True:
        picture = shot(page)
        if close(picture[xy], color) or time.monotonic() > deadline:
            return picture
        time.sleep(0.1)


# -- tests -----------------------------------------------------------------------------------


def test_backend_is_canvas2d_and_canvas_has_requested_size(page: Any) -> None:
    assert page.evaluate("window.renderCheck.backend") == "canvas"
    picture = shot(page)
    assert (picture.width, picture.height) == (W, H)


def test_shapes_are_drawn_where_the_draw_list_puts_them(page: Any) -> None:
    draw(
        page,
        [
            {"type": "rect", "id": "r", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "fill": "#ff0000"},
            {
                "type": "circle",
                "id": "c",
                "x": 300,
                "y": 80,
                "radius": 20,
                "fill": "#00ff00",
                "coords": "pixels",
            },
            {
                "type": "polygon",
                "id": "p",
                "points": [[0.1, 0.5], [0.3, 0.5], [0.2, 0.7]],
                "fill": "blue",
            },
            {"type": "line", "id": "l", "points": [[0.1, 0.9], [0.5, 0.9]], "width": 6},
            {"type": "text", "id": "t", "text": "HELLO", "x": 0.6, "y": 0.55, "size": 40},
        ],
    )
    picture = shot(page)
    assert close(picture[80, 60], RED)  # rect centre: (0.2 * 400, 0.2 * 300)
    assert close(picture[300, 80], GREEN)  # circle centre in pixels
    assert close(picture[300, 80 + 28], BLACK)  # just outside the radius
    assert close(picture[80, 160], BLUE)  # inside the triangle
    assert close(picture[80, 218], BLACK)  # below its tip (80, 210)
    assert close(picture[45, 200], BLACK)  # beside it
    assert close(picture[120, 270], WHITE)  # on the line
    assert close(picture[120, 262], BLACK)
    assert close(picture[350, 250], BLACK)  # background
    text_box = (240, 165, 400, 215)
    assert picture.count(text_box, BLACK) > 200
    draw(page, [{"type": "text", "id": "t", "text": "", "x": 0.6, "y": 0.55, "size": 40}])
    assert shot(page).count(text_box, BLACK) == 0


def test_higher_depth_is_drawn_on_top_whatever_the_order(page: Any) -> None:
    box = {"type": "rect", "y": 0.2, "w": 0.3, "h": 0.3}
    draw(
        page,
        [
            box | {"id": "top", "x": 0.2, "fill": "#ff0000", "depth": 5},
            box | {"id": "under", "x": 0.3, "fill": "#0000ff", "depth": 1},
        ],
    )
    picture = shot(page)
    assert close(picture[0.45 * W, 0.35 * H], RED)  # overlap: the deeper red rect wins
    assert close(picture[0.55 * W, 0.35 * H], BLUE)


def test_permanent_objects_persist_update_in_place_and_are_removed(page: Any) -> None:
    keep = {"type": "rect", "id": "keep", "y": 0.1, "w": 0.1, "h": 0.1, "fill": "#ff0000"}
    draw(
        page,
        [
            keep | {"x": 0.1, "permanent": True},
            {"type": "circle", "id": "once", "x": 0.5, "y": 0.7, "radius": 0.05, "fill": "lime"},
        ],
    )
    picture = shot(page)
    assert close(picture[0.15 * W, 0.15 * H], RED)
    assert close(picture[0.5 * W, 0.7 * H], GREEN)

    draw(page, [])  # next frame lists nothing: the permanent rect stays, the circle goes
    picture = shot(page)
    assert close(picture[0.15 * W, 0.15 * H], RED)
    assert close(picture[0.5 * W, 0.7 * H], BLACK)

    draw(page, [keep | {"x": 0.6, "permanent": True}])  # same id: moved, not duplicated
    picture = shot(page)
    assert close(picture[0.15 * W, 0.15 * H], BLACK)
    assert close(picture[0.65 * W, 0.15 * H], RED)
    count = page.evaluate("window.renderCheck.renderer.objectCount")
    for _ in range(30):
        draw(page, [keep | {"x": 0.6, "permanent": True}])
    assert page.evaluate("window.renderCheck.renderer.objectCount") == count

    draw(page, [{"type": "remove", "id": "keep"}])
    assert close(shot(page)[0.65 * W, 0.15 * H], BLACK)
    assert page.evaluate("window.renderCheck.renderer.objectCount") == count - 1


def test_tween_moves_from_the_shown_position_towards_the_new_one(page: Any) -> None:
    box = {"type": "rect", "id": "m", "y": 0.4, "w": 0.1, "h": 0.2, "fill": "#ff0000"}
    draw(page, [box | {"x": 0.1, "permanent": True}])
    draw(page, [box | {"x": 0.7, "permanent": True, "tween": {"duration": 60_000}}])
    picture = shot(page)  # a minute-long tween has barely started
    assert close(picture[0.15 * W, 0.5 * H], RED)
    assert close(picture[0.75 * W, 0.5 * H], BLACK)
    draw(page, [box | {"x": 0.7, "permanent": True, "tween": {"duration": 150}}])
    picture = wait_for_pixel(page, (int(0.75 * W), int(0.5 * H)), RED)
    assert close(picture[0.75 * W, 0.5 * H], RED)
    assert close(picture[0.15 * W, 0.5 * H], BLACK)


def test_rgb_array_frames_nested_and_flat(page: Any) -> None:
    draw(page, [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]])
    picture = shot(page)
    assert close(picture[0.25 * W, 0.25 * H], RED)
    assert close(picture[0.75 * W, 0.25 * H], GREEN)
    assert close(picture[0.25 * W, 0.75 * H], BLUE)
    assert close(picture[0.75 * W, 0.75 * H], WHITE)

    flat = [0, 255, 0] * 2 + [255, 0, 0] * 2  # 2x2: top row green, bottom row red
    error = page.evaluate(
        "(d) => window.renderCheck.draw({rgb: new Uint8Array(d), width: 2, height: 2})", flat
    )
    assert error is None
    picture = shot(page)
    assert close(picture[0.25 * W, 0.25 * H], GREEN)
    assert close(picture[0.75 * W, 0.75 * H], RED)

    draw(page, [])  # a draw list replaces the rgb frame
    assert close(shot(page)[0.25 * W, 0.25 * H], BLACK)


def test_images_and_atlas_sprites_load_from_our_server(page: Any) -> None:
    atlas = "/static/js/render/test_atlas.png"
    draw(
        page,
        [
            {"type": "image", "id": "img", "url": atlas, "x": 10, "y": 10, "coords": "pixels"}
            | {"w": 128, "h": 64},
            {"type": "sprite", "id": "s1", "atlas": atlas, "frame": [16, 0, 16, 16]}
            | {"x": 200, "y": 10, "w": 48, "h": 48, "coords": "pixels"},
            {"type": "sprite", "id": "s2", "atlas": atlas, "frame": "green"}
            | {"atlas_json": "/static/js/render/test_atlas.json"}
            | {"x": 300, "y": 10, "w": 48, "h": 48, "coords": "pixels"},
        ],
    )
    picture = wait_for_pixel(page, (324, 34), ATLAS_GREEN)
    assert close(picture[40, 40], ATLAS_GREEN)  # left half of the image
    assert close(picture[110, 40], ATLAS_YELLOW)  # right half
    assert close(picture[224, 34], ATLAS_YELLOW)  # frame by rectangle
    assert close(picture[324, 34], ATLAS_GREEN)  # frame by name
    assert close(picture[270, 34], BLACK)
    assert page.evaluate("window.renderCheck.errors") == []


def test_bad_render_output_is_reported_by_object_and_field(page: Any) -> None:
    error = page.evaluate("window.renderCheck.draw('garbage')")
    assert error.startswith("DrawListError") and "render output" in error
    error = page.evaluate(
        "window.renderCheck.draw([{type: 'circle', id: 'c', x: 0.5, y: 0.5, radius: -1}])"
    )
    assert "object 0" in error and "radius" in error
    error = page.evaluate("window.renderCheck.draw([{type: 'blob', id: 'b'}])")
    assert "blob" in error
    error = page.evaluate("window.renderCheck.draw({rgb: new Uint8Array(5), width: 2, height: 2})")
    assert "width*height*3" in error
    error = page.evaluate(
        "window.renderCheck.draw([{type: 'circle', id: 'c', x: 0.5, y: 0.5, radius: 0.1,"
        " fill: 'bleu'}])"
    )
    assert "object 0" in error and "bleu" in error
    draw(page, [{"type": "rect", "id": "ok", "x": 0, "y": 0, "w": 1, "h": 1, "fill": "red"}])
    assert close(shot(page)[W / 2, H / 2], RED)  # still drawing after the bad frames


def test_missing_image_is_reported_and_the_rest_still_draws(page: Any) -> None:
    draw(
        page,
        [
            {"type": "image", "id": "gone", "url": "/static/no-such-image.png", "x": 0, "y": 0},
            {"type": "rect", "id": "r", "x": 0.5, "y": 0.5, "w": 0.2, "h": 0.2, "fill": "red"},
        ],
    )
    wait_until(page, "window.renderCheck.errors.length > 0", timeout=10_000)
    assert page.evaluate("window.renderCheck.errors") == [
        "image /static/no-such-image.png could not be loaded"
    ]
    assert close(shot(page)[0.6 * W, 0.6 * H], RED)


def test_physics_duel_frame_renders(browser: Any, server_url: str) -> None:
    page = open_check_page(browser, server_url, 400, 240)
    try:
        env = make_env()
        env.reset(seed=1)
        draw(page, env.render())
        picture = shot(page)
        assert close(picture[100, 60], (0xE8, 0xF4, 0xF8))  # table surface
        assert close(picture[60 + 15, 120], (0xE0, 0x40, 0x40))  # red paddle ring
        assert close(picture[60, 120], WHITE)  # its knob
        assert close(picture[340 - 15, 120], (0x30, 0x70, 0xE0))  # blue paddle ring
        env.step({0: 4, 1: 0})
        draw(page, env.render())  # second frame: table not resent, still shown
        assert close(shot(page)[100, 60], (0xE8, 0xF4, 0xF8))
    finally:
        page.close()


def test_dicts_handed_over_as_maps_are_drawn(page: Any) -> None:
    error = page.evaluate(
        """() => window.renderCheck.draw([new Map(Object.entries({
            type: "rect", id: "m", x: 0.1, y: 0.1, w: 0.3, h: 0.3, fill: "#ff0000",
            permanent: true, tween: new Map([["duration", 0]]),
        }))])"""
    )
    assert error is None
    assert close(shot(page)[0.25 * W, 0.25 * H], RED)


def test_destroy_removes_the_canvas_and_refuses_more_frames(page: Any) -> None:
    draw(page, [{"type": "rect", "id": "r", "x": 0, "y": 0, "w": 1, "h": 1, "fill": "red"}])
    assert page.locator("canvas").count() == 1
    page.evaluate("window.renderCheck.renderer.destroy()")
    assert page.locator("canvas").count() == 0
    error = page.evaluate("window.renderCheck.draw([])")
    assert "destroyed" in error


IMAGE_FRAME = """async ([format, color]) => {
    const canvas = new OffscreenCanvas(4, 2);
    const g = canvas.getContext("2d");
    g.fillStyle = color;
    g.fillRect(0, 0, 4, 2);
    const blob = await canvas.convertToBlob({ type: `image/${format}` });
    return { kind: "image", format, width: 4, height: 2, data: await blob.arrayBuffer() };
}"""


def test_image_frames_are_decoded_and_drawn_and_never_replace_a_newer_frame(page: Any) -> None:
    drawn = page.evaluate(
        f"async () => {{ const frame = await ({IMAGE_FRAME})(['png', '#00ff00']);"
        " return await window.renderCheck.renderer.draw(frame); }"
    )
    assert drawn is True
    assert close(shot(page)[0.5 * W, 0.5 * H], GREEN)
    # An image still decoding when a newer frame is drawn is dropped.
    dropped = page.evaluate(
        f"async () => {{ const frame = await ({IMAGE_FRAME})(['png', '#ff0000']);"
        " const drawing = window.renderCheck.renderer.draw(frame);"
        " window.renderCheck.renderer.draw({kind: 'draw', draw: []}); return await drawing; }"
    )
    assert dropped is False
    assert close(shot(page)[0.5 * W, 0.5 * H], BLACK)
    error = page.evaluate(
        "() => window.renderCheck.renderer.draw({kind: 'image', format: 'jpeg', width: 4,"
        " height: 2, data: new Uint8Array([1, 2, 3]).buffer}).then(() => null, (e) => e.name)"
    )
    assert error == "DrawListError"
