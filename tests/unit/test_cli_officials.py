"""Tests for the officials' commands of bot.cli: create-admin, create-user, due-soon, migrate."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from bot import cli
from bot.accounts import UserRepository
from bot.cases import NewCase
from bot.db import get_engine
from bot.models import utcnow
from bot.services import case_repository

PASSWORD = "ett-långt-lösenord"


@pytest.fixture(autouse=True)
def configured(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    case_repository.cache_clear()
    yield
    case_repository.cache_clear()
    get_engine.cache_clear()


def test_create_admin_reads_the_password_from_the_environment(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOTSEN_PASSWORD", PASSWORD)
    assert cli.main(["create-admin", "--email", "Ada@Lotsby.se", "--name", "Ada Admin"]) == 0
    output = capsys.readouterr()
    assert PASSWORD not in output.out + output.err
    result = UserRepository(engine).authenticate("ada@lotsby.se", PASSWORD, "127.0.0.1")
    assert result.user is not None and result.user.role == "admin"
    assert cli.main(["create-admin", "--email", "ada@lotsby.se"]) == 1  # taken


def test_create_user_checks_the_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOTSEN_PASSWORD", PASSWORD)
    assert cli.main(["create-user", "--email", "a@b.se", "--unit", "nope"]) == 2
    assert cli.main(["create-user", "--email", "a@b.se", "--unit", "bygglov"]) == 0


def test_create_admin_without_a_password_or_terminal_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOTSEN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli.main(["create-admin", "--email", "ada@lotsby.se"]) == 2


def add_case(key: str, created: dt.datetime) -> None:
    case_repository().create(
        NewCase(
            idempotency_key=key,
            topic="industrial_land",
            unit="naringsliv",
            contact_name="Kim",
            company_name="AB",
            description="x",
            conversation_id=key,
        ),
        now=created,
    )


def test_due_soon_prints_json_for_cases_falling_due(capsys: pytest.CaptureFixture[str]) -> None:
    add_case("now", utcnow())  # first response due within about three working days
    assert cli.main(["due-soon", "--hours", "200", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [item["due"] for item in listed] == ["first_response"]
    assert listed[0]["reference"].startswith("NL-")
    assert 0 < listed[0]["hours_left"] <= 200


def test_due_soon_with_nothing_due_says_so_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_case("old", utcnow() - dt.timedelta(days=60))  # already past every due time
    assert cli.main(["due-soon", "--hours", "1"]) == 0
    assert "No open case" in capsys.readouterr().out
    assert cli.main(["due-soon", "--hours", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_migrate_fills_in_due_times(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    assert "Database migrated." in capsys.readouterr().out
