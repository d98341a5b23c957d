"""``python -m interactive_gym.run``: start the development server.

    python -m interactive_gym.run [path/to/study.py] [--db URL] [--host 127.0.0.1] [--port 5001]
        [--wheelhouse DIR] [--fill-wheelhouse] [--pyodide-packages none|cdn|URL|DIR]
        [--frame-ancestors ORIGIN...] [--production] [--env-workers N] [--netem SPEC]

Serves the module-level ``experiment`` of the study file, or the built-in demo study without one.
Before serving, the wheelhouse is checked for every package the study's browser games install
(``server/wheelhouse_check.py``): the start stops naming what is missing, or with
``--fill-wheelhouse`` adds it. Every server-runtime game's env is built once
(``server/env_check.py``): a missing package or a bad id stops the start naming the scene and
field. ``--production`` leaves out the test and benchmark pages. ``--netem`` (default: the
``IG_NETEM`` environment variable) emulates a slow network on every participant's link
(``server/netem.py``), for trying a study as distant participants would play it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from interactive_gym.admin.passwords import PasswordError
from interactive_gym.server import Settings, create_app
from interactive_gym.server.env_check import check_server_scenes
from interactive_gym.server.netem import NetemError, parse_netem
from interactive_gym.server.security_headers import check_frame_ancestors
from interactive_gym.server.tokens import SecretError
from interactive_gym.server.wheelhouse_check import (
    PyodidePackages,
    WheelhouseIncomplete,
    check_wheelhouse,
)
from interactive_gym.study import StudyError, load_study
from interactive_gym.study.loader import DEMO_STUDY


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m interactive_gym.run", description=__doc__)
    defaults = Settings()
    parser.add_argument(
        "study",
        nargs="?",
        type=Path,
        default=None,
        help="the study file (a Python file defining `experiment`); default: the demo study",
    )
    parser.add_argument(
        "--db",
        default=defaults.db_url,
        help="database URL: sqlite:///path.db or postgresql+psycopg://user@host:port/db "
        "(default: %(default)s)",
    )
    parser.add_argument("--host", default=defaults.host, help="address to listen on")
    parser.add_argument("--port", type=int, default=defaults.port, help="port to listen on")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=defaults.wheelhouse,
        help="folder of pure-Python wheels served to Pyodide (default: %(default)s)",
    )
    parser.add_argument(
        "--fill-wheelhouse",
        action="store_true",
        help="add the packages the study's browser games install and the wheelhouse lacks "
        "(default: stop and name them)",
    )
    parser.add_argument(
        "--pyodide-packages",
        default=defaults.pyodide_packages,
        help="source of binary Pyodide packages: none (offline, default), cdn, a URL, "
        "or a folder holding a full Pyodide distribution",
    )
    parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="do not send COOP/COEP headers (a runaway step then ends the worker)",
    )
    parser.add_argument(
        "--frame-ancestors",
        nargs="+",
        default=list(defaults.frame_ancestors),
        type=_frame_ancestor,
        metavar="ORIGIN",
        help="origins allowed to show the study in a frame (default: none). MTurk's "
        "ExternalQuestion needs https://worker.mturk.com https://workersandbox.mturk.com",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="serve only what participants need: no test, check or benchmark pages",
    )
    parser.add_argument(
        "--env-workers",
        type=_positive,
        default=None,
        metavar="N",
        help="env worker processes for server-runtime games (default: the number of cores)",
    )
    parser.add_argument(
        "--netem",
        type=_netem,
        default=os.environ.get("IG_NETEM") or None,
        metavar="SPEC",
        help="emulate a slow network on every participant's link, e.g. "
        "'latency=80ms,jitter=30ms,loss=10%%' (also reorder=5%%, seed=N, and per participant "
        "';p2:latency=150ms'); default: $IG_NETEM, else none. Never for real participants",
    )
    return parser.parse_args(argv)  # a default from IG_NETEM goes through _netem too


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


def _netem(value: str) -> str:
    try:
        parse_netem(value)
    except NetemError as exc:
        source = (
            " (the IG_NETEM environment variable)" if value == os.environ.get("IG_NETEM") else ""
        )
        raise argparse.ArgumentTypeError(f"{exc}{source}") from None
    return value


def _frame_ancestor(value: str) -> str:
    """One ``--frame-ancestors`` value, checked (``self`` is accepted for ``'self'``)."""
    try:
        return check_frame_ancestors(["'self'" if value == "self" else value])[0]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def settings_from_args(args: argparse.Namespace) -> Settings:
    source = args.pyodide_packages
    if source not in ("none", "cdn") and not source.startswith(("http://", "https://")):
        if not (Path(source) / "pyodide-lock.json").is_file():
            raise SystemExit(
                f"--pyodide-packages {source!r}: expected none, cdn, an http(s) URL or a folder "
                f"with a full Pyodide distribution (it must contain pyodide-lock.json)"
            )
    return Settings(
        host=args.host,
        port=args.port,
        wheelhouse=args.wheelhouse,
        pyodide_packages=source,
        cross_origin_isolation=not args.no_isolation,
        frame_ancestors=tuple(args.frame_ancestors),
        db_url=args.db,
        production=args.production,
        env_workers=args.env_workers,
        netem=args.netem,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = settings_from_args(args)
    try:
        experiment = load_study(args.study or DEMO_STUDY)
        check_server_scenes(experiment)
    except StudyError as exc:
        print(f"error: the study cannot start.\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    pyodide = PyodidePackages.from_settings(settings.pyodide_packages, settings.node_modules)
    try:
        added = check_wheelhouse(
            experiment, settings.wheelhouse, fill=args.fill_wheelhouse, pyodide=pyodide
        )
    except WheelhouseIncomplete as exc:
        print(f"error: the study cannot start.\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if added:
        print(f"added to the wheelhouse {settings.wheelhouse}: {', '.join(added)}", flush=True)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(
        f"Interactive Gym: study {experiment.experiment_id!r} on "
        f"http://{settings.host}:{settings.port}/",
        flush=True,
    )
    if settings.netem:
        print(f"network emulation on every participant's link: {settings.netem}", flush=True)
    try:
        app = create_app(settings, experiment)
    except (SecretError, PasswordError) as exc:
        print(f"error: the server cannot start.\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
