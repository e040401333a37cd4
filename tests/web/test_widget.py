"""The chat widget in a real browser against real Rasa, action server and web app.

Flows: question to case reference with the mouse and with the keyboard alone, history after a
reload, human handoff, end-and-delete, text never rendered as HTML, axe-core, phone and 200 % zoom.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.conftest import REPO, Services
from tests.web.conftest import AXE, DESKTOP, PHONE

pytestmark = pytest.mark.model

QUESTION = "Behöver jag bygglov för att bygga ut min verkstad?"
REFERENCE = re.compile(r"NL-\d{4}-\d{4,}")
SESSION_KEY = "foretagslotsen.session"
TRANSCRIPT_KEY = "foretagslotsen.transcript"
FORM = [
    ("Anna Svensson", "företaget"),
    ("Svenssons Verkstad AB", "organisationsnummer"),
    ("556016-0680", "e-post"),
    ("anna@verkstad.se", "Beskriv"),
    ("Vi vill bygga ut verkstaden med 150 kvm mot gatan", "Godkänner du"),
]


def launcher(page: Page) -> Locator:
    return page.get_by_role("button", name="Chatta med Företagslotsen")


def dialog(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Företagslotsen")


def chat_input(page: Page) -> Locator:
    return page.get_by_label("Skriv din fråga")


def bot_messages(page: Page) -> Locator:
    return page.locator(".fl-msg--bot")


def open_widget(page: Page) -> None:
    launcher(page).click()
    expect(dialog(page)).to_be_visible()
    expect(chat_input(page)).to_be_focused()


def say(page: Page, text: str, expected: str | re.Pattern[str], keyboard: bool = False) -> None:
    """Send a message and wait for the bot's answer to contain the expected text."""
    before = bot_messages(page).count()
    if keyboard:
        expect(chat_input(page)).to_be_focused()
        page.keyboard.type(text)
        page.keyboard.press("Enter")
    else:
        chat_input(page).fill(text)
        chat_input(page).press("Enter")
    expect(page.locator(".fl-msg--user").last).to_have_text(re.compile(re.escape(text)))
    expect(bot_messages(page).nth(before)).to_be_visible()
    expect(bot_messages(page).last).to_contain_text(expected)


def focused_text(page: Page) -> str:
    return str(
        page.evaluate(
            "() => { const e = document.activeElement;"
            " return e ? (e.getAttribute('aria-label') || e.textContent || '').trim() : ''; }"
        )
    )


def storage(page: Page, key: str) -> str | None:
    value = page.evaluate("(key) => localStorage.getItem(key)", key)
    return None if value is None else str(value)


def session_id(page: Page) -> str:
    raw = storage(page, SESSION_KEY)
    assert raw, "no session in local storage"
    match = re.search(r'"id":"([0-9a-f]{32}\.[0-9a-f]{32})"', raw)  # issued by the server
    assert match, raw
    return match.group(1)


def tracker_rows(services: Services, sender: str) -> int:
    with sqlite3.connect(services.tracker_db) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,)
        ).fetchone()
    return int(count)


def screenshot_dir(tmp_path: Path) -> Path:
    """docs/screenshots when LOTSEN_SCREENSHOTS=1 (to refresh the committed ones), else tmp."""
    if os.environ.get("LOTSEN_SCREENSHOTS") == "1":
        target = REPO / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path


def test_permit_question_to_case_reference_with_the_mouse_and_history_survives_reload(
    page: Page,
) -> None:
    open_widget(page)
    notice = dialog(page).locator(".fl-notice")
    expect(notice).to_contain_text("sparas")
    expect(notice.get_by_role("link", name="Så hanterar vi dina uppgifter")).to_have_attribute(
        "href", re.compile(r"/integritet$")
    )

    say(page, QUESTION, "registrera")
    expect(page.get_by_role("log")).to_contain_text("Bygglov")
    page.get_by_role("button", name="Ja, registrera ärende").click()
    expect(page.locator(".fl-msg--user").last).to_have_text(re.compile("Ja, registrera ärende"))
    expect(bot_messages(page).last).to_contain_text("Vad heter du")
    # Used quick replies disappear; the question is answered.
    expect(page.get_by_role("button", name="Ja, registrera ärende")).to_have_count(0)
    for answer, next_question in FORM:
        say(page, answer, next_question)
    page.get_by_role("button", name="Ja, jag godkänner").click()
    expect(bot_messages(page).last).to_contain_text(REFERENCE)
    reference = REFERENCE.search(bot_messages(page).last.inner_text())
    assert reference

    page.reload()
    expect(dialog(page)).to_be_visible()  # it was open before the reload
    log = page.get_by_role("log")
    expect(log).to_contain_text(QUESTION)
    expect(log).to_contain_text(reference.group(0))
    # The same conversation goes on after the reload (the session id was kept).
    say(page, "tack", "Varsågod")


def test_keyboard_alone_goes_from_question_to_case_reference(page: Page) -> None:
    for _ in range(40):
        page.keyboard.press("Tab")
        if focused_text(page) == "Chatta med Företagslotsen":
            break
    else:
        pytest.fail("the launcher is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_visible()
    expect(chat_input(page)).to_be_focused()

    say(page, QUESTION, "registrera", keyboard=True)
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if focused_text(page) == "Ja, registrera ärende":
            break
    else:
        pytest.fail("the quick reply is not reachable with Shift+Tab from the input")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focused button has no visible focus indicator"
    page.keyboard.press("Enter")
    expect(bot_messages(page).last).to_contain_text("Vad heter du")
    expect(chat_input(page)).to_be_focused()
    for answer, next_question in FORM:
        say(page, answer, next_question, keyboard=True)
    say(page, "ja", REFERENCE, keyboard=True)

    page.keyboard.press("Escape")
    expect(dialog(page)).to_be_hidden()
    expect(launcher(page)).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_visible()
    expect(chat_input(page)).to_be_focused()
    expect(page.get_by_role("log")).to_contain_text(REFERENCE)


def test_asking_for_a_person_gives_contact_details_and_offers_a_call_back(page: Page) -> None:
    open_widget(page)
    say(page, QUESTION, "registrera")
    say(page, "Jag vill prata med en handläggare", "kontakta")
    log_text = page.get_by_role("log").inner_text()
    assert re.search(r"har (öppet nu|stängt just nu)", log_text), log_text
    assert "0123-45 67 10" in log_text  # Bygglovsenheten's phone: the unit of the question
    page.get_by_role("button", name="Ja, kontakta mig").click()
    expect(bot_messages(page).last).to_contain_text("Vad heter du")


def test_end_and_delete_clears_the_browser_and_the_tracker_store(
    page: Page, services: Services
) -> None:
    open_widget(page)
    say(page, QUESTION, "registrera")
    sender = session_id(page)
    assert tracker_rows(services, sender) > 0

    page.get_by_role("button", name="Avsluta och radera").click()
    confirm = page.get_by_role("button", name="Ja, avsluta och radera")
    expect(confirm).to_be_visible()
    confirm.click()
    expect(dialog(page).get_by_role("status").first).to_contain_text("raderat")
    expect(page.locator(".fl-msg")).to_have_count(0)
    assert storage(page, SESSION_KEY) is None
    assert storage(page, TRANSCRIPT_KEY) is None
    deadline = time.monotonic() + 10
    while tracker_rows(services, sender) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tracker_rows(services, sender) == 0

    # A new conversation starts with a new session id.
    say(page, "hej", "Företagslotsen")
    assert session_id(page) != sender


def test_markup_in_messages_is_shown_as_text(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_widget(page)
    attack = "<img src=x onerror=alert(1)>"
    say(page, attack, re.compile(r"\S"))
    expect(page.locator(".fl-msg--user .fl-bubble").last).to_have_text(attack)
    # A bot message with markup and links, delivered as the socket would.
    page.evaluate(
        """() => window.Foretagslotsen.receive({
            text: '<b>fet</b> <img src=x onerror=alert(2)> javascript:alert(3) '
                + 'Läs mer: https://example.se/sida. Mejla a@b.se',
            quick_replies: [{title: '<i>knapp</i>', payload: '/affirm'}],
        })"""
    )
    log = page.get_by_role("log")
    expect(log).to_contain_text("<b>fet</b>")
    page.wait_for_timeout(500)
    assert log.locator("img, b, i, script").count() == 0
    links = bot_messages(page).last.locator("a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs == ["https://example.se/sida", "mailto:a@b.se"]
    assert links.first.get_attribute("rel") == "noopener noreferrer"
    expect(page.get_by_role("button", name="<i>knapp</i>")).to_be_visible()
    assert dialogs == []


def run_axe(page: Page) -> list[dict[str, object]]:
    # The demo page's CSP (rightly) blocks an injected <script> tag; DevTools evaluation is not
    # subject to it, so axe-core is loaded that way and the page keeps its real policy.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def test_axe_finds_no_serious_or_critical_violations_with_the_widget_open(
    page: Page, web_url: str
) -> None:
    open_widget(page)
    say(page, "hej", "Vad vill du ha hjälp med")  # messages, quick replies and links on screen
    say(page, QUESTION, "registrera")
    page.get_by_role("button", name="Avsluta och radera").click()  # the confirmation too
    assert run_axe(page) == []
    page.keyboard.press("Escape")
    page.goto(f"{web_url}/integritet")
    assert run_axe(page) == []


def test_phone_width_opens_a_full_screen_panel(browser: Browser, web_url: str) -> None:
    context = browser.new_context(viewport=PHONE, locale="sv-SE", is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(web_url)
        open_widget(page)
        box = dialog(page).bounding_box()
        assert box == {"x": 0, "y": 0, "width": PHONE["width"], "height": PHONE["height"]}
        say(page, QUESTION, "registrera")
        expect(chat_input(page)).to_be_in_viewport()
    finally:
        context.close()


def test_200_percent_zoom_keeps_the_widget_usable(browser: Browser, web_url: str) -> None:
    # 1280x800 at 200 % zoom is a 640x400 CSS-pixel viewport.
    context = browser.new_context(viewport={"width": 640, "height": 400}, locale="sv-SE")
    try:
        page = context.new_page()
        page.goto(web_url)
        open_widget(page)
        say(page, QUESTION, "registrera")
        for locator in (chat_input(page), page.get_by_role("button", name="Skicka")):
            expect(locator).to_be_in_viewport()
        expect(page.get_by_role("button", name="Stäng chatten")).to_be_in_viewport()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 640
    finally:
        context.close()


def test_screenshots_at_desktop_and_phone_width(page: Page, tmp_path: Path) -> None:
    target = screenshot_dir(tmp_path)
    page.set_viewport_size(PHONE)
    open_widget(page)
    page.screenshot(path=str(target / "widget-phone-notice.png"))  # before the first message
    page.set_viewport_size(DESKTOP)
    say(page, QUESTION, "registrera")
    page.screenshot(path=str(target / "widget-desktop.png"))
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(target / "widget-phone.png"))
    page.set_viewport_size(DESKTOP)
    for name in ("widget-desktop.png", "widget-phone.png", "widget-phone-notice.png"):
        assert (target / name).stat().st_size > 10_000


def test_typing_indicator_shows_until_the_answer_arrives(page: Page) -> None:
    open_widget(page)
    shown = page.evaluate(
        """() => {
            const widget = window.Foretagslotsen;
            widget.input.value = 'hej';
            widget.form.requestSubmit();
            return !widget.typing.hidden && widget.typingStatus.textContent.includes('skriver');
        }"""
    )
    assert shown
    expect(bot_messages(page).first).to_contain_text("Företagslotsen")
    expect(page.locator(".fl-typing")).to_be_hidden()
