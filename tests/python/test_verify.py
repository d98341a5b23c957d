"""``python -m interactive_gym.verify``: a study's recorded episodes replayed from the database.

The records are genuine (``simulated_page.py`` plays the scene with the worker's own runtime
package), stored in a real SQLite database through ``Store.write_chunk``; the command is run as
a reviewer runs it, on the study file. The browser-made data of the other tests is verified in
those tests (``verify_database`` in ``verify_check.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from simulated_page import SEED, Page
from sqlalchemy import update

from interactive_gym import verify
from interactive_gym.data.models import RecordRow
from interactive_gym.data.store import Store
from interactive_gym.db_option import shown
from interactive_gym.study import load_study

ENV = """
class Env:
    num_actions = 2

    def reset(self, seed=None, options=None):
        self.t = 0
        self.x = (seed or 0) % 7
        return [self.t, self.x], {}

    def step(self, action):
        self.t += 1
        self.x = (self.x * 3 + action + 1) % 11
        return [self.t, self.x], float(self.x % 3), False, self.t >= 12, {}

    def get_state(self):
        return {"t": self.t, "x": self.x}

    def set_state(self, state):
        self.t, self.x = state["t"], state["x"]


env = Env()
"""

STUDY = """
from interactive_gym.study import EndScene, Experiment, GymScene

game = GymScene(
    "game",
    env_file="env.py",
    agents={"player": "human"},
    controls={"ArrowLeft": 0, "ArrowRight": 1},
    episodes=3,
    max_steps=12,
)
experiment = Experiment("verify_test", scenes=[game, EndScene()], seed=7)
"""


def study_dir(tmp_path: Path, env: str = ENV, study: str = STUDY) -> Path:
    folder = tmp_path / "study"
    folder.mkdir(exist_ok=True)
    (folder / "env.py").write_text(env)
    (folder / "study.py").write_text(study)
    return folder / "study.py"


def record_participants(tmp_path: Path, study: Path, ids: list[str]) -> str:
    """A database with genuine records of ``ids`` playing the study's game; returns its URL."""
    experiment = load_study(study)
    scene = experiment.scene("game")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    store = Store(url)
    try:
        for n, pid in enumerate(ids):
            store.create_participant(
                pid,
                experiment.experiment_id,
                condition=None,
                url_params={},
                seed=SEED + n,
                scene_order=["game", "end"],
            )
            page = Page(scene, keys_seed=n, participant_seed=SEED + n)
            store.write_chunk(pid, 0, page.play_all())
    finally:
        store.close()
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = verify.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_genuine_records_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = study_dir(tmp_path)
    db = record_participants(tmp_path, study, ["alice", "bob"])
    code, out, _ = run(capsys, "--db", db, "--study", str(study))
    lines = out.splitlines()
    assert code == 0, out
    assert len([x for x in lines if x.startswith("verified ")]) == 6
    assert any(x.startswith("verified") and "participant alice" in x and "12 steps" in x
               for x in lines)  # fmt: skip
    assert "6 episode runs of 2 participants: 6 verified" in out
    assert "72 steps replayed in " in out
    assert "every episode replayed exactly as recorded" in out


def test_an_altered_reward_names_participant_episode_and_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = study_dir(tmp_path)
    db = record_participants(tmp_path, study, ["alice", "bob"])
    store = Store(db)
    try:
        with store.engine.begin() as conn:
            row = conn.execute(
                RecordRow.__table__.select().where(
                    RecordRow.participant_id == "bob",
                    RecordRow.kind == "step",
                    RecordRow.episode == 1,
                    RecordRow.step == 4,
                )
            ).one()
            data = dict(row.data)
            real = data["reward"]
            data["reward"] = real + 5.0
            conn.execute(
                update(RecordRow)
                .where(
                    RecordRow.participant_id == "bob",
                    RecordRow.seq == row.seq,
                    RecordRow.idx == row.idx,
                )
                .values(data=data)
            )
    finally:
        store.close()
    report = tmp_path / "report.json"
    code, out, _ = run(capsys, "--db", db, "--study", str(study), "--json", str(report))
    assert code == 1, out
    (line,) = [x for x in out.splitlines() if x.startswith("DIFFERS")]
    assert "participant bob" in line and "scene game  episode 1 attempt 1" in line
    assert f"step 4: reward {real + 5.0!r} recorded, env gives {real!r}" in line
    assert "the data differs from what the environment gives" in out
    found = json.loads(report.read_text())
    assert found["summary"]["differs"] == 1 and found["summary"]["verified"] == 5
    assert found["summary"]["exit_code"] == 1
    (odd,) = [e for e in found["episodes"] if e["status"] != "verified"]
    assert (odd["owner"], odd["episode"], odd["step"], odd["verified"]) == ("bob", 1, 4, False)


def test_a_non_deterministic_env_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = study_dir(tmp_path)
    db = record_participants(tmp_path, study, ["alice"])
    # the same study, whose env now draws from the global generator after the 5th step
    drifting = ENV.replace(
        "return [self.t, self.x], float(self.x % 3)",
        "return [self.t, self.x], float(self.x % 3) + (random.random() if self.t > 5 else 0)",
    )
    study_dir(tmp_path, "import random\n" + drifting)
    code, out, _ = run(capsys, "--db", db, "--study", str(study))
    assert code == 3, out
    lines = [x for x in out.splitlines() if x.startswith("NONDETERMINISTIC")]
    assert len(lines) == 3
    assert "two replays of the same seed and actions differ at step 5 (reward: " in lines[0]
    assert "nothing differs, but not every episode could be replayed" in out


def test_what_cannot_be_replayed_is_not_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = study_dir(tmp_path)
    db = record_participants(tmp_path, study, ["alice"])
    study_dir(tmp_path, "import not_installed_here\n" + ENV)
    code, out, _ = run(capsys, "--db", db, "--study", str(study))
    assert code == 3
    lines = [x for x in out.splitlines() if x.startswith("NOT REPLAYED")]
    assert len(lines) == 3
    assert "the game cannot be built here: ModuleNotFoundError" in lines[0]
    assert "3 not replayed" in out


def test_an_episode_cut_short_is_checked_as_far_as_it_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = study_dir(tmp_path)
    experiment = load_study(study)
    db = f"sqlite:///{tmp_path / 'cut.db'}"
    store = Store(db)
    store.create_participant(
        "carol", "verify_test", condition=None, url_params={}, seed=SEED, scene_order=["game"]
    )
    page = Page(experiment.scene("game"))
    store.write_chunk("carol", 0, page.play(0) + page.play(1, stop_after=5))
    store.close()
    code, out, _ = run(capsys, "--db", db, "--study", str(study))
    assert code == 3, out
    (line,) = [x for x in out.splitlines() if not x.startswith("verified")][:1]
    assert line.startswith("CUT SHORT") and "episode 1 attempt 1" in line
    assert (
        "the 5 recorded steps replay as recorded, but the episode has no summary: it stopped"
        in line
    )
    assert "2 episode runs of 1 participant: 1 verified, 1 cut short" in out
    assert "17 steps replayed" in out
    # a cut-short run that differs is a difference all the same
    store = Store(db)
    with store.engine.begin() as conn:
        conn.execute(
            update(RecordRow)
            .where(RecordRow.participant_id == "carol", RecordRow.episode == 1)
            .values(data={"action": 1, "reward": 9.0})
        )
    store.close()
    code, out, _ = run(capsys, "--db", db, "--study", str(study))
    assert code == 1, out


def bad_args_cases(tmp_path: Path) -> list[tuple[list[str], str]]:
    study = study_dir(tmp_path)
    db = record_participants(tmp_path, study, ["alice"])
    other = tmp_path / "other.py"
    other.write_text(STUDY.replace('"verify_test"', '"another_study"'))
    (tmp_path / "env.py").write_text(ENV)
    return [
        (["--db", db, "--study", str(study), "--participant", "zed"],
         "--participant zed: no such participant in the database"),
        (["--db", db, "--study", str(other)],
         "--study: the database has no participant of experiment 'another_study', only of "
         "'verify_test'"),
        (["--db", db, "--study", str(other), "--participant", "alice"],
         "--participant alice: a participant of experiment 'verify_test', not of the study's "
         "'another_study'"),
        (["--db", f"sqlite:///{tmp_path / 'none.db'}", "--study", str(study)],
         "no database file at"),
        (["--db", db, "--study", str(tmp_path / "missing.py")], "--study: the study cannot"),
    ]  # fmt: skip


def test_bad_arguments_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in bad_args_cases(tmp_path):
        code, out, err = run(capsys, *args)
        assert code == 2, (args, out, err)
        assert message in err, (args, err)


def test_one_participant_and_json_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = study_dir(tmp_path)
    db = record_participants(tmp_path, study, ["alice", "bob"])
    code, out, err = run(capsys, "--db", db, "--study", str(study), "--participant", "bob",
                         "--json", "-")  # fmt: skip
    assert code == 0
    found: dict[str, Any] = json.loads(out)
    assert {e["owner"] for e in found["episodes"]} == {"bob"}
    assert found["summary"]["verified"] == 3 and found["summary"]["participants"] == 1
    assert found["experiment_id"] == "verify_test"
    assert "3 episode runs of 1 participant: 3 verified" in err


def test_an_empty_database_has_nothing_to_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = study_dir(tmp_path)
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    Store(db).close()
    code, out, _ = run(capsys, "--db", db, "--study", str(study))
    assert code == 3
    assert "nothing to verify" in out


def test_a_database_url_is_shown_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert shown("postgresql+psycopg://ann:s3cret@db.lab:5432/study") == (
        "postgresql+psycopg://ann:***@db.lab:5432/study"
    )
    assert shown("sqlite:///data/study.db") == "sqlite:///data/study.db"
    code, _, err = run(capsys, "--db", "postgresql+psycopg://ann:s3cret@127.0.0.1:1/none")
    assert code == 2
    assert "--db postgresql+psycopg://ann:***@127.0.0.1:1/none: cannot open" in err
    assert "s3cret" not in err
