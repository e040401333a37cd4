"""Hostile input through the socket.io channel the widget uses: no crash, limits applied."""

from __future__ import annotations

import asyncio

import pytest

from bot.public_channel import MAX_MESSAGE_CHARS, TOO_LONG_TEXT, UNKNOWN_SENDER_TEXT
from tests.integration.chat import ChatSocket
from tests.integration.conftest import Services

pytestmark = pytest.mark.model

WRONG_SHAPES: list[object] = [
    "just a string",
    ["a", "list"],
    42,
    None,
    {"message": {"text": "hej"}},
    {"message": ["hej"]},
    {"message": "hej", "session_id": 5},
    {"message": "hej", "session_id": {"$ne": ""}},
    {"message": "hej", "customData": "not an object"},
]


async def _conversation(url: str) -> list[str]:
    chat = ChatSocket()
    await chat.connect(url)
    try:
        await chat.client.emit("session_request")  # no data at all
        await chat.client.emit("session_request", "not an object")
        # An id the server did not sign is not resumed: a new one is issued.
        unsigned = "0123456789abcdef" * 2
        await chat.client.emit("session_request", {"session_id": unsigned})
        await chat.wait(lambda: len(chat.confirmations) == 3, 30)
        session_id = chat.confirmations[-1]
        assert session_id != unsigned
        for shape in WRONG_SHAPES:
            await chat.client.emit("user_uttered", shape)
        await chat.say("x" * (MAX_MESSAGE_CHARS + 1), session_id)
        await chat.say("hej", session_id)
        return await chat.replies_after(2)
    finally:
        await chat.close()


def test_wrong_shapes_are_ignored_and_too_long_messages_refused(services: Services) -> None:
    replies = asyncio.run(_conversation(services.rasa_url))
    # The message without a session id is answered with "start a new conversation".
    assert UNKNOWN_SENDER_TEXT in replies[:3]
    assert TOO_LONG_TEXT in replies[:3]
    assert len(replies) >= 3  # the server still answers the normal message
    assert services.rasa_log is not None
    assert "Traceback" not in services.rasa_log.read_text(errors="replace")
