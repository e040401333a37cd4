"""Hostile input through the socket.io channel the widget uses: no crash, limits applied."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import socketio

from bot.public_channel import MAX_MESSAGE_CHARS, TOO_LONG_TEXT
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
    confirmed = asyncio.Event()
    session_id = uuid.uuid4().hex

    @client.on("session_confirm")
    async def on_confirm(_data: object) -> None:
        confirmed.set()

    @client.on("bot_uttered")
    async def on_bot(data: object) -> None:
        if isinstance(data, dict):
            replies.append(str(data.get("text", "")))

    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    try:
        await client.emit("session_request")  # no data at all
        await client.emit("session_request", "not an object")
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 30)
        for shape in WRONG_SHAPES:
            await client.emit("user_uttered", shape)
        await client.emit(
            "user_uttered", {"message": "x" * (MAX_MESSAGE_CHARS + 1), "session_id": session_id}
        )
        await client.emit("user_uttered", {"message": "hej", "session_id": session_id})
        deadline = asyncio.get_running_loop().time() + 60
        while len(replies) < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
    finally:
        await client.disconnect()
    return replies, [session_id]


def test_wrong_shapes_are_ignored_and_too_long_messages_refused(services: Services) -> None:
    replies, _ = asyncio.run(_conversation(services.rasa_url))
    assert replies[0] == TOO_LONG_TEXT
    assert len(replies) >= 2  # the server still answers the normal message
    assert services.rasa_log is not None
    assert "Traceback" not in services.rasa_log.read_text(errors="replace")
