"""Tests for bot.demo: demo cases are seeded once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.cases import CaseRepository
from bot.demo import DEMO_PREFIX, seed_demo_cases
from bot.models import Case

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone.utc)


def case_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Case)).scalar_one())


def test_seed_demo_cases_is_idempotent(repository: CaseRepository, engine: Engine) -> None:
    first = seed_demo_cases(repository, now=NOW)
    second = seed_demo_cases(repository, now=NOW + dt.timedelta(days=1))
    assert first == 5
    assert second == 0
    assert case_count(engine) == 5


def test_demo_cases_are_marked_and_back_dated(repository: CaseRepository) -> None:
    seed_demo_cases(repository, now=NOW)
    cases = [repository.get_by_idempotency_key(f"{DEMO_PREFIX}{index}") for index in range(5)]
    assert all(case is not None for case in cases)
    assert all(case.description.startswith("[DEMO] ") for case in cases if case)
    assert {case.created_at for case in cases if case} <= {
        NOW - dt.timedelta(days=days) for days in range(4)
    }
    assert cases[0] is not None and cases[0].created_at == NOW - dt.timedelta(days=3)
