"""Minari datasets of recorded episodes: ``python -m interactive_gym.export --format minari``.

Genuine records: a browser game is played by ``simulated_page.Page`` (the worker's own runtime
package, the data keys of ``game/record.js``) and stored as uploads are; a server-runtime game
(Gymnasium's CartPole-v1) is played through the real server and its env pool by a socket
client (the helpers of ``test_server_games``). Each dataset is loaded back with
``minari.load_dataset`` and compared with the table export (JSON Lines) of the same database,
and its observations with what the participant's env gave (or with Gymnasium itself).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import minari
import numpy as np
import pytest
from simulated_page import Page
from test_netcode_replay import GROUP_ID, MEMBERS, stored
from test_netcode_replay import genuine as genuine  # a fixture: the group's genuine rows
from test_server_games import page, play_to_end, server

from interactive_gym.data import Store
from interactive_gym.data.admin_actions import exclude
from interactive_gym.dataset_spaces import SpaceError, columns, infer_action_space, infer_space
from interactive_gym.examples.envs import cartpole as cartpole_env
from interactive_gym.examples.envs import kitchen as kitchen_env
from interactive_gym.export import export, main
from interactive_gym.replay._values import browser_value
from interactive_gym.runtime.plain import to_plain
from interactive_gym.study import Experiment, GymScene, load_study
from interactive_gym.study.loader import DEMO_STUDY
from interactive_gym.study.scene import ParticipantContext

EXAMPLES = DEMO_STUDY.parent
CARTPOLE_STUDY = EXAMPLES / "cartpole_study.py"


# -- recording and exporting ---------------------------------------------------------------


def game(study: Path, scene_id: str) -> tuple[Experiment, GymScene]:
    experiment = load_study(study)
    scene = experiment.scene(scene_id)
    assert isinstance(scene, GymScene)
    return experiment, scene


def store_runs(db: str, experiment: Experiment, pid: str, seed: int, records: list[dict]) -> None:
    """A participant and their records, stored as the server stores uploaded chunks."""
    store = Store(db)
    try:
        store.create_participant(
            pid, experiment.experiment_id, condition=None, url_params={}, seed=seed,
            scene_order=list(experiment.scenes_by_id),
        )  # fmt: skip
        for seq, start in enumerate(range(0, len(records), 400)):
            store.write_chunk(pid, seq, records[start : start + 400])
    finally:
        store.close()


def play(
    scene: GymScene, seed: int, keys_seed: int, stop: tuple[int, int] | None = None
) -> list[dict]:
    """Every episode of one page load; ``stop=(episode, steps)``: that one is cut short and
    the page stops there (no summary, no further episode)."""
    page = Page(scene, attempt=1, keys_seed=keys_seed, participant_seed=seed)
    records: list[dict] = []
    for episode in range(scene.episodes):
        if stop is not None and episode == stop[0]:
            return records + page.play(episode, stop_after=stop[1])
        records += page.play(episode)
    return records


def without_observations(records: list[dict]) -> list[dict]:
    stripped = copy.deepcopy(records)
    for record in stripped:
        record["data"].pop("observation", None)
    return stripped


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--format", "minari", *args])
    out, err = capsys.readouterr()
    return code, out, err


def tables(db: str, folder: Path, scene_id: str) -> tuple[dict, dict]:
    """The exported step rows by run (in step order) and the episode rows by run."""
    store = Store(db)
    try:
        export(store, folder, "jsonl")
    finally:
        store.close()

    def rows(name: str) -> list[dict]:
        return [json.loads(line) for line in (folder / f"{name}.jsonl").read_text().splitlines()]

    steps: dict[tuple, list[dict]] = {}
    for row in sorted(rows(f"steps_{scene_id}"), key=lambda r: r["step"]):
        steps.setdefault((row["participant_id"], row["episode"], row["attempt"]), []).append(row)
    episodes = {
        (r["participant_id"], r["episode"], r["attempt"]): r
        for r in rows("episodes")
        if r["scene_id"] == scene_id
    }
    return steps, episodes


def load(monkeypatch: pytest.MonkeyPatch, root: Path, dataset_id: str) -> Any:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return minari.load_dataset(dataset_id)


def episodes_of(dataset: Any) -> list[tuple[dict, Any]]:
    """``(episode metadata, EpisodeData)`` of every episode of a loaded dataset."""
    metadata = list(dataset.storage.get_episode_metadata(range(dataset.total_episodes)))
    return list(zip(metadata, dataset.iterate_episodes(), strict=True))


def decode(value: Any, space: Any, i: int) -> Any:
    """Step ``i`` of an episode's column as a plain value (inferred Text parts are JSON)."""
    if isinstance(space, gym.spaces.Dict):
        return {k: decode(value[k], sub, i) for k, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return [decode(value[j], sub, i) for j, sub in enumerate(space.spaces)]
    if isinstance(space, gym.spaces.Text):
        return json.loads(value[i])
    return np.asarray(value[i]).tolist()


def compare_with_tables(
    dataset: Any, steps: dict, episodes: dict, seeds: dict[str, int], scene: GymScene, agent: str
) -> None:
    """Every dataset episode against its run's exported rows: actions, rewards, terminations,
    truncations (the last one of a run cut short set), the seed, T + 1 observations."""
    multi = len(scene.agents) > 1
    action = f"action_{agent}" if multi else "action"
    reward = f"reward_{agent}" if multi else "reward"
    for meta, episode in episodes_of(dataset):
        key = (meta["owner"], int(meta["episode"]), int(meta["attempt"]))
        rows = steps[key]
        assert meta["agent"] == agent
        # the participant who played the agent (an AI agent has none)
        assert meta.get("participant_id") == (meta["owner"] if agent in scene.humans else None)
        assert len(episode) == len(rows) > 0
        assert np.asarray(episode.actions).tolist() == [r[action] for r in rows]
        assert episode.rewards.tolist() == [float(r[reward]) for r in rows]
        assert episode.terminations.tolist() == [r["terminated"] for r in rows]
        recorded = [r["truncated"] for r in rows]
        cut_short = not (rows[-1]["terminated"] or rows[-1]["truncated"])
        assert bool(meta["cut_short"]) is cut_short
        assert episode.truncations.tolist() == recorded[:-1] + [recorded[-1] or cut_short]
        ctx = ParticipantContext(meta["owner"], "x", seeds[meta["owner"]])
        assert meta["seed"] == scene.episode_seeds(ctx)[key[1]]
        if key in episodes:
            assert meta["seed"] == episodes[key]["seed"]
        assert len(decode_all(episode.observations, dataset.observation_space)) == len(rows) + 1


def decode_all(value: Any, space: Any) -> list[Any]:
    n = len(value[next(iter(value))]) if isinstance(value, dict) else None
    if n is None:
        n = len(value[0]) if isinstance(value, tuple) else len(value)
    return [decode(value, space, i) for i in range(n)]


# -- a browser game whose observations are not recorded: the demo's kitchen -----------------


def test_the_demo_kitchen_replayed_cut_short_and_altered_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Observations reconstructed by replay equal what the participant's env gave; a run cut
    short is kept with its last step truncated; a run whose reward was altered is left out,
    named in the output; the spaces are inferred and the metadata says so."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    experiment, scene = game(DEMO_STUDY, "kitchen")
    scene.episodes = 2  # as in the study; the page also records observations, as ground truth
    watched = copy.deepcopy(scene)
    watched.record_observations = True
    seeds = {"p1": 11, "p2": 12, "p3": 13}
    truth: dict[tuple[str, int], list[Any]] = {}
    for i, (pid, seed) in enumerate(seeds.items()):
        records = play(watched, seed, keys_seed=i, stop=(1, 25) if pid == "p2" else None)
        for r in records:
            if r["kind"] == "step":
                truth.setdefault((pid, r["episode"]), []).append(r["data"]["observation"]["0"])
        records = without_observations(records)
        if pid == "p3":  # an altered reward: this run does not replay as recorded
            step = next(r for r in records if r["kind"] == "step" and r["step"] == 5)
            step["data"]["reward_0"] = 99.0
        store_runs(db, experiment, pid, seed, records)
    out = tmp_path / "datasets"

    code, printed, err = run(
        capsys, "--db", db, "--scene", "kitchen", "--dataset-id", "lab/kitchen-human-v0",
        "--out", str(out), "--author", "A. Researcher", "--author-email", "a@example.org",
        "--code-permalink", "https://example.org/study",
    )  # fmt: skip

    assert code == 0, err
    assert (out / "lab" / "kitchen-human-v0" / "data").is_dir()
    assert "1 run left out" in printed
    assert "participant p3 episode 0 attempt 1: does not replay as recorded: step 5" in printed
    assert "5 episodes" in printed and "1 cut short" in printed
    dataset = load(monkeypatch, out, "lab/kitchen-human-v0")
    assert dataset.total_episodes == 5
    assert dataset.action_space == gym.spaces.Discrete(6)
    assert isinstance(dataset.observation_space, gym.spaces.Dict)
    steps, episodes = tables(db, tmp_path / "tables", "kitchen")
    compare_with_tables(dataset, steps, episodes, seeds, scene, "0")
    for meta, episode in episodes_of(dataset):
        observations = decode_all(episode.observations, dataset.observation_space)
        assert observations[1:] == truth[(meta["owner"], int(meta["episode"]))]
        env = kitchen_env.make_env(**scene.env_config)  # the reset observation, from the env
        first, _ = env.reset(seed=int(meta["seed"]))
        assert observations[0] == browser_value(to_plain(first[0]))
        assert set(episode.infos) == {"score", "delivered", "t"}
        assert episode.infos["t"].tolist() == list(range(len(episode) + 1))
    kept = {(m["owner"], int(m["episode"])) for m, _ in episodes_of(dataset)}
    assert kept == {("p1", 0), ("p1", 1), ("p2", 0), ("p2", 1), ("p3", 1)}
    cut = [m for m, _ in episodes_of(dataset) if m["cut_short"]]
    assert [(m["owner"], int(m["episode"]), int(m["total_steps"])) for m in cut] == [("p2", 1, 25)]
    meta = dataset.storage.metadata
    assert meta["author"] == {"A. Researcher"} and meta["author_email"] == {"a@example.org"}
    assert meta["code_permalink"] == "https://example.org/study"
    assert meta["algorithm_name"] == "human participants"
    ours = meta["interactive_gym"]
    assert ours["experiment_id"] == "demo" and ours["scene_id"] == "kitchen"
    assert ours["observation_space_source"] == "inferred"
    assert ours["action_space_source"] == "inferred"
    assert ours["observations"].startswith("replayed")
    assert ours["participants"] == ["p1", "p2", "p3"] and ours["skipped_runs"] == 1
    assert ours["cut_short_episodes"] == 1


def test_complete_only_and_another_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--complete-only`` leaves out runs cut short (and says so); ``--agent 1`` writes the AI
    partner's view of the same runs, its actions its own."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    experiment, scene = game(DEMO_STUDY, "kitchen")
    store_runs(db, experiment, "p1", 7, play(scene, 7, keys_seed=3, stop=(1, 30)))
    out = tmp_path / "datasets"

    code, printed, err = run(
        capsys, "--db", db, "--scene", "kitchen", "--dataset-id", "lab/complete-v0",
        "--out", str(out), "--complete-only",
    )  # fmt: skip
    assert code == 0, err
    assert "participant p1 episode 1 attempt 1 agent 0: cut short (--complete-only)" in printed
    dataset = load(monkeypatch, out, "lab/complete-v0")
    assert [int(m["episode"]) for m, _ in episodes_of(dataset)] == [0]

    code, printed, err = run(
        capsys, "--db", db, "--scene", "kitchen", "--dataset-id", "lab/partner-v0",
        "--out", str(out), "--agent", "1",
    )  # fmt: skip
    assert code == 0, err
    partner = load(monkeypatch, out, "lab/partner-v0")
    assert partner.total_episodes == 2
    assert partner.storage.metadata["algorithm_name"] == "PythonPolicy kitchen_partner.py:policy"
    steps, episodes = tables(db, tmp_path / "tables", "kitchen")
    compare_with_tables(partner, steps, episodes, {"p1": 7}, scene, "1")
    for meta, _ in episodes_of(partner):
        assert meta["agent"] == "1"


# -- a browser game that records its observations: CartPole ---------------------------------


def test_recorded_observations_are_the_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'study.db'}"
    experiment, scene = game(CARTPOLE_STUDY, "cartpole")
    seeds = {"p1": 5, "p2": 6}
    for i, (pid, seed) in enumerate(seeds.items()):
        store_runs(db, experiment, pid, seed, play(scene, seed, keys_seed=10 + i))
    out = tmp_path / "datasets"

    code, printed, err = run(
        capsys, "--db", db, "--study", str(CARTPOLE_STUDY), "--scene", "cartpole",
        "--dataset-id", "lab/cartpole-v3", "--out", str(out),
    )  # fmt: skip

    assert code == 0, err
    assert "left out" not in printed
    dataset = load(monkeypatch, out, "lab/cartpole-v3")
    assert dataset.total_episodes == 2 * scene.episodes
    assert dataset.observation_space == gym.spaces.Box(-np.inf, np.inf, (4,), np.float64)
    assert dataset.action_space == gym.spaces.Discrete(2)
    steps, episodes = tables(db, tmp_path / "tables", "cartpole")
    compare_with_tables(dataset, steps, episodes, seeds, scene, "player")
    for meta, episode in episodes_of(dataset):
        rows = steps[(meta["owner"], int(meta["episode"]), int(meta["attempt"]))]
        assert episode.observations[1:].tolist() == [r["observation"] for r in rows]
        reset, info = cartpole_env.make_env().reset(seed=int(meta["seed"]))
        assert episode.observations[0].tolist() == reset
        assert episode.infos["t"].tolist() == [info["t"]] + [r["info"]["t"] for r in rows]
    ours = dataset.storage.metadata["interactive_gym"]
    assert ours["observations"].startswith("recorded")
    assert ours["observation_space_source"] == "inferred"
    assert ours["study"] == str(CARTPOLE_STUDY)


# -- a server-runtime game with declared spaces: Gymnasium's CartPole-v1 --------------------

SERVER_STUDY = """
from interactive_gym.study import EndScene, Experiment, GymScene, StaticScene

experiment = Experiment(
    "server_games",
    scenes=[
        StaticScene("consent", html="<p>c</p>", consent="I agree"),
        GymScene(
            "game",
            runtime="server",
            env_id="CartPole-v1",
            agents={"player": "human"},
            controls={"ArrowLeft": 0, "ArrowRight": 1},
            fps=30,
            episodes=2,
            max_steps=12,
        ),
        EndScene(),
    ],
    seed=0,
)
"""


async def test_a_server_game_has_the_envs_declared_spaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Observations replayed (not recorded) are Gymnasium's own for the recorded actions; the
    spaces are CartPole-v1's and the dataset recovers the env with the scene's step limit."""
    study = tmp_path / "study.py"
    study.write_text(SERVER_STUDY)
    experiment = load_study(study)
    with server(tmp_path, experiment) as (url, store):
        async with page(url, "p1") as p:
            await p.to_game()
            assert (await p.call("game:open", {"scene_id": "game"}))["ok"]
            for episode in range(2):
                start = {"scene_id": "game", "episode": episode, "attempt": 1}
                assert (await p.call("game:episode", start))["ok"]
                assert (await p.call("game:play", {"scene_id": "game", "episode": episode}))["ok"]
                await p.press(episode, ["ArrowLeft", "ArrowRight"][episode], episode)
                await play_to_end(p, episode)
        db = store.url
    out = tmp_path / "datasets"

    code, printed, err = run(
        capsys, "--db", db, "--study", str(study), "--scene", "game",
        "--dataset-id", "lab/gym-cartpole-v0", "--out", str(out),
    )  # fmt: skip

    assert code == 0, err
    dataset = load(monkeypatch, out, "lab/gym-cartpole-v0")
    reference = gym.make("CartPole-v1")
    assert dataset.observation_space == reference.observation_space
    assert dataset.action_space == reference.action_space
    assert dataset.total_episodes == 2
    steps, episodes = tables(db, tmp_path / "tables", "game")
    scene = experiment.scene("game")
    assert isinstance(scene, GymScene)
    participant_seed = Store(db).get_participant("p1")
    assert participant_seed is not None
    compare_with_tables(dataset, steps, episodes, {"p1": participant_seed.seed}, scene, "player")
    for meta, episode in episodes_of(dataset):
        observation, _ = reference.reset(seed=int(meta["seed"]))
        expected = [observation]
        for a in episode.actions.tolist():
            expected.append(reference.step(a)[0])
        assert np.array_equal(episode.observations, np.asarray(expected))
        assert episode.observations.dtype == np.float32
    ours = dataset.storage.metadata["interactive_gym"]
    assert ours["observation_space_source"] == "declared"
    assert ours["action_space_source"] == "declared"
    assert ours["runtime"] == "server" and ours["env"] == {"env_id": "CartPole-v1"}
    recovered = dataset.recover_environment()
    assert recovered.spec is not None and recovered.spec.max_episode_steps == 12


# -- what stops the command -------------------------------------------------------------------


@pytest.fixture
def recorded(tmp_path: Path) -> str:
    """A database with one participant's cartpole runs (the CartPole example study)."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    experiment, scene = game(CARTPOLE_STUDY, "cartpole")
    scene.episodes = 1
    store_runs(db, experiment, "p1", 3, play(scene, 3, keys_seed=1))
    return db


def cartpole_args(db: str, out: Path, *more: str) -> list[str]:
    base = ["--db", db, "--study", str(CARTPOLE_STUDY), "--scene", "cartpole"]
    return [*base, "--dataset-id", "lab/cp-v0", "--out", str(out), *more]


def nothing_written(out: Path) -> bool:
    return not (out / "lab" / "cp-v0").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--scene", "instructions"], "--scene 'instructions' is not a game scene"),
        (["--scene", "nope"], "--scene 'nope' is not a scene of the study"),
        (["--dataset-id", "cp-v0"], "--dataset-id 'cp-v0': expected NAMESPACE/NAME-vN"),
        (["--dataset-id", "lab/cp"], "--dataset-id 'lab/cp': expected NAMESPACE/NAME-vN"),
        (["--dataset-id", "lab/c p-v0"], "--dataset-id 'lab/c p-v0': expected"),
        (["--agent", "ghost"], "--agent 'ghost': the scene 'cartpole' has agents player"),
        (["--experiment", "other"], "--experiment 'other': the study"),
        (["--participant", "p9"], "--participant p9: no such participant"),
    ],
)
def test_bad_flags_stop_with_a_message_naming_the_flag(
    recorded: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: list[str],
    message: str,
) -> None:
    out = tmp_path / "datasets"
    args = cartpole_args(recorded, out)
    flag = args.index(change[0]) if change[0] in args else None
    if flag is not None:
        args[flag + 1] = change[1]
    else:
        args += change
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("error: ") and message in err, err
    assert nothing_written(out)


def test_the_scene_error_lists_the_game_scenes(
    recorded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cartpole_args(recorded, tmp_path / "datasets")
    args[args.index("--scene") + 1] = "end"
    code, _, err = run(capsys, *args)
    assert code == 2 and "its game scenes: cartpole" in err, err


def test_no_episodes_is_an_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'study.db'}"
    experiment, scene = game(CARTPOLE_STUDY, "cartpole")
    records = play(scene, 4, keys_seed=2)[:3]  # three steps of episode 0...
    for record in records:
        record["data"]["reward"] = 5.0  # ...that the env does not give
    store_runs(db, experiment, "p1", 4, records)
    out = tmp_path / "datasets"
    code, printed, err = run(capsys, *cartpole_args(db, out))
    assert code == 2
    assert "--scene 'cartpole': no episode to write" in err, err
    assert "participant p1 episode 0 attempt 1: does not replay as recorded" in printed
    assert not out.exists()


def test_an_excluded_participant_is_left_out_and_named(
    recorded: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    experiment, scene = game(CARTPOLE_STUDY, "cartpole")
    scene.episodes = 1
    store_runs(recorded, experiment, "p2", 8, play(scene, 8, keys_seed=4))
    store = Store(recorded)
    try:
        exclude(store, "p2", "did not follow the instructions")
    finally:
        store.close()
    out = tmp_path / "datasets"
    code, printed, err = run(capsys, *cartpole_args(recorded, out))
    assert code == 0, err
    expected = "participant p2: excluded by the researcher: did not follow the instructions"
    assert "1 run left out:" in printed and expected in printed, printed
    dataset = load(monkeypatch, out, "lab/cp-v0")
    assert [m["owner"] for m, _ in episodes_of(dataset)] == ["p1"]
    assert dataset.storage.metadata["interactive_gym"]["participants"] == ["p1"]


def test_an_existing_dataset_is_not_overwritten(
    recorded: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "datasets"
    assert run(capsys, *cartpole_args(recorded, out))[0] == 0
    code, _, err = run(capsys, *cartpole_args(recorded, out, "--description", "again"))
    assert code == 2 and "--dataset-id lab/cp-v0: a dataset already exists" in err, err
    dataset = load(monkeypatch, out, "lab/cp-v0")
    assert dataset.total_episodes == 1 and dataset.storage.metadata["description"] != "again"


def test_without_minari_the_command_says_how_to_get_it(
    recorded: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "minari", None)  # import minari now raises ImportError
    code, _, err = run(capsys, *cartpole_args(recorded, tmp_path / "datasets"))
    assert code == 2
    assert "pip install 'interactive-gym[minari]'" in err, err
    assert nothing_written(tmp_path / "datasets")


def test_the_table_formats_still_need_out_and_refuse_minari_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--format", "csv"])
    assert stopped.value.code == 2 and "--format csv needs --out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        main(["--format", "jsonl", "--out", "x", "--scene", "g"])
    assert stopped.value.code == 2
    assert "--scene is for --format minari only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        main(["--format", "minari", "--scene", "g"])
    assert "--format minari needs --dataset-id" in capsys.readouterr().err


# -- the spaces ---------------------------------------------------------------------------


def test_inferred_spaces() -> None:
    box = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
    assert infer_space([[1, 2.5], [3, "NaN"]]) == box
    assert infer_space([1, 2]) == gym.spaces.Box(-np.inf, np.inf, (), np.float64)
    assert infer_space([[True, False], [False, False]]) == gym.spaces.MultiBinary([2])
    assert infer_space([{"a": [1, 2], "b": True}, {"a": [3, 4], "b": False}]) == gym.spaces.Dict(
        {"a": box, "b": gym.spaces.Discrete(2)}
    )
    mixed = infer_space([[1, "x"], [2, "y"]])
    assert isinstance(mixed, gym.spaces.Tuple)
    assert isinstance(mixed.spaces[1], gym.spaces.Text)
    # a part that changes shape (length, keys, None) is JSON text
    for values in ([[1], [1, 2]], [{"a": 1}, {"b": 1}], [None, 1]):
        space = infer_space(values)
        assert isinstance(space, gym.spaces.Text), values
        assert columns(values, space, True) == [
            json.dumps(v, separators=(",", ":")) for v in values
        ]
    assert infer_action_space([0, 3, 1], 6) == gym.spaces.Discrete(6)
    assert infer_action_space([0, 3, 1], None) == gym.spaces.Discrete(4)
    with pytest.raises(SpaceError, match="action 7 recorded, but the game has 6 actions"):
        infer_action_space([7], 6)


def test_columns_check_the_shape_of_a_declared_space() -> None:
    space = gym.spaces.Box(-1, 1, (3,), np.float32)
    array = columns([[0, 0.5, "-Infinity"], [1, 1, 1]], space, False)
    assert array.dtype == np.float32 and array.shape == (2, 3) and array[0, 2] == -np.inf
    with pytest.raises(SpaceError, match=r"shape \(2,\) recorded"):
        columns([[0, 0.5], [1, 1]], space, False)
    with pytest.raises(SpaceError, match=r"\['b'\]: value 1 has no key 'b'"):
        columns([{"b": 1}, {"c": 2}], gym.spaces.Dict({"b": gym.spaces.Discrete(3)}), False)


# -- a group's game in the browser: the server's canonical rows -----------------------------

GROUP_STUDY = """
import sys
from pathlib import Path

sys.path.insert(0, {tests!r})
from test_netcode_replay import study

experiment = study(Path(__file__).parent)
"""


def test_a_group_game_gives_each_members_agent(
    genuine: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One episode per run and human agent, each with the member who played it; the steps
    the server or a stand-in played for an agent are counted in the episode's metadata."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    stored(db, genuine, genuine.records).close()
    study_file = tmp_path / "group_study.py"
    study_file.write_text(GROUP_STUDY.format(tests=str(Path(__file__).parent)))
    out = tmp_path / "datasets"
    common = ["--db", db, "--study", str(study_file), "--out", str(out)]

    code, printed, err = run(capsys, *common, "--scene", "gather", "--dataset-id", "lab/gather-v0")

    assert code == 0, err
    assert "left out" not in printed
    dataset = load(monkeypatch, out, "lab/gather-v0")
    steps, episodes = tables(db, tmp_path / "tables", "gather")
    found = episodes_of(dataset)
    runs = sorted({(m["owner"], int(m["episode"])) for m, _ in found})
    assert runs == [(GROUP_ID, 0), (GROUP_ID, 1)]
    assert sorted((int(m["episode"]), m["agent"], m["participant_id"]) for m, _ in found) == [
        (0, "0", MEMBERS["0"]),
        (0, "1", MEMBERS["1"]),
        (1, "0", MEMBERS["0"]),
        (1, "1", MEMBERS["1"]),
    ]
    rows_by_run = {(k[1], k[2]): v for k, v in steps.items()}  # no participant: group rows
    for meta, episode in found:
        assert meta["owner_kind"] == "group"
        rows = rows_by_run[(int(meta["episode"]), int(meta["attempt"]))]
        assert all(r["group_id"] == GROUP_ID and r["participant_id"] is None for r in rows)
        agent = meta["agent"]
        assert episode.actions.tolist() == [r[f"action_{agent}"] for r in rows]
        assert episode.rewards.tolist() == [float(r[f"reward_{agent}"]) for r in rows]
        assert episode.terminations.tolist() == [r["terminated"] for r in rows]
        assert episode.truncations.tolist() == [r["truncated"] for r in rows]
        summary = episodes[(None, int(meta["episode"]), int(meta["attempt"]))]
        assert meta["seed"] == summary["seed"]
        assert len(decode_all(episode.observations, dataset.observation_space)) == len(rows) + 1
    assert dataset.storage.metadata["interactive_gym"]["owner_kind"] == "group"

    code, printed, err = run(
        capsys, *common, "--scene", "greedy", "--dataset-id", "lab/greedy-v0", "--agent", "1"
    )
    assert code == 0, err
    greedy = {int(m["episode"]): m for m, _ in episodes_of(load(monkeypatch, out, "lab/greedy-v0"))}
    assert int(greedy[0]["stand_in_steps"]) == 16 and int(greedy[0]["default_steps"]) == 0
    assert int(greedy[1]["stand_in_steps"]) == 36
