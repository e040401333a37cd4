"""Tests for bot.intake: what the forms accept and how a completed form becomes a case."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bot import intake
from bot.cases import CaseRecord
from bot.intake import (
    SKIPPED,
    check_case_ref,
    check_company,
    check_consent,
    check_contact,
    check_description,
    check_name,
    check_org_number,
    contact_matches,
    form_complete,
    idempotency_key,
    new_case,
    status_text,
)
from bot.knowledge import Knowledge, load_knowledge
from bot.privacy import MASK

KNOWLEDGE_DIR = Path(__file__).resolve().parents[2] / "knowledge"


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge(KNOWLEDGE_DIR)


def form_slots(**changes: Any) -> dict[str, Any]:
    slots: dict[str, Any] = {
        "topic": "permit",
        "permit_type": "bygglov",
        "contact_name": "Anna Andersson",
        "company_name": "Lotsby Bygg AB",
        "org_number": "556016-0680",
        "contact": "anna@foretag.se",
        "contact_email": "anna@foretag.se",
        "contact_phone": None,
        "description": "Vi vill bygga en lagerhall.",
        "consent": True,
    }
    slots.update(changes)
    return slots


def stored_case(**changes: Any) -> CaseRecord:
    case = CaseRecord(
        id=1,
        reference="NL-2026-0042",
        topic="permit",
        permit_type="bygglov",
        unit="bygglov",
        contact_name="Anna Andersson",
        company_name="Lotsby Bygg AB",
        org_number=None,
        contact_email="anna@foretag.se",
        contact_phone="0701234567",
        description="Lagerhall",
        conversation_id="conv-1",
        status="open",
        created_at=dt.datetime(2026, 3, 10, 9, tzinfo=dt.timezone.utc),
    )
    return dataclasses.replace(case, **changes)


# --- Checked -----------------------------------------------------------------------------


def test_checked_is_ok_only_without_a_hint() -> None:
    assert intake.Checked("x").ok
    assert not intake.Checked(hint="fel").ok


# --- name --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Anna Andersson", "Anna Andersson"),
        ("  Åsa   Öberg ", "Åsa Öberg"),
        ("Jo", "Jo"),
    ],
)
def test_check_name_accepts_names(text: str, expected: str) -> None:
    assert check_name(text) == intake.Checked(expected)


@pytest.mark.parametrize("text", ["A", "", None, "12345", "/affirm", "   "])
def test_check_name_gives_a_hint_for_non_names(text: str | None) -> None:
    checked = check_name(text)
    assert not checked.ok
    assert checked.value is None
    assert "namn" in (checked.hint or "")


def test_check_name_masks_a_personnummer() -> None:
    assert check_name("Anna 900101-0017").value == f"Anna {MASK}"


def test_check_name_cuts_long_names_to_100_characters() -> None:
    assert check_name("A" * 500).value == "A" * 100


# --- company -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Lotsby Bygg AB", "inget företag än", "3M Svenska AB"])
def test_check_company_accepts_company_names(text: str) -> None:
    assert check_company(text) == intake.Checked(text)


@pytest.mark.parametrize("text", ["", None, "!!!", "/deny"])
def test_check_company_gives_a_hint(text: str | None) -> None:
    checked = check_company(text)
    assert not checked.ok
    assert "inget företag än" in (checked.hint or "")


# --- org number --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["556016-0680", "5560160680", "orgnr 556016-0680"])
def test_check_org_number_accepts_a_valid_number(text: str) -> None:
    assert check_org_number(text, declined=False) == intake.Checked("556016-0680")


@pytest.mark.parametrize(
    "text", ["hoppa över", "Hoppa över!", "nej", "Nej tack", "har inget", "vet inte"]
)
def test_check_org_number_skip_words_give_skipped(text: str) -> None:
    assert check_org_number(text, declined=False) == intake.Checked(SKIPPED)


def test_check_org_number_declined_gives_skipped_whatever_the_text() -> None:
    assert check_org_number("/deny", declined=True) == intake.Checked(SKIPPED)
    assert check_org_number("556016-0681", declined=True) == intake.Checked(SKIPPED)


def test_check_org_number_wrong_check_digit_gives_a_hint() -> None:
    checked = check_org_number("556016-0681", declined=False)
    assert not checked.ok
    assert "556016-0680" in (checked.hint or "")
    assert "hoppa över" in (checked.hint or "")


@pytest.mark.parametrize("text", ["900101-0017", "9001010017"])
def test_check_org_number_personnummer_gives_a_hint_about_personnummer(text: str) -> None:
    checked = check_org_number(text, declined=False)
    assert not checked.ok
    assert checked.value is None
    assert "personnummer" in (checked.hint or "")
    assert "0017" not in (checked.hint or "")


# --- contact -----------------------------------------------------------------------------


def test_check_contact_accepts_an_email() -> None:
    checked = check_contact("Mejla Anna@Foretag.se")
    assert checked.value == "anna@foretag.se"
    assert checked.extra == {"contact_email": "anna@foretag.se", "contact_phone": None}


def test_check_contact_accepts_a_phone_number() -> None:
    checked = check_contact("ring 070-123 45 67")
    assert checked.value == "0701234567"
    assert checked.extra == {"contact_email": None, "contact_phone": "0701234567"}


@pytest.mark.parametrize("text", ["vet inte", "", None, "anna@", "12 34"])
def test_check_contact_gives_a_hint_without_email_or_phone(text: str | None) -> None:
    checked = check_contact(text)
    assert not checked.ok
    assert "e-postadress" in (checked.hint or "")


# --- description -------------------------------------------------------------------------


def test_check_description_accepts_and_masks_personnummer() -> None:
    checked = check_description("Vill bygga lager. Mitt pnr är 19900101-0017.")
    assert checked == intake.Checked(f"Vill bygga lager. Mitt pnr är {MASK}.")


def test_check_description_cuts_to_the_maximum_length() -> None:
    checked = check_description("x" * 5000)
    assert checked.ok
    assert len(checked.value) == 2000


@pytest.mark.parametrize("text", ["ok", "", None, "/affirm"])
def test_check_description_gives_a_hint_for_too_little(text: str | None) -> None:
    assert "Beskriv" in (check_description(text).hint or "")


# --- consent -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("ja", True),
        ("Ja!", True),
        ("Jag godkänner", True),
        ("Nej", False),
        ("nej tack", False),
    ],
)
def test_check_consent_accepts_yes_and_no(value: Any, expected: bool) -> None:
    assert check_consent(value) == intake.Checked(expected)


@pytest.mark.parametrize("value", ["kanske", "", None, "ja kanske"])
def test_check_consent_gives_a_hint_for_anything_else(value: Any) -> None:
    checked = check_consent(value)
    assert not checked.ok
    assert "ja eller nej" in (checked.hint or "")


# --- case reference ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["NL-2026-0042", "nl-2026-0042", "Mitt ärende är nl-2026-0042, vad händer?"],
)
def test_check_case_ref_finds_the_reference(text: str) -> None:
    assert check_case_ref(text) == intake.Checked("NL-2026-0042")


def test_check_case_ref_keeps_long_sequences() -> None:
    assert check_case_ref("NL-2026-12345").value == "NL-2026-12345"


@pytest.mark.parametrize("text", ["2026-0042", "NL-26-42", "NL-2026-042", "", None])
def test_check_case_ref_gives_a_hint_for_other_text(text: str | None) -> None:
    checked = check_case_ref(text)
    assert not checked.ok
    assert "NL-2026-0042" in (checked.hint or "")


def test_status_text_describes_known_statuses_in_swedish() -> None:
    assert status_text("closed") == "avslutat"
    assert status_text("answered") == "besvarat"
    assert status_text("something_new") == "something_new"


# --- idempotency key ---------------------------------------------------------------------


def activation(timestamp: float, name: str | None = "contact_form") -> dict[str, Any]:
    return {"event": "active_loop", "timestamp": timestamp, "name": name}


def test_idempotency_key_uses_the_last_contact_form_activation() -> None:
    events = [
        {"event": "user", "timestamp": 1.0, "text": "hej"},
        activation(1767225600.25),
        activation(1767225700.0, name=None),
        activation(1767229200.5),
        activation(1767229300.0, name="case_status_form"),
        activation(1767229400.0, name=None),
        {"event": "slot", "timestamp": 1767229500.0, "name": "consent", "value": True},
    ]
    assert idempotency_key("conv-1", events) == "conv-1:1767229200.500000"


def test_idempotency_key_is_stable_for_identical_events() -> None:
    events = [activation(1767225600.123456)]
    assert idempotency_key("conv-1", events) == idempotency_key("conv-1", list(events))


def test_idempotency_key_differs_between_conversations_and_forms() -> None:
    first = idempotency_key("conv-1", [activation(1767225600.0)])
    assert idempotency_key("conv-2", [activation(1767225600.0)]) != first
    assert idempotency_key("conv-1", [activation(1767225600.0), activation(1767229200.0)]) != (
        first
    )


# --- form completion and new case --------------------------------------------------------


def test_form_complete_needs_all_answers() -> None:
    assert form_complete(form_slots())
    assert not form_complete(form_slots(description=None))
    assert not form_complete(form_slots(org_number=None))
    assert form_complete(form_slots(org_number=SKIPPED))


def test_new_case_routes_a_permit_to_the_permits_unit(knowledge: Knowledge) -> None:
    case = new_case(
        form_slots(permit_type="serveringstillstand"), "conv-1", "conv-1:1.000000", knowledge
    )
    assert (case.topic, case.permit_type, case.unit) == (
        "permit",
        "serveringstillstand",
        "tillstand",
    )
    assert case.idempotency_key == "conv-1:1.000000"
    assert case.conversation_id == "conv-1"
    assert case.org_number == "556016-0680"
    assert case.contact_email == "anna@foretag.se"


def test_new_case_canonicalises_the_permit_type(knowledge: Knowledge) -> None:
    case = new_case(form_slots(permit_type="Serveringstillstånd"), "c", "k", knowledge)
    assert (case.permit_type, case.unit) == ("serveringstillstand", "tillstand")


def test_new_case_without_permit_type_goes_to_the_topics_unit(knowledge: Knowledge) -> None:
    case = new_case(form_slots(permit_type=None), "c", "k", knowledge)
    assert (case.permit_type, case.unit) == (None, "bygglov")


def test_new_case_for_industrial_land_goes_to_that_topics_unit(knowledge: Knowledge) -> None:
    case = new_case(form_slots(topic="industrial_land"), "c", "k", knowledge)
    assert case.unit == knowledge.topics["industrial_land"].unit == "naringsliv"


def test_new_case_drops_the_permit_type_when_the_topic_is_not_permit(
    knowledge: Knowledge,
) -> None:
    case = new_case(
        form_slots(topic="skills_supply", permit_type="serveringstillstand"), "c", "k", knowledge
    )
    assert case.permit_type is None
    assert case.unit == "kompetens"


def test_new_case_without_topic_goes_to_the_contact_centre(knowledge: Knowledge) -> None:
    case = new_case(form_slots(topic=None, permit_type=None), "c", "k", knowledge)
    assert (case.topic, case.unit) == ("other", "kontaktcenter")


def test_new_case_stores_no_org_number_when_skipped(knowledge: Knowledge) -> None:
    assert new_case(form_slots(org_number=SKIPPED), "c", "k", knowledge).org_number is None


def test_new_case_masks_personnummer_in_the_description(knowledge: Knowledge) -> None:
    case = new_case(form_slots(description="Mitt pnr: 900101-0017"), "c", "k", knowledge)
    assert case.description == f"Mitt pnr: {MASK}"


# --- contact_matches ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["anna@foretag.se", "ANNA@Foretag.SE", "mejl: anna@foretag.se"])
def test_contact_matches_the_email_in_any_case(text: str) -> None:
    assert contact_matches(stored_case(), text)


@pytest.mark.parametrize(
    "text", ["0701234567", "070-123 45 67", "+46 70 123 45 67", "0046701234567"]
)
def test_contact_matches_the_phone_in_any_format(text: str) -> None:
    assert contact_matches(stored_case(), text)


@pytest.mark.parametrize(
    "text", ["bert@foretag.se", "070-765 43 21", "anna", "", None, "NL-2026-0042"]
)
def test_contact_does_not_match_other_details(text: str | None) -> None:
    assert not contact_matches(stored_case(), text)


def test_contact_does_not_match_when_the_case_has_no_such_detail() -> None:
    assert not contact_matches(stored_case(contact_phone=None), "070-123 45 67")
    assert not contact_matches(stored_case(contact_email=None), "anna@foretag.se")
