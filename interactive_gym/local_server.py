"""A real server on a free loopback port: the app in a background thread (:func:`serve`), or
a study served by ``python -m interactive_gym.run`` in its own process (:class:`StudyProcess`).

Used by the benchmarks and the tests; ``python -m interactive_gym.run`` is the way to serve a
study.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


class StudyProcess:
    """``python -m interactive_gym.run study.py`` on SQLite in ``folder`` (its log there too),
    started and answering ``/healthz`` when the constructor returns."""

    def __init__(
        self,
        folder: Path,
        study: Path,
        *,
        wheelhouse: Path,
        start_timeout_s: float = 90,
        args: Sequence[str] = (),
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.db_url = f"sqlite:///{folder / 'study.db'}"
        self.log_path = folder / "server.log"
        command = [sys.executable, "-m", "interactive_gym.run", str(study)]
        command += ["--port", str(self.port), "--db", self.db_url, "--wheelhouse", str(wheelhouse)]
        command += list(args)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=log)
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not start: {self.log_path.read_text()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
