"""Tests for bot.inbox: shapes, masking, collection, grouping, annotation, conflicts, YAML."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.db import create_db_engine
from bot.inbox import (
    AnnotatedExample,
    CollectionRules,
    DataIndex,
    Inbox,
    InboxError,
    Label,
    clean_text,
    example_markup,
    find_span,
    load_data_index,
    read_nlu_file,
    render_training_file,
    shape,
    shape_key,
    write_atomically,
)
from bot.settings import REPO_ROOT, Settings
from tests.nlu_project import copy_project

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=UTC).timestamp()


class Tracker:
    """A SQLite tracker store with Rasa's ``events`` table, written like Rasa writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = T0
        with sqlite3.connect(path) as connection:
            connection.execute(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                "action_name VARCHAR(255), data TEXT)"
            )

    def add(self, sender: str, type_name: str, **data: Any) -> None:
        self.clock += 1.5
        with sqlite3.connect(self.path) as connection:
            connection.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                (
                    sender,
                    type_name,
                    self.clock,
                    json.dumps({"event": type_name, "timestamp": self.clock, **data}),
                ),
            )

    def user(
        self,
        sender: str,
        text: str,
        intent: str,
        confidence: float,
        ranking: list[tuple[str, float]] | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> None:
        parse = {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking or []],
        }
        self.add(sender, "user", text=text, parse_data=parse)

    def action(self, sender: str, name: str, confidence: float = 1.0) -> None:
        self.add(sender, "action", name=name, policy="policy_1_RulePolicy", confidence=confidence)

    def turn(self, sender: str, text: str, intent: str, confidence: float, action: str) -> None:
        self.user(sender, text, intent, confidence)
        self.action(sender, action)
        self.add(sender, "bot", text="svar")
        self.action(sender, "action_listen")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the Rasa project's data, domain, config and held-out file."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return Tracker(tmp_path / "tracker.db")


@pytest.fixture
def inbox(project: Path, tracker: Tracker, any_db_url: str, tmp_path: Path) -> Iterator[Inbox]:
    """The inbox on a case log in SQLite, then in PostgreSQL, reading a SQLite tracker store."""
    settings = Settings(
        database_url=any_db_url,
        tracker_store_url=f"sqlite:///{tracker.path}",
        var_dir=tmp_path / "var",
        models_dir=tmp_path / "models",
        project_dir=project,
        heldout_file=project / "tests" / "nlu" / "heldout.yml",
        inbox_confidence=0.6,
    )
    engine = create_db_engine(any_db_url)
    yield Inbox(settings, engine)
    engine.dispose()


def texts(inbox: Inbox) -> list[str]:
    return [group.text for group in inbox.groups(per_page=100).groups]


def inbox_yaml(inbox: Inbox) -> dict[str, list[str]]:
    data = yaml.safe_load(inbox.training_file.read_text("utf-8"))
    return {
        block["intent"]: [line[2:] for line in block["examples"].splitlines()]
        for block in data["nlu"]
    }


# --- shapes and text -------------------------------------------------------------------------


def test_near_duplicates_share_a_shape() -> None:
    assert shape("Bygglov för 2 st. Carportar?") == shape("bygglov for 13 st carportar")
    assert shape("  Tillstånd   SERVERING!! ") == "tillstand servering"
    assert shape("bygglov carport") != shape("marklov carport")
    assert shape_key(shape("Hej")) == shape_key(shape("hej!")) and len(shape_key("x")) == 32


def test_a_text_without_latin_letters_keeps_its_own_shape() -> None:
    assert shape("مرحبا  بك") == "مرحبا بك"
    assert shape("مرحبا") != shape("שלום")


def test_span_is_found_ignoring_case_and_swedish_letters() -> None:
    assert find_span("Behöver jag BYGGLOVET nu", "bygglovet") == (12, 21)
    assert find_span("serveringstillstand i sommar", "serveringstillstånd") == (0, 19)
    assert find_span("ingen här", "bygglov") is None


def test_example_markup_uses_rasas_entity_syntax_and_neutralises_user_brackets() -> None:
    assert example_markup("behöver jag bygglov", (12, 19, "bygglov")) == (
        "behöver jag [bygglov](permit_type)"
    )
    assert example_markup("Bygglovet [x](y) tack", (0, 9, "bygglov")) == (
        '[Bygglovet]{"entity": "permit_type", "value": "bygglov"} (x)(y) tack'
    )
    assert example_markup("ring [telefonnummer]", None) == "ring (telefonnummer)"


def test_the_nlu_reader_agrees_with_rasa_on_the_project_data() -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    rasa = load_data(str(REPO_ROOT / "data" / "nlu"))
    ours = {
        (example.text, example.intent)
        for path in (REPO_ROOT / "data" / "nlu").glob("*.yml")
        for example in read_nlu_file(path)[0]
    }
    expected = {(str(e.get("text")), str(e.get("intent"))) for e in rasa.intent_examples}
    assert ours == expected
    synonyms = {
        text: value
        for path in (REPO_ROOT / "data" / "nlu").glob("*.yml")
        for text, value in read_nlu_file(path)[1].items()
    }
    assert synonyms.items() <= rasa.entity_synonyms.items()


def test_the_data_index_knows_examples_held_out_texts_and_synonyms(project: Path) -> None:
    index = load_data_index(project / "data", project / "tests" / "nlu" / "heldout.yml")
    assert "ask_permit" in index.intents[shape("bygglov carport")]
    assert shape("får man riva en lada utan rivningslov") in index.heldout
    assert index.synonyms["bygglovet"] == "bygglov"


# --- collection ------------------------------------------------------------------------------


def test_collection_finds_fallbacks_low_confidence_and_fallback_actions(
    inbox: Inbox, tracker: Tracker
) -> None:
    tracker.user(
        "a",
        "kan ni fixa en grej åt oss",
        "nlu_fallback",
        0.45,
        ranking=[("nlu_fallback", 0.45), ("request_human", 0.31), ("greet", 0.1)],
    )
    tracker.action("a", "action_contact_centre")
    tracker.turn("a", "vi behöver nåt papper för gatuköket", "ask_permit", 0.52, "action_x")
    tracker.turn("b", "bygglov carport", "ask_permit", 0.98, "action_answer_permit")
    tracker.user("c", "ja visst", "affirm", 0.97)
    tracker.action("c", "action_contact_centre", confidence=0.3)  # no rule matched
    tracker.user("d", "vad är klockan", "out_of_scope", 0.95)
    tracker.action("d", "action_contact_centre", confidence=1.0)  # the out-of-scope rule
    assert inbox.collect() == 3
    groups = {group.text: group for group in inbox.groups().groups}
    assert set(groups) == {
        "kan ni fixa en grej åt oss",
        "vi behöver nåt papper för gatuköket",
        "ja visst",
    }
    fallback = groups["kan ni fixa en grej åt oss"]
    assert (fallback.predicted_intent, fallback.confidence) == ("request_human", 0.31)
    assert fallback.reasons == ("nlu_fallback",)
    assert groups["vi behöver nåt papper för gatuköket"].reasons == ("low_confidence",)
    assert groups["ja visst"].reasons == ("fallback_action",)


def test_collection_masks_personal_data_before_storing(inbox: Inbox, tracker: Tracker) -> None:
    tracker.user("a", "mitt pnr 19900101-0017 mejl kim@x.se\nring 070-123 45 67", "greet", 0.2)
    inbox.collect()
    assert texts(inbox) == ["mitt pnr [personnummer] mejl [e-post] ring [telefonnummer]"]


def test_collection_skips_buttons_form_answers_and_texts_without_words(
    inbox: Inbox, tracker: Tracker
) -> None:
    tracker.user("a", "/affirm", "affirm", 0.1)
    tracker.user("a", '/ask_permit{"permit_type": "bygglov"}', "ask_permit", 0.2)
    tracker.user("a", "070-123 45 67", "inform", 0.3)
    tracker.add("a", "active_loop", name="contact_form")
    tracker.user("a", "Kim Kund", "inform", 0.2)
    tracker.user("a", "Kunds Bageri", "nlu_fallback", 0.45)
    tracker.add("a", "active_loop", name=None)
    tracker.user("a", "tack så hemskt mycket", "thank", 0.4)
    tracker.add("b", "active_loop", name="case_status_form")
    tracker.add("b", "restart")
    tracker.user("b", "hallå vem bestämmer", "greet", 0.3)
    assert inbox.collect() == 2
    assert sorted(texts(inbox)) == ["hallå vem bestämmer", "tack så hemskt mycket"]


def test_a_form_started_before_the_cursor_still_hides_its_answers(
    inbox: Inbox, tracker: Tracker
) -> None:
    tracker.add("a", "active_loop", name="contact_form")
    assert inbox.collect() == 0
    tracker.user("a", "Kim Kund", "inform", 0.2)
    assert inbox.collect() == 0
    tracker.add("a", "active_loop", name=None)
    tracker.user("a", "hur gör jag nu då", "greet", 0.2)
    assert inbox.collect() == 1


def test_collection_is_incremental_and_idempotent(inbox: Inbox, tracker: Tracker) -> None:
    tracker.user("a", "första konstiga frågan", "greet", 0.2)
    assert inbox.collect() == 1
    assert inbox.collect() == 0
    tracker.user("a", "andra konstiga frågan", "greet", 0.2)
    assert inbox.collect(batch=1) == 1
    inbox.repository.set_cursor(0, reset=True)  # read everything again
    assert inbox.collect() == 0
    assert inbox.repository.groups().total_messages == 2


def test_an_emptied_tracker_store_is_read_from_the_start(inbox: Inbox, tracker: Tracker) -> None:
    tracker.user("a", "första konstiga frågan", "greet", 0.2)
    tracker.user("a", "andra konstiga frågan", "greet", 0.2)
    inbox.collect()
    tracker.path.unlink()  # a new database numbers its events from 1 again
    fresh = Tracker(tracker.path)
    fresh.clock = tracker.clock + 100
    fresh.user("z", "en helt ny fråga", "greet", 0.2)
    assert inbox.collect() == 1
    assert "en helt ny fråga" in texts(inbox)


def test_a_missing_tracker_store_collects_nothing(inbox: Inbox, tracker: Tracker) -> None:
    tracker.path.unlink()
    assert inbox.collect() == 0


def test_fallback_rules_come_from_the_project_config(inbox: Inbox) -> None:
    rules = CollectionRules.from_project(inbox.settings)
    assert rules.core_fallback_action == "action_contact_centre"
    assert rules.core_fallback_threshold == 0.3
    assert rules.is_fallback({"name": "action_default_fallback", "confidence": 1.0})
    assert rules.is_fallback({"name": "action_contact_centre", "confidence": 0.3})
    assert not rules.is_fallback({"name": "action_contact_centre", "confidence": 1.0})


# --- grouping --------------------------------------------------------------------------------


def test_groups_are_sorted_by_size_then_newest(inbox: Inbox, tracker: Tracker) -> None:
    tracker.user("a", "Tomt 5000 kvm?", "ask_industrial_land", 0.5)
    tracker.user("b", "ensam fråga", "greet", 0.2)
    tracker.user("c", "tomt 300 kvm", "ask_industrial_land", 0.3)
    tracker.user("d", "en annan ensam fråga", "greet", 0.2)
    inbox.collect()
    page = inbox.groups()
    assert [(group.text, group.count) for group in page.groups] == [
        ("tomt 300 kvm", 2),
        ("en annan ensam fråga", 1),
        ("ensam fråga", 1),
    ]
    assert page.groups[0].texts == ("tomt 300 kvm", "Tomt 5000 kvm?")
    assert page.groups[0].confidence == pytest.approx(0.4)
    assert (page.total_groups, page.total_messages) == (3, 4)
    second = inbox.groups(page=2, per_page=2)
    assert [group.text for group in second.groups] == ["ensam fråga"] and second.pages == 2


# --- flagging --------------------------------------------------------------------------------


def test_an_official_flags_a_message_with_its_prediction(inbox: Inbox, tracker: Tracker) -> None:
    tracker.user("case-1", "vi vill sälja glass i parken", "ask_permit", 0.93)
    at = dt.datetime.fromtimestamp(tracker.clock, tz=UTC)
    assert inbox.collect() == 0  # understood well enough: not collected
    assert inbox.flag("case-1", at, "vi vill sälja glass i parken", "anna@lotsby.se") == "added"
    group = inbox.groups().groups[0]
    assert group.reasons == ("flagged",) and group.flagged_by == ("anna@lotsby.se",)
    assert (group.predicted_intent, group.confidence) == ("ask_permit", 0.93)
    assert inbox.flag("case-1", at, "vi vill sälja glass i parken", "mats@lotsby.se") == "updated"
    assert inbox.groups().total_messages == 1


def test_a_collected_message_flagged_later_stays_one_message(
    inbox: Inbox, tracker: Tracker
) -> None:
    tracker.user("case-1", "hmm konstig fråga", "greet", 0.2)
    at = dt.datetime.fromtimestamp(tracker.clock, tz=UTC)
    inbox.collect()
    assert inbox.flag("case-1", at, "hmm konstig fråga", "anna@lotsby.se") == "updated"
    inbox.annotate([inbox.groups().groups[0].key], Label(None), "tove@lotsby.se")
    assert inbox.flag("case-1", at, "hmm konstig fråga", "anna@lotsby.se") == "handled"


def test_button_choices_cannot_be_flagged(inbox: Inbox, tracker: Tracker) -> None:
    tracker.user("case-1", "/affirm", "affirm", 1.0)
    at = dt.datetime.fromtimestamp(tracker.clock, tz=UTC)
    with pytest.raises(InboxError):
        inbox.flag("case-1", at, "/affirm", "anna@lotsby.se")


# --- annotation ------------------------------------------------------------------------------


def collected(inbox: Inbox, tracker: Tracker, *messages: str) -> dict[str, str]:
    for number, text in enumerate(messages):
        tracker.user(f"s{number}", text, "greet", 0.2)
    inbox.collect()
    return {group.text: group.key for group in inbox.groups(per_page=100).groups}


def test_annotations_become_a_rasa_nlu_file_and_leave_the_inbox(
    inbox: Inbox, tracker: Tracker
) -> None:
    keys = collected(
        inbox,
        tracker,
        "vi ska öppna glassbar, behövs bygglovet",
        "Hur länge tar lagfarten för tomten",
        "asdf qwerty",
    )
    label = inbox.check_label(
        Label("ask_permit", "Bygglovet", "bygglov"), "vi ska öppna glassbar, behövs bygglovet"
    )
    outcome = inbox.annotate([keys["vi ska öppna glassbar, behövs bygglovet"]], label, "t@x.se")
    assert outcome.annotated == 1
    inbox.annotate([keys["Hur länge tar lagfarten för tomten"]], Label("ask_industrial_land"), "t")
    assert inbox.annotate([keys["asdf qwerty"]], Label(None), "t").irrelevant == 1
    assert texts(inbox) == []
    assert inbox_yaml(inbox) == {
        "ask_industrial_land": ["Hur länge tar lagfarten för tomten"],
        "ask_permit": [
            'vi ska öppna glassbar, behövs [bygglovet]{"entity": "permit_type", "value": "bygglov"}'
        ],
    }
    content = inbox.training_file.read_text("utf-8")
    assert content.startswith("# Generated by the NLU inbox") and 'version: "3.1"' in content


def test_a_group_label_applies_to_every_message_of_the_group(
    inbox: Inbox, tracker: Tracker
) -> None:
    keys = collected(inbox, tracker, "Tomt 5000 kvm?", "tomt 300 kvm")
    (key,) = set(keys.values())
    assert inbox.annotate([key], Label("ask_industrial_land"), "t").annotated == 2
    assert sorted(inbox_yaml(inbox)["ask_industrial_land"]) == ["Tomt 5000 kvm?", "tomt 300 kvm"]


def test_bulk_annotation_labels_many_groups(inbox: Inbox, tracker: Tracker) -> None:
    keys = collected(inbox, tracker, "tack tack tack", "tusen tack snälla", "hej hej boten")
    outcome = inbox.annotate(
        [keys["tack tack tack"], keys["tusen tack snälla"]], Label("thank"), "t"
    )
    assert outcome.annotated == 2 and texts(inbox) == ["hej hej boten"]


def test_a_held_out_text_never_becomes_training_data(inbox: Inbox, tracker: Tracker) -> None:
    heldout = "Får man riva en lada utan rivningslov?"  # tests/nlu/heldout.yml, other case
    keys = collected(inbox, tracker, heldout)
    assert inbox.groups().groups[0].in_heldout
    outcome = inbox.annotate([keys[heldout]], Label("ask_permit"), "t")
    assert (outcome.heldout, outcome.annotated) == (1, 0)
    assert not inbox.training_file.exists()
    assert inbox.repository.annotated_examples() == []


def test_a_text_labelled_differently_in_the_data_files_is_held_as_a_conflict(
    inbox: Inbox, tracker: Tracker
) -> None:
    keys = collected(inbox, tracker, "Sophämtning!")  # out_of_scope in data/nlu/out_of_scope.yml
    outcome = inbox.annotate([keys["Sophämtning!"]], Label("ask_permit"), "t")
    assert outcome.conflicts == 1 and not inbox.training_file.exists()
    (conflict,) = inbox.conflicts()
    assert conflict.labels == {"ask_permit": 1}
    assert conflict.data_intents == {"out_of_scope": "data/nlu/out_of_scope.yml"}
    assert conflict.choices == ("out_of_scope",)
    with pytest.raises(InboxError):
        inbox.resolve(conflict.key, "ask_permit", "t")
    assert inbox.resolve(conflict.key, "out_of_scope", "t") == 1
    assert inbox.conflicts() == []
    assert not inbox.training_file.exists()  # the data file already teaches it


def test_two_labels_for_one_shape_are_held_until_a_trainer_keeps_one(
    inbox: Inbox, tracker: Tracker
) -> None:
    keys = collected(inbox, tracker, "kan ni ringa mig")
    inbox.annotate([keys["kan ni ringa mig"]], Label("request_human"), "tove@x.se")
    assert inbox_yaml(inbox) == {"request_human": ["kan ni ringa mig"]}
    tracker.user("later", "Kan ni ringa mig?", "greet", 0.2)
    inbox.collect()
    group = inbox.groups().groups[0]
    assert group.known_intents == ("request_human",)
    outcome = inbox.annotate([group.key], Label("case_status"), "mats@x.se")
    assert outcome.conflicts == 1
    (conflict,) = inbox.conflicts()
    assert conflict.labels == {"request_human": 1, "case_status": 1}
    assert conflict.annotated_by == ("mats@x.se", "tove@x.se")
    assert not inbox.training_file.exists()  # neither label is kept silently
    assert inbox.repository.annotated_examples() == []
    assert inbox.resolve(conflict.key, "request_human", "lisa@x.se") == 2
    assert inbox_yaml(inbox) == {"request_human": ["kan ni ringa mig", "Kan ni ringa mig?"]}
    assert [e.intent for e in inbox.repository.annotated_examples()] == ["request_human"] * 2


def test_an_example_added_to_the_data_files_later_holds_the_annotation(
    inbox: Inbox, tracker: Tracker, project: Path
) -> None:
    keys = collected(inbox, tracker, "jättekonstig fråga")
    inbox.annotate([keys["jättekonstig fråga"]], Label("greet"), "t")
    assert inbox.training_file.exists()
    extra = project / "data" / "nlu" / "extra.yml"
    extra.write_text(
        'version: "3.1"\nnlu:\n- intent: deny\n  examples: |\n    - jättekonstig fråga\n'
    )
    inbox.write_training_file()
    assert not inbox.training_file.exists()
    assert [c.data_intents for c in inbox.conflicts()] == [{"deny": "data/nlu/extra.yml"}]


def test_labels_are_checked_against_the_contract_text_and_known_spellings(inbox: Inbox) -> None:
    with pytest.raises(InboxError, match="avsikt"):
        inbox.check_label(Label("order_pizza"))
    with pytest.raises(InboxError, match="avsikt"):
        inbox.check_label(Label("inform"))  # form answers are not offered
    with pytest.raises(InboxError, match="finns inte"):
        inbox.check_label(Label("ask_permit", "marklov", "marklov"), "behövs bygglov")
    with pytest.raises(InboxError, match="både"):
        inbox.check_label(Label("ask_permit", "bygglov", None), "behövs bygglov")
    with pytest.raises(InboxError, match="betyder redan bygglov"):
        inbox.check_label(Label("ask_permit", "bygglovet", "marklov"), "behövs bygglovet")
    assert inbox.check_label(Label(None, "x", "bygglov")) == Label(None)
    assert inbox.check_label(Label("ask_permit", " bygglov ", "bygglov"), "bygglov?") == Label(
        "ask_permit", "bygglov", "bygglov"
    )
    assert "out_of_scope" in inbox.intents() and "cancel" not in inbox.intents()


def test_a_span_missing_in_some_messages_of_a_group_gives_no_example_for_them(
    inbox: Inbox, tracker: Tracker
) -> None:
    keys = collected(inbox, tracker, "bygglov, glasskiosken?", "bygglov glasskiosken")
    (key,) = set(keys.values())
    outcome = inbox.annotate([key], Label("ask_permit", "bygglov,", "bygglov"), "t")
    assert (outcome.annotated, outcome.without_example) == (2, 1)
    assert inbox_yaml(inbox) == {
        "ask_permit": ['[bygglov,]{"entity": "permit_type", "value": "bygglov"} glasskiosken?']
    }


def test_annotated_examples_are_newest_first_without_conflicts_or_dismissed(
    inbox: Inbox, tracker: Tracker
) -> None:
    keys = collected(inbox, tracker, "första frågan här", "andra frågan här", "skräp skräp")
    first = dt.datetime(2026, 11, 27, 10, tzinfo=UTC)
    repository = inbox.repository
    index = inbox.data_index()
    repository.annotate([keys["första frågan här"]], Label("greet"), "t", index, first)
    repository.annotate(
        [keys["andra frågan här"]],
        Label("ask_permit", None, "bygglov"),
        "t",
        index,
        first + dt.timedelta(minutes=1),
    )
    repository.annotate([keys["skräp skräp"]], Label(None), "t", index, first)
    assert repository.annotated_examples() == [
        AnnotatedExample("andra frågan här", "ask_permit", "bygglov"),
        AnnotatedExample("första frågan här", "greet", None),
    ]
    assert repository.annotated_examples(limit=1) == [
        AnnotatedExample("andra frågan här", "ask_permit", "bygglov")
    ]


def test_the_cli_collects_for_cron(
    inbox: Inbox,
    tracker: Tracker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    tracker.user("a", "kan ni fixa en grej åt oss", "greet", 0.2)
    settings = inbox.settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRACKER_STORE_URL", settings.tracker_store_url)
    monkeypatch.setenv("LOTSEN_PROJECT_DIR", str(settings.project_dir))
    assert main(["collect-inbox"]) == 0
    assert main(["collect-inbox"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "1 new messages in the NLU inbox; 1 open in 1 groups, 0 conflicts.",
        "0 new messages in the NLU inbox; 1 open in 1 groups, 0 conflicts.",
    ]


def test_the_training_file_is_replaced_whole_and_removed_when_empty(tmp_path: Path) -> None:
    target = tmp_path / "nlu" / "inbox.yml"
    write_atomically(target, 'version: "3.1"\n')
    write_atomically(target, "nlu: []\n")
    assert target.read_text() == "nlu: []\n" and oct(target.stat().st_mode)[-3:] == "644"
    assert [path.name for path in target.parent.iterdir()] == ["inbox.yml"]
    write_atomically(target, None)
    assert not target.exists()


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=80), st.data())
def test_any_user_text_and_span_survive_rasas_yaml_reader(raw: str, data: st.DataObject) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    text = clean_text(raw)
    assume(text)
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    assume(text[start:end].strip() == text[start:end])
    empty = DataIndex(intents={}, heldout=frozenset(), synonyms={})
    content = render_training_file([(text, "ask_permit", (start, end, "bygglov"))], empty)
    assert content is not None
    (example,) = RasaYAMLReader().reads(content).intent_examples
    exported = text.replace("[", "(").replace("]", ")")
    assert example.get("text") == exported and example.get("intent") == "ask_permit"
    (entity,) = example.get("entities")
    assert entity["value"] == "bygglov"
    assert exported[entity["start"] : entity["end"]] == exported[start:end]
