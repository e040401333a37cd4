"""Browser-test fixtures: the web app next to the session's Rasa server, and Debian's Chromium.

Playwright (PyPI) drives the system Chromium (`apt-get install chromium`); no browser is
downloaded. Outside CI the browser tests are skipped when Chromium is missing; in CI they fail.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import launch_chromium
from tests.conftest import BASE_ENV, REPO, Services, stop, wait_for

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def web_url(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the web app on the port Rasa allows CORS for, pointing the widget at that Rasa."""
    log = tmp_path_factory.mktemp("web") / "web.log"
    port = services.web_url.rsplit(":", 1)[1]
    env = {
        **BASE_ENV,
        "DATABASE_URL": services.database_url,
        "TRACKER_STORE_URL": f"sqlite:///{services.tracker_db}",
        "LOTSEN_PUBLIC_RASA_URL": services.rasa_url,
    }
    with log.open("wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", port],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"{services.web_url}/health", web, log, timeout=60)
            yield services.web_url
        finally:
            stop(web)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for this package (see tests/browser.py)."""
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser, web_url: str) -> Iterator[Page]:
    """A fresh desktop-sized page (new context: empty local storage) on the demo page."""
    context = browser.new_context(viewport=DESKTOP, locale="sv-SE")
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(web_url)
    try:
        yield page
    finally:
        context.close()
