"""Property-based tests (hypothesis) of the public channels against a real Rasa server.

Whatever text, bytes or JSON a client sends to the REST webhook or through socket.io: never a
5xx, never a crash (the server answers a normal message afterwards and its log has no
traceback), and what is stored is only cleaned text within the length limit. A real Rasa server
answers every example, so the example counts are modest.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.public_channel import MAX_MESSAGE_CHARS, clean_message
from tests.conftest import new_sender
from tests.integration.chat import ChatSocket, user_texts
from tests.integration.conftest import Services

pytestmark = pytest.mark.model

# No example database in the repository; slow examples are expected (Rasa answers each).
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

HOSTILE_PIECES = [
    "\u200d",  # zero-width joiner
    "👩‍👩‍👧‍👦",
    "🇸🇪",
    "\u202e",  # right-to-left override
    "\u2066",
    "مرحبا",
    "שלום",
    "\x00",
    "\x1b[31m",
    "\ud800",  # lone surrogate
    "\udfff",
    "'; DROP TABLE events; --",
    "<script>alert(1)</script>",
    "/restart",
    '/ask_permit{"permit_type":"bygglov"}',
    "bygglov",
    "19900101-0017",
]
# Any code point, surrogates and control characters included, mixed with hostile pieces.
ANY_CHAR = st.characters(exclude_categories=())
TEXTS = st.one_of(
    st.text(ANY_CHAR, max_size=200),
    st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(ANY_CHAR, max_size=5), max_size=30).map(
        "".join
    ),
    st.integers(MAX_MESSAGE_CHARS - 2, MAX_MESSAGE_CHARS + 2).map(lambda n: "å" * n),
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(ANY_CHAR),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def assert_clean(text: str) -> None:
    assert 0 < len(text) <= MAX_MESSAGE_CHARS
    for char in text:
        assert char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cs"), repr(text)
        assert char not in BIDI, repr(text)


def post_json(services: Services, payload: object) -> requests.Response:
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, which is valid JSON.
    return requests.post(
        f"{services.rasa_url}/webhooks/rest/webhook",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


@SETTINGS
@given(text=TEXTS)
def test_any_text_is_answered_and_only_cleaned_text_is_stored(
    services: Services, text: str
) -> None:
    sender = new_sender(services.rasa_url)
    response = post_json(services, {"sender": sender, "message": text})
    assert response.status_code == 200, response.text[:300]
    assert isinstance(response.json(), list)
    stored = user_texts(services, sender)
    cleaned = clean_message(text)
    if not cleaned or len(cleaned) > MAX_MESSAGE_CHARS:
        assert stored == []
    else:
        assert len(stored) <= 1  # "/restart" and other intents are stored as typed
        for item in stored:
            assert_clean(item)


@SETTINGS
@given(body=JSON, fields=st.dictionaries(st.sampled_from(["sender", "message", "metadata"]), JSON))
def test_any_json_body_gets_a_4xx_and_nothing_is_stored(
    services: Services, body: Any, fields: dict[str, Any]
) -> None:
    for payload in (body, fields):
        response = post_json(services, payload)
        assert 400 <= response.status_code < 500, (payload, response.status_code)
    if isinstance(fields.get("sender"), str):
        assert user_texts(services, fields["sender"]) == []


@SETTINGS
@given(message=JSON, metadata=JSON)
def test_issued_sender_with_any_message_and_metadata_never_gets_a_5xx(
    services: Services, message: Any, metadata: Any
) -> None:
    sender = new_sender(services.rasa_url)
    response = post_json(services, {"sender": sender, "message": message, "metadata": metadata})
    well_formed = isinstance(message, str) and (metadata is None or isinstance(metadata, dict))
    assert response.status_code == (200 if well_formed else 400), response.text[:300]
    for item in user_texts(services, sender):
        assert_clean(item)


@SETTINGS
@given(body=st.binary(max_size=300))
def test_any_bytes_get_a_4xx(services: Services, body: bytes) -> None:
    response = requests.post(
        f"{services.rasa_url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert 400 <= response.status_code < 500


# --- socket.io --------------------------------------------------------------------------------

SOCKET_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["user_uttered", "session_request"]),
        JSON | st.fixed_dictionaries({"message": TEXTS}, optional={"session_id": JSON}),
        st.booleans(),  # send it with the confirmed session id
    ),
    max_size=8,
)


async def _socket_run(url: str, events: list[tuple[str, Any, bool]]) -> list[str]:
    chat = ChatSocket()
    await chat.connect(url)
    try:
        session_id = await chat.session()
        for name, payload, with_session in events:
            if with_session and isinstance(payload, dict):
                payload = {**payload, "session_id": session_id}
            await chat.client.call(name, payload, timeout=60)
        # A session_request without a signed id moved the socket to a new session: resume.
        assert await chat.session({"session_id": session_id}) == session_id
        before = len(chat.replies)
        await chat.say("hej", session_id)
        assert len(await chat.replies_after(before)) > before, "the server stopped answering"
    finally:
        await chat.close()
    return chat.confirmations


@settings(SETTINGS, max_examples=12)
@given(events=SOCKET_EVENTS)
def test_any_socket_events_never_crash_the_channel(
    services: Services, events: list[tuple[str, Any, bool]]
) -> None:
    confirmations = asyncio.run(_socket_run(services.rasa_url, events))
    for confirmed in set(confirmations):
        for item in user_texts(services, confirmed):
            assert_clean(item)
    assert services.rasa_log is not None
    assert "Traceback" not in services.rasa_log.read_text(errors="replace")
