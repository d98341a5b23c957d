"""An export as a data package: ``datapackage.json`` and ``CODEBOOK.md`` beside its tables.

:func:`describe_table` gives every column of a table as its file names it, with its Table
Schema type and its meaning from :mod:`interactive_gym.data.codebook` (a fixed column without
one is an :class:`~interactive_gym.data.codebook.Undocumented` error naming the table and the
column, raised before the table is written). Once the tables are written (the other half:
:func:`interactive_gym.export.export`), :func:`write_package` writes

- ``datapackage.json``: a Frictionless Data Package (v2) with one tabular resource per file
  (name, path, format, media type, encoding, size, SHA-256 and schema: every column with its
  type and meaning), the experiment ids, the interactive_gym version and the export time;
- ``CODEBOOK.md``: the same for people, with the notes on reading the files.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from interactive_gym.data.codebook import (
    NOTES,
    code,
    describe,
    frictionless_type,
    table_doc,
)
from interactive_gym.data.codebook_markdown import md_table, paragraph
from interactive_gym.data.tables import Table

PACKAGE_FILE = "datapackage.json"
CODEBOOK_FILE = "CODEBOOK.md"
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
SOFTWARE = "interactive-gym"
MEDIATYPES = {
    "csv": "text/csv",
    "jsonl": "application/jsonl",
    "parquet": "application/vnd.apache.parquet",
}
FORMAT_NAMES = {"csv": "CSV", "jsonl": "JSON Lines", "parquet": "Parquet"}
#: How ``csv.writer`` writes (export.py): stated, so that no reader has to guess.
CSV_DIALECT = {
    "header": True,
    "delimiter": ",",
    "lineTerminator": "\r\n",
    "quoteChar": '"',
    "doubleQuote": True,
}
#: Columns whose values identify a row, per table.
PRIMARY_KEYS = {"participants": ("participant_id",), "groups": ("group_id",)}


@dataclass(frozen=True)
class Column:
    """One column of a file: its name there, its Table Schema type and its meaning."""

    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Described:
    """A table as the package describes it."""

    name: str
    about: str
    columns: list[Column]


@dataclass(frozen=True)
class TableFile:
    """A written table: its description, its file and how many rows it holds."""

    table: Described
    path: Path
    rows: int


def describe_table(table: Table, columns: dict[str, str], names: Sequence[str]) -> Described:
    """``table`` with ``columns`` (name → ``tables`` type) written under ``names``."""
    doc = table_doc(table.name)
    about = doc.about
    if doc.about_one and table.scene_id is not None:
        about = doc.about_one.format(scene=code(table.scene_id))
    described = [
        Column(
            name,
            frictionless_type(table.name, column, kind, table.columns),
            describe(table.name, column, table.columns),
        )
        for name, (column, kind) in zip(names, columns.items(), strict=True)
    ]
    return Described(table.name, about, described)


def software_version() -> str:
    """The installed interactive_gym's version (``unknown`` when it is not installed)."""
    try:
        return metadata.version(SOFTWARE)
    except metadata.PackageNotFoundError:
        return "unknown"


def utc_text(at: datetime) -> str:
    """``at`` as RFC 3339 in UTC (``2024-05-28T12:00:00Z``)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def experiments_text(experiment_ids: Sequence[str], *, markdown: bool = True) -> str:
    """``experiment `a```, ``experiments `a`, `b``` (plain: without the backticks)."""
    if not experiment_ids:
        return "no experiment (no participants)"
    word = "experiment" if len(experiment_ids) == 1 else "experiments"
    return f"{word} " + ", ".join(code(e) if markdown else e for e in experiment_ids)


def resource(file: TableFile, fmt: str) -> dict[str, Any]:
    """The Data Package resource of one written table."""
    described: dict[str, Any] = {
        "name": file.table.name,
        "type": "table",
        "path": file.path.name,
        "format": fmt,
        "mediatype": MEDIATYPES[fmt],
    }
    if fmt != "parquet":  # text; Parquet is binary (its own text is UTF-8)
        described["encoding"] = "utf-8"
    described["bytes"] = file.path.stat().st_size
    described["hash"] = f"sha256:{sha256(file.path)}"
    described["description"] = file.table.about
    if fmt == "csv":
        described["dialect"] = dict(CSV_DIALECT)
    schema: dict[str, Any] = {
        "fields": [
            {"name": c.name, "type": c.type, "description": c.description}
            for c in file.table.columns
        ],
    }
    if fmt == "csv":
        schema["missingValues"] = [""]
    key = PRIMARY_KEYS.get(file.table.name)
    if key and set(key) <= {c.name for c in file.table.columns}:
        schema["primaryKey"] = list(key)
    described["schema"] = schema
    return described


def package(
    files: Sequence[TableFile], fmt: str, experiment_ids: Sequence[str], at: datetime
) -> dict[str, Any]:
    """The ``datapackage.json`` of an export."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", "-".join(experiment_ids).lower()).strip("-")
    notes = [NOTES["types"], *([NOTES["csv"]] if fmt == "csv" else [])]
    return {
        "$schema": PROFILE,
        "name": f"interactive-gym-{slug or 'export'}"[:200],
        "title": f"interactive_gym export of {experiments_text(experiment_ids, markdown=False)}",
        "description": "\n\n".join(
            [
                f"What participants did in {experiments_text(experiment_ids)}, exported as "
                f"{FORMAT_NAMES[fmt]} by `python -m interactive_gym.export`: one file per table. "
                f"{CODEBOOK_FILE} describes the same for people.",
                *notes,
            ]
        ),
        "created": utc_text(at),
        "experiment_ids": list(experiment_ids),
        "software": {"name": SOFTWARE, "version": software_version()},
        "resources": [resource(f, fmt) for f in files],
    }


def codebook(
    files: Sequence[TableFile], fmt: str, experiment_ids: Sequence[str], at: datetime
) -> str:
    """The ``CODEBOOK.md`` of an export: every file and column, what it means."""
    head = [
        "# Codebook of this export",
        "",
        md_table(
            ["", ""],
            [
                ["experiment" + ("s" if len(experiment_ids) != 1 else ""), _ids(experiment_ids)],
                ["exported", f"{utc_text(at)} (UTC)"],
                ["software", f"{SOFTWARE} {software_version()}"],
                ["format", f"{FORMAT_NAMES[fmt]}, one file per table"],
            ],
        ),
        "",
        paragraph(
            f"What every file and column of this export means. `{PACKAGE_FILE}` says the same "
            "for programs: a Frictionless Data Package (`frictionless validate "
            "datapackage.json` checks the files against it)."
        ),
        "",
        "## Reading the files",
        "",
        paragraph(NOTES["types"]),
    ]
    if fmt == "csv":
        head += ["", paragraph(NOTES["csv"])]
    parts = ["\n".join(head)]
    for file in files:
        rows = "1 row" if file.rows == 1 else f"{file.rows} rows"
        parts.append(
            f"## {code(file.path.name)}\n\n{paragraph(f'{file.table.about} {rows}.')}\n\n"
            + md_table(
                ["column", "type", "meaning"],
                [[code(c.name), c.type, c.description] for c in file.table.columns],
            )
        )
    return "\n\n".join(parts) + "\n"


def _ids(experiment_ids: Sequence[str]) -> str:
    return ", ".join(code(e) for e in experiment_ids) or "none (no participants)"


def write_package(
    out: Path, fmt: str, files: Sequence[TableFile], experiment_ids: Sequence[str], at: datetime
) -> None:
    """Write ``datapackage.json`` and ``CODEBOOK.md`` into ``out``, beside ``files``."""
    descriptor = package(files, fmt, experiment_ids, at)
    text = json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n"
    (out / PACKAGE_FILE).write_text(text, encoding="utf-8")
    (out / CODEBOOK_FILE).write_text(codebook(files, fmt, experiment_ids, at), encoding="utf-8")
