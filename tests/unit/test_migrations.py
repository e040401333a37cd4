"""Tests for bot.db and bot/migrations: the schema comes only from Alembic, matching the models."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from bot.db import alembic_config, create_db_engine, migrate
from bot.models import Base

TABLES = {"cases", "case_events", "users", "login_throttle"}


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert schema_diff(engine) == []


def test_migrate_creates_the_tables_at_head(engine: Engine, db_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert TABLES <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head


def test_migrate_creates_the_sqlite_directory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "cases.db"
    migrate(f"sqlite:///{path}")
    assert path.is_file()


def test_migrate_twice_is_harmless(engine: Engine, db_url: str) -> None:
    migrate(db_url)
    assert schema_diff(engine) == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine, db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "base")
    assert TABLES.isdisjoint(inspect(engine).get_table_names())
    assert current_revision(engine) is None
    migrate(db_url)
    assert TABLES <= set(inspect(engine).get_table_names())
    assert schema_diff(engine) == []


def test_an_empty_database_differs_from_the_models(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert schema_diff(engine) != []  # the comparison above can fail
    finally:
        engine.dispose()


def test_upgrade_keeps_cases_and_events_stored_by_the_first_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    migrate(url, "0001")
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO cases (id, reference, year, sequence, idempotency_key, topic, unit,"
            " contact_name, company_name, description, conversation_id, status, created_at)"
            " VALUES (1, 'NL-2026-0001', 2026, 1, 'k', 'permit', 'bygglov', 'A', 'B', 'C',"
            " 'c', 'open', '2026-11-27 08:00:00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO case_events (case_id, kind, actor, created_at)"
            " VALUES (1, 'created', 'bot', '2026-11-27 08:00:00')"
        )
    migrate(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT reference FROM cases").scalar_one() == (
            "NL-2026-0001"
        )
        assert connection.exec_driver_sql("SELECT count(*) FROM case_events").scalar_one() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    engine.dispose()
    assert schema_diff(create_db_engine(url)) == []
