"""The export as a data package: ``datapackage.json`` and ``CODEBOOK.md`` beside the tables.

A real SQLite store holds a study's data as the project writes it (the server runtime's own
step and episode data, a group game, inputs, surveys, verdicts, URL parameters that need
escaping or quoting); every format is exported, and the package is checked with the
``frictionless`` package (CSV and JSONL: the files against their schemas; Parquet: the
descriptor, and the rows pyarrow reads against their schemas). docs/data.md's column tables
must be what the codebook source generates.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import frictionless
import pyarrow.parquet as pq
import pytest

from interactive_gym.data import Store
from interactive_gym.data.codebook import (
    EVENTS,
    OTHER_KEY,
    TABLES,
    Undocumented,
    check_source,
    code,
    describe,
    is_known,
)
from interactive_gym.data.codebook_games import STEP_DATA
from interactive_gym.data.codebook_markdown import cell, main, render_docs
from interactive_gym.data.data_package import CODEBOOK_FILE, PACKAGE_FILE, describe_table
from interactive_gym.data.groups import Group, GroupMember
from interactive_gym.data.store import Verdict
from interactive_gym.data.tables import (
    EVENT_COLUMNS,
    PARTICIPANT_COLUMNS,
    STEP_COLUMNS,
    STR,
    Table,
)
from interactive_gym.export import export
from interactive_gym.server.game_records import Returns, episode_data, step_data

ROOT = Path(__file__).resolve().parents[2]
DATA_DOCS = ROOT / "docs" / "data.md"
RECORD_JS = ROOT / "interactive_gym" / "server" / "static" / "js" / "game" / "record.js"
GROUP = "g00000000000000b"
AT = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
TYPES = {"integer", "number", "boolean", "string", "datetime", "array", "object", "any"}
HASH = "0123456789abcdef"


def rec(kind: str, scene: str, t: float, data: dict, **keys: int) -> dict:
    return {"kind": kind, "scene_id": scene, "t": t, "data": data, **keys}


def server_step(step: int, *, multi_agent: bool = False, **extra: Any) -> dict[str, Any]:
    """A step's data as the server runtime writes it (``game_records.step_data``)."""
    actions = {"0": step % 3, "1": 1} if multi_agent else {"0": step % 3}
    reward = {"0": 1.0, "1": -0.5} if multi_agent else 0.5 * step
    reply = {
        "actions": actions,
        "reward": reward,
        "terminated": False,
        "truncated": step == 2,
        "info": {"lives": 3, "nested": {"a": [1, 2]}},
        "observation": [step, step + 1],
        "timing": {"worker_ms": 1.25, "env_ms": 0.5},
        "policyMs": 0.25,
        **extra,
    }
    return step_data(
        reply,
        multi_agent=multi_agent,
        keys="ArrowUp",
        key_events=[["down", "ArrowUp", 12.5]],
        tick_t=100.0 + step,
        tick_late_ms=0.5,
        dropped_ticks=0,
        round_trip_ms=2.0,
        focus="focused",
        observation=True,
        input_seq=step,
    )


def server_episode(multi_agent: bool = False) -> dict[str, Any]:
    returns = Returns()
    returns.add({"0": 1.0, "1": 2.0} if multi_agent else 1.5, "0", multi_agent)
    return episode_data(
        seed=42,
        returns=returns,
        multi_agent=multi_agent,
        length=3,
        last={"terminated": False, "truncated": True},
        ended_by="truncated",
        duration_ms=1234.5,
        ticks=3,
        late_ticks=0,
        dropped_ticks=0,
        hidden_steps=0,
        fps=30,
        input_seq=2,
    )


def group_step(step: int) -> dict[str, Any]:
    """A server-runtime group game's step (as ``group_clock`` makes it from ``step_data``)."""
    data = server_step(step, multi_agent=True)
    for name in ("keys", "key_events", "input_seq"):
        del data[name]
    data.update(group_id=GROUP, prev_fanout_ms=0.75)
    for agent, who in (("0", "p1"), ("1", "p2")):
        data |= {f"participant_{agent}": who, f"keys_{agent}": "", f"key_events_{agent}": []}
        data[f"input_seq_{agent}"] = step
    return data


def fill(store: Store) -> None:
    store.create_participant(
        "p1",
        "exp",
        condition="a",
        url_params={"PROLIFIC_PID": "abc", "params": "x", "=cmd": "-1+2"},
        seed=1,
        scene_order=["intro", "survey", "solo", "duo", "end"],
    )
    store.create_participant(
        "p2", "exp", condition="b", url_params={"PROLIFIC_PID": "def"}, seed=2, scene_order=[]
    )
    store.create_participant("q1", "other", condition=None, url_params={}, seed=3, scene_order=[])
    store.update_participant("p1", scene_index=4, scene_id="end")
    store.complete_participant("p1", "CODE1")
    steps = [rec("step", "solo", 10.0 + s, server_step(s), episode=0, step=s) for s in range(3)]
    steps[2]["data"]["state_hash"] = HASH
    steps[1]["data"]["my_custom"] = "written by the study's page"
    steps[1]["data"]["step"] = "a data key named like a column"
    steps[0]["data"]["=sum"] = 3  # a column name a spreadsheet would run
    store.write_chunk(
        "p1",
        0,
        [
            rec("event", "intro", 1.0, {"type": "scene_start"}),
            rec("survey", "survey", 2.0, {"age": 31, "likes": ["a", "b"], "why": "=fun"}),
            *steps,
            rec("episode", "solo", 14.0, server_episode(), episode=0, attempt=1),
            rec(
                "input",
                "duo",
                20.0,
                {"type": "down", "key": "ArrowUp", "t": 5.5, "action": 1, "seq": 0},
                episode=0,
                step=0,
            ),  # fmt: skip
            rec("event", "duo", 21.0, {"type": "focus", "state": "hidden"}),
        ],
    )
    store.write_chunk("q1", 0, [rec("event", "intro", 9.0, {"type": "scene_start"})])
    store.create_group(
        Group(
            GROUP,
            "exp",
            "lobby",
            "a",
            (GroupMember("p1", "0", 1.5), GroupMember("p2", "1", 0.5)),
            {},
            datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    store.update_group(GROUP, scene=("duo", "completed"))
    store.write_chunk(
        GROUP,
        0,
        [
            *[rec("step", "duo", 30.0 + s, group_step(s), episode=0, step=s) for s in range(2)],
            rec(
                "episode",
                "duo",
                33.0,
                {**server_episode(multi_agent=True), "group_id": GROUP, "participant_0": "p1"},
                episode=0,
            ),
        ],
    )
    store.save_verdicts(
        "p1", [Verdict("p1", "solo", 0, 1, False, "step 1: reward 9 recorded")], False
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'study.db'}")
    fill(store)
    yield store
    store.close()


def headers(path: Path, fmt: str) -> list[str]:
    """The column names of an exported file, as the file holds them."""
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle))
    if fmt == "parquet":
        return list(pq.read_schema(path).names)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines, f"{path.name}: no rows to read the columns from"
    names = list(json.loads(lines[0]))
    assert all(list(json.loads(line)) == names for line in lines), path.name
    return names


def report_errors(report: frictionless.Report) -> list[list[Any]]:
    return report.flatten(["taskName", "rowNumber", "fieldName", "type", "note"])


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_every_export_is_a_valid_package_listing_every_column(
    store: Store, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / fmt
    written = export(store, out, fmt, "exp", at=AT)
    descriptor = json.loads((out / PACKAGE_FILE).read_text(encoding="utf-8"))
    assert descriptor["experiment_ids"] == ["exp"]
    assert descriptor["created"] == "2026-05-04T03:02:01.123456Z"
    assert descriptor["software"] == {
        "name": "interactive-gym",
        "version": metadata.version("interactive-gym"),
    }
    resources = {r["path"]: r for r in descriptor["resources"]}
    assert sorted(resources) == sorted(written)  # every file, and nothing else
    assert {"groups", "inputs", "steps_solo", "steps_duo", "verifications"} <= {
        r["name"] for r in resources.values()
    }
    for name, resource in resources.items():
        path = out / name
        fields = resource["schema"]["fields"]
        assert [f["name"] for f in fields] == headers(path, fmt), name
        for f in fields:
            assert f["type"] in TYPES and f["description"].strip(), (name, f)
        assert resource["format"] == fmt and resource["description"].strip()
        assert resource["bytes"] == path.stat().st_size
        assert resource["hash"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        assert ("encoding" in resource) == (fmt != "parquet")
    assert not list(frictionless.Package.metadata_validate(descriptor))
    if fmt == "parquet":  # frictionless reads Parquet through pandas: check pyarrow's rows
        for name, resource in resources.items():
            table = pq.read_table(out / name)
            rows = [table.column_names, *map(list, zip(*table.to_pydict().values(), strict=True))]
            checked = frictionless.Resource(
                data=rows, schema=frictionless.Schema.from_descriptor(resource["schema"])
            ).validate()
            assert checked.valid, (name, report_errors(checked))
    else:  # the files against their schemas, sizes and hashes
        report = frictionless.validate(out / PACKAGE_FILE)
        assert report.valid, report_errors(report)
        assert len(report.tasks) == len(resources)


def test_an_export_with_empty_tables_is_a_valid_package(store: Store, tmp_path: Path) -> None:
    written = export(store, tmp_path / "csv", "csv", "exp", ["p2"], at=AT)
    assert written["steps_solo.csv"] == 0 and written["verifications.csv"] == 0
    report = frictionless.validate(tmp_path / "csv" / PACKAGE_FILE)
    assert report.valid, report_errors(report)
    # frictionless cannot read an empty JSONL file: the descriptor, then
    export(store, tmp_path / "jsonl", "jsonl", "exp", ["p2"], at=AT)
    descriptor = json.loads((tmp_path / "jsonl" / PACKAGE_FILE).read_text(encoding="utf-8"))
    assert not list(frictionless.Package.metadata_validate(descriptor))


def test_dynamic_columns_get_their_meaning(store: Store, tmp_path: Path) -> None:
    export(store, tmp_path, "csv", at=AT)
    descriptor = json.loads((tmp_path / PACKAGE_FILE).read_text(encoding="utf-8"))
    assert descriptor["experiment_ids"] == ["exp", "other"]  # all experiments
    fields = {
        r["name"]: {f["name"]: f for f in r["schema"]["fields"]} for r in descriptor["resources"]
    }
    participants = fields["participants"]
    assert "`PROLIFIC_PID`" in participants["url_PROLIFIC_PID"]["description"]
    assert "`params`" in participants["url_url_params"]["description"]  # escaped: the parameter
    solo = fields["steps_solo"]
    assert solo["state_hash"]["description"] == STEP_DATA["state_hash"]
    assert solo["observation"]["type"] == "any" and solo["action"]["type"] == "integer"
    assert "`step`" in solo["data_step"]["description"]  # the key, renamed
    assert solo["my_custom"]["description"] == OTHER_KEY.format(
        key=code("my_custom"), data_of="the step's"
    )
    duo = fields["steps_duo"]
    assert "agent `1`" in duo["action_1"]["description"]
    assert "agent `0`" in duo["participant_0"]["description"]
    assert duo["group_id"]["type"] == "string"
    assert fields["inputs"]["data_t"]["description"].startswith("server runtime: the key event")
    assert fields["participants"]["scene_order"]["type"] == "array"
    assert fields["events"]["data"]["type"] == "object"
    assert fields["participants"]["participant_id"]["description"] == describe(
        "participants", "participant_id", PARTICIPANT_COLUMNS
    )
    assert descriptor["resources"][0]["schema"]["primaryKey"] == ["participant_id"]


def test_a_csv_column_name_a_spreadsheet_would_run_is_listed_as_written(
    store: Store, tmp_path: Path
) -> None:
    for fmt, name in (("csv", "'=sum"), ("jsonl", "=sum")):
        export(store, tmp_path / fmt, fmt, "exp", at=AT)
        descriptor = json.loads((tmp_path / fmt / PACKAGE_FILE).read_text(encoding="utf-8"))
        [steps] = [r for r in descriptor["resources"] if r["name"] == "steps_solo"]
        [field] = [f for f in steps["schema"]["fields"] if "=sum" in f["name"]]
        assert field["name"] == name and "`=sum`" in field["description"]  # the key as stored


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_codebook_lists_every_column_of_every_file(
    store: Store, tmp_path: Path, fmt: str
) -> None:
    written = export(store, tmp_path, fmt, "exp", at=AT)
    descriptor = json.loads((tmp_path / PACKAGE_FILE).read_text(encoding="utf-8"))
    book = (tmp_path / CODEBOOK_FILE).read_text(encoding="utf-8")
    assert "`exp`" in book and "2026-05-04T03:02:01.123456Z" in book
    assert metadata.version("interactive-gym") in book
    sections = re.split(r"^## ", book, flags=re.M)
    by_file = {s.split("\n", 1)[0]: s for s in sections[1:]}
    assert list(by_file) == ["Reading the files", *(code(name) for name in written)]
    for resource in descriptor["resources"]:
        section = by_file[code(resource["path"])]
        lines = [line for line in section.splitlines() if line.startswith("| ")][2:]
        assert lines == [
            f"| {cell(code(f['name']))} | {f['type']} | {cell(f['description'])} |"
            for f in resource["schema"]["fields"]
        ], resource["name"]
        assert f"{written[resource['path']]} row" in section
        assert [f["name"] for f in resource["schema"]["fields"]] == headers(
            tmp_path / resource["path"], fmt
        )


def test_every_column_the_project_writes_has_its_own_meaning() -> None:
    """A data key added to a game's records without a meaning in the codebook fails here."""
    browser = subprocess.run(
        ["node", "--input-type=module", "-e", BROWSER_KEYS % json.dumps(RECORD_JS.as_uri())],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    keys = {
        "steps_solo": [
            *json.loads(browser.stdout),
            *server_step(0, stateHash=HASH),
            *server_step(0, multi_agent=True),
            *group_step(0),
        ],
        "episodes": [*server_episode(), *server_episode(multi_agent=True), "participant_0"],
    }
    assert "state_hash" in keys["steps_solo"]
    for table, names in keys.items():
        fixed = STEP_COLUMNS if table.startswith("steps_") else TABLES["episodes"].fixed
        unknown = [k for k in names if not is_known(table, k, fixed)]
        assert not unknown, f"{table}: no meaning in data/codebook_games.py: {unknown}"
    assert not is_known("steps_solo", "my_custom", STEP_COLUMNS)


BROWSER_KEYS = """
import { stepData } from %s;
const reply = {actions: {"0": 1}, reward: 1, terminated: false, truncated: false, info: {},
  observation: [1], stateHash: "0123456789abcdef", policyMs: 1};
const data = stepData({reply, multiAgent: false, keys: "", events: [],
  tick: {start: 1, lateMs: 0, dropped: 0}, timing: {workerMs: 1, envMs: 1, roundTripMs: 2},
  drawMs: 1, focus: "focused", observation: true});
console.log(JSON.stringify(Object.keys(data)));
"""


def test_a_column_without_a_meaning_is_an_error_naming_it() -> None:
    with pytest.raises(Undocumented, match=r"'events'.*'mood'"):
        describe_table(
            Table("events", {**EVENT_COLUMNS, "mood": STR}, list),
            {**EVENT_COLUMNS, "mood": STR},
            [*EVENT_COLUMNS, "mood"],
        )
    with pytest.raises(Undocumented, match=r"'participants'.*'shoe_size'"):
        describe("participants", "shoe_size", PARTICIPANT_COLUMNS)  # not a URL parameter
    with pytest.raises(Undocumented, match=r"'scores'"):
        describe("scores", "x", [])
    without = {k: v for k, v in EVENTS.columns.items() if k != "type"}
    with pytest.raises(Undocumented, match=r"'events'.*'type' has no meaning"):
        check_source({"events": dataclasses.replace(EVENTS, columns=without)})
    stale = {**EVENTS.columns, "mood": "how the participant felt"}
    with pytest.raises(Undocumented, match=r"'events'.*'mood' the table does not have"):
        check_source({"events": dataclasses.replace(EVENTS, columns=stale)})
    check_source()  # the codebook itself is complete


def test_docs_data_md_holds_the_generated_column_tables(tmp_path: Path) -> None:
    text = DATA_DOCS.read_text(encoding="utf-8")
    assert render_docs(text) == text, (
        "docs/data.md differs from interactive_gym/data/codebook.py: run "
        "python -m interactive_gym.data.codebook --write-docs docs/data.md"
    )
    blocks = re.findall(r"<!-- codebook:(\S+) -->", text)
    assert set(TABLES) <= set(blocks)  # every table is documented there
    copy = tmp_path / "data.md"
    changed = text.replace("| the experiment they took part in |", "| edited by hand |")
    assert changed != text
    copy.write_text(changed, encoding="utf-8")
    assert main(["--check-docs", str(copy)]) == 1
    assert main(["--write-docs", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == text
    copy.write_text("<!-- codebook:scores -->\n<!-- /codebook -->\n", encoding="utf-8")
    assert main(["--check-docs", str(copy)]) == 2


def test_the_command_writes_the_package_beside_the_tables(store: Store, tmp_path: Path) -> None:
    from interactive_gym.export import main as export_main

    out = tmp_path / "out"
    assert export_main(["--db", store.url, "--out", str(out), "--format", "jsonl"]) == 0
    assert (out / PACKAGE_FILE).is_file() and (out / CODEBOOK_FILE).is_file()
