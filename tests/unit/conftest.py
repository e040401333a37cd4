"""Shared fixtures for the unit tests: a migrated temporary SQLite case log per test."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.cases import CaseRepository
from bot.db import create_db_engine, migrate
from bot.stack import Postgres, StackError, free_port, postgres_bin


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file migrated to the newest revision."""
    url = f"sqlite:///{tmp_path / 'db' / 'cases.db'}"
    migrate(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the migrated test database, disposed after the test."""
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def repository(engine: Engine) -> CaseRepository:
    """A case repository on the migrated test database."""
    return CaseRepository(engine)


# --- PostgreSQL ---------------------------------------------------------------------------
# Tests that take ``any_db_url`` run against SQLite and against a real PostgreSQL server that
# is started for the test session (skipped when the PostgreSQL binaries are not installed).


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a throw-away PostgreSQL server (bot.stack); yield its URL without a database name."""
    try:
        postgres_bin("initdb")
    except StackError as error:
        if os.environ.get("CI"):  # .ci/services installs PostgreSQL: a skip would hide a gap
            pytest.fail(str(error))
        pytest.skip(str(error))
    base = Path(tempfile.mkdtemp(prefix="lotsen-pg-"))
    server = Postgres(base, free_port(), os.urandom(12).hex())
    try:
        server.init()
        server.start()
        yield server.url("postgres").rsplit("/", 1)[0]
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated case log: a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'cases.db'}"
        migrate(url)
        yield url
        return
    server: str = request.getfixturevalue("postgres_server")
    name = f"lotsen_{os.getpid()}_{next(_databases)}"
    admin = create_db_engine(f"{server}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    migrate(url)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()
