"""Tests for bot.person_data and ``lotsen person``: one person's export and erasure, audited."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import cli
from bot.accounts import UserRepository
from bot.cases import ALL_CASES, CaseRepository, NewCase
from bot.dashboard import FigureQuery, FigureRepository
from bot.db import get_engine
from bot.models import InboxMessage, PersonRequest
from bot.person_data import ERASURE_NOTE, PersonDataError, PersonDataService, Subject
from bot.retention import ANONYMISED
from bot.services import case_repository

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
KEY = b"test-key"
EMAIL = "kim@foretag.se"
PHONE = "0701234567"


def make_tracker(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL,"
            " type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255),"
            " action_name VARCHAR(255), data TEXT)"
        )
    return f"sqlite:///{path}"


def add_event(url: str, sender: str, type_name: str, **data: object) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            (sender, type_name, NOW.timestamp(), json.dumps({"event": type_name, **data})),
        )


def tracker_senders(url: str) -> set[str]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return {row[0] for row in connection.execute("SELECT sender_id FROM events")}


def new_case(repository: CaseRepository, key: str, **changes: object) -> int:
    values: dict[str, object] = {
        "idempotency_key": key,
        "topic": "permit",
        "permit_type": "bygglov",
        "unit": "bygglov",
        "contact_name": "Kim Kund",
        "company_name": "Kims Firma",
        "org_number": "556016-0680",
        "description": "Vi vill bygga ut verkstaden.",
        "conversation_id": f"conv-{key}",
        "contact_email": EMAIL,
        "contact_phone": None,
    }
    values.update(changes)
    case, _ = repository.create(NewCase(**values), now=NOW - dt.timedelta(days=3))  # type: ignore[arg-type]
    return case.id


def add_inbox_item(engine: Engine, sender: str, text: str) -> None:
    with Session(engine) as session, session.begin():
        session.add(
            InboxMessage(
                message_key=f"{sender}-{text}"[:64],
                sender_id=sender,
                text=text,
                shape=text,
                shape_key="k" * 32,
                reason="fallback",
                received_at=NOW,
            )
        )


@pytest.fixture
def tracker_url(tmp_path: Path) -> str:
    return make_tracker(tmp_path / "tracker.db")


@pytest.fixture
def service(engine: Engine, tracker_url: str) -> PersonDataService:
    return PersonDataService(engine, tracker_url, KEY, now=lambda: NOW)


@pytest.fixture
def stored(repository: CaseRepository, engine: Engine, tracker_url: str) -> dict[str, int]:
    """Kim's two cases (one by e-mail, one by phone), a cancelled form, and someone else."""
    ids = {
        "by_email": new_case(repository, "a", contact_email="Kim@Foretag.se"),
        "by_phone": new_case(
            repository, "b", contact_email=None, contact_phone="070-123 45 67", unit="miljo"
        ),
        "other": new_case(repository, "c", contact_email="eva@annat.se", contact_name="Eva"),
    }
    repository.add_note(ids["by_email"], ALL_CASES, "Kim vill ha svar före jul", "anna", now=NOW)
    repository.record_first_response(ids["by_email"], ALL_CASES, "phone", "Ringt", "anna", NOW)
    for sender in ("conv-a", "conv-b", "conv-c"):
        add_event(tracker_url, sender, "user", text=f"Hej från {sender}")
        add_event(tracker_url, sender, "bot", text="Vad kan jag hjälpa dig med?")
    # A contact form cancelled after the phone number: no case, but Kim's number is stored.
    add_event(tracker_url, "conv-cancelled", "user", text="+46 70-123 45 67")
    add_event(tracker_url, "conv-cancelled", "slot", name="contact", value="+46 70-123 45 67")
    add_event(tracker_url, "conv-cancelled", "slot", name="contact_phone", value=PHONE)
    # Someone whose number shares digits with Kim's but is not Kim's.
    add_event(tracker_url, "conv-near", "slot", name="contact_phone", value="0701234568")
    add_inbox_item(engine, "conv-a", "vad kostar [e-post] bygglov")
    add_inbox_item(engine, "conv-c", "Evas fråga")
    return ids


def test_subject_parses_and_normalises_like_the_contact_form() -> None:
    assert Subject.parse(" Kim@Foretag.SE ", "") == Subject(EMAIL, None)
    assert Subject.parse(None, "+46 70-123 45 67") == Subject(None, PHONE)
    assert Subject.parse(EMAIL, "070 123 45 67") == Subject(EMAIL, PHONE)


@pytest.mark.parametrize(
    ("email", "phone", "message"),
    [
        ("", "", "e-postadress eller telefonnummer"),
        (None, "   ", "e-postadress eller telefonnummer"),
        ("kim at foretag", "", "giltig e-postadress"),
        ("x kim@foretag.se y", "", "giltig e-postadress"),
        ("'; DROP TABLE cases; --", "", "giltig e-postadress"),
        ("", "12", "giltigt telefonnummer"),
        ("", "<script>alert(1)</script>", "giltigt telefonnummer"),
    ],
)
def test_subject_refuses_what_is_not_an_address_or_number(
    email: str | None, phone: str | None, message: str
) -> None:
    with pytest.raises(PersonDataError, match=message):
        Subject.parse(email, phone)


def test_subject_is_masked_and_hashed_without_the_clear_values() -> None:
    subject = Subject(EMAIL, PHONE)
    assert subject.masked() == "k***@foretag.se, 070*****67"
    digest = subject.digest(KEY)
    assert len(digest) == 64 and EMAIL not in digest and PHONE not in digest
    assert digest == Subject(EMAIL, PHONE).digest(KEY) != subject.digest(b"other-key")
    assert digest != Subject(EMAIL, None).digest(KEY)


def test_find_matches_cases_conversations_and_inbox_items_of_the_person(
    service: PersonDataService, stored: dict[str, int]
) -> None:
    match = service.find(Subject(EMAIL, PHONE))
    assert [case.id for case in match.cases] == [stored["by_email"], stored["by_phone"]]
    assert set(match.conversation_ids) == {"conv-a", "conv-b", "conv-cancelled"}
    assert match.inbox_items == 1
    assert not match.staff_account
    only_phone = service.find(Subject(None, PHONE))
    assert [case.id for case in only_phone.cases] == [stored["by_phone"]]
    assert set(only_phone.conversation_ids) == {"conv-b", "conv-cancelled"}
    nobody = service.find(Subject("ingen@nowhere.se", None))
    assert nobody.empty


def test_an_officials_account_with_the_same_email_is_named_but_not_matched(
    service: PersonDataService, stored: dict[str, int], engine: Engine
) -> None:
    UserRepository(engine).create(EMAIL, "Kim Kund", "official", "ett-långt-lösenord", "bygglov")
    match = service.find(Subject(EMAIL, None))
    assert match.staff_account
    document = service.export(Subject(EMAIL, None), "admin@lotsby.se")
    assert any("personaluppgifter" in note for note in document["notes"])
    service.erase(Subject(EMAIL, None), "admin@lotsby.se")
    assert UserRepository(engine).all()[0].email == EMAIL  # the account is kept


def test_export_holds_the_cases_events_transcripts_and_inbox_items(
    service: PersonDataService, stored: dict[str, int], engine: Engine
) -> None:
    document = service.export(Subject(EMAIL, PHONE), "admin@lotsby.se")
    json.dumps(document)  # JSON-ready
    assert document["subject"] == {"email": EMAIL, "phone": PHONE}
    cases = {case["reference"]: case for case in document["cases"]}
    assert len(cases) == 2
    first = document["cases"][0]
    assert first["contact_name"] == "Kim Kund" and first["description"].startswith("Vi vill")
    assert [event["kind"] for event in first["events"]] == ["created", "noted", "answered"]
    assert "Kim vill ha svar före jul" in [event["note"] for event in first["events"]]
    assert all("actor" not in event for event in first["events"])  # staff data
    conversations = {item["conversation_id"]: item for item in document["conversations"]}
    assert set(conversations) == {"conv-a", "conv-b", "conv-cancelled"}
    assert conversations["conv-a"]["messages"][0]["text"] == "Hej från conv-a"
    assert [item["text"] for item in document["inbox_items"]] == ["vad kostar [e-post] bygglov"]
    assert "Eva" not in json.dumps(document)


def test_export_and_erasure_are_audited_without_the_contact_in_clear(
    service: PersonDataService, stored: dict[str, int], engine: Engine
) -> None:
    subject = Subject(EMAIL, PHONE)
    service.export(subject, "admin@lotsby.se")
    service.erase(subject, "admin@lotsby.se")
    log = service.audit_log()
    assert [row.kind for row in log] == ["erase", "export"]
    erase, export = log
    assert erase.actor == export.actor == "admin@lotsby.se"
    assert erase.subject_hash == export.subject_hash == subject.digest(KEY)
    assert (erase.cases, erase.conversations, erase.inbox_items) == (2, 3, 1)
    assert erase.tracker_events == 7
    assert len(erase.references) == 2 and erase.references[0].startswith("NL-")
    assert [row.kind for row in service.audit_log(subject=subject)] == ["erase", "export"]
    assert service.audit_log(subject=Subject("eva@annat.se", None)) == []
    with engine.connect() as connection:
        stored_audit = " ".join(
            str(value) for row in connection.execute(select(PersonRequest)) for value in row
        )
    for clear in (EMAIL, PHONE, "123 45 67", "Kim"):
        assert clear not in stored_audit


def test_erasure_anonymises_cases_deletes_conversations_and_keeps_the_figures(
    service: PersonDataService,
    stored: dict[str, int],
    repository: CaseRepository,
    engine: Engine,
    tracker_url: str,
) -> None:
    figures = FigureRepository(engine)
    query = FigureQuery(period="month", grouping="unit")
    before = figures.figures(query, ALL_CASES, NOW, None)
    result = service.erase(Subject(EMAIL, PHONE), "admin@lotsby.se")
    assert (result.cases_anonymised, result.conversations, result.inbox_items) == (2, 3, 1)
    for key in ("by_email", "by_phone"):
        case = repository.get(stored[key], ALL_CASES)
        assert case is not None
        assert case.contact_name == case.company_name == case.description == ANONYMISED
        assert case.contact_email is None and case.contact_phone is None
        assert case.org_number is None
        events = repository.events(case.id)
        assert events[-1].kind == "anonymised" and events[-1].actor == "admin@lotsby.se"
        assert events[-1].note == ERASURE_NOTE
        assert all(event.note is None for event in events[:-1])
    other = repository.get(stored["other"], ALL_CASES)
    assert other is not None and other.contact_email == "eva@annat.se"
    assert tracker_senders(tracker_url) == {"conv-c", "conv-near"}
    with Session(engine) as session:
        assert list(session.scalars(select(InboxMessage.sender_id))) == ["conv-c"]
    after = figures.figures(query, ALL_CASES, NOW, None)
    assert (after.rows, after.totals, after.overall) == (before.rows, before.totals, before.overall)
    assert service.find(Subject(EMAIL, PHONE)).empty  # nothing left to find


def test_erasure_without_a_tracker_store_still_anonymises(
    engine: Engine, repository: CaseRepository, tmp_path: Path
) -> None:
    case_id = new_case(repository, "a")
    service = PersonDataService(engine, f"sqlite:///{tmp_path / 'missing.db'}", KEY)
    result = service.erase(Subject(EMAIL, None), "admin@lotsby.se")
    assert result.cases_anonymised == 1 and result.tracker_events == 0
    case = repository.get(case_id, ALL_CASES)
    assert case is not None and case.contact_email is None


# --- lotsen person ------------------------------------------------------------------------


@pytest.fixture
def configured(
    db_url: str, tracker_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_STORE_URL", tracker_url)
    monkeypatch.setenv("LOTSEN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LOTSEN_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    case_repository.cache_clear()
    yield
    case_repository.cache_clear()
    get_engine.cache_clear()


@pytest.mark.usefixtures("configured")
def test_cli_exports_to_a_private_file_and_erases_only_with_yes(
    stored: dict[str, int],
    repository: CaseRepository,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "kim.json"
    assert cli.main(["person", "export", "--email", EMAIL, "--out", str(out)]) == 0
    assert os.stat(out).st_mode & 0o777 == 0o600
    document = json.loads(out.read_text(encoding="utf-8"))
    assert len(document["cases"]) == 1 and document["subject"]["email"] == EMAIL
    assert "Exported 1 cases" in capsys.readouterr().out

    assert cli.main(["person", "erase", "--phone", "070-123 45 67"]) == 1
    dry = capsys.readouterr().out
    assert "Would erase 1 cases" in dry and "--yes" in dry
    case = repository.get(stored["by_phone"], ALL_CASES)
    assert case is not None and case.contact_phone == "070-123 45 67"

    assert cli.main(["person", "erase", "--phone", "070-123 45 67", "--yes"]) == 0
    assert "1 cases anonymised" in capsys.readouterr().out
    case = repository.get(stored["by_phone"], ALL_CASES)
    assert case is not None and case.contact_phone is None
    log = PersonDataService(get_engine(os.environ["DATABASE_URL"]), "", b"").audit_log()
    assert [row.kind for row in log] == ["erase", "export"]
    assert all(row.actor.startswith("cli:") for row in log)


@pytest.mark.usefixtures("configured")
def test_cli_refuses_a_missing_or_invalid_contact(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["person", "export"]) == 2
    assert cli.main(["person", "erase", "--email", "inte en adress", "--yes"]) == 2
    assert "giltig e-postadress" in capsys.readouterr().err
