"""Browser test: log in, filter, open a case, record a response, see the dashboard change.

Screenshots of each screen go to ``docs/screenshots/officials-*.png`` when
``LOTSEN_SCREENSHOTS=1`` (to refresh the committed ones), else to a temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import PASSWORD, REPO, XSS

AXE = REPO / "tests" / "web" / "vendor" / "axe.min.js"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    if os.environ.get("LOTSEN_SCREENSHOTS") == "1":
        return REPO / "docs" / "screenshots"
    return tmp_path


def shoot(page: Page, directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(directory / f"officials-{name}.png"), full_page=True)


def serious_axe_violations(page: Page) -> list[object]:
    if not AXE.exists():  # axe-core is vendored with the widget tests
        return []
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, object]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def summary_value(page: Page, term: str) -> str:
    return page.locator(f"dl.facts dt:text-is('{term}') + dd").inner_text()


def test_official_logs_in_filters_answers_and_sees_the_dashboard_change(
    page: Page, officials_url: str, screenshots: Path
) -> None:
    page.goto(f"{officials_url}/handlaggare/arenden")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    assert serious_axe_violations(page) == []
    shoot(page, screenshots, "login")

    page.get_by_label("E-postadress").fill("anna@lotsby.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Ärenden")).to_be_visible()
    expect(page.locator("tr.overdue")).to_have_count(1)
    assert serious_axe_violations(page) == []
    shoot(page, screenshots, "cases")

    page.goto(f"{officials_url}/handlaggare/oversikt")
    median_before = summary_value(page, "Median till första svar")
    page.goto(f"{officials_url}/handlaggare/arenden")

    page.get_by_label("Bara försenade").check()
    page.get_by_role("button", name="Visa").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.get_by_text("Sena Verkstaden AB")).to_be_visible()
    page.get_by_role("link", name="NL-").first.click()

    expect(page.get_by_role("heading", name="Chattsamtalet")).to_be_visible()
    expect(page.locator(".transcript")).to_contain_text(XSS)  # shown as text ...
    assert page.locator(".transcript img").count() == 0  # ... never as HTML
    assert serious_axe_violations(page) == []
    shoot(page, screenshots, "case")

    page.get_by_label("Telefon").check()
    page.get_by_label("Vad svarade du?").fill("Ringde och förklarade vad som gäller.")
    page.get_by_role("button", name="Registrera svar").click()
    expect(page.locator(".events")).to_contain_text("Första svar")
    expect(page.locator("dl.facts")).to_contain_text("Besvarad")

    page.goto(f"{officials_url}/handlaggare/oversikt?period=week")
    expect(page.locator("svg.chart")).to_have_count(2)
    assert summary_value(page, "Ärenden") == "2"
    assert median_before.startswith("–")
    assert summary_value(page, "Median till första svar").endswith("arbetstid")
    assert summary_value(page, "Median till första svar") != median_before
    assert serious_axe_violations(page) == []
    shoot(page, screenshots, "dashboard")

    page.get_by_role("button", name="Logga ut").click()
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    page.goto(f"{officials_url}/handlaggare/oversikt")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    assert (screenshots / "officials-dashboard.png").stat().st_size > 0
