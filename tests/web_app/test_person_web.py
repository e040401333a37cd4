"""Web tests for the admins' person-data pages: find, JSON export, confirmed erasure, audit log."""

from __future__ import annotations

import json

from bot.accounts import UserRecord
from bot.cases import ALL_CASES, CaseRepository
from bot.retention import ANONYMISED
from bot.settings import Settings

from .asgi import Client
from .conftest import add_tracker_event, csrf_for, login, make_case

URL = "/handlaggare/personuppgifter"
EMAIL = "kim@foretag.se"


async def test_only_admins_reach_the_person_pages(
    client: Client, official: UserRecord, trainer: UserRecord, admin: UserRecord
) -> None:
    assert (await client.get(URL)).status == 302  # not logged in
    for user in (official, trainer):
        browser = Client(client.app)
        await login(browser, user.email)
        assert (await browser.get(URL)).status == 403
        token = await csrf_for(browser)
        for path in (URL, f"{URL}/export", f"{URL}/radera"):
            response = await browser.post(
                path, {"csrf_token": token, "email": EMAIL, "bekrafta": "ja"}
            )
            assert response.status == 403, path
        assert "Personuppgifter" not in (await browser.get("/handlaggare/oversikt")).text
    await login(client, admin.email)
    page = await client.get(URL)
    assert page.status == 200 and "En persons uppgifter" in page.text
    assert 'href="/handlaggare/personuppgifter"' in page.text  # in the admin's menu


async def test_an_admin_finds_exports_and_erases_a_person(
    client: Client, cases: CaseRepository, admin: UserRecord, settings: Settings
) -> None:
    mine = make_case(cases, "a", company="Kims Firma")
    other = make_case(cases, "b", company="Evas Firma", contact_email="eva@annat.se")
    add_tracker_event(settings, mine.conversation_id, "user", "Hej, jag heter Kim", 1.0)
    add_tracker_event(settings, other.conversation_id, "user", "Hej, jag heter Eva", 1.0)
    await login(client, admin.email)
    token = await csrf_for(client, URL)

    found = await client.post(URL, {"csrf_token": token, "email": "Kim@Foretag.se"})
    assert found.status == 200
    assert mine.reference in found.text and other.reference not in found.text
    assert "k***@foretag.se" in found.text and "Chattsamtal: 1" in found.text

    export = await client.post(f"{URL}/export", {"csrf_token": token, "email": EMAIL})
    assert export.status == 200
    assert export.header("content-type") == "application/json; charset=utf-8"
    assert "attachment" in (export.header("content-disposition") or "")
    document = json.loads(export.text)
    assert [case["reference"] for case in document["cases"]] == [mine.reference]
    assert document["conversations"][0]["messages"][0]["text"] == "Hej, jag heter Kim"

    confirm = await client.post(f"{URL}/radera", {"csrf_token": token, "email": EMAIL})
    assert confirm.status == 200 and "går inte att ångra" in confirm.text
    assert 'name="bekrafta"' in confirm.text
    unchecked = await client.post(
        f"{URL}/radera", {"csrf_token": token, "email": EMAIL, "steg": "bekrafta"}
    )
    assert "Kryssa i rutan" in unchecked.text
    stored = cases.get(mine.id, ALL_CASES)
    assert stored is not None and stored.contact_email == EMAIL  # nothing erased yet

    erased = await client.post(
        f"{URL}/radera",
        {"csrf_token": token, "email": EMAIL, "steg": "bekrafta", "bekrafta": "ja"},
    )
    assert erased.status == 200 and "1 ärenden anonymiserades" in erased.text
    stored = cases.get(mine.id, ALL_CASES)
    assert stored is not None and stored.contact_name == ANONYMISED
    assert stored.contact_email is None
    untouched = cases.get(other.id, ALL_CASES)
    assert untouched is not None and untouched.company_name == "Evas Firma"

    log = await client.get(URL)
    assert "Radering" in log.text and "Export" in log.text and mine.reference in log.text
    assert "admin@lotsby.se" in log.text and "k***@foretag.se" in log.text
    assert EMAIL not in log.text


async def test_bad_input_gets_a_swedish_answer(client: Client, admin: UserRecord) -> None:
    await login(client, admin.email)
    token = await csrf_for(client, URL)
    for path in (URL, f"{URL}/export", f"{URL}/radera"):
        empty = await client.post(path, {"csrf_token": token})
        assert empty.status == 400
        assert "Ange personens e-postadress eller telefonnummer." in empty.text
        wrong = await client.post(path, {"csrf_token": token, "telefon": "ring mig"})
        assert wrong.status == 400 and "giltigt telefonnummer" in wrong.text


async def test_nobody_found_offers_no_erasure(client: Client, admin: UserRecord) -> None:
    await login(client, admin.email)
    token = await csrf_for(client, URL)
    page = await client.post(URL, {"csrf_token": token, "telefon": "070-999 99 99"})
    assert page.status == 200 and "Inget finns sparat om personen." in page.text
    assert f'action="{URL}/radera"' not in page.text
