"""Shared fixtures."""

from pg import db_url, postgres_server  # noqa: F401  (database fixtures: SQLite and PostgreSQL)
