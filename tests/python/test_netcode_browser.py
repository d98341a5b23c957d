"""Group games in the browser end to end, in headless Chromium: bots pair up in a
``WaitingRoom`` and play one ``runtime="browser"`` group game, each in their own Pyodide worker,
with the server relaying and sequencing their inputs (rollback netcode). The export must hold
exactly one canonical step row per group step, agreed by every member (or a desync that was
detected and repaired), and the server's CPython replay of the canonical inputs must reproduce
every recorded reward and state hash (``verified``) — under a degraded link too (``--netem``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from game_study import GameServer, assert_verified, open_page, wait_finished
from playwright.sync_api import Browser, Page, sync_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.page_wait import wait_until
from interactive_gym.server.settings import PROJECT_DIR

pytestmark = pytest.mark.browser

GATHER = PROJECT_DIR / "interactive_gym" / "examples" / "envs" / "gather.py"
WALKERS = Path(__file__).parent / "envs" / "walkers.py"
NETEM = "latency=80ms,jitter=30ms,loss=10%,seed=3"


def study(
    *,
    humans: int = 2,
    env: Path = GATHER,
    env_config: dict[str, Any] | None = None,
    fps: int = 20,
    episodes: int = 1,
    steps: int = 60,
    scene: str = "",
) -> str:
    agents = ", ".join(f"{i}: 'human'" for i in range(humans))
    config = env_config if env_config is not None else {"players": humans, "max_steps": 100_000}
    return f"""
from interactive_gym.study import *
experiment = Experiment(
    "netcode_test",
    scenes=[
        StaticScene("hello", html="<p>Hi</p>"),
        WaitingRoom("lobby", countdown_s=0),
        GymScene(
            "game", runtime="browser", env_file={str(env)!r}, env_config={config!r},
            agents={{{agents}}},
            controls={{"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4}},
            fps={fps}, episodes={episodes}, max_steps={steps}, countdown_s=0,
            pause_after_episode_s=0.2, {scene}),
        EndScene(),
    ],
    seed=9,
)
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[GameServer] = []

    def make(source: str, *args: str) -> GameServer:
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        servers.append(GameServer(folder, source, args=args))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


def bots(browser: Browser, server: GameServer, names: list[str]) -> list[Page]:
    return [
        open_page(browser, server, f"bot=random&bot_pause_ms=40&PROLIFIC_PID={n}") for n in names
    ]


def watch_sockets(pages: list[Page]) -> list[str]:
    """The URLs of every WebSocket of ``pages`` that closes (none should)."""
    closes: list[str] = []
    for page in pages:
        page.on("websocket", lambda ws: ws.on("close", lambda _: closes.append(ws.url)))
    return closes


def finish_all(pages: list[Page], timeout_s: float = 240) -> None:
    for page in pages:
        wait_finished(page, timeout_s)
    for page in pages:
        page.context.close()


def rows(tables: dict[str, list[dict]], name: str, **where: Any) -> list[dict]:
    return [r for r in tables.get(name, []) if all(r.get(k) == v for k, v in where.items())]


def group_events(tables: dict[str, list[dict]], group_id: str, kind: str) -> list[dict]:
    return [
        e
        for e in rows(tables, "events", group_id=group_id, type=kind)
        if e["participant_id"] is None
    ]


def assert_canonical(
    tables: dict, group: dict, episodes: int, steps: int, hashed: bool = True
) -> list[dict]:
    """One step row per group step, identical for every member (participant_id empty),
    agreed by the members' reports unless a desync was recorded and repaired; every episode
    replayed and verified by the server."""
    mine = rows(tables, "steps_game", group_id=group["group_id"])
    keys = [(r["episode"], r["step"]) for r in mine]
    assert len(keys) == len(set(keys)), "a group step is stored twice"
    for episode in range(episodes):
        got = sorted(r["step"] for r in mine if r["episode"] == episode)
        assert got == list(range(steps)), f"episode {episode}: steps {got[:5]}…{got[-5:]}"
    assert all(r["participant_id"] is None and r["runtime"] == "browser" for r in mine)
    for pid, agent in group["agents"].items():
        assert all(r[f"participant_{agent}"] in (pid, "stand_in") for r in mine), (pid, agent)
        assert any(r[f"participant_{agent}"] == pid for r in mine), (pid, agent)
    with_hash = [r for r in mine if r["state_hash"] is not None]
    if hashed:
        assert len(with_hash) >= steps // 5, "too few frames carry a state hash"
    else:
        assert with_hash == [], "an env without get_state cannot be hashed"
    desyncs = group_events(tables, group["group_id"], "desync")
    disagreed = [r for r in mine if r["agreed"] is not True]
    if desyncs:
        assert group_events(tables, group["group_id"], "desync_repaired"), "desync not repaired"
    else:
        assert disagreed == [], f"rows not agreed without a desync: {disagreed[:2]}"
    summaries = rows(tables, "episodes", group_id=group["group_id"])
    assert sorted(s["episode"] for s in summaries) == list(range(episodes))
    for s in summaries:
        assert s["participant_id"] is None and s["length"] == steps and s["runtime"] == "browser"
        assert s["verified"] is True, f"episode {s['episode']}: {s['verify_reason']}"
    return mine


def export_verified(server: GameServer, timeout_s: float = 60) -> dict[str, list[dict]]:
    """The export once the server has replayed every group episode (it does so right after the
    group's game closes, in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        tables = server.export()
        group_rows = [e for e in tables.get("episodes", []) if e.get("group_id")]
        if group_rows and all(e["verified"] is not None for e in group_rows):
            return tables
        if time.monotonic() > deadline:
            return tables
        time.sleep(1)


def net_inputs(tables: dict[str, list[dict]], pid: str) -> list[dict]:
    return [r for r in rows(tables, "inputs", participant_id=pid) if r.get("netcode")]


def test_a_minute_of_play_over_a_bad_link_gives_one_verified_trajectory(
    browser: Browser, make_server
) -> None:
    """60 s under 80 ± 30 ms each way and 10 % loss of the input messages: a pair and a trio,
    played at the same time (two servers)."""
    fps, steps = 20, 1200
    sizes = {"pair": 2, "trio": 3}
    servers = {
        name: make_server(study(humans=humans, fps=fps, steps=steps), "--netem", NETEM)
        for name, humans in sizes.items()
    }
    pages = {
        name: bots(browser, servers[name], [f"{name}{i}" for i in range(humans)])
        for name, humans in sizes.items()
    }
    everyone = [p for group in pages.values() for p in group]
    closes = watch_sockets(everyone)
    finish_all(everyone, timeout_s=300)
    assert closes == [], "a socket was disconnected"
    for name, humans in sizes.items():
        tables = export_verified(servers[name])
        (group,) = tables["groups"]
        assert group["ended_how"] == "completed"
        assert_canonical(tables, group, 1, steps)
        assert_verified(servers[name].verify(), episodes=1)
        for pid in (f"{name}{i}" for i in range(humans)):
            (participant,) = rows(tables, "participants", participant_id=pid)
            assert participant["status"] == "completed"
            ticks = net_inputs(tables, pid)
            assert len(ticks) >= steps * 0.9, f"{pid}: {len(ticks)} tick records"
            # Everyone started the episode together: nobody had to catch up from a resume.
            kinds = [e["type"] for e in rows(tables, "events", participant_id=pid)]
            assert "net_resumed" not in kinds, f"{pid} started late and resumed"
            # The link is slow and lossy: the page predicted and rolled back, never ran away.
            assert any(t["rollback_frames"] > 0 for t in ticks), f"{pid}: never rolled back"
            assert max(t["predicted"] for t in ticks) <= 8


def test_a_non_deterministic_env_fails_at_load_and_a_divergence_mid_game_is_repaired(
    browser: Browser, make_server
) -> None:
    """Two studies at once: an env with unseeded randomness (caught before anything is played)
    and one whose members' states diverge once, at frame 60 (caught and repaired in play)."""
    broken = make_server(study(env=WALKERS, env_config={"unseeded": True}, steps=30))
    steps = 200
    drifting = make_server(study(env=WALKERS, env_config={"drift_at": 60}, steps=steps, fps=20))
    refused = bots(browser, broken, ["a1", "a2"])
    playing = bots(browser, drifting, ["d1", "d2"])

    # The non-deterministic env: a load error on both pages, naming the check and a hint.
    for page in refused:
        wait_until(page, "document.body.innerText.includes('could not be loaded')",
                   timeout=120_000)  # fmt: skip
    assert "not deterministic" in refused[0].inner_text("body")
    for page in refused:
        page.context.close()
    tables = broken.export()
    errors = [e for e in rows(tables, "events", type="game_load_error")]
    assert {e["participant_id"] for e in errors} == {"a1", "a2"}
    assert all(e["data"]["stage"] == "determinism" for e in errors)
    assert "hint: unseeded randomness" in errors[0]["data"]["message"]

    # The divergence: detected within a second, repaired, and play goes on in agreement.
    finish_all(playing)
    tables = drifting.export()
    (group,) = tables["groups"]
    desyncs = group_events(tables, group["group_id"], "desync")
    repaired = group_events(tables, group["group_id"], "desync_repaired")
    assert desyncs and repaired, "the divergence was not detected or not repaired"
    first = desyncs[0]["data"]
    assert 60 <= first["frame"] <= 60 + 20, f"detected late: {first}"  # within a second
    assert len(set(first["hashes"].values())) == 2
    mine = rows(tables, "steps_game", group_id=group["group_id"])
    assert sorted(r["step"] for r in mine) == list(range(steps)), "play did not continue"
    after = [r for r in mine if r["step"] > repaired[-1]["data"]["frame"] + 10]
    assert after and all(r["agreed"] for r in after), "the members disagree after the repair"
    loaded = [e for e in rows(tables, "events", type="desync_loaded") if e["participant_id"]]
    assert loaded, "no page loaded the repair"


def test_members_who_reload_mid_game_rejoin_with_no_lost_steps(
    browser: Browser, make_server
) -> None:
    """Two studies at once: rollback (the rejoiner loads a member's state and the inputs
    since) and lockstep with an env without get_state (the rejoiner replays from the reset)."""
    steps = 300
    rollback = make_server(study(steps=steps, fps=20, scene="reconnect_s=60"))
    source = study(env=WALKERS, env_config={"stateless": True}, steps=steps,
                   scene='netcode="lockstep", input_delay_frames=3')  # fmt: skip
    lockstep = make_server(source, "--netem", "latency=20ms,seed=1")
    stays, reloads = bots(browser, rollback, ["stays", "reloads"])
    ls_stays, ls_reloads = bots(browser, lockstep, ["ls1", "ls2"])
    for page in (reloads, ls_reloads):
        wait_until(page, "window.interactiveGymGame && window.interactiveGymGame.step > 60",
                   timeout=120_000)  # fmt: skip
        page.reload()
    finish_all([stays, reloads, ls_stays, ls_reloads])

    tables = export_verified(rollback)
    (group,) = tables["groups"]
    assert group["ended_how"] == "completed"
    assert_canonical(tables, group, 1, steps)
    assert_verified(rollback.verify(), episodes=1)
    kinds = [e["type"] for e in rows(tables, "events", participant_id="reloads")]
    assert "net_resumed" in kinds
    assert "member_away" in [e["type"] for e in rows(tables, "events", participant_id="stays")]

    tables = export_verified(lockstep)
    (group,) = tables["groups"]
    assert group["ended_how"] == "completed"
    assert_canonical(tables, group, 1, steps, hashed=False)
    assert_verified(lockstep.verify(), episodes=1)
    assert "net_resumed" in [e["type"] for e in rows(tables, "events", participant_id="ls2")]
    for pid in ("ls1", "ls2"):
        ticks = net_inputs(tables, pid)
        assert ticks and all(t["rollback_frames"] == 0 for t in ticks), "lockstep rolled back"
        assert all(t["predicted"] == 0 for t in ticks), "lockstep predicted"


def test_ten_pairs_at_once_and_ten_games_in_one_page(browser: Browser, make_server) -> None:
    """Twenty members arrive with zero stagger; every pair plays ten short episodes in one
    page; nobody's socket drops, and the page's memory stays flat over the ten games."""
    episodes, steps = 10, 20
    server = make_server(study(fps=20, episodes=episodes, steps=steps))
    names = [f"c{i:02d}" for i in range(20)]
    contexts = [browser.new_context() for _ in names]
    pages = [c.new_page() for c in contexts]
    closes = watch_sockets(pages)
    for name, page in zip(names, pages, strict=True):
        page.goto(f"{server.url}/?bot=random&bot_pause_ms=40&PROLIFIC_PID={name}",
                  wait_until="commit")  # fmt: skip
    watched = pages[0]
    cdp = watched.context.new_cdp_session(watched)
    heap: dict[int, float] = {}
    wait_until(watched, "window.interactiveGymGame && window.interactiveGymGame.episode >= 1",
               timeout=240_000)  # fmt: skip
    for episode in (1, episodes - 1):
        wait_until(watched, f"window.interactiveGymGame.episode >= {episode}", timeout=240_000)
        cdp.send("HeapProfiler.collectGarbage")
        heap[episode] = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
    finish_all(pages, timeout_s=400)
    assert closes == [], f"{len(closes)} socket(s) were disconnected"
    growth = heap[episodes - 1] - heap[1]
    assert growth < 8, f"the page's heap grew {growth:.1f} MiB over {episodes - 2} games"
    tables = export_verified(server)
    assert len(tables["groups"]) == 10
    for group in tables["groups"]:
        assert group["ended_how"] == "completed"
        assert_canonical(tables, group, episodes, steps)
    assert_verified(server.verify(), episodes=10 * episodes)
    # Pages that loaded the game later than their partner were waited for at the start.
    resumed = [e["participant_id"] for e in rows(tables, "events", type="net_resumed")]
    assert resumed == [], f"started late and resumed: {resumed}"
