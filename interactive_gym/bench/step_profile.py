"""Where a worker request spends its time, stage by stage (``static/bench/runtime_profile.js``).

The worker itself reports only its total time and the env's own time; this page runs the same
runtime package (``interactive_gym.runtime``) in a Pyodide on the page and times each stage of
a step (and of a rollback batch, as ``rollback_<stage>``) separately, then the reply's trip
between threads, plus a JSON-text alternative for comparison.
"""

from __future__ import annotations

from typing import Any

from interactive_gym.bench.browser import run_page
from interactive_gym.bench.report import Row
from interactive_gym.bench.stats import median, rounded, summary

PAGE = "/static/bench/runtime_profile.html"

#: The stages, in the order a request goes through them, with what each one times.
STAGES = {
    "call": "the whole step in Python, called from JS (to_py … to_js; ≈ workerMs)",
    "to_py": "to_py of the request payload",
    "operation": "the step operation: env step + render, then to_plain of each part",
    "env": "env step + render alone (envMs)",
    "handle_to_plain": "handle()'s second to_plain of the already plain value",
    "to_js": "to_js of the reply (dict_converter=Object.fromEntries)",
    "structuredClone": "structured clone of the reply (what postMessage does to it)",
    "echoRoundTrip": "the reply posted to a worker and echoed back (thread hop floor)",
    "json_dumps": "alternative: json.dumps of the reply in Python",
    "jsonParse": "alternative: JSON.parse of that text in JS",
}


def measure_profile(
    browser: Any, base_url: str, config: dict[str, Any], timeout_s: float
) -> dict[str, dict[str, float]]:
    """One run of the profile page in a fresh context: a summary per stage."""
    context = browser.new_context()
    try:
        result = run_page(context.new_page(), base_url + PAGE, config, timeout_s)
    finally:
        context.close()
    return {stage: summary(samples) for stage, samples in result["stages"].items()}


def summarize_profile(profiles: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Per stage (step, then rollback): the median over runs of each run's p50 and p99."""
    out: dict[str, Any] = {"runs_count": len(profiles), "p50_ms": {}, "p99_ms": {}}
    for stage in [*STAGES, *(f"rollback_{s}" for s in STAGES)]:
        for stat in ("p50", "p99"):
            values = [p[stage][stat] for p in profiles if stage in p]
            out[f"{stat}_ms"][stage] = rounded(median(values), 4)
    out["stages"] = STAGES
    return out


def profile_rows(profile: dict[str, Any]) -> list[Row]:
    """Table rows: the p50 of each stage, for a step and for a rollback batch."""
    p50 = profile["p50_ms"]
    rows = [Row("profile", "stage p50 (step / rollback batch):", None)]
    for stage in STAGES:
        step, rollback = p50.get(stage), p50.get(f"rollback_{stage}")
        value = f"{_ms(step)} / {_ms(rollback)}"
        rows.append(Row("profile", f"  {stage}", value, "ms"))
    return rows


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
