"""What the public can reach: Rasa's HTTP API, bind addresses, CORS, telemetry.

Against the real Rasa server of the ``services`` fixture (``--enable-api --auth-token``, bound to
127.0.0.1, ``--cors`` for the web app's origin), plus the start commands and deployment files
that put the servers on a machine (Procfile, Makefile, bot/stack.py, deploy/).
"""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import pytest
import requests
import socketio
import yaml

from bot.stack import BASE_ENV as STACK_ENV
from bot.stack import DEPLOY
from tests.conftest import REPO, new_sender
from tests.integration.chat import ChatSocket
from tests.integration.conftest import Services

FOREIGN_ORIGIN = "https://evil.example"

# Every route of Rasa 3.6's HTTP API (rasa/server.py) that reads or changes conversations or
# the model. Each is asked with a body that would act if the request were let through.
API_ROUTES = [
    ("GET", "/status"),
    ("GET", "/domain"),
    ("GET", "/conversations/{c}/tracker"),
    ("POST", "/conversations/{c}/tracker/events"),
    ("PUT", "/conversations/{c}/tracker/events"),
    ("GET", "/conversations/{c}/story"),
    ("POST", "/conversations/{c}/execute"),
    ("POST", "/conversations/{c}/trigger_intent"),
    ("POST", "/conversations/{c}/predict"),
    ("POST", "/conversations/{c}/messages"),
    ("POST", "/model/train"),
    ("POST", "/model/test/stories"),
    ("POST", "/model/test/intents"),
    ("POST", "/model/predict"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
]
BODY = {
    "text": "hej",
    "sender": "user",
    "name": "action_restart",
    "event": "restart",
    "model_file": "/tmp/x.tar.gz",
}


def tracker(services: Services, conversation: str, token: str | None) -> requests.Response:
    params = {"token": token} if token is not None else {}
    return requests.get(
        f"{services.rasa_url}/conversations/{conversation}/tracker", params=params, timeout=30
    )


@pytest.mark.model
@pytest.mark.parametrize("method,route", API_ROUTES, ids=[f"{m} {r}" for m, r in API_ROUTES])
def test_rasa_api_refuses_requests_without_the_token(
    services: Services, method: str, route: str
) -> None:
    url = services.rasa_url + route.format(c="someone-else")
    for params in ({}, {"token": "wrong"}, {"token": ""}):
        response = requests.request(method, url, params=params, json=BODY, timeout=30)
        assert response.status_code == 401, (method, route, params, response.text[:200])
        assert "sender_id" not in response.text and "intent" not in response.text


@pytest.mark.model
def test_a_conversation_is_readable_only_with_the_token(services: Services) -> None:
    sender = new_sender(services.rasa_url)
    requests.post(
        f"{services.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": "Behöver jag bygglov?"},
        timeout=60,
    ).raise_for_status()
    assert tracker(services, sender, None).status_code == 401
    assert tracker(services, sender, "test-token-guess").status_code == 401
    allowed = tracker(services, sender, services.token)
    assert allowed.status_code == 200
    assert allowed.json()["sender_id"] == sender
    # The refused DELETE /model above unloaded nothing.
    status = requests.get(
        f"{services.rasa_url}/status", params={"token": services.token}, timeout=30
    )
    assert status.json().get("model_file")


@pytest.mark.model
def test_open_routes_tell_only_that_rasa_runs(services: Services) -> None:
    root = requests.get(f"{services.rasa_url}/", timeout=30)
    assert root.status_code == 200 and root.text.startswith("Hello from Rasa")
    version = requests.get(f"{services.rasa_url}/version", timeout=30).json()
    assert set(version) <= {"version", "minimum_compatible_version"}


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.model
def test_rasa_listens_on_loopback_only(services: Services) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    port = int(services.rasa_url.rsplit(":", 1)[1])
    with socket.socket() as client, pytest.raises(OSError):
        client.settimeout(3)
        client.connect((address, port))


@pytest.mark.model
def test_cors_answers_only_the_configured_origin(services: Services) -> None:
    for path in ("/webhooks/rest/webhook", "/webhooks/rest/session", "/status"):
        url = services.rasa_url + path
        preflight = {"Access-Control-Request-Method": "POST"}
        foreign = requests.options(url, headers={"Origin": FOREIGN_ORIGIN, **preflight}, timeout=30)
        assert "Access-Control-Allow-Origin" not in foreign.headers, (path, foreign.headers)
        allowed = requests.options(
            url, headers={"Origin": services.web_url, **preflight}, timeout=30
        )
        assert allowed.headers.get("Access-Control-Allow-Origin") == services.web_url, path
    # A simple (non-preflighted) POST from a foreign page gets no readable answer either.
    issued = requests.post(
        f"{services.rasa_url}/webhooks/rest/session",
        headers={"Origin": FOREIGN_ORIGIN},
        timeout=30,
    )
    assert "Access-Control-Allow-Origin" not in issued.headers


async def _socket_connects(url: str, origin: str | None) -> bool:
    chat = ChatSocket()
    try:
        await chat.connect(url, origin)
    except socketio.exceptions.ConnectionError:
        return False
    await chat.close()
    return True


@pytest.mark.model
def test_socketio_accepts_pages_of_configured_origins_only(services: Services) -> None:
    url = services.rasa_url
    assert asyncio.run(_socket_connects(url, services.web_url))
    assert asyncio.run(_socket_connects(url, url))  # the server's own origin
    assert asyncio.run(_socket_connects(url, None))  # not a browser page
    assert not asyncio.run(_socket_connects(url, FOREIGN_ORIGIN))
    assert not asyncio.run(_socket_connects(url, services.web_url + ".evil.example"))


# --- the start commands and deployment files --------------------------------------------------


def procfile() -> dict[str, str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def test_procfile_binds_rasas_api_and_the_action_server_to_localhost_with_a_token() -> None:
    commands = procfile()
    rasa = commands["rasa"]
    assert "-i 127.0.0.1" in rasa
    assert '--enable-api --auth-token "$RASA_API_TOKEN"' in rasa
    assert re.search(r"--cors \"http://localhost:8000\" \"http://127.0.0.1:8000\"", rasa)
    assert "*" not in rasa
    assert commands["actions"].startswith("SANIC_HOST=127.0.0.1 ")
    assert "--host 127.0.0.1" in commands["web"]


def test_nginx_passes_only_the_chat_channels_to_rasa() -> None:
    template = (DEPLOY / "nginx.conf.template").read_text()
    to_rasa = re.findall(r"location (\S+) \{[^}]*proxy_pass http://rasa", template)
    assert sorted(to_rasa) == ["/socket.io/", "/webhooks/"]


def test_compose_and_kubernetes_publish_only_the_proxy() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    published = [name for name, service in compose["services"].items() if "ports" in service]
    assert published == ["nginx"]
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "foretagslotsen.yaml").read_text()))
    for service in (doc for doc in docs if doc["kind"] == "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]
    (ingress,) = (doc for doc in docs if doc["kind"] == "Ingress")
    to_rasa = [
        path["path"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
        if path["backend"]["service"]["name"] == "lotsen-rasa"
    ]
    assert sorted(to_rasa) == ["/socket.io/", "/webhooks/"]


def test_telemetry_is_off_wherever_rasa_runs() -> None:
    assert STACK_ENV["RASA_TELEMETRY_ENABLED"] == "false"  # make run-prod, tests, benches
    assert "export RASA_TELEMETRY_ENABLED := false" in (REPO / "Makefile").read_text()
    assert "RASA_TELEMETRY_ENABLED=false" in (DEPLOY / "Dockerfile").read_text()
    config = next(
        doc
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / "foretagslotsen.yaml").read_text())
        if doc["kind"] == "ConfigMap"
    )
    assert config["data"]["RASA_TELEMETRY_ENABLED"] == "false"
    for script in (REPO / "scripts" / "run-prod", REPO / ".ci" / "run"):
        assert "RASA_TELEMETRY_ENABLED=false" in Path(script).read_text()
