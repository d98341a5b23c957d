"""``python -m interactive_gym.export``: write a study's data as CSV, Parquet or JSON Lines.

    python -m interactive_gym.export --db sqlite:///data/interactive_gym.db --out export/ \\
        --format csv|parquet|jsonl [--experiment ID] [--participant ID ...]

One file per table (see :mod:`interactive_gym.data.tables` and docs/data.md): participants,
survey_answers, episodes, events, and steps_<scene> per game scene (and groups, in a study with
group games). Safe to run while the server is writing (SQLite in WAL mode, or PostgreSQL).
``--participant`` (repeatable) keeps only those participants, their groups and their groups'
games: the same files, fewer rows (the admin console's download writes the same).

Beside the tables every export writes ``datapackage.json`` (a Frictionless Data Package: every
file, every column with its type and meaning, the experiment ids, the interactive_gym version
and the export time) and ``CODEBOOK.md`` (the same for people), both from
:mod:`interactive_gym.data.codebook`, the source docs/data.md's column tables are generated from
(see :mod:`interactive_gym.data.data_package`).

In CSV, a text cell (or column name) that a spreadsheet would run as a formula (one starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a leading ``'``; numbers
are written as they are. Parquet and JSON Lines hold every value exactly as stored.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from interactive_gym.data.data_package import TableFile, describe_table, write_package
from interactive_gym.data.store import DEFAULT_URL, Store
from interactive_gym.data.tables import BOOL, FLOAT, INT, JSON, STR, TIME, build_tables
from interactive_gym.db_option import NoDatabase, open_database

FORMATS = ("csv", "parquet", "jsonl")
BATCH = 10_000
#: How a spreadsheet recognises a formula: text cells starting with these are quoted in CSV.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_value(value: Any, kind: str) -> Any:
    """A value for CSV and Parquet: times as ISO 8601, JSON columns as JSON text (strings as is)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if kind == JSON and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if kind == STR and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def inert_text(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_cell(value: Any, kind: str) -> Any:
    """A CSV cell: :func:`text_value`, empty for a missing value, text made inert.

    Numbers (also a number in a JSON column, such as ``-3``) are left as they are, so a
    negative number stays a number; any text, including JSON text, is passed through
    :func:`inert_text`.
    """
    cell = text_value(value, kind)
    if cell is None:
        return ""
    if isinstance(cell, str) and not isinstance(value, (int, float)):
        return inert_text(cell)
    return cell


def write_csv(path: Path, columns: dict[str, str], rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([inert_text(c) for c in columns])
        for row in rows:
            writer.writerow([csv_cell(row.get(c), t) for c, t in columns.items()])
            count += 1
    return count


def write_jsonl(path: Path, columns: dict[str, str], rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            values = {
                c: v.isoformat() if isinstance(v := row.get(c), datetime) else v for c in columns
            }
            handle.write(json.dumps(values, separators=(",", ":"), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_parquet(path: Path, columns: dict[str, str], rows: Iterable[dict[str, Any]]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a declared extra
        raise SystemExit(
            "--format parquet needs pyarrow: pip install 'interactive-gym[parquet]'"
        ) from exc
    types = {
        INT: pa.int64(),
        FLOAT: pa.float64(),
        BOOL: pa.bool_(),
        STR: pa.string(),
        JSON: pa.string(),
        TIME: pa.timestamp("us", tz="UTC"),
    }
    schema = pa.schema([(c, types[t]) for c, t in columns.items()])
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        iterator = iter(rows)
        while batch := list(islice(iterator, BATCH)):
            arrays = {
                c: [
                    v if t in (TIME, INT, FLOAT, BOOL) else text_value(v, t)
                    for v in _column(batch, c)
                ]
                for c, t in columns.items()
            }
            for c, t in columns.items():
                if t == FLOAT:
                    arrays[c] = [None if v is None else float(v) for v in arrays[c]]
            writer.write_table(pa.table(arrays, schema=schema))
            count += len(batch)
        if count == 0:
            writer.write_table(schema.empty_table())
    return count


def _column(batch: list[dict[str, Any]], name: str) -> Iterator[Any]:
    return (row.get(name) for row in batch)


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}


def export(
    store: Store,
    out: Path,
    fmt: str,
    experiment_id: str | None = None,
    participant_ids: Collection[str] | None = None,
    *,
    at: datetime | None = None,
) -> dict[str, int]:
    """Write every table to ``out`` (created if missing); returns the row count per file.

    ``participant_ids``: only those participants' rows (see ``tables.build_tables``). Beside
    the tables, ``datapackage.json`` and ``CODEBOOK.md`` describe them, stating ``at`` as the
    export time (default: now). A column the codebook has no meaning for raises
    :class:`~interactive_gym.data.codebook.Undocumented` naming the table and the column.
    """
    if fmt not in WRITERS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    files: list[TableFile] = []
    experiments: set[str] = set()
    for table in build_tables(store, experiment_id, participant_ids):
        path = out / f"{table.name}.{fmt}"
        columns = table.resolve_columns()
        names = [inert_text(c) for c in columns] if fmt == "csv" else list(columns)
        described = describe_table(table, columns, names)
        rows = table.rows()
        if "experiment_id" in table.columns:
            rows = _noting(rows, "experiment_id", experiments)
        written[path.name] = WRITERS[fmt](path, columns, rows)
        files.append(TableFile(described, path, written[path.name]))
    ids = [experiment_id] if experiment_id is not None else sorted(experiments)
    write_package(out, fmt, files, ids, at or datetime.now(UTC))
    return written


def _noting(
    rows: Iterable[dict[str, Any]], column: str, seen: set[str]
) -> Iterator[dict[str, Any]]:
    """``rows``, adding each row's text in ``column`` to ``seen`` on the way."""
    for row in rows:
        if isinstance(value := row.get(column), str):
            seen.add(value)
        yield row


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.export",
        description=__doc__,
        epilog="With --format minari: one game scene's episodes as a Minari dataset (offline "
        "RL), written in the datasets root --out (default: Minari's own); needs "
        "pip install 'interactive-gym[minari]'. See docs/datasets.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", default=DEFAULT_URL, help="database URL (default: %(default)s)")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder to write the files to (required); with --format minari: the datasets "
        "root (MINARI_DATASETS_PATH; default: Minari's own)",
    )
    parser.add_argument(
        "--format", choices=(*FORMATS, "minari"), default="csv", help="default: %(default)s"
    )
    parser.add_argument("--experiment", help="only this experiment's participants and groups")
    parser.add_argument(
        "--participant",
        action="append",
        metavar="ID",
        help="only this participant and their groups (repeat for several)",
    )
    minari = parser.add_argument_group("--format minari")
    minari.add_argument("--scene", help="the game scene whose episodes to write (required)")
    minari.add_argument(
        "--dataset-id", metavar="NAMESPACE/NAME-vN", help="the dataset's id (required)"
    )
    minari.add_argument(
        "--study",
        type=Path,
        help="the study file the data was recorded with (default: the built-in demo study)",
    )
    minari.add_argument(
        "--agent", help="the agent whose episodes to write (default: every human agent)"
    )
    minari.add_argument(
        "--complete-only",
        action="store_true",
        help="leave out episodes cut short (default: keep them, last step marked truncated)",
    )
    minari.add_argument("--author", help="the dataset's author")
    minari.add_argument("--author-email", help="the author's email address")
    minari.add_argument("--description", help="what the dataset holds (default: generated)")
    minari.add_argument("--code-permalink", metavar="URL", help="a link to the study's code")
    args = parser.parse_args(argv)
    only_minari = ["scene", "dataset_id", "study", "agent", "complete_only", "author"]
    only_minari += ["author_email", "description", "code_permalink"]
    if args.format == "minari":
        for name in ("scene", "dataset_id"):
            if getattr(args, name) is None:
                parser.error(f"--format minari needs --{name.replace('_', '-')}")
    else:
        if args.out is None:
            parser.error(f"--format {args.format} needs --out (the folder to write to)")
        given = [n for n in only_minari if getattr(args, n) not in (None, False)]
        if given:
            parser.error(f"--{given[0].replace('_', '-')} is for --format minari only")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.format == "minari":
        from interactive_gym.minari_dataset import run

        return run(args)
    try:
        store = open_database(args.db)
    except NoDatabase as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        written = export(store, args.out, args.format, args.experiment, args.participant)
    finally:
        store.close()
    for name, rows in written.items():
        print(f"{args.out / name}: {rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
