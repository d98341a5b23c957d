"""The ``server.frames`` benchmark: encoding the server runtime's rgb frames.

The server runtime sends an rgb frame as an image (``server/frames.py``), encoded in the env
process once per step, so encoding time is part of every step's budget there. Frames are
real: 600×400 renders of Gymnasium's ``CartPole-v1`` (``render_mode="rgb_array"``) along an
episode played with random actions. Each format (JPEG, WebP, PNG) encodes every frame at the
default quality; the report gives the encoding time's median and p99 and the bytes per frame.
Target (reported, not asserted): p99 within a third of a 30 FPS frame interval, so the env
and the round trip keep the rest.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from interactive_gym.bench.report import Row, status
from interactive_gym.bench.stats import median, percentile, rounded
from interactive_gym.server.frames import FORMATS, FrameSettings, encode_frame, warm_up

FPS = 30
TARGET_P99_MS = 1000 / FPS / 3


def cartpole_frames(count: int, seed: int = 7) -> list[Any]:
    """``count`` rgb frames of CartPole-v1 under random actions (new episodes as needed)."""
    import gymnasium

    env = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    rng = random.Random(seed)
    frames: list[Any] = []
    env.reset(seed=seed)
    while len(frames) < count:
        _, _, terminated, truncated, _ = env.step(rng.randrange(2))
        frames.append(env.render())
        if terminated or truncated:
            env.reset(seed=rng.randrange(1 << 30))
    env.close()
    return frames


def run_frames_benchmark(quick: bool = False) -> dict[str, Any]:
    """Encoding time (median, p99) and bytes per frame per format; the ``server.frames`` part."""
    frames = cartpole_frames(40 if quick else 150)
    repeats = 1 if quick else 3
    height, width = frames[0].shape[:2]
    formats: dict[str, Any] = {}
    for name in FORMATS:
        settings = FrameSettings(name)
        warm_up(settings)
        times: list[float] = []
        sizes: list[float] = []
        for _ in range(repeats):
            for frame in frames:
                started = time.perf_counter()
                data, _, _ = encode_frame(frame, settings)
                times.append((time.perf_counter() - started) * 1000)
                sizes.append(len(data))
        p99 = percentile(times, 0.99)
        formats[name] = {
            "quality": settings.quality if name != "png" else None,
            "encode_p50_ms": rounded(median(times)),
            "encode_p99_ms": rounded(p99),
            "bytes_p50": round(median(sizes)),
            "bytes_mean": round(sum(sizes) / len(sizes)),
            "passed": p99 <= TARGET_P99_MS,
        }
        print(f"frames {name}: p50 {median(times):.2f} ms, p99 {p99:.2f} ms, "
              f"{median(sizes):.0f} bytes", file=sys.stderr, flush=True)  # fmt: skip
    return {
        "env": "CartPole-v1",
        "width": width,
        "height": height,
        "frames": len(frames),
        "encodes_per_format": len(frames) * repeats,
        "target_p99_ms": round(TARGET_P99_MS, 2),
        "formats": formats,
    }


def frames_rows(report: dict[str, Any]) -> list[Row]:
    part = report["server"]["frames"]
    target = f"p99 ≤ {part['target_p99_ms']:g} ms"
    rows = [Row("server.frames", f"{part['env']} {part['width']}×{part['height']} rgb frame, "
                f"{part['encodes_per_format']} encodes per format", None)]  # fmt: skip
    for name, figures in part["formats"].items():
        quality = f" q{figures['quality']}" if figures["quality"] is not None else ""
        rows += [
            Row("server.frames", f"  {name}{quality} encode p50", figures["encode_p50_ms"], "ms"),
            Row("server.frames", f"  {name}{quality} encode p99", figures["encode_p99_ms"], "ms",
                target, status(bool(figures["passed"]))),
            Row("server.frames", f"  {name}{quality} bytes per frame (p50)", figures["bytes_p50"],
                "B"),
        ]  # fmt: skip
    return rows
