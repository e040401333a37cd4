"""Web tests for the model registry pages (/handlaggare/modeller): roles, CSRF, progress,
comparison, refusal and override. The successful switch of a real Rasa server is tested in
tests/integration/test_retrain_cycle.py."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os

import pytest
from sqlalchemy.engine import Engine

from bot.accounts import UserRecord
from bot.model_registry import HELDOUT, ModelRecord, ModelRegistry, activate, file_hash
from bot.nlu_eval import NluReport, Prediction
from bot.settings import Settings
from bot.stack import free_port
from bot.training import training_lock

from .asgi import Client
from .conftest import csrf_for, login

MESSAGES = [(f"behöver jag lov {i}", "ask_permit") for i in range(20)]


def report(wrong: int) -> NluReport:
    return NluReport(
        tuple(
            Prediction(text, intent, "greet" if i < wrong else intent, 0.8, None, ())
            for i, (text, intent) in enumerate(MESSAGES)
        )
    )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No Rasa server listens on this port: activations fail the way a stopped server makes them.
    return dataclasses.replace(settings, rasa_urls=(f"http://127.0.0.1:{free_port()}",))


@pytest.fixture
def registry(engine: Engine) -> ModelRegistry:
    return ModelRegistry(engine)


def trained(registry: ModelRegistry, settings: Settings, wrong: int, name: str) -> ModelRecord:
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    (settings.models_dir / f"{name}.tar.gz").write_bytes(name.encode())
    model = registry.register_archive(f"{name}.tar.gz", "tove@lotsby.se", name, 4, "abc", None)
    registry.save_evaluation(model.id, HELDOUT, file_hash(settings.heldout_file), report(wrong))
    return model


async def test_only_trainers_and_admins_see_the_models(
    client: Client, official: UserRecord, trainer: UserRecord, admin: UserRecord
) -> None:
    anonymous = await client.get("/handlaggare/modeller")
    assert anonymous.status == 302 and "logga-in" in (anonymous.location or "")
    await login(client, official.email)
    assert (await client.get("/handlaggare/modeller")).status == 403
    assert (await client.get("/handlaggare/modeller/1/status.json")).status == 403
    for user in (trainer, admin):
        other = Client(client.app)
        await login(other, user.email)
        page = await other.get("/handlaggare/modeller")
        assert page.status == 200
        assert "Träna ny modell" in page.text and 'href="/handlaggare/modeller"' in page.text


async def test_starting_a_training_needs_the_csrf_token_and_the_button(
    client: Client, trainer: UserRecord, registry: ModelRegistry
) -> None:
    await login(client, trainer.email)
    refused = await client.post("/handlaggare/modeller/trana", {"atgard": "trana"})
    assert refused.status == 403 and registry.models() == []
    # A valid token without the button's own field (a stray or hostile POST) starts nothing.
    token = await csrf_for(client, "/handlaggare/modeller")
    incomplete = await client.post("/handlaggare/modeller/trana", {"csrf_token": token})
    assert incomplete.status == 400 and "ofullständigt" in incomplete.text
    assert registry.models() == []


async def test_a_second_training_is_refused_while_one_runs(
    client: Client, trainer: UserRecord, registry: ModelRegistry, settings: Settings
) -> None:
    running = registry.queue_training("ada@lotsby.se")
    await login(client, trainer.email)
    page = await client.get("/handlaggare/modeller")
    assert f"Modell {running.id} tränas just nu" in page.text
    refused = await client.post(
        "/handlaggare/modeller/trana", {"csrf_token": client.csrf(page), "atgard": "trana"}
    )
    assert refused.status == 409 and "En träning pågår redan" in refused.text
    assert [m.id for m in registry.models()] == [running.id]


async def test_progress_page_and_status_endpoint(
    client: Client, trainer: UserRecord, registry: ModelRegistry, settings: Settings
) -> None:
    queued = registry.queue_training("tove@lotsby.se")
    registry.mark_started(queued.id, os.getpid(), "m.tar.gz", "abc123", "hash")
    registry.update_progress(queued.id, phase="DIETClassifier", epoch=0, epochs=60)
    registry.update_progress(queued.id, epoch=12, epochs=60)
    await login(client, trainer.email)
    with training_lock(settings) as held:  # this process plays the live worker
        assert held
        page = await client.get(f"/handlaggare/modeller/{queued.id}")
        status = await client.get(f"/handlaggare/modeller/{queued.id}/status.json")
    assert page.status == 200
    assert '<progress id="epochs" max="60" value="12">' in page.text
    assert 'src="/static/models.js"' in page.text and "<script>" not in page.text
    data = json.loads(status.text)
    assert data["running"] and (data["epoch"], data["epochs"]) == (12, 60)
    assert data["phase"] == "DIETClassifier" and data["remaining"] is not None
    # Without the worker's lock the run is stale and shows as failed.
    after = await client.get(f"/handlaggare/modeller/{queued.id}")
    assert "Träningen misslyckades" in after.text and "avslutades oväntat" in after.text
    assert (await client.get("/handlaggare/modeller/999/status.json")).status == 404


async def test_comparison_shows_scores_and_changed_messages(
    client: Client, trainer: UserRecord, registry: ModelRegistry, settings: Settings
) -> None:
    old = trained(registry, settings, 4, "old")
    activate(settings, registry, old.id, "ada@lotsby.se", "admin", reload_servers=False)
    new = trained(registry, settings, 1, "new")
    await login(client, trainer.email)
    page = await client.get(f"/handlaggare/modeller/{new.id}")
    assert page.status == 200
    assert f"Jämförelse med modell {old.id} (används nu)" in page.text
    assert "80,0 %" in page.text and "95,0 %" in page.text and "+15,0 %" in page.text
    assert "Meddelanden som tolkas annorlunda (3)" in page.text
    assert "behöver jag lov 3" in page.text and "behöver jag lov 0" not in page.text
    assert f'action="/handlaggare/modeller/{new.id}/aktivera"' in page.text


async def test_a_worse_model_is_refused_for_a_trainer_and_needs_an_admins_reason(
    client: Client,
    trainer: UserRecord,
    admin: UserRecord,
    registry: ModelRegistry,
    settings: Settings,
) -> None:
    good = trained(registry, settings, 1, "good")
    activate(settings, registry, good.id, "ada@lotsby.se", "admin", reload_servers=False)
    worse = trained(registry, settings, 6, "worse")
    await login(client, trainer.email)
    page = await client.get(f"/handlaggare/modeller/{worse.id}")
    assert "Aktivering nekas: Träffsäkerheten på testfilen sjunker från 95,0 % till 70,0 %" in (
        page.text
    )
    assert "Bara en administratör kan aktivera modellen ändå" in page.text
    refused = await client.post(
        f"/handlaggare/modeller/{worse.id}/aktivera",
        {"csrf_token": client.csrf(page), "motivering": "Jag vill"},
    )
    assert refused.status == 409 and "Bara en administratör" in refused.text

    boss = Client(client.app)
    await login(boss, admin.email)
    page = await boss.get(f"/handlaggare/modeller/{worse.id}")
    assert 'name="motivering"' in page.text and "Aktivera ändå" in page.text
    no_reason = await boss.post(
        f"/handlaggare/modeller/{worse.id}/aktivera", {"csrf_token": boss.csrf(page)}
    )
    assert no_reason.status == 409 and "skriven motivering" in no_reason.text
    no_token = await boss.post(f"/handlaggare/modeller/{worse.id}/aktivera", {"motivering": "x"})
    assert no_token.status == 403
    started = await boss.post(
        f"/handlaggare/modeller/{worse.id}/aktivera",
        {"csrf_token": boss.csrf(page), "motivering": "Akut: modell 1 svarar fel"},
    )
    assert started.status == 303
    # No Rasa server runs: the activation fails, says why, and the good model stays active.
    for _ in range(200):
        status = await boss.get(f"/handlaggare/modeller/{worse.id}/status.json")
        if '"activating":false' in status.text.replace(" ", ""):
            break
        await asyncio.sleep(0.05)
    result = await boss.get(f"/handlaggare/modeller/{worse.id}")
    assert "svarar inte" in result.text and "Ingen modell byttes" in result.text
    assert registry.active() == good and len(registry.activations()) == 1


async def test_unknown_actions_and_models_are_not_found(
    client: Client, admin: UserRecord, registry: ModelRegistry
) -> None:
    await login(client, admin.email)
    token = await csrf_for(client, "/handlaggare/modeller")
    assert (await client.get("/handlaggare/modeller/42")).status == 404
    assert (
        await client.post("/handlaggare/modeller/42/aktivera", {"csrf_token": token})
    ).status == 404
    queued = registry.queue_training("tove@lotsby.se")
    unknown = await client.post(f"/handlaggare/modeller/{queued.id}/radera", {"csrf_token": token})
    assert unknown.status == 404


async def test_history_shows_who_activated_and_the_override_reason(
    client: Client, trainer: UserRecord, registry: ModelRegistry, settings: Settings
) -> None:
    good = trained(registry, settings, 1, "good")
    activate(settings, registry, good.id, "tove@lotsby.se", "trainer", reload_servers=False)
    worse = trained(registry, settings, 8, "worse")
    activate(
        settings, registry, worse.id, "ada@lotsby.se", "admin", "<b>Akut</b>",
        reload_servers=False,
    )  # fmt: skip
    await login(client, trainer.email)
    page = await client.get("/handlaggare/modeller")
    assert f'Boten använder <a href="/handlaggare/modeller/{worse.id}">' in page.text
    assert "&lt;b&gt;Akut&lt;/b&gt;" in page.text and "<b>Akut</b>" not in page.text
    assert page.text.count("Aktiverad") == 2
    rollback = await client.get(f"/handlaggare/modeller/{good.id}")
    assert f'action="/handlaggare/modeller/{good.id}/aterstall"' in rollback.text
    assert f"Återställ till modell {good.id}" in rollback.text
