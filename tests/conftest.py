"""Session fixtures shared by the integration and browser tests.

They train the model once per session and start real Rasa and action servers. Rasa allows CORS
from the origin of the web app that the browser tests start (``Services.web_url``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot.db import migrate
from bot.rasa_server import rasa_command
from bot.stack import free_port

REPO = Path(__file__).resolve().parents[1]
RASA = str(Path(sys.executable).with_name("rasa"))
BASE_ENV = {
    **os.environ,
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    # The signing key of sender ids (bot/sender_ids.py), shared by the test servers; the
    # repository's var/sender-key is never created by tests.
    "LOTSEN_SENDER_KEY": "test-sender-key",
}
# The project's store (endpoints.yml): Rasa's SQL store that masks personal data before storing.
TRACKER_STORE_TYPE = "bot.tracker_store.MaskingSQLTrackerStore"


def new_sender(rasa_url: str) -> str:
    """A sender id issued by the Rasa server (``POST /webhooks/rest/session``)."""
    response = requests.post(f"{rasa_url}/webhooks/rest/session", timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["sender"])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout} s:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The project's model, trained with the real config (Rasa skips training when up to date)."""
    started = time.monotonic()
    result = subprocess.run(
        [RASA, "train", "--out", "models", "--quiet"],
        cwd=REPO,
        env=BASE_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    models = sorted((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    assert models, "rasa train produced no model"
    print(f"\nrasa train (or up-to-date check) took {time.monotonic() - started:.1f} s")
    return models[-1]


@dataclass(frozen=True)
class Services:
    """Running servers for one test session."""

    rasa_url: str
    action_url: str
    database_url: str
    endpoints: Path
    tracker_db: Path
    token: str
    web_url: str
    rasa_log: Path | None = None
    action_log: Path | None = None


@pytest.fixture(scope="session")
def services(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Start an action server and a Rasa server on free ports with temporary SQLite files."""
    workdir = tmp_path_factory.mktemp("services")
    database_url = f"sqlite:///{workdir / 'cases.db'}"
    migrate(database_url)
    action_port, rasa_port, web_port = free_port(), free_port(), free_port()
    # The browser tests serve the demo page from here; Rasa must accept its origin (socket.io).
    web_url = f"http://127.0.0.1:{web_port}"
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
        f"tracker_store:\n  type: {TRACKER_STORE_TYPE}\n"
        f"  dialect: sqlite\n  db: {workdir / 'tracker.db'}\n"
    )
    # LOTSEN_PROXIES_COUNT=1: the rate-limit tests act as many clients with X-Forwarded-For
    # (without the header a request counts for its peer address, 127.0.0.1).
    env = {
        **BASE_ENV,
        "DATABASE_URL": database_url,
        "SANIC_HOST": "127.0.0.1",
        "LOTSEN_PROXIES_COUNT": "1",
    }
    action_log = workdir / "actions.log"
    rasa_log = workdir / "rasa.log"
    token = "test-token"
    with action_log.open("wb") as alog, rasa_log.open("wb") as rlog:
        actions = subprocess.Popen(
            rasa_command("run", "actions", "-p", str(action_port), "--actions", "actions"),
            cwd=REPO,
            env=env,
            stdout=alog,
            stderr=subprocess.STDOUT,
        )
        rasa = subprocess.Popen(
            [
                # The launcher every profile uses: Rasa's CLI with the project's speed-ups.
                sys.executable,
                "-m",
                "bot.rasa_server",
                "run",
                "-m",
                str(trained_model),
                "--endpoints",
                str(endpoints),
                "--credentials",
                "credentials.yml",
                "-i",
                "127.0.0.1",
                "-p",
                str(rasa_port),
                "--enable-api",
                "--auth-token",
                token,
                "--cors",
                web_url,
            ],
            cwd=REPO,
            env=env,
            stdout=rlog,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"http://127.0.0.1:{action_port}/health", actions, action_log)
            wait_for(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log)
            # The model is loaded when /status answers with a fingerprint.
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                status = requests.get(
                    f"http://127.0.0.1:{rasa_port}/status", params={"token": token}, timeout=5
                )
                if status.ok and status.json().get("model_file"):
                    break
                time.sleep(0.5)
            yield Services(
                rasa_url=f"http://127.0.0.1:{rasa_port}",
                action_url=f"http://127.0.0.1:{action_port}",
                database_url=database_url,
                endpoints=endpoints,
                tracker_db=workdir / "tracker.db",
                token=token,
                web_url=web_url,
                rasa_log=rasa_log,
                action_log=action_log,
            )
        finally:
            stop(rasa)
            stop(actions)
