"""The ingest benchmark's harness: a tiny run counts every record exactly once.

Only behaviour is checked here (records produced = records stored, no duplicates); the
latency and CPU figures are the benchmark's business, not the tests'.
"""

from __future__ import annotations

from interactive_gym.bench.ingest import run_ingest_benchmark


def test_tiny_run_accounts_for_every_record() -> None:
    result = run_ingest_benchmark(levels=(3,), duration_s=2.0)
    (run,) = result["runs"]
    assert run["n"] == 3
    assert run["produced"] > 100  # 3 participants × 30 records/s × 2 s
    assert run["stored"] == run["produced"]
    assert run["lost"] == 0 and run["duplicated"] == 0
    assert run["acks"] > 0 and run["connect_failures"] == 0
    assert set(result) >= {"max_participants", "runs"}
