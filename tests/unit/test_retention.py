"""Tests for bot.retention: old conversations without a case go, old closed cases are anonymised."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases import CaseRepository, CaseScope, NewCase
from bot.models import Case, CaseEvent
from bot.retention import ANONYMISED, months_before, run_retention

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ALL = CaseScope(None)


def make_tracker(path: Path, conversations: dict[str, dt.datetime]) -> Engine:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL,"
            " type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255),"
            " action_name VARCHAR(255), data TEXT)"
        )
        for sender, last in conversations.items():
            for offset in (3600, 0):
                connection.execute(
                    "INSERT INTO events (sender_id, type_name, timestamp, data)"
                    " VALUES (?, 'user', ?, '{}')",
                    (sender, last.timestamp() - offset),
                )
    return create_engine(f"sqlite:///{path}", future=True)


def senders(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {row[0] for row in connection.exec_driver_sql("SELECT sender_id FROM events")}


def new_case(repository: CaseRepository, key: str, created: dt.datetime) -> int:
    case, _ = repository.create(
        NewCase(
            idempotency_key=key,
            topic="permit",
            permit_type="bygglov",
            unit="bygglov",
            contact_name="Kim Kund",
            company_name="Kims Firma",
            org_number="556016-0680",
            description="Ring mig på 070-123 45 67",
            conversation_id=f"conv-{key}",
            contact_email="kim@foretag.se",
            contact_phone="070-123 45 67",
        ),
        now=created,
    )
    return case.id


@pytest.fixture
def setup(
    engine: Engine, repository: CaseRepository, tmp_path: Path
) -> tuple[Engine, dict[str, int]]:
    old = NOW - dt.timedelta(days=400)
    ids = {
        "old_closed": new_case(repository, "old_closed", old),
        "recently_closed": new_case(repository, "recently_closed", old),
        "old_open": new_case(repository, "old_open", old),
    }
    repository.add_note(ids["old_closed"], ALL, "Kim heter Kim Kund", "anna", now=old)
    repository.close(ids["old_closed"], ALL, "anna", now=old + dt.timedelta(days=1))
    repository.close(ids["recently_closed"], ALL, "anna", now=NOW - dt.timedelta(days=30))
    tracker = make_tracker(
        tmp_path / "tracker.db",
        {
            "old-no-case": NOW - dt.timedelta(days=31),
            "new-no-case": NOW - dt.timedelta(days=29),
            "conv-old_closed": old,
            "conv-recently_closed": old,
            "conv-old_open": old,
        },
    )
    return tracker, ids


def test_months_before_clamps_the_day() -> None:
    assert months_before(dt.datetime(2026, 3, 31, tzinfo=UTC), 1) == dt.datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert months_before(dt.datetime(2026, 1, 15, tzinfo=UTC), 13) == dt.datetime(
        2024, 12, 15, tzinfo=UTC
    )


def test_dry_run_counts_and_changes_nothing(
    engine: Engine, setup: tuple[Engine, dict[str, int]]
) -> None:
    tracker, _ = setup
    result = run_retention(engine, tracker, 30, 12, dry_run=True, now=NOW)
    assert (result.conversations_deleted, result.cases_anonymised) == (1, 1)
    assert len(senders(tracker)) == 5
    with Session(engine) as session:
        assert ANONYMISED not in set(session.scalars(select(Case.contact_name)))


def test_retention_deletes_old_conversations_and_anonymises_old_closed_cases(
    engine: Engine, setup: tuple[Engine, dict[str, int]]
) -> None:
    tracker, ids = setup
    result = run_retention(engine, tracker, 30, 12, now=NOW)
    assert (result.conversations_deleted, result.cases_anonymised) == (1, 1)
    assert result.events_deleted == 4  # two conversations of two events each
    assert senders(tracker) == {"new-no-case", "conv-recently_closed", "conv-old_open"}
    with Session(engine) as session:
        cases = {case.id: case for case in session.scalars(select(Case))}
        gone = cases[ids["old_closed"]]
        assert (gone.contact_name, gone.company_name, gone.description) == (ANONYMISED,) * 3
        assert (gone.org_number, gone.contact_email, gone.contact_phone) == (None, None, None)
        assert gone.topic == "permit" and gone.closed_at is not None  # statistics stay
        assert cases[ids["recently_closed"]].contact_email == "kim@foretag.se"
        assert cases[ids["old_open"]].contact_name == "Kim Kund"
        events = list(
            session.scalars(select(CaseEvent).where(CaseEvent.case_id == ids["old_closed"]))
        )
    assert [e.kind for e in events][-1] == "anonymised"
    assert events[-1].actor == "retention"
    assert all("Kim" not in (e.note or "") for e in events)
    again = run_retention(engine, tracker, 30, 12, now=NOW)
    assert (again.conversations_deleted, again.cases_anonymised) == (0, 0)


def test_negative_periods_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError):
        run_retention(engine, None, -1, 12)


def test_cli_retention_dry_run_reports_counts(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    tracker_path = tmp_path / "tracker.db"
    make_tracker(tracker_path, {"old": NOW - dt.timedelta(days=400)}).dispose()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tracker_path}")
    assert main(["retention", "--conversation-days", "30", "--case-months", "12", "--dry-run"]) == 0
    assert "1 conversations without a case would be deleted" in capsys.readouterr().out
    assert main(["retention", "--conversation-days", "30", "--case-months", "12"]) == 0
    assert "1 conversations without a case were deleted" in capsys.readouterr().out
    with sqlite3.connect(tracker_path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)
