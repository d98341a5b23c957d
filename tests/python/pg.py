"""Database fixtures: storage tests run against SQLite and PostgreSQL.

PostgreSQL comes from ``IG_TEST_POSTGRES_URL`` when set; otherwise a throwaway server is started
with ``bin/postgres-test`` for the test run. When neither works the PostgreSQL cases are skipped
on a developer's machine, but fail loudly under CI (``CI`` set): CI must test both databases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

SCRIPT = Path(__file__).resolve().parents[2] / "bin" / "postgres-test"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server (the test run's own, or ``IG_TEST_POSTGRES_URL``)."""
    url = os.environ.get("IG_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    folder = tempfile.mkdtemp(prefix="ig-postgres-")
    try:
        started = subprocess.run(
            [str(SCRIPT), "start", folder], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        started = subprocess.CompletedProcess([], 1, "", str(exc))
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        message = f"PostgreSQL could not be started by bin/postgres-test: {started.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must test PostgreSQL: install the postgresql package)")
        pytest.skip(message)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(SCRIPT), "stop", folder], capture_output=True, timeout=120)


def _admin(server_url: str, sql: str) -> None:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once for SQLite (a WAL file) and once for PostgreSQL.

    The PostgreSQL case gets a database of its own, dropped afterwards.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'study.db'}"
        return
    server_url = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    yield f"{server_url.rpartition('/')[0]}/{name}"
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
