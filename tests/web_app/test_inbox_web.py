"""Web tests of the NLU inbox: roles, CSRF, escaping, annotation, bulk, conflicts and flagging."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from bot.accounts import UserRecord
from bot.cases import CaseRepository
from bot.settings import REPO_ROOT, Settings
from tests.nlu_project import copy_project

from .asgi import Client
from .conftest import add_tracker_event, csrf_for, login, make_case

XSS = "<img src=x onerror=alert(1)> bygglov"
T0 = 1_795_000_000.0


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The web app's settings on a temporary copy of the Rasa project (inbox.yml goes there)."""
    project = copy_project(tmp_path / "project")
    return dataclasses.replace(
        settings, project_dir=project, heldout_file=project / "tests" / "nlu" / "heldout.yml"
    )


def user_message(
    settings: Settings, sender: str, text: str, intent: str, confidence: float, at: float
) -> None:
    path = settings.tracker_store_url.removeprefix("sqlite:///")
    parse = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            (
                sender,
                "user",
                at,
                json.dumps({"event": "user", "text": text, "parse_data": parse}),
            ),
        )


def group_keys(page_text: str) -> list[str]:
    return re.findall(r'name="grupp" value="([0-9a-f]{32})"', page_text)


def training_file(settings: Settings) -> Path:
    return settings.data_dir / "nlu" / "inbox.yml"


async def test_a_trainer_sees_the_inbox_and_an_official_does_not(
    client: Client, settings: Settings, trainer: UserRecord, official: UserRecord
) -> None:
    user_message(settings, "s1", "kan ni fixa en grej åt oss", "greet", 0.2, T0)
    anonymous = await client.get("/handlaggare/inkorg")
    assert anonymous.status == 302 and "logga-in" in (anonymous.location or "")
    await login(client, official.email)
    assert (await client.get("/handlaggare/inkorg")).status == 403
    assert '/handlaggare/inkorg"' not in (await client.get("/handlaggare/oversikt")).text


async def test_the_inbox_collects_and_shows_groups_with_prediction(
    client: Client, settings: Settings, trainer: UserRecord
) -> None:
    user_message(settings, "s1", "Tomt 5000 kvm?", "ask_industrial_land", 0.5, T0)
    user_message(settings, "s2", "tomt 300 kvm", "ask_industrial_land", 0.3, T0 + 1)
    user_message(settings, "s3", "mitt pnr är 19900101-0017", "greet", 0.1, T0 + 2)
    await login(client, trainer.email)
    page = await client.get("/handlaggare/inkorg")
    assert page.status == 200
    assert 'href="/handlaggare/inkorg">Inkorg</a>' in page.text
    assert "3 meddelanden i 2 grupper" in page.text
    assert "Mark, tomter och lokaler (ask_industrial_land)" in page.text and "40 %" in page.text
    assert "[personnummer]" in page.text and "19900101" not in page.text
    assert page.text.index("tomt 300 kvm") < page.text.index("mitt pnr")


async def test_a_message_with_markup_is_shown_escaped(
    client: Client, settings: Settings, trainer: UserRecord
) -> None:
    user_message(settings, "s1", XSS, "greet", 0.2, T0)
    await login(client, trainer.email)
    page = await client.get("/handlaggare/inkorg")
    assert XSS not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    (key,) = group_keys(page.text)
    group = await client.get(f"/handlaggare/inkorg/grupp/{key}")
    assert XSS not in group.text and "&lt;img src=x" in group.text


async def test_annotating_a_group_writes_the_training_file_and_empties_the_inbox(
    client: Client, settings: Settings, trainer: UserRecord
) -> None:
    user_message(settings, "s1", "vi ska öppna glassbar, behövs bygglovet", "greet", 0.2, T0)
    await login(client, trainer.email)
    page = await client.get("/handlaggare/inkorg")
    (key,) = group_keys(page.text)
    form = await client.get(f"/handlaggare/inkorg/grupp/{key}")
    assert form.status == 200 and "Vad vill personen?" in form.text
    assert form.text.index('id="etikett-ask_permit"') < form.text.index('id="etikett-greet"')
    response = await client.post(
        f"/handlaggare/inkorg/grupp/{key}",
        {
            "csrf_token": client.csrf(form),
            "etikett": "ask_permit",
            "tillstand_ord": "bygglovet",
            "tillstand": "bygglov",
        },
    )
    assert response.status == 303
    done = await client.get(response.location or "")
    assert "Sparat som träningsexempel (data/nlu/inbox.yml): 1 meddelande." in done.text
    assert "Inkorgen är tom" in done.text
    data = yaml.safe_load(training_file(settings).read_text("utf-8"))
    assert data["nlu"] == [
        {
            "intent": "ask_permit",
            "examples": '- vi ska öppna glassbar, behövs [bygglovet]{"entity": "permit_type", '
            '"value": "bygglov"}\n',
        }
    ]
    assert not (REPO_ROOT / "data" / "nlu" / "inbox.yml").exists()


async def test_a_post_without_csrf_token_changes_nothing(
    client: Client, settings: Settings, trainer: UserRecord
) -> None:
    user_message(settings, "s1", "kan ni fixa en grej åt oss", "greet", 0.2, T0)
    await login(client, trainer.email)
    (key,) = group_keys((await client.get("/handlaggare/inkorg")).text)
    response = await client.post(f"/handlaggare/inkorg/grupp/{key}", {"etikett": "greet"})
    assert response.status == 403
    bulk = await client.post("/handlaggare/inkorg/markera", {"grupp": key, "etikett": "greet"})
    assert bulk.status == 403
    assert key in (await client.get("/handlaggare/inkorg")).text
    assert not training_file(settings).exists()


async def test_bad_labels_get_a_swedish_answer(
    client: Client, settings: Settings, trainer: UserRecord
) -> None:
    user_message(settings, "s1", "behövs bygglov för glasskiosk", "greet", 0.2, T0)
    await login(client, trainer.email)
    (key,) = group_keys((await client.get("/handlaggare/inkorg")).text)
    token = await csrf_for(client, "/handlaggare/inkorg")
    url = f"/handlaggare/inkorg/grupp/{key}"
    cases = {
        "Välj en avsikt eller Irrelevant.": {},
        "Välj en avsikt i listan.": {"etikett": "order_pizza"},
        "Orden för tillståndet finns inte i meddelandet.": {
            "etikett": "ask_permit",
            "tillstand_ord": "marklov",
            "tillstand": "marklov",
        },
        "Okänd tillståndstyp.": {
            "etikett": "ask_permit",
            "tillstand_ord": "bygglov",
            "tillstand": "<script>",
        },
    }
    for message, form in cases.items():
        response = await client.post(url, {"csrf_token": token, **form})
        assert response.status == 400 and message in response.text, message
    assert (await client.get("/handlaggare/inkorg/grupp/" + "0" * 32)).status == 404
    assert (await client.get("/handlaggare/inkorg/grupp/not-a-key")).status == 404
    assert (await client.post("/handlaggare/inkorg/grupp/x", {"csrf_token": token})).status == 404
    empty = await client.post("/handlaggare/inkorg/markera", {"csrf_token": token})
    assert empty.status == 400 and "Markera minst en grupp" in empty.text
    for query in ("sida=%C2%B2", "sida=9999999999999999999999", "sida=-3", "sparade=%C2%B2&utan=x"):
        assert (await client.get(f"/handlaggare/inkorg?{query}")).status == 200, query
    for case_id, message in (("²", "0"), ("1", "99999999999999999999999"), ("", "")):
        flag = await client.post(
            "/handlaggare/inkorg/flagga",
            {"csrf_token": token, "case_id": case_id, "message": message},
        )
        assert flag.status == 403  # a trainer may not flag; never a 5xx


async def test_bulk_labels_many_groups_at_once(
    client: Client, settings: Settings, trainer: UserRecord
) -> None:
    user_message(settings, "s1", "tack tack tack", "greet", 0.2, T0)
    user_message(settings, "s2", "tusen tack snälla", "greet", 0.2, T0 + 1)
    user_message(settings, "s3", "asdf qwerty", "greet", 0.2, T0 + 2)
    await login(client, trainer.email)
    page = await client.get("/handlaggare/inkorg")
    keys = dict(zip(("asdf", "tusen", "tack"), group_keys(page.text), strict=True))
    response = await client.post(
        "/handlaggare/inkorg/markera",
        {
            "csrf_token": client.csrf(page),
            "grupp": [keys["tack"], keys["tusen"]],
            "etikett": "thank",
        },
    )
    assert response.status == 303
    left = await client.get(response.location or "")
    assert "träningsexempel (data/nlu/inbox.yml): 2 meddelanden." in left.text
    assert "1 meddelande i 1 grupp." in left.text
    data = yaml.safe_load(training_file(settings).read_text("utf-8"))
    assert data["nlu"] == [
        {"intent": "thank", "examples": "- tack tack tack\n- tusen tack snälla\n"}
    ]


async def test_a_held_out_text_is_refused_with_an_explanation(
    client: Client, settings: Settings, trainer: UserRecord
) -> None:
    user_message(settings, "s1", "får man riva en lada utan rivningslov", "greet", 0.2, T0)
    await login(client, trainer.email)
    page = await client.get("/handlaggare/inkorg")
    assert "Finns i testfilen" in page.text
    (key,) = group_keys(page.text)
    response = await client.post(
        f"/handlaggare/inkorg/grupp/{key}",
        {"csrf_token": client.csrf(page), "etikett": "ask_permit"},
    )
    done = await client.get(response.location or "")
    assert "Finns i testfilen (tests/nlu/heldout.yml) och blir inte träningsexempel" in done.text
    assert not training_file(settings).exists()


async def test_a_conflict_is_shown_and_resolved_on_the_conflicts_page(
    client: Client, settings: Settings, trainer: UserRecord
) -> None:
    user_message(settings, "s1", "kan ni ringa mig", "greet", 0.2, T0)
    await login(client, trainer.email)
    page = await client.get("/handlaggare/inkorg")
    token = client.csrf(page)
    (key,) = group_keys(page.text)
    await client.post(
        f"/handlaggare/inkorg/grupp/{key}", {"csrf_token": token, "etikett": "request_human"}
    )
    user_message(settings, "s2", "Kan ni ringa mig?", "greet", 0.2, T0 + 10)
    page = await client.get("/handlaggare/inkorg")
    assert "Redan märkt som: Vill prata med en handläggare (request_human)" in page.text
    response = await client.post(
        f"/handlaggare/inkorg/grupp/{key}", {"csrf_token": token, "etikett": "case_status"}
    )
    done = await client.get(response.location or "")
    assert "Hålls som konflikt" in done.text and "1 konflikt</strong>" in done.text
    assert not training_file(settings).exists()
    conflicts = await client.get("/handlaggare/inkorg/konflikter")
    assert "request_human" in conflicts.text and "case_status" in conflicts.text
    bad = await client.post(
        f"/handlaggare/inkorg/konflikter/{key}", {"csrf_token": token, "etikett": "greet"}
    )
    assert bad.status == 400 and "Välj en av etiketterna" in bad.text
    resolved = await client.post(
        f"/handlaggare/inkorg/konflikter/{key}", {"csrf_token": token, "etikett": "request_human"}
    )
    assert resolved.status == 303
    assert "Inga konflikter" in (await client.get(resolved.location or "")).text
    data = yaml.safe_load(training_file(settings).read_text("utf-8"))
    assert data["nlu"][0]["intent"] == "request_human"


async def test_an_official_flags_a_transcript_message_of_an_own_case(
    client: Client,
    settings: Settings,
    cases: CaseRepository,
    official: UserRecord,
    trainer: UserRecord,
) -> None:
    case = make_case(cases, "k1")
    add_tracker_event(settings, case.conversation_id, "user", "vi vill sälja glass", T0)
    add_tracker_event(settings, case.conversation_id, "bot", "Här är svaret", T0 + 1)
    await login(client, official.email)
    page = await client.get(f"/handlaggare/arenden/{case.id}")
    assert page.text.count("Flagga för träning") == 1  # user messages only
    token = client.csrf(page)
    flagged = await client.post(
        "/handlaggare/inkorg/flagga", {"csrf_token": token, "case_id": case.id, "message": 0}
    )
    assert flagged.status == 200 and "Meddelandet ligger nu i inkorgen" in flagged.text
    bot_line = await client.post(
        "/handlaggare/inkorg/flagga", {"csrf_token": token, "case_id": case.id, "message": 1}
    )
    assert bot_line.status == 400
    for case_id, message in (("x", "-1"), ("²", "0"), (str(case.id), "9" * 30), ("9" * 30, "0")):
        garbage = await client.post(
            "/handlaggare/inkorg/flagga",
            {"csrf_token": token, "case_id": case_id, "message": message},
        )
        assert garbage.status == 404, (case_id, message)
    await client.post("/handlaggare/logga-ut", {"csrf_token": token})
    await login(client, trainer.email)
    inbox = await client.get("/handlaggare/inkorg")
    assert "vi vill sälja glass" in inbox.text and "Flaggat av handläggare" in inbox.text
    assert official.email in inbox.text
    refused = await client.post(
        "/handlaggare/inkorg/flagga",
        {"csrf_token": client.csrf(inbox), "case_id": case.id, "message": 0},
    )
    assert refused.status == 403


async def test_an_official_cannot_flag_a_message_of_another_units_case(
    client: Client, settings: Settings, cases: CaseRepository, official: UserRecord
) -> None:
    other = make_case(cases, "k2", unit="miljo")
    add_tracker_event(settings, other.conversation_id, "user", "hemlig fråga", T0)
    await login(client, official.email)
    token = await csrf_for(client)
    response = await client.post(
        "/handlaggare/inkorg/flagga", {"csrf_token": token, "case_id": other.id, "message": 0}
    )
    assert response.status == 404 and "hemlig fråga" not in response.text
