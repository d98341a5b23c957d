"""Small statistics helpers shared by the benchmark sections."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[rank - 1])


def median(values: Iterable[float]) -> float:
    """The median of the finite values (NaN when there are none)."""
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return math.nan
    mid = len(finite) // 2
    return finite[mid] if len(finite) % 2 else (finite[mid - 1] + finite[mid]) / 2


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99, max and mean of one run's samples (milliseconds, 4 decimals)."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50": round(percentile(values, 0.50), 4),
        "p90": round(percentile(values, 0.90), 4),
        "p99": round(percentile(values, 0.99), 4),
        "max": round(max(values), 4),
        "mean": round(sum(values) / len(values), 4),
    }


def rounded(value: float, digits: int = 3) -> float | None:
    """``value`` rounded for the report; None for NaN (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else round(value, digits)
