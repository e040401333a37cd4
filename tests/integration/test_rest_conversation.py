"""The whole foundation through the REST channel: question, answer, form, case in the database."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select, text

from bot.db import create_db_engine
from bot.models import Case
from tests.conftest import new_sender
from tests.integration.conftest import Services

pytestmark = pytest.mark.model


def say(services: Services, sender: str, text: str) -> list[dict[str, object]]:
    response = requests.post(
        f"{services.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def texts(messages: list[dict[str, object]]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


def test_permit_question_to_case_reference_stores_a_permit_case(services: Services) -> None:
    sender = new_sender(services.rasa_url)
    answer = texts(say(services, sender, "Behöver jag bygglov för att bygga ut min verkstad?"))
    assert "Bygglov" in answer
    assert "registrera" in answer
    assert "Vad heter du" in texts(say(services, sender, "ja"))
    assert "företaget" in texts(say(services, sender, "Anna Svensson"))
    assert "organisationsnummer" in texts(say(services, sender, "Svenssons Verkstad AB"))
    wrong = texts(say(services, sender, "556016-0681"))
    assert "stämmer inte" in wrong
    assert "e-post" in texts(say(services, sender, "556016-0680"))
    assert "Beskriv" in texts(say(services, sender, "anna@verkstad.se"))
    consent = texts(say(services, sender, "Vi vill bygga ut verkstaden med 150 kvm mot gatan"))
    assert "Godkänner du" in consent
    done = texts(say(services, sender, "/affirm"))
    assert "NL-" in done, done

    engine = create_db_engine(services.database_url)
    with engine.connect() as connection:
        row = connection.execute(select(Case).where(Case.conversation_id == sender)).one()
    engine.dispose()
    assert row.reference in done
    assert row.topic == "permit"
    assert row.permit_type == "bygglov"
    assert row.org_number == "556016-0680"
    assert row.contact_email == "anna@verkstad.se"


def test_transcript_is_written_to_the_sql_tracker_store(services: Services) -> None:
    sender = new_sender(services.rasa_url)
    say(services, sender, "hej")
    engine = create_db_engine(f"sqlite:///{services.tracker_db}")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
            {"s": sender},
        ).all()
    engine.dispose()
    user_events = [json.loads(data)["text"] for kind, data in rows if kind == "user"]
    assert user_events == ["hej"]


def test_unexpected_message_gets_one_honest_answer_and_no_loop(services: Services) -> None:
    sender = new_sender(services.rasa_url)
    replies = say(services, sender, "070-123 45 67")
    assert len(replies) == 1
    assert "kontaktcenter" in texts(replies)


def test_skipping_the_org_number_keeps_the_form_going(services: Services) -> None:
    sender = new_sender(services.rasa_url)
    say(services, sender, "vi söker en industritomt på 5000 kvm")
    say(services, sender, "ja")
    say(services, sender, "Omar Khalil")
    say(services, sender, "Khalils Lager AB")
    assert "e-post" in texts(say(services, sender, "hoppa över"))
