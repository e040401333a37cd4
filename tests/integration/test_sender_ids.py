"""Server-issued, signed sender ids on a real Rasa server (REST and socket.io).

Nobody can read or continue another person's conversation by guessing its id: the REST webhook
and the socket.io channel accept only ids the server signed, and a socket may only write to the
session it was confirmed for.
"""

from __future__ import annotations

import asyncio

import pytest
import requests

from bot.public_channel import UNKNOWN_SENDER_TEXT
from bot.sender_ids import SIGNED_ID, SenderIds
from tests.conftest import new_sender
from tests.integration.chat import ChatSocket, stored_events
from tests.integration.conftest import Services

pytestmark = pytest.mark.model


def webhook(services: Services, sender: object, message: str = "hej") -> requests.Response:
    return requests.post(
        f"{services.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        timeout=60,
    )


def test_session_endpoint_issues_a_new_signed_id_each_time(services: Services) -> None:
    first, second = new_sender(services.rasa_url), new_sender(services.rasa_url)
    assert first != second
    assert SIGNED_ID.fullmatch(first) and SIGNED_ID.fullmatch(second)
    assert webhook(services, first).status_code == 200
    assert stored_events(services, first) > 0
    # Only POST: a GET (prefetch, crawler, image tag) issues nothing.
    got = requests.get(f"{services.rasa_url}/webhooks/rest/session", timeout=10)
    assert 400 <= got.status_code < 500


def test_webhook_refuses_senders_the_server_did_not_issue(services: Services) -> None:
    issued = new_sender(services.rasa_url)
    random_part, signature = issued.split(".")
    guesses = [
        "default",
        "test-user",
        random_part,  # the widget's old unsigned id
        f"{random_part}.{'0' * 32}",  # a known id with a guessed signature
        f"{'0' * 32}.{signature}",  # a real signature on a chosen id
        SenderIds(key=b"not the server's key").issue(),
        issued.upper(),
    ]
    for guess in guesses:
        response = webhook(services, guess, "Behöver jag bygglov?")
        assert response.status_code == 403, (guess, response.status_code)
        assert response.json()["text"] == UNKNOWN_SENDER_TEXT
        assert stored_events(services, guess) == 0


def test_issued_id_continues_the_same_conversation(services: Services) -> None:
    sender = new_sender(services.rasa_url)
    webhook(services, sender, "Behöver jag bygglov för en carport?")
    before = stored_events(services, sender)
    webhook(services, sender, "ja")
    assert stored_events(services, sender) > before


async def _socket_sessions(url: str, rest_issued: str) -> dict[str, object]:
    result: dict[str, object] = {}
    # A new socket without an id gets a signed one.
    first = ChatSocket()
    await first.connect(url)
    first_id = result["first_id"] = await first.session()
    await first.say("hej", first_id)
    await first.replies_after(0)
    await first.close()
    # After a reload the widget asks for its stored id: a signed id is resumed.
    resumed = ChatSocket()
    await resumed.connect(url)
    result["resumed_id"] = await resumed.session({"session_id": first_id})
    await resumed.close()
    # A guessed id is not resumed: the socket gets a new one.
    guessed = result["guessed"] = first_id.split(".")[0] + "." + "0" * 32
    fresh = ChatSocket()
    await fresh.connect(url)
    result["fresh_id"] = await fresh.session({"session_id": guessed})
    # Writing into another conversation than the confirmed one is refused, politely.
    await fresh.say("Vad heter du?", rest_issued)
    result["foreign_replies"] = await fresh.replies_after(0)
    await fresh.close()
    return result


def test_socket_sessions_are_issued_resumed_when_signed_and_bound_to_the_socket(
    services: Services,
) -> None:
    rest_issued = new_sender(services.rasa_url)
    result = asyncio.run(_socket_sessions(services.rasa_url, rest_issued))
    first_id = str(result["first_id"])
    assert SIGNED_ID.fullmatch(first_id)
    assert stored_events(services, first_id) > 0
    assert result["resumed_id"] == first_id
    assert result["fresh_id"] not in (result["guessed"], first_id)
    assert SIGNED_ID.fullmatch(str(result["fresh_id"]))
    assert result["foreign_replies"] == [UNKNOWN_SENDER_TEXT]
    assert stored_events(services, rest_issued) == 0  # nothing written into it
