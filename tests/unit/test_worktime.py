"""Tests for bot.worktime: Swedish working days in Europe/Stockholm."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.worktime import (
    STOCKHOLM,
    add_working_days,
    format_date_sv,
    is_holiday,
    is_working_day,
)

UTC = dt.timezone.utc


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=STOCKHOLM)


def test_an_ordinary_weekday_is_a_working_day() -> None:
    assert is_working_day(dt.date(2026, 3, 10))  # Tuesday


@pytest.mark.parametrize("day", [dt.date(2026, 3, 14), dt.date(2026, 3, 15)])
def test_weekend_is_not_a_working_day(day: dt.date) -> None:
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2026, 6, 19),  # midsummer eve, Friday
        dt.date(2026, 12, 24),  # Christmas Eve, Thursday
        dt.date(2026, 12, 25),  # Christmas Day, Friday
        dt.date(2026, 5, 1),  # May Day, Friday
        dt.date(2026, 12, 31),  # New Year's Eve, Thursday
        dt.date(2026, 4, 6),  # Easter Monday
    ],
    ids=["midsummer-eve", "christmas-eve", "christmas-day", "may-day", "new-years-eve", "easter"],
)
def test_holidays_on_weekdays_are_not_working_days(day: dt.date) -> None:
    assert day.weekday() < 5
    assert is_holiday(day)
    assert not is_working_day(day)


def test_midsummer_eve_moves_with_the_calendar() -> None:
    assert not is_working_day(dt.date(2027, 6, 25))  # Friday between 19 and 25 June
    assert is_working_day(dt.date(2027, 6, 18))


def test_an_ordinary_sunday_is_not_a_holiday() -> None:
    assert not is_holiday(dt.date(2026, 3, 15))


def test_add_working_days_skips_the_weekend() -> None:
    assert add_working_days(at(2026, 3, 13), 1) == dt.date(2026, 3, 16)  # Friday -> Monday
    assert add_working_days(at(2026, 3, 12), 2) == dt.date(2026, 3, 16)  # Thursday -> Monday


def test_add_working_days_skips_christmas() -> None:
    assert add_working_days(at(2026, 12, 23), 1) == dt.date(2026, 12, 28)


def test_add_working_days_skips_easter() -> None:
    assert add_working_days(at(2026, 4, 2), 1) == dt.date(2026, 4, 7)  # Maundy Thursday


def test_add_zero_working_days_from_saturday_gives_monday() -> None:
    assert add_working_days(at(2026, 3, 14), 0) == dt.date(2026, 3, 16)


def test_add_zero_working_days_on_a_working_day_gives_the_same_day() -> None:
    assert add_working_days(at(2026, 3, 10), 0) == dt.date(2026, 3, 10)


def test_add_working_days_counts_from_the_stockholm_date() -> None:
    # 23:30 UTC on Friday is 00:30 on Saturday in Stockholm.
    late_friday_utc = dt.datetime(2026, 3, 13, 23, 30, tzinfo=UTC)
    assert add_working_days(late_friday_utc, 0) == dt.date(2026, 3, 16)
    assert add_working_days(late_friday_utc, 1) == dt.date(2026, 3, 17)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 11, 30), "måndag 30 november"),
        (dt.date(2026, 1, 1), "torsdag 1 januari"),
        (dt.date(2026, 3, 14), "lördag 14 mars"),
        (dt.date(2026, 5, 17), "söndag 17 maj"),
    ],
)
def test_format_date_sv_writes_weekday_day_and_month(day: dt.date, expected: str) -> None:
    assert format_date_sv(day) == expected
