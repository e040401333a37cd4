"""Service-promise clock: due times and elapsed time in Swedish working time.

A unit's working time is its opening hours (``Unit.opening_hours`` in ``knowledge/routing.yml``)
on days that are not Swedish holidays; without a unit, office hours 08:00–16:30 on working days
(:func:`bot.worktime.is_working_day`). Everything is computed in Europe/Stockholm time, so DST
changes are handled by the time zone, and returned in UTC.

Definition of the promise "N working days": the clock starts when the case arrives, or at the next
opening if it arrives outside working time. The case is due at closing time on the N:th working
day after the day the clock started (N = 0: closing time the same day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.knowledge import Knowledge, Unit
from bot.worktime import STOCKHOLM, add_working_days, is_working_day

Periods = Callable[[dt.date], list[tuple[dt.time, dt.time]]]
"""Opening periods of a day in Stockholm time, sorted; empty when closed."""

OFFICE_OPEN = dt.time(8, 0)
OFFICE_CLOSE = dt.time(16, 30)
_SEARCH_DAYS = 370
UTC = dt.timezone.utc


def office_hours(day: dt.date) -> list[tuple[dt.time, dt.time]]:
    """Default working time: 08:00–16:30 on Swedish working days.

    Args:
        day: A Swedish calendar date.

    Returns:
        One period on working days, none otherwise.
    """
    return [(OFFICE_OPEN, OFFICE_CLOSE)] if is_working_day(day) else []


def unit_hours(unit: Unit) -> Periods:
    """Working time of a unit: its opening hours, closed on holidays.

    Args:
        unit: A unit from the knowledge files.

    Returns:
        A function giving the unit's periods for a day.
    """
    return unit._periods  # the unit's own rule (weekday codes, holidays)


def _local_periods(periods: Periods, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    return [
        (
            dt.datetime.combine(day, start, tzinfo=STOCKHOLM),
            dt.datetime.combine(day, end, tzinfo=STOCKHOLM),
        )
        for start, end in periods(day)
    ]


def clock_start(at: dt.datetime, periods: Periods = office_hours) -> dt.datetime:
    """Return when the clock starts for something arriving at a moment.

    Args:
        at: Timezone-aware arrival time.
        periods: Working time.

    Returns:
        ``at`` if it is within working time, otherwise the next opening (Stockholm time).

    Raises:
        ValueError: If there is no working time within a year.
    """
    local = at.astimezone(STOCKHOLM)
    for offset in range(_SEARCH_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        for start, end in _local_periods(periods, day):
            if local < end:
                return max(local, start)
    raise ValueError("no working time within a year")


def due_at(created: dt.datetime, working_days: int, periods: Periods = office_hours) -> dt.datetime:
    """Compute when a promise of some working days runs out.

    Args:
        created: Timezone-aware time the case arrived.
        working_days: The promise in working days.
        periods: Working time.

    Returns:
        Closing time on the due day, in UTC.
    """
    start = clock_start(created, periods)
    day = add_working_days(start, working_days)
    for offset in range(_SEARCH_DAYS):  # a unit may be closed on a normal working day
        local = _local_periods(periods, day + dt.timedelta(days=offset))
        if local:
            return local[-1][1].astimezone(UTC)
    raise ValueError("no working time within a year")


def working_seconds(start: dt.datetime, end: dt.datetime, periods: Periods = office_hours) -> int:
    """Count the working time between two moments.

    Args:
        start: Timezone-aware start.
        end: Timezone-aware end.
        periods: Working time.

    Returns:
        Seconds of working time in ``[start, end]`` (0 if ``end`` is before ``start``).
    """
    if end <= start:
        return 0
    first = start.astimezone(STOCKHOLM).date()
    last = end.astimezone(STOCKHOLM).date()
    total = dt.timedelta()
    day = first
    while day <= last:
        for open_at, close_at in _local_periods(periods, day):
            overlap = min(end, close_at) - max(start, open_at)
            if overlap > dt.timedelta():
                total += overlap
        day += dt.timedelta(days=1)
    return int(total.total_seconds())


@dataclass(frozen=True)
class DueTimes:
    """When a case must have a first response and be resolved (UTC)."""

    first_response: dt.datetime
    resolution: dt.datetime


class ServiceClock:
    """Applies the service promise of each topic in the working time of each unit."""

    def __init__(self, knowledge: Knowledge) -> None:
        """Create a clock from the knowledge files.

        Args:
            knowledge: Units (opening hours) and topics (service promise).
        """
        self._units: Mapping[str, Unit] = knowledge.units
        self._knowledge = knowledge

    def periods(self, unit: str) -> Periods:
        """Return the working time of a unit (office hours for an unknown unit).

        Args:
            unit: Unit id.

        Returns:
            The unit's periods function.
        """
        known = self._units.get(unit)
        return unit_hours(known) if known is not None else office_hours

    def due_times(self, topic: str, unit: str, created: dt.datetime) -> DueTimes | None:
        """Compute a case's due times from its topic's promise.

        Args:
            topic: Case topic.
            unit: Unit handling the case.
            created: When the case arrived.

        Returns:
            The due times, or None for a topic without a promise.
        """
        entry = self._knowledge.topic(topic)
        if entry is None:
            return None
        periods = self.periods(unit)
        return DueTimes(
            first_response=due_at(created, entry.first_response_working_days, periods),
            resolution=due_at(created, entry.resolution_working_days, periods),
        )

    def elapsed(self, unit: str, start: dt.datetime, end: dt.datetime) -> int:
        """Working seconds between two moments in a unit's working time.

        Args:
            unit: Unit id.
            start: Start (e.g. case created).
            end: End (e.g. first response).

        Returns:
            Seconds of working time.
        """
        return working_seconds(start, end, self.periods(unit))
