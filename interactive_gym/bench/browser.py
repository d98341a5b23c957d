"""What the browser benchmarks need: the real server on a loopback port and headless Chromium.

The server is the app from ``create_app`` under uvicorn in a background thread, on a free port,
with a throwaway SQLite database. Chromium is the system one, launched by Playwright with the
project's flags. A benchmark page gets its configuration as ``window.benchConfig`` (set before
any of its scripts run) and publishes ``window.benchResult``.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class BenchPageError(RuntimeError):
    """A benchmark page failed or did not publish a result in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def bench_server(wheelhouse: Path | None = None) -> Iterator[str]:
    """Serve the real app until the block ends; yields its base URL.

    ``wheelhouse`` defaults to the project's ``data/wheelhouse`` (where ``micropip`` lives), so
    Pyodide starts the way it does in a study.
    """
    import uvicorn

    from interactive_gym.server.app import create_app
    from interactive_gym.server.settings import PROJECT_DIR, Settings

    with tempfile.TemporaryDirectory(prefix="ig-bench-") as folder:
        settings = Settings(
            port=free_port(),
            db_url=f"sqlite:///{Path(folder) / 'bench.db'}",
            secret=os.urandom(24).hex(),
            secret_file=Path(folder) / "secret.key",
            wheelhouse=wheelhouse or PROJECT_DIR / "data" / "wheelhouse",
        )
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=settings.port,
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="bench-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark server did not start on port {settings.port}")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{settings.port}"
        finally:
            server.should_exit = True
            thread.join(30)


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
