"""A small, fast retraining set-up for tests: a project copy, its settings and a Rasa server.

Shared by the retrain-compare-activate cycle (tests/integration/test_retrain_cycle.py) and the
trainer's browser flow (tests/officials_browser/test_retrain_flow.py). Everything lives under a
temporary folder: a copy of the project (``data/``, ``domain.yml``, the held-out file) with a
config small enough to train in about a minute on two cores, ``var/`` (case log, tracker store,
the Rasa API token as ``make run`` writes it) and ``models/``. Rasa starts through the project's
launcher (``python -m bot.rasa_server``) with its HTTP API on localhost behind a token, so the
registry switches its model with ``PUT /model``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

from bot.db import migrate
from bot.rasa_server import rasa_command
from bot.settings import Settings
from tests.conftest import BASE_ENV, REPO, TRACKER_STORE_TYPE, stop
from tests.nlu_project import copy_project

EPOCHS = 10
# Two models trained at 10 epochs from data that differ by a few examples move a few held-out
# answers either way; the 2-point default of the gate is tested in the unit tests.
MAX_ACCURACY_DROP = 0.05
# The project's dialogue fallback (config.yml): when no rule matches, RulePolicy predicts the
# contact centre's answer with exactly this confidence.
CORE_FALLBACK_ACTION = "action_contact_centre"
CORE_FALLBACK_THRESHOLD = 0.3
FAST_CONFIG: dict[str, Any] = {
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
    "policies": [
        {"name": "MemoizationPolicy"},
        {
            "name": "RulePolicy",
            "core_fallback_threshold": CORE_FALLBACK_THRESHOLD,
            "core_fallback_action_name": CORE_FALLBACK_ACTION,
            "enable_fallback_prediction": True,
            "restrict_rules": True,
        },
    ],
}


def api_token() -> str:
    """The Rasa API token of the test server: ``RASA_API_TOKEN`` wins, as in the registry."""
    return os.environ.get("RASA_API_TOKEN") or "retrain-test-token"


def write_fast_config(project_dir: Path, **diet: object) -> None:
    """Write :data:`FAST_CONFIG` as the project's ``config.yml``.

    Args:
        project_dir: The project copy.
        **diet: DIETClassifier options to change (e.g. ``epochs=1``).
    """
    pipeline = [
        {**c, **diet} if c["name"] == "DIETClassifier" else c for c in FAST_CONFIG["pipeline"]
    ]
    config = {**FAST_CONFIG, "pipeline": pipeline}
    (project_dir / "config.yml").write_text(yaml.safe_dump(config))


def fast_project(work: Path, rasa_url: str) -> Settings:
    """Copy the project with the fast config under ``work`` and return settings for it.

    Creates ``work/project``, ``work/var`` (migrated case log, the API token file) and
    ``work/models``.

    Args:
        work: An empty temporary folder.
        rasa_url: The Rasa server the registry switches.

    Returns:
        Settings whose every path is under ``work``.
    """
    project = copy_project(work / "project")
    write_fast_config(project)
    var = work / "var"
    var.mkdir()
    settings = Settings(
        database_url=f"sqlite:///{var / 'cases.db'}",
        tracker_store_url=f"sqlite:///{var / 'tracker.db'}",
        var_dir=var,
        models_dir=work / "models",
        project_dir=project,
        heldout_file=project / "tests" / "nlu" / "heldout.yml",
        rasa_urls=(rasa_url,),
        max_accuracy_drop=MAX_ACCURACY_DROP,
    )
    settings.models_dir.mkdir()
    migrate(settings.database_url)
    # The registry reads the token like `make run` provides it (RASA_API_TOKEN or this file).
    (var / "rasa-api-token").write_text(api_token())
    return settings


@dataclasses.dataclass(frozen=True)
class RasaServer:
    """A Rasa server started by :func:`run_rasa`, and its authenticated HTTP API."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    log: Path

    def status(self) -> dict[str, Any]:
        """``GET /status``: the model it serves."""
        response = requests.get(f"{self.url}/status", params={"token": self.token}, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def parse(self, text: str) -> str:
        """The intent the served model gives a text (``POST /model/parse``)."""
        response = requests.post(
            f"{self.url}/model/parse",
            params={"token": self.token},
            json={"text": text},
            timeout=60,
        )
        response.raise_for_status()
        return str(response.json()["intent"]["name"])

    def wait_until_up(self, timeout: float = 180, with_model: bool = False) -> None:
        """Wait until the server answers (and, with ``with_model``, serves a model).

        Raises:
            AssertionError: If it exited or did not come up in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"Rasa exited:\n{self.log_tail()}"
            try:
                if with_model:
                    if self.status().get("model_file"):
                        return
                elif requests.get(f"{self.url}/", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise AssertionError(f"Rasa did not come up in {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, characters: int = 3000) -> str:
        """The end of the server's log."""
        return self.log.read_text(errors="replace")[-characters:]


def write_endpoints(path: Path, action_url: str, tracker_db: Path) -> Path:
    """Write an endpoints file: the action server and the project's masking SQL tracker store.

    Args:
        path: The file to write.
        action_url: The action server's base URL.
        tracker_db: The SQLite file of the tracker store.

    Returns:
        The path.
    """
    path.write_text(
        f'action_endpoint:\n  url: "{action_url}/webhook"\n'
        f"tracker_store:\n  type: {TRACKER_STORE_TYPE}\n"
        f"  dialect: sqlite\n  db: {tracker_db}\n"
    )
    return path


@contextmanager
def run_rasa(
    settings: Settings, model: Path | None = None, endpoints: Path | None = None
) -> Iterator[RasaServer]:
    """Run a Rasa server through ``python -m bot.rasa_server`` for the settings' project.

    It listens on the settings' (only) Rasa URL, on 127.0.0.1, with the API behind
    :func:`api_token`. Without ``model`` it starts with an empty models folder (the first
    activation gives it one); with ``endpoints`` it also serves the project's chat channels.

    Args:
        settings: From :func:`fast_project`.
        model: The archive to load at start.
        endpoints: An endpoints file (:func:`write_endpoints`).

    Yields:
        The server (not yet waited for: see :meth:`RasaServer.wait_until_up`).
    """
    (url,) = settings.rasa_urls
    token = api_token()
    command = rasa_command(
        "run",
        "--enable-api", "--auth-token", token,
        "-m", str(model or settings.models_dir),
        "-i", "127.0.0.1", "-p", url.rsplit(":", 1)[1],
    )  # fmt: skip
    if endpoints is not None:
        command += ["--endpoints", str(endpoints), "--credentials", str(REPO / "credentials.yml")]
    log = settings.var_dir / "rasa.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=settings.var_dir.parent,
            env=BASE_ENV,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = RasaServer(process, url, token, log)
    try:
        yield server
    finally:
        stop(process)
        print(f"\nRasa log ({log}):\n{server.log_tail()}")
