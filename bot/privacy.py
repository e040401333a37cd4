"""Masking of personal identity numbers (personnummer) before anything is stored or logged."""

from __future__ import annotations

import re

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
