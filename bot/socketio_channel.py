"""Rasa's socket.io input channel with working session persistence.

Rasa 3.6 calls ``AsyncServer.enter_room`` without ``await``; since python-socketio 5.11 that method
is a coroutine, so the socket never joins the room of its session id and, with
``session_persistence: true``, the bot's replies (sent to that room) never reach the browser.
This channel replaces only the ``session_request`` handler; everything else is Rasa's. It is
configured in ``credentials.yml`` as ``bot.socketio_channel.SocketIOInput`` and keeps the name
``socketio``, so the webhook and the socket.io path stay the same.

It also applies the public channel's limits (:mod:`bot.public_channel`): messages are cleaned,
empty and too long ones are answered without being stored, and ``user_uttered`` events of the
wrong shape are ignored instead of raising inside Rasa's handler.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint

from bot.public_channel import limited

logger = logging.getLogger(__name__)


class SocketIOInput(RasaSocketIOInput):
    """socket.io channel whose ``session_request`` joins the session's room properly."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Build Rasa's blueprint, then register a fixed ``session_request`` handler.

        Args:
            on_new_message: Rasa's callback for a user message.

        Returns:
            The socket.io blueprint.
        """
        blueprint: Blueprint = super().blueprint(limited(on_new_message))
        sio = self.sio
        assert sio is not None  # set by the parent's blueprint()
        rasa_handle_message = sio.handlers[self.namespace or "/"][self.user_message_evt]

        async def user_uttered(sid: str, data: Any = None, *_extra: Any) -> None:
            if (
                not isinstance(data, dict)
                or not isinstance(data.get("message", ""), str)
                or not isinstance(data.get("session_id", ""), (str, type(None)))
                or not isinstance(data.get(self.metadata_key, {}), (dict, type(None)))
            ):
                logger.info("Ignored a socket.io message of the wrong shape")
                return
            await rasa_handle_message(sid, data)

        sio.on(self.user_message_evt, namespace=self.namespace)(user_uttered)

        async def session_request(sid: str, data: Any = None, *_extra: Any) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = data.get("session_id")
            if not isinstance(session_id, str) or not session_id:
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):  # a coroutine since python-socketio 5.11
                    await entered
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug("socket.io client joined its session")

        sio.on("session_request", namespace=self.namespace)(session_request)
        return blueprint
