"""Unit tests of the fail-loud pieces (no services needed)."""

from __future__ import annotations

import json
import logging

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.health import UNAVAILABLE_TEXT, durability_problems, guarded, make_durable
from bot.logs import JsonFormatter
from bot.stack import EXIT_NOT_DURABLE
from bot.tracker_store import DurableSQLTrackerStore, StoreHealth, TrackerStoreUnavailableError


def bare_store(retry_seconds: float) -> DurableSQLTrackerStore:
    store = object.__new__(DurableSQLTrackerStore)
    store.health = StoreHealth()
    store.retry_seconds = retry_seconds
    return store


def dropped() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("server closed the connection"))


async def test_transient_errors_are_retried_until_the_database_answers() -> None:
    store = bare_store(retry_seconds=10)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise dropped()
        return "tracker"

    assert await store._retrying("retrieve", flaky) == "tracker"
    assert calls == 3
    assert store.health.error is None


async def test_lasting_outage_raises_and_marks_the_store_unhealthy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = bare_store(retry_seconds=0.3)

    async def down() -> None:
        raise dropped()

    with pytest.raises(TrackerStoreUnavailableError):
        await store._retrying("save", down)
    assert store.health.error == "save: OperationalError"
    assert "not falling back to memory" in caplog.text


async def test_programming_errors_are_not_retried() -> None:
    store = bare_store(retry_seconds=10)
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ProgrammingError("SELECT", {}, Exception("no such table"))

    with pytest.raises(TrackerStoreUnavailableError):
        await store._retrying("retrieve", broken)
    assert calls == 1


async def test_failed_message_gets_an_apology_and_its_text_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing(_message: UserMessage) -> None:
        raise TrackerStoreUnavailableError("tracker store save failed")

    output = CollectingOutputChannel()
    text = "Jag heter Anna Andersson, 070-123 45 67"
    await guarded(failing)(UserMessage(text, output, "conversation-1"))
    assert len(output.messages) == 1
    assert output.messages[0]["text"].startswith(UNAVAILABLE_TEXT)
    assert "TrackerStoreUnavailableError" in caplog.text
    assert "Anna" not in caplog.text


def test_in_memory_stores_are_refused_and_fail_safe_wrapper_removed() -> None:
    agent = Agent()
    problems = durability_problems(agent)
    assert problems == [
        "tracker store is InMemoryTrackerStore, not DurableSQLTrackerStore",
        "lock store is InMemoryLockStore, not RedisLockStore",
    ]
    assert durability_problems(agent, require_redis=False) == problems[:1]
    make_durable(agent)
    assert type(agent.tracker_store).__name__ == "InMemoryTrackerStore"


def test_json_logs_mask_personnummer_and_leave_out_exception_texts() -> None:
    try:
        raise ValueError("secret 19121212-1212")
    except ValueError:
        record = logging.LogRecord(
            "bot.x", logging.ERROR, __file__, 1, "case for %s", ("19121212-1212",), True
        )
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR"
    assert entry["exception"] == "ValueError"
    assert "1212-1212" not in json.dumps(entry)


def test_supervisor_knows_the_refusal_exit_code() -> None:
    from bot import health

    assert health.EXIT_NOT_DURABLE == EXIT_NOT_DURABLE
