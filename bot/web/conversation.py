"""Deletion of a chat conversation from Rasa's SQL tracker store, asked for by the chat widget.

The widget holds the conversation's session id, issued and signed by the Rasa server
(:mod:`bot.sender_ids`) and kept in the browser's local storage. The id is the credential:
``POST /widget/api/conversation/delete`` with ``{"session_id": "<signed id>"}`` deletes the
tracker events of exactly that sender and nothing else, and only when the signature is valid
(403 otherwise), so nobody can delete another person's conversation by guessing or enumerating
ids. The web app and the Rasa servers share the signing key (``LOTSEN_SENDER_KEY`` or
``var/sender-key``). Cases the entrepreneur registered are kept: they follow the case log's
retention.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.future import create_engine

from bot.sender_ids import SIGNED_ID, SenderIds

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _tracker_engine(url: str) -> Engine:
    # A plain engine: the tracker store belongs to Rasa, so its file settings are left alone.
    return create_engine(url, pool_pre_ping=True)


def delete_conversation(tracker_store_url: str, session_id: str) -> int:
    """Delete every tracker event of one widget conversation.

    Args:
        tracker_store_url: SQLAlchemy URL of Rasa's SQL tracker store.
        session_id: The widget's session id (a signed sender id; check its signature first).

    Returns:
        The number of events deleted.

    Raises:
        ValueError: When the session id does not have the widget's shape.
    """
    if not SIGNED_ID.fullmatch(session_id):
        raise ValueError("not a widget session id")
    with _tracker_engine(tracker_store_url).begin() as connection:
        result = connection.execute(
            text("DELETE FROM events WHERE sender_id = :sender"), {"sender": session_id}
        )
    return int(result.rowcount or 0)


def conversation_blueprint(tracker_store_url: str, var_dir: Path | None = None) -> Blueprint:
    """Build the widget's conversation API.

    Args:
        tracker_store_url: SQLAlchemy URL of Rasa's SQL tracker store.
        var_dir: Where the sender-id key file lives (the settings' ``var/`` when None).

    Returns:
        A blueprint with ``POST /widget/api/conversation/delete``.
    """
    sender_ids = SenderIds(var_dir)
    blueprint = Blueprint("widget_conversation", url_prefix="/widget/api")

    @blueprint.post("/conversation/delete")
    async def delete(request: Request) -> HTTPResponse:
        # A JSON body is required: a plain HTML form from another site cannot send one.
        if request.content_type.split(";")[0].strip() != "application/json":
            return json({"error": "JSON body required"}, status=415)
        body = request.json if isinstance(request.json, dict) else {}
        session_id = body.get("session_id")
        if not isinstance(session_id, str) or not SIGNED_ID.fullmatch(session_id):
            return json({"error": "invalid session id"}, status=400)
        if not sender_ids.is_valid(session_id):
            return json({"error": "unknown session id"}, status=403)
        try:
            deleted = delete_conversation(tracker_store_url, session_id)
        except SQLAlchemyError as error:
            logger.warning("Could not delete a conversation (%s)", type(error).__name__)
            return json({"error": "could not delete"}, status=503)
        logger.info("Deleted a widget conversation (%d events)", deleted)
        return json({"deleted": deleted})

    return blueprint
