"""A Rasa server of the production profile refuses to run where it would lose conversations."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from bot.health import EXIT_NOT_DURABLE
from bot.stack import BASE_ENV, DEPLOY, RASA, REPO_ROOT, free_port

pytestmark = pytest.mark.model


def run_rasa(model: Path, workdir: Path, endpoints: str, env: dict[str, str]) -> tuple[int, str]:
    """Start a Rasa server and wait (bounded) for it to exit."""
    (workdir / "endpoints.yml").write_text(endpoints)
    (workdir / "credentials.yml").write_text(
        "bot.health.DurableRestInput:\nbot.health.HealthInput:\n  require_redis: false\n"
    )
    log = workdir / "rasa.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                RASA,
                "run",
                "-m",
                str(model),
                "--endpoints",
                str(workdir / "endpoints.yml"),
                "--credentials",
                str(workdir / "credentials.yml"),
                "--logging-config-file",
                str(DEPLOY / "logging.yml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port()),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **BASE_ENV, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            code = process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"Rasa kept running:\n{log.read_text()[-3000:]}")
    return code, log.read_text()


def test_in_memory_fallback_makes_the_server_exit(trained_model: Path, tmp_path: Path) -> None:
    # A wrong module path: Rasa itself would log a warning and keep conversations in memory.
    started = time.monotonic()
    code, log = run_rasa(
        trained_model,
        tmp_path,
        "tracker_store:\n  type: bot.tracker_store.NoSuchStore\n",
        {},
    )
    assert code == EXIT_NOT_DURABLE, log[-3000:]
    assert "Refusing to run: tracker store is InMemoryTrackerStore" in log
    print(f"refused after {time.monotonic() - started:.0f} s")


def test_unreachable_tracker_database_stops_the_start(trained_model: Path, tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    code, log = run_rasa(
        trained_model,
        tmp_path,
        "tracker_store:\n  type: bot.tracker_store.DurableSQLTrackerStore\n"
        "  url: ${TRACKER_STORE_URL}\n",
        {
            "TRACKER_STORE_URL": f"postgresql://lotsen:x@127.0.0.1:{port}/lotsen_tracker",
            "LOTSEN_TRACKER_CONNECT_SECONDS": "2",
        },
    )
    assert code != 0, log[-3000:]
    assert "TrackerStoreUnavailableError" in log or "tracker store database unreachable" in log
    assert "x@127.0.0.1" not in log  # the password is not logged
