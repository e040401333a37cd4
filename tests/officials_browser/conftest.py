"""Browser tests of the officials' app: the web app in a subprocess, Debian's Chromium.

No Rasa server is needed: the case log and a tracker store are prepared in a temporary
directory. Playwright (PyPI) drives the system Chromium; the tests are skipped when it is
missing (and fail in CI).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page

from bot.accounts import UserRepository
from bot.cases import CaseRepository, NewCase
from bot.db import create_db_engine, migrate
from bot.models import utcnow
from bot.stack import free_port
from tests.browser import launch_chromium

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "webbläsar-lösenord-1"
XSS = "<img src=x onerror=alert(1)>"


@contextmanager
def case_log_with_anna(var: Path) -> Iterator[CaseRepository]:
    """Migrate the case log in ``var``, add the official Anna (bygglov); yield its cases."""
    url = f"sqlite:///{var / 'cases.db'}"
    migrate(url)
    engine = create_db_engine(url)
    try:
        users = UserRepository(engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        users.create("anna@lotsby.se", "Anna Bygg", "official", PASSWORD, unit="bygglov")
        yield CaseRepository(engine)
    finally:
        engine.dispose()


def _seed(var: Path) -> None:
    with case_log_with_anna(var) as cases:
        for key, company, days_ago in (
            ("late", "Sena Verkstaden AB", 20),
            ("new", "Nya Bageriet AB", 0),
        ):
            cases.create(
                NewCase(
                    idempotency_key=key,
                    topic="permit",
                    permit_type="bygglov",
                    unit="bygglov",
                    contact_name="Kim Kund",
                    company_name=company,
                    description="Vi vill bygga ut verkstaden med 200 m².",
                    conversation_id=f"conv-{key}",
                    contact_email="kim@foretag.se",
                ),
                now=utcnow() - dt.timedelta(days=days_ago),
            )
    write_transcript(
        var,
        "conv-late",
        [
            ("user", f"Behöver jag bygglov? {XSS}"),
            ("bot", "Ja, för en tillbyggnad behövs bygglov."),
        ],
    )


def write_transcript(var: Path, sender_id: str, messages: list[tuple[str, str]]) -> None:
    """Store a conversation in the tracker store under ``var`` (created when missing)."""
    with sqlite3.connect(var / "tracker.db") as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), "
            "type_name VARCHAR(255), timestamp FLOAT, data TEXT)"
        )
        now = time.time()
        for offset, (kind, text) in enumerate(messages):
            connection.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                (sender_id, kind, now + offset, json.dumps({"event": kind, "text": text})),
            )


@pytest.fixture(scope="package")
def officials_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The web app with a seeded case log, on a free port."""
    var = tmp_path_factory.mktemp("officials") / "var"
    var.mkdir()
    _seed(var)
    with serve_officials(var) as url:
        yield url


@contextmanager
def serve_officials(var: Path) -> Iterator[str]:
    """Run ``lotsen web`` on the case log and tracker store in ``var``; yield its URL."""
    port = free_port()
    env = {
        **os.environ,
        "LOTSEN_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'cases.db'}",
        "TRACKER_STORE_URL": f"sqlite:///{var / 'tracker.db'}",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    env.pop("LOTSEN_SECRET_KEY", None)
    log = var / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2):
                        break
                except OSError:
                    if web.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(log.read_text(errors="replace")) from None
                    time.sleep(0.3)
            yield url
        finally:
            web.terminate()
            try:
                web.wait(timeout=10)
            except subprocess.TimeoutExpired:
                web.kill()
                web.wait()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for this package."""
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # bypass_csp: the app's CSP (rightly) blocks the injected axe-core script.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="sv-SE", bypass_csp=True
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
