"""A chat with personnummer, e-mail and phone leaves no unmasked trace anywhere it is kept.

The chat goes through the REST channel of a real Rasa server (with the project's masking
tracker store) and a real action server; afterwards the tracker database, the case database
and the captured logs of both servers are scanned byte by byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.conftest import new_sender
from tests.integration.conftest import Services

pytestmark = pytest.mark.model

PERSONNUMMER_TRACES = ("900101", "0101-0017", "01010017")


def say(services: Services, sender: str, text: str) -> str:
    response = requests.post(
        f"{services.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return "\n".join(str(m.get("text", "")) for m in response.json())


def stored_files(services: Services) -> list[Path]:
    case_db = Path(services.database_url.removeprefix("sqlite:///"))
    files = [
        *services.tracker_db.parent.glob(services.tracker_db.name + "*"),
        *case_db.parent.glob(case_db.name + "*"),
    ]
    assert services.rasa_log is not None and services.action_log is not None
    return [*files, services.rasa_log, services.action_log]


def test_chat_with_personnummer_leaves_no_unmasked_trace(services: Services) -> None:
    sender = new_sender(services.rasa_url)
    say(services, sender, "Hej! Mitt personnummer är 19900101-0017, mejla ola@hemma.se")
    say(services, sender, "eller ring 073-555 12 34")
    assert "registrera" in say(services, sender, "Behöver jag bygglov för en ny carport?")
    assert "Vad heter du" in say(services, sender, "ja")
    assert "företaget" in say(services, sender, "Ola Persson")
    assert "organisationsnummer" in say(services, sender, "Perssons Bygg AB")
    say(services, sender, "900101-0017")  # a personnummer is refused as org number
    assert "e-post" in say(services, sender, "556016-0680")
    assert "Beskriv" in say(services, sender, "ola@perssonsbygg.se")
    consent = say(services, sender, "Carport på tomten, gäller mig 9001010017")
    assert "Godkänner du" in consent
    assert "NL-" in say(services, sender, "/affirm")

    files = stored_files(services)
    tracker_bytes = b"".join(p.read_bytes() for p in files if p.name.startswith("tracker"))
    case_bytes = b"".join(p.read_bytes() for p in files if p.name.startswith("cases"))
    assert b"[personnummer]" in tracker_bytes  # the chat was stored, masked
    for path in files:
        data = path.read_bytes()
        for trace in PERSONNUMMER_TRACES:
            assert trace.encode() not in data, f"{trace} in {path.name}"
    # Outside the contact form, e-mail and phone are masked; the form's contact is kept.
    assert b"ola@hemma.se" not in tracker_bytes
    assert b"073-555 12 34" not in tracker_bytes
    assert b"ola@perssonsbygg.se" in tracker_bytes
    assert b"ola@perssonsbygg.se" in case_bytes
