"""Tracker stores: personal data masked before storing; in production, no fallback to memory.

:class:`MaskingSQLTrackerStore` is Rasa's SQL store with one change: every event is masked
(:func:`bot.privacy.mask_event_dicts`: personnummer everywhere, e-mail addresses and phone
numbers outside the contact and case status forms) before it is written or streamed. It is the
store of ``endpoints.yml`` (SQLite) and the base of :class:`DurableSQLTrackerStore`, so both
profiles pass the same choke point.

The production store never falls back to memory: it retries, then fails loudly.

Rasa wraps the configured tracker store in a ``FailSafeTrackerStore`` that, on any database
error, logs and keeps the conversation in process memory (``InMemoryTrackerStore``): a replica
then silently forgets or forks conversations. It also swaps in an in-memory store when a custom
store's module path cannot be imported. The production profile therefore:

* configures :class:`DurableSQLTrackerStore` by module path in ``deploy/endpoints.prod.yml``;
* has :mod:`bot.health` unwrap the fail-safe wrapper once the server has started, and stop the
  process (non-zero exit) when the store in use is not this one or the lock store is not Redis;
* retries transient database errors (a PostgreSQL restart, a dropped connection) for a bounded
  time, then marks the store unhealthy (``/health`` turns red), logs an error and raises
  :class:`TrackerStoreUnavailableError`, which the channels in :mod:`bot.health` turn into an
  honest "cannot take your case right now" for the user.

Saving is idempotent: Rasa's SQL store appends only the events beyond those already stored, so
a save retried after a lost commit acknowledgement stores nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.privacy import mask_event_dicts

logger = logging.getLogger(__name__)

URL_ENV = "TRACKER_STORE_URL"
RETRY_SECONDS_ENV = "LOTSEN_TRACKER_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 30.0
CONNECT_SECONDS_ENV = "LOTSEN_TRACKER_CONNECT_SECONDS"
DEFAULT_CONNECT_SECONDS = 60.0

T = TypeVar("T")


class TrackerStoreUnavailableError(RuntimeError):
    """The tracker store's database could not be reached within the retry window."""


class StoreHealth:
    """Thread-safe health flag of the tracker store, read by ``/health``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: str | None = "not started"

    def ok(self) -> None:
        """Mark the store healthy."""
        with self._lock:
            self._error = None

    def fail(self, reason: str) -> None:
        """Mark the store unhealthy.

        Args:
            reason: Short reason without personal data (an exception class name).
        """
        with self._lock:
            self._error = reason

    @property
    def error(self) -> str | None:
        """Why the store is unhealthy, or None when it works."""
        with self._lock:
            return self._error


def _transient(error: BaseException) -> bool:
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def wait_for_database(url: str, timeout: float) -> None:
    """Wait until a database answers ``SELECT 1``.

    Args:
        url: SQLAlchemy URL.
        timeout: Seconds to keep trying.

    Raises:
        TrackerStoreUnavailableError: If it does not answer in time.
    """
    engine = sa.create_engine(url, future=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
                return
            except DBAPIError as error:
                if time.monotonic() >= deadline:
                    raise TrackerStoreUnavailableError(
                        f"tracker store database unreachable: {type(error).__name__}"
                    ) from error
                time.sleep(1)
    finally:
        engine.dispose()


def masked_tracker(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """Return a copy of the tracker whose events carry no unmasked personal data.

    Args:
        tracker: The conversation as the processor holds it (unmasked).

    Returns:
        A tracker with the same number of events, in the same order, masked.
    """
    events = [
        Event.from_parameters(data)
        for data in mask_event_dicts(event.as_dict() for event in tracker.events)
    ]
    return DialogueStateTracker.from_events(
        tracker.sender_id,
        [event for event in events if event is not None],
        slots=tracker.slots.values(),
        sender_source=tracker.sender_source,
    )


# The latest session of a conversation, as Rasa's ``SQLTrackerStore._event_query`` selects it
# (events from the last ``session_started`` on, or all when there is none), written once as
# SQL: Rasa builds that ORM query anew for every message, and SQLAlchemy then spends more time
# computing its cache key than the database spends answering it (bench/RESULTS.md, step 7).
_LATEST_SESSION = """
    FROM events,
        (SELECT max(timestamp) AS session_start FROM events
         WHERE sender_id = :sender_id AND type_name = 'session_started') AS latest
    WHERE events.sender_id = :sender_id
        AND (events.timestamp >= latest.session_start OR latest.session_start IS NULL)
"""
LATEST_SESSION_EVENTS = sa.text(f"SELECT events.data {_LATEST_SESSION} ORDER BY events.id")
LATEST_SESSION_COUNT = sa.text(f"SELECT count(*) {_LATEST_SESSION}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: reads do not wait for the writer; NORMAL: no fsync at every commit (a power cut can
    # lose the last commits, never corrupt the file).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class MaskingSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store that masks personal data before anything is stored.

    On a SQLite file it keeps its connections open (a pool instead of SQLAlchemy 1.4's new
    connection per session) in WAL mode with ``synchronous=NORMAL``: measured in
    bench/RESULTS.md.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Rasa's SQL store (same arguments); on a SQLite file, pooled WAL connections."""
        super().__init__(*args, **kwargs)
        engine: Any = getattr(self, "engine")  # noqa: B009 - untyped in Rasa
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            engine.dispose()
            self.engine = sa.create_engine(
                engine.url,
                poolclass=sa.pool.QueuePool,
                connect_args={"check_same_thread": False},
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa's read of a conversation; the latest session by :data:`LATEST_SESSION_EVENTS`.

        Args:
            sender_id: The conversation.
            fetch_events_from_all_sessions: Every session (Rasa's own query) or the latest.

        Returns:
            The tracker, or None when nothing is stored for the conversation.
        """
        if fetch_events_from_all_sessions:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with self.session_scope() as session:
            rows = session.execute(LATEST_SESSION_EVENTS, {"sender_id": sender_id}).scalars()
            events = [json.loads(data) for data in rows]
        if not self.domain or not events:  # as Rasa's _retrieve
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Stream the tracker's new events, masked, when an event broker is configured.

        Args:
            tracker: The conversation (unmasked, as the processor holds it).
        """
        if self.event_broker is not None:
            await super().stream_events(masked_tracker(tracker))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events not stored yet, masked (what Rasa's ``save`` stores, written directly).

        Masking depends on the conversation so far (which form asks for which slot), so every
        event of the session is masked; masking is idempotent and keeps the number of events, so
        the count of stored events lines up and a retried save stores nothing twice. The masked
        dictionaries are the rows' data as they are: Rasa's ``save`` turned them back into
        events, then into dictionaries again, and inserted them one ORM object at a time.

        Args:
            tracker: The conversation (unmasked, as the processor holds it).
        """
        await self.stream_events(tracker)
        with self.session_scope() as session:
            stored = session.execute(
                LATEST_SESSION_COUNT, {"sender_id": tracker.sender_id}
            ).scalar_one()
            masked = mask_event_dicts(event.as_dict() for event in tracker.events)
            rows = [_event_row(tracker.sender_id, data) for data in masked[stored:]]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()


def _event_row(sender_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """The ``events`` row of one event dictionary, with the columns Rasa's ``save`` fills."""
    parse_data = data.get("parse_data") or {}
    return {
        "sender_id": sender_id,
        "type_name": data.get("event"),
        "timestamp": data.get("timestamp"),
        "intent_name": (parse_data.get("intent") or {}).get("name"),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


class DurableSQLTrackerStore(MaskingSQLTrackerStore):
    """Rasa's SQL tracker store with bounded retries, health reporting and no silent fallback."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        retry_seconds: float | None = None,
        connect_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Connect to the database named by ``url`` in the endpoints or ``TRACKER_STORE_URL``.

        Args:
            domain: The assistant's domain.
            host: Full SQLAlchemy URL (the endpoint's ``url``).
            event_broker: Optional event broker.
            retry_seconds: How long reads and writes retry transient errors.
            connect_seconds: How long to wait for the database at start-up.
            **kwargs: Passed on to Rasa's ``SQLTrackerStore``.

        Raises:
            TrackerStoreUnavailableError: If no URL is configured or the database does not
                answer at start-up (the server then refuses to start).
        """
        url = host if host and "://" in host else os.environ.get(URL_ENV)
        if not url:
            raise TrackerStoreUnavailableError(
                f"DurableSQLTrackerStore needs a database URL (endpoint url or {URL_ENV})"
            )
        self.health = StoreHealth()
        self.retry_seconds = (
            retry_seconds
            if retry_seconds is not None
            else _float_env(RETRY_SECONDS_ENV, DEFAULT_RETRY_SECONDS)
        )
        wait = (
            connect_seconds
            if connect_seconds is not None
            else _float_env(CONNECT_SECONDS_ENV, DEFAULT_CONNECT_SECONDS)
        )
        # Rasa's own constructor loops forever while the database is down; we bound it.
        wait_for_database(url, wait)
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        # Dead pooled connections (after a database restart) are replaced before use.
        old_engine: Any = getattr(self, "engine")  # noqa: B009 - untyped in Rasa
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
        old_engine.dispose()
        self.engine = engine
        self.sessionmaker = sa.orm.session.sessionmaker(bind=engine)
        self.health.ok()
        logger.info("Durable SQL tracker store connected (%s)", engine.dialect.name)

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.2
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await call()
            except DBAPIError as error:
                if not _transient(error) or time.monotonic() >= deadline:
                    self.health.fail(f"{what}: {type(error).__name__}")
                    logger.error(
                        "Tracker store %s failed after %d attempts (%s); not falling back "
                        "to memory",
                        what,
                        attempt,
                        type(error).__name__,
                    )
                    raise TrackerStoreUnavailableError(f"tracker store {what} failed") from error
                self.health.fail(f"{what}: retrying after {type(error).__name__}")
                logger.warning(
                    "Tracker store %s: %s, retry %d", what, type(error).__name__, attempt
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if attempt > 1 or self.health.error is not None:
                logger.info("Tracker store %s succeeded again after %d attempts", what, attempt)
            self.health.ok()
            return result

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """Read the latest session of a conversation, retrying transient errors."""
        parent = super().retrieve
        return await self._retrying("retrieve", lambda: parent(sender_id))

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Read every session of a conversation, retrying transient errors."""
        parent = super().retrieve_full_tracker
        return await self._retrying("retrieve_full", lambda: parent(conversation_id))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the tracker's new events, retrying transient errors (idempotent)."""
        parent = super().save
        await self._retrying("save", lambda: parent(tracker))

    async def keys(self) -> Iterable[str]:
        """List conversation ids, retrying transient errors."""
        parent = super().keys
        return await self._retrying("keys", parent)

    def ping(self) -> None:
        """Run ``SELECT 1`` on the store's database (raises on failure)."""
        engine: Any = getattr(self, "engine")  # noqa: B009 - untyped in Rasa
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
