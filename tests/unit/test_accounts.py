"""Tests for bot.accounts: argon2 hashes and login throttling stored in the database."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.accounts import AccountError, ThrottlePolicy, UserRepository, first_name
from bot.models import User

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
PASSWORD = "ett-långt-lösenord"
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
POLICY = ThrottlePolicy(account_failures=3, address_failures=5)


def repo(engine: Engine) -> UserRepository:
    return UserRepository(engine, hasher=FAST, policy=POLICY)


@pytest.fixture
def users(engine: Engine) -> UserRepository:
    repository = repo(engine)
    repository.create("Anna@Lotsby.se ", "Anna Bygg", "official", PASSWORD, unit="bygglov")
    return repository


def test_passwords_are_stored_as_argon2_hashes(users: UserRepository, engine: Engine) -> None:
    with engine.connect() as connection:
        stored = connection.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_with_the_right_password_any_case_email(users: UserRepository) -> None:
    result = users.authenticate("ANNA@lotsby.se", PASSWORD, "10.0.0.1", NOW)
    assert result.user is not None and result.user.first_name == "Anna"
    assert users.authenticate("anna@lotsby.se", "fel", "10.0.0.1", NOW).user is None


@pytest.mark.parametrize(
    ("email", "role", "password", "unit"),
    [
        ("utan-snabel-a", "admin", PASSWORD, None),
        ("a@b.se", "boss", PASSWORD, None),
        ("a@b.se", "official", PASSWORD, None),
        ("a@b.se", "admin", "kort", None),
        ("anna@lotsby.se", "admin", PASSWORD, None),
    ],
)
def test_invalid_accounts_are_refused(
    users: UserRepository, email: str, role: str, password: str, unit: str | None
) -> None:
    with pytest.raises(AccountError):
        users.create(email, "X", role, password, unit=unit)


def test_an_account_locks_after_repeated_failures_even_for_the_right_password(
    users: UserRepository, engine: Engine
) -> None:
    for attempt in range(3):
        result = users.authenticate("anna@lotsby.se", "fel", f"10.0.0.{attempt}", NOW)
    assert result.locked_until == NOW + POLICY.lockout
    locked = users.authenticate(
        "anna@lotsby.se", PASSWORD, "10.0.0.9", NOW + dt.timedelta(minutes=1)
    )
    assert locked.user is None and locked.locked_until is not None
    # The lockout is in the database: a restarted app (new repository) still refuses.
    assert repo(engine).authenticate("anna@lotsby.se", PASSWORD, "10.0.0.9", NOW).user is None
    after = NOW + POLICY.lockout + dt.timedelta(seconds=1)
    assert users.authenticate("anna@lotsby.se", PASSWORD, "10.0.0.9", after).user is not None


def test_an_address_locks_after_failures_on_many_accounts(users: UserRepository) -> None:
    for index in range(5):
        users.authenticate(f"nobody{index}@lotsby.se", "fel", "192.0.2.7", NOW)
    result = users.authenticate("anna@lotsby.se", PASSWORD, "192.0.2.7", NOW)
    assert result.user is None and result.locked_until is not None
    assert users.authenticate("anna@lotsby.se", PASSWORD, "192.0.2.8", NOW).user is not None


def test_failures_outside_the_window_start_a_new_count(users: UserRepository) -> None:
    for minutes in (0, 20, 40):
        result = users.authenticate(
            "anna@lotsby.se", "fel", "10.0.0.1", NOW + dt.timedelta(minutes=minutes)
        )
    assert result.locked_until is None


def test_a_successful_login_resets_the_account_count(users: UserRepository) -> None:
    users.authenticate("anna@lotsby.se", "fel", "10.0.0.1", NOW)
    users.authenticate("anna@lotsby.se", "fel", "10.0.0.1", NOW)
    assert users.authenticate("anna@lotsby.se", PASSWORD, "10.0.0.1", NOW).user is not None
    users.authenticate("anna@lotsby.se", "fel", "10.0.0.1", NOW)
    assert users.authenticate("anna@lotsby.se", PASSWORD, "10.0.0.1", NOW).user is not None


def test_assignable_lists_active_officials_of_the_unit_and_admins(users: UserRepository) -> None:
    users.create("mats@lotsby.se", "Mats Miljö", "official", PASSWORD, unit="miljo")
    users.create("ada@lotsby.se", "Ada Admin", "admin", PASSWORD)
    users.create("tove@lotsby.se", "Tove", "trainer", PASSWORD)
    assert [u.name for u in users.assignable("bygglov")] == ["Anna Bygg", "Ada Admin"]


def test_first_name() -> None:
    assert first_name("Anna Maria Bygg") == "Anna"
    assert first_name("Cher") == "Cher"
    assert first_name("") == ""
