"""Tests for masking before the tracker store: bot.privacy.mask_event_dicts and the store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.privacy import (
    EMAIL_MASK,
    MASK,
    PHONE_MASK,
    mask_all,
    mask_contact_details,
    mask_event_dicts,
)
from bot.tracker_store import DurableSQLTrackerStore, MaskingSQLTrackerStore, masked_tracker


@pytest.mark.parametrize(
    "phone",
    ["070-123 45 67", "0701234567", "+46 70 123 45 67", "08-123 456 78", "0046701234567"],
)
def test_mask_contact_details_masks_swedish_phone_numbers(phone: str) -> None:
    assert mask_contact_details(f"ring mig på {phone} i morgon") == (
        f"ring mig på {PHONE_MASK} i morgon"
    )


@pytest.mark.parametrize(
    "kept",
    [
        "NL-2026-0042",
        "556016-0680",
        "en tomt på 5000 kvm",
        "år 2026",
        "0701234567abcdef",  # an id, not a phone number
    ],
)
def test_mask_contact_details_keeps_other_numbers(kept: str) -> None:
    assert mask_contact_details(kept) == kept


def test_mask_contact_details_masks_email_addresses() -> None:
    assert mask_contact_details("skriv till anna.s+x@verkstad.se tack") == (
        f"skriv till {EMAIL_MASK} tack"
    )


def test_mask_all_masks_personnummer_before_phone_numbers() -> None:
    assert mask_all("19900101-0017, 900101-0017 och 070-123 45 67") == (
        f"{MASK}, {MASK} och {PHONE_MASK}"
    )


def _user(text: str) -> dict[str, Any]:
    return UserUttered(text, parse_data={"text": text, "entities": []}).as_dict()


def test_user_text_outside_forms_loses_personnummer_email_and_phone() -> None:
    [event] = mask_event_dicts([_user("pnr 900101-0017, anna@x.se, 070-123 45 67")])
    assert event["text"] == f"pnr {MASK}, {EMAIL_MASK}, {PHONE_MASK}"
    assert event["parse_data"]["text"] == event["text"]


def test_user_answer_to_the_contact_question_keeps_email_but_not_personnummer() -> None:
    events = [
        ActiveLoop("contact_form").as_dict(),
        SlotSet("requested_slot", "contact").as_dict(),
        _user("anna@x.se 900101-0017"),
        SlotSet("contact", "anna@x.se").as_dict(),
        SlotSet("contact_email", "anna@x.se").as_dict(),
        SlotSet("description", "ring 070-123 45 67, 19900101-0017").as_dict(),
        SlotSet("area", "ring 070-123 45 67").as_dict(),
        ActiveLoop(None).as_dict(),
        _user("anna@x.se"),
    ]
    masked = mask_event_dicts(events)
    assert masked[2]["text"] == f"anna@x.se {MASK}"
    assert masked[3]["value"] == "anna@x.se"
    assert masked[4]["value"] == "anna@x.se"
    assert masked[5]["value"] == f"ring 070-123 45 67, {MASK}"
    assert masked[6]["value"] == f"ring {PHONE_MASK}"
    assert masked[8]["text"] == EMAIL_MASK  # the form is over


def test_bot_text_keeps_phone_numbers_but_not_personnummer() -> None:
    [event] = mask_event_dicts([BotUttered("Ring 08-123 456 78. Du skrev 900101-0017").as_dict()])
    assert event["text"] == f"Ring 08-123 456 78. Du skrev {MASK}"


def test_masking_is_idempotent() -> None:
    events = [_user("900101-0017 anna@x.se"), SlotSet("area", "070-123 45 67").as_dict()]
    once = mask_event_dicts(events)
    assert mask_event_dicts(once) == once


def test_masked_tracker_keeps_event_count_and_order() -> None:
    tracker = DialogueStateTracker.from_events(
        "s1",
        [ActionExecuted("action_listen"), UserUttered("900101-0017"), BotUttered("hej")],
    )
    copy = masked_tracker(tracker)
    assert [type(e) for e in copy.events] == [type(e) for e in tracker.events]
    assert copy.latest_message is not None and copy.latest_message.text == MASK
    assert tracker.latest_message is not None and tracker.latest_message.text == "900101-0017"


def test_both_profiles_use_the_masking_store() -> None:
    assert issubclass(MaskingSQLTrackerStore, SQLTrackerStore)
    assert issubclass(DurableSQLTrackerStore, MaskingSQLTrackerStore)


def test_masking_store_writes_no_personnummer_to_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = MaskingSQLTrackerStore(dialect="sqlite", db=str(db))
    tracker = DialogueStateTracker.from_events(
        "s1",
        [
            ActionExecuted("action_listen"),
            UserUttered("mitt nummer 19900101-0017, mejl a@b.se", parse_data={"text": "x"}),
            SlotSet("area", "9001010017"),
        ],
    )
    asyncio.run(store.save(tracker))
    tracker.update(UserUttered("och 900101-0017"))
    asyncio.run(store.save(tracker))
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        rows = [json.loads(r[0]) for r in connection.execute(text("SELECT data FROM events"))]
    engine.dispose()
    assert len(rows) == 4  # appended once each, not duplicated by the masked copy
    dump = json.dumps(rows)
    assert "900101" not in dump and "a@b.se" not in dump
    assert dump.count(MASK) == 4  # two texts, the second one's parse data, the slot
    stored = asyncio.run(store.retrieve("s1"))
    assert stored is not None and stored.get_slot("area") is None  # no domain: slot unknown


def test_default_endpoints_and_test_servers_use_the_masking_store() -> None:
    import yaml

    from tests.conftest import REPO, TRACKER_STORE_TYPE

    endpoints = yaml.safe_load((REPO / "endpoints.yml").read_text())
    assert endpoints["tracker_store"]["type"] == "bot.tracker_store.MaskingSQLTrackerStore"
    assert TRACKER_STORE_TYPE == endpoints["tracker_store"]["type"]


def _store_for(url: str) -> MaskingSQLTrackerStore:
    if url.startswith("sqlite"):
        return MaskingSQLTrackerStore(dialect="sqlite", db=url.removeprefix("sqlite:///"))
    return DurableSQLTrackerStore(host=url)


def test_latest_session_read_matches_rasas_query(any_db_url: str) -> None:
    """The store's prepared read and count select what Rasa's ORM query selects."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SessionStarted

    from bot.tracker_store import LATEST_SESSION_COUNT

    store = _store_for(any_db_url)
    store.domain = Domain.load("domain.yml")

    def turn(text: str, at: float) -> list[Any]:
        return [UserUttered(text, timestamp=at), BotUttered("svar", timestamp=at + 0.5)]

    conversations = {
        "no-session-start": [ActionExecuted("action_listen", timestamp=1.0), *turn("hej", 2.0)],
        "two-sessions": [
            ActionExecuted("action_session_start", timestamp=10.0),
            SessionStarted(timestamp=10.1),
            *turn("första", 11.0),
            ActionExecuted("action_session_start", timestamp=20.0),
            SessionStarted(timestamp=20.1),
            ActionExecuted("action_listen", timestamp=20.2),
            *turn("andra", 21.0),
        ],
    }
    for sender, events in conversations.items():
        asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))
    asyncio.run(store.save(DialogueStateTracker.from_events("other", turn("annan", 30.0))))
    for sender in [*conversations, "missing"]:
        ours = asyncio.run(store.retrieve(sender))
        rasas = asyncio.run(SQLTrackerStore._retrieve(store, sender, False))
        assert (ours is None) == (rasas is None)
        if ours is not None and rasas is not None:
            assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]
        with store.session_scope() as session:
            expected = store._event_query(session, sender, False).count()
            assert session.execute(LATEST_SESSION_COUNT, {"sender_id": sender}).scalar() == expected
    latest = asyncio.run(store.retrieve("two-sessions"))
    assert latest is not None and [e.text for e in latest.events if e.type_name == "user"] == [
        "andra"
    ]
    full = asyncio.run(store.retrieve_full_tracker("two-sessions"))
    assert full is not None and len(full.events) == len(conversations["two-sessions"])
    store.engine.dispose()


def test_saved_rows_equal_rasas_save_of_the_masked_conversation(tmp_path: Path) -> None:
    """The store writes masked dictionaries directly: the same rows Rasa's own save writes."""
    ours = MaskingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "ours.db"))
    rasas = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "rasas.db"))
    first = [
        ActionExecuted("action_listen", timestamp=1.0),
        UserUttered(
            "mitt personnummer är 19900101-0017",
            parse_data={"intent": {"name": "ask_permit", "confidence": 0.9}, "entities": []},
            timestamp=2.0,
        ),
        ActiveLoop("contact_form", timestamp=3.0),
        SlotSet("requested_slot", "contact", timestamp=4.0),
        BotUttered("Hur når vi dig?", timestamp=5.0),
        ActionExecuted("action_listen", timestamp=6.0),
    ]
    second = [
        UserUttered("anna@exempel.se, 070-123 45 67", timestamp=7.0),
        SlotSet("contact", "anna@exempel.se", timestamp=8.0),
        ActiveLoop(None, timestamp=9.0),
    ]
    tracker = DialogueStateTracker.from_events("s1", first)
    for events in ([], second):
        for event in events:
            tracker.update(event)
        asyncio.run(ours.save(tracker))
        asyncio.run(rasas.save(masked_tracker(tracker)))
        asyncio.run(ours.save(tracker))  # nothing new: nothing stored twice

    def rows(path: Path) -> list[tuple[Any, ...]]:
        engine = create_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
                    "FROM events ORDER BY id"
                )
            ).all()
        engine.dispose()
        return [(*row[:5], json.loads(row[5])) for row in found]

    assert rows(tmp_path / "ours.db") == rows(tmp_path / "rasas.db")
    assert len(rows(tmp_path / "ours.db")) == len(first) + len(second)
    assert "19900101" not in json.dumps(rows(tmp_path / "ours.db"))
