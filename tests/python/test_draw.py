"""Draw-list helpers build valid objects; the validator names what is wrong and where."""

from __future__ import annotations

import pytest

from interactive_gym import draw
from interactive_gym.draw import validate_draw_list


def test_helpers_build_valid_objects_with_only_non_default_fields() -> None:
    objects = [
        draw.rect("r", 0.1, 0.2, 0.3, 0.4, fill="#ff0000", permanent=True),
        draw.circle("c", 100, 50, 10, coords="pixels", stroke="black", stroke_width=3),
        draw.line("l", [(0, 0), (1, 1), (0.5, 0)], color="red", width=4, depth=2),
        draw.polygon("p", [(0, 0), (1, 0), (0.5, 1)], fill=None, stroke="#00f"),
        draw.text("t", "Score: 3", 0.5, 0.02, size=24, anchor=(0.5, 0), alpha=0.5),
        draw.image("i", "/static/img/a.png", 0.5, 0.5, w=0.1, h=0.1, angle=45),
        draw.sprite("s", "/static/img/atlas.png", [0, 0, 16, 16], 0.2, 0.2),
        draw.sprite("n", "/static/img/atlas.png", "walk1", 0.3, 0.2, atlas_json="/static/a.json"),
        draw.rect("moving", 0.5, 0.5, 0.1, 0.1, tween=draw.tween(100, "ease-in-out")),
        draw.remove("old"),
    ]
    assert validate_draw_list(objects) == []
    assert draw.rect("r", 0, 0, 1, 1) == {"type": "rect", "id": "r", "x": 0, "y": 0, "w": 1, "h": 1}
    assert objects[0]["permanent"] is True and objects[0]["fill"] == "#ff0000"
    assert objects[3]["fill"] is None
    assert objects[8]["tween"] == {"duration": 100, "ease": "ease-in-out"}
    assert draw.tween(50) == {"duration": 50}


def test_render_output_forms() -> None:
    assert validate_draw_list(None) == []
    assert validate_draw_list([]) == []
    assert validate_draw_list([[[0, 0, 0], [255, 255, 255]]]) == []
    assert validate_draw_list(draw.rgb_frame(bytes(12), 2, 2)) == []
    assert validate_draw_list(draw.rgb_frame([0] * 12, 2, 2)) == []
    assert "expected a list" in validate_draw_list("frame")[0]
    assert "without 'rgb'" in validate_draw_list({"objects": []})[0]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"type": "blob", "id": "a"}, "type is 'blob'"),
        ({"type": "rect", "id": "a", "x": 0, "y": 0, "w": 1}, "missing required field 'h'"),
        ({"type": "rect", "id": "", "x": 0, "y": 0, "w": 1, "h": 1}, "id is ''"),
        ({"type": "rect", "id": 3, "x": 0, "y": 0, "w": 1, "h": 1}, "id is 3"),
        ({"type": "circle", "id": "a", "x": 0, "y": 0, "radius": 0}, "radius is 0"),
        ({"type": "circle", "id": "a", "x": "1", "y": 0, "radius": 1}, "x is '1'"),
        ({"type": "circle", "id": "a", "x": float("nan"), "y": 0, "radius": 1}, "x is nan"),
        ({"type": "circle", "id": "a", "x": 0, "y": 0, "radius": 1, "fill": "bleu"}, "fill is"),
        ({"type": "circle", "id": "a", "x": 0, "y": 0, "radius": 1, "size": 3}, "unknown field"),
        ({"type": "circle", "id": "a", "x": 0, "y": 0, "radius": 1, "alpha": 2}, "alpha is 2"),
        ({"type": "circle", "id": "a", "x": 0, "y": 0, "radius": 1, "coords": "px"}, "coords"),
        ({"type": "circle", "id": "a", "x": 0, "y": 0, "radius": 1, "permanent": 1}, "permanent"),
        ({"type": "line", "id": "a", "points": [[0, 0]]}, "at least 2"),
        ({"type": "polygon", "id": "a", "points": [[0, 0], [1, 1], [2]]}, "points[2]"),
        ({"type": "text", "id": "a", "text": 5, "x": 0, "y": 0}, "text is 5"),
        ({"type": "image", "id": "a", "url": "http://x/a.png", "x": 0, "y": 0}, "url is"),
        ({"type": "image", "id": "a", "url": "//x/a.png", "x": 0, "y": 0}, "url is"),
        (
            {"type": "sprite", "id": "a", "atlas": "/a.png", "frame": "f", "x": 0, "y": 0},
            "atlas_json",
        ),
        (
            {"type": "sprite", "id": "a", "atlas": "/a.png", "frame": [0, 0, 0, 4], "x": 0, "y": 0},
            "frame",
        ),
        (
            {"type": "rect", "id": "a", "x": 0, "y": 0, "w": 1, "h": 1, "tween": {"duration": -1}},
            "duration",
        ),
        (
            {
                "type": "rect",
                "id": "a",
                "x": 0,
                "y": 0,
                "w": 1,
                "h": 1,
                "tween": {"duration": 1, "ease": "x"},
            },
            "ease",
        ),
        ({"type": "rect", "id": "a", "x": 0, "y": 0, "w": 1, "h": 1, "anchor": [0.5]}, "anchor"),
    ],
)
def test_validator_names_object_and_field(obj: dict, message: str) -> None:
    good = draw.circle("ok", 0.5, 0.5, 0.1)
    errors = validate_draw_list([good, obj])
    assert errors, obj
    assert all(e.startswith("object 1") for e in errors), errors
    assert any(message in e for e in errors), errors


def test_validator_finds_duplicate_ids_non_dicts_and_bad_rgb() -> None:
    errors = validate_draw_list([draw.rect("a", 0, 0, 1, 1), draw.circle("a", 0, 0, 1), 7])
    assert errors == [
        "object 1 (id 'a'): id also used by object 0",
        "object 2: is a int, expected a dict",
    ]
    assert "row 1" in validate_draw_list([[[0, 0, 0]], [[0, 0, 0], [1, 1, 1]]])[0]
    assert "pixel [0][0]" in validate_draw_list([[[0, 0, 300]]])[0]
    assert "width*height*3" in validate_draw_list(draw.rgb_frame(bytes(5), 2, 2))[0]
    assert "rgb[1]" in validate_draw_list(draw.rgb_frame([0, -1, 0], 1, 1))[0]
    assert "width/height" in validate_draw_list({"rgb": b"", "width": 0, "height": 1})[0]


def test_validator_caps_the_number_of_messages() -> None:
    garbage = [{"type": "rect", "id": f"r{i}"} for i in range(100)]
    assert len(validate_draw_list(garbage)) == draw.MAX_ERRORS
