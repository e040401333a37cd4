"""The demo page's Content-Security-Policy does not break the chat widget (real Chromium)."""

from __future__ import annotations

import requests
from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.conftest import Services
from tests.web.conftest import DESKTOP
from tests.web.test_widget import QUESTION, bot_messages, open_widget, say


def test_widget_works_under_the_csp_without_violations(
    browser: Browser, web_url: str, services: Services
) -> None:
    policy = requests.get(web_url, timeout=10).headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert services.rasa_url in policy  # the widget may connect to the Rasa server
    context = browser.new_context(viewport=DESKTOP, locale="sv-SE")
    context.set_default_timeout(60_000)
    page = context.new_page()
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    page.on("console", on_console)
    try:
        page.goto(web_url)
        open_widget(page)
        say(page, QUESTION, "registrera")
        expect(bot_messages(page).last).to_contain_text("registrera")
        assert violations == []
    finally:
        context.close()
