"""Knowledge base of Företagslotsen: permits, units, topic routing and industrial plots.

The knowledge lives in three YAML files that an admin edits (see ``knowledge/README.md``):

* ``permits.yml``: one guide entry for each of the fixed permit types.
* ``routing.yml``: the municipality's units, which unit gets which case topic, the bot's
  answer for each topic and the service promise (response times in working days).
* ``plots.yml``: the municipality's land for businesses.

Nothing is read at import time. Call :func:`get_knowledge` (cached) or
:func:`load_knowledge`. Every problem in the files is collected and reported at once in a
:class:`KnowledgeError` naming the file and the key path.

Admins validate the files with ``python -m bot.knowledge [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot.worktime import STOCKHOLM, is_holiday

PERMIT_TYPES: tuple[str, ...] = (
    "bygglov",
    "rivningslov",
    "marklov",
    "forhandsbesked",
    "strandskyddsdispens",
    "miljofarlig_verksamhet",
    "livsmedelsregistrering",
    "serveringstillstand",
    "tobakstillstand",
    "skyltlov",
    "uteservering",
    "brandfarlig_vara",
    "enskilt_avlopp",
    "hygienisk_verksamhet",
)
"""The canonical values of the ``permit_type`` entity (fixed contract)."""

TOPICS: tuple[str, ...] = (
    "permit",
    "industrial_land",
    "skills_supply",
    "start_business",
    "other",
)
"""The case topics (fixed contract)."""

PLOT_STATUSES: tuple[str, ...] = ("ledig", "reserverad", "såld")
"""Allowed plot statuses; only ``ledig`` plots are available."""

AVAILABLE_STATUS = "ledig"

PLOT_SERVICES: tuple[str, ...] = ("el", "VA", "fiber", "fjärrvärme")
"""Connections a plot can have."""

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day codes used in opening hours, in ``datetime.weekday()`` order."""

MIN_SIZE_TOLERANCE = 0.8
"""A plot matches a requested size if it is at least this share of it."""

PERMITS_FILE = "permits.yml"
ROUTING_FILE = "routing.yml"
PLOTS_FILE = "plots.yml"

_SWEDISH_DAY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "mon": "måndag",
        "tue": "tisdag",
        "wed": "onsdag",
        "thu": "torsdag",
        "fri": "fredag",
        "sat": "lördag",
        "sun": "söndag",
    }
)
_PERMIT_FIELDS: tuple[str, ...] = (
    "name",
    "what",
    "when_needed",
    "unit",
    "handling_time",
    "fee",
    "link",
)
_UNIT_FIELDS: tuple[str, ...] = ("name", "role", "email", "phone")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_AREA_STOPWORDS = frozenset({"i", "pa", "vid", "nara", "kring", "omradet", "omrade"})


class KnowledgeError(ValueError):
    """The knowledge files are missing or invalid.

    Attributes:
        errors: One message per problem, each ``"<file>: <key path>: <problem>"``.

    """

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: tuple[str, ...] = tuple(errors)
        count = len(self.errors)
        heading = f"invalid knowledge files ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([heading, *(f"  - {error}" for error in self.errors)]))


# --------------------------------------------------------------------------------------
# Calendar helpers
# --------------------------------------------------------------------------------------


def _to_local(at: dt.datetime) -> dt.datetime:
    """Return ``at`` in Stockholm time; a naive datetime is taken to be Stockholm time."""
    if at.tzinfo is None or at.utcoffset() is None:
        return at.replace(tzinfo=STOCKHOLM)
    return at.astimezone(STOCKHOLM)


# --------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PermitInfo:
    """Guide entry for one permit type.

    Attributes:
        permit_type: Canonical permit type, one of :data:`PERMIT_TYPES`.
        name: Swedish display name, e.g. ``"Bygglov"``.
        what: What the permit is.
        when_needed: When a business needs it.
        submit: What to submit.
        unit: Id of the unit that handles it.
        handling_time: Typical handling time.
        fee: Fee note.
        link: Where to read more.

    """

    permit_type: str
    name: str
    what: str
    when_needed: str
    submit: tuple[str, ...]
    unit: str
    handling_time: str
    fee: str
    link: str


@dataclass(frozen=True)
class OpeningHours:
    """Opening hours that apply to some days of the week.

    Attributes:
        days: Day codes from :data:`WEEKDAYS`.
        open: Opening time (Stockholm time).
        close: Closing time (Stockholm time), after ``open``.

    """

    days: tuple[str, ...]
    open: dt.time
    close: dt.time


@dataclass(frozen=True)
class Unit:
    """A municipal unit that cases are routed to.

    Attributes:
        id: Unit id used in the knowledge files.
        name: Display name, e.g. ``"Bygglovsenheten"``.
        role: Title of the officials, e.g. ``"bygglovshandläggare"``.
        email: E-mail address.
        phone: Phone number.
        opening_hours: When the unit answers, in Stockholm time.

    """

    id: str
    name: str
    role: str
    email: str
    phone: str
    opening_hours: tuple[OpeningHours, ...]

    def _periods(self, day: dt.date) -> list[tuple[dt.time, dt.time]]:
        if is_holiday(day):
            return []
        code = WEEKDAYS[day.weekday()]
        return sorted(
            (hours.open, hours.close) for hours in self.opening_hours if code in hours.days
        )

    def is_open(self, at: dt.datetime) -> bool:
        """Tell whether the unit is open at a moment.

        Args:
            at: The moment, timezone-aware (a naive datetime is taken as Stockholm time).

        Returns:
            True if ``at``, in Stockholm time, falls within the opening hours of that day
            and the day is not a holiday.

        """
        local = _to_local(at)
        now = local.time().replace(tzinfo=None)
        return any(start <= now < end for start, end in self._periods(local.date()))

    def next_opening(self, at: dt.datetime) -> dt.datetime:
        """Return when the unit is next open.

        Args:
            at: The moment to start from, timezone-aware (a naive datetime is taken as
                Stockholm time).

        Returns:
            ``at`` in Stockholm time if the unit is open then, otherwise the start of the
            next opening period, as a Stockholm-time datetime.

        Raises:
            ValueError: If the unit has no opening hours within a year.

        """
        local = _to_local(at)
        if self.is_open(local):
            return local
        zone = STOCKHOLM
        now = local.replace(tzinfo=None)
        for offset in range(367):
            day = local.date() + dt.timedelta(days=offset)
            for start, _end in self._periods(day):
                candidate = dt.datetime.combine(day, start)
                if candidate > now:
                    return candidate.replace(tzinfo=zone)
        raise ValueError(f"unit {self.id!r} has no opening hours within a year")

    def opening_hours_text(self) -> str:
        """Describe the opening hours in Swedish.

        Returns:
            Text such as ``"måndag–torsdag 08:00–16:30, fredag 08:00–15:00"``.

        """
        ordered = sorted(
            self.opening_hours,
            key=lambda hours: (min(WEEKDAYS.index(day) for day in hours.days), hours.open),
        )
        parts = [
            f"{_days_text(hours.days)} {hours.open:%H:%M}–{hours.close:%H:%M}" for hours in ordered
        ]
        return ", ".join(parts)


def _days_text(days: Sequence[str]) -> str:
    """Describe day codes in Swedish, joining consecutive days: ``måndag–torsdag``."""
    indices = sorted({WEEKDAYS.index(day) for day in days})
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    texts = []
    for run in runs:
        first = _SWEDISH_DAY_NAMES[WEEKDAYS[run[0]]]
        last = _SWEDISH_DAY_NAMES[WEEKDAYS[run[-1]]]
        texts.append(first if len(run) == 1 else f"{first}–{last}")
    if len(texts) == 1:
        return texts[0]
    return ", ".join(texts[:-1]) + " och " + texts[-1]


@dataclass(frozen=True)
class Topic:
    """Routing and answer for one case topic.

    Attributes:
        id: Topic id, one of :data:`TOPICS`.
        unit: Id of the unit that gets cases on the topic.
        answer: What the bot says about the topic.
        link: Where to read more.
        first_response_working_days: Service promise: working days to a first response.
        resolution_working_days: Service promise: working days until the case is resolved.

    """

    id: str
    unit: str
    answer: str
    link: str
    first_response_working_days: int
    resolution_working_days: int


@dataclass(frozen=True)
class Plot:
    """A plot of municipal land for businesses.

    Attributes:
        id: Unique id, e.g. ``"NOR-01"``.
        area: Area name, one of the areas listed in ``plots.yml``.
        size_m2: Size in square metres.
        price_per_m2: Price in SEK per square metre.
        zoning: Use according to the local plan, e.g. ``"Industri (J)"``.
        services: Connections, a subset of :data:`PLOT_SERVICES`.
        status: One of :data:`PLOT_STATUSES`.
        note: Optional short note.

    """

    id: str
    area: str
    size_m2: int
    price_per_m2: int
    zoning: str
    services: tuple[str, ...]
    status: str
    note: str | None

    @property
    def is_available(self) -> bool:
        """bool: True if the plot is for sale or lease (status ``ledig``)."""
        return self.status == AVAILABLE_STATUS

    @property
    def total_price(self) -> int:
        """int: Indicative price of the whole plot in SEK."""
        return self.size_m2 * self.price_per_m2


@dataclass(frozen=True)
class Knowledge:
    """Everything the bot knows about the municipality.

    Attributes:
        permits: Permit guide by permit type.
        units: Units by id.
        topics: Topic routing by topic id.
        plots: Plots in file order.
        contact_centre: Id of the unit for out-of-scope questions and fallbacks.
        demo: True if any of the files is marked as demo data.
        known_areas: Area names from ``plots.yml`` in file order.

    """

    permits: Mapping[str, PermitInfo]
    units: Mapping[str, Unit]
    topics: Mapping[str, Topic]
    plots: tuple[Plot, ...]
    contact_centre: str
    demo: bool
    known_areas: tuple[str, ...] = ()

    def permit(self, permit_type: str) -> PermitInfo | None:
        """Look up the guide for a permit type.

        Args:
            permit_type: A canonical permit type. Case, å/ä/ö and spaces are forgiven, so
                ``"Serveringstillstånd"`` and ``"brandfarlig vara"`` also work.

        Returns:
            The guide entry, or None for an unknown permit type.

        """
        key = fold(permit_type).replace(" ", "_")
        return self.permits.get(key)

    def topic(self, topic: str) -> Topic | None:
        """Look up routing and answer for a case topic.

        Args:
            topic: A topic id from :data:`TOPICS`.

        Returns:
            The topic, or None for an unknown topic.

        """
        return self.topics.get(topic)

    @property
    def contact_centre_unit(self) -> Unit:
        """Unit: The unit for out-of-scope questions and fallbacks."""
        return self.units[self.contact_centre]

    def unit_for(self, topic: str, permit_type: str | None = None) -> Unit:
        """Return the unit that handles a case.

        Args:
            topic: A topic id from :data:`TOPICS`.
            permit_type: For topic ``permit``, the permit type if known. A known permit
                type's own unit wins over the topic's default unit.

        Returns:
            The responsible unit.

        Raises:
            ValueError: If ``topic`` is not a known topic.

        """
        entry = self.topics.get(topic)
        if entry is None:
            raise ValueError(f"unknown topic {topic!r} (known: {', '.join(self.topics)})")
        if topic == "permit" and permit_type:
            permit = self.permit(permit_type)
            if permit is not None:
                return self.units[permit.unit]
        return self.units[entry.unit]

    def areas(self) -> list[str]:
        """Return the names of the business areas.

        Returns:
            The areas listed in ``plots.yml``, or if none are listed the areas of the plots,
            in file order.

        """
        if self.known_areas:
            return list(self.known_areas)
        return list(dict.fromkeys(plot.area for plot in self.plots))

    def match_areas(self, query: str) -> list[str]:
        """Find the areas a user's wording refers to.

        Matching ignores case, folds å/ä/ö to a/a/o and accepts a part of the name, so
        ``"sodra hamnen"``, ``"hamnen"`` and ``"logistikparken"`` all match.

        Args:
            query: The area as the user wrote it.

        Returns:
            Matching area names in file order; empty if nothing matches.

        """
        wanted = fold(query)
        if len(wanted.replace(" ", "")) < 3:
            return []
        tokens = [token for token in wanted.split() if token not in _AREA_STOPWORDS]
        matches = []
        for area in self.areas():
            name = fold(area)
            compact_name, compact_wanted = name.replace(" ", ""), wanted.replace(" ", "")
            if compact_wanted in compact_name or compact_name in compact_wanted:
                matches.append(area)
            elif tokens and all(
                any(word.startswith(token) for word in name.split()) for token in tokens
            ):
                matches.append(area)
        return matches

    def find_plots(
        self,
        min_size_m2: int | None = None,
        area: str | None = None,
        include_unavailable: bool = False,
    ) -> list[Plot]:
        """Find plots for a business.

        Args:
            min_size_m2: Size the business asks for. Plots of at least
                :data:`MIN_SIZE_TOLERANCE` of it match and are sorted by how close they are
                to it. None means any size, in file order.
            area: Area as the user wrote it (see :meth:`match_areas`). None or blank means
                any area; an area that matches nothing gives an empty list.
            include_unavailable: Also return reserved and sold plots.

        Returns:
            Matching plots, best first.

        Raises:
            ValueError: If ``min_size_m2`` is not positive.

        """
        plots = [plot for plot in self.plots if include_unavailable or plot.is_available]
        if area is not None and area.strip():
            areas = set(self.match_areas(area))
            plots = [plot for plot in plots if plot.area in areas]
        if min_size_m2 is not None:
            if min_size_m2 <= 0:
                raise ValueError(f"min_size_m2 must be positive, got {min_size_m2}")
            requested = min_size_m2
            plots = [plot for plot in plots if plot.size_m2 >= MIN_SIZE_TOLERANCE * requested]
            plots.sort(key=lambda plot: (abs(plot.size_m2 - requested), plot.size_m2 < requested))
        return plots


def fold(text: str) -> str:
    """Normalise text for forgiving matching: lower case, å/ä/ö → a/a/o, no punctuation."""
    folded = text.casefold().replace("å", "a").replace("ä", "a").replace("ö", "o")
    folded = unicodedata.normalize("NFKD", folded)
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    folded = re.sub(r"[^0-9a-z]+", " ", folded)
    return folded.strip()


# --------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------


class _Problems:
    """Collects validation problems for one file."""

    def __init__(self, label: str, sink: list[str]) -> None:
        self.label = label
        self.sink = sink

    def add(self, path: str, message: str) -> None:
        self.sink.append(f"{self.label}: {path}: {message}" if path else f"{self.label}: {message}")

    def text(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        """Return a required non-empty string, or report a problem and return None."""
        key_path = f"{path}.{key}" if path else key
        if key not in data or data[key] is None:
            self.add(key_path, "missing required value")
            return None
        value = data[key]
        if not isinstance(value, str):
            self.add(key_path, f"must be text, got {value!r} (put the value in quotes)")
            return None
        if not value.strip():
            self.add(key_path, "must not be empty")
            return None
        return value.strip()

    def link(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        """Return a required http(s) URL, or report a problem and return None."""
        value = self.text(data, key, path)
        if value is not None and not value.startswith(("https://", "http://")):
            self.add(
                f"{path}.{key}", f"must be a web address starting with https://, got {value!r}"
            )
            return None
        return value

    def positive_int(self, data: Mapping[str, Any], key: str, path: str) -> int | None:
        """Return a required positive integer, or report a problem and return None."""
        key_path = f"{path}.{key}"
        value = data.get(key)
        if value is None:
            self.add(key_path, "missing required value")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.add(key_path, f"must be a positive whole number, got {value!r}")
            return None
        return value

    def mapping(self, value: object, path: str, what: str) -> Mapping[str, Any] | None:
        """Return ``value`` if it is a mapping, or report a problem and return None."""
        if isinstance(value, Mapping):
            return value
        if value is None:
            self.add(path, f"missing {what}")
        else:
            self.add(path, f"must be {what}, got {type(value).__name__}")
        return None

    def unknown_keys(self, data: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
        """Report keys of ``data`` that are not in ``allowed``."""
        for key in data:
            if key not in allowed:
                key_path = f"{path}.{key}" if path else str(key)
                self.add(key_path, f"unknown key (allowed: {', '.join(allowed)})")

    def demo(self, data: Mapping[str, Any]) -> bool:
        """Return the file's ``demo`` flag (False if absent)."""
        value = data.get("demo", False)
        if not isinstance(value, bool):
            self.add("demo", f"must be true or false, got {value!r}")
            return False
        return value


def _label(path: Path) -> str:
    """Return the path as shown in messages: relative to the working directory if possible."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _read_yaml(path: Path, problems: _Problems) -> Mapping[str, Any] | None:
    """Read one YAML file whose top level must be a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add("", "file not found")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.add("", f"cannot read file: {exc}")
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.add("", "invalid YAML: " + " ".join(str(exc).split()))
        return None
    if not isinstance(data, Mapping):
        problems.add("", "the file must contain keys at the top level (e.g. 'demo:')")
        return None
    return data


def _parse_time(value: object, path: str, problems: _Problems) -> dt.time | None:
    if value is None:
        problems.add(path, "missing required value")
        return None
    if not isinstance(value, str):
        problems.add(path, f'must be a time "HH:MM" in quotes, got {value!r}')
        return None
    match = _TIME_RE.match(value.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        problems.add(path, f'must be a time "HH:MM" between 00:00 and 23:59, got {value!r}')
        return None
    return dt.time(int(match[1]), int(match[2]))


def _load_opening_hours(
    value: object, path: str, problems: _Problems
) -> tuple[OpeningHours, ...] | None:
    if not isinstance(value, list) or not value:
        problems.add(path, "must be a non-empty list of {days, open, close}")
        return None
    result: list[OpeningHours] = []
    ok = True
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        entry = problems.mapping(item, item_path, "a mapping with days, open and close")
        if entry is None:
            ok = False
            continue
        problems.unknown_keys(entry, ("days", "open", "close"), item_path)
        days = entry.get("days")
        day_codes: list[str] = []
        if not isinstance(days, list) or not days:
            problems.add(f"{item_path}.days", f"must be a non-empty list of {', '.join(WEEKDAYS)}")
            ok = False
        else:
            for day in days:
                if day not in WEEKDAYS:
                    problems.add(
                        f"{item_path}.days",
                        f"unknown day {day!r} (allowed: {', '.join(WEEKDAYS)})",
                    )
                    ok = False
                elif day in day_codes:
                    problems.add(f"{item_path}.days", f"day {day!r} is listed twice")
                    ok = False
                else:
                    day_codes.append(day)
        opens = _parse_time(entry.get("open"), f"{item_path}.open", problems)
        closes = _parse_time(entry.get("close"), f"{item_path}.close", problems)
        if opens is None or closes is None:
            ok = False
            continue
        if opens >= closes:
            problems.add(item_path, f"open {opens:%H:%M} must be before close {closes:%H:%M}")
            ok = False
            continue
        result.append(OpeningHours(days=tuple(day_codes), open=opens, close=closes))
    return tuple(result) if ok else None


def _load_units(data: Mapping[str, Any], problems: _Problems) -> dict[str, Unit] | None:
    """Validate ``units``; return the units, or None if the section is unusable."""
    section = problems.mapping(data.get("units"), "units", "a mapping of unit id to unit")
    if section is None:
        return None
    units: dict[str, Unit] = {}
    for unit_id, raw in section.items():
        path = f"units.{unit_id}"
        if not isinstance(unit_id, str) or not _ID_RE.match(unit_id):
            problems.add(path, "unit id must be lower-case letters, digits and _")
        entry = problems.mapping(raw, path, "a mapping")
        if entry is None:
            continue
        problems.unknown_keys(entry, (*_UNIT_FIELDS, "opening_hours"), path)
        fields = {key: problems.text(entry, key, path) for key in _UNIT_FIELDS}
        email = fields["email"]
        if email is not None and not _EMAIL_RE.match(email):
            problems.add(f"{path}.email", f"not an e-mail address: {email!r}")
        hours = _load_opening_hours(entry.get("opening_hours"), f"{path}.opening_hours", problems)
        name, role, phone = fields["name"], fields["role"], fields["phone"]
        if name is None or role is None or email is None or phone is None or hours is None:
            continue
        units[str(unit_id)] = Unit(
            id=str(unit_id), name=name, role=role, email=email, phone=phone, opening_hours=hours
        )
    if not section:
        problems.add("units", "at least one unit is needed")
    return units


def _check_unit(
    unit_id: str | None, path: str, known: Sequence[str] | None, problems: _Problems
) -> None:
    if unit_id is not None and known is not None and unit_id not in known:
        problems.add(path, f"unknown unit {unit_id!r} (known: {', '.join(known)})")


def _load_topics(
    data: Mapping[str, Any], known_units: Sequence[str] | None, problems: _Problems
) -> dict[str, Topic]:
    section = problems.mapping(data.get("topics"), "topics", "a mapping of topic to routing")
    topics: dict[str, Topic] = {}
    if section is None:
        return topics
    for topic_id in TOPICS:
        if topic_id not in section:
            problems.add(f"topics.{topic_id}", "missing topic")
    for topic_id, raw in section.items():
        path = f"topics.{topic_id}"
        if topic_id not in TOPICS:
            problems.add(path, f"unknown topic (known: {', '.join(TOPICS)})")
            continue
        entry = problems.mapping(raw, path, "a mapping")
        if entry is None:
            continue
        problems.unknown_keys(entry, ("unit", "answer", "link", "service_promise"), path)
        unit = problems.text(entry, "unit", path)
        _check_unit(unit, f"{path}.unit", known_units, problems)
        answer = problems.text(entry, "answer", path)
        link = problems.link(entry, "link", path)
        promise_path = f"{path}.service_promise"
        promise = problems.mapping(entry.get("service_promise"), promise_path, "a mapping")
        first = resolution = None
        if promise is not None:
            promise_keys = ("first_response_working_days", "resolution_working_days")
            problems.unknown_keys(promise, promise_keys, promise_path)
            first = problems.positive_int(promise, promise_keys[0], promise_path)
            resolution = problems.positive_int(promise, promise_keys[1], promise_path)
            if first is not None and resolution is not None and first > resolution:
                problems.add(
                    promise_path,
                    "first_response_working_days must not be more than resolution_working_days",
                )
        if unit is None or answer is None or link is None or first is None or resolution is None:
            continue
        topics[topic_id] = Topic(
            id=topic_id,
            unit=unit,
            answer=answer,
            link=link,
            first_response_working_days=first,
            resolution_working_days=resolution,
        )
    return topics


def _load_permits(
    data: Mapping[str, Any], known_units: Sequence[str] | None, problems: _Problems
) -> dict[str, PermitInfo]:
    section = problems.mapping(data.get("permits"), "permits", "a mapping of permit type to guide")
    permits: dict[str, PermitInfo] = {}
    if section is None:
        return permits
    for permit_type in PERMIT_TYPES:
        if permit_type not in section:
            problems.add(f"permits.{permit_type}", "missing permit type")
    for permit_type, raw in section.items():
        path = f"permits.{permit_type}"
        if permit_type not in PERMIT_TYPES:
            problems.add(path, f"unknown permit type (known: {', '.join(PERMIT_TYPES)})")
            continue
        entry = problems.mapping(raw, path, "a mapping")
        if entry is None:
            continue
        problems.unknown_keys(entry, (*_PERMIT_FIELDS, "submit"), path)
        fields = {
            key: (
                problems.link(entry, key, path)
                if key == "link"
                else problems.text(entry, key, path)
            )
            for key in _PERMIT_FIELDS
        }
        _check_unit(fields["unit"], f"{path}.unit", known_units, problems)
        submit = entry.get("submit")
        submit_items: list[str] = []
        if not isinstance(submit, list) or not submit:
            problems.add(f"{path}.submit", "must be a non-empty list of what to submit")
        else:
            for index, item in enumerate(submit):
                if not isinstance(item, str) or not item.strip():
                    problems.add(f"{path}.submit[{index}]", "must be non-empty text")
                else:
                    submit_items.append(item.strip())
        name, what, when_needed = fields["name"], fields["what"], fields["when_needed"]
        unit, handling_time, fee, link = (
            fields["unit"],
            fields["handling_time"],
            fields["fee"],
            fields["link"],
        )
        if (
            name is None
            or what is None
            or when_needed is None
            or unit is None
            or handling_time is None
            or fee is None
            or link is None
            or not submit_items
        ):
            continue
        permits[permit_type] = PermitInfo(
            permit_type=permit_type,
            name=name,
            what=what,
            when_needed=when_needed,
            submit=tuple(submit_items),
            unit=unit,
            handling_time=handling_time,
            fee=fee,
            link=link,
        )
    return permits


def _load_areas(data: Mapping[str, Any], problems: _Problems) -> tuple[str, ...]:
    value = data.get("areas")
    if not isinstance(value, list) or not value:
        problems.add("areas", "must be a non-empty list of area names")
        return ()
    areas: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            problems.add(f"areas[{index}]", "must be non-empty text")
        elif item.strip() in areas:
            problems.add(f"areas[{index}]", f"area {item!r} is listed twice")
        else:
            areas.append(item.strip())
    return tuple(areas)


def _load_plots(
    data: Mapping[str, Any], areas: Sequence[str], problems: _Problems
) -> tuple[Plot, ...]:
    value = data.get("plots")
    if not isinstance(value, list):
        problems.add("plots", "must be a list of plots (use 'plots: []' for none)")
        return ()
    plots: list[Plot] = []
    seen: dict[str, int] = {}
    services_by_fold = {service.casefold(): service for service in PLOT_SERVICES}
    allowed = ("id", "area", "size_m2", "price_per_m2", "zoning", "services", "status", "note")
    for index, raw in enumerate(value):
        path = f"plots[{index}]"
        entry = problems.mapping(raw, path, "a mapping")
        if entry is None:
            continue
        problems.unknown_keys(entry, allowed, path)
        plot_id = problems.text(entry, "id", path)
        if plot_id is not None:
            if plot_id in seen:
                problems.add(
                    f"{path}.id", f"duplicate plot id {plot_id!r} (also plots[{seen[plot_id]}])"
                )
                plot_id = None
            else:
                seen[plot_id] = index
        area = problems.text(entry, "area", path)
        if area is not None and areas and area not in areas:
            problems.add(f"{path}.area", f"unknown area {area!r} (known: {', '.join(areas)})")
            area = None
        size = problems.positive_int(entry, "size_m2", path)
        price = problems.positive_int(entry, "price_per_m2", path)
        zoning = problems.text(entry, "zoning", path)
        status = problems.text(entry, "status", path)
        if status is not None and status not in PLOT_STATUSES:
            problems.add(
                f"{path}.status", f"unknown status {status!r} (allowed: {', '.join(PLOT_STATUSES)})"
            )
            status = None
        services: list[str] = []
        raw_services = entry.get("services", [])
        services_ok = isinstance(raw_services, list)
        if not services_ok:
            problems.add(f"{path}.services", f"must be a list of {', '.join(PLOT_SERVICES)}")
        else:
            for service in raw_services:
                canonical = services_by_fold.get(str(service).casefold())
                if canonical is None:
                    problems.add(
                        f"{path}.services",
                        f"unknown service {service!r} (allowed: {', '.join(PLOT_SERVICES)})",
                    )
                    services_ok = False
                elif canonical not in services:
                    services.append(canonical)
        note = entry.get("note")
        if note is not None and (not isinstance(note, str) or not note.strip()):
            problems.add(f"{path}.note", "must be non-empty text or left out")
            note = None
        if (
            plot_id is None
            or area is None
            or size is None
            or price is None
            or zoning is None
            or status is None
            or not services_ok
        ):
            continue
        plots.append(
            Plot(
                id=plot_id,
                area=area,
                size_m2=size,
                price_per_m2=price,
                zoning=zoning,
                services=tuple(services),
                status=status,
                note=note.strip() if isinstance(note, str) else None,
            )
        )
    return tuple(plots)


def load_knowledge(directory: Path) -> Knowledge:
    """Read and validate the knowledge files.

    Args:
        directory: Folder holding ``permits.yml``, ``routing.yml`` and ``plots.yml``.

    Returns:
        The validated knowledge.

    Raises:
        KnowledgeError: Listing every problem found in the three files.

    """
    errors: list[str] = []
    routing_problems = _Problems(_label(directory / ROUTING_FILE), errors)
    permits_problems = _Problems(_label(directory / PERMITS_FILE), errors)
    plots_problems = _Problems(_label(directory / PLOTS_FILE), errors)

    routing = _read_yaml(directory / ROUTING_FILE, routing_problems)
    permits_data = _read_yaml(directory / PERMITS_FILE, permits_problems)
    plots_data = _read_yaml(directory / PLOTS_FILE, plots_problems)

    demo = False
    units: dict[str, Unit] | None = None
    topics: dict[str, Topic] = {}
    contact_centre: str | None = None
    if routing is not None:
        routing_problems.unknown_keys(routing, ("demo", "units", "topics", "contact_centre"), "")
        demo = routing_problems.demo(routing) or demo
        units = _load_units(routing, routing_problems)
        # Only check references against the units section if it could be read at all.
        known_units = list(routing["units"]) if isinstance(routing.get("units"), Mapping) else None
        topics = _load_topics(routing, known_units, routing_problems)
        contact_centre = routing_problems.text(routing, "contact_centre", "")
        _check_unit(contact_centre, "contact_centre", known_units, routing_problems)
    else:
        known_units = None

    permits: dict[str, PermitInfo] = {}
    if permits_data is not None:
        permits_problems.unknown_keys(permits_data, ("demo", "permits"), "")
        demo = permits_problems.demo(permits_data) or demo
        permits = _load_permits(permits_data, known_units, permits_problems)

    areas: tuple[str, ...] = ()
    plots: tuple[Plot, ...] = ()
    if plots_data is not None:
        plots_problems.unknown_keys(plots_data, ("demo", "areas", "plots"), "")
        demo = plots_problems.demo(plots_data) or demo
        areas = _load_areas(plots_data, plots_problems)
        plots = _load_plots(plots_data, areas, plots_problems)

    if errors or units is None or contact_centre is None:
        raise KnowledgeError(errors or ["knowledge files could not be read"])
    return Knowledge(
        permits=MappingProxyType({key: permits[key] for key in PERMIT_TYPES}),
        units=MappingProxyType(units),
        topics=MappingProxyType({key: topics[key] for key in TOPICS}),
        plots=plots,
        contact_centre=contact_centre,
        demo=demo,
        known_areas=areas,
    )


def default_knowledge_dir() -> Path:
    """Return the folder with the knowledge files.

    Returns:
        The path in the environment variable ``KNOWLEDGE_DIR`` if set, otherwise the
        ``knowledge`` folder of the repository (next to the ``bot`` package).

    """
    configured = os.environ.get("KNOWLEDGE_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parent.parent / "knowledge"


@functools.lru_cache(maxsize=1)
def get_knowledge() -> Knowledge:
    """Return the knowledge from :func:`default_knowledge_dir`, loaded once and cached.

    Call ``get_knowledge.cache_clear()`` to reload.

    Returns:
        The validated knowledge.

    Raises:
        KnowledgeError: If the files are missing or invalid.

    """
    return load_knowledge(default_knowledge_dir())


def main(argv: Sequence[str] | None = None) -> int:
    """Validate the knowledge files and print a summary or the problems.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        0 if the files are valid, 1 otherwise.

    """
    parser = argparse.ArgumentParser(
        prog="python -m bot.knowledge",
        description="Validate Företagslotsen's knowledge files (permits, routing, plots).",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="folder with permits.yml, routing.yml and plots.yml "
        "(default: $KNOWLEDGE_DIR or the repository's knowledge/ folder)",
    )
    args = parser.parse_args(argv)
    directory: Path = args.dir if args.dir is not None else default_knowledge_dir()
    try:
        knowledge = load_knowledge(directory)
    except KnowledgeError as exc:
        print(exc, file=sys.stderr)
        return 1
    available = sum(1 for plot in knowledge.plots if plot.is_available)
    print(f"Knowledge files in {_label(directory)} are valid.")
    print(f"  permit types: {len(knowledge.permits)}")
    print(f"  units:        {len(knowledge.units)} (contact centre: {knowledge.contact_centre})")
    print(f"  topics:       {len(knowledge.topics)}")
    print(f"  areas:        {len(knowledge.areas())}")
    print(f"  plots:        {len(knowledge.plots)} ({available} available)")
    if knowledge.demo:
        print("  WARNING: demo data (demo: true). Replace it before the bot goes live.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
