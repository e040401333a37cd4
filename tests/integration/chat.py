"""Helpers for the public-channel tests: a socket.io chat client and the tracker store's rows."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable

import socketio

from tests.conftest import Services


def user_texts(services: Services, sender: str) -> list[str]:
    """The user messages stored in the tracker store for one sender, oldest first."""
    with sqlite3.connect(services.tracker_db) as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
            (sender,),
        ).fetchall()
    return [str(json.loads(row[0]).get("text") or "") for row in rows]


def stored_events(services: Services, sender: str) -> int:
    """How many events of one sender the tracker store holds."""
    with sqlite3.connect(services.tracker_db) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,)
        ).fetchone()
    return int(count)


class ChatSocket:
    """A socket.io client of the chat channel (polling) that records what the server sends."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.confirmations: list[str] = []
        self.replies: list[str] = []
        self.client.on("session_confirm", self._on_confirm)
        self.client.on("bot_uttered", self._on_bot)

    async def _on_confirm(self, data: object) -> None:
        self.confirmations.append(str(data))

    async def _on_bot(self, data: object) -> None:
        self.replies.append(str(data.get("text", "")) if isinstance(data, dict) else "")

    async def connect(self, url: str, origin: str | None = None) -> None:
        """Connect to a Rasa server, optionally as a page of ``origin``."""
        headers = {"Origin": origin} if origin else {}
        await self.client.connect(
            url, socketio_path="/socket.io", transports=["polling"], headers=headers
        )

    async def session(self, data: object = None) -> str:
        """Send ``session_request`` and return the session id the server confirms."""
        before = len(self.confirmations)
        await self.client.call("session_request", {} if data is None else data, timeout=30)
        await self.wait(lambda: len(self.confirmations) > before, 30)
        return self.confirmations[-1]

    async def say(self, message: str, session_id: str) -> None:
        """Send a message (waits until the server has handled it)."""
        await self.client.call(
            "user_uttered", {"message": message, "session_id": session_id}, timeout=60
        )

    async def replies_after(self, count: int, seconds: float = 60) -> list[str]:
        """Wait until more than ``count`` replies arrived; return them all."""
        await self.wait(lambda: len(self.replies) > count, seconds)
        return list(self.replies)

    @staticmethod
    async def wait(condition: Callable[[], bool], seconds: float) -> None:
        """Wait until ``condition()`` holds or the time is up."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not condition() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Disconnect."""
        await self.client.disconnect()
