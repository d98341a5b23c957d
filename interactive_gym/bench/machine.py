"""The machine the benchmarks run on: description, versions, and how busy its CPUs were."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from interactive_gym.server.settings import PROJECT_DIR, default_node_modules
from interactive_gym.server.static_files import package_version


def machine_meta() -> dict[str, Any]:
    """Where and when the figures were taken: machine, versions, date."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "memory_gb": _memory_gb(),
        },
        "versions": {
            "python": platform.python_version(),
            "interactive_gym": _git_commit(),
            "pyodide": package_version(default_node_modules() / "pyodide"),
            "playwright": _distribution_version("playwright"),
            "uvicorn": _distribution_version("uvicorn"),
            "sqlalchemy": _distribution_version("sqlalchemy"),
        },
        "command": " ".join(
            [Path(sys.executable).name, "-m", "interactive_gym.bench", *sys.argv[1:]]
        ),
    }


class CpuPressure:
    """Share of a block's wall time during which tasks waited for a CPU (None without PSI).

    with CpuPressure() as pressure:
        ...
    pressure.percent
    """

    def __enter__(self) -> CpuPressure:
        self.percent: float | None = None
        self._start = (cpu_pressure_seconds(), time.monotonic())
        return self

    def __exit__(self, *exc: object) -> None:
        stalled, wall = cpu_pressure_seconds(), time.monotonic() - self._start[1]
        if stalled is not None and self._start[0] is not None and wall > 0:
            self.percent = round(100 * (stalled - self._start[0]) / wall, 1)


def cpu_pressure_seconds() -> float | None:
    """Total time runnable tasks have waited for a CPU, system-wide (Linux PSI "some").

    The difference over a measurement, divided by its duration, is the share of time the
    machine was short of CPU: high values mean other work competed and figures are pessimistic.
    None where PSI is not available.
    """
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except OSError:
        return None
    return result.stdout.strip() or None


def _distribution_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
