"""Property-based tests (hypothesis) of the officials' form and query parsing.

Whatever a browser (or an attacker) puts in the case list's and dashboard's query parameters,
a note, a login or person-data form: the parsers never raise, and what they return is one of
the allowed values, bounded and free of control characters. CSV cells never start a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cases import SORTS, STATUSES
from bot.dashboard import GROUPINGS, PERIODS
from bot.exports import csv_lines, csv_safe
from bot.knowledge import get_knowledge
from bot.person_data import PersonDataError, Subject
from bot.validation import clean_text, parse_email
from bot.web.officials import form_note, parse_case_query, parse_figure_query

SETTINGS = settings(max_examples=300, deadline=None, database=None)
CASE_PARAMS = ["enhet", "amne", "tillstand", "status", "forsenade"]
CASE_PARAMS += ["fran", "till", "sok", "sortering", "sida"]
FIGURE_PARAMS = ["period", "gruppering", "fran", "till"]
HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\u202e",
        "\u200d",
        "👩‍👩‍👧‍👦",
        "<script>",
        "' OR 1=1 --",
        "=HYPERLINK(",
        "2026-02-30",
        "2026-01-01",
        "-1",
        "99999999999999999999999",
        "bygglov",
        "closed",
        "week",
        "unit_topic",
        "NL-2026-0001",
        "\ud800",
    ]
)
TEXT = st.one_of(st.text(max_size=300), HOSTILE, st.lists(HOSTILE, max_size=8).map("".join))


def no_controls(text: str, allowed: str = "") -> bool:
    return all(char in allowed or unicodedata.category(char) not in ("Cc", "Cs") for char in text)


@SETTINGS
@given(st.dictionaries(st.sampled_from([*CASE_PARAMS, "okand"]), TEXT))
def test_case_query_parsing_never_fails_and_keeps_only_allowed_values(
    args: dict[str, str],
) -> None:
    knowledge = get_knowledge()
    query = parse_case_query(args, knowledge)
    assert query.unit is None or query.unit in knowledge.units
    assert query.topic is None or query.topic in knowledge.topics
    assert query.permit_type is None or query.permit_type in knowledge.permits
    assert query.status is None or query.status in STATUSES
    assert query.sort in SORTS
    assert query.page >= 1 and query.per_page == 25
    assert query.search is None or 0 < len(query.search) <= 100
    assert query.overdue == (args.get("forsenade", "").strip() == "1")
    for value in (query.date_from, query.date_to):
        assert value is None or isinstance(value, dt.date)


@SETTINGS
@given(st.dictionaries(st.sampled_from([*FIGURE_PARAMS, "okand"]), TEXT))
def test_figure_query_parsing_never_fails_and_keeps_only_allowed_values(
    args: dict[str, str],
) -> None:
    query = parse_figure_query(args)
    assert query.period in PERIODS
    assert query.grouping in GROUPINGS
    for value in (query.date_from, query.date_to):
        assert value is None or isinstance(value, dt.date)


@SETTINGS
@given(TEXT, st.integers(min_value=1, max_value=5000))
def test_a_note_keeps_no_control_characters_and_stays_bounded(text: str, limit: int) -> None:
    note = form_note(text, limit)
    assert len(note) <= limit
    assert no_controls(note, allowed="\n")
    assert note == note.strip()
    assert form_note(note, limit) == note  # cleaning twice changes nothing


@SETTINGS
@given(TEXT)
def test_login_and_account_fields_keep_no_control_characters(text: str) -> None:
    field = clean_text(text)
    assert len(field) <= 200 and no_controls(field) and "\n" not in field
    assert clean_text(field) == field


@SETTINGS
@given(TEXT, TEXT)
def test_person_form_either_refuses_or_gives_a_normalised_contact(email: str, phone: str) -> None:
    try:
        subject = Subject.parse(email, phone)
    except PersonDataError as error:
        assert str(error).startswith("Ange ")  # a Swedish answer for the admin
        return
    assert subject.email is not None or subject.phone is not None
    if subject.email is not None:
        assert subject.email == subject.email.lower() and "@" in subject.email
        assert subject.email not in subject.masked()
    if subject.phone is not None:
        assert re.fullmatch(r"0\d{7,10}", subject.phone)
        assert subject.phone not in subject.masked()
    assert re.fullmatch(r"[0-9a-f]{64}", subject.digest(b"key"))


@SETTINGS
@given(st.emails(), st.from_regex(r"(\+46|0)7[0-9]( ?[0-9]){7}", fullmatch=True))
def test_every_contact_the_contact_form_accepts_is_accepted(email: str, phone: str) -> None:
    digits = re.sub(r"\D", "", phone)
    expected = "0" + digits[2:] if digits.startswith("46") else digits
    assert Subject.parse("", phone).phone == expected
    if parse_email(email) == email.lower():  # what the contact form stores for a case
        assert Subject.parse(email, phone) == Subject(email.lower(), expected)
    else:
        with pytest.raises(PersonDataError):
            Subject.parse(email, "")


@SETTINGS
@given(st.lists(st.lists(TEXT, min_size=1, max_size=4), min_size=1, max_size=5))
def test_csv_cells_never_start_a_formula_and_read_back(rows: list[list[str]]) -> None:
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    header = [f"k{index}" for index in range(width)]
    text = "".join(csv_lines(header, rows))
    read = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert read[1:] == [[csv_safe(cell).replace("\r\n", "\n") for cell in row] for row in rows]
    for row in read[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_formula_starts_get_a_quote(cell: str) -> None:
    assert csv_safe(cell) == "'" + cell
