"""The store on SQLite and PostgreSQL: participants, idempotent chunks, validation."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from interactive_gym.data import (
    Chunk,
    ParticipantExists,
    RecordError,
    SeqConflict,
    Store,
    UnknownParticipant,
    validate_records,
)


def step(episode: int, n: int, scene: str = "game", **extra: object) -> dict:
    return {
        "kind": "step",
        "scene_id": scene,
        "episode": episode,
        "step": n,
        "t": 1000.0 + n,
        "data": {"action": n % 4, "reward": 0.5},
        **extra,
    }


@pytest.fixture
def store(db_url: str):
    s = Store(db_url)
    yield s
    s.close()


def add(store: Store, pid: str = "p1", condition: str | None = "a", experiment: str = "exp"):
    return store.create_participant(
        pid,
        experiment,
        condition=condition,
        url_params={"PROLIFIC_PID": pid, "STUDY_ID": "s1"},
        seed=12345678901,
        scene_order=["consent", "survey", "end"],
    )


def test_participant_round_trip(store: Store) -> None:
    created = add(store)
    loaded = store.get_participant("p1")
    assert loaded == created
    assert loaded.status == "active"
    assert loaded.scene_id == "consent"
    assert loaded.url_params == {"PROLIFIC_PID": "p1", "STUDY_ID": "s1"}
    assert loaded.created_at.tzinfo is not None
    assert store.get_participant("nobody") is None


def test_duplicate_participant_is_refused(store: Store) -> None:
    add(store)
    with pytest.raises(ParticipantExists, match="p1"):
        add(store)


def test_update_participant(store: Store) -> None:
    add(store)
    store.update_participant("p1", scene_index=1, scene_id="survey")
    p = store.get_participant("p1")
    assert (p.scene_index, p.scene_id, p.status, p.completed_at) == (1, "survey", "active", None)
    store.update_participant("p1", status="completed")
    p = store.get_participant("p1")
    assert p.status == "completed" and p.completed_at is not None
    assert p.updated_at >= p.created_at
    with pytest.raises(TypeError, match="'bogus'"):
        store.update_participant("p1", bogus=1)
    with pytest.raises(ValueError, match="status"):
        store.update_participant("p1", status="weird")
    with pytest.raises(UnknownParticipant):
        store.update_participant("nobody", scene_index=2)


def test_condition_counts_include_active_and_completed(store: Store) -> None:
    add(store, "p1", "a")
    add(store, "p2", "a")
    add(store, "p3", "b")
    add(store, "p4", None)
    add(store, "p5", "a", experiment="other")
    store.update_participant("p2", status="completed")
    assert store.condition_counts("exp") == {"a": 2, "b": 1}
    assert store.condition_counts("unknown") == {}


def test_write_chunk_is_idempotent(store: Store) -> None:
    add(store)
    records = [step(0, i) for i in range(5)]
    assert store.write_chunk("p1", 0, records) is True
    assert store.write_chunk("p1", 0, records) is False
    assert store.write_chunk("p1", 1, [step(0, 5)]) is True
    stored = store.records("p1")
    assert [(r["seq"], r["idx"], r["step"]) for r in stored] == [(0, i, i) for i in range(5)] + [
        (1, 0, 5)
    ]
    assert stored[0]["data"] == {"action": 0, "reward": 0.5}
    assert stored[0]["attempt"] == 0
    assert store.acked_seqs("p1") == {0, 1}


def test_empty_chunk_is_acknowledged(store: Store) -> None:
    assert store.write_chunk("p1", 0, []) is True
    assert store.write_chunk("p1", 0, []) is False
    assert store.records("p1") == []
    assert store.acked_seqs("p1") == {0}


def test_group_commit_batch_with_duplicates(store: Store) -> None:
    store.write_chunk("p1", 0, [step(0, 0)])
    batch = [
        Chunk("p1", 0, validate_records([step(0, 99)])),  # stored before: ignored
        Chunk("p1", 1, validate_records([step(0, 1)])),
        Chunk("p2", 0, validate_records([step(0, 0), step(0, 1)])),
        Chunk("p1", 1, validate_records([step(0, 98)])),  # twice in one batch: first wins
    ]
    assert store.write_chunks(batch) == [False, True, True, False]
    assert [r["step"] for r in store.records("p1")] == [0, 1]
    assert [r["step"] for r in store.records("p2")] == [0, 1]


def test_invalid_chunk_is_refused_whole(store: Store) -> None:
    bad = [step(0, 0), {**step(0, 1), "episode": "one"}]
    with pytest.raises(RecordError, match=r"records\[1\]\.episode"):
        store.write_chunk("p1", 0, bad)
    with pytest.raises(RecordError, match="seq"):
        store.write_chunk("p1", -1, [step(0, 0)])
    assert store.records() == []
    assert store.acked_seqs("p1") == set()


def test_records_filters(store: Store) -> None:
    survey = {"kind": "survey", "scene_id": "survey", "t": 5, "data": {"age": 30, "q2": ["a"]}}
    event = {"kind": "event", "scene_id": "consent", "t": 1, "data": {"type": "scene_start"}}
    store.write_chunk("p1", 0, [event, step(0, 0), survey])
    assert [r["kind"] for r in store.records("p1", kind="survey")] == ["survey"]
    assert store.records(kind="survey")[0]["data"] == {"age": 30, "q2": ["a"]}
    assert [r["kind"] for r in store.records(scene_id="consent")] == ["event"]
    assert sorted(store.scene_kinds()) == [
        ("consent", "event"),
        ("game", "step"),
        ("survey", "survey"),
    ]


def test_concurrent_writers_store_each_chunk_once(store: Store) -> None:
    """Many threads racing to write the same chunks: each lands exactly once."""

    def writer() -> None:
        for seq in range(20):
            store.write_chunk("p1", seq, [step(0, seq)])

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["step"] for r in store.records("p1")] == list(range(20))


def test_sqlite_file_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "study.db"
    store = Store(f"sqlite:///{path}")
    assert path.is_file()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()


def test_data_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first = Store(url)
    add(first)
    first.write_chunk("p1", 0, [step(0, 0)])
    first.close()
    second = Store(url)
    assert second.get_participant("p1") is not None
    assert second.write_chunk("p1", 0, [step(0, 0)]) is False
    assert len(second.records()) == 1
    second.close()


def test_unsupported_database_url_is_refused() -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        Store("mysql://user@localhost/db")


def test_reused_seq_with_another_chunk_id_is_a_conflict(store: Store) -> None:
    assert store.write_chunk("p1", 0, [step(0, 0)], chunk_id="a1") is True
    assert store.write_chunk("p1", 1, [step(0, 1)], chunk_id="b2") is True
    assert store.write_chunk("p1", 0, [step(0, 0)], chunk_id="a1") is False  # a resend
    with pytest.raises(SeqConflict, match="next free seq is 2") as info:
        store.write_chunk("p1", 0, [step(0, 7)], chunk_id="c3")  # a new chunk, reused seq
    assert info.value.next_seq == 2
    assert store.write_chunk("p1", 2, [step(0, 7)], chunk_id="c3") is True
    assert [r["step"] for r in store.records("p1")] == [0, 1, 7]
    with pytest.raises(RecordError, match="id"):
        store.write_chunk("p1", 3, [], chunk_id="no spaces allowed")


def test_conflict_inside_one_batch(store: Store) -> None:
    batch = [
        Chunk("p1", 0, validate_records([step(0, 0)]), "first"),
        Chunk("p1", 0, validate_records([step(0, 9)]), "second"),
        Chunk("p1", 0, validate_records([step(0, 0)]), "first"),
    ]
    outcomes = store.write_chunks(batch)
    assert outcomes[0] is True and outcomes[2] is False
    assert isinstance(outcomes[1], SeqConflict) and outcomes[1].next_seq == 1
    assert [r["step"] for r in store.records("p1")] == [0]
