"""Masking of personal data before anything is stored or logged.

Personnummer (validated with the ``personnummer`` library) are masked everywhere; e-mail addresses
and phone numbers outside the contact and case status forms. :mod:`bot.tracker_store` applies
:func:`mask_event_dicts` to every event before Rasa's tracker store sees it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from personnummer import personnummer

MASK = "[personnummer]"

# 6 or 8 digits of date, optional separator, 4 digits; validated by the personnummer library
# (date + Luhn check digit, samordningsnummer included) before it is masked.
_CANDIDATE = re.compile(r"(?<![\d-])(?:\d{2})?\d{6}[-+ ]?\d{4}(?![\d])")


def is_personnummer(text: str) -> bool:
    """Tell whether the text is a valid Swedish personnummer or samordningsnummer.

    Args:
        text: A candidate such as ``19900101-0017``, ``900101-0017`` or ``9001010017``.

    Returns:
        True when the library accepts it.
    """
    try:
        return bool(personnummer.valid(text.replace(" ", "-")))
    except (ValueError, TypeError):
        return False


def mask_personnummer(text: str) -> str:
    """Replace every valid personnummer in the text with a mask.

    Organisation numbers (month digits 20 and above) are not valid personnummer and are kept.

    Args:
        text: Free text from a user.

    Returns:
        The text with each personnummer replaced by ``[personnummer]``.
    """
    return _CANDIDATE.sub(lambda m: MASK if is_personnummer(m.group(0)) else m.group(0), text)


EMAIL_MASK = "[e-post]"
PHONE_MASK = "[telefonnummer]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}")
# Swedish numbers: 070-123 45 67, 08-123 456 78, +46 70 123 45 67, 0046701234567. A leading 0 or
# +46 is required, so organisation numbers, case references (NL-2026-0042) and sizes are kept.
_PHONE = re.compile(r"(?<![\w+-])(?:\+46|0046|0)[\s-]?\d{1,3}(?:[\s-]?\d){5,9}(?!\w)")


def mask_contact_details(text: str) -> str:
    """Replace e-mail addresses and Swedish phone numbers in the text with masks.

    Args:
        text: Free text from a user.

    Returns:
        The text with each e-mail address replaced by ``[e-post]`` and each phone number by
        ``[telefonnummer]``.
    """
    return _PHONE.sub(PHONE_MASK, _EMAIL.sub(EMAIL_MASK, text))


def mask_all(text: str) -> str:
    """Mask personnummer, e-mail addresses and phone numbers (personnummer first).

    Args:
        text: Free text from a user.

    Returns:
        The masked text.
    """
    return mask_contact_details(mask_personnummer(text))


def mask_strings(value: Any, mask: Callable[[str], str]) -> Any:
    """Apply a mask to every string inside a JSON-like value (dicts, lists, strings).

    Args:
        value: A JSON-like value; other types are returned unchanged.
        mask: The masking function, e.g. :func:`mask_personnummer` or :func:`mask_all`.

    Returns:
        A masked copy (the input is not changed).
    """
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_strings(item, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_strings(item, mask) for item in value]
    return value


FORMS = frozenset({"contact_form", "case_status_form"})
"""Forms whose answers the case needs: e-mail addresses and phone numbers in them are kept."""

CONTACT_FORM_SLOTS = (
    "contact_name",
    "company_name",
    "org_number",
    "contact",
    "contact_email",
    "contact_phone",
    "description",
    "consent",
)
"""Slots of the contact form (and the e-mail/phone split of its answer)."""

FORM_SLOTS = frozenset({*CONTACT_FORM_SLOTS, "case_ref", "status_contact"})
"""Slots filled by those forms: e-mail addresses and phone numbers in their values are kept."""


def mask_event_dicts(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mask personal data in serialised Rasa events before they are stored.

    Personnummer are masked everywhere. E-mail addresses and phone numbers are masked in user
    messages (text, parse data, metadata) unless a slot of the contact form or the case status
    form is being asked for, and in every slot value except the forms' own slots.

    Args:
        events: Events as ``Event.as_dict()`` gives them, in conversation order.

    Returns:
        Masked copies of the events.
    """
    requested: str | None = None
    active_loop: str | None = None
    masked: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind in ("session_started", "restart"):
            requested, active_loop = None, None
        if kind == "user":
            in_form = active_loop in FORMS and requested in FORM_SLOTS
            masked.append(mask_strings(dict(event), mask_personnummer if in_form else mask_all))
        elif kind == "slot":
            name = event.get("name")
            if name == "requested_slot":
                value = event.get("value")
                requested = value if isinstance(value, str) else None
            keep_contact = name in FORM_SLOTS
            masked.append(
                mask_strings(dict(event), mask_personnummer if keep_contact else mask_all)
            )
        else:
            if kind == "active_loop":
                name = event.get("name")
                active_loop = name if isinstance(name, str) else None
                if active_loop is None:
                    requested = None
            masked.append(mask_strings(dict(event), mask_personnummer))
    return masked
