"""The model registry in the officials' app (``/handlaggare/modeller``), for trainers and admins.

Trainers start a training, follow its progress, compare the new model with the one in use and
activate it or roll back to an earlier one; only admins may activate a model the held-out gate
refuses, with a written reason. Trainings run in a detached worker (bot.training); an
activation runs in a thread of the web app, because loading a model into the Rasa servers takes
longer than a request may (the page follows it through the status endpoint).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from typing import Any

from sanic import Sanic
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse, json, redirect

from bot.model_registry import (
    DATASET_SV,
    DATASETS,
    HELDOUT,
    ActivationError,
    ModelRecord,
    ModelRegistry,
    TrainingBusyError,
    activate,
    check_activation,
    file_hash,
    percent,
)
from bot.models import utcnow
from bot.settings import Settings
from bot.training import format_duration, reap_stale, start_training
from bot.web.officials import PREFIX, TRAINER_ROLES, OfficialsPages

logger = logging.getLogger(__name__)

MODELS = f"{PREFIX}/modeller"


@dataclasses.dataclass
class _Switch:
    """An activation running in the web app, or how the last one ended."""

    model_id: int
    running: bool = True
    error: str | None = None


class _Switches:
    """Activations started from the web app (one at a time per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: _Switch | None = None

    def start(
        self,
        settings: Settings,
        registry: ModelRegistry,
        model_id: int,
        actor: str,
        role: str,
        reason: str | None,
        rollback: bool,
    ) -> bool:
        with self._lock:
            if self.current is not None and self.current.running:
                return False
            switch = self.current = _Switch(model_id)

        def run() -> None:
            try:
                activate(settings, registry, model_id, actor, role, reason, rollback)
            except ActivationError as error:
                switch.error = str(error)
            except Exception:
                logger.exception("Activation of model %s failed", model_id)
                switch.error = "Aktiveringen misslyckades av ett oväntat fel."
            finally:
                switch.running = False

        threading.Thread(target=run, name=f"activate-{model_id}", daemon=True).start()
        return True

    def of(self, model_id: int) -> _Switch | None:
        current = self.current
        return current if current is not None and current.model_id == model_id else None


def _status(model: ModelRecord, registry: ModelRegistry, switch: _Switch | None) -> dict[str, Any]:
    now = utcnow()
    remaining = model.remaining(now, registry.typical_duration())
    return {
        "id": model.id,
        "status": model.status,
        "status_sv": model.status_sv,
        "running": model.running,
        "phase": model.phase,
        "epoch": model.epoch,
        "epochs": model.epochs,
        "elapsed": format_duration(model.elapsed(now)),
        "remaining": format_duration(remaining) if remaining is not None else None,
        "activating": bool(switch and switch.running),
    }


def register_models(app: Sanic, pages: OfficialsPages, settings: Settings) -> None:
    """Add the model registry's pages to the officials' app.

    Args:
        app: The web app.
        pages: Renderer and role guard of the officials' app.
        settings: Project, models directory, Rasa servers and margin.
    """
    from bot.db import get_engine

    registry = ModelRegistry(get_engine(settings.database_url))
    switches = _Switches()

    def model_or_404(model_id: int) -> ModelRecord:
        model = registry.get(model_id)
        if model is None:
            raise NotFound("Modellen finns inte.")
        return model

    def list_page(request: Request, error: str | None = None, status: int = 200) -> HTTPResponse:
        reap_stale(settings, registry)
        models = registry.models()
        return pages.render(
            request,
            "models.html",
            status=status,
            error=error,
            models=models,
            active=registry.active(),
            running=registry.running(),
            history=registry.activations(),
            scores={m.id: registry.evaluation(m.id, HELDOUT) for m in models},
            percent=percent,
        )

    def model_page(
        request: Request, model: ModelRecord, error: str | None = None, status: int = 200
    ) -> HTTPResponse:
        active = registry.active()
        other_id = request.args.get("mot")
        baseline = registry.get(int(other_id)) if other_id and other_id.isdigit() else active
        if baseline is not None and baseline.id == model.id:
            baseline = None
        comparisons = {
            dataset: registry.compare(baseline.id, model.id, dataset) if baseline else None
            for dataset in DATASETS
        }
        own = {dataset: registry.evaluation(model.id, dataset) for dataset in DATASETS}
        gate = registry.gate(model, file_hash(settings.heldout_file), settings.max_accuracy_drop)
        switch = switches.of(model.id)
        return pages.render(
            request,
            "model.html",
            status=status,
            error=error or (switch.error if switch and not switch.running else None),
            model=model,
            active=active,
            baseline=baseline,
            comparisons=comparisons,
            own=own,
            datasets=DATASET_SV,
            gate=gate,
            switch=switch,
            progress=_status(model, registry, switch),
            rollback=active is not None and model.id < active.id,
            max_drop=settings.max_accuracy_drop,
            percent=percent,
        )

    @app.get(MODELS)
    @pages.require(TRAINER_ROLES)
    async def model_list(request: Request) -> HTTPResponse:
        return await asyncio.to_thread(list_page, request)

    @app.post(f"{MODELS}/trana")
    @pages.require(TRAINER_ROLES)
    async def train(request: Request) -> HTTPResponse:
        # Only the button's own form starts the minutes of CPU a training takes.
        if (request.form.get("atgard") if request.form else None) != "trana":
            return list_page(
                request, error="Formuläret var ofullständigt. Försök igen.", status=400
            )
        try:
            queued = await asyncio.to_thread(
                start_training, settings, request.ctx.user.email, registry
            )
        except TrainingBusyError as error:
            return list_page(request, error=str(error), status=409)
        except OSError:
            logger.exception("Could not start a training")
            return list_page(request, error="Träningen kunde inte startas.", status=503)
        return redirect(f"{MODELS}/{queued.id}", status=303)

    @app.get(f"{MODELS}/<model_id:int>")
    @pages.require(TRAINER_ROLES)
    async def model_detail(request: Request, model_id: int) -> HTTPResponse:
        reap_stale(settings, registry)
        return await asyncio.to_thread(model_page, request, model_or_404(model_id))

    @app.get(f"{MODELS}/<model_id:int>/status.json")
    @pages.require(TRAINER_ROLES)
    async def model_status(request: Request, model_id: int) -> HTTPResponse:
        reap_stale(settings, registry)
        model = model_or_404(model_id)
        return json(_status(model, registry, switches.of(model_id)))

    @app.post(f"{MODELS}/<model_id:int>/<action:str>")
    @pages.require(TRAINER_ROLES)
    async def switch_model(request: Request, model_id: int, action: str) -> HTTPResponse:
        if action not in ("aktivera", "aterstall"):
            raise NotFound("Okänd åtgärd.")
        model = model_or_404(model_id)
        user = request.ctx.user
        reason = (request.form.get("motivering") or "").strip() or None
        rollback = action == "aterstall"
        try:
            await asyncio.to_thread(
                check_activation, settings, registry, model, user.role, reason, rollback
            )
        except ActivationError as error:
            return model_page(request, model, error=str(error), status=409)
        if not switches.start(
            settings, registry, model.id, user.email, user.role, reason, rollback
        ):
            return model_page(
                request, model, error="En annan aktivering pågår. Vänta en stund.", status=409
            )
        return redirect(f"{MODELS}/{model.id}", status=303)
