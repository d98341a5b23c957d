"""The admin console's data download and actions: the export zip, exclusion, reset, release.

The routes run in a small Starlette app behind a stand-in of the admin session guard (it only
sets ``request.state.admin``); the participant entry, sockets and waiting rooms are the real
ones, on a real database (SQLite, and PostgreSQL for the storage cases).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import socketio
from server_games_app import starlette_of
from starlette.applications import Starlette
from starlette.requests import Request
from test_waiting_rooms import Rig
from test_waiting_rooms import study as room_study

from interactive_gym.admin import actions, downloads
from interactive_gym.admin.audit import audit_log
from interactive_gym.admin.downloads import ExportFilter, zip_name
from interactive_gym.data import Store, admin_actions
from interactive_gym.data.data_package import CODEBOOK_FILE, PACKAGE_FILE
from interactive_gym.data.groups import Group, GroupMember
from interactive_gym.data.store import Verdict
from interactive_gym.export import export, main
from interactive_gym.local_server import serve
from interactive_gym.server import Settings, create_app
from interactive_gym.server.connections import Connections
from interactive_gym.study import EndScene, Experiment, StaticScene

ACTOR = "admin:testtest@127.0.0.1"
GROUP = "g00000000000000a"


class StandInAuth:
    """The admin guard's stand-in: every request is a logged-in admin."""

    def __init__(self) -> None:
        self.guarded: list[tuple[str, bool]] = []

    def guard(self, endpoint: Any, *, write: bool = False) -> Any:
        self.guarded.append((getattr(endpoint, "__name__", "?"), write))

        async def guarded(request: Request) -> Any:
            request.state.admin = SimpleNamespace(actor=ACTOR)
            return await endpoint(request)

        return guarded


def experiment(experiment_id: str = "exp") -> Experiment:
    return Experiment(
        experiment_id,
        scenes=[
            StaticScene("intro", html="<p>intro</p>"),
            StaticScene("page", html="<p>p</p>"),
            EndScene(completion_code="DONE"),
        ],
        seed=3,
    )


def rec(kind: str, scene: str, t: float, data: dict, **keys: int) -> dict:
    return {"kind": kind, "scene_id": scene, "t": t, "data": data, **keys}


def fill(store: Store) -> None:
    """p1 (completed, a), p2 (active, b), bot1 (a bot, a), q1 (another experiment); p1 and
    bot1 played a group game together (the group's own steps, p1's inputs and events)."""
    for pid, condition, params in (
        ("p1", "a", {"PROLIFIC_PID": "p1"}),
        ("p2", "b", {"PROLIFIC_PID": "p2", "note": "=1+1"}),
        ("bot1", "a", {"bot": "random"}),
    ):
        store.create_participant(
            pid,
            "exp",
            condition=condition,
            url_params=params,
            seed=1,
            scene_order=["intro", "game", "end"],
        )
    store.create_participant("q1", "other", condition=None, url_params={}, seed=2, scene_order=[])
    store.update_participant("p1", scene_index=2, scene_id="end")
    store.complete_participant("p1", "DONE")
    store.write_chunk(
        "p1",
        0,
        [
            rec("event", "intro", 1.0, {"type": "scene_start"}),
            rec("survey", "intro", 2.0, {"age": 30, "why": "-fun"}, attempt=1),
            rec("input", "game", 3.0, {"type": "down", "key": "ArrowUp"}, episode=0, step=0),
            rec("event", "game", 3.5, {"type": "focus", "lost": True}),
        ],
    )
    store.write_chunk(
        "p2",
        0,
        [
            rec("event", "intro", 1.5, {"type": "scene_start"}),
            rec("step", "solo", 2.0, {"action": 1, "reward": 0.5}, episode=0, step=0),
            rec("episode", "solo", 2.5, {"return": 0.5}, episode=0),
        ],
    )
    store.write_chunk("bot1", 0, [rec("event", "intro", 1.2, {"type": "scene_start"})])
    store.write_chunk("q1", 0, [rec("event", "intro", 9.0, {"type": "scene_start"})])
    store.create_group(
        Group(
            GROUP,
            "exp",
            "lobby",
            "a",
            (GroupMember("p1", "0", 1.5), GroupMember("bot1", "1", 0.5)),
            {},
            datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    store.update_group(GROUP, scene=("game", "completed"), left=("p1", "game"))
    store.write_chunk(
        GROUP,
        0,
        [
            rec("step", "game", 3.0, {"participant_0": "p1", "action_0": 1}, episode=0, step=0),
            rec("episode", "game", 4.0, {"return": 1.0}, episode=0),
        ],
    )
    store.save_verdicts("p2", [Verdict("p2", "solo", 0, 0, True)], True)


@pytest.fixture
def filled(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    fill(store)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'admin.db'}")
    fill(store)
    yield store
    store.close()


def admin_app(store: Store, **action_pieces: Any) -> tuple[Starlette, StandInAuth]:
    auth = StandInAuth()
    exp = action_pieces.pop("experiment", None) or experiment()
    routes = downloads.routes(auth, store, exp)
    if action_pieces:
        routes += actions.routes(auth, store, exp, **action_pieces)
    return Starlette(routes=routes), auth


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def download(store: Store, query: str = "") -> httpx.Response:
    app, _ = admin_app(store)
    async with client(app) as c:
        return await c.get(f"/admin/api/export{query}")


def unzip(response: httpx.Response) -> dict[str, bytes]:
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def cli_files(store: Store, out: Path, fmt: str, *ids: str) -> dict[str, bytes]:
    args = ["--db", store.url, "--out", str(out), "--format", fmt, "--experiment", "exp"]
    for pid in ids:
        args += ["--participant", pid]
    assert main(args) == 0
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def rows_of(files: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in files[name].decode().splitlines()]


# the download ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_the_zip_holds_the_commands_export_byte_for_byte(
    filled: Store, tmp_path: Path, fmt: str
) -> None:
    response = await download(filled, f"?format={fmt}")
    files = unzip(response)
    expected = cli_files(filled, tmp_path / "cli", fmt)
    described = (PACKAGE_FILE, CODEBOOK_FILE, "filter.json")
    tables = {k: v for k, v in expected.items() if k not in described}
    assert {k: v for k, v in files.items() if k not in described} == tables
    assert set(files) == {*expected, "filter.json"}
    assert "groups." + fmt in files and "inputs." + fmt in files  # the group is exported
    name = response.headers["content-disposition"]
    assert name.startswith('attachment; filename="interactive_gym-exp-')
    assert response.headers["content-type"] == "application/zip"
    summary = json.loads(files["filter.json"])
    assert summary["everyone"] is True and summary["participants"] == 3
    assert summary["participant_ids"] == ["p1", "p2", "bot1"]
    assert summary["rows"][f"participants.{fmt}"] == 3
    assert summary["filter"] == {
        "format": fmt,
        "status": None,
        "condition": None,
        "bots": "include",
        "excluded": "include",
        "participants": [],
    }
    # the package and codebook of the command's export, with the download's time
    package, cli_package = json.loads(files[PACKAGE_FILE]), json.loads(expected[PACKAGE_FILE])
    assert package["created"] == summary["exported_at"] != cli_package["created"]
    assert {**package, "created": ""} == {**cli_package, "created": ""}
    codebook = files[CODEBOOK_FILE].decode().replace(package["created"], "")
    assert codebook == expected[CODEBOOK_FILE].decode().replace(cli_package["created"], "")


async def test_parquet_zip_holds_the_same_tables(sqlite_store: Store, tmp_path: Path) -> None:
    files = unzip(await download(sqlite_store, "?format=parquet"))
    export(sqlite_store, tmp_path / "cli", "parquet", "exp")
    assert sorted(files) == sorted(["filter.json", *os.listdir(tmp_path / "cli")])
    for path in (tmp_path / "cli").glob("*.parquet"):
        zipped = pq.read_table(io.BytesIO(files[path.name]))
        assert zipped.equals(pq.read_table(path)), path.name


def test_no_filter_changes_nothing(sqlite_store: Store, tmp_path: Path) -> None:
    plain = export(sqlite_store, tmp_path / "a", "csv", "exp")
    everyone = export(sqlite_store, tmp_path / "b", "csv", "exp", {"p1", "p2", "bot1"})
    assert plain == everyone
    for name in plain:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("status=completed", ["p1"]),
        ("status=active", ["p2", "bot1"]),
        ("condition=a", ["p1", "bot1"]),
        ("bots=exclude", ["p1", "p2"]),
        ("bots=only", ["bot1"]),
        ("participant=p2", ["p2"]),
        ("participant=p2&participant=bot1", ["p2", "bot1"]),
        ("condition=a&bots=exclude&status=completed", ["p1"]),
        ("status=active&condition=a&bots=exclude", []),
    ],
)
async def test_filters_keep_their_participants_as_the_command_would(
    sqlite_store: Store, tmp_path: Path, query: str, ids: list[str]
) -> None:
    files = unzip(await download(sqlite_store, f"?format=jsonl&{query}"))
    assert [r["participant_id"] for r in rows_of(files, "participants.jsonl")] == ids
    summary = json.loads(files["filter.json"])
    assert summary["everyone"] is False and summary["participant_ids"] == ids
    if ids:  # the command with --participant for each writes the same files
        expected = cli_files(sqlite_store, tmp_path / "cli", "jsonl", *ids)
        tables = {k: v for k, v in expected.items() if k.endswith(".jsonl")}
        assert {k: v for k, v in files.items() if k.endswith(".jsonl")} == tables
        assert set(files) == {*expected, "filter.json"}
    assert summary["rows"] == {
        k: len(v.splitlines()) for k, v in files.items() if k.endswith(".jsonl")
    }


async def test_a_participants_groups_come_with_them(sqlite_store: Store) -> None:
    files = unzip(await download(sqlite_store, "?format=jsonl&participant=p1"))
    [group] = rows_of(files, "groups.jsonl")
    assert group["group_id"] == GROUP and group["members"] == ["p1", "bot1"]
    steps = rows_of(files, "steps_game.jsonl")
    assert [(s["participant_id"], s["group_id"]) for s in steps] == [(None, GROUP)]
    [inputs] = rows_of(files, "inputs.jsonl")
    assert (inputs["participant_id"], inputs["group_id"]) == ("p1", GROUP)
    events = rows_of(files, "events.jsonl")
    assert {e["participant_id"] for e in events} == {"p1"}  # bot1's own events stay out
    # Someone in no group: no group rows, no groups table, no group_id column.
    alone = unzip(await download(sqlite_store, "?format=jsonl&participant=p2"))
    assert "groups.jsonl" not in alone and rows_of(alone, "steps_game.jsonl") == []
    assert "group_id" not in rows_of(alone, "episodes.jsonl")[0]
    assert [v["participant_id"] for v in rows_of(alone, "verifications.jsonl")] == ["p2"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("format=xlsx", "format"),
        ("status=gone", "status"),
        ("bots=maybe", "bots"),
        ("excluded=yes", "excluded"),
        ("participant=nobody", "participant"),
        ("participant=q1", "participant"),  # of another experiment
        ("status=active&status=completed", "status"),
        ("colour=red", "colour"),
    ],
)
async def test_bad_parameters_are_named(sqlite_store: Store, query: str, parameter: str) -> None:
    response = await download(sqlite_store, f"?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["error"] == "bad_request"
    assert body["message"].startswith(f"{parameter}:"), body


async def test_each_download_is_audited_and_leaves_no_temporary_files(
    sqlite_store: Store, tmp_path: Path
) -> None:
    auth = StandInAuth()
    folder = tmp_path / "tmp"
    folder.mkdir()
    app = Starlette(routes=downloads.routes(auth, sqlite_store, experiment(), tmp_dir=folder))
    async with client(app) as c:
        response = await c.get("/admin/api/export?format=csv&bots=exclude")
    assert response.status_code == 200 and list(folder.iterdir()) == []
    assert auth.guarded == [("download", False)]
    [entry] = audit_log(sqlite_store, action="export")
    assert entry["actor"] == ACTOR and entry["detail"]["participants"] == 2
    assert entry["detail"]["filter"]["bots"] == "exclude"
    assert entry["detail"]["rows"]["participants.csv"] == 2


def test_zip_name_and_everyone() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert zip_name("my study", at) == "interactive_gym-my_study-20260304T050607Z.zip"
    assert ExportFilter().everyone and not ExportFilter(bots="only").everyone


# exclusion ---------------------------------------------------------------------------------


async def test_exclusion_is_flagged_in_every_format(sqlite_store: Store, tmp_path: Path) -> None:
    app, auth = admin_app(sqlite_store, sio=socketio.AsyncServer(), connections=Connections())
    async with client(app) as c:
        body = {"participant_id": "p2", "reason": "  failed the attention check ", "confirm": "p2"}
        response = await c.post("/admin/api/actions/exclude", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()["participant"]
        assert (answer["excluded"], answer["excluded_reason"]) == (
            True,
            "failed the attention check",
        )
        csv_files = unzip(await c.get("/admin/api/export?format=csv"))
        jsonl = unzip(await c.get("/admin/api/export?format=jsonl"))
        parquet = unzip(await c.get("/admin/api/export?format=parquet"))
        only = unzip(await c.get("/admin/api/export?format=jsonl&excluded=only"))
        kept = unzip(await c.get("/admin/api/export?format=jsonl&excluded=exclude"))
    assert ("exclude", True) in auth.guarded and ("download", False) in auth.guarded
    by_id = {r["participant_id"]: r for r in rows_of(jsonl, "participants.jsonl")}
    assert by_id["p2"]["excluded"] is True and by_id["p1"]["excluded"] is False
    assert by_id["p2"]["excluded_reason"] == "failed the attention check"
    assert datetime.fromisoformat(by_id["p2"]["excluded_at"]).tzinfo is not None
    assert by_id["p1"]["excluded_reason"] is None and by_id["p1"]["reset_at"] is None
    header, *lines = csv_files["participants.csv"].decode().splitlines()
    columns = header.split(",")
    assert columns[columns.index("verified") + 1 : columns.index("group_ids")] == [
        "excluded",
        "excluded_reason",
        "excluded_at",
        "reset_at",
    ]
    table = pq.read_table(io.BytesIO(parquet["participants.parquet"])).to_pylist()
    flags = {r["participant_id"]: (r["excluded"], r["excluded_reason"]) for r in table}
    assert flags["p2"] == (True, "failed the attention check") and flags["p1"] == (False, None)
    assert str(
        pq.read_schema(io.BytesIO(parquet["participants.parquet"])).field("excluded_at").type
    ) == ("timestamp[us, tz=UTC]")
    assert [r["participant_id"] for r in rows_of(only, "participants.jsonl")] == ["p2"]
    assert [r["participant_id"] for r in rows_of(kept, "participants.jsonl")] == ["p1", "bot1"]
    [entry] = audit_log(sqlite_store, action="exclude")
    assert (entry["actor"], entry["target"]) == (ACTOR, "p2")
    assert entry["detail"] == {"reason": "failed the attention check"}
    assert len(sqlite_store.records("p2")) == 3  # kept, all of it


async def test_include_clears_the_exclusion(sqlite_store: Store) -> None:
    admin_actions.exclude(sqlite_store, "p1", "duplicate")
    app, _ = admin_app(sqlite_store, sio=socketio.AsyncServer(), connections=Connections())
    async with client(app) as c:
        response = await c.post(
            "/admin/api/actions/include", json={"participant_id": "p1", "confirm": "p1"}
        )
    assert response.json()["participant"] == {
        "participant_id": "p1",
        "excluded": False,
        "excluded_reason": None,
        "excluded_at": None,
    }
    found = sqlite_store.get_participant("p1")
    assert found is not None and not found.excluded and found.excluded_at is None
    [entry] = audit_log(sqlite_store, action="include")
    assert entry["detail"] == {"was_excluded": True, "excluded_reason": "duplicate"}


@pytest.mark.parametrize(
    ("action", "body", "status", "field"),
    [
        ("exclude", {"participant_id": "p1", "reason": "x", "confirm": "p2"}, 400, "confirm"),
        ("exclude", {"participant_id": "p1", "reason": "x"}, 400, "confirm"),
        ("exclude", {"participant_id": "p1", "confirm": "p1"}, 400, "reason"),
        ("exclude", {"participant_id": "p1", "reason": "  ", "confirm": "p1"}, 400, "reason"),
        ("exclude", {"participant_id": "p1", "reason": "r" * 501, "confirm": "p1"}, 400, "reason"),
        (
            "exclude",
            {"participant_id": "nobody", "reason": "x", "confirm": "nobody"},
            404,
            "participant_id",
        ),
        ("include", {"participant_id": "q1", "confirm": "q1"}, 404, "participant_id"),
        ("include", {"participant_id": 7, "confirm": 7}, 400, "participant_id"),
        ("include", {"participant_id": "p1", "confirm": "p1", "extra": 1}, 400, "extra"),
        ("reset", {"participant_id": "nobody", "confirm": "nobody"}, 404, "participant_id"),
        ("reset", {"participant_id": "p1~reset-1", "confirm": "p1~reset-1"}, 400, "participant_id"),
        ("release-room", {"room_id": "lobby", "confirm": "lobby"}, 404, "room_id"),
        ("release-room", {"room_id": "lobby", "confirm": "lobbyy"}, 400, "confirm"),
        ("release-room", ["lobby"], 400, "body"),
    ],
)
async def test_bad_actions_are_refused_naming_the_field(
    sqlite_store: Store, action: str, body: Any, status: int, field: str
) -> None:
    app, _ = admin_app(sqlite_store, sio=socketio.AsyncServer(), connections=Connections())
    async with client(app) as c:
        response = await c.post(f"/admin/api/actions/{action}", json=body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["ok"] is False and answer["message"].startswith(f"{field}:"), answer
    assert answer["error"] == ("bad_request" if status == 400 else "not_found")
    assert audit_log(sqlite_store) == []
    found = sqlite_store.get_participant("p1")
    assert found is not None and not found.excluded


# reset -------------------------------------------------------------------------------------


def test_reset_moves_every_row_of_the_participant(filled: Store) -> None:
    before = {kind: filled.records("p1", kind=kind) for kind in ("event", "survey", "input")}
    done = admin_actions.reset(filled, "p1")
    moved = done.participant
    assert moved.participant_id == "p1~reset-1" and moved.reset_at is not None
    assert (moved.status, moved.completion_code, moved.condition) == ("completed", "DONE", "a")
    assert done.moved == {
        "participants": 1,
        "chunks": 1,
        "records": 4,
        "verifications": 0,
        "group_members": 1,
        "groups": 1,
    }
    assert filled.get_participant("p1") is None
    assert filled.records("p1") == [] and filled.acked_seqs("p1") == set()
    for kind, records in before.items():
        again = filled.records("p1~reset-1", kind=kind)
        assert [{**r, "participant_id": "p1"} for r in again] == records
    assert filled.groups_of("p1") == []
    [group] = filled.groups_of("p1~reset-1")
    assert group.member_ids == ["p1~reset-1", "bot1"] and group.left == {"p1~reset-1": "game"}
    assert filled.records(GROUP, kind="step")[0]["data"]["participant_0"] == "p1"  # as recorded
    # The id starts afresh; a second reset moves the new run to the next free id.
    filled.create_participant("p1", "exp", condition=None, url_params={}, seed=1, scene_order=[])
    filled.write_chunk("p1", 0, [rec("event", "intro", 7.0, {"type": "scene_start"})])
    filled.save_verdicts("p1", [Verdict("p1", "g", 0, 0, None, "no env")], None)
    second = admin_actions.reset(filled, "p1")
    assert second.participant.participant_id == "p1~reset-2"
    assert second.moved["records"] == 1 and second.moved["verifications"] == 1
    assert [v.participant_id for v in filled.verdicts()] == ["p1~reset-2", "p2"]
    assert len(filled.records("p1~reset-1")) == 4  # the first run untouched
    # The export keeps both runs, flagged.
    rows = {p.participant_id: p.reset_at for p in filled.participants("exp")}
    assert rows.keys() == {"p1~reset-1", "p1~reset-2", "p2", "bot1"}
    assert rows["p2"] is None and rows["p1~reset-1"] is not None


def test_reset_is_one_transaction(filled: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(admin_actions, "_move_in_groups", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        admin_actions.reset(filled, "p1")
    found = filled.get_participant("p1")
    assert found is not None and found.reset_at is None
    assert len(filled.records("p1")) == 4 and filled.acked_seqs("p1") == {0}
    assert [g.group_id for g in filled.groups_of("p1")] == [GROUP]
    assert filled.get_participant("p1~reset-1") is None and filled.records("p1~reset-1") == []


def test_reset_refuses_ids_it_cannot_move(sqlite_store: Store) -> None:
    long_id = "x" * 125
    sqlite_store.create_participant(
        long_id, "exp", condition=None, url_params={}, seed=1, scene_order=[]
    )
    with pytest.raises(admin_actions.ActionRefused, match="^participant_id: .* too long"):
        admin_actions.reset(sqlite_store, long_id)
    with pytest.raises(admin_actions.ActionRefused, match="earlier reset"):
        admin_actions.reset(sqlite_store, "p1~reset-3")


def entry_study() -> Experiment:
    return experiment("entry")


def with_admin(app: Any, store: Store, **pieces: Any) -> Any:
    """The real app, with the admin routes in front of it (as the console will mount them)."""
    admin, _ = admin_app(store, experiment=entry_study(), **pieces)

    async def both(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/admin/"):
            await admin(scope, receive, send)
        else:
            await app(scope, receive, send)

    return both


@pytest.fixture
def entry_app(tmp_path: Path) -> Any:
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'entry.db'}", secret="e" * 40, wheelhouse=tmp_path / "wheels"
    )
    return create_app(settings, entry_study())


async def test_after_a_reset_the_same_id_starts_afresh(entry_app: Any) -> None:
    state = starlette_of(entry_app).state
    store: Store = state.store
    forgotten: list[str] = []
    app = with_admin(
        entry_app, store, sio=state.sio, connections=state.connections, on_reset=[forgotten.append]
    )
    async with client(app) as c:
        first = await c.post("/api/start", json={"params": {"PROLIFIC_PID": "abc", "s": "1"}})
        assert first.status_code == 200 and first.json()["participant_id"] == "abc"
        store.update_participant("abc", scene_index=1, scene_id="page")
        store.write_chunk(
            "abc",
            0,
            [
                rec("event", "intro", 1.0, {"type": "scene_start"}),
                rec("event", "page", 2.0, {"type": "scene_start"}),
            ],
        )
        old = store.get_participant("abc")
        response = await c.post(
            "/admin/api/actions/reset",
            json={"participant_id": "abc", "reason": "started twice", "confirm": "abc"},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "ok": True,
            "participant_id": "abc",
            "moved_to": "abc~reset-1",
            "disconnected": 0,
            "moved": {
                "participants": 1,
                "chunks": 1,
                "records": 2,
                "verifications": 0,
                "group_members": 0,
                "groups": 0,
            },
        }
        assert forgotten == ["abc"]
        # The same browser (its cookie) with the same link: a new participant, at the start.
        again = await c.post("/api/start", json={"params": {"PROLIFIC_PID": "abc", "s": "2"}})
        # A page of the old run (say, offline during the reset) cannot upload into the new one.
        record = {"kind": "event", "scene_id": "intro", "t": 3.0, "data": {"type": "scene_start"}}
        stale = await c.post(
            "/api/chunks", json={"token": first.json()["token"], "seq": 0, "records": [record]}
        )
        assert stale.status_code != 200 and stale.json()["ok"] is False, stale.text
        current = await c.post(
            "/api/chunks", json={"token": again.json()["token"], "seq": 0, "records": [record]}
        )
        assert current.json()["ok"] is True, current.text
    assert again.status_code == 200, again.text
    assert again.json()["participant_id"] == "abc" and again.json()["status"] == "active"
    fresh = store.get_participant("abc")
    assert old is not None and fresh is not None
    assert (fresh.scene_index, fresh.url_params["s"], fresh.reset_at) == (0, "2", None)
    assert fresh.created_at > old.created_at
    assert [r["data"] for r in store.records("abc")] == [{"type": "scene_start"}]  # the new run's
    kept = store.get_participant("abc~reset-1")
    assert kept is not None and kept.reset_at is not None
    assert fresh.device == kept.device + 1  # what refuses the old run's tokens
    assert (kept.scene_index, kept.url_params, kept.created_at) == (
        1,
        old.url_params,
        old.created_at,
    )
    assert [r["scene_id"] for r in store.records("abc~reset-1")] == ["intro", "page"]
    # Another browser with the same link is refused as before (the new run is bound to the
    # browser that started it), and a visit with only the cookie of a generated id that was
    # reset gets a new participant.
    async with client(app) as other:
        refused = await other.post("/api/start", json={"params": {"PROLIFIC_PID": "abc"}})
        assert refused.status_code == 409
        made = (await other.post("/api/start", json={"params": {}})).json()["participant_id"]
        response = await other.post(
            "/admin/api/actions/reset", json={"participant_id": made, "confirm": made}
        )
        assert response.status_code == 200
        newer = (await other.post("/api/start", json={"params": {}})).json()["participant_id"]
    assert newer not in (made, f"{made}~reset-1") and store.get_participant(newer) is not None
    [entry, _] = audit_log(store, action="reset")[::-1]
    assert (entry["actor"], entry["target"]) == (ACTOR, "abc")
    assert entry["detail"]["moved_to"] == "abc~reset-1"
    assert entry["detail"]["reason"] == "started twice"


async def test_a_reset_stops_the_participants_open_pages(tmp_path: Path, entry_app: Any) -> None:
    state = starlette_of(entry_app).state
    app = with_admin(entry_app, state.store, sio=state.sio, connections=state.connections)
    with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            start = await http.post("/api/start", json={"params": {"PROLIFIC_PID": "live"}})
            token = start.json()["token"]
            page = socketio.AsyncClient(reconnection=False)
            told: asyncio.Queue[Any] = asyncio.Queue()
            gone = asyncio.Event()
            page.on("participant:reset", told.put_nowait)
            page.on("disconnect", lambda *args: gone.set())
            await page.connect(
                url, auth={"token": token, "tab": "t1"}, transports=["websocket"], wait_timeout=10
            )
            try:
                response = await http.post(
                    "/admin/api/actions/reset", json={"participant_id": "live", "confirm": "live"}
                )
                assert response.status_code == 200 and response.json()["disconnected"] == 1
                assert await asyncio.wait_for(told.get(), 10) == {"participant_id": "live"}
                await asyncio.wait_for(gone.wait(), 10)
            finally:
                await page.disconnect()
            assert state.connections.sids_of("live") == set()
            assert state.store.get_participant("live~reset-1") is not None


# releasing a waiting room ------------------------------------------------------------------


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    made = Rig(tmp_path, room_study(tmp_path, size=2, timeout_s=60, presence_after_s=100))
    yield made
    await made.close()


async def test_releasing_a_room_times_out_everyone_waiting_there(rig: Rig) -> None:
    for pid in ("w1", "w2"):
        rig.add(pid)
    rig.add("elsewhere", at="consent")
    await rig.join("w1")
    await rig.wait(5)
    await rig.connect("w2")  # connected, not yet in the room
    app, auth = admin_app(
        rig.store,
        experiment=rig.experiment,
        sio=rig.sio,
        connections=rig.connections,
        rooms=rig.rooms,
    )
    async with client(app) as c:
        response = await c.post(
            "/admin/api/actions/release-room",
            json={"room_id": "lobby", "reason": "stuck", "confirm": "lobby"},
        )
        assert response.json() == {"ok": True, "room_id": "lobby", "released": 1}
        assert rig.to("w1", "room:timeout") == [{"scene_id": "lobby", "outcome": "timeout"}]
        assert rig.rooms.waiters == {}
        assert await rig.events_of("w1") == [
            {
                "type": "waiting_timeout",
                "outcome": "timeout",
                "waited_s": 5.0,
                "on_timeout": "skip",
                "released": True,
            }
        ]
        outcome = await rig.groups.outcome("w1", "lobby")
        assert outcome is not None and outcome.kind == "timeout"
        empty = await c.post(
            "/admin/api/actions/release-room", json={"room_id": "lobby", "confirm": "lobby"}
        )
        assert empty.json()["released"] == 0
        unknown = await c.post(
            "/admin/api/actions/release-room", json={"room_id": "consent", "confirm": "consent"}
        )
    assert unknown.status_code == 404 and unknown.json()["message"].startswith("room_id:")
    assert ("release_room", True) in auth.guarded
    entries = audit_log(rig.store, action="release_room")
    assert [(e["target"], e["detail"]) for e in entries] == [
        ("lobby", {"released": 0}),
        ("lobby", {"reason": "stuck", "released": 1}),
    ]


async def test_a_reset_participant_leaves_the_room_without_an_outcome(rig: Rig) -> None:
    rig.add("w1")
    await rig.join("w1")
    app, _ = admin_app(
        rig.store,
        experiment=rig.experiment,
        sio=rig.sio,
        connections=rig.connections,
        rooms=rig.rooms,
    )

    async def disconnect(sid: str) -> None:  # what socket.io does: the disconnect hooks run
        await rig.connections.disconnect(sid)

    rig.sio.disconnect = disconnect  # type: ignore[attr-defined]
    async with client(app) as c:
        response = await c.post(
            "/admin/api/actions/reset", json={"participant_id": "w1", "confirm": "w1"}
        )
    assert response.json()["disconnected"] == 1
    assert rig.to("w1", "participant:reset") == [{"participant_id": "w1"}]
    assert rig.rooms.waiters == {}
    await rig.wait(70)  # past the timeout: nothing is recorded for the fresh id
    assert await rig.events_of("w1") == [] and rig.sio.sent("room:timeout") == []
