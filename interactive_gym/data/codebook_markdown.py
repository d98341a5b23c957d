"""The codebook as Markdown: docs/data.md's column tables, and the command that writes them.

    python -m interactive_gym.data.codebook --write-docs docs/data.md
    python -m interactive_gym.data.codebook --check-docs docs/data.md

docs/data.md holds blocks ``<!-- codebook:NAME -->`` … ``<!-- /codebook -->``: NAME is a table
of :data:`~interactive_gym.data.codebook.TABLES` (its description and column tables) or a note
of :data:`~interactive_gym.data.codebook.NOTES`. ``--write-docs`` rewrites every block from
:mod:`interactive_gym.data.codebook` (the other half: what everything means) and leaves the rest
of the file as it is; ``--check-docs`` exits 1 when a block differs. An export's own codebook
(``CODEBOOK.md``, its actual columns) is :mod:`interactive_gym.data.data_package`'s, built with
the same pieces.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

from interactive_gym.data.codebook import (
    NOTES,
    OTHER_KEY_SUMMARY,
    TABLES,
    URL_SUMMARY,
    Undocumented,
    check_source,
    code,
    fixed_columns,
    frictionless_type,
)
from interactive_gym.data.tables import URL_MARKER

BLOCK = re.compile(r"(<!-- codebook:(?P<name>\S+) -->\n)(?P<body>.*?)(<!-- /codebook -->)", re.S)
OPENING = re.compile(r"<!-- codebook:(\S+) -->")
WIDTH = 100


def paragraph(text: str) -> str:
    """``text`` as a Markdown paragraph wrapped at 100 characters."""
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def cell(text: str) -> str:
    """``text`` as one cell of a Markdown table (``|`` escaped, on one line)."""
    return " ".join(text.replace("|", "\\|").splitlines())


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def data_sentence(data_of: str) -> str:
    return (
        f"Then one column per key of {data_of} `data`, named after the key (a key named like a "
        "column above, possibly behind `data_` prefixes, gets one more `data_` prefix), in the "
        "order the keys first appear, of the narrowest type that holds every value. The keys:"
    )


def docs_block(name: str) -> str:
    """The generated text of block ``name`` of docs/data.md."""
    if name in NOTES:
        return paragraph(NOTES[name])
    if name not in TABLES:
        raise Undocumented(
            f"docs block {name!r}: not a table or note of interactive_gym/data/codebook.py "
            f"(tables: {', '.join(TABLES)}; notes: {', '.join(NOTES)})"
        )
    doc = TABLES[name]
    fixed = fixed_columns(doc)
    rows = [
        [code(column), frictionless_type(name, column, kind, fixed), doc.columns[column]]
        for column, kind in fixed.items()
    ]
    if doc.url_params:
        rows.append([code(URL_MARKER + "<NAME>"), "string", URL_SUMMARY])
    parts = [paragraph(doc.about), md_table(["column", "type", "meaning"], rows)]
    if doc.data is not None:
        keys = [[code(key), meaning] for key, meaning in doc.data.items()]
        keys += [[code(p.prefix + "<agent>"), p.summary] for p in doc.per_agent]
        keys.append(["*any other key*", OTHER_KEY_SUMMARY.format(data_of=doc.data_of)])
        parts += [paragraph(data_sentence(doc.data_of)), md_table(["key", "meaning"], keys)]
    return "\n\n".join(parts)


def render_docs(text: str) -> str:
    """``text`` (docs/data.md) with every codebook block rewritten from the source.

    Raises :class:`~interactive_gym.data.codebook.Undocumented` for a block of no table or
    note, or one that is not closed, and when the source itself is incomplete."""
    check_source()
    opened = OPENING.findall(text)
    closed = [m.group("name") for m in BLOCK.finditer(text)]
    if opened != closed:
        missing = next((n for n in opened if opened.count(n) != closed.count(n)), opened[-1])
        raise Undocumented(f"docs block {missing!r}: no <!-- /codebook --> after it")
    return BLOCK.sub(
        lambda m: f"{m.group(1)}{docs_block(m.group('name'))}\n{m.group(4)}",
        text,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.data.codebook",
        description="Write (or check) the codebook's blocks of docs/data.md.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-docs", type=Path, metavar="PATH", help="rewrite its blocks")
    action.add_argument("--check-docs", type=Path, metavar="PATH", help="exit 1 if they differ")
    args = parser.parse_args(argv)
    path: Path = args.write_docs or args.check_docs
    text = path.read_text(encoding="utf-8")
    try:
        rendered = render_docs(text)
    except Undocumented as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if args.check_docs:
        if rendered != text:
            print(
                f"{path}: its codebook blocks differ from interactive_gym/data/codebook.py; run "
                f"python -m interactive_gym.data.codebook --write-docs {path}",
                file=sys.stderr,
            )
            return 1
        return 0
    if rendered != text:
        path.write_text(rendered, encoding="utf-8")
        print(f"{path}: codebook blocks rewritten")
    return 0
