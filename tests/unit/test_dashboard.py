"""Tests for bot.dashboard: figures on a small known data set, computed in SQL."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from bot.cases import ALL_CASES, CaseRepository, CaseScope, NewCase
from bot.dashboard import FigureQuery, FigureRepository
from bot.transcripts import TranscriptReader
from bot.worktime import STOCKHOLM

NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=STOCKHOLM)  # Friday in week 12


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """Run these tests against SQLite and PostgreSQL."""
    return any_db_url


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)  # type: ignore[misc]


def add(repository: CaseRepository, key: str, at: dt.datetime, topic: str = "permit") -> int:
    unit = "bygglov" if topic == "permit" else "naringsliv"
    case, _ = repository.create(
        NewCase(
            idempotency_key=key,
            topic=topic,
            unit=unit,
            contact_name="Kim",
            company_name=f"Företag {key}",
            description="x",
            conversation_id=f"conv-{key}",
        ),
        now=at,
    )
    return case.id


@pytest.fixture
def figures(repository: CaseRepository, engine: object) -> FigureRepository:
    monday = local(2026, 3, 9, 9, 0)
    answers = [
        local(2026, 3, 9, 10),
        local(2026, 3, 9, 11),
        local(2026, 3, 9, 12),
        local(2026, 3, 12, 9),
    ]
    for index, answered in enumerate(answers):
        case_id = add(repository, f"a{index}", monday)
        repository.record_first_response(case_id, ALL_CASES, "phone", "", "anna@x.se", answered)
        if index == 0:
            repository.close(case_id, ALL_CASES, "anna@x.se", now=answered)
    add(repository, "a4", monday)  # never answered: overdue
    start = add(repository, "b0", local(2026, 3, 17, 10, 0), topic="start_business")
    repository.record_first_response(
        start, ALL_CASES, "email", "", "bo@x.se", local(2026, 3, 17, 10, 30)
    )
    repository.close(start, ALL_CASES, "bo@x.se", now=local(2026, 3, 17, 11, 0))
    return FigureRepository(engine)  # type: ignore[arg-type]


def summary(row: object) -> tuple[object, ...]:
    return tuple(
        getattr(row, name)
        for name in (
            "period",
            "unit",
            "topic",
            "cases",
            "answered",
            "within_promise",
            "open",
            "overdue",
            "median_seconds",
            "p90_seconds",
        )
    )


def test_figures_per_unit_and_week(figures: FigureRepository) -> None:
    result = figures.figures(FigureQuery(period="week", grouping="unit"), ALL_CASES, NOW)
    assert [summary(row) for row in result.rows] == [
        ("2026-03-16", "naringsliv", "", 1, 1, 1, 0, 0, 1800, 1800),
        ("2026-03-09", "bygglov", "", 5, 4, 3, 4, 1, 7200, 91800),
    ]
    overall = result.overall
    assert summary(overall) == ("", "", "", 6, 5, 4, 4, 1, 7200, 91800)
    assert overall.share_within_promise == pytest.approx(4 / 6)
    assert [(row.period, row.cases) for row in result.per_period] == [
        ("2026-03-09", 5),
        ("2026-03-16", 1),
    ]
    assert result.bot_only_conversations is None


def test_figures_per_topic_and_month(figures: FigureRepository) -> None:
    result = figures.figures(FigureQuery(period="month", grouping="unit_topic"), ALL_CASES, NOW)
    assert [summary(row) for row in result.rows] == [
        ("2026-03-01", "bygglov", "permit", 5, 4, 3, 4, 1, 7200, 91800),
        ("2026-03-01", "naringsliv", "start_business", 1, 1, 1, 0, 0, 1800, 1800),
    ]
    topics = figures.figures(FigureQuery(grouping="topic"), ALL_CASES, NOW).totals
    assert [(row.topic, row.cases) for row in topics] == [("permit", 5), ("start_business", 1)]


def test_figures_respect_the_scope_and_the_date_range(figures: FigureRepository) -> None:
    own_unit = figures.figures(FigureQuery(), CaseScope(frozenset({"naringsliv"})), NOW)
    assert own_unit.overall.cases == 1
    ranged = figures.figures(FigureQuery(date_from=dt.date(2026, 3, 10)), ALL_CASES, NOW)
    assert ranged.overall.cases == 1
    empty = figures.figures(FigureQuery(date_to=dt.date(2026, 1, 1)), ALL_CASES, NOW)
    assert summary(empty.overall) == ("", "", "", 0, 0, 0, 0, 0, None, None)
    assert empty.rows == [] and empty.overall.share_within_promise is None


def test_weeks_start_on_monday_in_stockholm_time(
    repository: CaseRepository, engine: object
) -> None:
    add(repository, "sun", local(2026, 3, 15, 20, 0))  # Sunday evening: week of 9 March
    add(repository, "mon", dt.datetime(2026, 3, 15, 23, 30, tzinfo=dt.timezone.utc))  # Mon 00:30
    rows = FigureRepository(engine).grouped(FigureQuery(period="week"), ALL_CASES, NOW, ("period",))  # type: ignore[arg-type]
    assert [(row.period, row.cases) for row in rows] == [("2026-03-16", 1), ("2026-03-09", 1)]


def make_tracker(path: Path, events: list[tuple[str, str, float]]) -> str:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), "
            "type_name VARCHAR(255), timestamp FLOAT, data TEXT)"
        )
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            [(s, t, at, json.dumps({"text": "hej"})) for s, t, at in events],
        )
    return f"sqlite:///{path}"


def test_conversations_the_bot_answered_without_a_case(
    figures: FigureRepository, tmp_path: Path
) -> None:
    at = local(2026, 3, 10, 12, 0).timestamp()
    url = make_tracker(
        tmp_path / "tracker.db",
        [
            ("conv-a0", "user", at),  # led to a case
            ("web-1", "user", at),
            ("web-1", "bot", at),
            ("web-2", "user", at),
            ("web-3", "bot", at),  # the user never wrote anything
            ("web-4", "user", local(2026, 2, 1, 12, 0).timestamp()),  # before the range
        ],
    )
    query = FigureQuery(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 31))
    result = figures.figures(query, ALL_CASES, NOW, TranscriptReader(url))
    assert result.bot_only_conversations == 2
    assert figures.bot_only_conversations(TranscriptReader(url), FigureQuery()) == 3


def test_a_missing_tracker_store_counts_no_conversations(
    figures: FigureRepository, tmp_path: Path
) -> None:
    missing = TranscriptReader(f"sqlite:///{tmp_path / 'nope.db'}")
    assert figures.figures(FigureQuery(), ALL_CASES, NOW, missing).bot_only_conversations == 0
    sqlite3.connect(tmp_path / "empty.db").close()
    no_table = TranscriptReader(f"sqlite:///{tmp_path / 'empty.db'}")
    assert figures.bot_only_conversations(no_table, FigureQuery()) == 0


def test_switching_between_months_and_weeks_on_one_engine_regroups(
    figures: FigureRepository,
) -> None:
    # The period kind changes the SQL text; a cached statement must not be reused for the other.
    for period, expected in (("month", ["2026-03-01"]), ("week", ["2026-03-09", "2026-03-16"])):
        result = figures.figures(FigureQuery(period=period), ALL_CASES, NOW)
        assert [row.period for row in result.per_period] == expected
