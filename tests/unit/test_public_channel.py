"""Tests for the public channels' building blocks: cleaning, limits, rate limits, sender ids.

The channels themselves run in real Rasa servers in tests/integration (test_rate_limits.py,
test_sender_ids.py, test_hostile_*.py).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.health import DurableRestInput
from bot.public_channel import (
    EMPTY_TEXT,
    MAX_MESSAGE_CHARS,
    TOO_LONG_TEXT,
    SafeRestInput,
    clean_message,
    limited,
)
from bot.rate_limit import (
    DEFAULT_IP_LIMIT,
    ChannelLimits,
    MemoryLimiter,
    Rate,
    RedisLimiter,
    client_address,
    retry_after,
)
from bot.sender_ids import SIGNED_ID, SenderIds


def test_clean_message_removes_control_characters_surrogates_and_bidi_overrides() -> None:
    assert clean_message("a\x00b\x1b\x7fc\u202ed\ud800e\u2066") == "abcde"


def test_clean_message_keeps_emoji_zwj_line_breaks_and_rtl_letters() -> None:
    text = "👩‍👩‍👧 rad 1\nrad\t2 مرحبا"
    assert clean_message(f"  {text}  ") == text


async def _run(text: str) -> tuple[list[str], list[str]]:
    passed: list[str] = []
    collector = CollectingOutputChannel()

    async def on_new_message(message: UserMessage) -> None:
        passed.append(str(message.text))

    await limited(on_new_message)(UserMessage(text, collector, "s1"))
    return passed, [str(m.get("text")) for m in collector.messages]


async def test_too_long_message_is_answered_politely_and_not_passed_on() -> None:
    assert await _run("a" * (MAX_MESSAGE_CHARS + 1)) == ([], [TOO_LONG_TEXT])
    assert "för långt" in TOO_LONG_TEXT


async def test_message_at_the_limit_is_passed_on_cleaned() -> None:
    assert await _run("\x00" + "a" * MAX_MESSAGE_CHARS) == (["a" * MAX_MESSAGE_CHARS], [])


async def test_empty_message_gets_a_prompt() -> None:
    assert await _run(" \x00\n ") == ([], [EMPTY_TEXT])


def test_rest_channels_keep_rasas_name_and_url() -> None:
    assert SafeRestInput.name() == "rest"
    assert issubclass(DurableRestInput, SafeRestInput)


# --- rate limits (bot.rate_limit) ---------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_allows_the_burst_then_one_per_interval() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(clock=clock)
    rate = Rate(10, 10)
    assert [limiter.hit_now("k", rate) for _ in range(10)] == [0.0] * 10
    assert limiter.hit_now("k", rate) == pytest.approx(1.0)
    assert limiter.hit_now("other", rate) == 0.0  # keys are independent
    clock.now += 0.5
    assert limiter.hit_now("k", rate) == pytest.approx(0.5)  # refused requests cost nothing
    clock.now += 0.5
    assert limiter.hit_now("k", rate) == 0.0
    assert limiter.hit_now("k", rate) > 0
    clock.now += 10
    assert [limiter.hit_now("k", rate) for _ in range(10)] == [0.0] * 10


def test_limiter_memory_is_bounded_and_forgets_the_least_recently_used() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(max_keys=100, clock=clock)
    rate = Rate(1, 60)
    assert limiter.hit_now("first", rate) == 0.0
    for number in range(1000):
        limiter.hit_now(f"ip-{number}", rate)
    assert len(limiter) == 100
    assert limiter.hit_now("ip-999", rate) > 0  # recent keys are still limited


def test_rate_setting_is_read_as_requests_per_seconds() -> None:
    assert Rate.parse("10/10") == Rate(10, 10.0)
    assert Rate.parse(" 600/60 ") == Rate(600, 60.0)
    assert Rate.parse("0") is None
    assert Rate.parse("off") is None
    for wrong in ("x/10", "10/0", "-1/5", "10/x"):
        with pytest.raises(ValueError):
            Rate.parse(wrong)


def test_rate_limits_are_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_HOST", raising=False)
    monkeypatch.delenv("LOTSEN_PROXIES_COUNT", raising=False)
    monkeypatch.delenv("LOTSEN_RATE_LIMIT_IP", raising=False)
    monkeypatch.setenv("LOTSEN_RATE_LIMIT_CONVERSATION", "off")
    limits = ChannelLimits.from_env()
    assert isinstance(limits.limiter, MemoryLimiter)
    assert limits.per_ip == Rate.parse(DEFAULT_IP_LIMIT)
    assert limits.per_conversation is None
    assert limits.proxies_count == 0
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    assert isinstance(ChannelLimits.from_env().limiter, RedisLimiter)
    monkeypatch.setenv("LOTSEN_RATE_LIMIT_BACKEND", "memory")
    assert isinstance(ChannelLimits.from_env().limiter, MemoryLimiter)


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert client_address("192.0.2.1", "203.0.113.9", 0) == "192.0.2.1"


def test_forwarded_for_counts_only_the_entry_the_trusted_proxy_added() -> None:
    # The client sent "198.51.100.1" itself; nginx appended the address it saw.
    assert client_address("127.0.0.1", "198.51.100.1, 203.0.113.9", 1) == "203.0.113.9"
    assert client_address("127.0.0.1", "10.0.0.1, 198.51.100.1, 203.0.113.9", 2) == ("198.51.100.1")
    # Too few entries or garbage: the peer, or "unknown", never a client's choice.
    assert client_address("127.0.0.1", "203.0.113.9", 2) == "127.0.0.1"
    assert client_address("127.0.0.1", "not-an-address", 1) == "unknown"


def test_ipv6_clients_are_grouped_by_their_64_network() -> None:
    first = client_address("2001:db8:1:2:aaaa::1", None, 0)
    assert first == client_address("2001:db8:1:2:bbbb::9", None, 0) == "2001:db8:1:2::/64"
    assert client_address("::ffff:192.0.2.7", None, 0) == "192.0.2.7"


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after(0.01) == "1"
    assert retry_after(4.2) == "5"


# --- signed sender ids (bot.sender_ids) ---------------------------------------------------


def test_issued_sender_ids_are_random_signed_and_checked() -> None:
    ids = SenderIds(key=b"k1")
    first, second = ids.issue(), ids.issue()
    assert first != second
    assert SIGNED_ID.fullmatch(first)
    assert ids.is_valid(first) and ids.is_valid(second)
    assert not SenderIds(key=b"k2").is_valid(first)  # another key: not ours


def test_forged_or_malformed_sender_ids_are_refused() -> None:
    ids = SenderIds(key=b"k1")
    issued = ids.issue()
    random_part, signature = issued.split(".")
    flipped = "0" if signature[0] != "0" else "1"
    for forged in (
        f"{random_part}.{flipped}{signature[1:]}",
        f"{'f' * 32}.{signature}",
        random_part,
        issued.upper(),
        issued + "0",
        f" {issued}",
        "default",
        "",
        None,
        5,
        ["x"],
    ):
        assert not ids.is_valid(forged), forged


def test_sender_key_file_is_created_on_first_use_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOTSEN_SENDER_KEY", raising=False)
    ids = SenderIds(var_dir=tmp_path)
    assert not (tmp_path / "sender-key").exists()  # nothing happens before the first use
    issued = ids.issue()
    key_file = tmp_path / "sender-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert SenderIds(var_dir=tmp_path).is_valid(issued)  # another process, same file
    assert [p.name for p in tmp_path.iterdir()] == ["sender-key"]  # no partial files left


def test_sender_key_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOTSEN_SENDER_KEY", "shared-by-every-container")
    issued = SenderIds(var_dir=tmp_path).issue()
    assert not (tmp_path / "sender-key").exists()
    assert SenderIds(var_dir=tmp_path / "elsewhere").is_valid(issued)
