"""Record data nested too deeply is refused by name, without ever recursing into it."""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interactive_gym.data.records import (
    MAX_DEPTH,
    RecordError,
    nested_deeper,
    validate_chunk_id,
    validate_record,
    validate_records,
    validate_seq,
)


def nest(depth: int, leaf: Any = 1, kind: str = "list") -> Any:
    """A value ``depth`` containers deep (built without recursion)."""
    value = leaf
    for i in range(depth):
        value = [value] if kind == "list" or (kind == "mixed" and i % 2) else {"k": value}
    return value


def record(data: Any, step: int = 0) -> dict[str, Any]:
    return {"kind": "step", "scene_id": "game", "episode": 0, "step": step, "t": 1.0, "data": data}


def depth(value: Any) -> int:
    """The reference: containers nested in ``value`` (recursive; small values only)."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, (list, tuple)):
        return 1 + max(map(depth, value), default=0)
    return 0


@pytest.mark.parametrize("kind", ["list", "dict", "mixed"])
def test_data_up_to_the_limit_is_accepted_and_one_level_more_is_refused(kind: str) -> None:
    assert MAX_DEPTH == 32
    ok = {"x": nest(MAX_DEPTH - 1, kind=kind)}  # data itself is level 1
    assert depth(ok) == MAX_DEPTH
    (stored,) = validate_records([record(ok)])
    assert json.loads(stored.data_json) == ok

    deep = {"x": nest(MAX_DEPTH, kind=kind)}
    with pytest.raises(RecordError) as refused:
        validate_records([record({}), record(ok, 1), record({"y": 2}, 2), record(deep, 3)])
    assert str(refused.value) == "records[3].data: nested deeper than 32 levels"
    with pytest.raises(RecordError, match=r"^record\.data: nested deeper than 32 levels$"):
        validate_record(record(deep))


def test_an_empty_container_counts_as_a_level() -> None:
    validate_records([record({"x": nest(MAX_DEPTH - 2, leaf=[])})])
    with pytest.raises(RecordError, match=r"records\[0\]\.data: nested deeper"):
        validate_records([record({"x": nest(MAX_DEPTH - 1, leaf={})})])


def test_the_first_record_too_deep_is_named() -> None:
    deep = {"x": nest(40)}
    records = [record({"a": [1, 2]}, i) for i in range(500)]
    records[250] = record(deep, 250)
    records[400] = record(deep, 400)
    with pytest.raises(RecordError, match=r"^records\[250\]\.data: nested deeper than 32 levels$"):
        validate_records(records)


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_data_far_deeper_than_the_recursion_limit_is_refused_by_name(levels: int) -> None:
    with pytest.raises(RecordError, match=r"^records\[0\]\.data: nested deeper than 32 levels$"):
        validate_records([record({"x": nest(levels, kind="mixed")})])


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda v: validate_seq(v), r"^seq: expected an integer from 0 to \d+, got list$"),
        (lambda v: validate_chunk_id(v), r"^id: expected 1 to 64 .*, got list$"),
        (lambda v: validate_record({**record({}), "t": v}), r"^record\.t: .*, got list$"),
        (lambda v: validate_record({**record({}), "step": v}), r"^record\.step: .*, got list$"),
        (lambda v: validate_record({**record({}), "kind": v}), r"^record\.kind: .*, got list$"),
        (
            lambda v: validate_record({**record({}), "scene_id": v}),
            r"^record\.scene_id: .*, got list$",
        ),
    ],
)
def test_deep_values_in_other_fields_are_named_without_printing_them(check, message) -> None:  # noqa: ANN001
    with pytest.raises(RecordError, match=message):
        check(nest(100_000))


def test_scalars_are_still_shown_in_refusals() -> None:
    with pytest.raises(RecordError, match=r"got 'x'$"):
        validate_seq("x")
    with pytest.raises(RecordError, match=r"got -1$"):
        validate_seq(-1)
    with pytest.raises(RecordError, match=r"got 'aaaaa.*aaa$"):
        validate_chunk_id("a" * 10_000)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=4), st.integers(min_value=1, max_value=8))
def test_nested_deeper_agrees_with_a_recursive_reference(values: list[Any], limit: int) -> None:
    assert nested_deeper(values, limit) == any(depth(v) > limit for v in values)


def test_objects_that_are_not_json_do_not_lead_the_walk_astray() -> None:
    class Holder:
        def __init__(self) -> None:
            self.module = sys.modules[__name__]

    shallow = {"a": [Holder(), {1, 2}, OrderedDict(b=1)], "b": json}
    assert not nested_deeper([shallow], 3)
    assert nested_deeper([{"a": [Holder(), nest(3)]}], 3)
    with pytest.raises(RecordError, match=r"^record\.data\.a\[0\]: Holder is not a JSON value$"):
        validate_record(record({"a": [Holder()]}))
