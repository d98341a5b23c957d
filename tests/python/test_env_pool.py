"""The server runtime's env pool (server/env_pool.py + server/env_process.py), real processes.

Games run the example CartPole (a draw-list env, by module), Gymnasium's CartPole-v1 (rgb
frames) and a small env given as code whose step misbehaves on purpose: action 9 never
returns, 7 exits the process, 5 raises.
"""

from __future__ import annotations

import asyncio
import io
import json
import multiprocessing
import os
import time
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from interactive_gym.server.env_pool import EnvFailure, EnvPool
from interactive_gym.server.frames import FrameSettings

HUMAN = {"human": {"kind": "human"}}
CARTPOLE = {"env": {"module": "interactive_gym.examples.envs.cartpole"}, "agents": HUMAN}
GYM_CARTPOLE = {"env": {"env_id": "CartPole-v1"}, "agents": HUMAN}
MISBEHAVING = """
import os

class Env:
    num_actions = 10

    def reset(self, seed=None, options=None):
        self.t = 0
        return [0], {}

    def step(self, action):
        if action == 9:
            while True:
                pass
        if action == 7:
            os._exit(1)
        if action == 5:
            raise ValueError("action 5 is not allowed here")
        self.t += 1
        return [self.t], 1.0, False, False, {}

    def render(self):
        return [{"type": "rect", "id": "r", "x": 0, "y": 0, "w": 1, "h": 1}]


def make_env(**config):
    return Env()
"""
ODD = {"env": {"code": MISBEHAVING, "filename": "misbehaving.py"}, "agents": HUMAN}
LIMIT_S = 5.0  # generous: a loaded machine must not fail the ordinary ticks


@pytest.fixture
async def pool() -> AsyncIterator[EnvPool]:
    pool = EnvPool(2)
    await pool.start()
    yield pool
    await pool.shutdown()


def process_of(pool: EnvPool, game_id: str) -> int:
    return pool._games[game_id].process.index


async def test_open_start_tick_and_close(pool: EnvPool) -> None:
    info = await pool.open("g1", CARTPOLE)
    assert info == {"multiAgent": False, "agents": ["human"], "numActions": 2,
                    "renderSize": [600, 400], "hasRender": True}  # fmt: skip
    start = await pool.start_episode("g1", 7, LIMIT_S)
    assert start["render"]["kind"] == "draw"
    assert any(o["id"] == "cart" for o in json.loads(start["render"]["data"]))
    assert start["info"] == {"t": 0} and start["hud"] is None
    tick = await pool.tick("g1", {"human": 1}, LIMIT_S)
    assert tick["step"] == 0 and tick["actions"] == {"human": 1} and tick["reward"] == 1.0
    assert not tick["done"] and tick["render"]["kind"] == "draw"
    assert set(tick["timing"]) >= {"env_ms", "worker_ms", "round_trip_ms"}
    assert 0 <= tick["timing"]["env_ms"] <= tick["timing"]["worker_ms"]
    # the same seed gives the same episode on another game (another process)
    await pool.open("g2", CARTPOLE)
    assert process_of(pool, "g1") != process_of(pool, "g2")
    again = await pool.start_episode("g2", 7, LIMIT_S)
    assert again["render"] == start["render"]
    assert (await pool.tick("g2", {"human": 1}, LIMIT_S))["render"] == tick["render"]
    ticks = await asyncio.gather(*(pool.tick(g, {"human": 0}, LIMIT_S) for g in ("g1", "g2")))
    assert [t["step"] for t in ticks] == [1, 1] and ticks[0]["render"] == ticks[1]["render"]
    for game_id in ("g3", "g4"):
        await pool.open(game_id, CARTPOLE)
        await pool.start_episode(game_id, 1, LIMIT_S)
    before = pool.stats()
    games = ("g1", "g2", "g3", "g4")
    await asyncio.gather(*(pool.tick(g, {"human": 0}, LIMIT_S) for g in games))
    after = pool.stats()  # ticks of one loop iteration: one message per process
    assert after["requests"] - before["requests"] == 4
    assert after["messages"] - before["messages"] == 2
    assert pool.stats()["games"] == 4
    await pool.close("g3")
    await pool.close("g4")
    await pool.close("g1")
    await pool.close("g1")  # closing twice is fine
    stats = pool.stats()
    assert stats["games"] == 1 and [p["games"] for p in stats["processes"]] == [0, 1]
    with pytest.raises(KeyError, match="g1"):
        await pool.tick("g1", {"human": 1}, LIMIT_S)


async def test_rgb_frames_are_encoded_images(pool: EnvPool) -> None:
    await pool.open("jpeg", GYM_CARTPOLE)
    await pool.open("png", GYM_CARTPOLE | {"frame": {"format": "png"}})
    for game_id, fmt in (("jpeg", "JPEG"), ("png", "PNG")):
        await pool.start_episode(game_id, 1, LIMIT_S)
        tick = await pool.tick(game_id, {"human": 0}, LIMIT_S)
        render = tick["render"]
        assert render["kind"] == "image" and render["format"] == game_id
        assert (render["width"], render["height"]) == (600, 400)
        image = Image.open(io.BytesIO(render["data"]))
        assert image.format == fmt and image.size == (600, 400)
    with pytest.raises(ValueError, match="quality"):
        await pool.open("bad", GYM_CARTPOLE | {"frame": {"quality": 0}})


async def test_runaway_step_times_out_and_spares_other_processes(pool: EnvPool) -> None:
    for game_id in ("hang", "other", "neighbour"):
        await pool.open(game_id, ODD)
        await pool.start_episode(game_id, 0, LIMIT_S)
    assert process_of(pool, "hang") == process_of(pool, "neighbour") != process_of(pool, "other")
    killed_pid = pool.stats()["processes"][process_of(pool, "hang")]["pid"]

    async def keep_ticking() -> int:
        steps = 0
        while not hang.done():
            await pool.tick("other", {"human": 1}, LIMIT_S)
            steps += 1
            await asyncio.sleep(0.01)
        return steps

    started = time.monotonic()
    hang = asyncio.ensure_future(pool.tick("hang", {"human": 9}, 0.5))
    neighbour = asyncio.ensure_future(pool.tick("neighbour", {"human": 1}, LIMIT_S))
    steps = await keep_ticking()
    with pytest.raises(EnvFailure) as failure:
        await hang
    elapsed = time.monotonic() - started
    assert failure.value.kind == "timeout" and failure.value.stage == "step"
    assert "'hang'" in failure.value.message and "0.5 s" in failure.value.message
    assert 0.5 <= elapsed < 3.0
    assert steps >= 5  # the other process kept stepping while this one hung
    with pytest.raises(EnvFailure) as crash:
        await neighbour
    assert crash.value.kind == "crash" and "restarted" in crash.value.message
    with pytest.raises(EnvFailure) as later:  # the game stays failed until reopened
        await pool.start_episode("neighbour", 1, LIMIT_S)
    assert later.value.kind == "crash" and later.value.stage == "reset"
    assert (await pool.tick("other", {"human": 1}, LIMIT_S))["reward"] == 1.0

    stats = pool.stats()
    assert stats["timeouts"] == 1 and stats["restarts"] == 1
    assert await _gone(killed_pid)
    await pool.open("hang", ODD)  # a failed game can be opened again, on a fresh process
    await pool.start_episode("hang", 0, LIMIT_S)
    assert (await pool.tick("hang", {"human": 1}, LIMIT_S))["step"] == 0


async def test_process_exit_in_step_is_a_crash_and_the_process_is_replaced(
    pool: EnvPool,
) -> None:
    await pool.open("exits", ODD)
    await pool.open("other", ODD)
    await pool.open("neighbour", ODD)
    for game_id in ("exits", "other", "neighbour"):
        await pool.start_episode(game_id, 0, LIMIT_S)
    with pytest.raises(EnvFailure) as failure:
        await pool.tick("exits", {"human": 7}, LIMIT_S)
    assert failure.value.kind == "crash" and failure.value.stage == "step"
    assert "exit code 1" in failure.value.message and "'exits'" in failure.value.message
    with pytest.raises(EnvFailure) as crash:
        await pool.tick("neighbour", {"human": 1}, LIMIT_S)
    assert crash.value.kind == "crash"
    assert (await pool.tick("other", {"human": 1}, LIMIT_S))["step"] == 0
    assert pool.stats()["crashes"] == 1 and pool.stats()["restarts"] == 1
    await pool.open("new", CARTPOLE)
    await pool.start_episode("new", 3, LIMIT_S)
    assert (await pool.tick("new", {"human": 0}, LIMIT_S))["step"] == 0


async def test_exception_in_step_fails_only_that_game(pool: EnvPool) -> None:
    await pool.open("raises", ODD)
    await pool.open("other", ODD)
    await pool.open("neighbour", ODD)
    for game_id in ("raises", "other", "neighbour"):
        await pool.start_episode(game_id, 0, LIMIT_S)
    with pytest.raises(EnvFailure) as failure:
        await pool.tick("raises", {"human": 5}, LIMIT_S)
    error = failure.value
    assert (error.kind, error.stage, error.error_type) == ("error", "step", "ValueError")
    assert "action 5 is not allowed here" in error.message
    assert "misbehaving.py" in error.traceback and "raise ValueError" in error.traceback
    for game_id in ("other", "neighbour"):
        assert (await pool.tick(game_id, {"human": 1}, LIMIT_S))["step"] == 0
    with pytest.raises(EnvFailure, match="start a new episode") as broken:
        await pool.tick("raises", {"human": 1}, LIMIT_S)
    assert broken.value.kind == "error"
    await pool.start_episode("raises", 1, LIMIT_S)
    assert (await pool.tick("raises", {"human": 1}, LIMIT_S))["step"] == 0
    assert pool.stats()["restarts"] == 0


async def test_open_failures_are_load_errors(pool: EnvPool) -> None:
    with pytest.raises(EnvFailure) as failure:
        await pool.open("bad", {"env": {"env_id": "NoSuchEnv-v0"}, "agents": HUMAN})
    assert (failure.value.stage, failure.value.kind) == ("load", "error")
    assert "NoSuchEnv-v0" in failure.value.message
    with pytest.raises(EnvFailure, match="no-such-package-here.*not installed") as missing:
        await pool.open("bad", CARTPOLE | {"packages": ["no-such-package-here==1.0"]})
    assert missing.value.stage == "load"
    code = (
        "def make_env(**config):\n    raise RuntimeError('the config is wrong: ' + repr(config))\n"
    )
    with pytest.raises(EnvFailure, match="the config is wrong: {'size': 3}") as raised:
        await pool.open("bad", {"env": {"code": code, "config": {"size": 3}}, "agents": HUMAN})
    assert raised.value.error_type == "RuntimeError" and "make_env" in raised.value.traceback
    with pytest.raises(EnvFailure, match="single-agent"):
        await pool.open("bad", CARTPOLE | {"agents": HUMAN | {"ai": {"kind": "random"}}})
    assert pool.stats()["games"] == 0
    await pool.open("bad", CARTPOLE)  # the id is free after a failed open
    endless = "while True:\n    pass\n"
    with pytest.raises(EnvFailure) as hung:
        await pool.open("hangs", {"env": {"code": endless}, "agents": HUMAN}, timeout_s=0.5)
    assert (hung.value.stage, hung.value.kind) == ("load", "timeout")
    assert "'hangs'" in hung.value.message and "0.5 s" in hung.value.message


async def test_shutdown_leaves_no_child_processes() -> None:
    pool = EnvPool(2, frame=FrameSettings("webp", 60))
    await pool.start()
    await pool.open("gym", GYM_CARTPOLE)
    start = await pool.start_episode("gym", 0, LIMIT_S)
    assert start["render"]["format"] == "webp"
    await pool.open("g", ODD)
    await pool.start_episode("g", 0, LIMIT_S)
    pids = [p["pid"] for p in pool.stats()["processes"]]
    hang = asyncio.ensure_future(pool.tick("g", {"human": 9}, 60))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await pool.shutdown(grace_s=0.5)  # the hung process is killed after the grace
    assert time.monotonic() - started < 3
    await pool.shutdown()  # idempotent
    with pytest.raises(EnvFailure, match="shut down") as failure:
        await hang
    assert failure.value.kind == "crash"
    with pytest.raises(EnvFailure, match="shut down"):
        await pool.tick("g", {"human": 0}, LIMIT_S)
    assert multiprocessing.active_children() == []
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists, zombies included (a reaped process is gone)."""
    return os.path.exists(f"/proc/{pid}")


async def _gone(pid: int, within_s: float = 5.0) -> bool:
    """True once ``pid`` was killed and reaped (the pool reaps it in the background)."""
    deadline = time.monotonic() + within_s
    while _alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return not _alive(pid)
