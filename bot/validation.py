"""Pure parsing and validation helpers for what entrepreneurs type (no I/O)."""

from __future__ import annotations

import re
import unicodedata

from organisationsnummer import organisationsnummer

from bot.privacy import is_personnummer

MAX_FIELD_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}")
_PHONE = re.compile(r"(?:\+46|0046|0)[\s-]?\d{1,3}(?:[\s-]?\d){5,9}")
_ORG = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+]?\d{4}(?!\d)")
_SIZE = re.compile(
    r"(?P<num>\d{1,3}(?:[ \u00a0.]\d{3})+|\d+(?:[.,]\d+)?)\s*"
    r"(?P<unit>hektar|ha\b|kvadratmeter|kvadrat|kvm|m2|m²|sqm|m\b)?",
    re.IGNORECASE,
)
_HECTARE_UNITS = {"hektar", "ha"}
_DROPPED = {"Cc", "Cs", "Co", "Cn"}


class OrgNumberIsPersonnummerError(ValueError):
    """Raised when an org number is really a personnummer (sole trader)."""


def clean_text(text: str | None, max_length: int = MAX_FIELD_LENGTH) -> str:
    """Normalise user text: NFC, no control characters, collapsed whitespace, bounded length.

    Args:
        text: Raw text, possibly None.
        max_length: Longest text kept; longer text is cut.

    Returns:
        The cleaned text (may be empty).
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    # Control, surrogate, private and unassigned characters go; format characters (ZWJ in
    # emoji, right-to-left marks) stay.
    text = "".join(" " if unicodedata.category(ch) in _DROPPED else ch for ch in text)
    return " ".join(text.split())[:max_length]


def parse_email(text: str | None) -> str | None:
    """Find an e-mail address in the text.

    Args:
        text: What the user typed.

    Returns:
        The address in lower case, or None when there is none.
    """
    match = _EMAIL.search(text or "")
    return match.group(0).lower() if match else None


def parse_phone(text: str | None) -> str | None:
    """Find a Swedish phone number in the text and normalise it.

    Args:
        text: What the user typed, e.g. ``070-123 45 67`` or ``+46 70 1234567``.

    Returns:
        The number as digits with a leading ``0`` (``0701234567``), or None.
    """
    match = _PHONE.search(text or "")
    if not match:
        return None
    digits = re.sub(r"\D", "", match.group(0))
    if digits.startswith("0046"):
        digits = "0" + digits[4:]
    elif digits.startswith("46"):
        digits = "0" + digits[2:]
    return digits if 8 <= len(digits) <= 11 else None


def parse_org_number(text: str | None) -> str | None:
    """Find and validate a Swedish organisation number.

    Args:
        text: What the user typed, e.g. ``556016-0680`` or ``5560160680``.

    Returns:
        The number formatted ``NNNNNN-NNNN``, or None when none is valid.

    Raises:
        OrgNumberIsPersonnummerError: When the number is a personnummer (which we do not store).
    """
    for match in _ORG.finditer(text or ""):
        candidate = match.group(0)
        if is_personnummer(candidate):
            raise OrgNumberIsPersonnummerError(candidate)
        if organisationsnummer.valid(candidate):
            return str(organisationsnummer.parse(candidate).format(True))
    return None


def parse_plot_size(text: str | None, require_unit: bool = False) -> int | None:
    """Read a plot size in square metres from text such as ``2 hektar`` or ``ca 3000 kvm``.

    Args:
        text: An entity value or a whole message.
        require_unit: Only accept numbers followed by a unit (kvm, m², hektar...), for reading
            a whole message where other numbers (a road, a year) may occur.

    Returns:
        The size in m², or None when no number is found.
    """
    for match in _SIZE.finditer(text or ""):
        raw = match.group("num")
        unit = (match.group("unit") or "").lower()
        if require_unit and not unit:
            continue
        if re.fullmatch(r"\d{1,3}(?:[ \u00a0.]\d{3})+", raw):
            value = float(re.sub(r"[ \u00a0.]", "", raw))
        else:
            value = float(raw.replace(",", "."))
        if unit in _HECTARE_UNITS:
            value *= 10_000
        if value > 0:
            return round(value)
    return None
