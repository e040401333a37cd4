"""Retrain, compare, activate and roll back against a real Rasa server, without a restart.

A temporary copy of the project (data/, domain.yml) with a small, fast config trains through
the registry's detached worker (the path of the web app's "Träna ny modell" button), while a
Rasa server started with ``--enable-api --auth-token`` keeps serving. Activations switch it
through ``PUT /model``; ``/status`` and ``/model/parse`` show what it serves. The trainings run
in order: the tests of this module build on each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests
import yaml

from bot.db import create_db_engine, migrate
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
from tests.conftest import stop

from .conftest import BASE_ENV, RASA, REPO

pytestmark = pytest.mark.slow

EPOCHS = 10
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
FAST_CONFIG = {
    "recipe": "default.v1",
    "language": "sv",
    "assistant_id": "lotsen-retrain-test",
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer", "case_sensitive": False},
        {"name": "CountVectorsFeaturizer"},
        {
            "name": "CountVectorsFeaturizer",
            "analyzer": "char_wb",
            "min_ngram": 2,
            "max_ngram": 4,
            "min_df": 2,
        },
        {
            "name": "DIETClassifier",
            "epochs": EPOCHS,
            "number_of_transformer_layers": 1,
            "transformer_size": 64,
            "batch_size": 64,
            "random_seed": 42,
        },
        {"name": "EntitySynonymMapper"},
        {"name": "FallbackClassifier", "threshold": 0.3},
    ],
    "policies": [{"name": "MemoizationPolicy"}, {"name": "RulePolicy"}],
}


@dataclasses.dataclass
class Lab:
    """The temporary project, the registry on its database and the running Rasa server."""

    settings: Settings
    registry: ModelRegistry
    inbox: Inbox
    rasa: subprocess.Popen[bytes]
    rasa_url: str
    token: str

    def write_config(self, **diet: object) -> None:
        pipeline = [
            {**c, **diet} if c["name"] == "DIETClassifier" else c for c in FAST_CONFIG["pipeline"]
        ]
        config = {**FAST_CONFIG, "pipeline": pipeline}
        (self.settings.project_dir / "config.yml").write_text(yaml.safe_dump(config))

    def status(self) -> dict[str, object]:
        response = requests.get(f"{self.rasa_url}/status", params={"token": self.token}, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def parse(self, text: str) -> str:
        response = requests.post(
            f"{self.rasa_url}/model/parse",
            params={"token": self.token},
            json={"text": text},
            timeout=60,
        )
        response.raise_for_status()
        return str(response.json()["intent"]["name"])

    def train(self, who: str = "tove@lotsby.se") -> tuple[ModelRecord, list[ModelRecord]]:
        queued = start_training(self.settings, who, self.registry)
        seen: list[ModelRecord] = []
        finished = wait_for_training(
            self.settings, self.registry, queued.id, seen.append, timeout=1200, poll=0.5
        )
        return finished, seen


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("retrain")
    project = work / "project"
    project.mkdir()
    shutil.copytree(REPO / "data", project / "data")
    shutil.copy(REPO / "domain.yml", project / "domain.yml")
    database_url = f"sqlite:///{work / 'var' / 'cases.db'}"
    migrate(database_url)
    port = free_port()
    rasa_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        tracker_store_url=f"sqlite:///{work / 'var' / 'tracker.db'}",
        var_dir=work / "var",
        models_dir=work / "models",
        project_dir=project,
        heldout_file=REPO / "tests" / "nlu" / "heldout.yml",
        rasa_urls=(rasa_url,),
        # Model 2 differs from model 1 only by six new examples; DIET at 10 epochs moves a few
        # held-out answers either way. The 2-point default is tested in the unit tests.
        max_accuracy_drop=0.05,
    )
    settings.models_dir.mkdir()
    # The registry reads the token like `make run` provides it (RASA_API_TOKEN or the file).
    token = os.environ.get("RASA_API_TOKEN") or "retrain-test-token"
    (settings.var_dir / "rasa-api-token").write_text(token)
    engine = create_db_engine(database_url)
    log = work / "rasa.log"
    with log.open("wb") as output:
        # Started without a model: the first activation gives it one.
        rasa = subprocess.Popen(
            [RASA, "run", "--enable-api", "--auth-token", token, "-m", str(settings.models_dir),
             "-i", "127.0.0.1", "-p", str(port)],
            cwd=work, env=BASE_ENV, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    lab = Lab(settings, ModelRegistry(engine), Inbox(settings, engine), rasa, rasa_url, token)
    lab.write_config()
    try:
        yield lab
    finally:
        stop(rasa)
        engine.dispose()
        print(f"\nRasa log ({log}):\n{log.read_text(errors='replace')[-3000:]}")


def wait_until_serving(lab: Lab, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert lab.rasa.poll() is None, "the Rasa server exited"
        try:
            if requests.get(f"{lab.rasa_url}/", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError("Rasa did not come up")


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
    wait_until_serving(lab)
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
