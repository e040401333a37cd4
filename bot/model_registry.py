"""The model registry: trained models under ``models/``, their scores, and which one is served.

Every training of the registry (bot.training) is a row here: who started it, when, its status
and progress, the data it was trained from (git commit and a hash of config, domain and data)
and its scores on the held-out file and the annotated inbox. Activating a model switches every
configured Rasa server with Rasa's authenticated HTTP API (``PUT /model``) and points
``models/active.tar.gz`` at it, which the Rasa servers load when they start. Each activation
and rollback is appended to a history with who did it, when and an admin's override reason.

Activation is refused when the candidate is worse on the held-out file than the model in use by
more than a margin (``LOTSEN_MAX_ACCURACY_DROP``), unless an admin overrides with a reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.models import NluModel, NluModelActivation, NluModelEvaluation, utcnow
from bot.nlu_eval import NluComparison, NluReport, compare_reports
from bot.settings import Settings

logger = logging.getLogger(__name__)

ACTIVE_MODEL = "active.tar.gz"
"""File name, in the models directory, of the model the Rasa servers load when they start."""

HELDOUT = "heldout"
INBOX = "inbox"
DATASETS: tuple[str, ...] = (HELDOUT, INBOX)

DATASET_SV = {
    HELDOUT: "Testfilen (aldrig tränad på)",
    INBOX: "Inkorgens märkta meddelanden (ingår i träningsdatan)",
}
STATUS_SV = {
    "queued": "Väntar",
    "training": "Tränas",
    "trained": "Klar",
    "failed": "Misslyckades",
}
KIND_SV = {"activate": "Aktiverad", "rollback": "Återställd"}

RASA_TIMEOUT = 600.0
"""Seconds a Rasa server may take to load a model (``PUT /model``)."""


class TrainingBusyError(RuntimeError):
    """A training is already queued or running; the message is Swedish."""


class ActivationError(RuntimeError):
    """A model could not be activated; the message is Swedish, for trainers."""


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    """A registry model (a stored row, as plain data)."""

    id: int
    file_name: str | None
    status: str
    started_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    worker_pid: int | None
    phase: str | None
    epoch: int | None
    epochs: int | None
    epochs_started_at: dt.datetime | None
    failure_reason: str | None
    git_commit: str | None
    data_hash: str | None
    rasa_model_id: str | None
    size_bytes: int | None

    @property
    def running(self) -> bool:
        """Whether the training is queued or running."""
        return self.status in {"queued", "training"}

    @property
    def status_sv(self) -> str:
        """The status in Swedish."""
        return STATUS_SV.get(self.status, self.status)

    def elapsed(self, now: dt.datetime) -> dt.timedelta | None:
        """Time since the worker started (until it finished)."""
        if self.started_at is None:
            return None
        return (self.finished_at or now) - self.started_at

    def remaining(
        self, now: dt.datetime, typical: dt.timedelta | None = None
    ) -> dt.timedelta | None:
        """Estimated time left.

        The longer of what the epochs still need at the pace so far and what an earlier
        training took beyond the time spent.

        Args:
            now: The current time.
            typical: Duration of an earlier successful training, if any.

        Returns:
            The estimate, or None when there is nothing to estimate from.
        """
        if not self.running:
            return None
        estimates = []
        if self.epoch and self.epochs and self.epochs_started_at and self.epoch < self.epochs:
            per_epoch = (now - self.epochs_started_at) / self.epoch
            estimates.append(per_epoch * (self.epochs - self.epoch))
        elapsed = self.elapsed(now)
        if typical is not None and elapsed is not None:
            estimates.append(max(typical - elapsed, dt.timedelta(0)))
        return max(estimates) if estimates else None


@dataclasses.dataclass(frozen=True)
class ActivationRecord:
    """One switch of the served model."""

    id: int
    model_id: int
    previous_model_id: int | None
    kind: str
    actor: str
    override_reason: str | None
    servers: int
    created_at: dt.datetime

    @property
    def kind_sv(self) -> str:
        """The kind in Swedish."""
        return KIND_SV.get(self.kind, self.kind)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """A model's stored scores on a data set."""

    model_id: int
    dataset: str
    dataset_hash: str
    created_at: dt.datetime
    report: NluReport


@dataclasses.dataclass(frozen=True)
class Gate:
    """Whether a model may be activated, and why not.

    Attributes:
        allowed: True when the model passes without an override.
        reason: Why it is refused (Swedish), when it is.
        overridable: Whether an admin may activate it anyway with a written reason.
        comparison: The held-out comparison with the model in use, when both were scored.
    """

    allowed: bool
    reason: str | None = None
    overridable: bool = False
    comparison: NluComparison | None = None


def _record(row: NluModel) -> ModelRecord:
    return ModelRecord(**{f.name: getattr(row, f.name) for f in dataclasses.fields(ModelRecord)})


def _activation(row: NluModelActivation) -> ActivationRecord:
    return ActivationRecord(
        **{f.name: getattr(row, f.name) for f in dataclasses.fields(ActivationRecord)}
    )


def percent(value: float) -> str:
    """Format a share as a Swedish percentage with one decimal, e.g. ``95,3 %``."""
    return f"{100 * value:.1f} %".replace(".", ",")


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ModelRegistry:
    """Reads and writes the registry; each call owns one short transaction."""

    def __init__(self, engine: Engine) -> None:
        """Create a registry on an engine.

        Args:
            engine: A SQLAlchemy engine created with ``future=True``.
        """
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)

    # --- trainings --------------------------------------------------------------------------

    def queue_training(self, started_by: str, now: dt.datetime | None = None) -> ModelRecord:
        """Add a queued training, unless one is queued or running already.

        The unique ``running_slot`` makes this safe between processes and database replicas.

        Args:
            started_by: Who started it (e-mail or ``cli``).
            now: The current time.

        Returns:
            The new row.

        Raises:
            TrainingBusyError: If a training is queued or running.
        """
        try:
            with self._sessions.begin() as session:
                row = NluModel(
                    status="queued",
                    running_slot=1,
                    started_by=started_by[:200],
                    created_at=now or utcnow(),
                )
                session.add(row)
                session.flush()
                return _record(row)
        except IntegrityError as error:
            running = self.running()
            number = f" (modell {running.id})" if running else ""
            raise TrainingBusyError(
                f"En träning pågår redan{number}. Vänta tills den är klar."
            ) from error

    def _update(self, model_id: int, **values: Any) -> None:
        with self._sessions.begin() as session:
            session.execute(update(NluModel).where(NluModel.id == model_id).values(**values))

    def mark_started(
        self,
        model_id: int,
        pid: int,
        file_name: str,
        git_commit: str | None,
        data_hash: str,
        now: dt.datetime | None = None,
    ) -> None:
        """Record that a worker took the training on.

        Args:
            model_id: The training.
            pid: The worker's process id.
            file_name: The archive it will write under the models directory.
            git_commit: The project's git commit (``+`` when the data has local changes).
            data_hash: Hash of config, domain and data.
            now: The current time.
        """
        self._update(
            model_id,
            status="training",
            worker_pid=pid,
            file_name=file_name,
            git_commit=git_commit,
            data_hash=data_hash,
            started_at=now or utcnow(),
            phase="Förbereder",
        )

    def update_progress(
        self,
        model_id: int,
        phase: str | None = None,
        epoch: int | None = None,
        epochs: int | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        """Record the worker's progress: the phase, and epoch k of n of the current component.

        Args:
            model_id: The training.
            phase: What it does now (a component name, "Utvärderar", ...).
            epoch: Epochs done.
            epochs: Epochs in all.
            now: The current time.
        """
        values: dict[str, Any] = {}
        if phase is not None:
            values["phase"] = phase[:80]
        if epochs is not None:
            values.update(epoch=epoch or 0, epochs=epochs)
            if not epoch:
                values["epochs_started_at"] = now or utcnow()
        if values:
            self._update(model_id, **values)

    def mark_trained(
        self, model_id: int, rasa_model_id: str | None, size_bytes: int, note: str | None = None
    ) -> None:
        """Record a finished training.

        Args:
            model_id: The training.
            rasa_model_id: The archive's model id (what Rasa's ``/status`` reports).
            size_bytes: The archive's size.
            note: A problem that does not make the model unusable (a failed evaluation).
        """
        self._update(
            model_id,
            status="trained",
            running_slot=None,
            finished_at=utcnow(),
            phase=None,
            rasa_model_id=rasa_model_id,
            size_bytes=size_bytes,
            failure_reason=note,
        )

    def mark_failed(self, model_id: int, reason: str, now: dt.datetime | None = None) -> None:
        """Record a failed training and free the slot for the next one.

        Args:
            model_id: The training.
            reason: Why (no message texts).
            now: The current time.
        """
        self._update(
            model_id,
            status="failed",
            running_slot=None,
            finished_at=now or utcnow(),
            failure_reason=reason[:4000],
        )

    def register_archive(
        self,
        file_name: str,
        started_by: str,
        rasa_model_id: str | None,
        size_bytes: int,
        data_hash: str | None,
        git_commit: str | None,
    ) -> ModelRecord:
        """Register a model trained outside the registry's worker (``make model``).

        Args:
            file_name: Archive under the models directory.
            started_by: Who trained it.
            rasa_model_id: The archive's model id.
            size_bytes: Its size.
            data_hash: Hash of config, domain and data it was trained from.
            git_commit: The project's git commit.

        Returns:
            The new row (status ``trained``).
        """
        now = utcnow()
        with self._sessions.begin() as session:
            row = NluModel(
                file_name=file_name,
                status="trained",
                started_by=started_by,
                created_at=now,
                started_at=now,
                finished_at=now,
                rasa_model_id=rasa_model_id,
                size_bytes=size_bytes,
                data_hash=data_hash,
                git_commit=git_commit,
            )
            session.add(row)
            session.flush()
            return _record(row)

    def get(self, model_id: int) -> ModelRecord | None:
        """A model by id, or None."""
        with self._sessions() as session:
            row = session.get(NluModel, model_id)
            return _record(row) if row is not None else None

    def models(self, limit: int = 200) -> list[ModelRecord]:
        """The models, newest first."""
        with self._sessions() as session:
            rows = session.scalars(select(NluModel).order_by(NluModel.id.desc()).limit(limit))
            return [_record(row) for row in rows]

    def running(self) -> ModelRecord | None:
        """The queued or running training, if any."""
        with self._sessions() as session:
            row = session.scalars(
                select(NluModel).where(NluModel.running_slot.is_not(None))
            ).first()
            return _record(row) if row is not None else None

    def typical_duration(self) -> dt.timedelta | None:
        """How long the latest successful training of the worker took."""
        with self._sessions() as session:
            row = session.scalars(
                select(NluModel)
                .where(NluModel.status == "trained", NluModel.worker_pid.is_not(None))
                .order_by(NluModel.id.desc())
            ).first()
            if row is None or row.started_at is None or row.finished_at is None:
                return None
            return row.finished_at - row.started_at  # type: ignore[no-any-return]

    # --- evaluations ------------------------------------------------------------------------

    def save_evaluation(
        self, model_id: int, dataset: str, dataset_hash: str, report: NluReport
    ) -> None:
        """Store a model's report on a data set.

        Args:
            model_id: The model.
            dataset: ``heldout`` or ``inbox``.
            dataset_hash: Identifies the examples (the file's or the example list's hash).
            report: The predictions.
        """
        with self._sessions.begin() as session:
            session.add(
                NluModelEvaluation(
                    model_id=model_id,
                    dataset=dataset,
                    dataset_hash=dataset_hash,
                    examples=len(report.predictions),
                    intent_accuracy=report.intent_accuracy,
                    macro_f1=report.macro_f1,
                    report=report.to_json(),
                    created_at=utcnow(),
                )
            )

    def evaluation(
        self, model_id: int, dataset: str, dataset_hash: str | None = None
    ) -> Evaluation | None:
        """A model's latest report on a data set (with that hash, when given)."""
        query = select(NluModelEvaluation).where(
            NluModelEvaluation.model_id == model_id, NluModelEvaluation.dataset == dataset
        )
        if dataset_hash is not None:
            query = query.where(NluModelEvaluation.dataset_hash == dataset_hash)
        with self._sessions() as session:
            row = session.scalars(query.order_by(NluModelEvaluation.id.desc())).first()
            if row is None:
                return None
            return Evaluation(
                row.model_id,
                row.dataset,
                row.dataset_hash,
                row.created_at,
                NluReport.from_json(row.report),
            )

    def compare(self, old_id: int, new_id: int, dataset: str) -> NluComparison | None:
        """Compare two models on the latest data set both were scored on together.

        Args:
            old_id: The model in use (or any other model).
            new_id: The candidate.
            dataset: ``heldout`` or ``inbox``.

        Returns:
            The comparison, or None when the two were never scored on the same examples.
        """
        new = self.evaluation(new_id, dataset)
        if new is None:
            return None
        old = self.evaluation(old_id, dataset, new.dataset_hash)
        if old is None:
            return None
        return compare_reports(old.report, new.report)

    # --- activations ------------------------------------------------------------------------

    def record_activation(
        self,
        model_id: int,
        previous_model_id: int | None,
        kind: str,
        actor: str,
        override_reason: str | None,
        servers: int,
    ) -> ActivationRecord:
        """Append an activation or rollback to the history.

        Args:
            model_id: The model now served.
            previous_model_id: The model served before.
            kind: ``activate`` or ``rollback``.
            actor: Who did it.
            override_reason: An admin's reason for activating a refused model.
            servers: How many Rasa servers were switched.

        Returns:
            The stored record.
        """
        with self._sessions.begin() as session:
            row = NluModelActivation(
                model_id=model_id,
                previous_model_id=previous_model_id,
                kind=kind,
                actor=actor[:200],
                override_reason=override_reason,
                servers=servers,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _activation(row)

    def active(self) -> ModelRecord | None:
        """The model of the latest activation: what the Rasa servers serve."""
        with self._sessions() as session:
            model_id = session.scalars(
                select(NluModelActivation.model_id).order_by(NluModelActivation.id.desc())
            ).first()
            if model_id is None:
                return None
            row = session.get(NluModel, model_id)
            return _record(row) if row is not None else None

    def activations(self, limit: int = 50) -> list[ActivationRecord]:
        """The activation history, newest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(NluModelActivation).order_by(NluModelActivation.id.desc()).limit(limit)
            )
            return [_activation(row) for row in rows]

    def gate(self, model: ModelRecord, heldout_hash: str, max_drop: float) -> Gate:
        """Decide whether a model may replace the one in use.

        Args:
            model: The candidate.
            heldout_hash: Hash of the current held-out file (scores on older files do not count).
            max_drop: Largest allowed drop of held-out intent accuracy.

        Returns:
            The decision.
        """
        if model.status != "trained" or not model.file_name:
            return Gate(False, "Modellen är inte färdigtränad.")
        active = self.active()
        if active is not None and active.id == model.id:
            return Gate(False, "Modellen används redan.")
        new = self.evaluation(model.id, HELDOUT, heldout_hash)
        if active is None:
            return Gate(True)
        old = self.evaluation(active.id, HELDOUT, heldout_hash)
        if new is None or old is None:
            return Gate(
                False,
                "Modellerna har inte utvärderats på den nuvarande testfilen, så de går inte "
                "att jämföra.",
                overridable=True,
            )
        comparison = compare_reports(old.report, new.report)
        drop = -comparison.accuracy_change
        if drop > max_drop + 1e-9:
            allowed = f"{100 * max_drop:.1f}".replace(".", ",")
            return Gate(
                False,
                "Träffsäkerheten på testfilen sjunker från "
                f"{percent(comparison.old.intent_accuracy)} till "
                f"{percent(comparison.new.intent_accuracy)}, mer än de {allowed} "
                "procentenheter som är tillåtna.",
                overridable=True,
                comparison=comparison,
            )
        return Gate(True, comparison=comparison)


# --- Rasa servers and the model file ----------------------------------------------------------


def rasa_api_token(settings: Settings) -> str | None:
    """The Rasa HTTP API token: ``RASA_API_TOKEN`` or ``var/rasa-api-token`` (as ``make run``)."""
    token = os.environ.get("RASA_API_TOKEN")
    if token:
        return token
    path = settings.var_dir / "rasa-api-token"
    with contextlib.suppress(OSError):
        return path.read_text().strip() or None
    return None


def _rasa_request(
    url: str, method: str, token: str | None, body: dict[str, Any] | None = None
) -> Any:
    query = f"?{urllib.parse.urlencode({'token': token})}" if token else ""
    request = urllib.request.Request(  # noqa: S310 - the configured Rasa servers
        f"{url}{query}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=RASA_TIMEOUT) as response:  # noqa: S310
        text = response.read().decode()
    return json.loads(text) if text else None


def _server_error(url: str, error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        if error.code in {401, 403}:
            return f"Rasa-servern {url} godtog inte API-nyckeln (HTTP {error.code})."
        detail = ""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            detail = str(json.loads(error.read().decode()).get("message") or "")[:300]
        return f"Rasa-servern {url} kunde inte läsa in modellen (HTTP {error.code}). {detail}"
    return f"Rasa-servern {url} svarar inte ({type(error).__name__})."


def served_model_ids(settings: Settings) -> dict[str, str | None]:
    """Ask every Rasa server which model it serves (``GET /status``).

    Args:
        settings: Rasa URLs and token.

    Returns:
        The model id per server URL; None when a server does not answer or has no model.
    """
    token = rasa_api_token(settings)
    served: dict[str, str | None] = {}
    for url in settings.rasa_urls:
        try:
            status = _rasa_request(f"{url}/status", "GET", token)
            served[url] = str(status.get("model_id")) if isinstance(status, dict) else None
        except (urllib.error.URLError, OSError, ValueError):
            served[url] = None
    return served


def load_on_servers(settings: Settings, urls: Sequence[str], archive: Path) -> dict[str, str]:
    """Make Rasa servers serve a model archive, all at once (``PUT /model``).

    Each server keeps answering with its current model until the new one is loaded.

    Args:
        settings: For the API token.
        urls: The servers.
        archive: The archive (the servers read it from this absolute path).

    Returns:
        A Swedish error message per server that failed; empty when all switched.
    """
    token = rasa_api_token(settings)
    body = {"model_file": str(archive.resolve())}

    def put(url: str) -> str | None:
        try:
            _rasa_request(f"{url}/model", "PUT", token, body)
        except (urllib.error.URLError, OSError, ValueError) as error:
            return _server_error(url, error)
        return None

    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        results = dict(zip(urls, pool.map(put, urls), strict=True))
    return {url: error for url, error in results.items() if error is not None}


def set_active_file(models_dir: Path, archive: Path) -> Path:
    """Point ``models/active.tar.gz`` at an archive, atomically (a hard link, else a copy).

    Args:
        models_dir: The models directory.
        archive: The archive to serve after a restart.

    Returns:
        The path of the active file.
    """
    target = models_dir / ACTIVE_MODEL
    temporary = models_dir / f".{ACTIVE_MODEL}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    try:
        os.link(archive, temporary)
    except OSError:
        shutil.copy2(archive, temporary)
    os.replace(temporary, target)
    return target


@contextlib.contextmanager
def file_lock(path: Path, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive OS lock on a file (``flock``) for the duration of a block.

    Args:
        path: The lock file (created if missing).
        wait: Wait for the lock; otherwise give up at once.

    Yields:
        Whether the lock is held (False only when ``wait`` is off and someone else holds it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_activation(
    settings: Settings,
    registry: ModelRegistry,
    model: ModelRecord,
    role: str,
    override_reason: str | None = None,
    rollback: bool = False,
) -> str | None:
    """Decide whether a user may activate a model now.

    Trainers and admins may activate a model that passes the gate; only an admin may activate
    a refused one, and only with a written reason.

    Args:
        settings: Held-out file, margin and models directory.
        registry: The registry.
        model: The model to serve.
        role: The user's role.
        override_reason: An admin's reason for activating a refused model.
        rollback: Whether this is a rollback (to a model older than the active one).

    Returns:
        The override reason to record, or None when the model passes the gate.

    Raises:
        ActivationError: Why it may not be activated (Swedish).
    """
    active = registry.active()
    if rollback and (active is None or model.id >= active.id):
        raise ActivationError("Återställning går bara till en tidigare modell än den som används.")
    gate = registry.gate(model, file_hash(settings.heldout_file), settings.max_accuracy_drop)
    reason = (override_reason or "").strip()[:2000] or None
    if not gate.allowed:
        if not gate.overridable:
            raise ActivationError(gate.reason or "Modellen kan inte aktiveras.")
        if role != "admin" or reason is None:
            raise ActivationError(
                f"{gate.reason} Bara en administratör kan aktivera den ändå, med en skriven "
                "motivering."
            )
    if model.file_name is None or not (settings.models_dir / model.file_name).is_file():
        raise ActivationError(f"Modellfilen {model.file_name} saknas.")
    return reason if not gate.allowed else None


def activate(
    settings: Settings,
    registry: ModelRegistry,
    model_id: int,
    actor: str,
    role: str,
    override_reason: str | None = None,
    rollback: bool = False,
    reload_servers: bool = True,
) -> ActivationRecord:
    """Serve a registry model: switch every Rasa server, then the file they load at start.

    When a server fails, the servers already switched get the previous model back and nothing
    is recorded.

    Args:
        settings: Models directory, Rasa URLs, held-out file and margin.
        registry: The registry.
        model_id: The model to serve.
        actor: Who activates (e-mail, ``cli:<user>`` or ``make model``).
        role: The actor's role (``trainer`` or ``admin``).
        override_reason: An admin's reason for activating a refused model.
        rollback: Record the switch as a rollback (to an earlier model).
        reload_servers: Switch the running servers (off when none runs, as in ``make model``).

    Returns:
        The history record.

    Raises:
        ActivationError: If the model is refused or a server could not switch.
    """
    model = registry.get(model_id)
    if model is None:
        raise ActivationError("Modellen finns inte.")
    with file_lock(settings.var_dir / "activation.lock"):
        active = registry.active()
        reason = check_activation(settings, registry, model, role, override_reason, rollback)
        assert model.file_name is not None
        archive = (settings.models_dir / model.file_name).resolve()
        servers = 0
        if reload_servers:
            failed = load_on_servers(settings, settings.rasa_urls, archive)
            if failed:
                _switch_back(settings, active, [u for u in settings.rasa_urls if u not in failed])
                raise ActivationError(" ".join(failed.values()) + " Ingen modell byttes.")
            servers = len(settings.rasa_urls)
        set_active_file(settings.models_dir, archive)
        record = registry.record_activation(
            model.id,
            active.id if active else None,
            "rollback" if rollback else "activate",
            actor,
            reason,
            servers,
        )
    logger.info(
        "Model %s activated by %s on %d Rasa servers%s",
        model.id,
        actor,
        servers,
        " (admin override)" if reason else "",
    )
    return record


def _switch_back(settings: Settings, active: ModelRecord | None, urls: list[str]) -> None:
    if active is None or not active.file_name or not urls:
        return
    failed = load_on_servers(settings, urls, settings.models_dir / active.file_name)
    for url in failed:
        logger.error("Could not switch Rasa server %s back to model %s", url, active.id)


def model_id_of(archive: Path) -> str | None:
    """The model id Rasa's ``/status`` reports for an archive (from its metadata).

    Args:
        archive: A trained model archive.

    Returns:
        The id, or None when the archive has no readable metadata.
    """
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    try:
        return str(LocalModelStorage.metadata_from_archive(archive).model_id)
    except Exception:  # any unreadable archive: no id
        logger.warning("No metadata in model archive %s", archive.name)
        return None
