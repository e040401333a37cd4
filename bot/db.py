"""Database engines and schema migration for the case log (SQLite by default, PostgreSQL too)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.future import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def create_db_engine(url: str) -> Engine:
    """Create an engine in SQLAlchemy 2.0 style with settings that survive dropped connections.

    For SQLite the parent directory is created, foreign keys are enforced and WAL mode lets the
    web app read while the action server writes.

    Args:
        url: SQLAlchemy database URL.

    Returns:
        A new engine (``future=True``).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 15}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@functools.lru_cache(maxsize=4)
def get_engine(url: str) -> Engine:
    """Return the process-wide engine for a URL, created on first use.

    Args:
        url: SQLAlchemy database URL.

    Returns:
        The shared engine for that URL.
    """
    return create_db_engine(url)


def alembic_config(url: str) -> Config:
    """Build the Alembic configuration for a database URL.

    Args:
        url: SQLAlchemy database URL.

    Returns:
        An Alembic config pointing at ``bot/migrations``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database schema to a revision (creating the SQLite file if needed).

    Args:
        url: SQLAlchemy database URL.
        revision: Target Alembic revision.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
