"""The export: every table, in CSV, Parquet and JSON Lines, from SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from interactive_gym.data import Store
from interactive_gym.export import export, main


def rec(kind: str, scene: str, t: float, data: dict, **keys: int) -> dict:
    return {"kind": kind, "scene_id": scene, "t": t, "data": data, **keys}


@pytest.fixture
def filled(db_url: str) -> Store:
    store = Store(db_url)
    store.create_participant(
        "p1",
        "exp",
        condition="ai-partner",
        url_params={"PROLIFIC_PID": "abc", "STUDY_ID": "s9"},
        seed=7,
        scene_order=["consent", "survey", "game", "end"],
    )
    store.create_participant(
        "p2", "exp", condition="human", url_params={}, seed=8, scene_order=["consent"]
    )
    store.create_participant("q1", "other", condition=None, url_params={}, seed=9, scene_order=[])
    store.update_participant("p1", status="completed", scene_index=3, scene_id="end")
    store.write_chunk(
        "p1",
        0,
        [
            rec("event", "consent", 1.0, {"type": "scene_start"}),
            rec(
                "survey", "survey", 2.0, {"age": 31, "hand": "left", "likes": ["a", "b"]}, attempt=1
            ),
            rec(
                "step",
                "game",
                3.0,
                {"action": 1, "reward": 0.0, "step": "clash"},
                episode=0,
                step=0,
            ),
            rec("step", "game", 4.0, {"action": 2, "reward": 1.5}, episode=0, step=1),
        ],
    )
    store.write_chunk(
        "p1",
        1,
        [
            # the episode was restarted: a second attempt of episode 0
            rec("step", "game", 5.0, {"action": 3, "reward": 1}, episode=0, attempt=1, step=0),
            rec("episode", "game", 6.0, {"return": 2.5, "length": 2}, episode=0, attempt=1),
            rec("step", "game 2/b", 7.0, {"obs": [[1, 2], [3, 4]]}, episode=0, step=0),
        ],
    )
    store.write_chunk("q1", 0, [rec("survey", "survey", 1.0, {"age": 50})])
    yield store
    store.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_export(filled: Store, tmp_path: Path) -> None:
    written = export(filled, tmp_path, "csv", experiment_id="exp")
    assert set(written) == {
        "participants.csv",
        "survey_answers.csv",
        "episodes.csv",
        "events.csv",
        "steps_game.csv",
        "steps_game_2_b.csv",
    }
    participants = read_csv(tmp_path / "participants.csv")
    assert [p["participant_id"] for p in participants] == ["p1", "p2"]
    p1 = participants[0]
    assert (p1["status"], p1["condition"], p1["url_PROLIFIC_PID"], p1["url_STUDY_ID"]) == (
        "completed",
        "ai-partner",
        "abc",
        "s9",
    )
    assert p1["completed_at"] and participants[1]["completed_at"] == ""
    assert json.loads(p1["scene_order"]) == ["consent", "survey", "game", "end"]

    answers = read_csv(tmp_path / "survey_answers.csv")
    assert [
        (a["participant_id"], a["attempt"], a["question_id"], a["answer"]) for a in answers
    ] == [
        ("p1", "1", "age", "31"),
        ("p1", "1", "hand", "left"),
        ("p1", "1", "likes", '["a","b"]'),
    ]  # q1 belongs to another experiment

    steps = read_csv(tmp_path / "steps_game.csv")
    assert list(steps[0])[:6] == ["participant_id", "scene_id", "episode", "attempt", "step", "t"]
    keys = [(s["episode"], s["attempt"], s["step"], s["action"]) for s in steps]
    assert keys == [("0", "0", "0", "1"), ("0", "0", "1", "2"), ("0", "1", "0", "3")]
    assert steps[0]["data_step"] == "clash"  # a data key clashing with a column is prefixed
    assert [s["reward"] for s in steps] == ["0.0", "1.5", "1"]

    episodes = read_csv(tmp_path / "episodes.csv")
    assert [(e["episode"], e["attempt"], e["return"]) for e in episodes] == [("0", "1", "2.5")]
    events = read_csv(tmp_path / "events.csv")
    assert [(e["scene_id"], e["type"]) for e in events] == [("consent", "scene_start")]


def test_parquet_export_types(filled: Store, tmp_path: Path) -> None:
    export(filled, tmp_path, "parquet")
    steps = pq.read_table(tmp_path / "steps_game.parquet")
    assert steps.schema.field("episode").type == "int64"
    assert steps.schema.field("reward").type == "double"  # 0.0, 1.5 and 1 merge to float
    assert steps.column("reward").to_pylist() == [0.0, 1.5, 1.0]
    assert steps.column("attempt").to_pylist() == [0, 0, 1]
    participants = pq.read_table(tmp_path / "participants.parquet")
    assert participants.column("participant_id").to_pylist() == ["p1", "p2", "q1"]
    assert str(participants.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    nested = pq.read_table(tmp_path / "steps_game_2_b.parquet")
    assert json.loads(nested.column("obs")[0].as_py()) == [[1, 2], [3, 4]]
    events = pq.read_table(tmp_path / "events.parquet")
    assert events.column("type").to_pylist() == ["scene_start"]


def test_jsonl_keeps_nested_values(filled: Store, tmp_path: Path) -> None:
    export(filled, tmp_path, "jsonl", experiment_id="exp")
    lines = (tmp_path / "steps_game_2_b.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["obs"] == [[1, 2], [3, 4]]
    answers = [json.loads(x) for x in (tmp_path / "survey_answers.jsonl").read_text().splitlines()]
    assert answers[2]["answer"] == ["a", "b"]


def test_cli(filled: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["--db", filled.url, "--out", str(out), "--format", "csv"]) == 0
    assert "steps_game.csv: 3 rows" in capsys.readouterr().out
    assert (out / "participants.csv").is_file()


def test_cli_refuses_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.db"
    assert main(["--db", f"sqlite:///{missing}", "--out", str(tmp_path / "o")]) == 2
    assert "no database file" in capsys.readouterr().err
    assert not missing.exists()


def test_integers_beyond_64_bits_are_exported_as_text(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    huge = 2**70
    store.write_chunk("p", 0, [rec("step", "g", 1.0, {"big": huge, "small": 1}, episode=0, step=0)])
    export(store, tmp_path / "out", "parquet")
    steps = pq.read_table(tmp_path / "out" / "steps_g.parquet")
    assert steps.column("big").to_pylist() == [str(huge)]
    assert steps.column("small").to_pylist() == [1]
    store.close()
