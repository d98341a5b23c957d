"""The real app, served in-process to a Starlette test client, on a fresh SQLite file."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from interactive_gym.server import Settings, create_app


def client_for(tmp_path: Path, wheelhouse: Path, **overrides: object) -> TestClient:
    settings = Settings(
        wheelhouse=wheelhouse,
        db_url=f"sqlite:///{tmp_path / 'study.db'}",
        secret="a-test-secret-of-enough-length",
        **overrides,  # type: ignore[arg-type]
    )
    return TestClient(create_app(settings))
