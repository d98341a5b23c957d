"""Security headers on every response, the Content-Security-Policy's content, frame embedding.

The browser side (every page runs under this policy with no violation) is in
test_security_browser.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_client import client_for
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient
from wheels import make_wheel

from interactive_gym.run import parse_args, settings_from_args
from interactive_gym.server import Settings, create_app
from interactive_gym.server.isolation import CrossOriginIsolation
from interactive_gym.server.security_headers import content_security_policy
from interactive_gym.server.settings import PROJECT_DIR
from interactive_gym.server.static_files import package_version

PYODIDE = f"/vendor/pyodide@{package_version(PROJECT_DIR / 'node_modules' / 'pyodide')}"
PATHS = {
    "the study page": "/?PROLIFIC_PID=headers1",
    "a static page": "/static/js/test_pyodide_worker.html",
    "a static script": "/static/js/PyodideWorker.js",
    "a vendor file": f"{PYODIDE}/pyodide.asm.wasm",
    "a JSON route": "/runtime.json",
    "the wheel index": "/wheels/simple/",
    "a 404": "/no/such/page",
}


@pytest.fixture()
def wheelhouse(tmp_path: Path) -> Path:
    directory = tmp_path / "wheels"
    directory.mkdir()
    make_wheel(directory, "micropip", "0.11.1", {"micropip/__init__.py": ""})
    return directory


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} appears twice"
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize("isolation", [True, False])
def test_every_kind_of_response_carries_the_security_headers(
    tmp_path: Path, wheelhouse: Path, isolation: bool
) -> None:
    client = client_for(tmp_path, wheelhouse, cross_origin_isolation=isolation)
    policy = content_security_policy(Settings())
    for what, path in PATHS.items():
        response = client.get(path)
        if what == "a 404":
            assert response.status_code == 404
        else:
            assert response.status_code == 200, (what, response.status_code)
        headers = response.headers
        assert headers["content-security-policy"] == policy, what
        assert headers["x-content-type-options"] == "nosniff", what
        assert headers["x-frame-options"] == "DENY", what
        assert headers["referrer-policy"] == "same-origin", what
        assert ("cross-origin-embedder-policy" in headers) is isolation, what
    assert client.get(PATHS["the study page"]).headers["content-type"].startswith("text/html")


def test_the_policy_allows_only_this_server_and_no_script_but_files() -> None:
    policy = directives(content_security_policy(Settings()))
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'wasm-unsafe-eval'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("none", None),
        ("cdn", "https://cdn.jsdelivr.net"),
        ("https://Packages.example.org:8443/pyodide/full/", "https://packages.example.org:8443"),
        ("http://10.0.0.5/pyodide/", "http://10.0.0.5"),
    ],
)
def test_a_remote_package_source_is_allowed_to_be_fetched_from(
    source: str, allowed: str | None
) -> None:
    policy = directives(content_security_policy(Settings(pyodide_packages=source)))
    assert policy["connect-src"] == ["'self'"] + ([allowed] if allowed else [])
    assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"]


def test_a_package_folder_needs_no_other_origin(tmp_path: Path) -> None:
    policy = directives(content_security_policy(Settings(pyodide_packages=str(tmp_path))))
    assert policy["connect-src"] == ["'self'"]


def test_a_package_url_that_would_break_the_header_is_refused() -> None:
    with pytest.raises(ValueError, match="pyodide_packages 'https://a.org;script-src"):
        content_security_policy(Settings(pyodide_packages="https://a.org;script-src *"))


def test_frame_ancestors_let_mturk_show_the_study_in_its_iframe(
    tmp_path: Path, wheelhouse: Path
) -> None:
    mturk = ("https://worker.mturk.com", "https://workersandbox.mturk.com")
    client = client_for(tmp_path, wheelhouse, frame_ancestors=mturk)
    headers = client.get(PATHS["the study page"]).headers
    assert directives(headers["content-security-policy"])["frame-ancestors"] == list(mturk)
    assert "x-frame-options" not in headers


def test_frame_ancestors_self_also_sends_sameorigin(tmp_path: Path, wheelhouse: Path) -> None:
    client = client_for(tmp_path, wheelhouse, frame_ancestors=("'self'",))
    headers = client.get("/runtime.json").headers
    assert directives(headers["content-security-policy"])["frame-ancestors"] == ["'self'"]
    assert headers["x-frame-options"] == "SAMEORIGIN"


@pytest.mark.parametrize(
    "entry",
    [
        "https://a.org/path",
        "a.org",
        "https://a.org; script-src *",
        "https://a.org\n",
        "*",
        "'unsafe-inline'",
        "",
    ],
)
def test_a_bad_frame_ancestor_is_refused_naming_the_setting(entry: str) -> None:
    with pytest.raises(ValueError, match=r"frame_ancestors entry"):
        create_app(Settings(frame_ancestors=(entry,), secret="s" * 32, db_url="sqlite://"))


def test_frame_ancestors_given_as_one_string_is_refused() -> None:
    with pytest.raises(ValueError, match="frame_ancestors 'https://a.org': expected a list"):
        content_security_policy(Settings(frame_ancestors="https://a.org"))  # type: ignore[arg-type]


def test_the_frame_ancestors_option(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--frame-ancestors", "https://worker.mturk.com", "https://*.example.org", "self"]
    settings = settings_from_args(parse_args(args))
    assert settings.frame_ancestors == (
        "https://worker.mturk.com",
        "https://*.example.org",
        "'self'",
    )
    assert settings_from_args(parse_args([])).frame_ancestors == ()
    with pytest.raises(SystemExit):
        parse_args(["--frame-ancestors", "worker.mturk.com"])
    assert "--frame-ancestors: frame_ancestors entry 'worker.mturk.com'" in capsys.readouterr().err


def test_headers_a_response_sets_itself_are_kept() -> None:
    inner = PlainTextResponse("x", headers={"content-security-policy": "default-src 'none'"})
    headers = TestClient(CrossOriginIsolation(inner)).get("/").headers
    assert headers["content-security-policy"] == "default-src 'none'"
    assert headers["x-content-type-options"] == "nosniff"


def test_runtime_config_does_not_echo_a_forged_host_header(
    tmp_path: Path, wheelhouse: Path
) -> None:
    client = client_for(tmp_path, wheelhouse)
    response = client.get("/runtime.json", headers={"host": "evil.example:666"})
    assert response.status_code == 200
    assert "evil.example" not in response.text
    config = response.json()
    assert config["indexURL"] == f"{PYODIDE}/"
    assert config["micropipURL"] == "/wheels/files/micropip-0.11.1-py3-none-any.whl"
    urls = [value for key, value in config.items() if key.endswith("URL") and value]
    assert len(urls) == 5 and all(url.startswith("/") for url in urls), json.dumps(config)
