"""Web tests for the case list, the case page, case actions, the dashboard and the exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

from bot.accounts import UserRecord
from bot.cases import CaseRepository
from bot.models import utcnow
from bot.settings import Settings

from .asgi import Client
from .conftest import csrf_for, login, make_case

XSS = "<img src=x onerror=alert(1)>"
LONG_AGO = utcnow() - dt.timedelta(days=30)


async def test_an_official_lists_only_cases_of_the_own_unit(
    client: Client, cases: CaseRepository, official: UserRecord
) -> None:
    make_case(cases, "own", company="Egen Bygg AB")
    make_case(cases, "other", unit="miljo", company="Annan Miljö AB")
    await login(client, official.email)
    page = await client.get("/handlaggare/arenden")
    assert page.status == 200
    assert "Egen Bygg AB" in page.text and "Annan Miljö AB" not in page.text
    forced = await client.get("/handlaggare/arenden?enhet=miljo")
    assert "Annan Miljö AB" not in forced.text


async def test_an_admin_sees_every_unit(
    client: Client, cases: CaseRepository, admin: UserRecord
) -> None:
    other = make_case(cases, "other", unit="miljo", company="Annan Miljö AB")
    await login(client, admin.email)
    assert "Annan Miljö AB" in (await client.get("/handlaggare/arenden")).text
    assert (await client.get(f"/handlaggare/arenden/{other.id}")).status == 200


async def test_a_trainer_sees_the_dashboard_but_no_cases(
    client: Client, cases: CaseRepository, trainer: UserRecord
) -> None:
    case = make_case(cases, "a")
    await login(client, trainer.email)
    assert (await client.get("/handlaggare/arenden")).status == 403
    assert (await client.get(f"/handlaggare/arenden/{case.id}")).status == 403
    assert (await client.get("/handlaggare/export/arenden.csv")).status == 403
    assert (await client.get("/handlaggare/oversikt")).status == 200


async def test_list_filters_search_and_overdue_highlight(
    client: Client, cases: CaseRepository, admin: UserRecord
) -> None:
    late = make_case(cases, "late", company="Sen Bygg AB", created=LONG_AGO)
    make_case(cases, "fresh", company="Ny Café AB", topic="start_business", unit="naringsliv")
    await login(client, admin.email)
    page = await client.get("/handlaggare/arenden")
    assert 'class="overdue"' in page.text and "Försenat" in page.text
    overdue = await client.get("/handlaggare/arenden?forsenade=1")
    assert "Sen Bygg AB" in overdue.text and "Ny Café AB" not in overdue.text
    by_topic = await client.get("/handlaggare/arenden?amne=start_business")
    assert "Ny Café AB" in by_topic.text and "Sen Bygg AB" not in by_topic.text
    by_ref = await client.get(f"/handlaggare/arenden?sok={late.reference}")
    assert "Sen Bygg AB" in by_ref.text and "Ny Café AB" not in by_ref.text
    by_company = await client.get("/handlaggare/arenden?sok=caf%C3%A9")
    assert "Ny Café AB" in by_company.text and "Sen Bygg AB" not in by_company.text
    nonsense = await client.get(
        "/handlaggare/arenden?status=hacked&fran=igar&sida=x&sortering=1;drop"
    )
    assert nonsense.status == 200 and "Sen Bygg AB" in nonsense.text


async def test_list_pages_keep_the_filters(
    client: Client, cases: CaseRepository, admin: UserRecord
) -> None:
    for index in range(30):
        make_case(cases, f"k{index}", company=f"Företag {index:02d}")
    await login(client, admin.email)
    first = await client.get("/handlaggare/arenden?sortering=company")
    assert "Sida 1 av 2" in first.text
    assert "sortering=company&amp;sida=2" in first.text
    second = await client.get("/handlaggare/arenden?sortering=company&sida=2")
    assert "Företag 29" in second.text and "Företag 00" not in second.text


async def test_the_case_page_without_a_tracker_store_still_works(
    client: Client, cases: CaseRepository, official: UserRecord, settings: Settings
) -> None:
    case = make_case(cases, "x")
    (settings.var_dir / "tracker.db").unlink()
    await login(client, official.email)
    page = await client.get(f"/handlaggare/arenden/{case.id}")
    assert page.status == 200 and "Samtalet finns inte kvar" in page.text


async def test_each_action_in_the_app_appends_an_event(
    client: Client, cases: CaseRepository, official: UserRecord
) -> None:
    case = make_case(cases, "x")
    await login(client, official.email)
    url = f"/handlaggare/arenden/{case.id}"
    steps = [
        ("tilldela", {"assignee": str(official.id)}),
        ("svar", {"channel": "meeting", "note": "Möte bokat"}),
        ("anteckning", {"note": f"Anteckning {XSS}"}),
        ("avsluta", {"note": ""}),
        ("ateroppna", {"note": "Ny fråga"}),
    ]
    for action, form in steps:
        token = await csrf_for(client, url)
        response = await client.post(f"{url}/{action}", {"csrf_token": token, **form})
        assert response.status == 303, (action, response.text)
    events = cases.events(case.id)
    assert [event.kind for event in events] == [
        "created",
        "assigned",
        "answered",
        "noted",
        "closed",
        "reopened",
    ]
    assert {event.actor for event in events[1:]} == {official.email}
    page = await client.get(url)
    assert "Möte" in page.text and "Anna Bygg" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text and "<img" not in page.text


async def test_an_action_that_does_not_fit_shows_why(
    client: Client, cases: CaseRepository, official: UserRecord
) -> None:
    case = make_case(cases, "x")
    await login(client, official.email)
    token = await csrf_for(client)
    response = await client.post(f"/handlaggare/arenden/{case.id}/ateroppna", {"csrf_token": token})
    assert response.status == 409
    assert "Bara avslutade ärenden kan öppnas igen." in response.text
    assert (
        await client.post(f"/handlaggare/arenden/{case.id}/radera", {"csrf_token": token})
    ).status == 404


async def test_dashboard_shows_figures_charts_and_exports_them(
    client: Client, cases: CaseRepository, official: UserRecord
) -> None:
    make_case(cases, "late", created=LONG_AGO)
    answered = make_case(cases, "ok")
    await login(client, official.email)
    token = await csrf_for(client)
    await client.post(
        f"/handlaggare/arenden/{answered.id}/svar",
        {"csrf_token": token, "channel": "phone", "note": ""},
    )
    page = await client.get("/handlaggare/oversikt?period=week&gruppering=unit_topic")
    assert page.status == 200
    assert page.text.count("<svg") == 2 and "<script" not in page.text
    assert "Bygglovsenheten" in page.text and "Lov och tillstånd" in page.text
    export = await client.get("/handlaggare/export/statistik.csv?period=month&gruppering=unit")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:4] == ["period", "enhet", "ämne", "ärenden"]
    assert sum(int(row[3]) for row in rows[1:]) == 2
    assert sum(int(row[10]) for row in rows[1:]) == 1  # the late one is overdue
