"""State hashes of a game scene: ``record_state_hash_every=K``.

The game (``runtime/game_host.py``) hashes the env's ``get_state()`` after every K-th step and
the last step of each episode; the step record carries it as ``state_hash`` (the page's
``record.js`` on the browser runtime, ``server/game_records.py`` on the server runtime), and
the replay recomputes it. Real envs throughout (the example CartPole, envs written here), the
worker's own runtime package, a real server with its env processes, and one real page in
headless Chromium.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from game_study import play_to_the_end
from playwright.sync_api import Browser, sync_playwright
from simulated_page import SEED, Page
from test_server_games import page as server_page
from test_server_games import play_to_end, seeds_of, server, study, ticker_scene

import interactive_gym
from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.data.store import Store
from interactive_gym.replay import ParticipantVerdict, replay_participant
from interactive_gym.runtime import game_host, handler
from interactive_gym.runtime.env_host import EnvHost, OperationError
from interactive_gym.runtime.game_host import GameHost
from interactive_gym.runtime.plain import to_plain
from interactive_gym.server.env_check import check_server_scenes
from interactive_gym.study import GymScene, StudyError, load_study
from interactive_gym.study.scene import ParticipantContext

EXAMPLES = Path(interactive_gym.__file__).resolve().parent / "examples"
CARTPOLE_SOURCE = (EXAMPLES / "envs" / "cartpole.py").read_text()
HEX16 = re.compile(r"^[0-9a-f]{16}$")

#: A walk whose position is in the state but never in the reward (always 0) nor the
#: observation (the step count): only the state hash tells two walks apart.
WALKER = """
class Walker:
    num_actions = 2
    render_size = (120, 40)

    def __init__(self, length=12):
        self.length = length
        self.t = 0
        self.x = 0

    def reset(self, seed=None, options=None):
        self.t = 0
        self.x = 0
        return [0], {}

    def step(self, action):
        self.t += 1
        self.x += 1 if action == 1 else -1
        return [self.t], 0.0, False, self.t >= self.length, {}

    def get_state(self):
        return {"t": self.t, "x": self.x, "half": self.x / 2}

    def set_state(self, state):
        self.t, self.x = state["t"], state["x"]

    def render(self):
        return [{"type": "rect", "id": "walker", "x": 0.5 + self.x / 40, "y": 0.4,
                 "w": 0.05, "h": 0.2, "fill": "#336699"}]


def make_env(**config):
    return Walker(**config)
"""

#: The same walk without get_state.
STATELESS = WALKER.replace("def get_state(self):", "def state(self):")


def expected_hash(state: Any) -> str:
    """The shared definition, written out: BLAKE2b-8 of the canonical JSON of the state."""
    text = json.dumps(to_plain(state), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def hashed_steps(length: int, every: int) -> list[int]:
    """The steps of an episode of ``length`` steps that carry a hash."""
    return [s for s in range(length) if (s + 1) % every == 0 or s == length - 1]


def host_of(source: str, **config: Any) -> EnvHost:
    host = EnvHost()
    host.init_env(code=source, config=config, filename="env.py")
    return host


# -- the game: which steps, which hash -----------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "max_steps", "action"),
    [(4, None, 1), (3, 10, 0), (1, 5, 1), (7, 20, 0)],
    ids=["env-ends", "max-steps", "every-step", "k-beyond-the-end"],
)
def test_the_hash_is_on_every_kth_step_and_the_last_and_is_the_env_state_hash(
    every: int, max_steps: int | None, action: int
) -> None:
    host = host_of(CARTPOLE_SOURCE)
    game = GameHost(
        host, {"player": {"kind": "human"}}, max_steps=max_steps, state_hash_every=every
    )
    for seed in (3, 4):  # two episodes: the count starts again at each
        game.start_episode(seed=seed)
        replies, direct = [], []
        while not game.done:
            replies.append(game.tick({"player": action}))
            direct.append(expected_hash(game.env.get_state()))
        length = len(replies)
        assert length >= 5 and (max_steps is None or length <= max_steps)
        if max_steps is None:
            assert replies[-1]["terminated"], "the pole fell: the env ended the episode"
        got = [r["step"] for r in replies if "stateHash" in r]
        assert got == hashed_steps(length, every)
        for step in got:
            assert HEX16.match(replies[step]["stateHash"])
            assert replies[step]["stateHash"] == direct[step]
        assert len({direct[s] for s in got}) == len(got), "every state differs"


def test_hashing_leaves_the_steps_and_env_time_alone() -> None:
    plain = GameHost(host_of(CARTPOLE_SOURCE), {"p": {"kind": "human"}}, max_steps=12)
    hashed = GameHost(
        host_of(CARTPOLE_SOURCE), {"p": {"kind": "human"}}, max_steps=12, state_hash_every=1
    )
    plain.start_episode(seed=9)
    hashed.start_episode(seed=9)
    for i in range(12):
        a, b = plain.tick({"p": i % 2}), hashed.tick({"p": i % 2})
        assert "stateHash" not in a and "stateHash" in b
        assert {k: v for k, v in b.items() if k not in ("stateHash", "policyMs")} == {
            k: v for k, v in a.items() if k != "policyMs"
        }
    # env_ms of a tick is the env's step and render only (the hash's get_state is not in it)
    host = hashed.host
    hashed.start_episode(seed=9)
    get_state = host.env.get_state
    calls = []

    def slow_get_state() -> Any:
        calls.append(1)
        time.sleep(0.05)
        return get_state()

    host.env.get_state = slow_get_state
    host.env_ms = 0.0
    hashed.tick({"p": 0})
    assert calls == [1] and host.env_ms < 40


def test_the_worker_takes_the_option_in_setup_game_and_names_a_missing_get_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's own entry point (``handler.handle``), as the page calls it."""
    monkeypatch.setattr(handler, "HOST", EnvHost())
    monkeypatch.setattr(handler, "OPERATIONS", dict(handler.OPERATIONS))
    monkeypatch.setattr(game_host, "_game", None)
    handler.register(game_host.OPERATIONS)
    assert handler.handle("initEnv", {"code": WALKER, "filename": "walker.py"})["ok"]
    agents = {"me": {"kind": "human"}}
    setup = handler.handle("setupGame", {"agents": agents, "state_hash_every": 2})
    assert setup["ok"], setup
    assert handler.handle("startEpisode", {"seed": 1})["ok"]
    replies = [handler.handle("tick", {"actions": {"me": 1}})["value"] for _ in range(12)]
    assert [r["step"] for r in replies if "stateHash" in r] == [1, 3, 5, 7, 9, 11]
    assert replies[3]["stateHash"] == expected_hash({"t": 4, "x": 4, "half": 2.0})

    assert handler.handle("initEnv", {"code": STATELESS, "filename": "walker.py"})["ok"]
    failed = handler.handle("setupGame", {"agents": agents, "state_hash_every": 2})
    assert failed["ok"] is False
    assert failed["error"]["message"] == (
        "record_state_hash_every: the environment Walker does not implement get_state(), which "
        "the state hash is made from; implement get_state() (returning its state as plain "
        "data), or leave record_state_hash_every out"
    )
    assert handler.handle("setupGame", {"agents": agents, "state_hash_every": None})["ok"]


@pytest.mark.parametrize("every", [0, 10001, "5", 2.0, True])
def test_a_bad_state_hash_every_is_refused_by_the_game(every: Any) -> None:
    with pytest.raises(OperationError, match=r"state_hash_every \(the scene's "):
        GameHost(host_of(WALKER), {"me": {"kind": "human"}}, state_hash_every=every)


# -- the scene option --------------------------------------------------------------------------


def walker_scene(tmp_path: Path, **options: Any) -> GymScene:
    (tmp_path / "walker.py").write_text(WALKER)
    options.setdefault("agents", {"me": "human"})
    options.setdefault("controls", {"ArrowLeft": 0, "ArrowRight": 1})
    scene = GymScene(options.pop("scene_id", "walk"), env_file="walker.py", **options)
    scene.load_files(tmp_path)
    return scene


@pytest.mark.parametrize(
    ("every", "problem"),
    [
        (0, "record_state_hash_every must be at least 1, got 0"),
        (10001, "record_state_hash_every must be at most 10000, got 10001"),
        ("5", "record_state_hash_every must be a whole number, got str '5'"),
        (2.5, "record_state_hash_every must be a whole number, got float 2.5"),
        (True, "record_state_hash_every must be a whole number, got bool True"),
    ],
)
def test_a_bad_record_state_hash_every_stops_the_study(
    tmp_path: Path, every: Any, problem: str
) -> None:
    with pytest.raises(StudyError) as raised:
        walker_scene(tmp_path, record_state_hash_every=every)
    assert str(raised.value) == f"GymScene('walk'): {problem}"


def test_the_option_travels_to_the_page_and_the_env_process(tmp_path: Path) -> None:
    ctx = ParticipantContext("p", "study", 1)
    browser = walker_scene(tmp_path, record_state_hash_every=5)
    assert browser.client_options(ctx)["record_state_hash_every"] == 5
    server_scene = walker_scene(tmp_path, runtime="server", record_state_hash_every=7)
    assert server_scene.game_spec(ctx)["state_hash_every"] == 7
    assert walker_scene(tmp_path).client_options(ctx)["record_state_hash_every"] is None
    # a group game the server runs may record them too
    group = walker_scene(
        tmp_path,
        runtime="server",
        agents={"a": "human", "b": "human"},
        record_state_hash_every=3,
    )
    assert group.game_spec(ctx)["state_hash_every"] == 3


def test_a_group_game_in_the_browser_refuses_it_naming_its_own_hashes(tmp_path: Path) -> None:
    with pytest.raises(StudyError) as raised:
        walker_scene(
            tmp_path,
            agents={"a": "human", "b": "human"},
            hash_every_frames=6,
            record_state_hash_every=3,
        )
    assert str(raised.value) == (
        "GymScene('walk'): record_state_hash_every: a group game in the browser records state "
        "hashes already (the whole game's state, every hash_every_frames = 6 frames, in the "
        "group's step rows)\n  fix: leave record_state_hash_every out; set hash_every_frames to "
        "change how often"
    )


def test_a_server_game_whose_env_has_no_get_state_stops_the_start(tmp_path: Path) -> None:
    experiment = study(tmp_path, ticker_scene(record_state_hash_every=5))
    with pytest.raises(StudyError) as raised:
        check_server_scenes(experiment)
    assert str(raised.value).startswith(
        "scene 'game': record_state_hash_every: the environment Ticker does not implement "
        "get_state()"
    )


# -- the replay ---------------------------------------------------------------------------------


def page_records(scene: GymScene, keys_seed: int = 0) -> list[dict[str, Any]]:
    """A simulated page's records: each step's data has ``state_hash`` when its tick reply has
    ``stateHash``, as record.js's ``stepData`` puts it."""
    return Page(scene, keys_seed=keys_seed).play_all()


def replay(scene: GymScene, records: list[dict[str, Any]]) -> ParticipantVerdict:
    return replay_participant(scene, records, participant_seed=SEED)


def test_recorded_hashes_verify_and_a_changed_one_names_the_step_and_both(
    tmp_path: Path,
) -> None:
    scene = walker_scene(tmp_path, episodes=2, record_state_hash_every=3)
    records = page_records(scene)
    steps = [r for r in records if r["kind"] == "step"]
    for episode in (0, 1):
        mine = [r for r in steps if r["episode"] == episode]
        assert [r["step"] for r in mine if "state_hash" in r["data"]] == [2, 5, 8, 11]
    verdict = replay(scene, records)
    assert verdict.verified is True, verdict.reason

    changed = json.loads(json.dumps(records))
    record = next(r for r in changed if r["episode"] == 1 and r["step"] == 5)
    recorded = record["data"]["state_hash"]
    record["data"]["state_hash"] = "0123456789abcdef"
    verdict = replay(scene, changed)
    assert verdict.verified is False
    assert verdict.reason == (
        "walk episode 1 attempt 1: step 5: state_hash '0123456789abcdef' recorded, but the state "
        f"after this step hashes to {recorded!r}"
    )


def test_a_changed_walk_with_the_same_rewards_is_caught_only_by_the_hash(tmp_path: Path) -> None:
    """Step 4's action (and its keys) changed: the rewards, the flags and the observations are
    the same, so only the state hash of step 5 (the next hashed one) tells."""
    scene = walker_scene(tmp_path, record_state_hash_every=3)
    records = page_records(scene, keys_seed=5)
    changed = json.loads(json.dumps(records))
    step = next(r for r in changed if r["step"] == 4)
    action = step["data"]["action"]
    step["data"]["action"] = 1 - action
    step["data"]["keys"] = "ArrowRight" if action == 0 else "ArrowLeft"
    verdict = replay(scene, changed)
    assert verdict.verified is False
    assert verdict.reason is not None
    assert verdict.reason.startswith("walk episode 0 attempt 1: step 5: state_hash ")

    unhashed = json.loads(json.dumps(changed))
    for record in unhashed:
        record["data"].pop("state_hash", None)
    plain = walker_scene(tmp_path)  # the same game, recording no hashes
    assert replay(plain, unhashed).verified is True, "without hashes the change goes unseen"
    # and hashes the scene records cannot be left out
    verdict = replay(scene, unhashed)
    assert verdict.verified is False
    assert verdict.reason == (
        "walk episode 0 attempt 1: step 2: no state_hash recorded, but the scene records the "
        "state's hash every 3 steps and at the end of an episode"
    )


# -- the server runtime -------------------------------------------------------------------------


async def test_a_server_game_records_the_hashes_and_they_replay(tmp_path: Path) -> None:
    (tmp_path / "walker.py").write_text(WALKER)
    scene = ticker_scene(
        env_file="walker.py",
        env_config={"length": 10},
        controls={"ArrowLeft": 0, "ArrowRight": 1},
        episodes=2,
        record_state_hash_every=4,
    )
    experiment = study(tmp_path, scene)
    check_server_scenes(experiment)
    with server(tmp_path, experiment) as (url, store):
        async with server_page(url, "p1") as p:
            await p.to_game()
            assert (await p.call("game:open", {"scene_id": "game"}))["ok"]
            for episode in range(2):
                started = await p.call(
                    "game:episode", {"scene_id": "game", "episode": episode, "attempt": 1}
                )
                assert started["ok"], started
                assert (await p.call("game:play", {"scene_id": "game", "episode": episode}))["ok"]
                await p.press(1, "ArrowRight", episode)
                await play_to_end(p, episode)
            assert (await p.call("game:close", {"scene_id": "game"}))["ok"]
            response = {"status": "completed", "episodes": 2, "error": None}
            done = await p.call("study:advance", {"scene_id": "game", "response": response})
            assert done["ok"], done
        seeds = seeds_of(experiment, store, "p1")
        participant = store.get_participant("p1")
        assert participant is not None
        records = await asyncio.to_thread(store.records, "p1")
    steps = [r for r in records if r["kind"] == "step"]
    for episode in (0, 1):
        mine = sorted((r for r in steps if r["episode"] == episode), key=lambda r: r["step"])
        assert [r["step"] for r in mine] == list(range(10))
        assert [r["step"] for r in mine if "state_hash" in r["data"]] == [3, 7, 9]
        for record in mine:
            data = record["data"]
            assert data["runtime"] == "server"
            if "state_hash" in data:
                assert HEX16.match(data["state_hash"])
    assert seeds and participant.seed is not None
    verdict = replay_participant(scene, records, participant_seed=participant.seed)
    assert verdict.verified is True, verdict.reason
    changed = copy.deepcopy(records)
    next(r for r in changed if r["kind"] == "step" and r["step"] == 7)["data"]["state_hash"] = (
        "f" * 16
    )
    verdict = replay_participant(scene, changed, participant_seed=participant.seed)
    assert verdict.verified is False
    assert verdict.reason is not None and "step 7: state_hash 'ffffffffffffffff'" in verdict.reason


# -- a real page ---------------------------------------------------------------------------------

STUDY = f"""
from interactive_gym.study import EndScene, Experiment, GymScene

cartpole = GymScene(
    "cartpole",
    env_file="envs/cartpole.py",
    agents={{"player": "human"}},
    controls={{"ArrowLeft": 0, "ArrowRight": 1}},
    fps=50,
    episodes=2,
    max_steps=30,
    record_state_hash_every=4,
    countdown_s=0,
    pause_after_episode_s=0.2,
)

experiment = Experiment(
    "hashes", scenes=[cartpole, EndScene()], seed=17, base_dir={str(EXAMPLES)!r}
)
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_a_real_page_records_the_hashes_pyodide_computes_and_they_replay(
    browser: Browser, tmp_path: Path
) -> None:
    play_to_the_end(browser, tmp_path, STUDY, "bot=random&bot_pause_ms=40&PROLIFIC_PID=h1")
    experiment = load_study(tmp_path / "study.py")
    scene = experiment.scene("cartpole")
    assert isinstance(scene, GymScene)
    store = Store(f"sqlite:///{tmp_path / 'study.db'}")
    try:
        records = store.records("h1")
        participant = store.get_participant("h1")
    finally:
        store.close()
    assert participant is not None
    summaries = {r["episode"]: r["data"] for r in records if r["kind"] == "episode"}
    assert sorted(summaries) == [0, 1]
    for episode, summary in summaries.items():
        steps = sorted(
            (r for r in records if r["kind"] == "step" and r["episode"] == episode),
            key=lambda r: r["step"],
        )
        assert [r["step"] for r in steps] == list(range(summary["length"]))
        hashed = [r["step"] for r in steps if "state_hash" in r["data"]]
        assert hashed == hashed_steps(summary["length"], 4)
        assert all(HEX16.match(r["data"]["state_hash"]) for r in steps if r["step"] in hashed)
        assert all(r["data"]["runtime"] == "browser" for r in steps)
    verdict = replay_participant(scene, records, participant_seed=participant.seed)
    assert verdict.verified is True, verdict.reason
    assert [e.verified for e in verdict.episodes] == [True, True]
