"""Swedish working time: weekdays that are not public holidays, in Europe/Stockholm."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from holidays.countries.sweden import Sweden

STOCKHOLM = ZoneInfo("Europe/Stockholm")
WEEKDAYS_SV = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS_SV = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip


@functools.lru_cache(maxsize=32)
def _days_off(year: int) -> frozenset[dt.date]:
    public = set(Sweden(years=year, include_sundays=False))
    # Midsummer, Christmas and New Year's Eve are not public holidays in law but count as
    # Sundays (arbetstidslagen, semesterlagen): municipal offices are closed.
    june_19 = dt.date(year, 6, 19)
    midsummer_eve = june_19 + dt.timedelta(days=(4 - june_19.weekday()) % 7)
    return frozenset(public | {midsummer_eve, dt.date(year, 12, 24), dt.date(year, 12, 31)})


def is_holiday(day: dt.date) -> bool:
    """Tell whether municipal offices are closed on a date because of a holiday.

    Args:
        day: A calendar date in Sweden.

    Returns:
        True on Swedish public holidays and on midsummer, Christmas and New Year's Eve.
    """
    return day in _days_off(day.year)


def is_working_day(day: dt.date) -> bool:
    """Tell whether a date is a Swedish working day (Monday–Friday, not a public holiday).

    Args:
        day: A calendar date in Sweden.

    Returns:
        True for a working day.
    """
    return day.weekday() < 5 and not is_holiday(day)


def add_working_days(start: dt.datetime, days: int) -> dt.date:
    """Find the date that is a number of working days after a moment.

    Args:
        start: A timezone-aware moment (e.g. when a case was created).
        days: Working days to add (0 gives the first working day on or after ``start``).

    Returns:
        The Swedish calendar date the period ends on.
    """
    day = start.astimezone(STOCKHOLM).date()
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def format_date_sv(day: dt.date) -> str:
    """Write a date the Swedish way, e.g. ``måndag 30 november``.

    Args:
        day: The date.

    Returns:
        Weekday, day and month in Swedish.
    """
    return f"{WEEKDAYS_SV[day.weekday()]} {day.day} {MONTHS_SV[day.month - 1]}"
