"""Tests for bot.validation: parsing what entrepreneurs type."""

from __future__ import annotations

import pytest

from bot.validation import (
    MAX_FIELD_LENGTH,
    OrgNumberIsPersonnummerError,
    clean_text,
    parse_email,
    parse_org_number,
    parse_phone,
    parse_plot_size,
)

# --- e-mail ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("anna@foretag.se", "anna@foretag.se"),
        ("Mejla mig på Anna.Andersson+bygg@Foretag.SE tack", "anna.andersson+bygg@foretag.se"),
        ("info@lotsby-bygg.co.uk", "info@lotsby-bygg.co.uk"),
    ],
)
def test_parse_email_finds_the_address_in_lower_case(text: str, expected: str) -> None:
    assert parse_email(text) == expected


@pytest.mark.parametrize("text", ["anna@", "anna at foretag.se", "@foretag.se", "", None])
def test_parse_email_returns_none_without_an_address(text: str | None) -> None:
    assert parse_email(text) is None


# --- phone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "070-123 45 67",
        "0701234567",
        "+46 70 123 45 67",
        "+46701234567",
        "0046 70 123 45 67",
        "0046701234567",
        "Ring mig på 070-123 45 67 efter lunch",
    ],
)
def test_parse_phone_normalises_swedish_mobile_numbers(text: str) -> None:
    assert parse_phone(text) == "0701234567"


def test_parse_phone_keeps_a_landline_area_code() -> None:
    assert parse_phone("08-123 456 78") == "0812345678"


@pytest.mark.parametrize("text", ["hej", "123", "ring mig", "07-12", "", None])
def test_parse_phone_returns_none_for_garbage(text: str | None) -> None:
    assert parse_phone(text) is None


# --- organisation number -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["556016-0680", "5560160680", "Vårt orgnr är 556016-0680.", "16556016-0680"],
)
def test_parse_org_number_formats_a_valid_number(text: str) -> None:
    assert parse_org_number(text) == "556016-0680"


@pytest.mark.parametrize("text", ["556016-0681", "5560160681", "12345", "inget", "", None])
def test_parse_org_number_returns_none_for_invalid_numbers(text: str | None) -> None:
    assert parse_org_number(text) is None


@pytest.mark.parametrize("text", ["900101-0017", "9001010017", "mitt nummer är 900101-0017"])
def test_parse_org_number_refuses_a_personnummer(text: str) -> None:
    with pytest.raises(OrgNumberIsPersonnummerError):
        parse_org_number(text)


def test_parse_org_number_refuses_a_personnummer_with_century() -> None:
    with pytest.raises(OrgNumberIsPersonnummerError):
        parse_org_number("19900101-0017")


def test_org_number_is_personnummer_error_is_a_value_error() -> None:
    assert issubclass(OrgNumberIsPersonnummerError, ValueError)


# --- plot size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5000 kvm", 5000),
        ("2 hektar", 20_000),
        ("1,5 ha", 15_000),
        ("1.5 ha", 15_000),
        ("ca 3000", 3000),
        ("10 000 kvadratmeter", 10_000),
        ("10\u00a0000 kvm", 10_000),
        ("2.500 kvm", 2500),
        ("8000 m2", 8000),
        ("8000 m²", 8000),
        ("vi behöver ungefär 4000 kvadrat", 4000),
    ],
)
def test_parse_plot_size_reads_square_metres(text: str, expected: int) -> None:
    assert parse_plot_size(text) == expected


@pytest.mark.parametrize("text", ["no number", "en stor tomt", "0 kvm", "", None])
def test_parse_plot_size_returns_none_without_a_positive_number(text: str | None) -> None:
    assert parse_plot_size(text) is None


# --- clean_text --------------------------------------------------------------------------


def test_clean_text_replaces_control_characters_and_collapses_whitespace() -> None:
    assert clean_text("  Anna\x00\x07 Andersson\r\n\tAB \x1b ") == "Anna Andersson AB"


def test_clean_text_normalises_to_nfc() -> None:
    decomposed = "Ga\u0308vle"  # "Gävle" with a combining diaeresis
    assert clean_text(decomposed) == "G\u00e4vle"


def test_clean_text_cuts_a_megabyte_to_the_maximum_length() -> None:
    assert clean_text("x" * 1_000_000) == "x" * MAX_FIELD_LENGTH
    assert len(clean_text("å" * 1_000_000, max_length=2000)) == 2000


def test_clean_text_keeps_emoji_and_right_to_left_scripts() -> None:
    assert clean_text("Kafé ☕ och 🎉") == "Kafé ☕ och 🎉"
    assert clean_text("שלום مرحبا") == "שלום مرحبا"


def test_clean_text_keeps_zero_width_joiner_and_right_to_left_mark() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_text(f"Familjeföretag {family}") == f"Familjeföretag {family}"
    assert clean_text("\u200fمرحبا") == "\u200fمرحبا"


@pytest.mark.parametrize("text", [None, "", "   ", "\x00\x01"])
def test_clean_text_returns_empty_text_for_nothing(text: str | None) -> None:
    assert clean_text(text) == ""
