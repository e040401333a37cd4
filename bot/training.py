"""Background retraining: a detached worker trains, evaluates and registers a new model.

``start_training`` (the web app's "Träna ny modell" button and ``lotsen train``) queues a
registry row and spawns ``lotsen train --run N`` in its own session, so the training survives
the request and never blocks the web app; the Rasa servers keep serving the current model. The
worker takes an OS file lock under ``var/``, runs ``rasa train`` (NLU and dialogue: ``PUT
/model`` swaps the whole agent) into the models directory at lower CPU priority, records the
progress it reads from Rasa's progress bars (component, epoch k of n), then scores the new and
the active model on the held-out file and the annotated inbox messages. Only one training runs
at a time: the registry's unique running slot, plus the lock. A run whose worker died is marked
failed by :func:`reap_stale`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from bot.db import get_engine
from bot.model_registry import (
    HELDOUT,
    INBOX,
    ModelRecord,
    ModelRegistry,
    file_hash,
    file_lock,
    model_id_of,
)
from bot.models import utcnow
from bot.nlu_eval import GoldExample, evaluate_examples, load_examples
from bot.privacy import mask_all
from bot.rasa_server import rasa_command
from bot.settings import Settings, settings_environment

logger = logging.getLogger(__name__)

LOCK_FILE = "training.lock"
QUEUE_TIMEOUT = dt.timedelta(minutes=2)
"""A queued training whose worker has not started by then is marked failed."""
WORKER_NICENESS = 10
"""The worker (and its ``rasa train``) yields the CPU to the serving processes."""
INBOX_LIMIT = 500

_EPOCHS = re.compile(r"Epochs:\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)")
_COMPONENT = re.compile(r"Starting to train component '([^']+)'")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A quoted passage with a space in it, as Rasa quotes training examples (not "can't").
_QUOTED = re.compile(r"(?<!\w)'[^'\n]*\s[^'\n]*'(?!\w)|\"[^\"\n]*\s[^\"\n]*\"")
_LOG_LINE = re.compile(r"\s(?:DEBUG|INFO)\s")


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a line of ``rasa train`` output says about progress."""

    phase: str | None = None
    epoch: int | None = None
    epochs: int | None = None


class ProgressParser:
    """Reads ``rasa train`` output chunk by chunk (tqdm redraws its line after a CR)."""

    def __init__(self) -> None:
        """Start with an empty line buffer."""
        self._pending = ""

    def feed(self, chunk: str) -> list[Progress]:
        """Parse a chunk of output.

        Args:
            chunk: Text as it arrived (may end in the middle of a line).

        Returns:
            The progress found in the complete lines of the chunk.
        """
        parts = re.split(r"[\r\n]", self._pending + chunk)
        self._pending = parts.pop()
        found = []
        for line in parts:
            if match := _EPOCHS.search(line):
                found.append(Progress(epoch=int(match[1]), epochs=int(match[2])))
            elif match := _COMPONENT.search(line):
                found.append(Progress(phase=match[1]))
        return found


def failure_reason(log: str, lines: int = 12) -> str:
    """The end of a training log as a reason to show: no progress bars, no message texts.

    Progress bars, INFO lines and warnings are dropped, and the text starts at the last error
    when there is one; quoted passages with spaces (how Rasa quotes training examples) and
    personal data are masked; file and class names stay.

    Args:
        log: The log text.
        lines: How many lines to keep.

    Returns:
        The reason.
    """
    kept = []
    for line in re.split(r"[\r\n]", _ANSI.sub("", log)):
        # Progress bars, INFO lines, warnings and the source lines they quote go.
        if not line.strip() or line[0].isspace() or "%|" in line or "Warning" in line:
            continue
        if _LOG_LINE.search(line) or line.startswith(("[", "warnings.warn")):
            continue
        kept.append(mask_all(_QUOTED.sub("'…'", line.strip()))[:400])
    errors = [i for i, line in enumerate(kept) if re.search(r"(?:Error|Exception)\b", line)]
    if errors:
        kept = kept[errors[-1] :]  # the last error and what follows it
    return "\n".join(kept[-lines:]) or "Träningen avbröts utan felmeddelande."


def data_fingerprint(project_dir: Path) -> str:
    """SHA-256 over ``config.yml``, ``domain.yml`` and every file under ``data/``.

    Args:
        project_dir: The Rasa project.

    Returns:
        The hex digest; equal digests mean a model would be trained from the same data.
    """
    digest = hashlib.sha256()
    files = [project_dir / "config.yml", project_dir / "domain.yml"]
    files += sorted(p for p in (project_dir / "data").rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
        digest.update(b"\0")
    return digest.hexdigest()


def git_commit(project_dir: Path) -> str | None:
    """The project's git commit, with ``+`` when config, domain or data have local changes.

    Args:
        project_dir: The Rasa project.

    Returns:
        The commit, or None outside a git checkout.
    """

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(  # noqa: S603 - fixed program, no shell
                ["git", "-C", str(project_dir), *args],  # noqa: S607
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    changed = git("status", "--porcelain", "--", "config.yml", "domain.yml", "data")
    return f"{commit}+" if changed else commit


# --- the one-at-a-time lock -------------------------------------------------------------------


def training_lock(settings: Settings) -> contextlib.AbstractContextManager[bool]:
    """The OS lock of the training worker under ``var/``, taken without waiting.

    Args:
        settings: For ``var/``.

    Returns:
        A context manager yielding whether the lock is held (False: another worker holds it).
    """
    return file_lock(settings.var_dir / LOCK_FILE, wait=False)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale(
    settings: Settings, registry: ModelRegistry, now: dt.datetime | None = None
) -> ModelRecord | None:
    """Mark the running training failed when its worker is gone.

    A training is stale when its worker process no longer exists or no longer holds the lock,
    or when it was queued and no worker took it on within :data:`QUEUE_TIMEOUT`.

    Args:
        settings: For the lock file.
        registry: The registry.
        now: The current time.

    Returns:
        The training marked failed, if any.
    """
    running = registry.running()
    if running is None:
        return None
    now = now or utcnow()
    if running.status == "queued":
        if now - running.created_at < QUEUE_TIMEOUT:
            return None
        reason = "Träningsprocessen startade aldrig."
    else:
        if running.worker_pid is not None and _process_alive(running.worker_pid):
            with training_lock(settings) as free:
                if not free:
                    return None
        reason = "Träningsprocessen avslutades oväntat."
    registry.mark_failed(running.id, reason, now)
    logger.warning("Training %s marked failed: its worker is gone", running.id)
    return registry.get(running.id)


# --- starting and waiting -----------------------------------------------------------------------


def start_training(
    settings: Settings, started_by: str, registry: ModelRegistry | None = None
) -> ModelRecord:
    """Queue a training and start its worker in the background (returns at once).

    Args:
        settings: Project, models directory, database.
        started_by: Who started it (e-mail or ``cli``).
        registry: The registry (one on the settings' database if None).

    Returns:
        The queued training.

    Raises:
        TrainingBusyError: If a training is queued or running.
    """
    registry = registry or ModelRegistry(get_engine(settings.database_url))
    reap_stale(settings, registry)
    queued = registry.queue_training(started_by)
    try:
        spawn_worker(settings, queued.id)
    except OSError as error:
        registry.mark_failed(queued.id, f"Träningsprocessen kunde inte startas: {error}")
        raise
    logger.info("Training %s started by %s", queued.id, started_by)
    return queued


def log_path(settings: Settings, model_id: int) -> Path:
    """The worker's log file of a training."""
    return settings.var_dir / "trainings" / f"{model_id}.log"


def spawn_worker(settings: Settings, model_id: int) -> None:
    """Start ``lotsen train --run N`` detached: its own session, output to its log file.

    Args:
        settings: Handed on to the worker through its environment.
        model_id: The queued training.
    """
    log = log_path(settings, model_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **settings_environment(settings),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONWARNINGS": "ignore",
    }
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, no shell
            [sys.executable, "-m", "bot.cli", "train", "--run", str(model_id)],
            cwd=settings.project_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # Reap the worker when it exits (no zombie while the web app runs); it outlives us anyway.
    threading.Thread(target=process.wait, name=f"training-{model_id}", daemon=True).start()


def wait_for_training(
    settings: Settings,
    registry: ModelRegistry,
    model_id: int,
    on_progress: Callable[[ModelRecord], None] | None = None,
    timeout: float = 3600,
    poll: float = 1.0,
) -> ModelRecord:
    """Wait until a training is trained or failed.

    Args:
        settings: For stale-run detection.
        registry: The registry.
        model_id: The training.
        on_progress: Called with the row whenever its progress changed.
        timeout: Seconds to wait at most.
        poll: Seconds between looks.

    Returns:
        The finished row.

    Raises:
        TimeoutError: If it does not finish in time.
    """
    deadline = time.monotonic() + timeout
    seen: tuple[object, ...] = ()
    while True:
        model = registry.get(model_id)
        assert model is not None
        state = (model.status, model.phase, model.epoch, model.epochs)
        if on_progress is not None and state != seen:
            on_progress(model)
            seen = state
        if not model.running:
            return model
        if time.monotonic() > deadline:
            raise TimeoutError(f"training {model_id} still running after {timeout:.0f} s")
        reap_stale(settings, registry)
        time.sleep(poll)


# --- the worker -------------------------------------------------------------------------------


def run_worker(settings: Settings, model_id: int) -> int:
    """Train, register and evaluate one queued training (``lotsen train --run N``).

    Args:
        settings: Project, models directory, database.
        model_id: The queued training.

    Returns:
        The exit code (0 trained, 1 failed).
    """
    registry = ModelRegistry(get_engine(settings.database_url))
    model = registry.get(model_id)
    if model is None or model.status != "queued":
        logger.error("Training %s is not queued", model_id)
        return 1
    with training_lock(settings) as locked:
        if not locked:
            registry.mark_failed(model_id, "En annan träning pågår (låset i var/ är taget).")
            return 1
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)
        try:
            return _train_and_evaluate(settings, registry, model_id)
        except Exception as error:
            logger.exception("Training %s failed", model_id)
            registry.mark_failed(model_id, f"{type(error).__name__}: {mask_all(str(error))}")
            return 1


def _train_and_evaluate(settings: Settings, registry: ModelRegistry, model_id: int) -> int:
    name = f"lotsen-{model_id:04d}-{time.strftime('%Y%m%d-%H%M%S')}"
    archive = settings.models_dir / f"{name}.tar.gz"
    registry.mark_started(
        model_id,
        os.getpid(),
        archive.name,
        git_commit(settings.project_dir),
        data_fingerprint(settings.project_dir),
    )
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    code, output = _run_rasa_train(settings, registry, model_id, name)
    if code != 0 or not archive.is_file():
        registry.mark_failed(model_id, failure_reason(output))
        return 1
    registry.update_progress(model_id, phase="Utvärderar")
    note = None
    try:
        evaluate_candidate(settings, registry, model_id, archive)
    except Exception as error:
        logger.exception("Evaluation of model %s failed", model_id)
        note = f"Utvärderingen misslyckades: {type(error).__name__}: {mask_all(str(error))}"
    registry.mark_trained(model_id, model_id_of(archive), archive.stat().st_size, note)
    logger.info("Training %s finished: %s", model_id, archive.name)
    return 0


def _run_rasa_train(
    settings: Settings, registry: ModelRegistry, model_id: int, name: str
) -> tuple[int, str]:
    project = settings.project_dir
    command = rasa_command(
        "train",
        "--config", str(project / "config.yml"),
        "--domain", str(project / "domain.yml"),
        "--data", str(project / "data"),
        "--out", str(settings.models_dir),
        "--fixed-model-name", name,
    )  # fmt: skip
    env = {key: value for key, value in os.environ.items() if key != "LOG_LEVEL"}
    process = subprocess.Popen(  # noqa: S603 - fixed program, no shell
        command,
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    parser = ProgressParser()
    tail = _Tail()
    for chunk in _chunks(process.stdout):
        sys.stdout.write(chunk)
        tail.add(chunk)
        for progress in parser.feed(chunk):
            registry.update_progress(model_id, progress.phase, progress.epoch, progress.epochs)
    sys.stdout.flush()
    return process.wait(), tail.text


def _chunks(stream: IO[bytes]) -> Iterator[str]:
    while chunk := stream.read1(4096):  # type: ignore[attr-defined]
        yield chunk.decode("utf-8", errors="replace")


class _Tail:
    """The last characters of a stream of text."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self.text = ""

    def add(self, chunk: str) -> None:
        self.text = (self.text + chunk)[-self._size :]


# --- evaluation -------------------------------------------------------------------------------


def annotated_inbox_examples(settings: Settings) -> tuple[GoldExample, ...]:
    """The recent annotated inbox messages (part of the training data), as gold examples.

    Args:
        settings: For the database.

    Returns:
        Up to :data:`INBOX_LIMIT` examples, newest first.
    """
    from bot.inbox import InboxRepository

    examples = InboxRepository(get_engine(settings.database_url)).annotated_examples(
        limit=INBOX_LIMIT
    )
    return tuple(GoldExample(e.text, e.intent, e.permit_type) for e in examples)


def examples_hash(examples: Sequence[GoldExample]) -> str:
    """SHA-256 identifying a list of examples."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.text}\0{example.intent}\0{example.permit_type}\n".encode())
    return digest.hexdigest()


def evaluate_candidate(
    settings: Settings, registry: ModelRegistry, model_id: int, archive: Path
) -> None:
    """Score a new model and the active one on the held-out file and the annotated inbox.

    Both models are scored on the same examples, so the comparison page can put them side by
    side; the active model only where it has no stored scores on exactly these examples.

    Args:
        settings: Held-out file, models directory, database.
        registry: The registry.
        model_id: The new model.
        archive: Its archive.
    """
    datasets = {HELDOUT: load_examples(settings.heldout_file)}
    hashes = {HELDOUT: file_hash(settings.heldout_file)}
    inbox = annotated_inbox_examples(settings)
    if inbox:
        datasets[INBOX] = inbox
        hashes[INBOX] = examples_hash(inbox)
    runs = [(model_id, archive, datasets)]
    active = registry.active()
    if active is not None and active.file_name and active.id != model_id:
        # A model's answers to the same examples do not change: score only what is missing.
        missing = {
            name: examples
            for name, examples in datasets.items()
            if registry.evaluation(active.id, name, hashes[name]) is None
        }
        active_archive = settings.models_dir / active.file_name
        if missing and active_archive.is_file():
            runs.append((active.id, active_archive, missing))
    for number, path, examples in runs:
        reports = asyncio.run(evaluate_examples(path, examples))
        for dataset, report in reports.items():
            registry.save_evaluation(number, dataset, hashes[dataset], report)


# --- command-line helpers ---------------------------------------------------------------------

MAKE_MODEL = "make model"
"""Who ``make model`` trains and activates as; its activations never replace a person's."""


def format_duration(value: dt.timedelta | None) -> str:
    """Format a duration as minutes and seconds, e.g. ``3 min 05 s`` (``–`` when unknown)."""
    if value is None:
        return "–"
    minutes, seconds = divmod(int(value.total_seconds()), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def progress_line(model: ModelRecord, registry: ModelRegistry) -> str:
    """One line about a training's progress, for the terminal.

    Args:
        model: The training.
        registry: For the typical duration of a training.

    Returns:
        For example ``modell 3: Tränas, DIETClassifier, epok 12 av 60, 0 min 40 s, ca 2 min
        kvar``.
    """
    now = utcnow()
    parts = [f"modell {model.id}: {model.status_sv}"]
    if model.phase:
        parts.append(model.phase)
    if model.epochs:
        parts.append(f"epok {model.epoch or 0} av {model.epochs}")
    parts.append(format_duration(model.elapsed(now)))
    remaining = model.remaining(now, registry.typical_duration())
    if remaining is not None:
        parts.append(f"ca {format_duration(remaining)} kvar")
    return ", ".join(parts)


def ensure_active_model(
    settings: Settings,
    registry: ModelRegistry,
    on_progress: Callable[[ModelRecord], None] | None = None,
) -> str:
    """``make model``: train and serve a model when none serves the current data.

    Nothing is trained when the active model was trained from the current config, domain and
    data. Otherwise a model is trained through the registry; it becomes active when no model
    is active yet or the active one was chosen by ``make model`` too (and it passes the
    held-out gate). A model a trainer or admin activated is never replaced here.

    Args:
        settings: Project, models directory, database.
        registry: The registry.
        on_progress: Called while the training runs.

    Returns:
        What happened, for the terminal.

    Raises:
        RuntimeError: If the training failed.
    """
    from bot.model_registry import ACTIVE_MODEL, ActivationError, activate, set_active_file

    active = registry.active()
    if active is not None and active.file_name:
        archive = settings.models_dir / active.file_name
        if archive.is_file() and active.data_hash == data_fingerprint(settings.project_dir):
            link = settings.models_dir / ACTIVE_MODEL
            if not link.is_file() or not os.path.samefile(link, archive):
                set_active_file(settings.models_dir, archive)
            return f"Aktiv modell {active.id} ({active.file_name}) är tränad på nuvarande data."
    queued = start_training(settings, MAKE_MODEL, registry)
    model = wait_for_training(settings, registry, queued.id, on_progress)
    if model.status != "trained":
        raise RuntimeError(f"Träningen misslyckades:\n{model.failure_reason}")
    history = registry.activations(limit=1)
    if active is not None and history and history[0].actor != MAKE_MODEL:
        return (
            f"Modell {model.id} är tränad. Modell {active.id}, som {history[0].actor} valde, "
            f"används fortfarande: jämför och aktivera i webbappen eller med "
            f"`lotsen activate {model.id}`."
        )
    try:
        activate(settings, registry, model.id, MAKE_MODEL, "trainer", reload_servers=False)
    except ActivationError as error:
        return f"Modell {model.id} är tränad men aktiverades inte: {error}"
    return f"Modell {model.id} ({model.file_name}) är aktiv."
