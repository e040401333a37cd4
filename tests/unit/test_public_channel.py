"""Tests for bot.public_channel: cleaning, the length limit and the REST channel's name."""

from __future__ import annotations

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
