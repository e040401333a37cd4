"""What the contact and case-status forms accept, and how a completed form becomes a case.

Pure functions: the actions in ``actions/`` pass slot values in and dispatch the hints out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.cases import CaseRecord, NewCase
from bot.knowledge import Knowledge, fold
from bot.permit_matcher import canonical as canonical_permit_type
from bot.privacy import CONTACT_FORM_SLOTS, mask_personnummer
from bot.validation import (
    MAX_DESCRIPTION_LENGTH,
    OrgNumberIsPersonnummerError,
    clean_text,
    parse_email,
    parse_org_number,
    parse_phone,
)

SKIPPED = "ej angivet"
FORM_SLOTS = CONTACT_FORM_SLOTS
_SKIP_WORDS = {
    "hoppa over", "hoppa", "skip", "nej", "inget", "ingen", "har inget", "har inte",
    "vet inte", "saknas", "", "inget an", "har inget an", "nej tack",
}  # fmt: skip
_YES = {"ja", "japp", "jo", "ok", "okej", "godkanner", "samtycker", "yes", "visst", "absolut"}
_NO = {"nej", "no", "nope", "inte", "nae", "na"}
_CONSENT_HINT = "Svara ja eller nej: godkänner du att vi sparar uppgifterna?"
_UNSURE = {"kanske", "osaker", "vet", "maybe", "fundera"}
_CASE_REF = re.compile(r"\bNL-(\d{4})-(\d{4,})\b", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Checked:
    """The outcome of checking one answer: the value to keep, or a hint to show."""

    value: Any = None
    hint: str | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the answer was accepted."""
        return self.hint is None


def check_name(text: str | None) -> Checked:
    """Accept a person's name (letters, 2–100 characters)."""
    name = clean_text(text, 100)
    if len(name) < 2 or not any(ch.isalpha() for ch in name) or name.startswith("/"):
        return Checked(hint="Skriv ditt namn, till exempel Anna Andersson.")
    return Checked(mask_personnummer(name))


def check_company(text: str | None) -> Checked:
    """Accept a company name; "inget företag än" is a valid answer for new businesses."""
    company = clean_text(text, 200)
    if not company or company.startswith("/") or not any(ch.isalnum() for ch in company):
        return Checked(hint='Skriv företagets namn, eller "inget företag än".')
    return Checked(mask_personnummer(company))


def check_org_number(text: str | None, declined: bool) -> Checked:
    """Accept a valid organisation number, or a refusal (it is optional).

    Args:
        text: What the user typed.
        declined: True when the NLU read the answer as a "no" (or the skip button was used).

    Returns:
        The number ``NNNNNN-NNNN``, :data:`SKIPPED`, or a hint.
    """
    if declined or fold(text or "") in _SKIP_WORDS:
        return Checked(SKIPPED)
    try:
        number = parse_org_number(text)
    except OrgNumberIsPersonnummerError:
        return Checked(
            hint="Det ser ut som ett personnummer. Vi sparar inte personnummer här. "
            'Skriv företagets organisationsnummer, eller "hoppa över".'
        )
    if number is None:
        return Checked(
            hint="Det organisationsnumret stämmer inte. Det har tio siffror, till exempel "
            '556016-0680. Skriv det igen, eller "hoppa över".'
        )
    return Checked(number)


def check_contact(text: str | None) -> Checked:
    """Accept an e-mail address or a Swedish phone number (either is enough)."""
    email = parse_email(text)
    phone = None if email else parse_phone(text)
    if not email and not phone:
        return Checked(
            hint="Jag behöver en e-postadress (till exempel namn@foretag.se) eller ett "
            "telefonnummer (till exempel 070-123 45 67)."
        )
    return Checked(email or phone, extra={"contact_email": email, "contact_phone": phone})


def check_description(text: str | None) -> Checked:
    """Accept a short description of the enquiry; personnummer are masked."""
    description = clean_text(text, MAX_DESCRIPTION_LENGTH)
    if len(description) < 3 or description.startswith("/"):
        return Checked(hint="Beskriv med några ord vad du behöver hjälp med.")
    return Checked(mask_personnummer(description))


def check_consent(value: Any) -> Checked:
    """Accept yes/no to storing the data (buttons give booleans, typed answers give text)."""
    if isinstance(value, bool):
        return Checked(value)
    words = set(fold(str(value or "")).split())
    if words & _UNSURE:
        return Checked(hint=_CONSENT_HINT)
    if words & _NO:
        return Checked(False)
    if words & _YES:
        return Checked(True)
    return Checked(hint=_CONSENT_HINT)


def check_case_ref(text: str | None) -> Checked:
    """Accept a case reference such as ``NL-2026-0042`` (any case, inside a sentence)."""
    match = _CASE_REF.search(text or "")
    if not match:
        return Checked(hint="Ärendenumret ser ut så här: NL-2026-0042. Skriv det igen.")
    return Checked(f"NL-{match.group(1)}-{match.group(2)}")


_STATUS_SV = {
    "open": "mottaget, en handläggare har inte svarat än",
    "assigned": "mottaget och fördelat till en handläggare",
    "answered": "besvarat",
    "closed": "avslutat",
}


def status_text(status: str) -> str:
    """Describe a case status in Swedish for the entrepreneur."""
    return _STATUS_SV.get(status, status)


def idempotency_key(sender_id: str, events: Iterable[Mapping[str, Any]]) -> str:
    """Key a case to the form run that collected it, so a retried action finds the same case.

    The key is the conversation id plus the timestamp of the latest activation of the contact
    form: the same for every retry of the action, new for each new form.

    Args:
        sender_id: The conversation id.
        events: The tracker's events (dicts as the action server receives them).

    Returns:
        The key.
    """
    started = 0.0
    for event in events:
        if event.get("event") == "active_loop" and event.get("name") == "contact_form":
            started = float(event.get("timestamp") or 0.0)
    return f"{sender_id}:{started:.6f}"


def form_complete(slots: Mapping[str, Any]) -> bool:
    """Tell whether the contact form's required answers are all present."""
    required = ("contact_name", "company_name", "org_number", "contact", "description")
    return all(slots.get(name) for name in required)


def new_case(slots: Mapping[str, Any], sender_id: str, key: str, knowledge: Knowledge) -> NewCase:
    """Turn a completed contact form into a case routed to the right unit.

    Args:
        slots: The tracker's slots.
        sender_id: The conversation id.
        key: The idempotency key (see :func:`idempotency_key`).
        knowledge: The loaded knowledge (for routing).

    Returns:
        The case to store.
    """
    topic = slots.get("topic") or "other"
    permit_type = canonical_permit_type(slots.get("permit_type")) if topic == "permit" else None
    org_number = slots.get("org_number")
    return NewCase(
        idempotency_key=key,
        topic=topic,
        permit_type=permit_type,
        unit=knowledge.unit_for(topic, permit_type).id,
        contact_name=str(slots["contact_name"]),
        company_name=str(slots["company_name"]),
        org_number=None if org_number in (None, SKIPPED) else str(org_number),
        contact_email=slots.get("contact_email"),
        contact_phone=slots.get("contact_phone"),
        description=mask_personnummer(str(slots["description"])),
        conversation_id=sender_id,
    )


def contact_matches(case: CaseRecord, text: str | None) -> bool:
    """Tell whether the e-mail or phone the user gave is the one stored in the case."""
    email = parse_email(text)
    phone = parse_phone(text)
    return bool(
        (email and case.contact_email and email == case.contact_email.lower())
        or (phone and case.contact_phone and phone == case.contact_phone)
    )
