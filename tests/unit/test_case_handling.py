"""Tests for the officials' side of bot.cases: scope, filters, actions, response times."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update
from sqlalchemy.engine import Engine

from bot.accounts import UserRecord, UserRepository
from bot.cases import (
    ALL_CASES,
    CaseActionError,
    CaseNotFoundError,
    CaseQuery,
    CaseRecord,
    CaseRepository,
    CaseScope,
    NewCase,
)
from bot.models import Case
from bot.privacy import MASK
from bot.worktime import STOCKHOLM

UTC = dt.timezone.utc
MONDAY = dt.datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # 09:00 in Stockholm
BYGGLOV = CaseScope(frozenset({"bygglov"}))


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """Run these tests against SQLite and PostgreSQL."""
    return any_db_url


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)  # type: ignore[misc]


def new_case(key: str, **changes: object) -> NewCase:
    case = NewCase(
        idempotency_key=key,
        topic="permit",
        permit_type="bygglov",
        unit="bygglov",
        contact_name="Anna Andersson",
        company_name="Lotsby Bygg AB",
        description="Lagerhall",
        conversation_id=f"conv-{key}",
        contact_email="anna@foretag.se",
    )
    return dataclasses.replace(case, **changes)  # type: ignore[arg-type]


def add(
    repository: CaseRepository, key: str, at: dt.datetime = MONDAY, **changes: object
) -> CaseRecord:
    return repository.create(new_case(key, **changes), now=at)[0]


@pytest.fixture
def users(engine: Engine) -> UserRepository:
    return UserRepository(
        engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def anna(users: UserRepository) -> UserRecord:
    return users.create("anna@lotsby.se", "Anna Bygg", "official", "x" * 12, unit="bygglov")


def kinds(repository: CaseRepository, case_id: int) -> list[str]:
    return [event.kind for event in repository.events(case_id)]


# --- due times --------------------------------------------------------------------------


def test_a_new_case_gets_its_date_and_due_times(repository: CaseRepository) -> None:
    case = add(repository, "a")
    assert case.created_date == dt.date(2026, 3, 9)
    assert case.first_response_due_at == local(2026, 3, 11, 16, 30)  # permit: 2 working days
    assert case.resolution_due_at == local(2026, 3, 23, 16, 30)  # 10 working days


def test_backfill_computes_due_times_of_older_cases(
    repository: CaseRepository, engine: Engine
) -> None:
    case = add(repository, "a")
    with engine.begin() as connection:
        connection.execute(
            update(Case).values(
                created_date=None, first_response_due_at=None, resolution_due_at=None
            )
        )
    assert repository.backfill_due_times(batch=1) == 1
    assert repository.get(case.id, ALL_CASES) == case
    assert repository.backfill_due_times() == 0


def test_breach_and_overdue_are_judged_against_the_due_times(repository: CaseRepository) -> None:
    case = add(repository, "a")
    due = case.first_response_due_at
    assert due is not None
    before, after = due - dt.timedelta(minutes=1), due + dt.timedelta(minutes=1)
    assert not case.first_response_breached(before) and not case.is_overdue(before)
    assert case.first_response_breached(after) and case.is_overdue(after)
    answered_late = repository.record_first_response(
        case.id, ALL_CASES, "phone", "", "a@x.se", after
    )
    later = after + dt.timedelta(days=1)
    assert answered_late.first_response_breached(later)
    assert not answered_late.is_overdue(later)  # nothing left to wait for until resolution


# --- actions --------------------------------------------------------------------------------


def test_each_action_appends_an_event_with_actor_and_time(
    repository: CaseRepository, anna: UserRecord
) -> None:
    case = add(repository, "a")
    tuesday = local(2026, 3, 10, 10, 0)
    assigned = repository.assign(case.id, BYGGLOV, anna.id, "chef@lotsby.se", tuesday)
    assert (assigned.status, assigned.assigned_to) == ("assigned", anna.id)
    answered = repository.record_first_response(
        case.id, BYGGLOV, "email", "Skickade blankett", "anna@lotsby.se", tuesday
    )
    assert answered.status == "answered"
    assert answered.first_response_channel == "email"
    assert answered.first_response_seconds == 8 * 3600 + 30 * 60 + 3600  # Mon 09-16:30, Tue 08-10
    repository.add_note(case.id, BYGGLOV, "Ringde igen", "anna@lotsby.se", tuesday)
    closed = repository.close(case.id, BYGGLOV, "anna@lotsby.se", "Klart", tuesday)
    assert (closed.status, closed.closed_at) == ("closed", tuesday)
    reopened = repository.reopen(case.id, BYGGLOV, "anna@lotsby.se", "Fler frågor", tuesday)
    assert (reopened.status, reopened.closed_at, reopened.resolution_seconds) == (
        "answered",
        None,
        None,
    )

    events = repository.events(case.id)
    assert [e.kind for e in events] == [
        "created",
        "assigned",
        "answered",
        "noted",
        "closed",
        "reopened",
    ]
    assert [e.actor for e in events[1:]] == ["chef@lotsby.se"] + ["anna@lotsby.se"] * 4
    assert all(e.created_at == tuesday for e in events[1:])
    assert events[1].note == "Tilldelat Anna Bygg"
    assert events[2].note == "email: Skickade blankett"


def test_a_refused_action_appends_no_event(repository: CaseRepository) -> None:
    case = add(repository, "a")
    with pytest.raises(CaseActionError):
        repository.reopen(case.id, ALL_CASES, "a@x.se")
    with pytest.raises(CaseActionError):
        repository.record_first_response(case.id, ALL_CASES, "fax", "", "a@x.se")
    with pytest.raises(CaseActionError):
        repository.add_note(case.id, ALL_CASES, "  ", "a@x.se")
    repository.close(case.id, ALL_CASES, "a@x.se")
    with pytest.raises(CaseActionError):
        repository.close(case.id, ALL_CASES, "a@x.se")
    with pytest.raises(CaseActionError):
        repository.record_first_response(case.id, ALL_CASES, "phone", "", "a@x.se")
    assert kinds(repository, case.id) == ["created", "closed"]


def test_a_second_first_response_is_refused(repository: CaseRepository) -> None:
    case = add(repository, "a")
    repository.record_first_response(case.id, ALL_CASES, "phone", "", "a@x.se")
    with pytest.raises(CaseActionError):
        repository.record_first_response(case.id, ALL_CASES, "phone", "", "a@x.se")


def test_assign_only_to_an_active_official_of_the_cases_unit(
    repository: CaseRepository, users: UserRepository
) -> None:
    case = add(repository, "a")
    miljo = users.create("mats@lotsby.se", "Mats", "official", "x" * 12, unit="miljo")
    trainer = users.create("tove@lotsby.se", "Tove", "trainer", "x" * 12)
    for user_id in (miljo.id, trainer.id, 999):
        with pytest.raises(CaseActionError):
            repository.assign(case.id, ALL_CASES, user_id, "a@x.se")
    admin = users.create("ada@lotsby.se", "Ada", "admin", "x" * 12)
    assert repository.assign(case.id, ALL_CASES, admin.id, "a@x.se").assigned_to == admin.id
    assert repository.assignee_name(repository.get(case.id, ALL_CASES)) == "Ada"  # type: ignore[arg-type]


def test_notes_are_masked(repository: CaseRepository) -> None:
    case = add(repository, "a")
    repository.add_note(case.id, ALL_CASES, "Pnr 19900101-0017", "a@x.se")
    assert repository.events(case.id)[-1].note == f"Pnr {MASK}"


def test_actions_and_reads_outside_the_scope_are_not_found(repository: CaseRepository) -> None:
    case = add(repository, "a", unit="miljo", topic="permit", permit_type="livsmedelsregistrering")
    assert repository.get(case.id, BYGGLOV) is None
    assert repository.get(case.id, CaseScope(frozenset())) is None
    with pytest.raises(CaseNotFoundError):
        repository.add_note(case.id, BYGGLOV, "hej", "a@x.se")
    with pytest.raises(CaseNotFoundError):
        repository.close(case.id + 100, ALL_CASES, "a@x.se")
    assert kinds(repository, case.id) == ["created"]


# --- list ---------------------------------------------------------------------------------


@pytest.fixture
def listed(repository: CaseRepository) -> list[CaseRecord]:
    return [
        add(repository, "a", company_name="Alfa Bygg AB", at=MONDAY),
        add(
            repository,
            "b",
            company_name="Beta Café HB",
            at=MONDAY + dt.timedelta(days=1),
            topic="start_business",
            unit="naringsliv",
            permit_type=None,
        ),
        add(
            repository,
            "c",
            company_name="100%_Gamma",
            at=MONDAY + dt.timedelta(days=2),
            permit_type="skyltlov",
        ),
        add(
            repository,
            "d",
            company_name="Delta AB",
            at=MONDAY + dt.timedelta(days=14),
            unit="miljo",
            permit_type="livsmedelsregistrering",
        ),
    ]


def refs(
    repository: CaseRepository,
    now: dt.datetime = MONDAY,
    scope: CaseScope = ALL_CASES,
    **query: object,
) -> list[str]:
    page = repository.find(CaseQuery(**query), scope, now)  # type: ignore[arg-type]
    return [case.company_name for case in page.items]


def test_list_filters(repository: CaseRepository, listed: list[CaseRecord]) -> None:
    assert refs(repository, unit="naringsliv") == ["Beta Café HB"]
    assert refs(repository, topic="permit", sort="oldest") == [
        "Alfa Bygg AB",
        "100%_Gamma",
        "Delta AB",
    ]
    assert refs(repository, permit_type="skyltlov") == ["100%_Gamma"]
    assert refs(
        repository, date_from=dt.date(2026, 3, 10), date_to=dt.date(2026, 3, 11), sort="oldest"
    ) == [
        "Beta Café HB",
        "100%_Gamma",
    ]
    repository.close(listed[0].id, ALL_CASES, "a@x.se")
    assert refs(repository, status="closed") == ["Alfa Bygg AB"]
    assert refs(repository, scope=BYGGLOV) == ["100%_Gamma", "Alfa Bygg AB"]


def test_list_search_by_reference_or_company_treats_wildcards_literally(
    repository: CaseRepository, listed: list[CaseRecord]
) -> None:
    assert refs(repository, search=listed[1].reference.lower()) == ["Beta Café HB"]
    assert refs(repository, search="bygg") == ["Alfa Bygg AB"]
    assert refs(repository, search="%_") == ["100%_Gamma"]
    assert refs(repository, search="_") == ["100%_Gamma"]


def test_list_overdue_filter(repository: CaseRepository, listed: list[CaseRecord]) -> None:
    thursday_evening = local(2026, 3, 12, 18, 0)
    # Alfa (Mon, permit, due Wed) and Beta (Tue, 1 day, due Wed) are late; Gamma is due Fri.
    assert refs(repository, now=thursday_evening, overdue=True, sort="oldest") == [
        "Alfa Bygg AB",
        "Beta Café HB",
    ]
    repository.record_first_response(listed[0].id, ALL_CASES, "phone", "", "a@x.se")
    assert refs(repository, now=thursday_evening, overdue=True) == ["Beta Café HB"]


def test_list_sorting_and_paging(repository: CaseRepository, listed: list[CaseRecord]) -> None:
    assert refs(repository, sort="company") == [
        "100%_Gamma",
        "Alfa Bygg AB",
        "Beta Café HB",
        "Delta AB",
    ]
    page = repository.find(CaseQuery(sort="oldest", per_page=3, page=2), ALL_CASES, MONDAY)
    assert (page.total, page.pages, page.page) == (4, 2, 2)
    assert [case.company_name for case in page.items] == ["Delta AB"]
    beyond = repository.find(CaseQuery(per_page=3, page=99), ALL_CASES, MONDAY)
    assert beyond.page == 2


def test_stream_yields_every_matching_case(
    repository: CaseRepository, listed: list[CaseRecord]
) -> None:
    streamed = list(repository.stream(CaseQuery(topic="permit"), ALL_CASES, MONDAY, batch=1))
    assert [case.id for case in streamed] == [listed[0].id, listed[2].id, listed[3].id]


# --- due soon -----------------------------------------------------------------------------


def test_due_soon_lists_open_due_times_within_the_window(
    repository: CaseRepository, listed: list[CaseRecord]
) -> None:
    wednesday_noon = local(2026, 3, 11, 12, 0)
    soon = repository.due_soon(wednesday_noon, 6)
    assert [(item.case.company_name, item.what) for item in soon] == [
        ("Alfa Bygg AB", "first_response"),
        ("Beta Café HB", "first_response"),
    ]
    repository.record_first_response(listed[0].id, ALL_CASES, "phone", "", "a@x.se")
    repository.close(listed[1].id, ALL_CASES, "a@x.se")
    assert repository.due_soon(wednesday_noon, 6) == []
    assert repository.due_soon(wednesday_noon, 1) == []
