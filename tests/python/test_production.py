"""``--production``: only what participants need is served; by default the test pages are too."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_client import client_for
from starlette.testclient import TestClient

from interactive_gym.server.settings import PROJECT_DIR
from interactive_gym.server.static_files import development_only, package_version

VENDOR = f"/vendor/pyodide@{package_version(PROJECT_DIR / 'node_modules' / 'pyodide')}"

#: Test, check and benchmark pages (and what only they load).
DEVELOPMENT = [
    "/static/js/test_pyodide_worker.html",
    "/static/js/test_pyodide_worker.js",
    "/static/js/render/test_renderer.html",
    "/static/js/render/test_renderer.js",
    "/static/js/render/test_atlas.png",
    "/static/js/data/uploader_check.html",
    "/static/js/data/uploader_check.js",
    "/static/bench/worker_bench.html",
    "/static/bench/bench_env.js",
    "/static/bench/echo_worker.js",
    f"{VENDOR}/console.html",
]
#: What a participant's page loads.
PARTICIPANT = [
    "/",
    "/static/js/PyodideWorker.js",
    "/static/js/worker_protocol.js",
    "/static/js/worker/pyodide_worker.js",
    "/static/js/worker/game_hooks.js",
    "/runtime/handler.py",
    "/static/js/study/main.js",
    "/static/js/data/uploader.js",
    f"{VENDOR}/pyodide.mjs",
    "/runtime.json",
]


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    (tmp_path / "wheels").mkdir()
    return tmp_path / "wheels"


@pytest.fixture
def development(tmp_path: Path, wheelhouse: Path) -> TestClient:
    return client_for(tmp_path, wheelhouse)


@pytest.fixture
def production(tmp_path: Path, wheelhouse: Path) -> TestClient:
    return client_for(tmp_path, wheelhouse, production=True)


@pytest.mark.parametrize("path", DEVELOPMENT + PARTICIPANT)
def test_by_default_everything_is_served(development: TestClient, path: str) -> None:
    assert development.get(path).status_code == 200, path


@pytest.mark.parametrize("path", PARTICIPANT)
def test_production_serves_what_participants_need(production: TestClient, path: str) -> None:
    assert production.get(path).status_code == 200, path


@pytest.mark.parametrize("path", DEVELOPMENT)
def test_production_hides_test_check_and_benchmark_pages(production: TestClient, path: str) -> None:
    response = production.get(path)
    assert response.status_code == 404, path
    assert production.head(path).status_code == 404, path


@pytest.mark.parametrize(
    "path",
    [
        "/static/js/study/../test_pyodide_worker.html",
        "/static/js/study/%2e%2e/test_pyodide_worker.html",
        "/static/./bench/worker_bench.html",
        "/static//bench/worker_bench.html",
        "/static/js/TEST_pyodide_worker.html",
        "/static/Bench/worker_bench.html",
    ],
)
def test_no_other_spelling_reaches_a_hidden_page(production: TestClient, path: str) -> None:
    assert production.get(path).status_code == 404, path


def test_the_rule_on_paths() -> None:
    for path in [
        "bench/x.js",
        "BENCH/x.html",
        "js/test_pyodide_worker.html",
        "js/render/test_atlas.json",
        "js/data/uploader_check.js",
        "test_top.html",
    ]:
        assert development_only(path), path
    for path in [".", "js/study/main.js", "js/attest_x.js", "js/check.js", "js/benchmark.js"]:
        assert not development_only(path), path
