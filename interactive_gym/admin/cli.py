"""``python -m interactive_gym.admin``: turn the admin console on by giving it a password.

    python -m interactive_gym.admin set-password [--db URL] [--stdin]
    python -m interactive_gym.admin hash-password [--stdin]

``set-password`` stores the argon2id hash of a new password (at least 12 characters; asked
twice, or one line from standard input with ``--stdin``) in the study database; a running
server picks it up within a second, and every admin session ends. ``hash-password`` prints the
hash instead, for the environment variable ``IG_ADMIN_PASSWORD_HASH`` (which wins over the
database). :mod:`interactive_gym.admin.passwords` is the other half.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TextIO

from argon2 import PasswordHasher
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from interactive_gym.admin.audit import audit
from interactive_gym.admin.passwords import (
    ENV_VAR,
    MIN_PASSWORD,
    PasswordError,
    check_password,
    hash_password,
    set_password,
)
from interactive_gym.data.store import DEFAULT_URL, Store


class CommandError(Exception):
    """What the user must fix; printed as ``error: ...``."""


def read_password(stdin: TextIO, from_stdin: bool) -> str:
    """The new password: one line of ``stdin``, or typed twice at the terminal."""
    if from_stdin:
        line = stdin.readline()
        if not line:
            raise CommandError("--stdin: expected the password on one line, got nothing")
        password = line.rstrip("\r\n")
    else:
        password = getpass.getpass(f"New admin password (at least {MIN_PASSWORD} characters): ")
        check(password)
        if getpass.getpass("The same password again: ") != password:
            raise CommandError("the two passwords differ; nothing was changed")
    return check(password)


def check(password: str) -> str:
    try:
        return check_password(password)
    except PasswordError as exc:
        raise CommandError(str(exc)) from None


def who() -> str:
    """The audit actor of a command-line change."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def open_store(url: str) -> Store:
    try:
        return Store(url)
    except (ValueError, SQLAlchemyError) as exc:
        raise CommandError(f"--db {url!r}: {exc}") from None


def main(
    argv: list[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    hasher: PasswordHasher | None = None,
) -> int:
    """Run the command; ``hasher`` overrides argon2-cffi's default cost (tests only)."""
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.admin",
        description="Turn the admin console on by giving it a password.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    setter = commands.add_parser(
        "set-password", help="store a new admin password's hash in the study database"
    )
    setter.add_argument("--db", default=DEFAULT_URL, help="database URL (default: %(default)s)")
    hasher_cmd = commands.add_parser(
        "hash-password", help=f"print a password's hash for the environment variable {ENV_VAR}"
    )
    for sub in (setter, hasher_cmd):
        sub.add_argument(
            "--stdin", action="store_true", help="read the password from one line of stdin"
        )
    args = parser.parse_args(argv)
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    try:
        password = read_password(stdin, args.stdin)
        if args.command == "hash-password":
            print(hash_password(password, hasher), file=stdout)
            return 0
        store = open_store(args.db)
        try:
            set_password(store, password, hasher)
            audit(store, who(), "password_set")
        finally:
            store.close()
    except CommandError as exc:
        parser.error(str(exc))
    where = make_url(args.db).render_as_string(hide_password=True)
    print(
        f"admin password set in {where}: /admin accepts it within a second (no restart), "
        "and every admin session ended.",
        file=stdout,
    )
    if os.environ.get(ENV_VAR, "").strip():
        print(
            f"warning: {ENV_VAR} is set here; a server started with it uses that hash, not "
            "this password.",
            file=sys.stderr,
        )
    return 0
