"""Hostile input through the socket.io channel the widget uses: no crash, limits applied."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from bot.public_channel import MAX_MESSAGE_CHARS, TOO_LONG_TEXT, UNKNOWN_SENDER_TEXT
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


async def _conversation(url: str) -> tuple[list[str], list[str]]:
    client = socketio.AsyncClient()
    replies: list[str] = []
    confirmations: list[str] = []
    all_confirmed = asyncio.Event()

    @client.on("session_confirm")
    async def on_confirm(data: object) -> None:
        confirmations.append(str(data))
        if len(confirmations) == 3:
            all_confirmed.set()

    @client.on("bot_uttered")
    async def on_bot(data: object) -> None:
        if isinstance(data, dict):
            replies.append(str(data.get("text", "")))

    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    try:
        await client.emit("session_request")  # no data at all
        await client.emit("session_request", "not an object")
        # An id the server did not sign is not resumed: a new one is issued.
        await client.emit("session_request", {"session_id": "0123456789abcdef" * 2})
        await asyncio.wait_for(all_confirmed.wait(), 30)
        session_id = confirmations[-1]
        assert session_id != "0123456789abcdef" * 2
        for shape in WRONG_SHAPES:
            await client.emit("user_uttered", shape)
        await client.emit(
            "user_uttered", {"message": "x" * (MAX_MESSAGE_CHARS + 1), "session_id": session_id}
        )
        await client.emit("user_uttered", {"message": "hej", "session_id": session_id})
        deadline = asyncio.get_running_loop().time() + 60
        while len(replies) < 3 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
    finally:
        await client.disconnect()
    return replies, [session_id]


def test_wrong_shapes_are_ignored_and_too_long_messages_refused(services: Services) -> None:
    replies, _ = asyncio.run(_conversation(services.rasa_url))
    # The message without a session id is answered with "start a new conversation".
    assert UNKNOWN_SENDER_TEXT in replies[:3]
    assert TOO_LONG_TEXT in replies[:3]
    assert len(replies) >= 3  # the server still answers the normal message
    assert services.rasa_log is not None
    assert "Traceback" not in services.rasa_log.read_text(errors="replace")
