"""The ``replay.verify`` section: how fast ``python -m interactive_gym.verify`` replays the
demo's data.

The data is real: the demo study (``examples/demo_study.py``, as a participant gets it) served
by ``python -m interactive_gym.run`` in its own process on SQLite, played to the end by bots in
headless Chromium (``interactive_gym.bots``, all at once). Then :func:`interactive_gym.verify.run`
(what the command runs, minus the argument parsing) replays the whole database several times in
this process; the figure is the median of the runs' steps replayed per second, with the verdicts
of the last run (every episode must be verified for the figure to mean anything).

The other half: ``verify.py``.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import tempfile
from pathlib import Path
from typing import Any

from interactive_gym import verify
from interactive_gym.bench.report import Row, status
from interactive_gym.bots import run_bots
from interactive_gym.data.store import Store
from interactive_gym.local_server import StudyProcess
from interactive_gym.server.settings import PROJECT_DIR
from interactive_gym.study import load_study
from interactive_gym.study.loader import DEMO_STUDY

#: Bots playing the demo, and replays of their database (quick: fewer).
BOTS, QUICK_BOTS = 3, 1
RUNS, QUICK_RUNS = 7, 3


def run_verify_benchmark(quick: bool) -> dict[str, Any]:
    bots = QUICK_BOTS if quick else BOTS
    with tempfile.TemporaryDirectory(prefix="ig-bench-verify-") as folder:
        here = Path(folder)
        server = StudyProcess(here, DEMO_STUDY, wheelhouse=PROJECT_DIR / "data" / "wheelhouse")
        try:
            outcomes = asyncio.run(run_bots(f"{server.url}/", bots, timeout_s=600, pause_ms=60))
        finally:
            server.stop()
        finished = sum(o.outcome == "finished" for o in outcomes)
        experiment = load_study(DEMO_STUDY)
        store = Store(server.db_url)
        rates: list[float] = []
        try:
            for _ in range(QUICK_RUNS if quick else RUNS):
                checked, summary = verify.run(store, experiment, None, io.StringIO())
                if summary.steps_per_s:
                    rates.append(summary.steps_per_s)
        finally:
            store.close()
    return {
        "bots": bots,
        "bots_finished": finished,
        "episodes": summary.episodes,
        "statuses": dict(summary.counts),
        "steps": summary.steps_replayed,
        "runs": len(rates),
        "steps_per_s_runs": [round(r) for r in rates],
        "steps_per_s_p50": round(statistics.median(rates)) if rates else None,
        "all_verified": summary.exit_code() == verify.EXIT_OK,
    }


def verify_rows(report: dict[str, Any]) -> list[Row]:
    found = report["replay"]["verify"]
    bots = f"{found['bots']} bot{'s' * (found['bots'] != 1)}"
    whose = f"{found['steps']} steps, {found['episodes']} episodes of {bots}"
    return [
        Row("replay.verify", f"verify on the demo's data ({whose})", None),
        Row("replay.verify", f"  steps replayed per second (p50 of {found['runs']})",
            found["steps_per_s_p50"], "steps/s"),
        Row("replay.verify", "  every episode verified", str(found["all_verified"]), "",
            "True", status(bool(found["all_verified"]))),
    ]  # fmt: skip
