"""Fixtures for the web-app tests: a migrated case log, a tracker store, accounts and a client."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sanic import Sanic
from sqlalchemy.engine import Engine

from bot.accounts import UserRecord, UserRepository
from bot.cases import CaseRecord, CaseRepository, NewCase
from bot.db import create_db_engine, migrate
from bot.settings import Settings
from bot.web.app import create_app

from .asgi import Client

PASSWORD = "rätt-lösenord-123"
UTC = dt.timezone.utc
_app_names = itertools.count()


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let several apps start in one process (Sanic rewrites its HTTP methods at startup)."""
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    db_url = f"sqlite:///{tmp_path / 'var' / 'cases.db'}"
    migrate(db_url)
    tracker = tmp_path / "var" / "tracker.db"
    with sqlite3.connect(tracker) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"
        )
    return Settings(
        database_url=db_url,
        tracker_store_url=f"sqlite:///{tracker}",
        var_dir=tmp_path / "var",
        models_dir=tmp_path / "models",
    )


def add_tracker_event(
    settings: Settings, sender_id: str, type_name: str, text: str, at: float
) -> None:
    path = settings.tracker_store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            (sender_id, type_name, at, json.dumps({"event": type_name, "text": text})),
        )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cases(engine: Engine) -> CaseRepository:
    return CaseRepository(engine)


@pytest.fixture
def users(engine: Engine) -> UserRepository:
    return UserRepository(
        engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def admin(users: UserRepository) -> UserRecord:
    return users.create("admin@lotsby.se", "Ada Admin", "admin", PASSWORD)


@pytest.fixture
def official(users: UserRepository) -> UserRecord:
    return users.create("anna@lotsby.se", "Anna Bygg", "official", PASSWORD, unit="bygglov")


@pytest.fixture
def other_official(users: UserRepository) -> UserRecord:
    return users.create("mats@lotsby.se", "Mats Miljö", "official", PASSWORD, unit="miljo")


@pytest.fixture
def trainer(users: UserRepository) -> UserRecord:
    return users.create("tove@lotsby.se", "Tove Tränare", "trainer", PASSWORD)


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Sanic:
    monkeypatch.delenv("LOTSEN_SECRET_KEY", raising=False)
    return create_app(settings, name=f"lotsen_test_{next(_app_names)}", login_delay=0)


@pytest.fixture
def client(app: Sanic) -> Client:
    return Client(app)


def make_case(
    cases: CaseRepository,
    key: str,
    unit: str = "bygglov",
    topic: str = "permit",
    company: str = "Lotsby Bygg AB",
    created: dt.datetime | None = None,
    **changes: object,
) -> CaseRecord:
    values: dict[str, object] = {
        "idempotency_key": key,
        "topic": topic,
        "permit_type": "bygglov" if topic == "permit" else None,
        "unit": unit,
        "contact_name": "Kim Kund",
        "company_name": company,
        "description": "Vi vill bygga en lagerhall.",
        "conversation_id": f"conv-{key}",
        "contact_email": "kim@foretag.se",
    }
    values.update(changes)
    case, _ = cases.create(NewCase(**values), now=created)  # type: ignore[arg-type]
    return case


async def login(client: Client, email: str, password: str = PASSWORD) -> None:
    page = await client.get("/handlaggare/logga-in")
    response = await client.post(
        "/handlaggare/logga-in",
        {"email": email, "password": password, "csrf_token": client.csrf(page)},
    )
    assert response.status == 303, response.text


async def csrf_for(client: Client, url: str = "/handlaggare/oversikt") -> str:
    return client.csrf(await client.get(url))
