"""File modes of a SQLite study database: 0600 files, 0700 new folders, open files tightened."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from interactive_gym.data.sqlite_files import sqlite_path
from interactive_gym.data.store import make_engine

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask 022, under which files are world-readable unless made otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    db = existing / "new" / "deeper" / "study.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.commit()
            # While a connection is open, the write sits in the WAL next to the database.
            wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
            assert wal.stat().st_size > 0 and shm.exists()
            assert {p.name: mode(p) for p in (db, wal, shm)} == {
                "study.db": 0o600,
                "study.db-wal": 0o600,
                "study.db-shm": 0o600,
            }
    finally:
        engine.dispose()
    assert mode(db.parent) == 0o700 and mode(db.parent.parent) == 0o700
    assert mode(existing) == 0o755, "a folder that already existed is left as it is"


def test_an_existing_open_database_is_tightened_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "study.db"
    make_engine(f"sqlite:///{db}").dispose()
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.touch()
        path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="interactive_gym.data.sqlite_files"):
        engine = make_engine(f"sqlite:///{db}")
    try:
        assert mode(db) == mode(Path(f"{db}-wal")) == mode(Path(f"{db}-shm")) == 0o600
        assert any(
            f"{db} was readable by other users (mode 0644)" in r.getMessage()
            for r in caplog.records
        ), caplog.text
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.commit()
    finally:
        engine.dispose()
    assert mode(db) == 0o600
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="interactive_gym.data.sqlite_files"):
        make_engine(f"sqlite:///{db}").dispose()
    assert caplog.records == [], "a private database is not reported"


def test_a_file_uri_names_the_real_file(tmp_path: Path) -> None:
    db = tmp_path / "by uri.db"
    assert sqlite_path(f"file:{tmp_path}/by%20uri.db?mode=rwc") == db
    engine = make_engine(f"sqlite:///file:{tmp_path}/by%20uri.db?mode=rwc&uri=true")
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.commit()
    finally:
        engine.dispose()
    assert mode(db) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["by uri.db"]


def test_an_in_memory_database_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert list(tmp_path.iterdir()) == []
