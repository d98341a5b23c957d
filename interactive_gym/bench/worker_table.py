"""The table rows of the ``worker`` section (figures from :mod:`interactive_gym.bench.worker`)."""

from __future__ import annotations

from typing import Any

from interactive_gym.bench.report import Row, status
from interactive_gym.bench.snapshots import snapshot_rows
from interactive_gym.bench.step_profile import profile_rows
from interactive_gym.bench.worker import PARTS


def worker_rows(report: dict[str, Any]) -> list[Row]:
    """Figures with their targets (pass/MISS), the baseline and control next to them."""
    w, b = report["worker"], report["baseline"]
    t, ok = w["targets"], w["passed"]
    stall_verdict = status(ok["max_main_thread_stall_ms"])
    stall_verdict += " (goal met)" if ok["max_main_thread_stall_goal_ms"] else " (goal missed)"
    stall_target = (
        f"≤ {t['max_main_thread_stall_ms']:g} ms (goal ≤ {t['max_main_thread_stall_goal_ms']:g})"
    )
    step, rollback = w["step_breakdown_ms"], w["rollback_breakdown_ms"]
    return [
        Row("worker", "max main-thread stall until READY", w["max_main_thread_stall_ms"], "ms",
            stall_target, stall_verdict),
        Row("baseline", "max main-thread stall until READY", b["max_main_thread_stall_ms"], "ms"),
        Row("control", "same page, no Pyodide: stall", w["control_page_stall_ms"], "ms"),
        Row("worker", "stall ratio baseline / worker", w["stall_ratio_to_baseline"], "×",
            f"≥ {t['stall_ratio_to_baseline']:g} ×", status(ok["stall_ratio_to_baseline"])),
        Row("worker", "init to READY, cold", w["init_cold_ms"], "ms"),
        Row("worker", "init to READY, warm cache", w["init_warm_ms"], "ms"),
        *(Row("worker", f"  init stage {name}, cold", ms, "ms")
          for name, ms in w["init_stages_cold_ms"].items()),
        Row("baseline", "init to READY, cold", b["init_cold_ms"], "ms"),
        Row("baseline", "init to READY, warm cache", b["init_warm_ms"], "ms"),
        Row("worker", "step+render round trip p50", w["step_roundtrip_p50_ms"], "ms",
            f"≤ {t['step_roundtrip_p50_ms']:g} ms", status(ok["step_roundtrip_p50_ms"])),
        Row("worker", "step+render round trip p99", w["step_roundtrip_p99_ms"], "ms",
            f"≤ {t['step_roundtrip_p99_ms']:g} ms", status(ok["step_roundtrip_p99_ms"])),
        *_parts("step", step),
        Row("baseline", "step+render via runPython p50", b["step_roundtrip_p50_ms"], "ms"),
        Row("baseline", "step+render via runPython p99", b["step_roundtrip_p99_ms"], "ms"),
        Row("worker", f"rollback: setState + {w['rollback_steps']} steps + getState, p50",
            w["rollback_roundtrip_ms"], "ms",
            f"≤ {t['rollback_roundtrip_ms']:g} ms (1 + env {w['rollback_env_ms']:g})",
            status(ok["rollback_roundtrip_ms"])),
        Row("worker", "rollback p99", w["rollback_roundtrip_p99_ms"], "ms"),
        *_parts("rollback", rollback),
        *profile_rows(w["step_profile"]),
        *(snapshot_rows(w["snapshots"]) if "snapshots" in w else []),
    ]  # fmt: skip


def _parts(request: str, breakdown: dict[str, Any]) -> list[Row]:
    return [
        Row("worker", f"  {request} {name.replace('_', ' ')}, p50 / p99",
            f"{breakdown['p50'][name]:.3f} / {breakdown['p99'][name]:.3f}", "ms")
        for name in PARTS
    ]  # fmt: skip
