"""Tests for bot.training without Rasa: progress parsing, failure reasons, locks, stale runs.

The training itself (a real ``rasa train`` in the detached worker) is tested in
tests/integration/test_retrain_cycle.py.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.model_registry import ACTIVE_MODEL, ModelRegistry, activate
from bot.settings import REPO_ROOT, Settings
from bot.stack import free_port
from bot.training import (
    MAKE_MODEL,
    ProgressParser,
    data_fingerprint,
    ensure_active_model,
    failure_reason,
    progress_line,
    reap_stale,
    run_worker,
    training_lock,
    wait_for_training,
)

# Captured from `rasa train` (Rasa 3.6): tqdm redraws its bar after a carriage return.
RASA_OUTPUT = (
    "2026-11-27 10:58:17 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'DIETClassifier'.\n"
    "\rEpochs:   0%|          | 0/3 [00:00<?, ?it/s]"
    "\rEpochs:  33%|███▎      | 1/3 [00:16<00:33, 16.97s/it]"
    "\rEpochs:  33%|███▎      | 1/3 [00:16<00:33, 16.97s/it, t_loss=9.29, i_acc=0.421]"
    "\rEpochs:  67%|██████▋   | 2/3 [00:18<00:07,  7.78s/it, t_loss=5.22, i_acc=0.777]"
    "\rEpochs: 100%|██████████| 3/3 [00:20<00:00,  5.40s/it, t_loss=4.5, i_acc=0.87]\n"
    "Processed trackers: 100%|██████████| 24/24 [00:00<00:00, 899.86it/s]\n"
    "2026-11-27 10:58:44 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'RulePolicy'.\n"
)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "config.yml").write_text("recipe: default.v1\nlanguage: sv\n")
    (project / "domain.yml").write_text('version: "3.1"\n')
    (project / "data" / "nlu.yml").write_text('version: "3.1"\nnlu: []\n')
    return Settings(
        database_url=db_url,
        tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        var_dir=tmp_path / "var",
        models_dir=tmp_path / "models",
        project_dir=project,
        heldout_file=REPO_ROOT / "tests" / "nlu" / "heldout.yml",
        rasa_urls=(f"http://127.0.0.1:{free_port()}",),
    )


@pytest.fixture
def registry(engine: Engine) -> ModelRegistry:
    return ModelRegistry(engine)


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
def test_progress_is_read_from_rasa_output_in_any_chunks(size: int) -> None:
    parser = ProgressParser()
    found = []
    for start in range(0, len(RASA_OUTPUT), size):
        found += parser.feed(RASA_OUTPUT[start : start + size])
    phases = [p.phase for p in found if p.phase]
    epochs = [(p.epoch, p.epochs) for p in found if p.epochs]
    assert phases == ["DIETClassifier", "RulePolicy"]
    assert epochs == [(0, 3), (1, 3), (1, 3), (2, 3), (3, 3)]


def test_failure_reason_keeps_the_error_and_masks_texts_and_personal_data() -> None:
    log = (
        "\rEpochs:  33%|███▎      | 1/3 [00:16<00:33]\n"
        "/x/rasa/shared/utils/io.py:100: UserWarning: The intent 'inform' is not used\n"
        "rasa.shared.exceptions.YamlValidationException: Failed to validate "
        "'/tmp/p/config.yml'. Please make sure the file is correct.\n"
        "Example 'mitt pnr är 19900101-0017 ring mig' has an unknown entity\n"
        "Call 070-123 45 67 or mail kim@foretag.se\n"
    )
    reason = failure_reason(log)
    assert "YamlValidationException" in reason and "'/tmp/p/config.yml'" in reason
    assert "Epochs" not in reason and "UserWarning" not in reason
    assert "19900101" not in reason and "mitt pnr" not in reason
    assert "070-123" not in reason and "kim@foretag.se" not in reason
    assert failure_reason("") == "Träningen avbröts utan felmeddelande."
    rasa_error = (
        "2026-11-27 11:25:49 INFO     rasa.validator  - Validating intents...\n"
        "  from jax import xla_computation\n"
        "InvalidConfigException: Can't load class for name 'NoSuchTokenizer'. Please check.\n"
    )
    assert failure_reason(rasa_error) == (
        "InvalidConfigException: Can't load class for name 'NoSuchTokenizer'. Please check."
    )


def test_data_fingerprint_changes_with_config_domain_or_data(settings: Settings) -> None:
    project = settings.project_dir
    first = data_fingerprint(project)
    assert data_fingerprint(project) == first
    (project / "data" / "inbox.yml").write_text('version: "3.1"\nnlu: []\n')
    second = data_fingerprint(project)
    (project / "config.yml").write_text("recipe: default.v1\nlanguage: en\n")
    assert len({first, second, data_fingerprint(project)}) == 3


def test_a_running_training_whose_worker_died_is_marked_failed(
    settings: Settings, registry: ModelRegistry
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    queued = registry.queue_training("tove@lotsby.se")
    registry.mark_started(queued.id, int(dead.stdout), "m.tar.gz", None, "hash")
    reaped = reap_stale(settings, registry)
    assert reaped is not None and reaped.status == "failed"
    assert reaped.failure_reason == "Träningsprocessen avslutades oväntat."
    assert registry.running() is None


def test_a_live_worker_holding_the_lock_is_left_alone(
    settings: Settings, registry: ModelRegistry
) -> None:
    queued = registry.queue_training("tove@lotsby.se")
    registry.mark_started(queued.id, os.getpid(), "m.tar.gz", None, "hash")
    with training_lock(settings) as held:
        assert held
        assert reap_stale(settings, registry) is None
        with training_lock(settings) as second:
            assert not second  # a second worker would not get the lock
    # Alive but without the lock (a reused process id): stale.
    reaped = reap_stale(settings, registry)
    assert reaped is not None and reaped.status == "failed"


def test_a_queued_training_no_worker_took_is_failed_after_a_while(
    settings: Settings, registry: ModelRegistry
) -> None:
    queued = registry.queue_training("tove@lotsby.se")
    assert reap_stale(settings, registry, queued.created_at + dt.timedelta(seconds=30)) is None
    reaped = reap_stale(settings, registry, queued.created_at + dt.timedelta(minutes=5))
    assert reaped is not None and reaped.failure_reason == "Träningsprocessen startade aldrig."


def test_a_worker_that_cannot_take_the_lock_fails_the_training(
    settings: Settings, registry: ModelRegistry
) -> None:
    queued = registry.queue_training("tove@lotsby.se")
    with training_lock(settings) as held:
        assert held
        assert run_worker(settings, queued.id) == 1
    failed = registry.get(queued.id)
    assert failed is not None and failed.status == "failed"
    assert "En annan träning pågår" in (failed.failure_reason or "")
    assert run_worker(settings, queued.id) == 1  # not queued any more: nothing happens


def test_wait_for_training_reports_progress_until_it_ends(
    settings: Settings, registry: ModelRegistry
) -> None:
    queued = registry.queue_training("tove@lotsby.se")
    seen: list[str] = []

    def on_progress(model: object) -> None:
        seen.append(progress_line(model, registry))  # type: ignore[arg-type]
        registry.mark_failed(queued.id, "trasig")

    finished = wait_for_training(settings, registry, queued.id, on_progress, poll=0.01)
    assert finished.status == "failed" and seen[0].startswith(f"modell {queued.id}: Väntar")
    assert seen[-1].startswith(f"modell {queued.id}: Misslyckades")


def test_make_model_trains_nothing_when_the_active_model_has_the_current_data(
    settings: Settings, registry: ModelRegistry
) -> None:
    settings.models_dir.mkdir(parents=True)
    archive = settings.models_dir / "lotsen-0001.tar.gz"
    shutil.copy(REPO_ROOT / "pyproject.toml", archive)  # any file: nothing reads it here
    model = registry.register_archive(
        archive.name, MAKE_MODEL, None, 1, data_fingerprint(settings.project_dir), None
    )
    activate(settings, registry, model.id, MAKE_MODEL, "trainer", reload_servers=False)
    (settings.models_dir / ACTIVE_MODEL).unlink()
    message = ensure_active_model(settings, registry)
    assert message.startswith(f"Aktiv modell {model.id}")
    assert os.path.samefile(settings.models_dir / ACTIVE_MODEL, archive)
    assert registry.running() is None and len(registry.models()) == 1
