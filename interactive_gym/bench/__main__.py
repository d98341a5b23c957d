"""``python -m interactive_gym.bench [--quick] [--json PATH] [--only SECTION]``.

Runs every section of :data:`interactive_gym.bench.sections.SECTIONS` (or the ones named with
``--only``), prints one table of figures next to their targets, and writes the JSON report
``{"worker": ..., "baseline": ..., "server": {"ingest": ...}, "meta": {...}}``. Targets are
reported, never asserted: the command fails only when a section could not run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from interactive_gym.bench.machine import machine_meta
from interactive_gym.bench.report import Row, format_table, merge, write_json
from interactive_gym.bench.sections import SECTIONS


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in SECTIONS]
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and samples (< 2 min)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report here")
    parser.add_argument(
        "--only", action="append", choices=names, metavar="SECTION",
        help=f"run only this section (repeatable): {', '.join(names)}",
    )  # fmt: skip
    args = parser.parse_args(argv)
    chosen = [s for s in SECTIONS if not args.only or s.name in args.only]

    report: dict[str, Any] = {}
    meta = machine_meta()
    meta.update(quick=args.quick, sections=[s.name for s in chosen], section_seconds={})
    rows: list[Row] = []
    errors: dict[str, str] = {}
    for section in chosen:
        print(f"== {section.name} ==", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            merge(report, section.run(args.quick))
            rows.extend(section.rows(report))
        except Exception as error:  # noqa: BLE001 - reported, the other sections still run
            traceback.print_exc()
            errors[section.name] = f"{type(error).__name__}: {error}"
            rows.append(Row(section.name, "could not run", None, "", "", "ERROR"))
        meta["section_seconds"][section.name] = round(time.monotonic() - started, 1)
    meta["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if errors:
        meta["errors"] = errors
    report["meta"] = meta

    print(format_table(rows))
    if args.json:
        write_json(report, args.json)
        print(f"report written to {args.json}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
