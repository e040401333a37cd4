"""Abuse limits of the public chat channels (REST and socket.io) on the Rasa server.

The chat is open to anyone on the internet. Before a message reaches Rasa:

* control characters (NUL included), lone surrogates and bidirectional overrides are removed;
* an empty message gets a short Swedish prompt and is not stored;
* a message longer than :data:`MAX_MESSAGE_CHARS` gets a polite Swedish reply and is not
  stored at all (the entrepreneur is asked to write it shorter);
* the REST webhook (:class:`SafeRestInput`, same name ``rest`` and URL
  ``/webhooks/rest/webhook`` as Rasa's) answers 4xx, never 5xx, to a body that is too large,
  not JSON, not UTF-8 or of the wrong shape, and never logs message texts (Rasa's own channel
  logs the text when handling fails);
* the sender id must be one the server issued (``POST /webhooks/rest/session``, signed:
  :mod:`bot.sender_ids`), so nobody reads or continues another person's conversation by
  guessing its id; any other sender gets 403 and nothing is stored;
* requests are rate limited per client address and per conversation (:mod:`bot.rate_limit`):
  over the limit 429 with ``Retry-After`` and a polite Swedish text, nothing stored, nothing
  handled by Rasa.

The Rasa server's request body limit (Sanic ``REQUEST_MAX_SIZE``, 100 MB by default) is lowered to
:data:`MAX_REQUEST_BYTES` unless ``SANIC_REQUEST_MAX_SIZE`` is set.
"""

from __future__ import annotations

import json
import logging
import os
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.rate_limit import RATE_LIMITED_TEXT, ChannelLimits, client_address, retry_after
from bot.sender_ids import SenderIds

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
"""Longest chat message taken in (characters after cleaning)."""
MAX_BODY_BYTES = 64 * 1024
"""Largest REST webhook body (bytes): a full-length message in JSON with room to spare."""
MAX_REQUEST_BYTES = 1_000_000
"""Largest request body the Rasa server reads at all (Sanic's ``REQUEST_MAX_SIZE``)."""

TOO_LONG_TEXT = (
    "Ditt meddelande är för långt för mig. Skriv din fråga kortare, högst "
    f"{MAX_MESSAGE_CHARS:,} tecken, så hjälper jag dig.".replace(",", "\u00a0")
)
EMPTY_TEXT = "Skriv din fråga, så hjälper jag dig."
FAILED_TEXT = "Förlåt, något gick fel hos mig. Försök igen om en liten stund."
UNKNOWN_SENDER_TEXT = (
    "Jag känner inte igen det här samtalet. Ladda om sidan eller börja ett nytt samtal, "
    "så hjälper jag dig."
)
"""The answer to a sender id the server did not issue (REST 403, socket.io message)."""

# Bidirectional embeddings, overrides and isolates can make text read differently than it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def clean_message(text: str) -> str:
    """Remove control characters, lone surrogates and bidi overrides; trim whitespace.

    Line breaks and tabs are kept; emoji, zero-width joiners and right-to-left letters are kept.

    Args:
        text: The message as received.

    Returns:
        The cleaned message.
    """
    kept = (
        char
        for char in text
        if char in "\n\t"
        or (unicodedata.category(char) not in ("Cc", "Cs") and char not in _BIDI_CONTROLS)
    )
    return "".join(kept).strip()


def limited(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wrap a channel's message handler with cleaning and the length limit.

    Args:
        on_new_message: Rasa's handler.

    Returns:
        A handler that answers empty and too long messages itself (nothing is stored) and
        passes every other message on, cleaned.
    """

    async def handle(message: UserMessage) -> None:
        raw = message.text if isinstance(message.text, str) else ""
        text = clean_message(raw)
        reply = None
        if not text:
            reply = EMPTY_TEXT
        elif len(text) > MAX_MESSAGE_CHARS:
            reply = TOO_LONG_TEXT
            logger.info(
                "Refused a message of %d characters (limit %d)", len(text), MAX_MESSAGE_CHARS
            )
        if reply is not None:
            if message.output_channel is not None:
                await message.output_channel.send_text_message(message.sender_id, reply)
            return
        message.text = text
        await on_new_message(message)

    return handle


def _bad_request(reason: str, status: int = 400) -> HTTPResponse:
    return json_response({"error": reason}, status=status)


def _too_many(wait: float) -> HTTPResponse:
    return json_response(
        {"error": "too many requests", "text": RATE_LIMITED_TEXT},
        status=429,
        headers={"Retry-After": retry_after(wait)},
    )


def _request_limit() -> int:
    configured = os.environ.get("SANIC_REQUEST_MAX_SIZE")
    return int(configured) if configured else MAX_REQUEST_BYTES


class SafeRestInput(RestInput):
    """Rasa's REST channel (name ``rest``) hardened for the public internet."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Build ``GET /webhooks/rest/``, ``POST /webhooks/rest/session`` and ``.../webhook``.

        Args:
            on_new_message: Rasa's handler (the agent).

        Returns:
            The blueprint.
        """
        handler = limited(on_new_message)
        sender_ids = SenderIds()
        limits = ChannelLimits.from_env()

        def address(request: Request) -> str:
            return client_address(
                request.ip, request.headers.get("x-forwarded-for"), limits.proxies_count
            )

        blueprint = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @blueprint.listener("before_server_start")
        async def limit_request_size(app: Sanic, _loop: Any) -> None:
            limit = _request_limit()
            if app.config.REQUEST_MAX_SIZE > limit:
                app.config.REQUEST_MAX_SIZE = limit

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return json_response({"status": "ok"})

        @blueprint.route("/session", methods=["POST"])
        async def new_session(request: Request) -> HTTPResponse:
            wait = await limits.check_ip(address(request))
            if wait:
                return _too_many(wait)
            return json_response({"sender": sender_ids.issue()})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            wait = await limits.check_ip(address(request))
            if wait:
                return _too_many(wait)
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                return _bad_request("request body too large", status=413)
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                return _bad_request("body must be JSON in UTF-8")
            if not isinstance(payload, dict):
                return _bad_request("body must be a JSON object")
            sender = payload.get("sender")
            if not isinstance(sender, str):
                return _bad_request("sender must be a string from POST /webhooks/rest/session")
            text = payload.get("message")
            if not isinstance(text, str):
                return _bad_request("message must be a string")
            metadata = payload.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                return _bad_request("metadata must be a JSON object")
            if not sender_ids.is_valid(sender):
                return json_response(
                    {"error": "unknown sender", "text": UNKNOWN_SENDER_TEXT}, status=403
                )
            wait = await limits.check_conversation(sender)
            if wait:
                return _too_many(wait)
            collector = CollectingOutputChannel()
            try:
                await handler(
                    UserMessage(
                        text, collector, sender, input_channel=self.name(), metadata=metadata
                    )
                )
            except Exception as error:
                # Never the text: it may hold personal data.
                logger.error("REST message could not be handled (%s)", type(error).__name__)
                await collector.send_text_message(sender, FAILED_TEXT)
            return json_response(collector.messages)

        return blueprint
