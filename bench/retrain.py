"""Retrain to live: from "Träna ny modell" until the running Rasa server answers with the new model.

Usage:
    nice -n 10 .venv/bin/python bench/retrain.py [--fresh-cache] [--example TEXT]

Copies the project (config.yml, domain.yml, data/; the Swedish spaCy pipeline is linked) to a
temporary directory with its own registry database, starts ``rasa run --enable-api
--auth-token`` on a free port of 127.0.0.1 without a model, trains a first model through the
model registry (bot.training, the path of the web app's button) and activates it. Then it
annotates one new message in the NLU inbox (bot.inbox writes data/nlu/inbox.yml, as the web app
does) and times, from ``start_training``:

* queue: until the detached worker started;
* train: the worker's ``rasa train`` (NLU and dialogue), progress recorded in the registry;
* evaluate: the worker scores the new and the active model (held-out file, annotated inbox);
* activate: ``activate`` (gate, ``PUT /model``, models/active.tar.gz) until it returns;
* answer: the first ``/model/parse`` of the new message.

Training runs with Rasa's training cache as it is on this machine (what a trainer's retrain
gets); ``--fresh-cache`` gives the first training an empty cache. It prints a table and stops
the server itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import RASA, REPO, bench_env, stop, wait_for
from bot.db import create_db_engine, migrate
from bot.inbox import Inbox, Label, inbox_message, shape, shape_key
from bot.model_registry import ModelRecord, ModelRegistry, activate
from bot.settings import Settings
from bot.stack import free_port
from bot.training import start_training, wait_for_training

NEW_EXAMPLE = "måste vi ha bygglov för en ny cykelverkstad i containern på gården"
NEW_INTENT = "ask_permit"


def _project(workdir: Path) -> Path:
    project = workdir / "project"
    project.mkdir()
    for name in ("config.yml", "domain.yml"):
        shutil.copy(REPO / name, project / name)
    shutil.copytree(REPO / "data", project / "data")
    # config.yml names the Swedish pipeline relative to the project: models/spacy-sv.
    (project / "models").mkdir()
    (project / "models" / "spacy-sv").symlink_to(REPO / "models" / "spacy-sv")
    return project


def _train(settings: Settings, registry: ModelRegistry) -> tuple[ModelRecord, dict[str, float]]:
    started = time.monotonic()
    marks: dict[str, float] = {}

    def on_progress(model: ModelRecord) -> None:
        if model.status == "training":
            marks.setdefault("worker", time.monotonic() - started)
        if model.phase == "Utvärderar":
            marks.setdefault("evaluate", time.monotonic() - started)

    queued = start_training(settings, "bench", registry)
    model = wait_for_training(settings, registry, queued.id, on_progress, timeout=3600, poll=0.2)
    marks["done"] = time.monotonic() - started
    if model.status != "trained":
        raise RuntimeError(f"training failed:\n{model.failure_reason}")
    return model, marks


def _annotate(inbox: Inbox, text: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    message = inbox_message("bench", now, {"text": text}, "nlu_fallback")
    assert message is not None
    inbox.repository.add([message])
    inbox.annotate([shape_key(shape(message.text))], Label(NEW_INTENT), "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fresh-cache", action="store_true", help="empty Rasa training cache")
    parser.add_argument("--example", default=NEW_EXAMPLE, help="the newly annotated message")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="retrain-") as tmp:
        workdir = Path(tmp)
        if args.fresh_cache:
            os.environ["RASA_CACHE_DIRECTORY"] = str(workdir / "cache")
        # The registry's worker inherits this process's environment.
        os.environ.update(
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
        )
        project = _project(workdir)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = Settings(
            database_url=f"sqlite:///{workdir / 'var' / 'cases.db'}",
            tracker_store_url=f"sqlite:///{workdir / 'var' / 'tracker.db'}",
            var_dir=workdir / "var",
            models_dir=workdir / "models",
            project_dir=project,
            heldout_file=REPO / "tests" / "nlu" / "heldout.yml",
            rasa_urls=(url,),
        )
        migrate(settings.database_url)
        settings.models_dir.mkdir()
        token = os.environ.get("RASA_API_TOKEN") or "bench-token"
        (settings.var_dir / "rasa-api-token").write_text(token)
        engine = create_db_engine(settings.database_url)
        registry = ModelRegistry(engine)
        inbox = Inbox(settings, engine)
        log = workdir / "rasa.log"
        with log.open("wb") as out:
            # From the project: Rasa loads config.yml's models/spacy-sv relative to its cwd.
            server = subprocess.Popen(
                [RASA, "run", "--enable-api", "--auth-token", token, "-m", str(settings.models_dir),
                 "-i", "127.0.0.1", "-p", str(port)],
                cwd=project, env=bench_env(), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            print(f"[{time.strftime('%H:%M:%S')}] first model ...", flush=True)
            first, first_marks = _train(settings, registry)
            wait_for(f"{url}/", server, log)
            activate(settings, registry, first.id, "bench", "trainer")
            before = _parse(url, token, args.example)
            print(f"    {first_marks['done']:.0f} s; the new message is parsed as {before}")

            print(f"[{time.strftime('%H:%M:%S')}] retrain to live ...", flush=True)
            _annotate(inbox, args.example)
            started = time.monotonic()
            new, marks = _train(settings, registry)
            activated = time.monotonic()
            activate(settings, registry, new.id, "bench", "trainer")
            live = time.monotonic()
            after = _parse(url, token, args.example)
            answered = time.monotonic()
        finally:
            stop(server)
            engine.dispose()
    queue = marks.get("worker", 0.0)
    evaluate = marks.get("evaluate", marks["done"])
    total = answered - started
    print()
    print(f"first model (registry training + evaluation): {first_marks['done']:.0f} s"
          f"{' (fresh cache)' if args.fresh_cache else ''}")  # fmt: skip
    print(f"new message: {args.example!r} -> before {before}, after {after}")
    print("| step | seconds |")
    print("|---|---|")
    print(f"| queue (worker starts) | {queue:.1f} |")
    print(f"| rasa train (NLU + dialogue) | {evaluate - queue:.1f} |")
    print(f"| evaluate new + active model | {marks['done'] - evaluate:.1f} |")
    print(f"| activate (PUT /model) | {live - activated:.1f} |")
    print(f"| first answer | {answered - live:.2f} |")
    print(f"| **retrain to live** | **{total:.0f}** |")


def _parse(url: str, token: str, text: str) -> str:
    response = requests.post(
        f"{url}/model/parse", params={"token": token}, json={"text": text}, timeout=120
    )
    response.raise_for_status()
    return str(response.json()["intent"]["name"])


if __name__ == "__main__":
    main()
