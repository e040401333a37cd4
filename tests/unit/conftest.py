"""Shared fixtures for the unit tests: a migrated temporary SQLite case log per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.cases import CaseRepository
from bot.db import create_db_engine, migrate


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
