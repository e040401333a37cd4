"""Retrain, compare, activate and roll back against a real Rasa server, without a restart.

A temporary copy of the project (data/, domain.yml) with a small, fast config trains through
the registry's detached worker (the path of the web app's "Träna ny modell" button), while a
Rasa server started with ``--enable-api --auth-token`` keeps serving (tests/retrain_stack.py).
Activations switch it through ``PUT /model``; ``/status`` and ``/model/parse`` show what it
serves. The trainings run in order: the tests of this module build on each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
from collections.abc import Iterator

import pytest

from bot.db import create_db_engine
from bot.inbox import Inbox, Label, inbox_message, shape, shape_key
from bot.model_registry import (
    ACTIVE_MODEL,
    HELDOUT,
    INBOX,
    ActivationError,
    ModelRecord,
    ModelRegistry,
    TrainingBusyError,
    activate,
    file_hash,
)
from bot.settings import Settings
from bot.stack import free_port
from bot.training import start_training, wait_for_training
from tests.retrain_stack import EPOCHS, RasaServer, fast_project, run_rasa, write_fast_config

pytestmark = pytest.mark.slow

TAUGHT_INTENT = "ask_industrial_land"
# Made-up words no model has seen: the baseline cannot know what they mean.
TAUGHT = [
    "plimsk gorvadera",
    "plimsk gorvadera tack",
    "vi vill ha plimsk gorvadera",
    "finns det plimsk gorvadera",
    "hur får vi plimsk gorvadera",
    "plimsk gorvadera i lotsby",
]


@dataclasses.dataclass
class Lab:
    """The temporary project, the registry on its database and the running Rasa server."""

    settings: Settings
    registry: ModelRegistry
    inbox: Inbox
    server: RasaServer

    @property
    def rasa(self) -> subprocess.Popen[bytes]:
        return self.server.process

    def write_config(self, **diet: object) -> None:
        write_fast_config(self.settings.project_dir, **diet)

    def status(self) -> dict[str, object]:
        return self.server.status()

    def parse(self, text: str) -> str:
        return self.server.parse(text)

    def train(self, who: str = "tove@lotsby.se") -> tuple[ModelRecord, list[ModelRecord]]:
        queued = start_training(self.settings, who, self.registry)
        seen: list[ModelRecord] = []
        finished = wait_for_training(
            self.settings, self.registry, queued.id, seen.append, timeout=1200, poll=0.5
        )
        return finished, seen


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    settings = fast_project(tmp_path_factory.mktemp("retrain"), f"http://127.0.0.1:{free_port()}")
    engine = create_db_engine(settings.database_url)
    # Started without a model: the first activation gives it one.
    with run_rasa(settings) as server:
        try:
            yield Lab(settings, ModelRegistry(engine), Inbox(settings, engine), server)
        finally:
            engine.dispose()


def teach(lab: Lab) -> None:
    """Messages the bot did not understand, labelled by a trainer in the inbox."""
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    messages = [
        inbox_message(
            f"conv-{i}",
            now + i,
            {"text": text, "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.3}}},
            "nlu_fallback",
        )
        for i, text in enumerate(TAUGHT)
    ]
    assert lab.inbox.repository.add([m for m in messages if m is not None]) == len(TAUGHT)
    keys = [shape_key(shape(text)) for text in TAUGHT]
    outcome = lab.inbox.annotate(keys, Label(TAUGHT_INTENT), "tove@lotsby.se")
    assert outcome.annotated == len(TAUGHT)


def test_retrain_compare_and_activate_without_restart(lab: Lab) -> None:
    first = start_training(lab.settings, "tove@lotsby.se", lab.registry)
    with pytest.raises(TrainingBusyError, match="En träning pågår redan"):
        start_training(lab.settings, "ada@lotsby.se", lab.registry)
    baseline = wait_for_training(lab.settings, lab.registry, first.id, timeout=1200)
    assert baseline.status == "trained", baseline.failure_reason
    assert baseline.rasa_model_id and baseline.data_hash and baseline.size_bytes
    assert lab.registry.evaluation(baseline.id, HELDOUT) is not None
    lab.server.wait_until_up()
    activate(lab.settings, lab.registry, baseline.id, "tove@lotsby.se", "trainer")
    assert lab.status()["model_id"] == baseline.rasa_model_id
    assert lab.parse(TAUGHT[0]) != TAUGHT_INTENT

    teach(lab)
    assert "plimsk gorvadera" in (lab.settings.data_dir / "nlu" / "inbox.yml").read_text()
    new, seen = lab.train()
    assert new.status == "trained", new.failure_reason
    # Progress was recorded while it ran: Rasa's components and DIET's epochs.
    assert any(m.phase == "DIETClassifier" for m in seen)
    assert any(m.epochs == EPOCHS and 0 < (m.epoch or 0) <= EPOCHS for m in seen)
    assert new.data_hash != baseline.data_hash and new.started_at and new.finished_at

    held_out = lab.registry.compare(baseline.id, new.id, HELDOUT)
    inbox = lab.registry.compare(baseline.id, new.id, INBOX)
    assert held_out is not None and len(held_out.new.predictions) >= 150
    assert inbox is not None and len(inbox.new.predictions) == len(TAUGHT)
    assert inbox.new.intent_accuracy > inbox.old.intent_accuracy
    assert any(c.fixed for c in inbox.changed_predictions())
    gate = lab.registry.gate(new, *_gate_args(lab))
    assert gate.allowed, gate.reason

    pid = lab.rasa.pid
    record = activate(lab.settings, lab.registry, new.id, "tove@lotsby.se", "trainer")
    assert record.servers == 1 and record.previous_model_id == baseline.id
    assert lab.status()["model_id"] == new.rasa_model_id
    assert lab.parse(TAUGHT[0]) == TAUGHT_INTENT
    assert lab.rasa.pid == pid and lab.rasa.poll() is None  # no restart
    active_file = lab.settings.models_dir / ACTIVE_MODEL
    assert os.path.samefile(active_file, lab.settings.models_dir / str(new.file_name))


def _gate_args(lab: Lab) -> tuple[str, float]:
    return file_hash(lab.settings.heldout_file), lab.settings.max_accuracy_drop


def test_a_worse_model_is_refused_unless_an_admin_overrides_then_rolled_back(lab: Lab) -> None:
    good = lab.registry.active()
    assert good is not None, "runs after the cycle test"
    lab.write_config(epochs=1)
    try:
        worse, _ = lab.train("ada@lotsby.se")
    finally:
        lab.write_config()
    assert worse.status == "trained", worse.failure_reason
    with pytest.raises(ActivationError, match="Träffsäkerheten på testfilen sjunker") as refused:
        activate(lab.settings, lab.registry, worse.id, "tove@lotsby.se", "trainer")
    assert "Bara en administratör" in str(refused.value)
    with pytest.raises(ActivationError, match="skriven motivering"):
        activate(lab.settings, lab.registry, worse.id, "ada@lotsby.se", "admin")
    assert lab.status()["model_id"] == good.rasa_model_id

    record = activate(
        lab.settings, lab.registry, worse.id, "ada@lotsby.se", "admin", "Prov av en snabb modell"
    )
    assert record.override_reason == "Prov av en snabb modell"
    assert lab.status()["model_id"] == worse.rasa_model_id

    back = activate(lab.settings, lab.registry, good.id, "tove@lotsby.se", "trainer", rollback=True)
    assert back.kind == "rollback" and back.previous_model_id == worse.id
    assert lab.status()["model_id"] == good.rasa_model_id
    assert lab.parse(TAUGHT[0]) == TAUGHT_INTENT
    assert [a.kind for a in lab.registry.activations()][:2] == ["rollback", "activate"]


def test_a_failed_training_records_its_reason_and_changes_nothing(lab: Lab) -> None:
    serving = lab.status()["model_id"]
    config = lab.settings.project_dir / "config.yml"
    good_config = config.read_text()
    config.write_text(good_config.replace("WhitespaceTokenizer", "NoSuchTokenizer"))
    try:
        failed, _ = lab.train()
    finally:
        config.write_text(good_config)
    assert failed.status == "failed"
    assert failed.failure_reason and "NoSuchTokenizer" in failed.failure_reason
    assert not (lab.settings.models_dir / str(failed.file_name)).exists()
    assert lab.registry.running() is None
    assert lab.status()["model_id"] == serving
    with pytest.raises(ActivationError, match="inte färdigtränad"):
        activate(lab.settings, lab.registry, failed.id, "ada@lotsby.se", "admin", "ändå")
