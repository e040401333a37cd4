"""Tests for bot.cases: the case log creates each case exactly once and reads it back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.cases import CaseRecord, CaseRepository, NewCase, format_reference
from bot.db import create_db_engine, migrate
from bot.models import Case, CaseEvent
from bot.privacy import MASK

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
THREADS = 8


def new_case(key: str = "conv-1:1767225600.000000", **changes: Any) -> NewCase:
    case = NewCase(
        idempotency_key=key,
        topic="permit",
        permit_type="bygglov",
        unit="bygglov",
        contact_name="Anna Andersson",
        company_name="Lotsby Bygg AB",
        org_number="556016-0680",
        contact_email="anna@foretag.se",
        contact_phone="0701234567",
        description="Vi vill bygga en lagerhall på 500 m².",
        conversation_id="conv-1",
    )
    return dataclasses.replace(case, **changes)


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def run_in_threads(work: Any, threads: int = THREADS) -> tuple[list[Any], list[BaseException]]:
    """Run work(index) in threads that start together; collect results and errors."""
    start = threading.Barrier(threads, timeout=30)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def target(index: int) -> None:
        start.wait()
        try:
            result = work(index)
        except BaseException as error:  # collected and asserted on in the test
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(result)

    pool = [threading.Thread(target=target, args=(index,)) for index in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in pool), "a thread hung"
    return results, errors


# --- references --------------------------------------------------------------------------


def test_format_reference_pads_the_sequence_to_four_digits() -> None:
    assert format_reference(2026, 42) == "NL-2026-0042"
    assert format_reference(2026, 12345) == "NL-2026-12345"


def test_create_returns_nl_year_sequence_references(repository: CaseRepository) -> None:
    first, created = repository.create(new_case("a"), now=NOW)
    second, _ = repository.create(new_case("b"), now=NOW)
    assert created is True
    assert first.reference == "NL-2026-0001"
    assert second.reference == "NL-2026-0002"
    assert all(re.fullmatch(r"NL-\d{4}-\d{4,}", c.reference) for c in (first, second))


def test_sequence_restarts_in_a_new_year(repository: CaseRepository) -> None:
    repository.create(new_case("a"), now=dt.datetime(2026, 12, 30, 12, tzinfo=UTC))
    repository.create(new_case("b"), now=dt.datetime(2026, 12, 30, 13, tzinfo=UTC))
    new_year, _ = repository.create(new_case("c"), now=dt.datetime(2027, 1, 2, 9, tzinfo=UTC))
    back_in_2026, _ = repository.create(new_case("d"), now=dt.datetime(2026, 12, 31, 9, tzinfo=UTC))
    assert new_year.reference == "NL-2027-0001"
    assert back_in_2026.reference == "NL-2026-0003"


def test_reference_year_is_the_swedish_calendar_year(repository: CaseRepository) -> None:
    case, _ = repository.create(new_case("a"), now=dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert case.reference == "NL-2027-0001"


def test_create_stores_the_fields_and_an_aware_utc_timestamp(
    repository: CaseRepository,
) -> None:
    case, _ = repository.create(new_case(), now=NOW)
    assert isinstance(case, CaseRecord)
    assert (case.topic, case.permit_type, case.unit) == ("permit", "bygglov", "bygglov")
    assert (case.contact_email, case.contact_phone) == ("anna@foretag.se", "0701234567")
    assert case.status == "open"
    assert case.created_at == NOW
    assert case.created_at.utcoffset() == dt.timedelta(0)
    assert repository.get_by_reference(case.reference) == case


# --- idempotency -------------------------------------------------------------------------


def test_retried_create_returns_the_same_case(repository: CaseRepository, engine: Engine) -> None:
    first, first_created = repository.create(new_case("same"), now=NOW)
    again, again_created = repository.create(
        new_case("same", description="Ett annat försök"), now=NOW + dt.timedelta(minutes=1)
    )
    assert (first_created, again_created) == (True, False)
    assert again == first
    assert count(engine, Case) == 1
    assert [e.kind for e in repository.events(first.id)] == ["created"]
    assert count(engine, CaseEvent) == 1


def test_get_by_idempotency_key_finds_the_case(repository: CaseRepository) -> None:
    case, _ = repository.create(new_case("key-1"), now=NOW)
    assert repository.get_by_idempotency_key("key-1") == case
    assert repository.get_by_idempotency_key("key-2") is None


# --- personal data -----------------------------------------------------------------------


def test_personnummer_in_the_description_is_masked_in_the_database(
    repository: CaseRepository, engine: Engine
) -> None:
    case, _ = repository.create(
        new_case(description="Mitt personnummer är 19900101-0017, ring mig."), now=NOW
    )
    with engine.connect() as connection:
        stored = connection.execute(select(Case.description).where(Case.id == case.id)).scalar_one()
    assert stored == f"Mitt personnummer är {MASK}, ring mig."
    assert "0017" not in stored
    assert case.description == stored


# --- reading -----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["NL-2026-0001", "nl-2026-0001", "  Nl-2026-0001 "])
def test_get_by_reference_ignores_case_and_spaces(repository: CaseRepository, typed: str) -> None:
    case, _ = repository.create(new_case(), now=NOW)
    assert repository.get_by_reference(typed) == case


def test_get_by_reference_returns_none_for_an_unknown_reference(
    repository: CaseRepository,
) -> None:
    repository.create(new_case(), now=NOW)
    assert repository.get_by_reference("NL-2026-0002") is None
    assert repository.get_by_reference("") is None


def test_events_are_listed_oldest_first(repository: CaseRepository, engine: Engine) -> None:
    case, _ = repository.create(new_case(), now=NOW)
    other, _ = repository.create(new_case("other"), now=NOW)
    with Session(engine, future=True) as session, session.begin():
        for minutes, kind in ((5, "assigned"), (30, "answered"), (60, "closed")):
            session.add(
                CaseEvent(
                    case_id=case.id,
                    kind=kind,
                    actor="handlaggare",
                    note=None,
                    created_at=NOW + dt.timedelta(minutes=minutes),
                )
            )
    events = repository.events(case.id)
    assert [e.kind for e in events] == ["created", "assigned", "answered", "closed"]
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    assert all(e.case_id == case.id for e in events)
    assert events[0].actor == "bot"
    assert [e.kind for e in repository.events(other.id)] == ["created"]


# --- concurrency -------------------------------------------------------------------------


def test_concurrent_creates_with_the_same_key_store_exactly_one_case(
    repository: CaseRepository, engine: Engine
) -> None:
    results, errors = run_in_threads(lambda _index: repository.create(new_case("race"), now=NOW))
    assert errors == []
    assert len({case.reference for case, _created in results}) == 1
    assert sorted(created for _case, created in results) == [False] * (THREADS - 1) + [True]
    assert count(engine, Case) == 1
    assert count(engine, CaseEvent) == 1


def test_concurrent_creates_of_different_cases_get_distinct_references(
    repository: CaseRepository, engine: Engine
) -> None:
    # Worst case, made deterministic: every thread still trying has read max(sequence)
    # before any of them inserts (8 action-server replicas hit at the same moment).
    rounds = [threading.Barrier(THREADS - n, timeout=2) for n in range(THREADS)]
    local = threading.local()

    def lockstep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "max(cases.sequence)" not in statement:
            return
        attempt = getattr(local, "attempt", 0)
        local.attempt = attempt + 1
        if attempt < len(rounds):
            try:
                rounds[attempt].wait()
            except threading.BrokenBarrierError:
                pass  # the allocation is serialised some other way: nothing to line up

    event.listen(engine, "after_cursor_execute", lockstep)
    results, errors = run_in_threads(
        lambda index: repository.create(new_case(f"case-{index}"), now=NOW)
    )
    assert errors == []
    references = sorted(case.reference for case, _created in results)
    assert references == [format_reference(2026, n) for n in range(1, THREADS + 1)]
    assert count(engine, Case) == THREADS


# --- database failures -------------------------------------------------------------------


def test_a_removed_database_directory_raises_sqlalchemy_error(tmp_path: Path) -> None:
    directory = tmp_path / "gone"
    url = f"sqlite:///{directory / 'cases.db'}"
    migrate(url)
    engine = create_db_engine(url)
    repository = CaseRepository(engine)
    repository.create(new_case("before"), now=NOW)
    engine.dispose()
    shutil.rmtree(directory)
    try:
        with pytest.raises(SQLAlchemyError):
            repository.create(new_case("after"), now=NOW)
        with pytest.raises(SQLAlchemyError):
            repository.get_by_reference("NL-2026-0001")
    finally:
        engine.dispose()


def test_a_deleted_database_file_raises_sqlalchemy_error(
    repository: CaseRepository, engine: Engine, db_url: str
) -> None:
    repository.create(new_case("before"), now=NOW)
    engine.dispose()
    for path in Path(db_url.removeprefix("sqlite:///")).parent.iterdir():
        path.unlink()  # cases.db and its WAL files
    with pytest.raises(SQLAlchemyError):
        repository.create(new_case("after"), now=NOW)
