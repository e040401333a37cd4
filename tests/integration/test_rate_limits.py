"""Rate limits of the public channels on a real Rasa server, and the Redis-backed limiter.

The test server trusts one proxy (``LOTSEN_PROXIES_COUNT=1`` in tests/conftest.py), so a test
can act as a client of its own address with ``X-Forwarded-For`` without exhausting the limit
of 127.0.0.1 that every other test shares. The defaults are tested, not lowered values.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis.asyncio
import requests

from bot.public_channel import EMPTY_TEXT
from bot.rate_limit import (
    DEFAULT_CONVERSATION_LIMIT,
    DEFAULT_IP_LIMIT,
    RATE_LIMITED_TEXT,
    Rate,
    RedisLimiter,
)
from bot.stack import free_port
from tests.conftest import new_sender
from tests.integration.chat import ChatSocket, user_texts
from tests.integration.conftest import Services

PER_CONVERSATION = Rate.parse(DEFAULT_CONVERSATION_LIMIT)
PER_IP = Rate.parse(DEFAULT_IP_LIMIT)
assert PER_CONVERSATION is not None and PER_IP is not None


def fake_address() -> str:
    return f"203.0.113.{random.randint(1, 254)}"  # TEST-NET-3: never a real client


@pytest.mark.model
def test_conversation_over_its_limit_gets_429_and_nothing_is_stored(services: Services) -> None:
    sender = new_sender(services.rasa_url)
    url = f"{services.rasa_url}/webhooks/rest/webhook"
    texts = [f"hej {number}" for number in range(PER_CONVERSATION.requests + 5)]
    start = threading.Barrier(len(texts))

    def send(text: str) -> requests.Response:
        start.wait()  # all at once: a script flooding one conversation
        return requests.post(url, json={"sender": sender, "message": text}, timeout=120)

    with ThreadPoolExecutor(len(texts)) as pool:
        responses = dict(zip(texts, pool.map(send, texts), strict=True))
    answered = {text for text, response in responses.items() if response.status_code == 200}
    refused = [response for response in responses.values() if response.status_code == 429]
    assert len(answered) + len(refused) == len(texts)
    assert PER_CONVERSATION.requests <= len(answered) < len(texts)
    for response in refused:
        assert response.json()["text"] == RATE_LIMITED_TEXT
        assert int(response.headers["Retry-After"]) >= 1
    # Exactly the answered messages were handled and stored; refused ones never reached Rasa.
    assert set(user_texts(services, sender)) == answered
    # Another conversation from the same address goes on.
    other = new_sender(services.rasa_url)
    reply = requests.post(url, json={"sender": other, "message": "hej"}, timeout=60)
    assert reply.status_code == 200 and reply.json()


@pytest.mark.model
def test_address_over_its_limit_gets_429_but_other_addresses_do_not(services: Services) -> None:
    address = fake_address()
    sender = new_sender(services.rasa_url)
    session_url = f"{services.rasa_url}/webhooks/rest/session"
    allowed = 0
    with requests.Session() as http:
        headers = {"X-Forwarded-For": address}
        # The burst, plus what refills while the requests are made.
        for _ in range(PER_IP.requests * 2):
            response = http.post(session_url, headers=headers, timeout=30)
            if response.status_code == 429:
                break
            assert response.status_code == 200
            allowed += 1
        assert PER_IP.requests <= allowed < PER_IP.requests * 2
        assert response.json()["text"] == RATE_LIMITED_TEXT
        assert int(response.headers["Retry-After"]) >= 1
        # The webhook from that address is refused too; nothing is stored.
        message = {"sender": sender, "message": "Behöver jag bygglov?"}
        webhook = http.post(
            f"{services.rasa_url}/webhooks/rest/webhook", json=message, headers=headers, timeout=30
        )
        assert webhook.status_code == 429
        assert user_texts(services, sender) == []
        # A client cannot pick another address: only the entry the trusted proxy added counts.
        spoofed = http.post(
            session_url, headers={"X-Forwarded-For": f"198.51.100.7, {address}"}, timeout=30
        )
        assert spoofed.status_code == 429
        # Other clients (another address, the peer address itself) are served.
        other = http.post(session_url, headers={"X-Forwarded-For": "192.0.2.77"}, timeout=30)
        assert other.status_code == 200
        assert http.post(session_url, timeout=30).status_code == 200


async def _socket_flood(url: str) -> tuple[str, list[str]]:
    assert PER_CONVERSATION is not None
    chat = ChatSocket()
    await chat.connect(url)
    try:
        session_id = await chat.session()
        # Quickly, in batches of 10 (python-engineio drops a polling request of more than 16
        # packets), the last one waiting for its acknowledgement.
        messages = [""] * (PER_CONVERSATION.requests + 4) + ["bygglov"]
        for start in range(0, len(messages), 10):
            *batch, last = messages[start : start + 10]
            for message in batch:
                await chat.client.emit(
                    "user_uttered", {"message": message, "session_id": session_id}
                )
            await chat.say(last, session_id)
        replies = await chat.replies_after(len(messages) - 1, 60)
    finally:
        await chat.close()
    return session_id, replies


@pytest.mark.model
def test_socket_conversation_over_its_limit_gets_a_polite_message(services: Services) -> None:
    assert PER_CONVERSATION is not None
    session_id, replies = asyncio.run(_socket_flood(services.rasa_url))
    assert replies.count(EMPTY_TEXT) >= PER_CONVERSATION.requests
    assert RATE_LIMITED_TEXT in replies
    assert user_texts(services, session_id) == []  # "bygglov", sent last, was refused too


# --- the Redis-backed limiter (production profile: several Rasa processes) ------------------


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A throwaway redis-server (Debian's package) on a free port, without persistence."""
    server = shutil.which("redis-server") or "/usr/sbin/redis-server"
    if not Path(server).exists():
        pytest.skip("apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path_factory.mktemp("redis"),
        stdout=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _shared_limit(port: int) -> tuple[list[float], float]:
    # Two limiters with their own connections: two Rasa processes behind the load balancer.
    first = RedisLimiter(redis.asyncio.Redis(port=port))
    second = RedisLimiter(redis.asyncio.Redis(port=port))
    rate = Rate(10, 10)
    for _ in range(100):  # redis-server is starting
        try:
            await first.client.ping()
            break
        except redis.RedisError:
            await asyncio.sleep(0.1)
    key = f"conversation:{random.random()}"
    waits = [await (first if n % 2 else second).hit(key, rate) for n in range(11)]
    other_key = await first.hit(f"conversation:{random.random()}", rate)
    await first.client.close()
    await second.client.close()
    return waits, other_key


def test_redis_limiter_is_shared_by_every_process(redis_port: int) -> None:
    waits, other_key = asyncio.run(_shared_limit(redis_port))
    assert waits[:10] == [0.0] * 10
    assert 0.5 < waits[10] <= 1.0
    assert other_key == 0.0


async def _redis_down(port: int) -> list[float]:
    limiter = RedisLimiter(redis.asyncio.Redis(port=port, socket_connect_timeout=1))
    return [await limiter.hit("ip:192.0.2.1", Rate(2, 60)) for _ in range(3)]


def test_redis_limiter_falls_back_to_the_process_when_redis_is_down() -> None:
    waits = asyncio.run(_redis_down(free_port()))  # nothing listens there
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] > 0
