"""The Rasa server launcher (bot.rasa_server): cached action-result validation, same verdicts.

Every answer below goes through Rasa's own ``RemoteAction._validate_action_result`` and through
the cached validator; both must accept the same answers and reject the others with the same
error (message, path, failing keyword).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot import rasa_server

REPO = Path(__file__).resolve().parents[2]

VALID: list[dict[str, Any]] = [
    {},
    {"events": [], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "contact_name", "value": "Anna Svensson"},
            {"event": "slot", "name": "requested_slot", "value": None},
            {"event": "active_loop", "name": None},
            {"event": "followup", "name": "action_listen"},
            {"event": "bot", "text": "Tack!", "data": {}},
        ],
        "responses": [{"text": "Ärendet har nummer FL-2026-0001.", "buttons": []}],
    },
    {"events": [{"event": "slot", "name": "org_number", "value": 5560160680}]},
    {"responses": [{"response": "utter_greet"}]},
]

INVALID: list[Any] = [
    [],
    "ok",
    {"events": "slot"},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot"}]},
    {"events": [{"name": "contact_name", "value": "x"}]},
    {"events": [None]},
    {"events": [{"event": "slot", "name": 3, "value": 1}]},
    {"events": [{"event": "user", "text": 5}]},
    {"responses": [1]},
    {"responses": {"text": "hej"}},
    {"responses": "hej"},
    {"events": [{"event": "slot", "name": "x", "value": 1}, {"event": "slot"}]},
]


@pytest.fixture
def rasa_validate(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Rasa's own validation; the class attribute is restored after the test."""
    original = RemoteAction._validate_action_result
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)
    return original


def _verdict(validate: Any, action: RemoteAction, result: Any) -> tuple[str, ...] | None:
    try:
        assert validate(action, result) is True
    except ValidationError as error:
        return (error.message, str(list(error.absolute_path)), str(error.validator))
    return None


@pytest.mark.parametrize("result", VALID)
def test_cached_validation_accepts_what_rasa_accepts(rasa_validate: Any, result: Any) -> None:
    action = RemoteAction("action_create_case", None)
    assert _verdict(rasa_validate, action, result) is None
    assert _verdict(rasa_server.validate_action_result, action, result) is None


@pytest.mark.parametrize("result", INVALID)
def test_cached_validation_rejects_what_rasa_rejects_with_the_same_error(
    rasa_validate: Any, result: Any
) -> None:
    action = RemoteAction("action_create_case", None)
    expected = _verdict(rasa_validate, action, result)
    assert expected is not None
    assert "Failed to validate Action server response" in expected[0]
    assert _verdict(rasa_server.validate_action_result, action, result) == expected


def test_install_replaces_rasas_method_and_the_schema_is_checked_once(
    rasa_validate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rasa_server._response_validator.cache_clear()
    checks: list[object] = []
    from jsonschema.validators import validator_for

    validator_class = validator_for(RemoteAction.action_response_format_spec())
    original_check = validator_class.check_schema
    monkeypatch.setattr(
        validator_class,
        "check_schema",
        classmethod(lambda cls, schema: (checks.append(schema), original_check(schema))[1]),
    )
    rasa_server.install_cached_action_validation()
    action = RemoteAction("action_create_case", None)
    for result in VALID * 3:
        assert action._validate_action_result(result) is True
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": "slot"})
    assert len(checks) == 1
    assert RemoteAction._validate_action_result is rasa_server.validate_action_result


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_importing_the_launcher_patches_nothing() -> None:
    result = _python(
        "import bot.rasa_server\n"
        "from rasa.core.actions.action import RemoteAction\n"
        "print(RemoteAction._validate_action_result.__module__)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["rasa.core.actions.action"]


def test_launcher_runs_rasas_command_line_with_the_patch_installed() -> None:
    # Rasa's real command line (`rasa --version`) runs in the process the launcher patched.
    result = _python(
        "from bot import rasa_server\n"
        "from rasa.core.actions.action import RemoteAction\n"
        "try:\n"
        "    rasa_server.main(['--version'])\n"
        "finally:\n"
        "    print('patched-module', RemoteAction._validate_action_result.__module__)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Rasa Version" in result.stdout
    assert "patched-module bot.rasa_server" in result.stdout


# --- The tracker store's SQLite settings and masked appends -----------------------------------


def _conversation() -> list[Any]:
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered

    return [
        ActionExecuted("action_listen"),
        UserUttered("mitt personnummer är 19900101-0017, mejla anna@exempel.se"),
        ActiveLoop("contact_form"),
        SlotSet("requested_slot", "contact"),
        ActionExecuted("action_listen"),
        UserUttered("anna@exempel.se eller 070-123 45 67"),
        SlotSet("contact", "anna@exempel.se"),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted("action_listen"),
        UserUttered("ring 08-123 456 78"),
    ]


def test_masking_store_appends_each_new_event_once_masked_as_the_whole_session(
    tmp_path: Path,
) -> None:
    import asyncio
    import json

    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import create_engine, text

    from bot.privacy import mask_event_dicts
    from bot.tracker_store import MaskingSQLTrackerStore

    db = tmp_path / "tracker.db"
    store = MaskingSQLTrackerStore(dialect="sqlite", db=str(db))
    events = _conversation()
    tracker = DialogueStateTracker("s1", [])
    # Saved turn by turn, as the Rasa server does after every message.
    for turn in ([0, 1, 2, 3], [4, 5, 6, 7, 8], [9, 10]):
        for index in turn:
            tracker.update(events[index])
        asyncio.run(store.save(tracker))
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        stored = [json.loads(r[0]) for r in connection.execute(text("SELECT data FROM events"))]
        journal = connection.execute(text("PRAGMA journal_mode")).scalar()
    engine.dispose()
    expected = mask_event_dicts(event.as_dict() for event in tracker.events)
    assert stored == expected
    dump = json.dumps(stored)
    assert "19900101-0017" not in dump and "08-123 456 78" not in dump
    # The contact form's own answer keeps the address the case needs.
    assert stored[5]["text"] == "anna@exempel.se eller 070-123 45 67"
    assert "anna@exempel.se" not in stored[1]["text"]
    assert journal == "wal"


def test_masking_store_keeps_its_sqlite_connections_open(tmp_path: Path) -> None:
    import asyncio

    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import event

    from bot.tracker_store import MaskingSQLTrackerStore

    store = MaskingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))
    connects: list[object] = []
    event.listen(store.engine, "connect", lambda *_: connects.append(1))
    tracker = DialogueStateTracker.from_events("s2", _conversation())
    for _ in range(5):
        asyncio.run(store.save(tracker))
        assert asyncio.run(store.retrieve("s2")) is not None
    assert len(connects) <= 1
    assert store.engine.dialect.name == "sqlite"


# --- Event classes by type name -------------------------------------------------------------


def _event_type_names() -> list[str]:
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    return sorted({c.type_name for c in all_subclasses(Event)})


@pytest.mark.parametrize("name", [*_event_type_names(), "topic", "no_such_event"])
def test_cached_event_types_give_rasas_answers(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.shared.core.events import Event, UserUttered

    original = Event.__dict__["resolve_by_type"]
    monkeypatch.setattr(Event, "resolve_by_type", original)
    answers: list[object] = []
    for resolve in (Event.resolve_by_type, rasa_server.resolve_event_type):
        for default in (None, UserUttered):
            try:
                answers.append(resolve(name, default))
            except ValueError as error:
                answers.append(str(error))
    assert answers[:2] == answers[2:]
    rasa_server.install_cached_event_types()
    assert Event.resolve_by_type(name, UserUttered) == answers[1]


def test_events_read_back_equal_with_cached_event_types(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.shared.core.events import Event

    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    dicts = [event.as_dict() for event in _conversation()]
    before = [Event.from_parameters(d) for d in dicts]
    rasa_server.install_cached_event_types()
    after = [Event.from_parameters(d) for d in dicts]
    assert after == before and all(e is not None for e in after)


def test_an_event_class_defined_later_is_still_found() -> None:
    from rasa.shared.core.events import ActionExecuted

    assert rasa_server.resolve_event_type("lotsen_test_event", ActionExecuted) is ActionExecuted

    class LotsenTestEvent(ActionExecuted):
        type_name = "lotsen_test_event"

    assert rasa_server.resolve_event_type("lotsen_test_event") is LotsenTestEvent


def test_rasa_crash_reports_are_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa ships a Sentry key and its CLI reports crashes whatever telemetry says: not ours."""
    import rasa.telemetry
    import sentry_sdk

    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    assert rasa.telemetry.sentry_write_key(), "Rasa's package no longer ships a Sentry key"
    monkeypatch.setattr(
        rasa.telemetry, "initialize_error_reporting", rasa.telemetry.initialize_error_reporting
    )
    rasa_server.disable_error_reporting()
    rasa.telemetry.initialize_error_reporting()
    assert sentry_sdk.Hub.current.client is None


def test_every_rasa_command_goes_through_the_launcher() -> None:
    command = rasa_server.rasa_command("run", "actions")
    assert command == [sys.executable, "-m", "bot.rasa_server", "run", "actions"]
    procfile = (REPO / "Procfile").read_text()
    for line in procfile.splitlines():
        if line.startswith(("rasa:", "actions:")):
            assert "-m bot.rasa_server" in line, line


# --- Kept-alive connections for Rasa's HTTP calls ---------------------------------------------


async def test_endpoint_requests_reuse_one_connection_with_rasas_headers_and_auth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    monkeypatch.setattr(EndpointConfig, "session", EndpointConfig.__dict__["session"])
    rasa_server.install_pooled_http_sessions()
    peers: list[Any] = []
    seen: list[tuple[str | None, str | None]] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        seen.append((request.headers.get("X-Kommun"), request.headers.get("Authorization")))
        return web.json_response({"events": [], "responses": [], "n": len(peers)})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        endpoint = EndpointConfig(
            f"http://127.0.0.1:{port}/webhook",
            headers={"X-Kommun": "Gorvik"},
            basic_auth={"username": "lotsen", "password": "hemligt"},
        )
        answers = [await endpoint.request(json={"next_action": "x"}) for _ in range(3)]
    finally:
        await rasa_server.shared_connector().close()
        await runner.cleanup()
    assert [a["n"] for a in answers] == [1, 2, 3]
    assert len(set(peers)) == 1  # one TCP connection for the three calls
    assert all(header == "Gorvik" and auth and auth.startswith("Basic ") for header, auth in seen)
