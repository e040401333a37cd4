"""Debian's Chromium driven by Playwright (PyPI): one launcher for every browser-test package.

No browser is downloaded. Outside CI the browser tests are skipped when Chromium is missing; in
CI they fail. Each package wraps :func:`launch_chromium` in a package-scoped fixture:
Playwright's sync API keeps an event loop marked as running while it is started, which would
break the asyncio tests that run after that package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path(os.environ.get("LOTSEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Start headless Chromium, or skip (fail in CI) when it is not installed."""
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()
