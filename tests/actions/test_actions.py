"""Tests for actions/actions.py: every custom action run on JSON tracker fixtures."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import actions.actions as actions_module
from actions.actions import (
    ActionAnswerIndustrialLand,
    ActionAnswerPermit,
    ActionAnswerTopic,
    ActionCancelForm,
    ActionCaseStatus,
    ActionContactCentre,
    ActionDeclineOffer,
    ActionLogContact,
    ActionRequestHuman,
    ValidateCaseStatusForm,
    ValidateContactForm,
)
from bot.cases import CaseRecord, NewCase
from bot.db import create_db_engine, get_engine, migrate
from bot.intake import FORM_SLOTS, SKIPPED
from bot.knowledge import Knowledge, get_knowledge, load_knowledge
from bot.models import Case, CaseEvent
from bot.privacy import MASK
from bot.services import case_repository
from bot.worktime import STOCKHOLM, add_working_days, format_date_sv

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
UTC = dt.timezone.utc
OPEN_TUESDAY = dt.datetime(2026, 3, 10, 10, 0, tzinfo=STOCKHOLM)
CLOSED_SATURDAY = dt.datetime(2026, 3, 14, 10, 0, tzinfo=STOCKHOLM)
ACTION_CLASSES: tuple[type[Action], ...] = (
    ActionAnswerPermit,
    ActionAnswerIndustrialLand,
    ActionAnswerTopic,
    ActionRequestHuman,
    ActionContactCentre,
    ActionDeclineOffer,
    ActionCancelForm,
    ValidateContactForm,
    ValidateCaseStatusForm,
    ActionLogContact,
    ActionCaseStatus,
)


# --- helpers -----------------------------------------------------------------------------


@cache
def _fixture_text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


def load_state(name: str, **slots: Any) -> dict[str, Any]:
    """A fresh copy of a tracker fixture, with some slots changed."""
    state: dict[str, Any] = json.loads(_fixture_text(name))
    state["slots"].update(slots)
    return state


def set_intent(state: dict[str, Any], intent: str, confidence: float = 0.95) -> None:
    state["latest_message"]["intent"] = {"name": intent, "confidence": confidence}
    state["latest_message"]["intent_ranking"] = [{"name": intent, "confidence": confidence}]


def set_entities(state: dict[str, Any], **values: str) -> None:
    state["latest_message"]["entities"] = [
        {"entity": entity, "value": value, "start": 0, "end": len(value)}
        for entity, value in values.items()
    ]


async def run(
    action: Action, state: dict[str, Any], domain: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run an action like the action server does; return the messages and the events."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, Tracker.from_dict(copy.deepcopy(state)), domain)
    return dispatcher.messages, list(events)


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def responses(messages: list[dict[str, Any]]) -> list[str | None]:
    return [message["response"] for message in messages]


def stored_cases(url: str) -> list[Case]:
    """The rows of the case log, read directly from the database."""
    engine = create_db_engine(url)
    try:
        with Session(engine, future=True) as session:
            return list(session.execute(select(Case).order_by(Case.id)).scalars())
    finally:
        engine.dispose()


def count_events(url: str) -> int:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(CaseEvent)).scalar_one())
    finally:
        engine.dispose()


def reset_services() -> None:
    case_repository.cache_clear()
    get_engine.cache_clear()
    get_knowledge.cache_clear()


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point the action server's case log at another database."""
    monkeypatch.setenv("DATABASE_URL", url)
    reset_services()


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge(REPO / "knowledge")


@pytest.fixture(autouse=True)
def isolated_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never touch var/: the case log defaults to an unmigrated file under tmp_path."""
    monkeypatch.delenv("KNOWLEDGE_DIR", raising=False)
    monkeypatch.setenv("LOTSEN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'unused' / 'cases.db'}")
    reset_services()
    yield
    reset_services()


@pytest.fixture
def case_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated temporary case log that the actions use."""
    url = f"sqlite:///{tmp_path / 'db' / 'cases.db'}"
    migrate(url)
    use_database(monkeypatch, url)
    return url


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_now(moment: dt.datetime) -> None:
        monkeypatch.setattr(actions_module, "utcnow", lambda: moment.astimezone(UTC))

    return set_now


# --- the domain --------------------------------------------------------------------------


def test_every_action_is_declared_in_the_domain(domain: dict[str, Any]) -> None:
    names = {cls().name() for cls in ACTION_CLASSES}
    assert names == set(domain["actions"])


def test_every_response_the_actions_utter_is_in_the_domain(domain: dict[str, Any]) -> None:
    source = (REPO / "actions" / "actions.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(utter_[a-z_]+)"', source))
    assert used
    assert used <= set(domain["responses"])


def test_the_contact_centre_responses_have_phone_and_email_slots(domain: dict[str, Any]) -> None:
    for name in ("utter_bot_challenge", "utter_out_of_scope", "utter_default"):
        text = domain["responses"][name][0]["text"]
        assert "{phone}" in text
        assert "{email}" in text


# --- action_answer_permit ----------------------------------------------------------------


async def test_permit_with_type_answers_from_the_guide_and_offers_a_case(
    domain: dict[str, Any], knowledge: Knowledge
) -> None:
    messages, events = await run(ActionAnswerPermit(), load_state("ask_permit_bygglov"), domain)
    info = knowledge.permits["bygglov"]
    unit = knowledge.units["bygglov"]
    assert responses(messages) == [None, "utter_offer_case"]
    answer = messages[0]["text"]
    assert answer.startswith("Bygglov: ")
    assert info.what in answer
    assert info.submit[0] in answer
    assert unit.phone in answer
    assert info.link in answer
    assert slot_values(events) == {
        "topic": "permit",
        "permit_type": "bygglov",
        "offer_pending": True,
    }


async def test_permit_type_in_other_spelling_is_canonicalised(
    domain: dict[str, Any], knowledge: Knowledge
) -> None:
    state = load_state("ask_permit_bygglov")
    set_entities(state, permit_type="Serveringstillstånd")
    messages, events = await run(ActionAnswerPermit(), state, domain)
    assert slot_values(events)["permit_type"] == "serveringstillstand"
    assert knowledge.units["tillstand"].phone in messages[0]["text"]


@pytest.mark.parametrize("entities", [{}, {"permit_type": "fiskekort"}])
async def test_permit_without_known_type_asks_which_with_buttons(
    domain: dict[str, Any], entities: dict[str, str]
) -> None:
    state = load_state("ask_permit_without_type")
    set_entities(state, **entities)
    messages, events = await run(ActionAnswerPermit(), state, domain)
    assert responses(messages) == [None]
    assert "Vilket tillstånd" in messages[0]["text"]
    payloads = [button["payload"] for button in messages[0]["buttons"]]
    assert '/ask_permit{"permit_type":"bygglov"}' in payloads
    assert '/ask_permit{"permit_type":"serveringstillstand"}' in payloads
    assert slot_values(events) == {"topic": "permit", "permit_type": None, "offer_pending": False}


# --- action_answer_industrial_land -------------------------------------------------------


async def test_industrial_land_lists_plots_for_size_and_area_and_offers_a_visit(
    domain: dict[str, Any],
) -> None:
    messages, events = await run(
        ActionAnswerIndustrialLand(), load_state("ask_industrial_land"), domain
    )
    assert responses(messages) == [None, "utter_offer_site_visit"]
    text = messages[0]["text"]
    assert "Här är lediga tomter som passar (cirka 5 000 m², i södra hamnen)" in text
    assert "SHA-03" in text
    assert "SHA-01" in text
    assert "SHA-02" not in text  # reserved
    assert "NOR-01" not in text  # another area
    assert slot_values(events) == {
        "topic": "industrial_land",
        "permit_type": None,
        "offer_pending": True,
    }


async def test_industrial_land_without_entities_lists_available_plots(
    domain: dict[str, Any],
) -> None:
    state = load_state("ask_industrial_land")
    set_entities(state)
    state["latest_message"]["text"] = "finns det lediga tomter?"
    messages, _events = await run(ActionAnswerIndustrialLand(), state, domain)
    assert "Här är kommunens lediga tomter för verksamheter" in messages[0]["text"]


async def test_industrial_land_reads_a_size_with_unit_from_the_text_when_no_entity(
    domain: dict[str, Any],
) -> None:
    state = load_state("ask_industrial_land")
    set_entities(state)
    state["latest_message"]["text"] = "tomt nära E4 på ca 5000 kvm"
    messages, _events = await run(ActionAnswerIndustrialLand(), state, domain)
    assert "cirka 5 000 m²" in messages[0]["text"]


async def test_industrial_land_with_impossible_wishes_still_lists_plots(
    domain: dict[str, Any],
) -> None:
    state = load_state("ask_industrial_land")
    set_entities(state, plot_size="90 hektar", area="Månbasen")
    messages, _events = await run(ActionAnswerIndustrialLand(), state, domain)
    assert "Jag hittar ingen ledig tomt som passar" in messages[0]["text"]
    assert "NOR-01" in messages[0]["text"]


# --- action_answer_topic -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "topic", "unit"),
    [
        ("ask_skills_supply", "skills_supply", "kompetens"),
        ("start_business", "start_business", "naringsliv"),
    ],
)
async def test_topic_answer_explains_the_topic_and_offers_contact(
    domain: dict[str, Any], knowledge: Knowledge, fixture: str, topic: str, unit: str
) -> None:
    messages, events = await run(ActionAnswerTopic(), load_state(fixture), domain)
    assert responses(messages) == [None, "utter_offer_case"]
    assert knowledge.topics[topic].answer in messages[0]["text"]
    assert knowledge.units[unit].phone in messages[0]["text"]
    assert slot_values(events) == {"topic": topic, "permit_type": None, "offer_pending": True}


# --- action_request_human ----------------------------------------------------------------


async def test_request_human_when_open_gives_the_units_phone(
    domain: dict[str, Any], knowledge: Knowledge, fixed_now: Any
) -> None:
    fixed_now(OPEN_TUESDAY)
    messages, events = await run(ActionRequestHuman(), load_state("request_human"), domain)
    unit = knowledge.units["bygglov"]
    assert responses(messages) == [None, "utter_offer_callback"]
    assert f"{unit.name} har öppet nu. Ring {unit.phone}" in messages[0]["text"]
    assert slot_values(events) == {"topic": "permit", "offer_pending": True}


async def test_request_human_when_closed_says_when_they_open(
    domain: dict[str, Any], knowledge: Knowledge, fixed_now: Any
) -> None:
    fixed_now(CLOSED_SATURDAY)
    messages, _events = await run(ActionRequestHuman(), load_state("request_human"), domain)
    text = messages[0]["text"]
    assert "har stängt just nu" in text
    assert "De öppnar igen måndag 16 mars klockan 08:00" in text
    assert knowledge.units["bygglov"].email in text


async def test_request_human_without_topic_goes_to_the_contact_centre(
    domain: dict[str, Any], knowledge: Knowledge, fixed_now: Any
) -> None:
    fixed_now(OPEN_TUESDAY)
    state = load_state("request_human", topic=None, permit_type=None)
    messages, events = await run(ActionRequestHuman(), state, domain)
    assert knowledge.units["kontaktcenter"].phone in messages[0]["text"]
    assert slot_values(events)["topic"] == "other"


async def test_request_human_about_a_permit_goes_to_the_permits_unit(
    domain: dict[str, Any], knowledge: Knowledge, fixed_now: Any
) -> None:
    fixed_now(OPEN_TUESDAY)
    state = load_state("request_human", permit_type="brandfarlig_vara")
    messages, _events = await run(ActionRequestHuman(), state, domain)
    assert knowledge.units["raddning"].phone in messages[0]["text"]


# --- action_contact_centre ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "response"),
    [("bot_challenge", "utter_bot_challenge"), ("out_of_scope", "utter_out_of_scope")],
)
async def test_contact_centre_answers_honestly_with_phone_and_email(
    domain: dict[str, Any], fixture: str, response: str
) -> None:
    messages, events = await run(ActionContactCentre(), load_state(fixture), domain)
    assert len(messages) == 1
    assert messages[0]["response"] == response
    assert messages[0]["phone"] == "0123-45 67 00"
    assert messages[0]["email"] == "kontaktcenter@lotsby.se"
    assert slot_values(events) == {"offer_pending": False}


async def test_contact_centre_on_fallback_without_runner_up_says_it_did_not_understand(
    domain: dict[str, Any],
) -> None:
    state = load_state("nlu_fallback")
    set_intent(state, "nlu_fallback", 0.7)
    messages, _events = await run(ActionContactCentre(), state, domain)
    assert responses(messages) == ["utter_default"]
    assert messages[0]["phone"] == "0123-45 67 00"
    assert messages[0]["email"] == "kontaktcenter@lotsby.se"


async def test_contact_centre_on_fallback_says_it_did_not_understand(
    domain: dict[str, Any],
) -> None:
    messages, _events = await run(ActionContactCentre(), load_state("nlu_fallback"), domain)
    assert responses(messages) == ["utter_default"]


# --- action_decline_offer and action_cancel_form -----------------------------------------


async def test_decline_offer_registers_nothing_and_resets_the_form(
    domain: dict[str, Any], case_db: str
) -> None:
    messages, events = await run(ActionDeclineOffer(), load_state("deny_offer"), domain)
    assert responses(messages) == ["utter_no_case"]
    slots = slot_values(events)
    assert all(slots[name] is None for name in FORM_SLOTS)
    assert slots["offer_pending"] is False
    assert slots["save_failed"] is False
    assert stored_cases(case_db) == []


async def test_cancel_form_deactivates_the_loop_and_forgets_the_answers(
    domain: dict[str, Any], case_db: str
) -> None:
    messages, events = await run(ActionCancelForm(), load_state("cancel_form"), domain)
    assert responses(messages) == ["utter_form_cancelled"]
    assert {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e["name"]} for e in events if e["event"] == "active_loop"
    ]
    slots = slot_values(events)
    assert slots["requested_slot"] is None
    assert slots["contact_name"] is None
    assert slots["company_name"] is None
    assert slots["case_ref"] is None
    assert slots["status_contact"] is None
    assert slots["offer_pending"] is False
    assert stored_cases(case_db) == []


# --- validate_contact_form ---------------------------------------------------------------


def form_answer(slot: str, value: Any, intent: str = "inform") -> dict[str, Any]:
    """The contact form asked for `slot` and the user's answer is the newest slot candidate."""
    state = load_state("contact_form_in_progress", requested_slot=slot)
    set_intent(state, intent)
    state["latest_message"]["text"] = value if isinstance(value, str) else f"/{intent}"
    candidate = state["events"][-1]
    assert candidate["event"] == "slot"
    candidate.update(name=slot, value=value)
    return state


@pytest.mark.parametrize(
    ("slot", "value", "intent", "expected"),
    [
        ("contact_name", "Anna Andersson", "inform", {"contact_name": "Anna Andersson"}),
        ("company_name", "Lotsby Bygg AB", "inform", {"company_name": "Lotsby Bygg AB"}),
        ("company_name", "inget företag än", "inform", {"company_name": "inget företag än"}),
        ("org_number", "556016-0680", "inform", {"org_number": "556016-0680"}),
        ("org_number", "5560160680", "inform", {"org_number": "556016-0680"}),
        ("org_number", "hoppa över", "inform", {"org_number": SKIPPED}),
        ("org_number", "/deny", "deny", {"org_number": SKIPPED}),
        (
            "contact",
            "anna@foretag.se",
            "inform",
            {
                "contact": "anna@foretag.se",
                "contact_email": "anna@foretag.se",
                "contact_phone": None,
            },
        ),
        (
            "contact",
            "070-123 45 67",
            "inform",
            {"contact": "0701234567", "contact_email": None, "contact_phone": "0701234567"},
        ),
        (
            "description",
            "Vi vill bygga en lagerhall, mitt pnr är 900101-0017",
            "inform",
            {"description": f"Vi vill bygga en lagerhall, mitt pnr är {MASK}"},
        ),
        ("consent", True, "affirm", {"consent": True}),
        ("consent", False, "deny", {"consent": False}),
        ("consent", "ja", "inform", {"consent": True}),
        ("consent", "Nej", "inform", {"consent": False}),
    ],
)
async def test_validate_contact_form_accepts_valid_answers(
    domain: dict[str, Any], slot: str, value: Any, intent: str, expected: dict[str, Any]
) -> None:
    messages, events = await run(ValidateContactForm(), form_answer(slot, value, intent), domain)
    assert messages == []
    assert slot_values(events) == expected


@pytest.mark.parametrize(
    ("slot", "value", "hint"),
    [
        ("contact_name", "A", "Skriv ditt namn"),
        ("contact_name", "/affirm", "Skriv ditt namn"),
        ("company_name", "!!!", "Skriv företagets namn"),
        ("org_number", "556016-0681", "Det organisationsnumret stämmer inte"),
        ("org_number", "900101-0017", "personnummer"),
        ("contact", "vet inte", "e-postadress"),
        ("description", "ok", "Beskriv"),
        ("consent", "kanske", "Svara ja eller nej"),
    ],
)
async def test_validate_contact_form_rejects_invalid_answers_with_a_hint(
    domain: dict[str, Any], slot: str, value: Any, hint: str
) -> None:
    messages, events = await run(ValidateContactForm(), form_answer(slot, value), domain)
    assert slot_values(events) == {slot: None}
    assert len(messages) == 1
    assert hint in messages[0]["text"]
    assert "0017" not in messages[0]["text"]


def test_validate_org_number_called_directly_gives_a_hint_and_none(
    domain: dict[str, Any],
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = Tracker.from_dict(form_answer("org_number", "556016-0681"))
    result = ValidateContactForm().validate_org_number("556016-0681", dispatcher, tracker, domain)
    assert result == {"org_number": None}
    assert "556016-0680" in dispatcher.messages[0]["text"]


# --- validate_case_status_form -----------------------------------------------------------


def status_answer(slot: str, value: str) -> dict[str, Any]:
    state = load_state("case_status_form_in_progress", requested_slot=slot)
    state["latest_message"]["text"] = value
    state["events"][-1].update(name=slot, value=value)
    return state


@pytest.mark.parametrize(
    ("slot", "value", "expected"),
    [
        ("case_ref", "Mitt ärende är nl-2026-0042", "NL-2026-0042"),
        ("case_ref", "NL-2026-0042", "NL-2026-0042"),
        ("status_contact", "anna@foretag.se", "anna@foretag.se"),
        ("status_contact", "070-123 45 67", "070-123 45 67"),
    ],
)
async def test_validate_case_status_form_accepts_valid_answers(
    domain: dict[str, Any], slot: str, value: str, expected: str
) -> None:
    messages, events = await run(ValidateCaseStatusForm(), status_answer(slot, value), domain)
    assert messages == []
    assert slot_values(events) == {slot: expected}


@pytest.mark.parametrize(
    ("slot", "value", "hint"),
    [("case_ref", "ärende 42", "NL-2026-0042"), ("status_contact", "hej", "e-postadress")],
)
async def test_validate_case_status_form_rejects_invalid_answers_with_a_hint(
    domain: dict[str, Any], slot: str, value: str, hint: str
) -> None:
    messages, events = await run(ValidateCaseStatusForm(), status_answer(slot, value), domain)
    assert slot_values(events) == {slot: None}
    assert hint in messages[0]["text"]


# --- action_log_contact ------------------------------------------------------------------


async def test_log_contact_creates_a_case_and_gives_the_reference(
    domain: dict[str, Any], case_db: str, knowledge: Knowledge
) -> None:
    state = load_state("contact_form_completed")
    messages, events = await run(ActionLogContact(), state, domain)

    rows = stored_cases(case_db)
    assert len(rows) == 1
    case = rows[0]
    assert (case.topic, case.permit_type, case.unit) == ("permit", "bygglov", "bygglov")
    assert case.conversation_id == "conv-done"
    assert case.contact_email == "anna@foretag.se"
    assert case.org_number == "556016-0680"
    assert MASK in case.description
    assert "0017" not in case.description
    assert case.idempotency_key == "conv-done:1773133260.001000"
    assert re.fullmatch(r"NL-\d{4}-0001", case.reference)

    assert responses(messages) == ["utter_case_created"]
    assert messages[0]["reference"] == case.reference
    assert messages[0]["unit"] == knowledge.units["bygglov"].name
    promise = knowledge.topics["permit"].first_response_working_days
    assert messages[0]["due"] == format_date_sv(add_working_days(case.created_at, promise))

    slots = slot_values(events)
    assert slots["case_ref"] == case.reference
    assert all(slots[name] is None for name in FORM_SLOTS)
    assert slots["offer_pending"] is False
    assert slots["save_failed"] is False


async def test_log_contact_run_twice_on_the_same_tracker_creates_one_case(
    domain: dict[str, Any], case_db: str
) -> None:
    state = load_state("contact_form_completed")
    first, _ = await run(ActionLogContact(), state, domain)
    second, _ = await run(ActionLogContact(), state, domain)
    assert len(stored_cases(case_db)) == 1
    assert count_events(case_db) == 1
    assert first[0]["reference"] == second[0]["reference"]
    assert responses(second) == ["utter_case_created"]


async def test_log_contact_for_a_new_form_run_creates_a_new_case(
    domain: dict[str, Any], case_db: str
) -> None:
    state = load_state("contact_form_completed")
    first, _ = await run(ActionLogContact(), state, domain)
    again = load_state("contact_form_completed")
    activation = next(e for e in again["events"] if e["event"] == "active_loop" and e["name"])
    again["events"].append({**activation, "timestamp": activation["timestamp"] + 600})
    second, _ = await run(ActionLogContact(), again, domain)
    assert first[0]["reference"] != second[0]["reference"]
    assert len(stored_cases(case_db)) == 2


async def test_log_contact_without_consent_stores_nothing(
    domain: dict[str, Any], case_db: str
) -> None:
    state = load_state("contact_form_completed", consent=False)
    messages, events = await run(ActionLogContact(), state, domain)
    assert responses(messages) == ["utter_no_consent"]
    assert stored_cases(case_db) == []
    slots = slot_values(events)
    assert all(slots[name] is None for name in FORM_SLOTS)


@pytest.mark.parametrize(
    "slots", [{"description": None}, {"contact": None}, {"consent": None}, {"consent": "ja"}]
)
async def test_log_contact_with_an_incomplete_form_stores_nothing(
    domain: dict[str, Any], case_db: str, slots: dict[str, Any]
) -> None:
    state = load_state("contact_form_completed", **slots)
    messages, _events = await run(ActionLogContact(), state, domain)
    assert responses(messages) == ["utter_nothing_to_save"]
    assert stored_cases(case_db) == []


async def test_log_contact_keeps_the_answers_on_a_database_error_and_retry_creates_the_case(
    domain: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database without the schema: every query fails with an SQLAlchemyError.
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'broken' / 'cases.db'}")
    state = load_state("contact_form_completed")
    messages, events = await run(ActionLogContact(), state, domain)
    assert responses(messages) == ["utter_case_save_failed"]
    assert slot_values(events) == {"save_failed": True, "offer_pending": False}

    working = f"sqlite:///{tmp_path / 'working' / 'cases.db'}"
    migrate(working)
    use_database(monkeypatch, working)
    messages, events = await run(ActionLogContact(), state, domain)
    assert responses(messages) == ["utter_case_created"]
    assert slot_values(events)["save_failed"] is False
    assert len(stored_cases(working)) == 1


async def test_log_contact_with_an_unreachable_database_offers_a_retry(
    domain: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a regular file", encoding="utf-8")
    use_database(monkeypatch, f"sqlite:///{blocker / 'db' / 'cases.db'}")
    state = load_state("contact_form_completed")
    messages, events = await run(ActionLogContact(), state, domain)
    assert responses(messages) == ["utter_case_save_failed"]
    assert slot_values(events)["save_failed"] is True

    working = f"sqlite:///{tmp_path / 'working' / 'cases.db'}"
    migrate(working)
    use_database(monkeypatch, working)
    messages, _events = await run(ActionLogContact(), state, domain)
    assert responses(messages) == ["utter_case_created"]
    assert len(stored_cases(working)) == 1


# --- action_case_status ------------------------------------------------------------------


def create_case(**changes: Any) -> CaseRecord:
    values: dict[str, Any] = {
        "idempotency_key": "conv-earlier:1.000000",
        "topic": "permit",
        "permit_type": "bygglov",
        "unit": "bygglov",
        "contact_name": "Anna Andersson",
        "company_name": "Lotsby Bygg AB",
        "description": "Lagerhall",
        "conversation_id": "conv-earlier",
        "contact_email": "anna@foretag.se",
        "contact_phone": "0701234567",
    }
    values.update(changes)
    case, _created = case_repository().create(
        NewCase(**values), now=dt.datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    )
    return case


@pytest.mark.parametrize("contact", ["anna@foretag.se", "ANNA@foretag.se", "+46 70 123 45 67"])
async def test_case_status_with_the_right_contact_tells_the_status(
    domain: dict[str, Any], case_db: str, knowledge: Knowledge, contact: str
) -> None:
    case = create_case()
    state = load_state(
        "case_status_completed", case_ref=case.reference.lower(), status_contact=contact
    )
    messages, events = await run(ActionCaseStatus(), state, domain)
    assert responses(messages) == ["utter_case_status"]
    assert messages[0]["reference"] == case.reference == "NL-2026-0001"
    assert messages[0]["status"] == "mottaget, en handläggare har inte svarat än"
    assert messages[0]["unit"] == knowledge.units["bygglov"].name
    assert messages[0]["created"] == "tisdag 10 mars"
    assert slot_values(events) == {"case_ref": None, "status_contact": None}


async def test_case_status_for_a_wrong_contact_and_an_unknown_case_is_the_same_answer(
    domain: dict[str, Any], case_db: str
) -> None:
    case = create_case()
    wrong_contact = load_state(
        "case_status_completed", case_ref=case.reference, status_contact="bert@foretag.se"
    )
    unknown_case = load_state(
        "case_status_completed", case_ref="NL-2026-0999", status_contact="anna@foretag.se"
    )
    wrong_messages, wrong_events = await run(ActionCaseStatus(), wrong_contact, domain)
    unknown_messages, unknown_events = await run(ActionCaseStatus(), unknown_case, domain)

    assert responses(wrong_messages) == responses(unknown_messages) == ["utter_case_not_found"]
    assert wrong_messages[0]["reference"] == case.reference
    assert unknown_messages[0]["reference"] == "NL-2026-0999"
    # Apart from echoing what the user typed, the two answers are identical.
    assert {**wrong_messages[0], "reference": "x"} == {**unknown_messages[0], "reference": "x"}
    assert set(wrong_messages[0]) == set(unknown_messages[0])
    assert slot_values(wrong_events) == slot_values(unknown_events)


async def test_case_status_on_a_database_error_says_it_is_unavailable(
    domain: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'broken' / 'cases.db'}")
    messages, events = await run(ActionCaseStatus(), load_state("case_status_completed"), domain)
    assert responses(messages) == ["utter_case_status_unavailable"]
    assert slot_values(events) == {"case_ref": None, "status_contact": None}


async def test_case_status_of_an_assigned_case_names_the_officials_first_name_and_unit(
    domain: dict[str, Any], case_db: str, knowledge: Knowledge
) -> None:
    from argon2 import PasswordHasher

    from bot.accounts import UserRepository
    from bot.cases import ALL_CASES

    case = create_case()
    users = UserRepository(create_db_engine(case_db), hasher=PasswordHasher(memory_cost=1024))
    official = users.create("anna@lotsby.se", "Anna Bygg", "official", "x" * 12, unit="bygglov")
    case_repository().assign(case.id, ALL_CASES, official.id, "admin@lotsby.se")
    state = load_state(
        "case_status_completed", case_ref=case.reference, status_contact="anna@foretag.se"
    )
    messages, _events = await run(ActionCaseStatus(), state, domain)
    assert responses(messages) == ["utter_case_status"]
    assert messages[0]["unit"] == f"Anna på {knowledge.units['bygglov'].name}"
    assert messages[0]["status"] == "mottaget och fördelat till en handläggare"
    assert "Bygg" not in messages[0]["unit"].split(" på ")[0]  # never the surname
