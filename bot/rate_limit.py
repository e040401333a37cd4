"""Rate limits of the public chat channels: per client address and per conversation.

One algorithm, GCRA (the generic cell rate algorithm, a token bucket that stores one number per
key): a limit of ``N per S seconds`` lets a burst of N requests through and then one every
``S / N`` seconds. A refused request costs nothing, so a client that waits is served again.

* :class:`MemoryLimiter` keeps the numbers in the process, in an LRU dictionary bounded to
  :data:`MAX_KEYS` keys (an attacker with many addresses evicts the oldest keys, never grows
  memory).
* :class:`RedisLimiter` keeps them in Redis (one atomic Lua script, Redis's clock), so every Rasa
  process behind the load balancer shares one limit. It is used when ``REDIS_HOST`` is set (the
  production profile's lock store). When Redis does not answer it falls back to the process's
  own limiter and logs the error class; chatting never fails because of the limiter.

Configuration (environment, read when the channel is built): ``LOTSEN_RATE_LIMIT_IP`` and
``LOTSEN_RATE_LIMIT_CONVERSATION`` as ``N/S`` (defaults :data:`DEFAULT_IP_LIMIT`,
:data:`DEFAULT_CONVERSATION_LIMIT`; ``0`` turns a limit off), ``LOTSEN_PROXIES_COUNT`` (trusted
proxies in front, for ``X-Forwarded-For``), ``LOTSEN_RATE_LIMIT_BACKEND`` (``memory`` forces the
in-process limiter even when Redis is configured).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MAX_KEYS = 100_000
"""Most keys the in-process limiter remembers (about 20 MB when full, measured)."""
DEFAULT_CONVERSATION_LIMIT = "20/20"
"""A burst of 20, then one a second: far above a person (a few messages per 10 s, quick button
clicks), and a script cannot flood one conversation (scripted test chats answer in ~0.1 s)."""
DEFAULT_IP_LIMIT = "600/60"
"""Generous: an office or school behind one NAT address can have many people chatting."""

RATE_LIMITED_TEXT = (
    "Du skickar många meddelanden på kort tid. Vänta en liten stund och skriv sedan igen, "
    "så svarar jag."
)
"""The polite answer over the limit (REST body and socket.io message)."""


@dataclass(frozen=True)
class Rate:
    """``requests`` per ``seconds``: a burst of ``requests``, then one per ``interval``."""

    requests: int
    seconds: float

    @property
    def interval(self) -> float:
        """float: Seconds between two requests once the burst is used up."""
        return self.seconds / self.requests

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """Read ``N/S`` (``10/10``); ``0`` or ``off`` means no limit.

        Args:
            text: The setting.

        Returns:
            The rate, or None for no limit.

        Raises:
            ValueError: When the text is not of that form.
        """
        text = text.strip().lower()
        if text in ("0", "off", "none"):
            return None
        count, _, seconds = text.partition("/")
        rate = cls(int(count), float(seconds or "1"))
        if rate.requests <= 0 or rate.seconds <= 0:
            raise ValueError(f"rate limit must be N/S with N, S > 0, not {text!r}")
        return rate


class Limiter(Protocol):
    """Decides whether one more request under a key is allowed."""

    async def hit(self, key: str, rate: Rate) -> float:
        """Count a request.

        Args:
            key: What is limited (``ip:...``, ``conversation:...``).
            rate: The limit.

        Returns:
            0 when allowed (and counted); otherwise the seconds to wait (nothing counted).
        """
        ...


class MemoryLimiter:
    """GCRA in this process, bounded to ``max_keys`` keys (least recently used go first)."""

    def __init__(
        self, max_keys: int = MAX_KEYS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create an empty limiter.

        Args:
            max_keys: Most keys kept.
            clock: Monotonic seconds.
        """
        self.max_keys = max_keys
        self.clock = clock
        self._due: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._due)

    def hit_now(self, key: str, rate: Rate) -> float:
        """Synchronous :meth:`hit`."""
        now = self.clock()
        due = max(self._due.get(key, now), now)
        allowed_from = due + rate.interval - rate.seconds
        if now < allowed_from:
            return allowed_from - now
        self._due[key] = due + rate.interval
        self._due.move_to_end(key)
        while len(self._due) > self.max_keys:
            self._due.popitem(last=False)
        return 0.0

    async def hit(self, key: str, rate: Rate) -> float:
        """See :meth:`Limiter.hit`."""
        return self.hit_now(key, rate)


# KEYS[1]: the key; ARGV: interval and period in microseconds. Redis's clock, so every process
# agrees. Returns 0 (allowed) or the microseconds to wait.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local due = tonumber(redis.call('GET', KEYS[1]) or now)
if due < now then due = now end
local allowed_from = due + interval - period
if now < allowed_from then return allowed_from - now end
redis.call('SET', KEYS[1], due + interval, 'PX', math.ceil((due + interval - now) / 1000) + 1)
return 0
"""


class RedisLimiter:
    """GCRA in Redis, shared by every process; falls back to memory when Redis fails."""

    def __init__(self, client: Any, prefix: str = "lotsen:ratelimit:") -> None:
        """Wrap a ``redis.asyncio.Redis`` client.

        Args:
            client: The client (not connected until the first request).
            prefix: Key prefix in Redis.
        """
        self.client = client
        self.prefix = prefix
        self.fallback = MemoryLimiter()
        self._script = client.register_script(_GCRA_LUA)

    async def hit(self, key: str, rate: Rate) -> float:
        """See :meth:`Limiter.hit`."""
        try:
            wait = await self._script(
                keys=[self.prefix + key],
                args=[math.ceil(rate.interval * 1e6), math.ceil(rate.seconds * 1e6)],
            )
        except Exception as error:  # the chat must not fail because the limiter's store did
            logger.warning(
                "Rate limit store unavailable (%s); limiting per process", type(error).__name__
            )
            return self.fallback.hit_now(key, rate)
        return float(wait) / 1e6


@functools.cache
def process_limiter() -> MemoryLimiter:
    """The process's in-memory limiter, shared by the REST and socket.io channels."""
    return MemoryLimiter()


def redis_limiter_from_env() -> RedisLimiter | None:
    """A :class:`RedisLimiter` when ``REDIS_HOST`` is set, like the production lock store."""
    host = os.environ.get("REDIS_HOST", "").strip()
    if not host or os.environ.get("LOTSEN_RATE_LIMIT_BACKEND", "").strip() == "memory":
        return None
    import redis.asyncio

    client = redis.asyncio.Redis(
        host=host,
        port=int(os.environ.get("REDIS_PORT", "6379") or 6379),
        password=os.environ.get("REDIS_PASSWORD") or None,
        db=int(os.environ.get("REDIS_DB", "0") or 0),
        socket_timeout=2,
        socket_connect_timeout=2,
    )
    return RedisLimiter(client)


def client_address(peer: str | None, forwarded_for: str | None, proxies_count: int) -> str:
    """The client's address for rate limiting.

    ``X-Forwarded-For`` is trusted only with ``proxies_count`` > 0, and then only the entry the
    outermost trusted proxy added (counted from the right), so a client cannot choose its own
    address by sending the header. IPv6 clients are grouped by their /64 network (one household
    or office gets a whole /64).

    Args:
        peer: The TCP peer's address.
        forwarded_for: The ``X-Forwarded-For`` header, if any.
        proxies_count: Trusted proxies in front of the server (``LOTSEN_PROXIES_COUNT``).

    Returns:
        A normalised address, or ``unknown``.
    """
    address = peer or ""
    if proxies_count > 0 and forwarded_for:
        entries = [entry.strip() for entry in forwarded_for.split(",")]
        if len(entries) >= proxies_count:
            address = entries[-proxies_count]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address) + "/64"
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


@dataclass
class ChannelLimits:
    """The limits of one channel: per client address and per conversation."""

    limiter: Limiter
    per_ip: Rate | None
    per_conversation: Rate | None
    proxies_count: int = 0

    @classmethod
    def from_env(cls) -> ChannelLimits:
        """Read the limits from the environment (see the module docstring)."""
        return cls(
            limiter=redis_limiter_from_env() or process_limiter(),
            per_ip=Rate.parse(os.environ.get("LOTSEN_RATE_LIMIT_IP") or DEFAULT_IP_LIMIT),
            per_conversation=Rate.parse(
                os.environ.get("LOTSEN_RATE_LIMIT_CONVERSATION") or DEFAULT_CONVERSATION_LIMIT
            ),
            proxies_count=int(os.environ.get("LOTSEN_PROXIES_COUNT", "0") or 0),
        )

    async def check_ip(self, address: str) -> float:
        """Count one request from a client address; see :meth:`Limiter.hit`."""
        if self.per_ip is None:
            return 0.0
        return await self.limiter.hit(f"ip:{address}", self.per_ip)

    async def check_conversation(self, sender_id: str) -> float:
        """Count one message of a conversation; see :meth:`Limiter.hit`."""
        if self.per_conversation is None:
            return 0.0
        return await self.limiter.hit(f"conversation:{sender_id}", self.per_conversation)

    async def check(self, address: str, sender_id: str) -> float:
        """Count one message: the address first, then the conversation.

        Args:
            address: From :func:`client_address`.
            sender_id: The conversation.

        Returns:
            0 when allowed, otherwise the seconds to wait.
        """
        wait = await self.check_ip(address)
        if wait:
            return wait
        return await self.check_conversation(sender_id)


def retry_after(wait: float) -> str:
    """``Retry-After`` header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(wait)))
