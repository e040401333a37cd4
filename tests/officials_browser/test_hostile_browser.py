"""Real-browser check: markup stored in a case never runs in the officials' app.

A case is seeded with script, ``onerror``, ``ontoggle``, ``onload`` and ``javascript:`` payloads
in the company name, the description, the notes and a chat message. An official opens the case
list and the case page in Chromium. The page context bypasses the Content-Security-Policy, so
what is proven here is the escaping itself (the CSP is a second wall, tested elsewhere): no
dialog opens, ``window.__pwned`` stays undefined, no request leaves for an attacker's host, and
every payload is shown as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from bot.cases import ALL_CASES, NewCase
from bot.models import utcnow

from .conftest import PASSWORD, case_log_with_anna, serve_officials, write_transcript

ATTACKER = "attacker.invalid"
PAYLOADS = [
    "<script>window.__pwned='script';alert('script')</script>",
    "<img src=x onerror=\"window.__pwned='onerror';alert('onerror')\">",
    "<details open ontoggle=\"window.__pwned='ontoggle';alert('ontoggle')\">x</details>",
    "<svg onload=\"window.__pwned='onload'\"></svg>",
    "<a href=\"javascript:window.__pwned='href'\">klicka här</a>",
    f'<img src="http://{ATTACKER}/steal.png?c=1">',
    f"<link rel=stylesheet href=//{ATTACKER}/x.css>",
    "javascript:window.__pwned='text'",
]
COMPANY = "<img src=x onerror=\"window.__pwned='company'\"> AB"


def _seed(var: Path) -> int:
    with case_log_with_anna(var) as cases:
        case, _ = cases.create(
            NewCase(
                idempotency_key="hostile",
                topic="permit",
                permit_type="bygglov",
                unit="bygglov",
                contact_name=PAYLOADS[0],
                company_name=COMPANY,
                description=" ".join(PAYLOADS),
                conversation_id="conv-hostile",
                contact_email="kim@foretag.se",
            ),
            now=utcnow() - dt.timedelta(hours=1),
        )
        for payload in PAYLOADS:
            cases.add_note(case.id, ALL_CASES, payload, "anna@lotsby.se")
    write_transcript(var, "conv-hostile", [("user", payload) for payload in PAYLOADS])
    return int(case.id)


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The web app with one case full of payloads; yields its URL and the case id."""
    var = tmp_path_factory.mktemp("hostile") / "var"
    var.mkdir()
    case_id = _seed(var)
    with serve_officials(var) as url:
        yield url, case_id


def test_stored_markup_is_inert_on_the_case_list_and_the_case_page(
    page: Page, hostile_app: tuple[str, int]
) -> None:
    url, case_id = hostile_app
    dialogs: list[str] = []
    foreign: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    def watch(request: Request) -> None:
        if urlsplit(request.url).hostname not in ("127.0.0.1", None):
            foreign.append(request.url)

    page.on("request", watch)
    page.goto(f"{url}/handlaggare/logga-in")
    page.get_by_label("E-postadress").fill("anna@lotsby.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Ärenden")).to_be_visible()
    expect(page.get_by_text(COMPANY)).to_be_visible()  # shown as text in the list
    assert page.evaluate("() => window.__pwned") is None

    page.goto(f"{url}/handlaggare/arenden/{case_id}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.wait_for_load_state("networkidle")
    for details in page.locator("details").all():  # toggling by hand fires nothing either
        details.click()
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []
    assert foreign == []
    assert page.locator("script, svg[onload], img[onerror], a[href^='javascript:']").count() == 0
    text = page.locator("main").inner_text()
    for payload in PAYLOADS:
        assert text.count(payload) >= 3, payload  # description, notes and the chat message
    assert COMPANY in text
