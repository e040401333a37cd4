"""Browser test of issue 5's "Done when": a trainer teaches the bot what it misunderstood.

Real servers on free ports, every file under a temporary folder: an action server, a Rasa
server (``python -m bot.rasa_server``, API on localhost behind a token, the masking SQL tracker
store) on a copy of the project with a small, fast config (tests/retrain_stack.py), and the web
app (``lotsen web``). The model Rasa starts with is trained and activated through the registry
the way ``make model`` does it.

Lotsby's new business park is called Gorvadera; no model has seen the name. Entrepreneurs ask
about it in the REST channel. A 10-epoch model is unsure of most such questions, but which of
them it happens to guess confidently (right or wrong) shifts with the data, so the test does not
hard-code that: it asserts that the inbox shows exactly the questions the model was unsure of
(``LOTSEN_INBOX_CONFIDENCE``, a fallback), and needs at least three such groups with at least
three misunderstood questions. The trainer, in Chromium, labels one group with the group form
and the rest with the bulk form, presses "Träna ny modell", watches the epochs move, compares
the new model with the old one side by side and activates it. The labelled questions, asked
again in new conversations, then get the answer about land for businesses from the same Rasa
process (same pid, new model id in ``/status``). An official can open neither page.

The time from the click on "Träna ny modell" to the new model's first answer is printed (not
asserted). ``LOTSEN_SCREENSHOTS=1`` writes the inbox, model list and comparison to
``docs/screenshots/`` (else a temporary folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from argon2 import PasswordHasher
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from bot.accounts import UserRepository
from bot.db import create_db_engine
from bot.inbox import shape
from bot.model_registry import ACTIVE_MODEL, ModelRecord, ModelRegistry
from bot.rasa_server import rasa_command
from bot.settings import Settings, settings_environment
from bot.stack import free_port
from bot.training import ensure_active_model
from bot.web.inbox import count_sv
from tests.conftest import BASE_ENV, new_sender, stop, wait_for
from tests.retrain_stack import (
    CORE_FALLBACK_ACTION,
    CORE_FALLBACK_THRESHOLD,
    EPOCHS,
    RasaServer,
    fast_project,
    run_rasa,
    write_endpoints,
)

from .conftest import PASSWORD, REPO, case_log_with_anna, serve_officials

pytestmark = pytest.mark.slow

TRAINER = "tove@lotsby.se"
OFFICIAL = "anna@lotsby.se"  # case_log_with_anna
TAUGHT_INTENT = "ask_industrial_land"
TAUGHT_LABEL = "Mark, tomter och lokaler (ask_industrial_land)"
# Questions about the new business park; two share a shape (one inbox group).
QUESTIONS = [
    "gorvadera",
    "hur stort är gorvadera",
    "är gorvadera klart",
    "vad gäller för gorvadera",
    "finns det plats i gorvadera",
    "vem äger gorvadera",
    "gorvadera info",
    "gorvadera då?",
    "gorvadera etapp 2",
    "Gorvadera?",
]
SAVED = "Sparat som träningsexempel (data/nlu/inbox.yml):"
LAND_ANSWER = re.compile(r"ledig(a)? tomt")  # bot.replies.plots_answer
TRAINING_TIMEOUT = 20 * 60  # seconds; a training takes about 2-4 minutes on this machine


@dataclasses.dataclass(frozen=True)
class Stack:
    """The running servers and the model Rasa started with."""

    settings: Settings
    registry: ModelRegistry
    rasa: RasaServer
    web_url: str
    baseline: ModelRecord


def _action_server(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    log = settings.var_dir / "actions.log"
    with log.open("wb") as output:
        return subprocess.Popen(
            rasa_command("run", "actions", "-p", str(port), "--actions", "actions"),
            cwd=REPO,
            env={**BASE_ENV, "DATABASE_URL": settings.database_url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("retrain-flow")
    settings = fast_project(work, f"http://127.0.0.1:{free_port()}")
    with case_log_with_anna(settings.var_dir):  # the official
        pass
    action_port = free_port()
    endpoints = write_endpoints(
        work / "endpoints.yml", f"http://127.0.0.1:{action_port}", settings.var_dir / "tracker.db"
    )
    with ExitStack() as running, pytest.MonkeyPatch.context() as environment:
        engine = create_db_engine(settings.database_url)
        running.callback(engine.dispose)
        users = UserRepository(engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        users.create(TRAINER, "Tove Tränare", "trainer", PASSWORD)
        registry = ModelRegistry(engine)
        running.callback(_stop_training, registry)
        # serve_officials hands this process's environment on to the web app (and so to the
        # training worker it starts): the project copy, models folder and Rasa server.
        for name, value in settings_environment(settings).items():
            environment.setenv(name, value)
        actions = _action_server(settings, action_port)
        running.callback(stop, actions)
        web_url = running.enter_context(serve_officials(settings.var_dir))
        # The model Rasa starts with, trained and activated as `make model` does.
        print(ensure_active_model(settings, registry))
        baseline = registry.active()
        assert baseline is not None
        rasa = running.enter_context(
            run_rasa(settings, settings.models_dir / ACTIVE_MODEL, endpoints)
        )
        wait_for(
            f"http://127.0.0.1:{action_port}/health", actions, settings.var_dir / "actions.log"
        )
        rasa.wait_until_up(with_model=True)
        yield Stack(settings, registry, rasa, web_url, baseline)


def _stop_training(registry: ModelRegistry) -> None:
    """End the training worker a failed test left running (it runs in its own session)."""
    running = registry.running()
    if running is not None and running.worker_pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.worker_pid, signal.SIGTERM)


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    if os.environ.get("LOTSEN_SCREENSHOTS") == "1":
        return REPO / "docs" / "screenshots"
    return tmp_path


@dataclasses.dataclass(frozen=True)
class Reply:
    """What happened to one message in a new conversation."""

    text: str
    answer: str
    intent: str  # NLU's intent; nlu_fallback when the FallbackClassifier took over
    confidence: float
    fell_back: bool  # the dialogue's fallback answered (no rule for the intent)

    @property
    def understood(self) -> bool:
        """Taken for a question about land, and answered with the free plots."""
        return self.intent == TAUGHT_INTENT and bool(LAND_ANSWER.search(self.answer))

    def unsure(self, inbox_confidence: float) -> bool:
        """What the inbox collects (docs/retraining.md): low confidence or a fallback."""
        return self.intent == "nlu_fallback" or self.confidence < inbox_confidence or self.fell_back


def chat(rasa: RasaServer, text: str) -> Reply:
    """Send a message in a new conversation (REST channel) and read what Rasa made of it."""
    sender = new_sender(rasa.url)
    response = requests.post(
        f"{rasa.url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    answer = "\n".join(str(message.get("text") or "") for message in response.json())
    tracker = requests.get(
        f"{rasa.url}/conversations/{sender}/tracker", params={"token": rasa.token}, timeout=30
    )
    tracker.raise_for_status()
    events = tracker.json()["events"]
    # The user event itself (not latest_message: a fallback may revert it).
    position, user = next(
        (i, e) for i, e in reversed(list(enumerate(events))) if e["event"] == "user"
    )
    intent = user["parse_data"]["intent"]
    fell_back = any(
        e["event"] == "action"
        and e.get("name") == CORE_FALLBACK_ACTION
        and e.get("confidence") == CORE_FALLBACK_THRESHOLD
        for e in events[position:]
    )
    return Reply(text, answer, str(intent["name"]), float(intent["confidence"]), fell_back)


def log_in(page: Page, url: str, email: str) -> None:
    """Open a page of the officials' app and log in on the page it redirects to."""
    page.goto(url)
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()


def inbox_texts(page: Page) -> list[str]:
    """Every message the inbox list shows: a group's newest, then the others after "Även:"."""
    texts = []
    for cell in page.locator("table.inbox tbody tr td:nth-child(2)").all_inner_texts():
        newest, *more = cell.strip().split("\n")
        texts += [newest.strip(), *re.findall("”([^”]*)”", "\n".join(more))]
    return texts


def watch_training(page: Page) -> list[tuple[int, int]]:
    """Read the progress bar until the finished page (reloaded by models.js) shows the comparison.

    Returns:
        Every distinct (epoch, epochs) the page showed, in order.
    """
    seen: list[tuple[int, int]] = []
    finished = page.get_by_role("heading", name=re.compile(r"^Jämförelse"))
    deadline = time.monotonic() + TRAINING_TIMEOUT
    while not finished.is_visible():
        assert time.monotonic() < deadline, f"no comparison after {TRAINING_TIMEOUT} s"
        try:
            shown = page.evaluate(
                """() => {
                    const bar = document.querySelector('#training-progress progress');
                    const epoch = document.querySelector('[data-field="epoch"]');
                    const epochs = document.querySelector('[data-field="epochs"]');
                    if (!bar || !epoch || !epochs || !bar.hasAttribute('value')) return null;
                    return [bar.value, bar.max, epoch.textContent, epochs.textContent];
                }"""
            )
        except PlaywrightError:  # the page is reloading
            shown = None
        if shown:
            value, maximum, epoch, epochs = shown
            # The bar and the sentence under it say the same.
            assert (str(int(value)), str(int(maximum))) == (epoch, epochs), shown
            if not seen or seen[-1] != (int(value), int(maximum)):
                seen.append((int(value), int(maximum)))
        page.wait_for_timeout(300)
    return seen


def table_after(page: Page, heading: str, sub_heading: str | None = None) -> str:
    """The text of the first table after an ``h3`` (and after an ``h4`` under it)."""
    path = f"//h3[normalize-space()='{heading}']"
    if sub_heading is not None:
        path += f"/following-sibling::h4[starts-with(normalize-space(), '{sub_heading}')][1]"
    return page.locator(f"xpath={path}/following-sibling::table[1]").inner_text()


def test_an_official_can_open_neither_the_inbox_nor_the_models(stack: Stack, page: Page) -> None:
    log_in(page, f"{stack.web_url}/handlaggare/inkorg", OFFICIAL)
    for path in ("inkorg", "modeller", f"modeller/{stack.baseline.id}", "inkorg/konflikter"):
        response = page.goto(f"{stack.web_url}/handlaggare/{path}")
        assert response is not None and response.status == 403, path
        expect(page.get_by_text("Du har inte behörighet till sidan.")).to_be_visible()
        menu = page.get_by_role("navigation", name="Huvudmeny")
        expect(menu.get_by_role("link", name="Ärenden")).to_be_visible()
        expect(menu.get_by_role("link", name="Inkorg")).to_have_count(0)
        expect(menu.get_by_role("link", name="Modeller")).to_have_count(0)
    expect(page.get_by_text("Träna ny modell")).to_have_count(0)


def test_a_trainer_labels_misunderstood_messages_retrains_and_activates_without_restart(
    stack: Stack, page: Page, screenshots: Path
) -> None:
    rasa = stack.rasa
    pid, served_before = rasa.process.pid, rasa.status()["model_id"]
    assert served_before == stack.baseline.rasa_model_id

    # 1. Entrepreneurs ask about Gorvadera; the model is unsure of most questions.
    replies = [chat(rasa, text) for text in QUESTIONS]
    unsure = [r for r in replies if r.unsure(stack.settings.inbox_confidence)]
    wrong = [r for r in unsure if not r.understood]
    groups: dict[str, list[str]] = {}  # inbox groups (shapes), in the order of the questions
    for reply in unsure:
        groups.setdefault(shape(reply.text), []).append(reply.text)
    print("\nBefore:", *(f"{r.text!r}: {r.intent} {r.confidence:.2f}" for r in replies), sep="\n")
    assert len(groups) >= 3 and len(wrong) >= 3, f"the model is sure of too much: {replies}"

    # 2. The trainer finds exactly those in the inbox and labels them.
    log_in(page, f"{stack.web_url}/handlaggare/inkorg", TRAINER)
    expect(page.get_by_role("heading", name=re.compile("^Inkorg"))).to_be_visible()
    total = count_sv(len(unsure), "meddelande", "meddelanden")
    expect(page.get_by_text(f"{total} i {len(groups)} grupper")).to_be_visible()
    assert sorted(inbox_texts(page)) == sorted(reply.text for reply in unsure)
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "inbox.png"), full_page=True)

    single, *bulk = groups.values()
    page.get_by_role("link", name=f"Märk gruppen {single[-1]}", exact=True).click()
    expect(page.get_by_role("heading", name="Märk meddelanden")).to_be_visible()
    page.get_by_label(TAUGHT_LABEL).check()
    page.get_by_role("button", name="Spara").click()
    expect(
        page.get_by_text(f"{SAVED} {count_sv(len(single), 'meddelande', 'meddelanden')}.")
    ).to_be_visible()
    expect(page.get_by_role("link", name=f"Märk gruppen {single[-1]}", exact=True)).to_have_count(0)

    for texts in bulk:
        page.get_by_label(f"Välj gruppen {texts[-1]}", exact=True).check()
    page.get_by_label("Avsikt", exact=True).select_option(TAUGHT_INTENT)
    page.get_by_role("button", name="Märk valda grupper").click()
    labelled = sum(map(len, bulk))
    expect(
        page.get_by_text(f"{SAVED} {count_sv(labelled, 'meddelande', 'meddelanden')}.")
    ).to_be_visible()
    expect(page.get_by_text("Inkorgen är tom.")).to_be_visible()
    training_file = (stack.settings.data_dir / "nlu" / "inbox.yml").read_text()
    assert all(reply.text in training_file for reply in unsure), training_file

    # 3. Retrain, following the progress bar.
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Modeller").click()
    page.get_by_role("button", name="Träna ny modell").click()
    clicked = time.monotonic()
    expect(page.get_by_role("heading", name="Träningen pågår")).to_be_visible()
    epochs = watch_training(page)
    trained = time.monotonic()
    assert {shown for _, shown in epochs} == {EPOCHS}, epochs
    assert len(epochs) >= 2 and epochs == sorted(epochs), epochs  # it moved, forwards

    # 4. The comparison, old and new side by side.
    new = stack.registry.models()[0]
    assert new.status == "trained" and new.id != stack.baseline.id, new
    expect(page.get_by_role("heading", name=f"Modell {new.id}", exact=True)).to_be_visible()
    old_id = stack.baseline.id
    expect(
        page.get_by_role("heading", name=f"Jämförelse med modell {old_id} (används nu)")
    ).to_be_visible()
    for heading in ("Testfilen (aldrig tränad på)", "Inkorgens märkta meddelanden"):
        header = page.locator(f"xpath=//h3[starts-with(normalize-space(), '{heading}')]")
        header = header.locator("xpath=following-sibling::table[1]/thead")
        expect(header).to_contain_text(f"Modell {old_id}")
        expect(header).to_contain_text(f"Modell {new.id}")
    changed = table_after(
        page,
        "Inkorgens märkta meddelanden (ingår i träningsdatan)",
        "Meddelanden som tolkas annorlunda",
    )
    for reply in wrong:  # what the old model got wrong, the new one gets right
        row = rf"{re.escape(reply.text)}\s+{TAUGHT_INTENT}\s+\S+\s+{TAUGHT_INTENT}\s+rätt"
        assert re.search(row, changed), (reply.text, changed)
    page.screenshot(path=str(screenshots / "comparison.png"), full_page=True)

    # 5. Activate; the page follows the switch until Rasa serves the new model.
    page.get_by_role("button", name=f"Aktivera modell {new.id}").click()
    expect(page.get_by_role("heading", name=f"Modell {new.id} (används)")).to_be_visible(
        timeout=10 * 60_000
    )
    expect(page.get_by_text("Modellen används.")).to_be_visible()

    # 6. The same questions are understood now, by the same Rasa process.
    answered = 0.0
    for before in unsure:
        after = chat(rasa, before.text)
        answered = answered or time.monotonic()
        assert after.understood, after
    assert rasa.process.pid == pid and rasa.process.poll() is None  # no restart
    assert rasa.status()["model_id"] == new.rasa_model_id != served_before

    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Modeller").click()
    history = page.locator("xpath=//h2[.='Historik']/following-sibling::table[1]/tbody/tr[1]")
    expect(history).to_contain_text(TRAINER)
    expect(history).to_contain_text("Aktiverad")
    page.screenshot(path=str(screenshots / "models.png"), full_page=True)
    print(
        f"\n'Träna ny modell' to the new model answering: {answered - clicked:.0f} s "
        f"(training and evaluation {trained - clicked:.0f} s, activation and first answer "
        f"{answered - trained:.0f} s)"
    )
