"""Tests for bot.replies: Swedish answers composed from the knowledge files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.knowledge import PERMIT_TYPES, Knowledge, load_knowledge
from bot.permit_matcher import canonical as canonical_permit_type
from bot.replies import (
    COMMON_PERMITS,
    ask_which_permit,
    format_number,
    human_contact_answer,
    permit_answer,
    plots_answer,
    topic_answer,
)
from bot.worktime import STOCKHOLM

KNOWLEDGE_DIR = Path(__file__).resolve().parents[2] / "knowledge"
UNAVAILABLE_PLOTS = ("NOR-03", "SHA-02", "VER-03", "LOG-03")


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge(KNOWLEDGE_DIR)


# --- permit types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Serveringstillstånd", "serveringstillstand"),
        ("serveringstillstand", "serveringstillstand"),
        ("brandfarlig vara", "brandfarlig_vara"),
        ("Brandfarlig_Vara", "brandfarlig_vara"),
        ("Miljöfarlig verksamhet", "miljofarlig_verksamhet"),
        ("BYGGLOV", "bygglov"),
    ],
)
def test_canonical_permit_type_maps_spellings(value: str, expected: str) -> None:
    assert canonical_permit_type(value) == expected


@pytest.mark.parametrize("value", ["fiskekort", "bygg", "", None])
def test_canonical_permit_type_returns_none_for_unknown(value: str | None) -> None:
    assert canonical_permit_type(value) is None


def test_every_permit_type_maps_to_itself() -> None:
    assert all(canonical_permit_type(permit) == permit for permit in PERMIT_TYPES)


def test_format_number_uses_a_space_between_thousands() -> None:
    assert format_number(1_234_567) == "1 234 567"
    assert format_number(500) == "500"


# --- permit answer -----------------------------------------------------------------------


@pytest.mark.parametrize("permit_type", ["bygglov", "serveringstillstand", "brandfarlig_vara"])
def test_permit_answer_names_the_guide_unit_phone_and_link(
    knowledge: Knowledge, permit_type: str
) -> None:
    info = knowledge.permits[permit_type]
    unit = knowledge.units[info.unit]
    reply = permit_answer(info, unit)
    assert reply.text.startswith(f"{info.name}: ")
    for part in (info.what, info.when_needed, info.handling_time, info.fee, *info.submit):
        assert part in reply.text
    assert unit.name in reply.text
    assert unit.phone in reply.text
    assert unit.email in reply.text
    assert f"Läs mer: {info.link}" in reply.text
    assert reply.buttons == ()


def test_ask_which_permit_offers_buttons_for_common_permits(knowledge: Knowledge) -> None:
    reply = ask_which_permit(knowledge)
    assert "Vilket tillstånd" in reply.text
    assert [button.title for button in reply.buttons] == [
        knowledge.permits[permit].name for permit in COMMON_PERMITS
    ]
    for button, permit in zip(reply.buttons, COMMON_PERMITS, strict=True):
        assert button.payload == f'/ask_permit{{"permit_type":"{permit}"}}'
        entities = json.loads(button.payload.removeprefix("/ask_permit"))
        assert entities == {"permit_type": permit}
        assert permit in PERMIT_TYPES


# --- plots -------------------------------------------------------------------------------


def test_plots_answer_with_size_and_area_lists_matching_plots(knowledge: Knowledge) -> None:
    reply, matched = plots_answer(knowledge, 5000, "södra hamnen")
    assert matched is True
    assert "cirka 5 000 m²" in reply.text
    assert "i södra hamnen" in reply.text
    assert reply.text.index("SHA-03") < reply.text.index("SHA-01")  # closest size first
    assert "NOR-01" not in reply.text
    assert knowledge.topics["industrial_land"].link in reply.text


def test_plots_answer_with_size_only(knowledge: Knowledge) -> None:
    reply, matched = plots_answer(knowledge, 40_000, None)
    assert matched is True
    assert "LOG-02" in reply.text
    assert "LOG-01" in reply.text
    assert "VER-01" not in reply.text


def test_plots_answer_with_area_without_swedish_letters(knowledge: Knowledge) -> None:
    reply, matched = plots_answer(knowledge, None, "logistikparken ost")
    assert matched is True
    assert "LOG-01, Logistikparken Öst: 60 000 m², 180 kr/m²" in reply.text


def test_plots_answer_without_filters_lists_five_and_counts_the_rest(
    knowledge: Knowledge,
) -> None:
    reply, matched = plots_answer(knowledge, None, None)
    available = knowledge.find_plots()
    assert matched is True
    assert "Här är kommunens lediga tomter" in reply.text
    assert sum(plot.id in reply.text for plot in available) == 5
    assert f"…och {len(available) - 5} till." in reply.text


@pytest.mark.parametrize(
    ("size", "area"),
    [(1_000_000, None), (None, "Månbasen"), (5000, "Månbasen"), (100_000, "Verkstadsvägen")],
)
def test_plots_answer_with_impossible_filters_still_lists_available_plots(
    knowledge: Knowledge, size: int | None, area: str | None
) -> None:
    reply, matched = plots_answer(knowledge, size, area)
    assert matched is False
    assert "Jag hittar ingen ledig tomt som passar" in reply.text
    assert "NOR-01" in reply.text  # the first available plot


@pytest.mark.parametrize(
    ("size", "area"),
    [(None, None), (3000, None), (20_000, "södra hamnen"), (None, "Verkstadsvägen"), (1, None)],
)
def test_plots_answer_never_lists_sold_or_reserved_plots(
    knowledge: Knowledge, size: int | None, area: str | None
) -> None:
    reply, _matched = plots_answer(knowledge, size, area)
    assert not any(plot_id in reply.text for plot_id in UNAVAILABLE_PLOTS)


# --- topics ------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["skills_supply", "start_business", "other"])
def test_topic_answer_gives_the_units_contact(knowledge: Knowledge, topic: str) -> None:
    reply = topic_answer(knowledge, topic)
    unit = knowledge.unit_for(topic)
    assert knowledge.topics[topic].answer in reply.text
    assert unit.phone in reply.text
    assert unit.email in reply.text
    assert knowledge.topics[topic].link in reply.text


# --- human contact -----------------------------------------------------------------------


def test_human_contact_answer_when_open_gives_phone_now(knowledge: Knowledge) -> None:
    unit = knowledge.units["bygglov"]
    reply = human_contact_answer(unit, dt.datetime(2026, 3, 10, 10, 0, tzinfo=STOCKHOLM))
    assert "har öppet nu" in reply.text
    assert f"Ring {unit.phone}" in reply.text
    assert unit.email in reply.text
    assert "måndag–torsdag 08:00–16:30" in reply.text


def test_human_contact_answer_on_saturday_says_when_they_open(knowledge: Knowledge) -> None:
    unit = knowledge.units["bygglov"]
    reply = human_contact_answer(unit, dt.datetime(2026, 3, 14, 10, 0, tzinfo=STOCKHOLM))
    assert "har stängt just nu" in reply.text
    assert "De öppnar igen måndag 16 mars klockan 08:00" in reply.text
    assert "har öppet nu" not in reply.text
    assert unit.email in reply.text


def test_human_contact_answer_accepts_utc_times(knowledge: Knowledge) -> None:
    unit = knowledge.units["kontaktcenter"]
    # 15:30 UTC on a Friday in March is 16:30 in Stockholm: the contact centre has closed.
    reply = human_contact_answer(unit, dt.datetime(2026, 3, 13, 15, 30, tzinfo=dt.timezone.utc))
    assert "De öppnar igen måndag 16 mars klockan 08:00" in reply.text


def test_human_contact_answer_after_christmas_eve_opens_after_the_holidays(
    knowledge: Knowledge,
) -> None:
    unit = knowledge.units["naringsliv"]
    reply = human_contact_answer(unit, dt.datetime(2026, 12, 23, 18, 0, tzinfo=STOCKHOLM))
    assert "De öppnar igen måndag 28 december klockan 08:00" in reply.text
