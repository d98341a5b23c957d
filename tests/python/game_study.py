"""Helpers of the game-scene browser tests: a study server in a subprocess, pages, the export."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

from interactive_gym.local_server import StudyProcess
from interactive_gym.page_wait import wait_until
from interactive_gym.server.settings import PROJECT_DIR

WHEELHOUSE = PROJECT_DIR / "data" / "wheelhouse"


class GameServer(StudyProcess):
    """``python -m interactive_gym.run study.py`` on SQLite in ``folder``, the study's source
    written there first."""

    def __init__(
        self,
        folder: Path,
        study_source: str,
        args: Sequence[str] = (),
        wheelhouse: Path = WHEELHOUSE,
    ) -> None:
        self.study = folder / "study.py"
        self.study.write_text(study_source)
        super().__init__(folder, self.study, wheelhouse=wheelhouse, start_timeout_s=30, args=args)

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """Every table of ``python -m interactive_gym.export`` (JSON Lines)."""
        out = self.folder / f"export-{time.monotonic_ns()}"
        command = [sys.executable, "-m", "interactive_gym.export", "--db", self.db_url]
        command += ["--out", str(out), "--format", "jsonl"]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.folder)
        return {
            path.stem: [json.loads(line) for line in path.read_text().splitlines()]
            for path in out.glob("*.jsonl")
        }

    def verify(self, *participants: str) -> dict[str, Any]:
        """``python -m interactive_gym.verify`` on the study's database: its JSON report."""
        command = [sys.executable, "-m", "interactive_gym.verify", "--db", self.db_url]
        command += ["--study", str(self.study), "--json", "-"]
        for pid in participants:
            command += ["--participant", pid]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=self.folder)
        report: dict[str, Any] = json.loads(done.stdout)
        assert done.returncode == report["summary"]["exit_code"], done.stderr
        return report


def assert_verified(report: dict[str, Any], episodes: int, cut_short: int = 0) -> None:
    """Every episode run of the verify report replayed as recorded (``cut_short`` of them
    only as far as they went: their page stopped mid-episode), ``episodes`` runs in all."""
    statuses = [e["status"] for e in report["episodes"]]
    odd = [e for e in report["episodes"] if e["status"] not in ("verified", "cut_short")]
    assert not odd, odd
    assert statuses.count("cut_short") == cut_short, report["episodes"]
    assert len(statuses) == episodes, report["episodes"]
    assert report["summary"]["exit_code"] == (0 if cut_short == 0 else 3)


def open_page(browser: Browser, server: GameServer, query: str) -> Page:
    """A new participant's page (own context: own cookies and storage)."""
    page = browser.new_context().new_page()
    page.on("console", lambda m: print(f"[page {m.type}] {m.text}") if m.type == "error" else None)
    page.goto(f"{server.url}/?{query}")
    return page


def game_state(page: Page) -> dict[str, Any]:
    return page.evaluate(
        "() => { const g = window.interactiveGymGame;"
        " return {state: g.state, episode: g.episode, step: g.step, stats: g.stats,"
        " loads: g.loads()} }"
    )


def wait_finished(page: Page, timeout_s: float = 180) -> dict[str, Any]:
    wait_until(
        page,
        "window.interactiveGym && (window.interactiveGym.finished || window.interactiveGym.error)",
        timeout=timeout_s * 1000,
    )
    status = page.evaluate("({...window.interactiveGym})")
    assert status["error"] is None, status["error"]
    return status


def play_to_the_end(
    browser: Browser, tmp_path: Path, experiment: Any, query: str, verified: int | None = None
) -> dict:
    """Serve ``experiment``, play it in one page until it finishes, and return the export;
    with ``verified``, also check that the verify command replays that many episode runs as
    recorded."""
    server = GameServer(tmp_path, experiment)
    try:
        page = open_page(browser, server, query)
        wait_finished(page)
        page.context.close()
        if verified is not None:
            assert_verified(server.verify(), episodes=verified)
        return server.export()
    finally:
        server.stop()


def rows_of(tables: dict[str, list[dict]], table: str, pid: str) -> list[dict]:
    return [r for r in tables.get(table, []) if r["participant_id"] == pid]


def assert_steps_once(steps: list[dict], lengths: dict[int, int]) -> None:
    """Each episode's steps 0..n-1 exactly once (``lengths``: episode → n), one attempt."""
    keys = [(r["episode"], r["attempt"], r["step"]) for r in steps]
    assert len(keys) == len(set(keys)), "a step is stored twice"
    for episode, n in lengths.items():
        got = sorted(r["step"] for r in steps if r["episode"] == episode)
        assert got == list(range(n)), f"episode {episode}: steps {got[:5]}...{got[-5:]}"
    assert {r["episode"] for r in steps} == set(lengths)
