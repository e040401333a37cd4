"""Tests for bot.privacy: personnummer are masked, other numbers are kept."""

from __future__ import annotations

import pytest

from bot.privacy import MASK, is_personnummer, mask_personnummer


def luhn_check_digit(nine_digits: str) -> str:
    """The personnummer check digit for YYMMDDNNN (Luhn, weights 2-1-2-...)."""
    total = 0
    for index, char in enumerate(nine_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return str((10 - total % 10) % 10)


# A samordningsnummer: day of birth + 60 (1 January 1990 -> "61"), computed check digit.
SAMORDNINGSNUMMER = f"900161-001{luhn_check_digit('900161001')}"


def test_computed_samordningsnummer_is_valid_and_has_day_plus_sixty() -> None:
    assert SAMORDNINGSNUMMER == "900161-0014"
    assert is_personnummer(SAMORDNINGSNUMMER)


def test_luhn_helper_agrees_with_a_known_personnummer() -> None:
    assert luhn_check_digit("900101001") == "7"


@pytest.mark.parametrize(
    "number",
    ["19900101-0017", "900101-0017", "9001010017", "199001010017", "900101 0017", "900101+0017"],
)
def test_mask_personnummer_masks_every_spelling(number: str) -> None:
    assert mask_personnummer(number) == MASK


def test_mask_personnummer_masks_a_samordningsnummer() -> None:
    assert mask_personnummer(SAMORDNINGSNUMMER) == MASK
    assert mask_personnummer(SAMORDNINGSNUMMER.replace("-", "")) == MASK


def test_mask_personnummer_masks_inside_a_sentence() -> None:
    text = "Jag heter Anna, pnr 19900101-0017, och min kollega har 900161-0014."
    assert mask_personnummer(text) == (f"Jag heter Anna, pnr {MASK}, och min kollega har {MASK}.")


def test_mask_personnummer_masks_several_numbers_and_keeps_the_rest() -> None:
    text = "9001010017 och 900101-0017 men orgnr 556016-0680"
    assert mask_personnummer(text) == f"{MASK} och {MASK} men orgnr 556016-0680"


@pytest.mark.parametrize(
    "text",
    [
        "Vårt organisationsnummer är 556016-0680.",
        "5560160680",
        "Ring 070-123 45 67 eller +46 70 123 45 67",
        "0701234567",
        "900101-0018",  # wrong check digit
        "19900101-0018",
        "901301-0017",  # month 13
        "Ärende NL-2026-0042",
        "Tomten är 10 000 kvm och kostar 2 500 000 kr",
    ],
)
def test_mask_personnummer_leaves_other_numbers_alone(text: str) -> None:
    assert mask_personnummer(text) == text


def test_mask_personnummer_keeps_text_without_numbers() -> None:
    assert mask_personnummer("Hej, jag vill starta ett kafé!") == "Hej, jag vill starta ett kafé!"
    assert mask_personnummer("") == ""


@pytest.mark.parametrize("text", ["556016-0680", "900101-0018", "abc", ""])
def test_is_personnummer_is_false_for_non_personnummer(text: str) -> None:
    assert not is_personnummer(text)
