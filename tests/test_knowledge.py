"""Tests for bot.knowledge: the shipped knowledge files, queries and validation."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot import knowledge as kb
from bot.knowledge import (
    PERMIT_TYPES,
    TOPICS,
    Knowledge,
    KnowledgeError,
    OpeningHours,
    Unit,
    default_knowledge_dir,
    get_knowledge,
    load_knowledge,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "knowledge"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
FILES = ("permits.yml", "routing.yml", "plots.yml")


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge(SHIPPED)


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge files."""
    target = tmp_path / "knowledge"
    target.mkdir()
    for name in FILES:
        shutil.copy(SHIPPED / name, target / name)
    return target


def edit(directory: Path, filename: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / filename
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def load_errors(directory: Path) -> KnowledgeError:
    with pytest.raises(KnowledgeError) as excinfo:
        load_knowledge(directory)
    return excinfo.value


def unit(days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")) -> Unit:
    return Unit(
        id="test",
        name="Testenheten",
        role="handläggare",
        email="test@lotsby.se",
        phone="0123-45 67 99",
        opening_hours=(OpeningHours(days=days, open=dt.time(8, 0), close=dt.time(16, 30)),),
    )


def stockholm(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


# --- the shipped files -------------------------------------------------------------------


def test_shipped_files_load_and_cover_all_permit_types_and_topics(knowledge: Knowledge) -> None:
    assert set(knowledge.permits) == set(PERMIT_TYPES)
    assert len(PERMIT_TYPES) == 14
    assert set(knowledge.topics) == set(TOPICS)
    assert TOPICS == ("permit", "industrial_land", "skills_supply", "start_business", "other")


def test_shipped_files_are_marked_as_demo_data(knowledge: Knowledge) -> None:
    assert knowledge.demo is True
    for name in FILES:
        text = (SHIPPED / name).read_text(encoding="utf-8")
        assert text.startswith("#")
        assert "DEMODATA" in text.split("demo:")[0]
        assert "Lotsby kommun" in text.split("demo:")[0]
        assert yaml.safe_load(text)["demo"] is True


def test_every_permit_has_a_complete_guide_and_an_existing_unit(knowledge: Knowledge) -> None:
    for permit_type, permit in knowledge.permits.items():
        assert permit.permit_type == permit_type
        assert permit.unit in knowledge.units
        assert permit.name and permit.what and permit.when_needed and permit.handling_time
        assert permit.submit
        assert permit.fee
        assert permit.link.startswith("https://")


def test_every_topic_routes_to_an_existing_unit(knowledge: Knowledge) -> None:
    for topic in knowledge.topics.values():
        assert topic.unit in knowledge.units
        assert 1 <= topic.first_response_working_days <= topic.resolution_working_days
    assert knowledge.contact_centre == "kontaktcenter"
    assert knowledge.contact_centre_unit.name == "Kontaktcenter"


def test_shipped_contact_details_are_fictional_lotsby_addresses(knowledge: Knowledge) -> None:
    assert len(knowledge.units) == 7
    for unit_ in knowledge.units.values():
        assert unit_.email.endswith("@lotsby.se")
        assert unit_.phone.startswith("0123-")


def test_permits_are_routed_to_the_responsible_unit(knowledge: Knowledge) -> None:
    assert knowledge.permits["bygglov"].unit == "bygglov"
    assert knowledge.permits["serveringstillstand"].unit == "tillstand"
    assert knowledge.permits["tobakstillstand"].unit == "tillstand"
    assert knowledge.permits["brandfarlig_vara"].unit == "raddning"
    assert knowledge.permits["hygienisk_verksamhet"].unit == "miljo"
    assert knowledge.permits["livsmedelsregistrering"].unit == "miljo"


# --- permit and unit lookups -------------------------------------------------------------


def test_permit_lookup_forgives_case_swedish_letters_and_spaces(knowledge: Knowledge) -> None:
    serveringstillstand = knowledge.permit("serveringstillstand")
    assert serveringstillstand is not None
    assert serveringstillstand.name == "Serveringstillstånd"
    assert knowledge.permit("Serveringstillstånd") == serveringstillstand
    assert knowledge.permit("brandfarlig vara") == knowledge.permits["brandfarlig_vara"]


def test_unknown_permit_type_returns_none(knowledge: Knowledge) -> None:
    assert knowledge.permit("fiskekort") is None


def test_unit_for_permit_uses_the_permits_own_unit(knowledge: Knowledge) -> None:
    assert knowledge.unit_for("permit", "serveringstillstand").id == "tillstand"
    assert knowledge.unit_for("permit", "brandfarlig_vara").id == "raddning"
    assert knowledge.unit_for("permit", "enskilt_avlopp").id == "miljo"


def test_unit_for_permit_without_known_type_defaults_to_bygglov(knowledge: Knowledge) -> None:
    assert knowledge.unit_for("permit").id == "bygglov"
    assert knowledge.unit_for("permit", "okänt").id == "bygglov"


def test_unit_for_other_topics_follows_routing(knowledge: Knowledge) -> None:
    assert knowledge.unit_for("industrial_land").id == "naringsliv"
    assert knowledge.unit_for("skills_supply").id == "kompetens"
    assert knowledge.unit_for("start_business").id == "naringsliv"
    assert knowledge.unit_for("other").id == "kontaktcenter"
    # A permit type only matters for the permit topic.
    assert knowledge.unit_for("skills_supply", "serveringstillstand").id == "kompetens"


def test_unit_for_unknown_topic_raises(knowledge: Knowledge) -> None:
    with pytest.raises(ValueError, match="unknown topic 'weather'"):
        knowledge.unit_for("weather")


def test_topic_answers_mention_what_the_municipality_offers(knowledge: Knowledge) -> None:
    skills = knowledge.topics["skills_supply"].answer
    for word in ("matchning", "Arbetsförmedlingen", "praktik", "APL", "feriejobb"):
        assert word in skills
    start = knowledge.topics["start_business"].answer
    for word in ("Nyföretagarcentrum", "verksamt.se", "F-skatt", "Skatteverket", "Bolagsverket"):
        assert word in start
    assert "markanvisning" in knowledge.topics["industrial_land"].answer
    assert "kontaktcenter" in knowledge.topics["other"].answer


# --- plots -------------------------------------------------------------------------------


def test_shipped_plots_use_only_the_known_areas(knowledge: Knowledge) -> None:
    expected = [
        "Norra industriområdet",
        "Södra hamnen",
        "Verkstadsvägen",
        "Logistikparken Öst",
        "Kvarnbacken",
    ]
    assert knowledge.areas() == expected
    assert {plot.area for plot in knowledge.plots} == set(expected)
    assert len({plot.id for plot in knowledge.plots}) == len(knowledge.plots)
    assert all(1500 <= plot.size_m2 <= 60000 for plot in knowledge.plots)
    assert all(150 <= plot.price_per_m2 <= 900 for plot in knowledge.plots)


def test_find_plots_by_size_returns_closest_first(knowledge: Knowledge) -> None:
    plots = knowledge.find_plots(min_size_m2=5000)
    assert [plot.id for plot in plots[:3]] == ["NOR-01", "SHA-03", "KVA-01"]
    assert all(plot.size_m2 >= 4000 for plot in plots)


def test_find_plots_by_size_leaves_out_plots_below_80_percent(knowledge: Knowledge) -> None:
    ids = {plot.id for plot in knowledge.find_plots(min_size_m2=2400)}
    assert "VER-02" in ids  # 2500 m²
    assert "KVA-02" in ids  # 2200 m², over 80 % of 2400
    assert "VER-01" not in ids  # 1800 m², under 80 %


def test_find_plots_by_area_without_swedish_letters(knowledge: Knowledge) -> None:
    plots = knowledge.find_plots(area="sodra hamnen")
    assert [plot.id for plot in plots] == ["SHA-01", "SHA-03"]
    assert knowledge.find_plots(area="SÖDRA HAMNEN") == plots


def test_find_plots_by_part_of_area_name(knowledge: Knowledge) -> None:
    assert [plot.id for plot in knowledge.find_plots(area="logistikparken")] == [
        "LOG-01",
        "LOG-02",
    ]
    assert knowledge.match_areas("hamnen") == ["Södra hamnen"]
    assert knowledge.match_areas("i norra området") == ["Norra industriområdet"]


def test_find_plots_with_unknown_area_returns_nothing(knowledge: Knowledge) -> None:
    assert knowledge.find_plots(area="Månbasen") == []
    assert knowledge.match_areas("x") == []


def test_find_plots_by_size_and_area(knowledge: Knowledge) -> None:
    plots = knowledge.find_plots(min_size_m2=40000, area="logistikparken ost")
    assert [plot.id for plot in plots] == ["LOG-02", "LOG-01"]


def test_find_plots_excludes_sold_and_reserved_by_default(knowledge: Knowledge) -> None:
    available = knowledge.find_plots()
    assert available
    assert all(plot.status == "ledig" for plot in available)
    assert {"NOR-03", "SHA-02"}.isdisjoint(plot.id for plot in available)
    everything = knowledge.find_plots(include_unavailable=True)
    assert {plot.status for plot in everything} == {"ledig", "reserverad", "såld"}
    assert len(everything) == len(knowledge.plots)


def test_find_plots_rejects_non_positive_size(knowledge: Knowledge) -> None:
    with pytest.raises(ValueError, match="positive"):
        knowledge.find_plots(min_size_m2=0)


def test_plot_total_price_is_size_times_price(knowledge: Knowledge) -> None:
    plot = knowledge.find_plots(area="Verkstadsvägen")[0]
    assert plot.total_price == plot.size_m2 * plot.price_per_m2


# --- opening hours -----------------------------------------------------------------------


def test_is_open_on_a_weekday_morning_in_stockholm() -> None:
    assert unit().is_open(stockholm(2026, 3, 10, 10, 0))  # Tuesday


def test_is_open_is_false_on_saturday() -> None:
    assert not unit().is_open(stockholm(2026, 3, 14, 10, 0))


def test_is_open_is_false_before_opening_and_at_closing_time() -> None:
    assert not unit().is_open(stockholm(2026, 3, 10, 7, 59))
    assert not unit().is_open(stockholm(2026, 3, 10, 16, 30))


def test_is_open_converts_other_time_zones_to_stockholm() -> None:
    utc = dt.timezone.utc
    assert unit().is_open(dt.datetime(2026, 3, 10, 9, 30, tzinfo=utc))  # 10:30 CET
    assert not unit().is_open(dt.datetime(2026, 3, 10, 15, 45, tzinfo=utc))  # 16:45 CET
    assert unit().is_open(dt.datetime(2026, 7, 7, 6, 30, tzinfo=utc))  # 08:30 CEST


@pytest.mark.parametrize(
    "holiday",
    [dt.date(2026, 12, 25), dt.date(2026, 5, 1), dt.date(2026, 4, 6)],
    ids=["christmas-day", "may-day", "easter-monday"],
)
def test_is_open_is_false_on_a_swedish_public_holiday(holiday: dt.date) -> None:
    pytest.importorskip("holidays")
    assert holiday.weekday() < 5
    assert not unit().is_open(stockholm(holiday.year, holiday.month, holiday.day, 10, 0))


def test_is_open_is_false_on_midsummer_eve_and_christmas_eve() -> None:
    assert not unit().is_open(stockholm(2026, 6, 19, 10, 0))  # Friday
    assert not unit().is_open(stockholm(2026, 12, 24, 10, 0))  # Thursday


def test_units_open_on_weekends_are_open_on_ordinary_sundays() -> None:
    always = unit(days=kb.WEEKDAYS)
    assert always.is_open(stockholm(2026, 3, 15, 10, 0))  # an ordinary Sunday


def test_shipped_bygglov_closes_earlier_on_friday(knowledge: Knowledge) -> None:
    bygglov = knowledge.units["bygglov"]
    assert bygglov.is_open(stockholm(2026, 3, 12, 16, 0))  # Thursday
    assert not bygglov.is_open(stockholm(2026, 3, 13, 15, 30))  # Friday


def test_next_opening_from_friday_evening_is_monday_morning() -> None:
    opening = unit().next_opening(stockholm(2026, 3, 13, 18, 0))
    assert opening == stockholm(2026, 3, 16, 8, 0)
    assert opening.tzinfo == STOCKHOLM


def test_next_opening_skips_easter_holidays() -> None:
    pytest.importorskip("holidays")
    # Maundy Thursday evening -> Good Friday and Easter Monday are closed.
    assert unit().next_opening(stockholm(2026, 4, 2, 17, 0)) == stockholm(2026, 4, 7, 8, 0)


def test_next_opening_is_later_the_same_day_before_opening() -> None:
    assert unit().next_opening(stockholm(2026, 3, 10, 6, 0)) == stockholm(2026, 3, 10, 8, 0)


def test_next_opening_while_open_is_now() -> None:
    now = stockholm(2026, 3, 10, 11, 15)
    assert unit().next_opening(now) == now


def test_opening_hours_text_groups_consecutive_days(knowledge: Knowledge) -> None:
    assert (
        knowledge.units["bygglov"].opening_hours_text()
        == "måndag–torsdag 08:00–16:30, fredag 08:00–15:00"
    )
    assert unit().opening_hours_text() == "måndag–fredag 08:00–16:30"
    assert unit(days=("mon", "wed", "thu")).opening_hours_text() == (
        "måndag och onsdag–torsdag 08:00–16:30"
    )


# --- validation of broken files ----------------------------------------------------------


def test_missing_permit_is_reported_with_file_and_key(knowledge_dir: Path) -> None:
    edit(knowledge_dir, "permits.yml", lambda data: data["permits"].pop("tobakstillstand"))
    error = load_errors(knowledge_dir)
    assert any(
        message.endswith("permits.yml: permits.tobakstillstand: missing permit type")
        for message in error.errors
    )


def test_unknown_permit_type_is_reported(knowledge_dir: Path) -> None:
    def add(data: dict[str, Any]) -> None:
        data["permits"]["fiskekort"] = data["permits"]["bygglov"]

    edit(knowledge_dir, "permits.yml", add)
    assert "permits.yml: permits.fiskekort: unknown permit type" in str(load_errors(knowledge_dir))


def test_unknown_unit_is_reported_with_file_and_key(knowledge_dir: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["permits"]["bygglov"]["unit"] = "byggg"

    edit(knowledge_dir, "permits.yml", change)
    message = str(load_errors(knowledge_dir))
    assert (
        "permits.yml: permits.bygglov.unit: unknown unit 'byggg' (known: bygglov, miljo, "
        in message
    )


def test_empty_required_field_is_reported(knowledge_dir: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["permits"]["marklov"]["what"] = " "
        del data["permits"]["skyltlov"]["fee"]
        data["permits"]["rivningslov"]["submit"] = []

    edit(knowledge_dir, "permits.yml", change)
    message = str(load_errors(knowledge_dir))
    assert "permits.marklov.what: must not be empty" in message
    assert "permits.skyltlov.fee: missing required value" in message
    assert "permits.rivningslov.submit: must be a non-empty list" in message


def test_bad_time_is_reported_with_file_and_key(knowledge_dir: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["units"]["miljo"]["opening_hours"][0]["open"] = "25:00"

    edit(knowledge_dir, "routing.yml", change)
    message = str(load_errors(knowledge_dir))
    assert "routing.yml: units.miljo.opening_hours[0].open: must be a time" in message


def test_unquoted_time_read_as_a_number_is_reported(knowledge_dir: Path) -> None:
    path = knowledge_dir / "routing.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('close: "16:30"', "close: 16:30", 1), encoding="utf-8")
    message = str(load_errors(knowledge_dir))
    assert "units.bygglov.opening_hours[0].close: must be a time" in message
    assert "in quotes" in message


def test_opening_after_closing_is_reported(knowledge_dir: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        hours = data["units"]["raddning"]["opening_hours"][0]
        hours["open"], hours["close"] = "17:00", "08:00"

    edit(knowledge_dir, "routing.yml", change)
    message = str(load_errors(knowledge_dir))
    assert "units.raddning.opening_hours[0]: open 17:00 must be before close 08:00" in message


def test_unknown_day_is_reported(knowledge_dir: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["units"]["miljo"]["opening_hours"][0]["days"] = ["mon", "måndag"]

    edit(knowledge_dir, "routing.yml", change)
    assert "units.miljo.opening_hours[0].days: unknown day 'måndag'" in str(
        load_errors(knowledge_dir)
    )


def test_missing_topic_and_unknown_contact_centre_are_reported(knowledge_dir: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        del data["topics"]["skills_supply"]
        data["contact_centre"] = "reception"

    edit(knowledge_dir, "routing.yml", change)
    message = str(load_errors(knowledge_dir))
    assert "routing.yml: topics.skills_supply: missing topic" in message
    assert "routing.yml: contact_centre: unknown unit 'reception'" in message


def test_duplicate_plot_id_is_reported_with_file_and_key(knowledge_dir: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["plots"][1]["id"] = data["plots"][0]["id"]

    edit(knowledge_dir, "plots.yml", change)
    message = str(load_errors(knowledge_dir))
    assert "plots.yml: plots[1].id: duplicate plot id 'NOR-01' (also plots[0])" in message


def test_bad_plot_values_are_reported(knowledge_dir: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["plots"][0]["status"] = "sald"
        data["plots"][1]["area"] = "Månbasen"
        data["plots"][2]["size_m2"] = -5
        data["plots"][3]["services"] = ["el", "gas"]

    edit(knowledge_dir, "plots.yml", change)
    message = str(load_errors(knowledge_dir))
    assert "plots[0].status: unknown status 'sald' (allowed: ledig, reserverad, såld)" in message
    assert "plots[1].area: unknown area 'Månbasen'" in message
    assert "plots[2].size_m2: must be a positive whole number, got -5" in message
    assert "plots[3].services: unknown service 'gas'" in message


def test_all_problems_in_all_files_are_reported_at_once(knowledge_dir: Path) -> None:
    edit(knowledge_dir, "permits.yml", lambda data: data["permits"].pop("marklov"))
    edit(knowledge_dir, "routing.yml", lambda data: data["topics"].pop("other"))
    edit(knowledge_dir, "plots.yml", lambda data: data["plots"][0].update(status="okänd"))
    error = load_errors(knowledge_dir)
    assert len(error.errors) == 3
    assert str(error).startswith("invalid knowledge files (3 problems):")
    assert isinstance(error, ValueError)


def test_missing_file_is_reported(knowledge_dir: Path) -> None:
    (knowledge_dir / "plots.yml").unlink()
    assert any(
        message.endswith("plots.yml: file not found")
        for message in load_errors(knowledge_dir).errors
    )


def test_invalid_yaml_is_reported(knowledge_dir: Path) -> None:
    (knowledge_dir / "routing.yml").write_text("units: [unclosed\n", encoding="utf-8")
    assert "routing.yml: invalid YAML" in str(load_errors(knowledge_dir))


def test_unknown_top_level_key_is_reported(knowledge_dir: Path) -> None:
    edit(knowledge_dir, "plots.yml", lambda data: data.update(tomter=[]))
    assert "plots.yml: tomter: unknown key" in str(load_errors(knowledge_dir))


# --- locating and caching ----------------------------------------------------------------


def test_default_knowledge_dir_is_the_repository_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KNOWLEDGE_DIR", raising=False)
    assert default_knowledge_dir() == SHIPPED


def test_default_knowledge_dir_follows_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KNOWLEDGE_DIR", str(tmp_path))
    assert default_knowledge_dir() == tmp_path


def test_get_knowledge_loads_once_and_caches(
    monkeypatch: pytest.MonkeyPatch, knowledge_dir: Path
) -> None:
    monkeypatch.setenv("KNOWLEDGE_DIR", str(knowledge_dir))
    get_knowledge.cache_clear()
    try:
        first = get_knowledge()
        (knowledge_dir / "plots.yml").unlink()
        assert get_knowledge() is first
    finally:
        get_knowledge.cache_clear()


def test_importing_the_module_reads_no_files(tmp_path: Path) -> None:
    env = {"KNOWLEDGE_DIR": str(tmp_path / "missing"), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", "import bot.knowledge"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_command_line_check_prints_summary_for_valid_files(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert kb.main(["--dir", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out
    assert "permit types: 14" in out
    assert "demo data" in out


def test_command_line_check_prints_errors_and_fails_for_broken_files(
    capsys: pytest.CaptureFixture[str], knowledge_dir: Path
) -> None:
    edit(knowledge_dir, "permits.yml", lambda data: data["permits"].pop("marklov"))
    assert kb.main(["--dir", str(knowledge_dir)]) == 1
    assert "permits.marklov: missing permit type" in capsys.readouterr().err
