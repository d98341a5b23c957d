"""Private file modes for a SQLite database: only the server's user may read the study data.

The database file is created with mode 0600 before SQLite opens it; SQLite then gives its
``-wal`` and ``-shm`` companions the mode of the database file. A missing parent folder is
created with mode 0700. A database file or companion that already exists with a more open
mode is tightened to 0600, and a log line says so. Nothing changes on systems without POSIX
file modes.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

FILE_MODE = 0o600
FOLDER_MODE = 0o700
#: Files SQLite keeps beside the database (WAL mode uses the first two).
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")


def sqlite_path(database: str) -> Path:
    """The file the database part of a ``sqlite:///`` URL names (a path or a ``file:`` URI)."""
    if database.startswith("file:"):
        return Path(unquote(urlsplit(database).path)).expanduser()
    return Path(database).expanduser()


def prepare_sqlite_file(path: Path) -> None:
    """Create the missing folders (0700) and the database file (0600), or tighten them."""
    _make_folders(path.parent)
    if os.name != "posix":
        return
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(descriptor)
        os.chmod(path, FILE_MODE)  # the umask may have taken bits away, never added them
    for file in [path, *(path.with_name(path.name + s) for s in COMPANION_SUFFIXES)]:
        _tighten(file)


def _make_folders(folder: Path) -> None:
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    for each in reversed(missing):
        try:
            each.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue
        if os.name == "posix":
            os.chmod(each, FOLDER_MODE)


def _tighten(file: Path) -> None:
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    try:
        os.chmod(file, FILE_MODE)
    except OSError as exc:
        log.warning("%s is readable by other users (mode %04o) and stays so: %s", file, mode, exc)
        return
    log.warning("%s was readable by other users (mode %04o): changed it to 0600", file, mode)
