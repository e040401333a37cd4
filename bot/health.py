"""Health checks and fail-loud guards for the Rasa server in the production profile.

Configured as input channels in ``deploy/credentials.prod.yml``:

* :class:`HealthInput` serves ``GET /health`` on the Rasa server (database, lock store, model)
  and, once the server has started, refuses to run (exit code 78) when the tracker store in use
  is not :class:`bot.tracker_store.DurableSQLTrackerStore` (Rasa swaps in memory on a bad
  module path) or the lock store is not Redis. It also removes Rasa's fail-safe wrapper so a
  database error can never divert a conversation into process memory.
* :class:`DurableRestInput` and :class:`DurableSocketIOInput` are the ``rest`` and ``socketio``
  channels with one change: when a message cannot be handled (tracker store or lock store
  down), the user is told to try again later, and the error is logged without the message text.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.logs import use_json_format
from bot.public_channel import SafeRestInput
from bot.socketio_channel import SocketIOInput
from bot.tracker_store import DurableSQLTrackerStore

logger = logging.getLogger(__name__)

EXIT_NOT_DURABLE = 78  # EX_CONFIG
UNAVAILABLE_TEXT = (
    "Förlåt, jag kan inte ta emot ditt meddelande just nu på grund av ett tekniskt fel. "
    "Inget av det du skrivit har försvunnit. Försök igen om en liten stund"
)
"""What the user sees when the conversation cannot be stored; the load tests look for it."""

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def _unavailable_text() -> str:
    try:
        from bot.knowledge import get_knowledge

        knowledge = get_knowledge()
        centre = knowledge.units[knowledge.contact_centre]
        return f"{UNAVAILABLE_TEXT}, eller ring kontaktcenter på {centre.phone}."
    except Exception:  # the apology must not fail too
        return f"{UNAVAILABLE_TEXT}."


def guarded(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wrap a channel's message handler so failures reach the user as an honest apology.

    Args:
        on_new_message: Rasa's handler (the agent).

    Returns:
        A handler that never raises an ``Exception`` to the channel.
    """

    async def handle(message: UserMessage) -> None:
        try:
            await on_new_message(message)
        except Exception as error:
            # Never the message text: it may hold names, phone numbers, personnummer.
            logger.error(
                "Message could not be handled (%s); the user was asked to try again",
                type(error).__name__,
            )
            if message.output_channel is not None:
                await message.output_channel.send_text_message(
                    message.sender_id, _unavailable_text()
                )

    return handle


class DurableRestInput(SafeRestInput):
    """The public REST channel (same name and URL) that apologises instead of failing silently."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Build the channel's blueprint around a guarded handler."""
        blueprint: Blueprint = super().blueprint(guarded(on_new_message))
        return blueprint


class DurableSocketIOInput(SocketIOInput):
    """The project's socket.io channel that apologises instead of failing silently."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Build the channel's blueprint around a guarded handler."""
        blueprint: Blueprint = super().blueprint(guarded(on_new_message))
        return blueprint


def _inner_tracker_store(agent: Agent) -> TrackerStore | None:
    store = agent.tracker_store
    if isinstance(store, FailSafeTrackerStore):
        return store._tracker_store
    return store


def durability_problems(agent: Agent | None, require_redis: bool = True) -> list[str]:
    """List why a Rasa server would lose or fork conversations.

    Args:
        agent: The server's agent.
        require_redis: Whether the lock store must be Redis (several replicas).

    Returns:
        Problems, empty when the server is safe to run.
    """
    if agent is None:
        return ["no agent"]
    problems: list[str] = []
    store = _inner_tracker_store(agent)
    if not isinstance(store, DurableSQLTrackerStore):
        problems.append(f"tracker store is {type(store).__name__}, not DurableSQLTrackerStore")
    if require_redis and not isinstance(agent.lock_store, RedisLockStore):
        problems.append(f"lock store is {type(agent.lock_store).__name__}, not RedisLockStore")
    return problems


def make_durable(agent: Agent) -> None:
    """Remove Rasa's fail-safe wrapper so store errors are raised, never kept in memory.

    Args:
        agent: The server's agent (its processor is updated too).
    """
    store = _inner_tracker_store(agent)
    if store is None:
        return
    agent.tracker_store = store
    if agent.processor is not None:
        agent.processor.tracker_store = store


def _check_lock_store(lock_store: LockStore | None) -> str:
    if isinstance(lock_store, RedisLockStore):
        lock_store.red.ping()
        return "ok"
    return f"error: {type(lock_store).__name__}"


async def health_report(
    agent: Agent | None, require_redis: bool = True
) -> tuple[bool, dict[str, str]]:
    """Check the tracker store's database, the lock store and the model.

    Args:
        agent: The server's agent, or None before it is loaded.
        require_redis: Whether the lock store must be Redis.

    Returns:
        Whether all checks pass, and each check's result (``ok`` or ``error: ...``).
    """
    checks: dict[str, str] = {}
    if agent is None or not agent.is_ready():
        checks["model"] = "error: not loaded"
    else:
        checks["model"] = "ok"
    store = _inner_tracker_store(agent) if agent is not None else None
    if isinstance(store, DurableSQLTrackerStore):
        try:
            await asyncio.to_thread(store.ping)
            store.health.ok()  # reachable again: the next read or write will work
            checks["database"] = "ok"
        except Exception as error:
            store.health.fail(type(error).__name__)
            checks["database"] = f"error: {type(error).__name__}"
    else:
        checks["database"] = f"error: tracker store is {type(store).__name__}"
    if agent is not None:
        try:
            result = await asyncio.to_thread(_check_lock_store, agent.lock_store)
            checks["lock_store"] = (
                result if require_redis or result == "ok" else f"ok ({result[7:]})"
            )
        except Exception as error:
            checks["lock_store"] = f"error: {type(error).__name__}"
    else:
        checks["lock_store"] = "error: no agent"
    healthy = all(value.startswith("ok") for value in checks.values())
    return healthy, checks


class HealthInput(InputChannel):
    """``GET /health`` on the Rasa server, and the start-up check that refuses to run unsafely."""

    def __init__(self, require_redis: bool = True, json_logs: bool = True) -> None:
        """Create the channel.

        Args:
            require_redis: Whether the lock store must be Redis (several Rasa processes).
            json_logs: Whether the server logs JSON lines (bot/logs.py).
        """
        self.require_redis = require_redis
        self.json_logs = json_logs

    @classmethod
    def name(cls) -> str:
        """Channel name in the credentials file."""
        return "lotsen_health"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Read ``require_redis`` and ``json_logs`` from the credentials file (default true)."""
        credentials = credentials or {}
        return cls(
            require_redis=bool(credentials.get("require_redis", True)),
            json_logs=bool(credentials.get("json_logs", True)),
        )

    def url_prefix(self) -> str:
        """Serve at the root: ``/health``."""
        return "/"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Routes and listeners of the health check."""
        bp = Blueprint("lotsen_health", __name__)
        require_redis = self.require_redis
        if self.json_logs:
            use_json_format()

        @bp.listener("after_server_start")
        async def refuse_unsafe_start(app: Sanic, _loop: Any) -> None:
            agent = getattr(app.ctx, "agent", None)
            problems = durability_problems(agent, require_redis)
            if problems:
                for problem in problems:
                    logger.critical("Refusing to run: %s", problem)
                logging.shutdown()
                os._exit(EXIT_NOT_DURABLE)
            assert agent is not None
            if self.json_logs:
                use_json_format()
            make_durable(agent)
            logger.info("Durable tracker store and lock store checked")

        @bp.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            healthy, checks = await health_report(
                getattr(request.app.ctx, "agent", None), require_redis
            )
            return json(
                {"status": "ok" if healthy else "error", **checks},
                status=200 if healthy else 503,
            )

        return bp
