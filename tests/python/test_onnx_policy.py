"""ONNX policies: the model reader, OnnxPolicy's checks, serving the model and the runtime.

Models are built at test time with the ``onnx`` package (tests/python/onnx_models.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto
from onnx_models import linear_policy, write
from starlette.testclient import TestClient

from interactive_gym.server import Settings, create_app
from interactive_gym.server.settings import PROJECT_DIR, STATIC_DIR
from interactive_gym.study import EndScene, Experiment, Scene, StudyError
from interactive_gym.study.onnx_model import OnnxFormatError, TensorInfo, read_model_info
from interactive_gym.study.onnx_policy import OnnxPolicy
from interactive_gym.study.served_file import ServedFile

RNG = np.random.default_rng(3)
WEIGHTS = RNG.normal(size=(12, 9))
BIAS = RNG.normal(size=9)
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
    module = (STATIC_DIR / "js" / "game" / "onnx_policies.js").read_text()
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
