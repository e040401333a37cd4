"""Web tests for logging in and out: sessions, CSRF, lockout, and no page without login."""

from __future__ import annotations

import time

import pytest
from sanic import Sanic

from bot.accounts import UserRecord
from bot.cases import CaseRepository
from bot.settings import Settings
from bot.web.app import create_app
from bot.web.security import SESSION_COOKIE

from .asgi import Client
from .conftest import PASSWORD, csrf_for, login, make_case

PROTECTED = [
    "/handlaggare/arenden",
    "/handlaggare/arenden/1",
    "/handlaggare/oversikt",
    "/handlaggare/export/arenden.csv",
    "/handlaggare/export/statistik.csv",
]


@pytest.mark.parametrize("url", PROTECTED)
async def test_every_page_needs_a_login(client: Client, cases: CaseRepository, url: str) -> None:
    make_case(cases, "a", company="Hemliga Bygg AB")
    response = await client.get(url)
    assert response.status == 302
    assert response.location is not None and response.location.startswith(
        "/handlaggare/logga-in?nasta="
    )
    assert "Hemliga" not in response.text


async def test_an_action_without_login_changes_nothing(
    client: Client, cases: CaseRepository
) -> None:
    case = make_case(cases, "a")
    token = await csrf_for(client, "/handlaggare/logga-in")
    response = await client.post(f"/handlaggare/arenden/{case.id}/avsluta", {"csrf_token": token})
    assert response.status == 302
    assert [event.kind for event in cases.events(case.id)] == ["created"]


async def test_login_sets_a_signed_httponly_samesite_cookie_and_redirects_back(
    client: Client, official: UserRecord
) -> None:
    page = await client.get("/handlaggare/logga-in?nasta=/handlaggare/oversikt")
    assert 'for="email"' in page.text and 'for="password"' in page.text
    response = await client.post(
        "/handlaggare/logga-in",
        {
            "email": official.email,
            "password": PASSWORD,
            "csrf_token": client.csrf(page),
            "nasta": "/handlaggare/oversikt",
        },
    )
    assert response.status == 303
    assert response.location == "/handlaggare/oversikt"
    cookie = next(c for c in response.headers["set-cookie"] if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/handlaggare" in cookie
    assert (await client.get("/handlaggare/oversikt")).status == 200


async def test_the_session_nonce_changes_at_login(client: Client, official: UserRecord) -> None:
    await client.get("/handlaggare/logga-in")
    before = client.cookies[SESSION_COOKIE]
    await login(client, official.email)
    assert client.cookies[SESSION_COOKIE] != before


async def test_wrong_password_is_refused_without_telling_which_part(
    client: Client, official: UserRecord
) -> None:
    page = await client.get("/handlaggare/logga-in")
    token = client.csrf(page)
    wrong_password = await client.post(
        "/handlaggare/logga-in", {"email": official.email, "password": "fel", "csrf_token": token}
    )
    unknown_user = await client.post(
        "/handlaggare/logga-in",
        {"email": "ingen@lotsby.se", "password": "fel", "csrf_token": token},
    )
    assert wrong_password.status == unknown_user.status == 401
    assert "Fel e-postadress eller lösenord." in wrong_password.text
    assert "Fel e-postadress eller lösenord." in unknown_user.text
    assert (await client.get("/handlaggare/arenden")).status == 302


async def test_a_failed_login_is_delayed(settings: Settings, official: UserRecord) -> None:
    slow = Client(create_app(settings, name="lotsen_slow_login", login_delay=0.3))
    token = await csrf_for(slow, "/handlaggare/logga-in")
    started = time.monotonic()
    await slow.post(
        "/handlaggare/logga-in", {"email": official.email, "password": "fel", "csrf_token": token}
    )
    assert time.monotonic() - started >= 0.3


async def test_logout_ends_the_session_and_needs_csrf(client: Client, official: UserRecord) -> None:
    await login(client, official.email)
    assert (await client.post("/handlaggare/logga-ut", {"csrf_token": "0" * 64})).status == 403
    assert (await client.get("/handlaggare/arenden")).status == 200
    token = await csrf_for(client, "/handlaggare/arenden")
    response = await client.post("/handlaggare/logga-ut", {"csrf_token": token})
    assert response.status == 303 and response.location == "/handlaggare/logga-in"
    assert (await client.get("/handlaggare/arenden")).status == 302


async def test_a_forged_session_cookie_is_ignored(
    client: Client, app: Sanic, official: UserRecord
) -> None:
    await login(client, official.email)
    payload, signature = client.cookies[SESSION_COOKIE].split(".")
    client.cookies[SESSION_COOKIE] = f"{payload}.{signature[:-2]}AA"
    assert (await client.get("/handlaggare/arenden")).status == 302


async def test_officials_pages_send_security_headers(client: Client, official: UserRecord) -> None:
    await login(client, official.email)
    response = await client.get("/handlaggare/arenden")
    assert response.header("cache-control") == "no-store"
    assert response.header("x-frame-options") == "DENY"
    assert "frame-ancestors 'none'" in (response.header("content-security-policy") or "")


async def test_public_page_and_health_are_unchanged(client: Client) -> None:
    assert (await client.get("/health")).status == 200
    response = await client.get("/")
    assert response.status == 200
    assert SESSION_COOKIE not in "".join(response.headers.get("set-cookie", []))


async def test_logout_also_ends_copies_of_the_session_cookie(
    client: Client, official: UserRecord
) -> None:
    await login(client, official.email)
    copy = Client(client.app)
    copy.cookies = dict(client.cookies)
    assert (await copy.get("/handlaggare/arenden")).status == 200
    token = await csrf_for(client, "/handlaggare/arenden")
    await client.post("/handlaggare/logga-ut", {"csrf_token": token})
    assert (await copy.get("/handlaggare/arenden")).status == 302
    await login(client, official.email)  # a new login works again
    assert (await client.get("/handlaggare/arenden")).status == 200


async def test_an_admin_creates_and_deactivates_accounts(
    client: Client, admin: UserRecord, official: UserRecord
) -> None:
    await login(client, admin.email)
    page = await client.get("/handlaggare/anvandare")
    assert page.status == 200 and official.email in page.text
    token = client.csrf(page)
    form = {
        "csrf_token": token,
        "name": "Mats Miljö",
        "email": "mats@lotsby.se",
        "role": "official",
    }
    missing_unit = await client.post("/handlaggare/anvandare", {**form, "password": PASSWORD})
    assert missing_unit.status == 400 and "måste höra till en enhet" in missing_unit.text
    created = await client.post(
        "/handlaggare/anvandare", {**form, "unit": "miljo", "password": PASSWORD}
    )
    assert created.status == 303
    assert "mats@lotsby.se" in (await client.get("/handlaggare/anvandare")).text

    officials_browser = Client(client.app)
    await login(officials_browser, official.email)
    response = await client.post(
        f"/handlaggare/anvandare/{official.id}/inaktivera", {"csrf_token": token}
    )
    assert response.status == 303
    assert (await officials_browser.get("/handlaggare/arenden")).status == 302  # session ended
    page = await officials_browser.get("/handlaggare/logga-in")
    refused = await officials_browser.post(
        "/handlaggare/logga-in",
        {"email": official.email, "password": PASSWORD, "csrf_token": officials_browser.csrf(page)},
    )
    assert refused.status == 401
    self_off = await client.post(
        f"/handlaggare/anvandare/{admin.id}/inaktivera", {"csrf_token": token}
    )
    assert self_off.status == 409


async def test_only_admins_manage_accounts(client: Client, official: UserRecord) -> None:
    await login(client, official.email)
    assert (await client.get("/handlaggare/anvandare")).status == 403
    token = await csrf_for(client)
    form = {
        "csrf_token": token,
        "name": "X",
        "email": "x@lotsby.se",
        "role": "admin",
        "password": PASSWORD,
    }
    assert (await client.post("/handlaggare/anvandare", form)).status == 403


async def test_behind_a_proxy_the_address_lockout_uses_the_forwarded_client(
    settings: Settings, official: UserRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.db import create_db_engine

    monkeypatch.setenv("LOTSEN_PROXIES_COUNT", "1")
    client = Client(create_app(settings, name="lotsen_behind_proxy", login_delay=0))
    token = await csrf_for(client, "/handlaggare/logga-in")
    await client.post(
        "/handlaggare/logga-in",
        {"email": official.email, "password": "fel", "csrf_token": token},
        headers={"x-forwarded-for": "203.0.113.9"},
    )
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            keys = {row[0] for row in connection.exec_driver_sql("SELECT key FROM login_throttle")}
    finally:
        engine.dispose()
    assert "address:203.0.113.9" in keys
