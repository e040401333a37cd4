"""Rasa's Redis lock store, fixed so a crashed replica cannot block a conversation for good.

Rasa 3.6's ticket lock gives every ticket the same lifetime. When a Rasa process dies while
it holds a conversation's ticket, the next message's ticket, issued a moment later, expires at
almost the same time as the dead one; both are removed together, the waiter's own ticket is
gone, and it waits forever (the user's request hangs until the proxy times out). Here a waiter
keeps its own ticket alive while it waits, so only the dead holder's ticket expires and the
conversation goes on after at most ``TICKET_LOCK_LIFETIME`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from rasa.core.constants import DEFAULT_LOCK_LIFETIME
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)


def lock_lifetime() -> float:
    """Seconds a ticket lives: ``TICKET_LOCK_LIFETIME`` as in Rasa, else Rasa's default."""
    return float(os.environ.get("TICKET_LOCK_LIFETIME", 0) or DEFAULT_LOCK_LIFETIME)


class DurableRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose waiting tickets do not expire while they wait."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        """Create the store from the endpoint configuration (as Rasa does for custom stores).

        Args:
            endpoint_config: The ``lock_store`` section of the endpoints file.
            **kwargs: ``RedisLockStore`` arguments when no endpoint configuration is given.
        """
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs}
        super().__init__(**kwargs)

    def _keep_waiting(self, lock: TicketLock, ticket: int) -> None:
        # Renew our own ticket first, then drop the expired ones (a dead holder's).
        for waiting in lock.tickets:
            if waiting.number == ticket:
                waiting.expires = max(waiting.expires, time.time() + lock_lifetime())
        lock.remove_expired_tickets()
        self.save_lock(lock)

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        waited = 0
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:
                break
            if not lock.is_locked(ticket):
                if waited:
                    logger.info("Conversation lock acquired after %d waits", waited)
                return lock
            waited += 1
            self._keep_waiting(lock, ticket)
            await asyncio.sleep(wait_time_in_seconds)
        raise LockError(f"Could not acquire lock for conversation (ticket {ticket}).")
