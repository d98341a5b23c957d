"""ONNX policies: the model reader, OnnxPolicy's checks, serving the model and the runtime.

Models are built at test time with the ``onnx`` package (tests/python/onnx_models.py). The
browser tests (marked ``browser``) play environments in headless Chromium with the models
run by onnxruntime-web in the Pyodide worker: through PyodideWorker's game operations, and
through a whole study whose export is replayed in CPython against the model.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from game_study import (
    GameServer,
    assert_steps_once,
    open_page,
    play_to_the_end,
    rows_of,
)
from offline import local_only_context
from onnx import TensorProto
from onnx_models import linear_policy, write
from playwright.sync_api import Browser, sync_playwright
from starlette.testclient import TestClient

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.examples.envs import physics_duel
from interactive_gym.local_server import serve
from interactive_gym.server import Settings, create_app
from interactive_gym.server.settings import PROJECT_DIR, STATIC_DIR
from interactive_gym.study import EndScene, Experiment, Scene, StudyError
from interactive_gym.study.onnx_model import OnnxFormatError, TensorInfo, read_model_info
from interactive_gym.study.onnx_policy import OnnxPolicy
from interactive_gym.study.served_file import ServedFile

RNG = np.random.default_rng(3)
WEIGHTS = RNG.normal(size=(12, 9))
BIAS = RNG.normal(size=9)
#: For the study test: agent 1 steers its own paddle towards the middle (observation[1] is its
#: y, 0 at the top): up (1) below the middle, down (2) above it. It keeps switching between the
#: two whatever the other player does, so the test never depends on the bot's random keys.
CENTERING_WEIGHTS = np.zeros((12, 9))
CENTERING_WEIGHTS[1, 1], CENTERING_WEIGHTS[1, 2] = 10.0, -10.0
CENTERING_BIAS = np.full(9, -100.0)
CENTERING_BIAS[1], CENTERING_BIAS[2] = -5.0, 5.0
WHERE = "GymScene('duel').agents[1]"


def model_file(tmp_path: Path, name: str = "policy.onnx", **options: object) -> Path:
    return write(tmp_path / name, linear_policy(WEIGHTS, BIAS, **options))  # type: ignore[arg-type]


# -- reading models ------------------------------------------------------------------------


def test_reads_inputs_outputs_types_and_shapes() -> None:
    info = read_model_info(linear_policy(WEIGHTS, BIAS, input_name="x", output_name="y"))
    assert info.inputs == (TensorInfo("x", TensorProto.FLOAT, ("batch", 12)),)
    assert info.outputs == (TensorInfo("y", TensorProto.FLOAT, ("batch", 9)),)


def test_weights_listed_as_inputs_are_not_inputs() -> None:
    info = read_model_info(linear_policy(WEIGHTS, BIAS, initializers_as_inputs=True))
    assert [i.name for i in info.inputs] == ["obs"]


@pytest.mark.parametrize(
    "data",
    [b"", b"not a model at all", b"\x08\x07", linear_policy(WEIGHTS, BIAS)[:-40]],
    ids=["empty", "text", "no graph", "truncated"],
)
def test_other_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(OnnxFormatError):
        read_model_info(data)


# -- OnnxPolicy -----------------------------------------------------------------------------


def test_load_resolves_names_and_shape_and_serves_the_file(tmp_path: Path) -> None:
    path = model_file(tmp_path)
    policy = OnnxPolicy("policy.onnx")
    policy.load(tmp_path, WHERE)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert policy.to_client(seed=5) == {
        "kind": "onnx",
        "modelURL": f"/study-files/{digest}/policy.onnx",
        "model": "policy.onnx",
        "inputName": "obs",
        "outputName": "logits",
        "action": "argmax",
        "shape": [1, 12],
        "seed": 5,
    }
    assert policy.served_files() == [ServedFile("policy.onnx", path.read_bytes())]


def test_declared_names_and_shape_are_used(tmp_path: Path) -> None:
    model_file(tmp_path, extra_input="hidden_state", input_shape=("batch", "time", 0))
    policy = OnnxPolicy("policy.onnx", input_name="obs", output_name="logits",
                        action="sample", shape=[1, 1, 12])  # fmt: skip
    policy.load(tmp_path, WHERE)
    client = policy.to_client()
    assert (client["inputName"], client["outputName"]) == ("obs", "logits")
    assert (client["shape"], client["action"]) == ([1, 1, 12], "sample")


@pytest.mark.parametrize(
    ("model_options", "policy_options", "message"),
    [
        (
            {},
            {"input_name": "state"},
            "input_name 'state': the model policy.onnx has no such input",
        ),
        (
            {},
            {"output_name": "probs"},
            "output_name 'probs': the model policy.onnx has no such output",
        ),
        ({"extra_input": "h"}, {}, "the model policy.onnx has 2 inputs ('obs', 'h')"),
        ({"extra_input": "h"}, {"input_name": "obs"}, "the model policy.onnx has 2 outputs"),
        ({"element_type": TensorProto.INT64}, {}, "takes int64 tensors"),
        ({"input_shape": ("batch", "time", 0)}, {}, "with 2 open dimensions"),
        ({}, {"shape": [1, 13]}, "shape [1, 13] does not fit input 'obs'"),
        ({}, {"shape": [12]}, "shape [12] does not fit input 'obs'"),
    ],
)
def test_load_errors_name_the_agent_and_the_fix(
    tmp_path: Path, model_options: dict, policy_options: dict, message: str
) -> None:
    model_file(tmp_path, **model_options)
    with pytest.raises(StudyError) as caught:
        OnnxPolicy("policy.onnx", **policy_options).load(tmp_path, WHERE)
    assert caught.value.where == WHERE
    assert message in caught.value.problem
    assert caught.value.fix


def test_missing_and_broken_model_files(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"model_file 'gone.onnx': no such file"):
        OnnxPolicy("gone.onnx").load(tmp_path, WHERE)
    (tmp_path / "notes.onnx").write_text("these are my notes")
    with pytest.raises(StudyError, match=r"'notes.onnx' cannot be read as an ONNX model"):
        OnnxPolicy("notes.onnx").load(tmp_path, WHERE)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model_file": 3}, "model_file must be a file path"),
        ({"action": "greedy"}, "action must be one of argmax, sample, raw"),
        ({"shape": [1, 0]}, "shape must be a list of positive whole numbers"),
        ({"shape": "1x12"}, "shape must be a list of positive whole numbers"),
        ({"input_name": ""}, "input_name must be a non-empty string"),
    ],
)
def test_bad_options_are_refused(options: dict, message: str) -> None:
    arguments = {"model_file": "policy.onnx", **options}
    with pytest.raises(StudyError, match=re.escape(message)):
        OnnxPolicy(**arguments)


def test_to_client_before_load_says_so() -> None:
    with pytest.raises(StudyError, match="the model file was not read"):
        OnnxPolicy("policy.onnx").to_client()


# -- serving ---------------------------------------------------------------------------------


class ModelsScene(Scene):
    """A scene holding ONNX policies, as a game scene does (no scene type: not registered)."""

    def __init__(self, scene_id: str, policies: list[OnnxPolicy]) -> None:
        super().__init__(scene_id)
        self.policies = policies

    def load_files(self, base_dir: Path) -> None:
        for i, policy in enumerate(self.policies):
            policy.load(base_dir, f"{self.where}.agents[{i}]")

    def served_files(self) -> list[ServedFile]:
        return [f for policy in self.policies for f in policy.served_files()]


def test_the_server_serves_exactly_the_declared_models(tmp_path: Path) -> None:
    path = model_file(tmp_path, "my policy.onnx")
    policy = OnnxPolicy("my policy.onnx")
    experiment = Experiment(
        "onnx_serving", [ModelsScene("models", [policy]), EndScene()], base_dir=tmp_path
    )
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", secret="s" * 32)
    client = TestClient(create_app(settings, experiment))
    url = policy.to_client()["modelURL"]
    assert url.endswith("/my%20policy.onnx")
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == path.read_bytes()
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    digest = url.split("/")[2]
    assert client.get(f"/study-files/{digest}/other.onnx").status_code == 404
    assert client.get(f"/study-files/{'0' * 64}/my%20policy.onnx").status_code == 404
    assert client.get("/study-files/../../package.json").status_code == 404


# -- the runtime: pinned, self-hosted, right content types ---------------------------------


def test_onnxruntime_web_is_pinned_and_served_with_the_right_types(tmp_path: Path) -> None:
    pinned = json.loads((PROJECT_DIR / "package.json").read_text())["dependencies"]
    version = pinned["onnxruntime-web"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "pin an exact version"
    module = (STATIC_DIR / "js" / "worker" / "onnx_policies.js").read_text()
    assert f'export const ORT_VERSION = "{version}";' in module
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", secret="s" * 32)
    client = TestClient(create_app(settings))
    vendor = f"/vendor/onnxruntime-web@{version}/dist"
    for name, content_type in [
        ("ort.wasm.min.mjs", "text/javascript; charset=utf-8"),
        ("ort-wasm-simd-threaded.mjs", "text/javascript; charset=utf-8"),
        ("ort-wasm-simd-threaded.wasm", "application/wasm"),
    ]:
        response = client.head(f"{vendor}/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == content_type, name
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


# -- in Chromium: the worker plays environments with ONNX agents -----------------------------

ENVS = PROJECT_DIR / "interactive_gym" / "examples" / "envs"

PLAY = """async ({envCode, agents, seed, ticks}) => {
  const { PyodideWorker } = await import("/static/js/PyodideWorker.js");
  const w = new PyodideWorker({ timeoutMs: 30000 });
  const out = { observations: [], actions: [], isolated: self.crossOriginIsolated };
  try {
    await w.init();
    await w.initEnv({ code: envCode });
    await w.loadExtension({
      module: new URL("/static/js/worker/game_hooks.js", location.href).href,
      python: "interactive_gym.runtime.game_host",
    });
    await w.call("setupGame", { agents, record_observations: true });
    const start = await w.call("startEpisode", { seed });
    out.observations.push(start.observation);
    for (let t = 0; t < ticks; t++) {
      const reply = await w.call("tick", { actions: {} });
      out.actions.push(reply.actions);
      out.observations.push(reply.observation);
      if (reply.done) break;
    }
  } catch (error) {
    out.error = { name: error.name, message: error.message };
  } finally {
    w.destroy();
  }
  return out;
}"""


class Played:
    """What a page saw: observations (before each tick, then after the last), actions, error."""

    def __init__(self, result: dict) -> None:
        self.observations: list = result["observations"]
        self.actions: list[dict] = result["actions"]
        self.error: dict | None = result.get("error")
        self.isolated: bool = result["isolated"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def models_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """A real server whose study holds the test's models; yields its URL and the agent specs."""
    folder = tmp_path_factory.mktemp("onnx_study")
    write(folder / "duel.onnx", linear_policy(WEIGHTS, BIAS))
    write(folder / "wide.onnx", linear_policy(np.ones((13, 9)), np.zeros(9)))
    write(folder / "pole.onnx", linear_policy(POLE_WEIGHTS, np.zeros(2)))
    policies = {
        "duel": OnnxPolicy("duel.onnx"),
        "wide": OnnxPolicy("wide.onnx"),
        "pole": OnnxPolicy("pole.onnx", input_name="obs", output_name="logits"),
    }
    experiment = Experiment(
        "onnx_browser", [ModelsScene("models", list(policies.values())), EndScene()],
        base_dir=folder,
    )  # fmt: skip
    settings = Settings(db_url=f"sqlite:///{folder / 'db.sqlite'}", secret="s" * 32)
    specs = {name: policy.to_client() for name, policy in policies.items()}
    with serve(create_app(settings, experiment)) as base_url:
        yield base_url, specs


#: CartPole's observation is (x, x_dot, theta, theta_dot): push right when the pole leans or
#: turns right (theta + theta_dot > 0), else left.
POLE_WEIGHTS = np.array([[0, 0], [0, 0], [-1, 1], [-1, 1]], dtype=np.float64)


def play(browser: Browser, base_url: str, env_file: str, agents: dict, ticks: int) -> Played:
    context, outside = local_only_context(browser, base_url)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/healthz")
        result = page.evaluate(
            PLAY,
            {"envCode": (ENVS / env_file).read_text(), "agents": agents, "seed": 11,
             "ticks": ticks},
        )  # fmt: skip
    finally:
        context.close()
    assert outside == [], f"requests left the server: {outside}"
    return Played(result)


@pytest.mark.browser
def test_an_onnx_agent_plays_physics_duel_by_the_models_argmax(
    chromium: Browser, models_server: tuple[str, dict]
) -> None:
    base_url, specs = models_server
    played = play(chromium, base_url, "physics_duel.py",
                  {"0": {"kind": "random"}, "1": specs["duel"]}, ticks=150)  # fmt: skip
    assert played.error is None, played.error
    assert played.isolated
    assert len(played.actions) == 150
    chosen = [step["1"] for step in played.actions]
    seen = [np.asarray(obs["1"], dtype=np.float64) for obs in played.observations[:-1]]
    logits = np.stack(seen) @ WEIGHTS + BIAS
    # float32 in the browser, float64 here: the chosen action is a maximum up to rounding
    best = logits.max(axis=1)
    picked = logits[np.arange(len(chosen)), chosen]
    assert np.all(picked >= best - 1e-4), list(zip(chosen, logits.argmax(axis=1), strict=True))
    assert {1, 2} <= set(chosen), f"the model should switch up and down: {set(chosen)}"
    assert len({step["0"] for step in played.actions}) > 1  # the random partner really acted


@pytest.mark.browser
def test_an_onnx_agent_balances_cartpole(
    chromium: Browser, models_server: tuple[str, dict]
) -> None:
    base_url, specs = models_server
    played = play(chromium, base_url, "cartpole.py", {"0": specs["pole"]}, ticks=200)
    assert played.error is None, played.error
    expected = [int(obs[2] + obs[3] > 0) for obs in played.observations[:-1]]
    assert [step["0"] for step in played.actions] == expected
    assert set(expected) == {0, 1}
    assert len(played.actions) == 200  # the rule keeps the pole up for the whole run


@pytest.mark.browser
def test_a_model_of_the_wrong_size_fails_naming_agent_and_model(
    chromium: Browser, models_server: tuple[str, dict]
) -> None:
    base_url, specs = models_server
    played = play(chromium, base_url, "physics_duel.py",
                  {"0": {"kind": "random"}, "1": specs["wide"]}, ticks=5)  # fmt: skip
    assert played.actions == []
    assert played.error == {
        "name": "OnnxPolicyError",
        "message": "ONNX policy of agent 1 (model wide.onnx): the observation has 12 numbers "
        'but input "obs" has shape [1,13] (13 numbers)',
    }


@pytest.mark.browser
def test_a_missing_model_fails_when_the_game_is_set_up(
    chromium: Browser, models_server: tuple[str, dict]
) -> None:
    base_url, specs = models_server
    gone = {**specs["duel"], "modelURL": "/study-files/" + "0" * 64 + "/duel.onnx"}
    played = play(chromium, base_url, "physics_duel.py",
                  {"0": {"kind": "random"}, "1": gone}, ticks=5)  # fmt: skip
    assert played.observations == [] and played.actions == []
    assert played.error is not None
    assert played.error["name"] == "OnnxPolicyError"
    assert played.error["message"] == (
        f"ONNX policy of agent 1 (model duel.onnx): could not fetch {gone['modelURL']}: HTTP 404"
    )


# -- a study with an ONNX agent, played by the bot, checked from the export ------------------

DUEL_STUDY = """
from pathlib import Path

from interactive_gym.examples import __file__ as examples
from interactive_gym.study import EndScene, Experiment, GymScene, OnnxPolicy

duel = GymScene(
    "duel",
    env_file=str(Path(examples).parent / "envs" / "physics_duel.py"),
    agents={0: "human", 1: OnnxPolicy("duel.onnx")},
    controls={"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4},
    num_actions=9,
    max_steps=90,
    countdown_s=0,
    pause_after_episode_s=0,
)
experiment = Experiment("onnx_duel", [duel, EndScene()])
"""


@pytest.mark.browser
def test_a_study_with_an_onnx_agent_records_the_models_actions(
    chromium: Browser, tmp_path: Path
) -> None:
    write(tmp_path / "duel.onnx", linear_policy(CENTERING_WEIGHTS, CENTERING_BIAS))
    query = "bot=random&bot_pause_ms=60&PROLIFIC_PID=onnx1"
    tables = play_to_the_end(chromium, tmp_path, DUEL_STUDY, query)
    steps = sorted(rows_of(tables, "steps_duel", "onnx1"), key=lambda r: r["step"])
    assert_steps_once(steps, {0: 90})
    (episode,) = rows_of(tables, "episodes", "onnx1")
    assert episode["ended_by"] == "max_steps"
    assert any(row["keys"] for row in steps), "the bot pressed keys"

    # Replay in CPython with the recorded seed and human actions: at every step the ONNX
    # agent's recorded action is the model's argmax for the observation it saw.
    env = physics_duel.make_env()
    observations, _ = env.reset(seed=episode["seed"])
    chosen = []
    for row in steps:
        logits = np.asarray(observations[1], dtype=np.float64) @ CENTERING_WEIGHTS + CENTERING_BIAS
        assert logits[row["action_1"]] >= logits.max() - 1e-4, (row["step"], logits)
        chosen.append(row["action_1"])
        observations, rewards, *_ = env.step({0: row["action_0"], 1: row["action_1"]})
        assert rewards[0] == row["reward_0"]
    assert {1, 2} <= set(chosen), f"the model should switch up and down: {set(chosen)}"


@pytest.mark.browser
def test_a_model_that_does_not_fit_the_env_stops_the_game_with_a_clear_message(
    chromium: Browser, tmp_path: Path
) -> None:
    write(tmp_path / "duel.onnx", linear_policy(np.ones((13, 9)), np.zeros(9)))
    server = GameServer(tmp_path, DUEL_STUDY)
    try:
        page = open_page(chromium, server, "PROLIFIC_PID=onnx2")
        page.wait_for_selector("[data-ig-game][data-state='error']", timeout=120_000)
        detail = page.inner_text("[data-ig-error]")
        page.context.close()
        tables = server.export()
    finally:
        server.stop()
    message = (
        "ONNX policy of agent 1 (model duel.onnx): the observation has 12 numbers but input "
        '"obs" has shape [1,13] (13 numbers)'
    )
    assert message in detail
    (error,) = [e for e in rows_of(tables, "events", "onnx2") if e["type"] == "game_error"]
    assert message in error["data"]["message"]
    assert error["data"]["stage"] == "step" and error["data"]["step"] == 0
    assert rows_of(tables, "steps_duel", "onnx2") == []
