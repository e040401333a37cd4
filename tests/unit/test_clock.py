"""Tests for bot.clock: service-promise due times and elapsed time in Swedish working time."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.clock import ServiceClock, clock_start, due_at, office_hours, unit_hours, working_seconds
from bot.knowledge import get_knowledge
from bot.worktime import STOCKHOLM

UTC = dt.timezone.utc


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)  # type: ignore[misc]


def test_due_in_one_working_day_from_friday_is_monday_closing_time() -> None:
    due = due_at(local(2026, 3, 13, 15, 0), 1)
    assert due == local(2026, 3, 16, 16, 30)
    assert due.tzinfo == UTC


def test_a_case_on_saturday_starts_its_clock_on_monday_morning() -> None:
    assert clock_start(local(2026, 3, 14, 11, 0)) == local(2026, 3, 16, 8, 0)
    assert due_at(local(2026, 3, 14, 11, 0), 1) == local(2026, 3, 17, 16, 30)


def test_a_case_after_closing_time_starts_the_next_working_morning() -> None:
    assert clock_start(local(2026, 3, 9, 17, 0)) == local(2026, 3, 10, 8, 0)
    assert due_at(local(2026, 3, 9, 17, 0), 0) == local(2026, 3, 10, 16, 30)


def test_midsummer_eve_is_not_a_working_day() -> None:
    # Thursday 18 June 2026; Friday 19 June is midsummer eve.
    assert due_at(local(2026, 6, 18, 10, 0), 1) == local(2026, 6, 22, 16, 30)


def test_christmas_and_the_weekend_are_skipped() -> None:
    # Wednesday 23 December 2026: 24 and 25 December are off, then a weekend.
    assert due_at(local(2026, 12, 23, 12, 0), 2) == local(2026, 12, 29, 16, 30)


def test_due_time_after_the_spring_dst_change_is_one_hour_earlier_in_utc() -> None:
    # Summer time starts Sunday 29 March 2026: 16:30 is 15:30 UTC before, 14:30 UTC after.
    assert due_at(local(2026, 3, 26, 10, 0), 0) == dt.datetime(2026, 3, 26, 15, 30, tzinfo=UTC)
    assert due_at(local(2026, 3, 27, 10, 0), 1) == dt.datetime(2026, 3, 30, 14, 30, tzinfo=UTC)


def test_working_seconds_skip_nights_and_weekends() -> None:
    assert working_seconds(local(2026, 3, 13, 16, 0), local(2026, 3, 16, 9, 0)) == 90 * 60


def test_working_seconds_across_the_autumn_dst_change() -> None:
    # Winter time starts Sunday 25 October 2026; the night's extra hour is not working time.
    start, end = local(2026, 10, 23, 16, 0), local(2026, 10, 26, 8, 30)
    assert working_seconds(start, end) == 60 * 60


def test_working_seconds_within_one_day_and_backwards() -> None:
    assert working_seconds(local(2026, 3, 10, 9, 0), local(2026, 3, 10, 11, 15)) == 8100
    assert working_seconds(local(2026, 3, 10, 11, 0), local(2026, 3, 10, 9, 0)) == 0


def test_a_units_own_opening_hours_are_used() -> None:
    bygglov = get_knowledge().units["bygglov"]  # Friday 08:00-15:00
    assert due_at(local(2026, 3, 12, 10, 0), 1, unit_hours(bygglov)) == local(2026, 3, 13, 15, 0)
    assert office_hours(dt.date(2026, 3, 14)) == []


@pytest.mark.parametrize(
    ("topic", "first", "resolution"),
    [
        ("permit", local(2026, 3, 11, 16, 30), local(2026, 3, 23, 16, 30)),
        ("industrial_land", local(2026, 3, 10, 17, 0), local(2026, 3, 23, 17, 0)),
    ],
)
def test_service_clock_applies_the_topic_promise_in_the_unit_hours(
    topic: str, first: dt.datetime, resolution: dt.datetime
) -> None:
    knowledge = get_knowledge()
    unit = knowledge.topics[topic].unit
    due = ServiceClock(knowledge).due_times(topic, unit, local(2026, 3, 9, 9, 0))
    assert due is not None
    assert (due.first_response, due.resolution) == (first, resolution)


def test_service_clock_without_a_promise_and_for_an_unknown_unit() -> None:
    clock = ServiceClock(get_knowledge())
    assert clock.due_times("no_such_topic", "bygglov", local(2026, 3, 9, 9, 0)) is None
    assert clock.elapsed("no_such_unit", local(2026, 3, 9, 8, 0), local(2026, 3, 9, 17, 0)) == (
        8 * 3600 + 1800
    )
