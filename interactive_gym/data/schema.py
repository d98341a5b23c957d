"""Bringing an existing database up to the current tables, in place.

``Base.metadata.create_all`` creates missing tables but never touches existing ones, so a study
database created by an earlier version would lack the columns added since. :func:`upgrade`
adds every missing column that may be empty (every column added after the first version is
nullable), in one transaction, and logs what it added. Nothing is ever dropped or rewritten.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect, text
from sqlalchemy.schema import Column

from interactive_gym.data.models import Base

log = logging.getLogger("interactive_gym.data")


def missing_columns(engine: Engine) -> list[tuple[str, Column]]:
    """``(table, column)`` for every column of the models the database does not have."""
    inspector = inspect(engine)
    missing = []
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue  # create_all makes it whole
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [(table.name, c) for c in table.columns if c.name not in present]
    return missing


def upgrade(engine: Engine) -> list[str]:
    """Create missing tables and add missing columns; returns ``table.column`` names added."""
    Base.metadata.create_all(engine)
    missing = missing_columns(engine)
    if not missing:
        return []
    preparer = engine.dialect.identifier_preparer
    added = []
    with engine.begin() as conn:
        for table, column in missing:
            if not column.nullable:
                raise RuntimeError(
                    f"database: column {table}.{column.name} is missing and cannot be added "
                    "to existing rows (it may not be empty); export the data and start a new "
                    "database"
                )
            kind = column.type.compile(dialect=engine.dialect)
            conn.execute(
                text(
                    f"ALTER TABLE {preparer.quote(table)} "
                    f"ADD COLUMN {preparer.quote(column.name)} {kind}"
                )
            )
            added.append(f"{table}.{column.name}")
    log.info("database upgraded in place: added %s", ", ".join(added))
    return added
