"""What the browser benchmarks need: the real server on a loopback port and headless Chromium.

The server is the app from ``create_app`` under uvicorn in a background thread, on a free port,
with a throwaway SQLite database. Chromium is the system one, launched by Playwright with the
project's flags. A benchmark page gets its configuration as ``window.benchConfig`` (set before
any of its scripts run) and publishes ``window.benchResult``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.local_server import serve

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "BenchPageError", "bench_server", "run_page"]


class BenchPageError(RuntimeError):
    """A benchmark page failed or did not publish a result in time."""


@contextmanager
def bench_server(experiment: Any = None, wheelhouse: Path | None = None) -> Iterator[str]:
    """Serve the real app (the demo study, or ``experiment``) until the block ends.

    Yields its base URL. ``wheelhouse`` defaults to the project's ``data/wheelhouse`` (where
    ``micropip`` lives), so Pyodide starts the way it does in a study.
    """
    from interactive_gym.server.app import create_app
    from interactive_gym.server.settings import PROJECT_DIR, Settings

    with tempfile.TemporaryDirectory(prefix="ig-bench-") as folder:
        settings = Settings(
            db_url=f"sqlite:///{Path(folder) / 'bench.db'}",
            secret=os.urandom(24).hex(),
            secret_file=Path(folder) / "secret.key",
            wheelhouse=wheelhouse or PROJECT_DIR / "data" / "wheelhouse",
        )
        with serve(create_app(settings, experiment)) as url:
            yield url


def run_page(page: Any, url: str, config: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Open ``url`` in ``page`` with ``config`` as ``window.benchConfig``; return its result.

    The page publishes through ``window.benchFinish``; the harness awaits ``window.benchDone``
    (no polling, so nothing of the harness runs on the page's main thread meanwhile).
    """
    page.add_init_script(
        f"window.benchConfig = {json.dumps(config)};"
        "window.benchDone = new Promise((resolve) => { window.benchFinish = resolve; });"
    )
    page.goto(url, wait_until="commit")
    result = page.evaluate(
        """(ms) => Promise.race([
            window.benchDone,
            new Promise((resolve) => setTimeout(() => resolve({timeout: true}), ms)),
        ])""",
        timeout_s * 1000,
    )
    if isinstance(result, dict) and result.get("timeout"):
        raise BenchPageError(f"{url} published no result within {timeout_s:.0f} s")
    if not isinstance(result, dict):
        raise BenchPageError(f"{url} published {result!r:.200} instead of an object")
    if "error" in result:
        raise BenchPageError(f"{url} failed: {result['error']}")
    return result
