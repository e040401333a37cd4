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

Sessions are issued by the server (:mod:`bot.sender_ids`): ``session_request`` resumes a
client's session id only when its signature is valid and otherwise confirms a new signed one,
and ``user_uttered`` is accepted only for the session id this socket was confirmed for. Messages
are rate limited per client address and per conversation (:mod:`bot.rate_limit`); over the limit
the socket gets a polite ``bot_uttered`` and nothing is stored. A browser page may connect only
from an origin the server allows (``rasa run --cors``) or from the server's own origin; the
WebSocket transport is not covered by CORS, so the origin is checked when the socket connects.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint, Sanic

from bot.public_channel import UNKNOWN_SENDER_TEXT, limited
from bot.rate_limit import RATE_LIMITED_TEXT, ChannelLimits, client_address
from bot.sender_ids import SenderIds

logger = logging.getLogger(__name__)


def origin_allowed(app: Sanic | None, path: str, environ: dict[str, Any]) -> bool:
    """Whether a socket may connect from the page origin it names.

    Allowed: no ``Origin`` (not a browser page), the server's own origin, and the origins the
    server's CORS configuration (``rasa run --cors``) allows for the socket.io path.

    Args:
        app: The Rasa server's Sanic app.
        path: The socket.io path.
        environ: The connection's WSGI-style environment.

    Returns:
        Whether to accept the connection.
    """
    from sanic_cors.core import try_match, try_match_any  # Rasa's CORS, loaded by its server

    origin = environ.get("HTTP_ORIGIN")
    if not origin:
        return True
    host = environ.get("HTTP_HOST")
    if host and origin.lower() in (f"http://{host}".lower(), f"https://{host}".lower()):
        return True
    context = getattr(app.ctx, "sanic_cors", None) if app is not None else None
    for pattern, options in getattr(context, "resources", []):
        if try_match(path, pattern):
            origins = options.get("origins") or []
            return r".*" in origins or bool(try_match_any(origin, origins))
    return False


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
        namespace = self.namespace
        handlers = sio.handlers[namespace or "/"]
        rasa_handle_message = handlers[self.user_message_evt]
        rasa_connect = handlers["connect"]
        sender_ids = SenderIds()
        limits = ChannelLimits.from_env()
        # One entry per open socket, removed when it disconnects.
        sessions: dict[str, str] = {}
        addresses: dict[str, str] = {}
        socket_path = self.socketio_path or "/socket.io"

        async def tell(sid: str, text: str) -> None:
            await sio.emit(self.bot_message_evt, {"text": text}, room=sid, namespace=namespace)

        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            app = getattr(request, "app", None)
            if not origin_allowed(app, socket_path, environ):
                logger.info("Refused a socket.io connection from a page origin not allowed")
                return False
            addresses[sid] = client_address(
                getattr(request, "ip", None),
                environ.get("HTTP_X_FORWARDED_FOR"),
                limits.proxies_count,
            )
            return bool(await rasa_connect(sid, environ, auth))

        async def disconnect(sid: str, *_extra: Any) -> None:
            sessions.pop(sid, None)
            addresses.pop(sid, None)

        async def user_uttered(sid: str, data: Any = None, *_extra: Any) -> None:
            if (
                not isinstance(data, dict)
                or not isinstance(data.get("message", ""), str)
                or not isinstance(data.get("session_id", ""), (str, type(None)))
                or not isinstance(data.get(self.metadata_key, {}), (dict, type(None)))
            ):
                logger.info("Ignored a socket.io message of the wrong shape")
                return
            conversation = sid
            if self.session_persistence:
                conversation = data.get("session_id") or ""
                if sessions.get(sid) != conversation:
                    logger.info("Refused a socket.io message for a session not confirmed")
                    await tell(sid, UNKNOWN_SENDER_TEXT)
                    return
            if await limits.check(addresses.get(sid, "unknown"), conversation):
                logger.info("Rate limited a socket.io message")
                await tell(sid, RATE_LIMITED_TEXT)
                return
            await rasa_handle_message(sid, data)

        async def session_request(sid: str, data: Any = None, *_extra: Any) -> None:
            if await limits.check_ip(addresses.get(sid, "unknown")):
                logger.info("Rate limited a socket.io session request")
                await tell(sid, RATE_LIMITED_TEXT)
                return
            data = data if isinstance(data, dict) else {}
            session_id = data.get("session_id")
            if not sender_ids.is_valid(session_id):
                session_id = sender_ids.issue()
            previous = sessions.get(sid)
            sessions[sid] = session_id
            if self.session_persistence:
                if previous is not None and previous != session_id:
                    left = sio.leave_room(sid, previous, namespace=namespace)
                    if inspect.isawaitable(left):
                        await left
                entered = sio.enter_room(sid, session_id, namespace=namespace)
                if inspect.isawaitable(entered):  # a coroutine since python-socketio 5.11
                    await entered
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            logger.debug("socket.io client joined its session")

        sio.on("connect", namespace=namespace)(connect)
        sio.on("disconnect", namespace=namespace)(disconnect)
        sio.on(self.user_message_evt, namespace=namespace)(user_uttered)
        sio.on("session_request", namespace=namespace)(session_request)
        return blueprint
