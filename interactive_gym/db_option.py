"""The ``--db URL`` of the commands that read a study's database (``export``, ``verify``, the
Minari export): the database opened, or why not, the URL shown without its password.

A SQLite URL must name a file that exists: a misspelt path is an error, not a new empty
database that has nothing to export or verify.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from interactive_gym.data.store import Store


class NoDatabase(Exception):
    """The database cannot be opened; the message names ``--db``."""


def shown(url: str) -> str:
    """``url`` as it may be printed: its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not a URL at all: nothing to hide
        return url


def open_database(url: str) -> Store:
    """The store at ``url``; :class:`NoDatabase` when there is no SQLite file at its path or
    the database cannot be opened."""
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise NoDatabase(f"--db {url}: no database file at {path}")
    try:
        return Store(url)
    except Exception as exc:  # noqa: BLE001 - report any connection problem plainly
        raise NoDatabase(f"--db {shown(url)}: cannot open the database: {exc}") from None
