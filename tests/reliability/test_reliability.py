"""The short reliability run (CI): the production topology under load and faults.

24 simulated entrepreneurs complete the contact form through nginx across 2 Rasa processes
while one Rasa process and one action server are killed with SIGKILL and PostgreSQL is
restarted. Then the databases are stopped outright: health turns red and users are told to
try again, and the conversations go on once the databases are back. The long run is
``bench/reliability.py --users 200`` (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.reliability import UNAVAILABLE_MARK, reliability_run
from bot.public_channel import EMPTY_TEXT
from bot.rate_limit import DEFAULT_CONVERSATION_LIMIT, RATE_LIMITED_TEXT, Rate
from bot.stack import Stack, running_stack, tail
from tests.conftest import new_sender

pytestmark = pytest.mark.model

USERS = 24


@pytest.fixture(scope="module")
def stack(packages: None, trained_model: Path) -> Iterator[Stack]:
    # The simulated users all come from 127.0.0.1: no per-address limit (per conversation: yes).
    with running_stack(
        model=trained_model, with_web=False, tracker_retry_seconds=6, rate_limit_ip="off"
    ) as running:
        yield running


def say(stack: Stack, sender: str, text: str) -> tuple[int, str]:
    response = requests.post(
        f"{stack.public_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=120,
    )
    if response.status_code != 200:
        return response.status_code, response.text
    return 200, "\n".join(str(m.get("text", "")) for m in response.json())


def health(stack: Stack, name: str) -> tuple[int | None, dict[str, str]]:
    url = stack.services[name].health_url
    assert url is not None
    try:
        response = requests.get(url, timeout=30)
    except requests.RequestException:
        return None, {}
    return response.status_code, response.json()


def wait_healthy(stack: Stack, names: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(health(stack, name)[0] == 200 for name in names):
            return
        time.sleep(0.5)
    pytest.fail(f"not healthy again: {[(n, health(stack, n)) for n in names]}")


def test_every_service_reports_database_lock_store_and_model(stack: Stack) -> None:
    for name in stack.rasa_names():
        status, body = health(stack, name)
        assert status == 200, body
        assert body == {"status": "ok", "model": "ok", "database": "ok", "lock_store": "ok"}
    for name in stack.action_names():
        assert health(stack, name) == (200, {"status": "ok", "database": "ok"})


def test_conversation_rate_limit_is_shared_by_the_rasa_processes(stack: Stack) -> None:
    # nginx spreads the requests over both Rasa processes; Redis holds one limit for them.
    rate = Rate.parse(DEFAULT_CONVERSATION_LIMIT)
    assert rate is not None
    sender = new_sender(stack.public_url)
    url = f"{stack.public_url}/webhooks/rest/webhook"
    allowed = 0
    with requests.Session() as http:
        # Empty messages are answered without Rasa (fast) but count. Limits per process
        # would let about twice the burst through; one shared limit stops right after it
        # (a few more may refill while the requests are made).
        while allowed <= rate.requests * 2:
            reply = http.post(url, json={"sender": sender, "message": " "}, timeout=60)
            if reply.status_code == 429:
                break
            assert reply.status_code == 200 and reply.json()[0]["text"] == EMPTY_TEXT
            allowed += 1
    assert rate.requests <= allowed <= rate.requests + 3, allowed
    assert reply.json()["text"] == RATE_LIMITED_TEXT
    assert int(reply.headers["Retry-After"]) >= 1


def test_load_with_killed_rasa_killed_action_server_and_restarted_postgres(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    report = asyncio.run(reliability_run(stack, USERS, faults=True, time_limit=420, ramp=3))
    with capsys.disabled():
        print(f"\n\nReliability, short run ({USERS} users):\n{report.table()}\n")
    assert [f.name for f in report.faults] == [
        "kill -9 rasa-1",
        "kill -9 actions-1",
        "restart PostgreSQL",
    ]
    assert report.completed == USERS, [c for c in report.conversations if not c.reference]
    assert report.server_errors == 0, report.stats.statuses
    assert report.verification.ok, report.verification
    assert report.verification.stored_cases == report.verification.expected_cases == USERS
    assert report.ok


def test_database_down_turns_health_red_and_the_user_is_asked_to_try_again(stack: Stack) -> None:
    assert stack.postgres is not None
    sender = new_sender(stack.public_url)
    status, first = say(stack, sender, "Behöver jag bygglov för att bygga ut min verkstad?")
    assert status == 200 and "registrerar jag ett ärende" in first, first
    stack.postgres.stop("fast")
    try:
        status, reply = say(stack, sender, "ja")
        assert status == 200
        assert UNAVAILABLE_MARK in reply, reply
        rasa_status, rasa_health = health(stack, "rasa-1")
        assert rasa_status == 503
        assert rasa_health["database"].startswith("error"), rasa_health
        assert rasa_health["lock_store"] == "ok"
        assert health(stack, "actions-1")[0] == 503
        logs = "".join(tail(stack.services[name].log, 20000) for name in stack.rasa_names())
        errors = [
            json.loads(line)
            for line in logs.splitlines()
            if line.startswith("{") and '"level": "ERROR"' in line
        ]
        assert any("not falling back to memory" in e["message"] for e in errors), logs[-3000:]
        assert all("bygglov" not in e["message"] for e in errors)  # no message text in logs
    finally:
        stack.postgres.start()
    wait_healthy(stack, [*stack.rasa_names(), *stack.action_names()])
    # The conversation resumes where it was: the same answer gets the form going.
    status, reply = say(stack, sender, "ja")
    assert status == 200 and "Vad heter du" in reply, reply


def test_redis_down_turns_health_red_and_the_user_is_asked_to_try_again(stack: Stack) -> None:
    sender = new_sender(stack.public_url)
    stack.kill("redis")
    try:
        status, reply = say(stack, sender, "hej")
        assert status == 200
        assert UNAVAILABLE_MARK in reply, reply
        rasa_status, rasa_health = health(stack, "rasa-2")
        assert rasa_status == 503
        assert rasa_health["lock_store"].startswith("error"), rasa_health
    finally:
        stack.restart("redis", wait=False)
    wait_healthy(stack, stack.rasa_names())
    status, reply = say(stack, sender, "hej")
    assert status == 200 and UNAVAILABLE_MARK not in reply, reply
