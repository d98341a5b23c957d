"""Groups in the store and in the export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from interactive_gym.data import (
    Chunk,
    Group,
    GroupExists,
    GroupMember,
    Store,
    UnknownGroup,
    validate_records,
)
from interactive_gym.data.chunks import SERVER_GAME_SEQS
from interactive_gym.export import export

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SAME_AGENT = GroupMember("p1", "0", 0)


def group(
    group_id: str,
    members: tuple[str, ...] = ("p1", "p2"),
    *,
    experiment: str = "exp",
    minutes: int = 0,
    condition: str | None = None,
    stand_ins: dict[str, str] | None = None,
) -> Group:
    return Group(
        group_id=group_id,
        experiment_id=experiment,
        room_id="room",
        condition=condition,
        members=tuple(GroupMember(pid, str(i), waited_s=10.0 + i) for i, pid in enumerate(members)),
        stand_ins=stand_ins or {},
        formed_at=T0 + timedelta(minutes=minutes),
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


# the store --------------------------------------------------------------------------------------


def test_group_round_trip(store: Store) -> None:
    made = group("g0123456789abcde", ("p1",), stand_ins={"1": "random"}, condition="a")
    assert store.create_group(made) == made
    loaded = store.get_group("g0123456789abcde")
    assert loaded == made
    assert loaded.formed_at.tzinfo is not None and loaded.formed_at == T0
    assert loaded.members == (GroupMember("p1", "0", 10.0),)
    assert loaded.stand_ins == {"1": "random"}
    assert (loaded.ended_at, loaded.ended_how, loaded.scenes, loaded.left) == (None, None, {}, {})
    assert store.get_group("gnope") is None


def test_group_helpers() -> None:
    g = group("g1", ("p1", "p2"))
    assert g.member_ids == ["p1", "p2"]
    assert (g.agent_of("p2"), g.agent_of("p9")) == ("1", None)
    assert (g.participant_of("0"), g.participant_of("7")) == ("p1", None)


def test_a_formed_at_in_another_zone_is_stored_in_utc(store: Store) -> None:
    east = T0.astimezone(timezone(timedelta(hours=5)))
    made = store.create_group(Group("g1", "exp", "room", None, group("x").members, {}, east))
    assert made.formed_at == T0 and made.formed_at.utcoffset() == timedelta(0)
    assert store.get_group("g1").formed_at.utcoffset() == timedelta(0)  # type: ignore[union-attr]


def test_a_taken_group_id_is_refused(store: Store) -> None:
    store.create_group(group("g1"))
    with pytest.raises(GroupExists, match="'g1'"):
        store.create_group(group("g1", ("p3", "p4")))
    assert store.groups_of("p3") == []  # nothing of the refused group was stored


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (group("g1", ("p1", "p1")), "group.members: participant_id 'p1' appears twice"),
        (group("", ("p1",)), "group.group_id"),
        (group("g1", ()), "group.members: expected a non-empty tuple"),
        (group("g1", ("p1",), stand_ins={"0": "random"}), r"group.stand_ins\['0'\]"),
        (
            Group("g1", "exp", "room", None, (GroupMember("p1", "0", -1.0),), {}, T0),
            r"group.members\[0\].waited_s",
        ),
        (
            Group("g1", "exp", "room", None, (GroupMember("p1", "0", 0),) * 2, {}, T0),
            "participant_id 'p1' appears twice",
        ),
        (
            Group("g1", "exp", "room", None, (SAME_AGENT, GroupMember("p2", "0", 0)), {}, T0),
            "agent_id '0' appears twice",
        ),
    ],
)
def test_a_group_that_cannot_be_stored_names_the_field(bad: Group, message: str) -> None:
    store = Store("sqlite://")
    with pytest.raises(ValueError, match=message):
        store.create_group(bad)
    assert store.groups() == []
    store.close()


def test_groups_and_groups_of_are_in_formation_order(store: Store) -> None:
    # created out of order: the order is the time they were formed, not of creation
    store.create_group(group("gc", ("p1", "p3"), minutes=20))
    store.create_group(group("ga", ("p1", "p2"), minutes=0))
    store.create_group(group("gb", ("p2", "p4"), minutes=10))
    store.create_group(group("gz", ("p1", "p5"), experiment="other", minutes=5))
    assert [g.group_id for g in store.groups()] == ["ga", "gz", "gb", "gc"]
    assert [g.group_id for g in store.groups("exp")] == ["ga", "gb", "gc"]
    assert [g.group_id for g in store.groups_of("p1")] == ["ga", "gz", "gc"]
    assert [g.group_id for g in store.groups_of("p2")] == ["ga", "gb"]
    assert store.groups_of("p9") == []
    assert store.groups_of("p1")[0].members == group("ga").members


def test_update_group(store: Store) -> None:
    store.create_group(group("g1", ("p1", "p2", "p3")))
    g = store.update_group("g1", condition="fast")
    assert (g.condition, g.ended_at, g.ended_how) == ("fast", None, None)

    g = store.update_group("g1", scene=("game1", "completed"))
    g = store.update_group("g1", scene=("game2", "member_left"), left=("p2", "game2"))
    assert g.scenes == {"game1": "completed", "game2": "member_left"}
    assert g.left == {"p2": "game2"}
    # the first outcome stays: a repeated or later report does not change it
    g = store.update_group("g1", scene=("game2", "completed"), left=("p2", "game3"))
    assert (g.scenes["game2"], g.left) == ("member_left", {"p2": "game2"})
    g = store.update_group("g1", left=("p3", "game2"))
    assert g.left == {"p2": "game2", "p3": "game2"}
    with pytest.raises(ValueError, match="left: 'p9' is not a member of group 'g1'"):
        store.update_group("g1", left=("p9", "game2"))

    before = datetime.now(UTC)
    g = store.update_group("g1", ended_how="member_left")  # ended now
    assert g.ended_how == "member_left" and g.ended_at is not None and g.ended_at >= before
    first_end = g.ended_at
    g = store.update_group("g1", ended_how="completed")  # ended_at is kept
    assert (g.ended_how, g.ended_at) == ("completed", first_end)
    g = store.update_group("g1", ended_at=T0)
    assert g.ended_at == T0 and g.ended_how == "completed" and g.condition == "fast"
    g = store.update_group("g1", condition=None, ended_at=None, ended_how=None)
    assert (g.condition, g.ended_at, g.ended_how) == (None, None, None)
    assert store.get_group("g1") == g  # what update_group returns is what is stored
    assert g.scenes == {"game1": "completed", "game2": "member_left"}  # untouched

    with pytest.raises(UnknownGroup, match="'gnope'"):
        store.update_group("gnope", ended_how="completed")
    with pytest.raises(ValueError, match=r"scene\[1\]"):
        store.update_group("g1", scene=("game3", ""))
    with pytest.raises(ValueError, match="ended_at"):
        store.update_group("g1", ended_at="yesterday")  # type: ignore[arg-type]


def test_concurrent_updates_lose_nothing(store: Store) -> None:
    members = tuple(f"p{i}" for i in range(8))
    store.create_group(group("g1", members))
    errors: list[BaseException] = []

    def leave(pid: str) -> None:
        try:
            for n in range(3):
                store.update_group("g1", left=(pid, "game"), scene=(f"{pid}-{n}", "completed"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=leave, args=(pid,)) for pid in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    g = store.get_group("g1")
    assert g is not None
    assert g.left == dict.fromkeys(members, "game")
    assert len(g.scenes) == 3 * len(members)


def test_group_condition_counts(store: Store) -> None:
    store.create_group(group("g1", ("p1", "p2"), condition="a"))
    store.create_group(group("g2", ("p3", "p4"), condition="a"))
    store.create_group(group("g3", ("p5", "p6"), condition="b"))
    store.create_group(group("g4", ("p7", "p8")))  # no condition (yet)
    store.create_group(group("g5", ("p9",), condition="b", experiment="other"))
    assert store.group_condition_counts("exp") == {"a": 2, "b": 1}
    store.update_group("g4", condition="b")
    assert store.group_condition_counts("exp") == {"a": 2, "b": 2}
    assert store.group_condition_counts("other") == {"b": 1}
    assert store.group_condition_counts("none") == {}


def test_a_database_without_the_group_tables_gets_them(db_url: str) -> None:
    old = Store(db_url)
    with old.engine.begin() as conn:
        conn.execute(text("DROP TABLE group_members"))
        conn.execute(text("DROP TABLE groups"))
    old.close()
    store = Store(db_url)
    store.create_group(group("g1"))
    assert [g.group_id for g in store.groups_of("p2")] == ["g1"]
    store.close()


# the export -------------------------------------------------------------------------------------


def rec(kind: str, scene: str, t: float, data: dict, **keys: int) -> dict:
    return {"kind": kind, "scene_id": scene, "t": t, "data": data, **keys}


GROUP = "g0000000000000a1"
OTHER = "g0000000000000b2"


@pytest.fixture
def study(store: Store) -> Store:
    """Two members and a solo participant in "exp", a group of "other"."""
    for pid, experiment in (("p1", "exp"), ("p2", "exp"), ("solo", "exp"), ("q1", "other")):
        store.create_participant(
            pid, experiment, condition=None, url_params={}, seed=1, scene_order=[]
        )
    store.create_group(group(GROUP, ("p1", "p2"), condition="a"))
    store.create_group(group(OTHER, ("q1",), experiment="other", stand_ins={"1": "random"}))
    store.update_group(GROUP, scene=("coop", "completed"), ended_how="completed")
    seq = SERVER_GAME_SEQS.start
    step_data = {"action": 1, "group_id": GROUP, "participant_0": "p1", "participant_1": "p2"}
    server_chunk(
        store,
        GROUP,
        seq,
        [
            rec("step", "coop", 1.0, step_data, episode=0, attempt=0, step=0),
            rec("step", "coop", 2.0, {**step_data, "group_id": "x"}, episode=0, attempt=0, step=1),
            rec("episode", "coop", 3.0, {"return": 4.0}, episode=0, attempt=0),
            rec("event", "coop", 4.0, {"type": "member_away", "agent": "1"}),
        ],
    )
    server_chunk(store, GROUP, seq + 1, [rec("event", "coop", 5.0, {"type": "group_game_ended"})])
    # the members' own records: key changes and events in the group scene, and elsewhere
    for pid in ("p1", "p2"):
        store.write_chunk(
            pid,
            0,
            [
                rec("event", "consent", 0.5, {"type": "scene_start"}),
                rec("input", "coop", 1.5, {"key": "ArrowUp"}, episode=0, attempt=0, step=0),
                rec("event", "coop", 4.5, {"type": "member_away", "agent": "1"}),
            ],
        )
    store.write_chunk("solo", 0, [rec("step", "solo_game", 1.0, {"action": 2}, episode=0, step=0)])
    server_chunk(store, OTHER, seq, [rec("step", "coop", 9.0, {"action": 3}, episode=0, step=0)])
    store.write_chunk("q1", 0, [rec("input", "coop", 9.5, {"key": "a"}, episode=0, step=0)])
    return store


def server_chunk(store: Store, owner: str, seq: int, records: list[dict]) -> None:
    """Records the server writes itself (a game it runs): a chunk numbered in SERVER_GAME_SEQS."""
    assert seq in SERVER_GAME_SEQS
    assert store.write_chunks([Chunk(owner, seq, validate_records(records))]) == [True]


def jsonl(folder: Path, table: str) -> list[dict]:
    lines = (folder / f"{table}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_export_of_a_study_with_groups(study: Store, tmp_path: Path) -> None:
    written = export(study, tmp_path, "jsonl", experiment_id="exp")
    assert "groups.jsonl" in written

    (row,) = jsonl(tmp_path, "groups")  # the other experiment's group is left out
    assert row == {
        "group_id": GROUP,
        "experiment_id": "exp",
        "waiting_room": "room",
        "condition": "a",
        "formed_at": T0.isoformat(),
        "ended_at": row["ended_at"],
        "ended_how": "completed",
        "members": ["p1", "p2"],
        "agents": {"p1": "0", "p2": "1"},
        "waited_s": {"p1": 10.0, "p2": 11.0},
        "stand_ins": {},
        "scenes": {"coop": "completed"},
        "left": {},
    }
    assert row["ended_at"] is not None

    participants = {p["participant_id"]: p for p in jsonl(tmp_path, "participants")}
    assert set(participants) == {"p1", "p2", "solo"}
    assert participants["p1"]["group_ids"] == [GROUP]
    assert participants["solo"]["group_ids"] == []

    steps = jsonl(tmp_path, "steps_coop")
    assert list(steps[0])[:3] == ["participant_id", "group_id", "scene_id"]
    assert [(s["participant_id"], s["group_id"], s["step"]) for s in steps] == [
        (None, GROUP, 0),
        (None, GROUP, 1),
    ]  # the other experiment's group game is left out
    assert steps[0]["participant_1"] == "p2"
    # a data key group_id holding the row's group is that column; any other is data_group_id
    assert (steps[0]["data_group_id"], steps[1]["data_group_id"]) == (None, "x")
    (solo_step,) = jsonl(tmp_path, "steps_solo_game")
    assert (solo_step["participant_id"], solo_step["group_id"]) == ("solo", None)

    (episode,) = jsonl(tmp_path, "episodes")
    assert (episode["participant_id"], episode["group_id"], episode["return"]) == (None, GROUP, 4.0)

    inputs = jsonl(tmp_path, "inputs")
    assert [(r["participant_id"], r["group_id"], r["key"]) for r in inputs] == [
        ("p1", GROUP, "ArrowUp"),
        ("p2", GROUP, "ArrowUp"),
    ]

    events = jsonl(tmp_path, "events")
    assert list(events[0])[:2] == ["participant_id", "group_id"]
    assert [(e["participant_id"], e["group_id"], e["scene_id"], e["type"]) for e in events] == [
        (None, GROUP, "coop", "member_away"),
        (None, GROUP, "coop", "group_game_ended"),
        ("p1", None, "consent", "scene_start"),  # not a scene of the group
        ("p1", GROUP, "coop", "member_away"),
        ("p2", None, "consent", "scene_start"),
        ("p2", GROUP, "coop", "member_away"),
    ]


def test_export_of_every_experiment_has_every_group(study: Store, tmp_path: Path) -> None:
    export(study, tmp_path, "csv")
    with (tmp_path / "groups.csv").open(newline="", encoding="utf-8") as handle:
        groups = list(csv.DictReader(handle))
    assert [g["group_id"] for g in groups] == [GROUP, OTHER]
    assert json.loads(groups[1]["stand_ins"]) == {"1": "random"}
    assert json.loads(groups[1]["members"]) == ["q1"]
    with (tmp_path / "inputs.csv").open(newline="", encoding="utf-8") as handle:
        inputs = list(csv.DictReader(handle))
    assert [(r["participant_id"], r["group_id"]) for r in inputs] == [
        ("p1", GROUP),
        ("p2", GROUP),
        ("q1", OTHER),  # the group has records of the scene, though it has not ended it
    ]


def test_a_member_in_several_groups_gets_the_group_of_the_scene(
    store: Store, tmp_path: Path
) -> None:
    store.create_participant("p1", "exp", condition=None, url_params={}, seed=1, scene_order=[])
    store.create_group(group("g1", ("p1", "p2"), minutes=0))
    store.create_group(group("g2", ("p3", "p1"), minutes=5))
    store.update_group("g1", scene=("game_a", "completed"))
    store.update_group("g2", scene=("game_b", "member_left"), left=("p1", "game_b"))
    store.write_chunk(
        "p1",
        0,
        [
            rec("event", "game_a", 1.0, {"type": "scene_start"}),
            rec("event", "game_b", 2.0, {"type": "scene_start"}),
            rec("event", "end", 3.0, {"type": "scene_start"}),
        ],
    )
    export(store, tmp_path, "jsonl", experiment_id="exp")
    events = jsonl(tmp_path, "events")
    assert [(e["scene_id"], e["group_id"]) for e in events] == [
        ("game_a", "g1"),
        ("game_b", "g2"),
        ("end", None),
    ]
    (participant,) = jsonl(tmp_path, "participants")
    assert participant["group_ids"] == ["g1", "g2"]
    assert [g["left"] for g in jsonl(tmp_path, "groups")] == [{}, {"p1": "game_b"}]


def test_an_export_without_groups_has_no_group_columns(store: Store, tmp_path: Path) -> None:
    store.create_participant("p1", "exp", condition=None, url_params={}, seed=1, scene_order=[])
    data = {"action": 1, "group_id": "from-the-env"}
    store.write_chunk(
        "p1",
        0,
        [
            rec("step", "game", 1.0, data, episode=0, step=0),
            rec("event", "game", 2.0, {"type": "scene_start"}),
        ],
    )
    written = export(store, tmp_path, "jsonl", experiment_id="exp")
    assert "groups.jsonl" not in written
    (step,) = jsonl(tmp_path, "steps_game")
    assert list(step) == ["participant_id", "scene_id", "episode", "attempt", "step", "t"] + [
        "action",
        "group_id",
    ]  # a data key group_id is a column of its own as before
    assert step["group_id"] == "from-the-env"
    (event,) = jsonl(tmp_path, "events")
    assert "group_id" not in event
    (participant,) = jsonl(tmp_path, "participants")
    assert participant["group_ids"] == []
