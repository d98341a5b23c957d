"""The HTTP side of the server: MIME types, headers, caching, path checks, wheelhouse, runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_client import client_for
from starlette.testclient import TestClient
from wheels import make_wheel

from interactive_gym import runtime
from interactive_gym.run import parse_args, settings_from_args
from interactive_gym.server.settings import PROJECT_DIR
from interactive_gym.server.static_files import package_version

PYODIDE_VERSION = package_version(PROJECT_DIR / "node_modules" / "pyodide")
VENDOR = f"/vendor/pyodide@{PYODIDE_VERSION}"


@pytest.fixture()
def wheelhouse(tmp_path: Path) -> Path:
    directory = tmp_path / "wheels"
    directory.mkdir()
    make_wheel(directory, "Tiny_Pkg", "1.2", {"tiny_pkg.py": "X = 1\n"})
    return directory


@pytest.fixture()
def client(tmp_path: Path, wheelhouse: Path) -> TestClient:
    return client_for(tmp_path, wheelhouse)


def test_pyodide_is_installed_at_the_pinned_version() -> None:
    assert PYODIDE_VERSION == "314.0.7"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        (f"{VENDOR}/pyodide.asm.wasm", "application/wasm"),
        (f"{VENDOR}/pyodide.mjs", "text/javascript; charset=utf-8"),
        (f"{VENDOR}/pyodide.asm.mjs", "text/javascript; charset=utf-8"),
        (f"{VENDOR}/python_stdlib.zip", "application/zip"),
        ("/static/js/PyodideWorker.js", "text/javascript; charset=utf-8"),
        ("/static/js/worker/pyodide_worker.js", "text/javascript; charset=utf-8"),
        ("/static/js/worker/game_hooks.js", "text/javascript; charset=utf-8"),
        ("/static/js/test_pyodide_worker.html", "text/html; charset=utf-8"),
        ("/runtime/handler.py", "text/x-python; charset=utf-8"),
    ],
)
def test_content_types(client: TestClient, path: str, content_type: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["content-type"] == content_type


def test_every_response_is_cross_origin_isolated(client: TestClient) -> None:
    for path in ["/static/js/test_pyodide_worker.html", f"{VENDOR}/pyodide.mjs", "/runtime.json"]:
        headers = client.get(path).headers
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert headers["cross-origin-embedder-policy"] == "require-corp"


def test_isolation_can_be_turned_off(tmp_path: Path, wheelhouse: Path) -> None:
    client = client_for(tmp_path, wheelhouse, cross_origin_isolation=False)
    headers = client.get("/static/js/PyodideWorker.js").headers
    assert "cross-origin-opener-policy" not in headers
    assert "cross-origin-embedder-policy" not in headers


def test_versioned_vendor_files_are_cached_for_long_and_own_code_revalidates(
    client: TestClient,
) -> None:
    vendor = client.get(f"{VENDOR}/pyodide.mjs").headers
    assert vendor["cache-control"] == "public, max-age=31536000, immutable"
    own = client.get("/static/js/PyodideWorker.js").headers
    assert own["cache-control"] == "no-cache"
    assert "etag" in own
    again = client.get("/static/js/PyodideWorker.js", headers={"if-none-match": own["etag"]})
    assert again.status_code == 304


def test_a_wrong_vendor_version_is_not_served(client: TestClient) -> None:
    assert client.get("/vendor/pyodide@0.0.1/pyodide.mjs").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server/settings.py",
        "/static/%2e%2e/server/settings.py",
        "/static/js/..%2f..%2fsettings.py",
        "/static/..%5c..%5csettings.py",
        f"{VENDOR}/../../package.json",
        f"{VENDOR}/%2e%2e/%2e%2e/package.json",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
    ],
)
def test_path_traversal_out_of_a_static_root_is_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 404), path
    assert "BaseModel" not in response.text and "root:" not in response.text


def test_wheelhouse_html_index(client: TestClient) -> None:
    index = client.get("/wheels/simple/")
    assert index.status_code == 200
    assert '<a href="tiny-pkg/">tiny-pkg</a>' in index.text
    project = client.get("/wheels/simple/tiny-pkg/")
    assert "Tiny_Pkg-1.2-py3-none-any.whl#sha256=" in project.text


def test_wheelhouse_json_index_pep691(client: TestClient) -> None:
    accept = {"accept": "application/vnd.pypi.simple.v1+json"}
    response = client.get("/wheels/simple/tiny-pkg/", headers=accept)
    assert response.headers["content-type"] == "application/vnd.pypi.simple.v1+json"
    body = response.json()
    assert body["name"] == "tiny-pkg"
    assert body["versions"] == ["1.2"]
    [file] = body["files"]
    assert file["url"].endswith("/wheels/files/Tiny_Pkg-1.2-py3-none-any.whl")
    assert len(file["hashes"]["sha256"]) == 64
    wheel = client.get("/wheels/files/Tiny_Pkg-1.2-py3-none-any.whl")
    assert wheel.status_code == 200
    assert wheel.content[:2] == b"PK"


def test_wheelhouse_names_are_normalized_and_missing_ones_explained(client: TestClient) -> None:
    redirect = client.get("/wheels/simple/Tiny.Pkg/", follow_redirects=False)
    assert redirect.status_code == 301
    missing = client.get("/wheels/simple/absent/")
    assert missing.status_code == 404
    assert "python -m interactive_gym.wheelhouse add absent" in missing.text
    assert client.get("/wheels/files/..%2fstudy.db").status_code == 404
    assert client.get("/wheels/files/not-a-wheel.txt").status_code == 404


def test_runtime_config_points_at_our_own_server(client: TestClient) -> None:
    # Root-relative: the worker resolves them against its own address (no Host header echoed).
    config = client.get("/runtime.json").json()
    assert config["indexURL"] == f"{VENDOR}/"
    assert config["lockFileURL"] == "/pyodide/pyodide-lock.json"
    assert config["packageBaseUrl"] is None
    assert config["wheelIndexURL"] == "/wheels/simple/{package_name}/"
    assert config["micropipURL"] is None, "this wheelhouse has no micropip"
    assert config["runtimeBaseURL"] == "/runtime/"
    assert config["runtimeFiles"] == list(runtime.FILES)
    assert "runtimeModuleURL" not in config


def test_the_wheelhouse_digest_changes_with_any_wheel(client: TestClient, wheelhouse: Path) -> None:
    # It keys the browser's Python snapshots: packages from another wheelhouse are a new one.
    first = client.get("/runtime.json").json()["wheelhouseDigest"]
    assert len(first) == 64 and client.get("/runtime.json").json()["wheelhouseDigest"] == first
    make_wheel(wheelhouse, "Other", "1.0", {"other.py": "Y = 2\n"})
    added = client.get("/runtime.json").json()["wheelhouseDigest"]
    (wheelhouse / "Other-1.0-py3-none-any.whl").unlink()
    make_wheel(wheelhouse, "Other", "1.0", {"other.py": "Y = 3\n"})  # same name, new contents
    rebuilt = client.get("/runtime.json").json()["wheelhouseDigest"]
    assert len({first, added, rebuilt}) == 3


def test_the_runtime_package_is_served_file_by_file_and_nothing_else(client: TestClient) -> None:
    package = Path(runtime.__file__).parent
    for name in runtime.FILES:
        response = client.get(f"/runtime/{name}")
        assert response.status_code == 200, name
        assert response.content == (package / name).read_bytes(), name
        assert response.headers["content-type"] == "text/x-python; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
    assert client.head("/runtime/handler.py").status_code == 200
    for path in [
        "/runtime/",
        "/runtime/nothing.py",
        "/runtime/__pycache__",
        "/runtime/..%2f__init__.py",
        "/runtime/%2e%2e/server/settings.py",
        "/runtime/HANDLER.PY",
    ]:
        assert client.get(path).status_code == 404, path
    assert client.post("/runtime/handler.py").status_code == 405


def test_offline_lock_file_lists_no_binary_packages(client: TestClient) -> None:
    lock = client.get("/pyodide/pyodide-lock.json").json()
    assert lock["packages"] == {}
    assert lock["info"]["python"].startswith("3.14")


def test_cdn_source_keeps_the_full_lock_file(tmp_path: Path, wheelhouse: Path) -> None:
    client = client_for(tmp_path, wheelhouse, pyodide_packages="cdn")
    assert "numpy" in client.get("/pyodide/pyodide-lock.json").json()["packages"]
    base = client.get("/runtime.json").json()["packageBaseUrl"]
    assert base.startswith("https://") and base.endswith(f"/v{PYODIDE_VERSION}/full/")


def test_local_distribution_source_is_served_by_us(tmp_path: Path, wheelhouse: Path) -> None:
    dist = tmp_path / "pyodide-full"
    dist.mkdir()
    (dist / "pyodide-lock.json").write_text(json.dumps({"info": {}, "packages": {"x": {}}}))
    (dist / "x-1.0-cp314-cp314-pyodide_2026_0_wasm32.whl").write_bytes(b"PK")
    client = client_for(tmp_path, wheelhouse, pyodide_packages=str(dist))
    assert client.get("/runtime.json").json()["packageBaseUrl"] == "/pyodide-packages/"
    assert client.get("/pyodide/pyodide-lock.json").json()["packages"] == {"x": {}}
    assert (
        client.get("/pyodide-packages/x-1.0-cp314-cp314-pyodide_2026_0_wasm32.whl").content == b"PK"
    )


def test_a_bad_package_source_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--pyodide-packages"):
        settings_from_args(parse_args(["--pyodide-packages", str(tmp_path / "nowhere")]))
