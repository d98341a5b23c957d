"""The export: every table, in CSV, Parquet and JSON Lines, from SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from interactive_gym.data import Store
from interactive_gym.data.store import Verdict
from interactive_gym.data.tables import STEP_COLUMNS, flatten
from interactive_gym.export import export, main


def rec(kind: str, scene: str, t: float, data: dict, **keys: int) -> dict:
    return {"kind": kind, "scene_id": scene, "t": t, "data": data, **keys}


@pytest.fixture
def filled(db_url: str) -> Iterator[Store]:
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
    store.update_participant("p1", scene_index=3, scene_id="end")
    store.complete_participant("p1", "CODE7")
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
    reason = "step 0: reward 9 recorded, env gives 1"
    store.save_verdicts("p1", [Verdict("p1", "game", 0, 1, False, reason)], False)
    store.save_verdicts("q1", [Verdict("q1", "game", 0, 0, True)], True)
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
        "verifications.csv",
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
    assert (p1["completion_code"], p1["verified"]) == ("CODE7", "False")
    assert participants[1]["verified"] == ""  # not checked
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
    reason = "step 0: reward 9 recorded, env gives 1"
    assert [(e["episode"], e["attempt"], e["return"]) for e in episodes] == [("0", "1", "2.5")]
    assert (episodes[0]["verified"], episodes[0]["verify_reason"]) == ("False", reason)
    verdicts = read_csv(tmp_path / "verifications.csv")
    assert [(v["participant_id"], v["verified"], v["reason"]) for v in verdicts] == [
        ("p1", "False", reason)
    ]  # q1 belongs to another experiment
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


# CSV formulas ----------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def read_rows(folder: Path, table: str, fmt: str) -> list[dict]:
    """A table of an export as a list of rows, whatever its format."""
    path = folder / f"{table}.{fmt}"
    if fmt == "csv":
        return read_csv(path)
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def formulas(tmp_path: Path) -> Iterator[Store]:
    """Text that a spreadsheet would run, in every kind of text cell, beside negative numbers."""
    store = Store(f"sqlite:///{tmp_path / 'formulas.db'}")
    store.create_participant(
        "p1", "exp", condition=None, url_params={"src": FORMULAS[0]}, seed=1, scene_order=[]
    )
    answers: dict[str, object] = {f"q{i}": text for i, text in enumerate(FORMULAS)}
    answers |= {"negative": -3, "negative_text": "-3", "plain": "fine", "list": ["=x"]}
    data = {"note": "=1+2", "delta": -1.5, "score": -4, "mixed": -7, "=key": "value"}
    store.write_chunk(
        "p1",
        0,
        [
            rec("survey", "survey", 1.0, answers),
            rec("step", "game", 2.0, data, episode=0, step=0),
            rec("step", "game", 3.0, {"mixed": "-7"}, episode=0, step=1),
        ],
    )
    yield store
    store.close()


def test_csv_quotes_text_a_spreadsheet_would_run_as_a_formula(
    formulas: Store, tmp_path: Path
) -> None:
    export(formulas, tmp_path, "csv")
    answers = {a["question_id"]: a["answer"] for a in read_csv(tmp_path / "survey_answers.csv")}
    assert [answers[f"q{i}"] for i in range(len(FORMULAS))] == [f"'{f}" for f in FORMULAS]
    assert answers["negative"] == "-3"  # a number (in a JSON column) stays a number
    assert answers["negative_text"] == "'-3"  # text stays text
    assert (answers["plain"], answers["list"]) == ("fine", '["=x"]')  # JSON text of a list

    (participant,) = read_csv(tmp_path / "participants.csv")
    assert participant["url_src"] == f"'{FORMULAS[0]}"
    assert json.loads(participant["url_params"]) == {"src": FORMULAS[0]}  # JSON text: '{'

    steps = read_csv(tmp_path / "steps_game.csv")
    assert steps[0]["note"] == "'=1+2"
    assert (steps[0]["delta"], steps[0]["score"]) == ("-1.5", "-4")  # float and int columns
    assert [s["mixed"] for s in steps] == ["-7", "'-7"]  # number and text in one JSON column
    assert steps[0]["'=key"] == "value"  # column names are made inert too


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_parquet_and_jsonl_keep_formula_text_as_stored(
    formulas: Store, tmp_path: Path, fmt: str
) -> None:
    export(formulas, tmp_path, fmt)
    answers = {a["question_id"]: a["answer"] for a in read_rows(tmp_path, "survey_answers", fmt)}
    assert [answers[f"q{i}"] for i in range(len(FORMULAS))] == FORMULAS
    assert answers["negative_text"] == "-3"
    (participant,) = read_rows(tmp_path, "participants", fmt)
    assert participant["url_src"] == FORMULAS[0]
    steps = read_rows(tmp_path, "steps_game", fmt)
    assert (steps[0]["note"], steps[0]["delta"], steps[0]["=key"]) == ("=1+2", -1.5, "value")


# column names ----------------------------------------------------------------------------------


@pytest.fixture
def clashing(tmp_path: Path) -> Iterator[Store]:
    """Data keys named like fixed columns, with and without ``data_`` prefixes."""
    store = Store(f"sqlite:///{tmp_path / 'clashing.db'}")
    params = {"params": "by-name", "url_params": "prefixed", "PROLIFIC_PID": "abc"}
    store.create_participant("p1", "exp", condition=None, url_params=params, seed=1, scene_order=[])
    step = {
        "step": "a",
        "data_step": "b",
        "data_data_step": "c",
        "t": "d",
        "data_source": "e",
        "action": 1,
    }
    episode = {"episode": "a", "data_episode": "b", "return": 2.5}
    store.write_chunk(
        "p1",
        0,
        [
            rec("step", "game", 1.0, step, episode=0, step=7),
            rec("episode", "game", 2.0, episode, episode=0),
        ],
    )
    yield store
    store.close()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_every_data_key_gets_a_column_of_its_own(clashing: Store, tmp_path: Path, fmt: str) -> None:
    export(clashing, tmp_path, fmt)
    (step,) = read_rows(tmp_path, "steps_game", fmt)
    assert list(step) == [
        "participant_id",
        "scene_id",
        "episode",
        "attempt",
        "step",
        "t",
        "data_step",
        "data_data_step",
        "data_data_data_step",
        "data_t",
        "data_source",
        "action",
    ]
    values = [step[c] for c in list(step)[4:]]
    assert [str(v) for v in values] == ["7", "1.0", "a", "b", "c", "d", "e", "1"]

    (episode,) = read_rows(tmp_path, "episodes", fmt)
    expected = ["0", "a", "b"] if fmt == "csv" else [0, "a", "b"]
    assert [episode[c] for c in ("episode", "data_episode", "data_data_episode")] == expected

    (participant,) = read_rows(tmp_path, "participants", fmt)
    url_params = participant["url_params"]
    stored = {"params": "by-name", "url_params": "prefixed", "PROLIFIC_PID": "abc"}
    assert (url_params if fmt == "jsonl" else json.loads(url_params)) == stored
    assert participant["url_url_params"] == "by-name"
    assert participant["url_url_url_params"] == "prefixed"
    assert participant["url_PROLIFIC_PID"] == "abc"


def test_data_column_names_are_distinct_and_never_a_fixed_column() -> None:
    bases = [*STEP_COLUMNS, "action", "data", "", "_", "data_"]
    keys = {"data_" * n + base for base in bases for n in range(4)}
    names = flatten(STEP_COLUMNS, dict.fromkeys(keys, 0))
    assert len(names) == len(keys)
    assert not set(names) & set(STEP_COLUMNS)
