"""The benchmark report: table rows with targets, the printed table, and the JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, and its target with pass/MISS when it has one.

    ``target`` is the text shown (with its unit); ``value`` None with no unit is a heading.
    """

    section: str
    figure: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""
    verdict: str = ""


def status(passed: bool) -> str:
    return "pass" if passed else "MISS"


def format_table(rows: list[Row]) -> str:
    """A plain-text table, one row per figure."""
    header = ("section", "figure", "value", "target", "status")
    lines = [(r.section, r.figure, _value(r.value, r.unit), r.target, r.verdict) for r in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths).rstrip())
    for line in lines:
        cells = [str(c).rjust(w) if i == 2 else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=True))]  # fmt: skip
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _value(value: float | int | str | None, unit: str) -> str:
    if value is None:
        return "n/a" if unit else ""
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:.0f} {unit}".strip()
    return f"{value} {unit}".strip()  # figures arrive rounded to their meaningful digits


def merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    """Deep-merge a section's result (e.g. ``{"server": {"ingest": ...}}``) into the report."""
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
