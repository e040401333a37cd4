"""Tests for bot.model_registry: trainings, evaluations, the held-out gate and activation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.model_registry import (
    ACTIVE_MODEL,
    HELDOUT,
    ActivationError,
    ModelRecord,
    ModelRegistry,
    TrainingBusyError,
    activate,
    check_activation,
    file_hash,
    set_active_file,
)
from bot.nlu_eval import NluReport, Prediction, compare_reports
from bot.settings import REPO_ROOT, Settings
from bot.stack import free_port

HELDOUT_FILE = REPO_ROOT / "tests" / "nlu" / "heldout.yml"
EXAMPLES = [(f"exempel {i}", "ask_permit" if i % 2 else "greet") for i in range(100)]


def report(wrong: int, wrong_as: str = "out_of_scope") -> NluReport:
    """A report on :data:`EXAMPLES` with the first ``wrong`` examples mispredicted."""
    return NluReport(
        tuple(
            Prediction(text, intent, wrong_as if i < wrong else intent, 0.9, None, ())
            for i, (text, intent) in enumerate(EXAMPLES)
        )
    )


@pytest.fixture
def registry(engine: Engine) -> ModelRegistry:
    return ModelRegistry(engine)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    # A closed port: activations that reach for a Rasa server find none.
    return Settings(
        database_url=db_url,
        tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        var_dir=tmp_path / "var",
        models_dir=tmp_path / "models",
        heldout_file=HELDOUT_FILE,
        rasa_urls=(f"http://127.0.0.1:{free_port()}",),
        max_accuracy_drop=0.02,
    )


def trained(
    registry: ModelRegistry, settings: Settings, heldout: NluReport | None, name: str
) -> ModelRecord:
    """A trained model with an archive file and (optionally) held-out scores."""
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    archive = settings.models_dir / f"{name}.tar.gz"
    archive.write_bytes(name.encode())
    model = registry.register_archive(archive.name, "tove@lotsby.se", name, 4, "hash", None)
    if heldout is not None:
        registry.save_evaluation(model.id, HELDOUT, file_hash(HELDOUT_FILE), heldout)
    return model


def test_only_one_training_is_queued_or_running_at_a_time(registry: ModelRegistry) -> None:
    first = registry.queue_training("tove@lotsby.se")
    with pytest.raises(TrainingBusyError, match=f"modell {first.id}"):
        registry.queue_training("ada@lotsby.se")
    registry.mark_started(first.id, os.getpid(), "m.tar.gz", "abc", "hash")
    with pytest.raises(TrainingBusyError):
        registry.queue_training("ada@lotsby.se")
    registry.mark_failed(first.id, "Något gick fel")
    second = registry.queue_training("ada@lotsby.se")
    assert second.status == "queued" and registry.running() == second
    failed = registry.get(first.id)
    assert failed is not None and failed.status == "failed"
    assert failed.failure_reason == "Något gick fel"


def test_progress_and_estimate_from_the_epochs(registry: ModelRegistry) -> None:
    queued = registry.queue_training("tove@lotsby.se")
    registry.mark_started(queued.id, os.getpid(), "m.tar.gz", None, "hash")
    registry.update_progress(queued.id, phase="DIETClassifier")
    registry.update_progress(queued.id, epoch=0, epochs=10)
    registry.update_progress(queued.id, epoch=4, epochs=10)
    model = registry.get(queued.id)
    assert model is not None and model.epochs_started_at is not None
    assert (model.phase, model.epoch, model.epochs) == ("DIETClassifier", 4, 10)
    remaining = model.remaining(model.epochs_started_at + dt.timedelta(seconds=40))
    # 4 epochs in 40 s: the 6 left need 60 s; an earlier training of 5 minutes says more.
    assert remaining == dt.timedelta(seconds=60)
    typical = model.remaining(model.epochs_started_at, typical=dt.timedelta(minutes=5))
    assert typical is not None and typical > dt.timedelta(minutes=4)


def test_reports_round_trip_and_compare(registry: ModelRegistry) -> None:
    old, new = report(10), report(2, wrong_as="start_business")
    assert NluReport.from_json(new.to_json()) == new
    comparison = compare_reports(old, new)
    assert comparison.accuracy_change == pytest.approx(0.08)
    changed = comparison.changed_predictions()
    assert len(changed) == 10 and sum(c.fixed for c in changed) == 8
    assert not any(c.broken for c in changed) and changed[0].fixed  # fixed ones first
    assert comparison.confusion_changes() == [
        ("ask_permit", "out_of_scope", 5, 0),
        ("greet", "out_of_scope", 5, 0),
        ("ask_permit", "start_business", 0, 1),
        ("greet", "start_business", 0, 1),
    ]


def test_gate_allows_the_first_model_and_a_model_within_the_margin(
    registry: ModelRegistry, settings: Settings
) -> None:
    first = trained(registry, settings, report(5), "first")
    assert registry.gate(first, file_hash(HELDOUT_FILE), 0.02).allowed
    activate(settings, registry, first.id, "tove@lotsby.se", "trainer", reload_servers=False)
    slightly_worse = trained(registry, settings, report(7), "slightly-worse")
    gate = registry.gate(slightly_worse, file_hash(HELDOUT_FILE), 0.02)
    assert gate.allowed and gate.comparison is not None
    assert gate.comparison.accuracy_change == pytest.approx(-0.02)


def test_gate_refuses_a_worse_model_with_the_reason(
    registry: ModelRegistry, settings: Settings
) -> None:
    first = trained(registry, settings, report(5), "first")
    activate(settings, registry, first.id, "tove@lotsby.se", "trainer", reload_servers=False)
    worse = trained(registry, settings, report(20), "worse")
    gate = registry.gate(worse, file_hash(HELDOUT_FILE), 0.02)
    assert not gate.allowed and gate.overridable
    assert gate.reason is not None and "95,0 %" in gate.reason and "80,0 %" in gate.reason
    unscored = trained(registry, settings, None, "unscored")
    gate = registry.gate(unscored, file_hash(HELDOUT_FILE), 0.02)
    assert not gate.allowed and gate.overridable and "utvärderats" in (gate.reason or "")
    other_file = registry.gate(worse, "another-heldout-file", 0.02)
    assert not other_file.allowed and "utvärderats" in (other_file.reason or "")


def test_only_an_admin_with_a_reason_may_override(
    registry: ModelRegistry, settings: Settings
) -> None:
    first = trained(registry, settings, report(5), "first")
    activate(settings, registry, first.id, "tove@lotsby.se", "trainer", reload_servers=False)
    worse = trained(registry, settings, report(20), "worse")
    with pytest.raises(ActivationError, match="Bara en administratör"):
        check_activation(settings, registry, worse, "trainer", "Jag vill")
    with pytest.raises(ActivationError, match="Bara en administratör"):
        check_activation(settings, registry, worse, "admin", "   ")
    assert check_activation(settings, registry, worse, "admin", " Akut fel i modell 1 ") == (
        "Akut fel i modell 1"
    )
    record = activate(
        settings, registry, worse.id, "ada@lotsby.se", "admin", "Akut fel", reload_servers=False
    )
    assert record.override_reason == "Akut fel" and record.previous_model_id == first.id
    assert registry.active() == worse


def test_a_failed_training_or_missing_file_cannot_be_activated(
    registry: ModelRegistry, settings: Settings
) -> None:
    queued = registry.queue_training("tove@lotsby.se")
    registry.mark_failed(queued.id, "trasig konfiguration")
    failed = registry.get(queued.id)
    assert failed is not None
    with pytest.raises(ActivationError, match="inte färdigtränad"):
        activate(settings, registry, failed.id, "ada@lotsby.se", "admin", "ändå")
    gone = trained(registry, settings, report(0), "gone")
    (settings.models_dir / "gone.tar.gz").unlink()
    with pytest.raises(ActivationError, match="saknas"):
        activate(settings, registry, gone.id, "ada@lotsby.se", "admin")
    with pytest.raises(ActivationError, match="finns inte"):
        activate(settings, registry, 999, "ada@lotsby.se", "admin")


def test_activation_with_an_unreachable_rasa_server_changes_nothing(
    registry: ModelRegistry, settings: Settings
) -> None:
    first = trained(registry, settings, report(5), "first")
    activate(settings, registry, first.id, "tove@lotsby.se", "trainer", reload_servers=False)
    better = trained(registry, settings, report(1), "better")
    with pytest.raises(ActivationError, match="svarar inte"):
        activate(settings, registry, better.id, "tove@lotsby.se", "trainer")
    assert registry.active() == first
    assert len(registry.activations()) == 1
    assert (settings.models_dir / ACTIVE_MODEL).read_bytes() == b"first"


def test_active_file_follows_activations_and_rollbacks(
    registry: ModelRegistry, settings: Settings
) -> None:
    first = trained(registry, settings, report(5), "first")
    second = trained(registry, settings, report(3), "second")
    activate(settings, registry, first.id, "tove@lotsby.se", "trainer", reload_servers=False)
    activate(settings, registry, second.id, "tove@lotsby.se", "trainer", reload_servers=False)
    active_file = settings.models_dir / ACTIVE_MODEL
    assert os.path.samefile(active_file, settings.models_dir / "second.tar.gz")
    with pytest.raises(ActivationError, match="tidigare modell"):
        activate(settings, registry, second.id, "tove@lotsby.se", "trainer", rollback=True)
    # Rolling back to a model 2 points worse on the held-out file passes the 2-point margin.
    record = activate(
        settings, registry, first.id, "ada@lotsby.se", "admin", rollback=True, reload_servers=False
    )
    assert record.kind == "rollback" and record.previous_model_id == second.id
    assert os.path.samefile(active_file, settings.models_dir / "first.tar.gz")
    assert [a.model_id for a in registry.activations()] == [first.id, second.id, first.id]
    with pytest.raises(ActivationError, match="används redan"):
        activate(settings, registry, first.id, "ada@lotsby.se", "admin", reload_servers=False)


def test_set_active_file_replaces_atomically_and_copies_across_devices(tmp_path: Path) -> None:
    one, two = tmp_path / "one.tar.gz", tmp_path / "two.tar.gz"
    one.write_bytes(b"1")
    two.write_bytes(b"2")
    target = set_active_file(tmp_path, one)
    target_again = set_active_file(tmp_path, two)
    assert target == target_again == tmp_path / ACTIVE_MODEL
    assert target.read_bytes() == b"2" and one.read_bytes() == b"1"
    assert sorted(p.name for p in tmp_path.iterdir()) == [ACTIVE_MODEL, "one.tar.gz", "two.tar.gz"]


def test_compare_uses_the_examples_both_models_were_scored_on(
    registry: ModelRegistry, settings: Settings
) -> None:
    first = trained(registry, settings, report(5), "first")
    second = trained(registry, settings, report(3), "second")
    comparison = registry.compare(first.id, second.id, HELDOUT)
    assert comparison is not None and comparison.accuracy_change == pytest.approx(0.02)
    registry.save_evaluation(second.id, HELDOUT, "a newer held-out file", report(0))
    assert registry.compare(first.id, second.id, HELDOUT) is None
    assert dataclasses.replace(first, status="queued").running
