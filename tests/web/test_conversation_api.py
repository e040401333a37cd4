"""The widget's delete endpoint against a real web app process and a Rasa-shaped tracker table."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot.sender_ids import SenderIds
from bot.web.conversation import delete_conversation
from tests.conftest import BASE_ENV, REPO, free_port, stop, wait_for

# Signed with the test servers' key, as the Rasa server issues them (bot/sender_ids.py).
SIGNER = SenderIds(key=BASE_ENV["LOTSEN_SENDER_KEY"].encode())
MINE = SIGNER.issue()
OTHER = SIGNER.issue()
# The right shape, but not signed with the servers' key: a guessed or forged id.
FORGED = SenderIds(key=b"an attacker's key").issue()


def make_tracker(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL,"
            " type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255),"
            " action_name VARCHAR(255), data TEXT)"
        )
        for sender in (MINE, MINE, OTHER, "rest-user"):
            connection.execute(
                "INSERT INTO events (sender_id, type_name, data) VALUES (?, 'user', '{}')",
                (sender,),
            )


def senders(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT sender_id FROM events ORDER BY id").fetchall()
    return [row[0] for row in rows]


@dataclass(frozen=True)
class WebApp:
    url: str
    tracker: Path


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[WebApp]:
    tracker = tmp_path / "tracker.db"
    make_tracker(tracker)
    port = free_port()
    log = tmp_path / "web.log"
    env = {
        **BASE_ENV,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cases.db'}",
        "TRACKER_STORE_URL": f"sqlite:///{tracker}",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/integritet", process, log, timeout=60)
            yield WebApp(f"http://127.0.0.1:{port}", tracker)
        finally:
            stop(process)


def test_delete_conversation_removes_only_that_senders_events(tmp_path: Path) -> None:
    tracker = tmp_path / "tracker.db"
    make_tracker(tracker)
    assert delete_conversation(f"sqlite:///{tracker}", MINE) == 2
    assert senders(tracker) == [OTHER, "rest-user"]


def test_delete_conversation_refuses_ids_the_widget_does_not_make(tmp_path: Path) -> None:
    tracker = tmp_path / "tracker.db"
    make_tracker(tracker)
    for bad in ("rest-user", "%", MINE.upper(), MINE + "0", MINE.split(".")[0], ""):
        with pytest.raises(ValueError):
            delete_conversation(f"sqlite:///{tracker}", bad)
    assert len(senders(tracker)) == 4


def test_delete_endpoint_deletes_the_session_the_browser_holds(web_app: WebApp) -> None:
    response = requests.post(
        f"{web_app.url}/widget/api/conversation/delete", json={"session_id": MINE}, timeout=10
    )
    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert senders(web_app.tracker) == [OTHER, "rest-user"]


def test_delete_endpoint_rejects_other_senders_and_form_posts(web_app: WebApp) -> None:
    url = f"{web_app.url}/widget/api/conversation/delete"
    assert requests.post(url, json={"session_id": "rest-user"}, timeout=10).status_code == 400
    assert requests.post(url, json={}, timeout=10).status_code == 400
    assert requests.post(url, data={"session_id": MINE}, timeout=10).status_code == 415
    assert len(senders(web_app.tracker)) == 4


def test_delete_endpoint_refuses_a_guessed_or_forged_session_id(web_app: WebApp) -> None:
    url = f"{web_app.url}/widget/api/conversation/delete"
    with sqlite3.connect(web_app.tracker) as connection:
        connection.execute(
            "INSERT INTO events (sender_id, type_name, data) VALUES (?, 'user', '{}')", (FORGED,)
        )
    random_part, signature = OTHER.split(".")
    for guessed in (
        FORGED,  # signed with another key
        f"{random_part}.{'0' * 32}",  # a real conversation's id with a guessed signature
        f"{'0' * 32}.{signature}",  # a real signature on another id
        "0123456789abcdef0123456789abcdef",  # the widget's old unsigned ids
    ):
        response = requests.post(url, json={"session_id": guessed}, timeout=10)
        assert response.status_code in (400, 403), (guessed, response.status_code)
    assert senders(web_app.tracker) == [MINE, MINE, OTHER, "rest-user", FORGED]
    forged = requests.post(url, json={"session_id": FORGED}, timeout=10)
    assert forged.status_code == 403


def test_privacy_page_says_what_is_stored_why_and_how_long(web_app: WebApp) -> None:
    page = requests.get(f"{web_app.url}/integritet", timeout=10)
    assert page.status_code == 200
    for heading in ("Vad sparas?", "Varför?", "Hur länge?", "Avsluta och radera"):
        assert heading in page.text


def test_demo_page_embeds_the_widget_with_one_script_tag(web_app: WebApp) -> None:
    page = requests.get(web_app.url, timeout=10).text
    assert page.count("<script") == 1
    assert '<script src="/static/widget/foretagslotsen.js" data-socket-url="' in page
    for asset in ("foretagslotsen.js", "foretagslotsen.css"):
        response = requests.get(f"{web_app.url}/static/widget/{asset}", timeout=10)
        assert response.status_code == 200
        assert len(response.content) > 1000
