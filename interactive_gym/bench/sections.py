"""The benchmark sections ``python -m interactive_gym.bench`` runs, in order.

A section is a name, a function ``run(quick) -> dict`` whose result is merged into the report
(``{"worker": ..., "baseline": ...}`` or ``{"server": {"ingest": ...}}``), and a function that
turns the report into table rows. Adding a section is one line in :data:`SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from interactive_gym.bench import game, netcode
from interactive_gym.bench.report import Row, status

Report = dict[str, Any]


@dataclass(frozen=True)
class Section:
    """One benchmark: ``run(quick)`` gives its part of the report, ``rows`` its table lines."""

    name: str
    run: Callable[[bool], Report]
    rows: Callable[[Report], list[Row]]


def nested(path: str, run: Callable[[bool], Report]) -> Callable[[bool], Report]:
    """Place a benchmark's result under a dotted path of the report (``"server.ingest"``)."""

    def run_nested(quick: bool) -> Report:
        result: Report = run(quick)
        for key in reversed(path.split(".")):
            result = {key: result}
        return result

    return run_nested


def _worker(quick: bool) -> Report:
    from interactive_gym.bench.worker import run_worker_benchmark

    return run_worker_benchmark(quick)


def _worker_rows(report: Report) -> list[Row]:
    from interactive_gym.bench.worker_table import worker_rows

    return worker_rows(report)


def _ingest(quick: bool) -> Report:
    from interactive_gym.bench.ingest import run_ingest_benchmark

    return run_ingest_benchmark(quick)


def _ingest_rows(report: Report) -> list[Row]:
    ingest = report["server"]["ingest"]
    limit = ingest.get("p99_limit_ms")
    rows = [
        Row("server.ingest", "max participants streaming at 30 Hz", ingest.get("max_participants"),
            "", f"0 lost, 0 duplicated, p99 ack ≤ {limit:g} ms" if limit else ""),
    ]  # fmt: skip
    seen: set[int] = set()
    for level in ingest.get("runs", []):
        again = " (run again)" if level["n"] in seen else ""
        seen.add(level["n"])
        rows.append(
            Row("server.ingest", f"  {level['n']} participants{again}: p99 ack",
                level.get("p99_ack_ms"), "ms", f"≤ {limit:g} ms" if limit else "",
                status(bool(level.get("passed"))))
        )  # fmt: skip
    return rows


def _admin(quick: bool) -> Report:
    from interactive_gym.bench.admin import run_admin_benchmark

    return run_admin_benchmark(quick)


def _admin_rows(report: Report) -> list[Row]:
    from interactive_gym.bench.admin import admin_rows

    return admin_rows(report)


def _frames(quick: bool) -> Report:
    from interactive_gym.bench.frames import run_frames_benchmark

    return run_frames_benchmark(quick)


def _frames_rows(report: Report) -> list[Row]:
    from interactive_gym.bench.frames import frames_rows

    return frames_rows(report)


def _capacity(quick: bool) -> Report:
    from interactive_gym.bench.capacity import run_capacity_benchmark

    return run_capacity_benchmark(quick)


def _capacity_rows(report: Report) -> list[Row]:
    from interactive_gym.bench.capacity import capacity_rows

    return capacity_rows(report)


def _groups(quick: bool) -> Report:
    from interactive_gym.bench.groups import run_groups_benchmark

    return run_groups_benchmark(quick)


def _groups_rows(report: Report) -> list[Row]:
    from interactive_gym.bench.groups import groups_rows

    return groups_rows(report)


def _verify(quick: bool) -> Report:
    from interactive_gym.bench.verify import run_verify_benchmark

    return run_verify_benchmark(quick)


def _verify_rows(report: Report) -> list[Row]:
    from interactive_gym.bench.verify import verify_rows

    return verify_rows(report)


SECTIONS: list[Section] = [
    Section("worker", _worker, _worker_rows),
    Section("server.ingest", nested("server.ingest", _ingest), _ingest_rows),
    Section("server.admin", nested("server.admin", _admin), _admin_rows),
    Section("server.frames", nested("server.frames", _frames), _frames_rows),
    Section("server.capacity", nested("server.capacity", _capacity), _capacity_rows),
    Section("server.groups", nested("server.groups", _groups), _groups_rows),
    Section("game.latency", nested("game.latency", game.run_latency_benchmark), game.latency_rows),
    Section("game.netcode", nested("game.netcode", netcode.run_benchmark), netcode.netcode_rows),
    Section("game.pacing", nested("game.pacing", game.run_pacing_benchmark), game.pacing_rows),
    Section("replay.verify", nested("replay.verify", _verify), _verify_rows),
]
