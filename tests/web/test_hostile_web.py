"""Hostile requests against the public parts of the web app: no 5xx, nothing deleted wrongly."""

from __future__ import annotations

import pytest
import requests

from tests.web.test_conversation_api import MINE, WebApp, senders, web_app  # noqa: F401

DELETE_BODIES: list[tuple[bytes, str]] = [
    (b"", "application/json"),
    (b"not json", "application/json"),
    (b"{", "application/json"),
    (b"\xff\xfe invalid utf-8", "application/json"),
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b'"0123456789abcdef0123456789abcdef"', "application/json"),
    (b'{"session_id": 5}', "application/json"),
    (b'{"session_id": ["' + MINE.encode() + b'"]}', "application/json"),
    (b'{"session_id": {"$ne": ""}}', "application/json"),
    (b'{"session_id": "%"}', "application/json"),
    (b'{"session_id": "\' OR 1=1 --"}', "application/json"),
    (b'{"session_id": "' + MINE.encode() + b'\\u0000"}', "application/json"),
    (b'{"session_id": "<script>alert(1)</script>"}', "application/json"),
    (b"[" * 10_000 + b"]" * 10_000, "application/json"),
    (b'{"session_id": "' + b"a" * 500_000 + b'"}', "application/json"),
    (b"session_id=" + MINE.encode(), "application/x-www-form-urlencoded"),
    (b"session_id=" + MINE.encode(), "text/plain"),
]


@pytest.mark.parametrize("body,content_type", DELETE_BODIES, ids=range(len(DELETE_BODIES)))
def test_malformed_delete_request_gets_4xx_and_deletes_nothing(
    web_app: WebApp,  # noqa: F811
    body: bytes,
    content_type: str,
) -> None:
    response = requests.post(
        f"{web_app.url}/widget/api/conversation/delete",
        data=body,
        headers={"Content-Type": content_type},
        timeout=10,
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    assert len(senders(web_app.tracker)) == 4
