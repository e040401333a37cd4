"""Security headers on every page of the web app and Secure cookies behind TLS."""

from __future__ import annotations

import itertools

import pytest
from sanic import Sanic

from bot.settings import Settings
from bot.web.app import create_app
from bot.web.security import connect_sources, security_headers

from .asgi import Client

PATHS = ["/", "/integritet", "/health", "/handlaggare/logga-in", "/static/site.css", "/nope"]
_names = itertools.count()


def test_connect_sources_add_the_websocket_twin() -> None:
    assert connect_sources("http://localhost:5005") == [
        "http://localhost:5005",
        "ws://localhost:5005",
    ]
    assert connect_sources("https://chat.kommun.se/") == [
        "https://chat.kommun.se",
        "wss://chat.kommun.se",
    ]
    assert connect_sources("") == []
    assert connect_sources("javascript:alert(1)") == []


def test_policy_allows_no_inline_script_and_no_framing() -> None:
    headers = security_headers(["http://localhost:5005"])
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "unsafe" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "connect-src 'self' http://localhost:5005 ws://localhost:5005;" in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in headers
    assert "Strict-Transport-Security" in security_headers(tls=True)


@pytest.mark.parametrize("path", PATHS)
async def test_every_page_sends_the_security_headers(client: Client, path: str) -> None:
    response = await client.get(path)
    policy = response.header("content-security-policy") or ""
    assert "frame-ancestors 'none'" in policy
    assert "connect-src 'self' http://localhost:5005 ws://localhost:5005;" in policy
    assert response.header("x-content-type-options") == "nosniff"
    assert response.header("x-frame-options") == "DENY"
    assert response.header("referrer-policy") == "same-origin"


async def test_officials_pages_are_not_cached(client: Client) -> None:
    response = await client.get("/handlaggare/logga-in")
    assert response.header("cache-control") == "no-store"


async def test_csp_allows_the_configured_rasa_url(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOTSEN_PUBLIC_RASA_URL", "https://chat.kommun.se")
    app: Sanic = create_app(settings, name=f"lotsen_sec_{next(_names)}", login_delay=0)
    response = await Client(app).get("/")
    assert 'data-socket-url="https://chat.kommun.se"' in response.text
    assert "connect-src 'self' https://chat.kommun.se wss://chat.kommun.se;" in (
        response.header("content-security-policy") or ""
    )


@pytest.mark.parametrize("secure", ["1", ""])
async def test_session_cookie_is_secure_only_behind_tls(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, secure: str
) -> None:
    monkeypatch.setenv("LOTSEN_SECURE_COOKIES", secure)
    app: Sanic = create_app(settings, name=f"lotsen_sec_{next(_names)}", login_delay=0)
    response = await Client(app).get("/handlaggare/logga-in")
    cookie = response.header("set-cookie") or ""
    assert "lotsen_session=" in cookie and "HttpOnly" in cookie
    assert ("Secure" in cookie) == (secure == "1")
    assert (
        "Strict-Transport-Security" in response.headers
        or "strict-transport-security" in response.headers
    ) == (secure == "1")
