"""Read-only access to Rasa's SQL tracker store: chat transcripts and conversation counts.

Rasa's ``SQLTrackerStore`` keeps one row per event in the table ``events`` (``sender_id``,
``type_name``, ``timestamp`` in Unix seconds, ``data`` as JSON). This module never writes. A
missing database file or table means "no conversations yet", not an error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, distinct, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.future import create_engine

from bot.privacy import mask_personnummer

logger = logging.getLogger(__name__)

_metadata = MetaData()
EVENTS = Table(
    "events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("data", Text),
)
_MISSING = (OperationalError, ProgrammingError)
_SPEAKERS = {"user": "Företagare", "bot": "Företagslotsen"}


@dataclasses.dataclass(frozen=True)
class Message:
    """One chat message, plain text with personnummer masked.

    Attributes:
        speaker: ``user`` or ``bot``.
        text: What was written.
        at: When (UTC).
    """

    speaker: str
    text: str
    at: dt.datetime

    @property
    def speaker_sv(self) -> str:
        """str: Who wrote it, in Swedish."""
        return _SPEAKERS.get(self.speaker, self.speaker)


def create_tracker_engine(url: str) -> Engine | None:
    """Open the tracker store read-only.

    Args:
        url: SQLAlchemy URL of Rasa's tracker store.

    Returns:
        An engine, or None when the SQLite file does not exist (yet).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or not path.is_file():
            return None
        return create_engine(
            f"sqlite:///file:{path.resolve()}?mode=ro&uri=true", connect_args={"timeout": 5}
        )
    return create_engine(url, pool_pre_ping=True)


class TranscriptReader:
    """Reads conversations from the tracker store."""

    def __init__(self, url: str) -> None:
        """Create a reader; the database is opened on first use (Rasa may create it later).

        Args:
            url: SQLAlchemy URL of the tracker store.
        """
        self._url = url
        self._opened: Engine | None = None

    @property
    def _engine(self) -> Engine | None:
        if self._opened is None:
            self._opened = create_tracker_engine(self._url)
        return self._opened

    def transcript(self, sender_id: str, limit: int = 1000) -> list[Message]:
        """Return a conversation's user and bot messages, oldest first.

        Args:
            sender_id: The conversation id (a case's ``conversation_id``).
            limit: Most messages to read.

        Returns:
            The messages; empty when the tracker store is missing.
        """
        if self._engine is None:
            return []
        statement = (
            select(EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
            .where(EVENTS.c.sender_id == sender_id, EVENTS.c.type_name.in_(tuple(_SPEAKERS)))
            .order_by(EVENTS.c.timestamp, EVENTS.c.id)
            .limit(limit)
        )
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(statement).all()
        except _MISSING as error:
            logger.warning("Tracker store not readable (%s)", type(error).__name__)
            return []
        return [message for row in rows if (message := _message(*row)) is not None]

    def sender_ids(
        self, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> Iterator[str]:
        """Yield the distinct conversations in which a user wrote something.

        Args:
            since: Only conversations with a user message at or after this time.
            until: ... and before this time.

        Yields:
            Sender ids; nothing when the tracker store is missing.
        """
        if self._engine is None:
            return
        statement = select(distinct(EVENTS.c.sender_id)).where(EVENTS.c.type_name == "user")
        if since is not None:
            statement = statement.where(EVENTS.c.timestamp >= since.timestamp())
        if until is not None:
            statement = statement.where(EVENTS.c.timestamp < until.timestamp())
        try:
            with self._engine.connect() as connection:
                for (sender_id,) in connection.execution_options(stream_results=True).execute(
                    statement
                ):
                    yield str(sender_id)
        except _MISSING as error:
            logger.warning("Tracker store not readable (%s)", type(error).__name__)


def _message(type_name: str, timestamp: float | None, data: str | None) -> Message | None:
    try:
        payload = json.loads(data or "{}")
    except ValueError:
        return None
    text = payload.get("text") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text:
        return None
    at = dt.datetime.fromtimestamp(timestamp or 0, tz=dt.timezone.utc)
    return Message(speaker=type_name, text=mask_personnummer(text), at=at)
