"""The deployment files parse, name the durable stores, and hold no password."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bench.reliability import UNAVAILABLE_MARK
from bot.health import UNAVAILABLE_TEXT
from bot.stack import compose_nginx_conf

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
YAML_FILES = sorted([*DEPLOY.glob("*.yml"), *DEPLOY.glob("k8s/*.yaml")])


class EnvLoader(yaml.SafeLoader):
    """SafeLoader that accepts docker compose's merge keys and ${VAR} strings as they are."""


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_deploy_yaml_parses(path: Path) -> None:
    documents = [doc for doc in yaml.load_all(path.read_text(), Loader=EnvLoader) if doc]
    assert documents


def test_compose_takes_every_secret_from_the_environment() -> None:
    compose = yaml.load((DEPLOY / "docker-compose.yml").read_text(), Loader=EnvLoader)
    services = compose["services"]
    expected = {"postgres", "redis", "rasa-1", "rasa-2", "actions-1", "actions-2", "web", "nginx"}
    assert expected <= set(services)
    text = (DEPLOY / "docker-compose.yml").read_text()
    for name in (
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "RASA_API_TOKEN",
        "LOTSEN_SECRET_KEY",
        "LOTSEN_SENDER_KEY",
    ):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, name
        # Required (compose stops without it), never with a default value.
        assert all(use.startswith(":?") for use in uses), (name, uses)
    env = services["rasa-1"]["environment"]
    assert "${POSTGRES_PASSWORD:?" in env["TRACKER_STORE_URL"]


def test_kubernetes_manifests_read_secrets_from_a_secret_object() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "foretagslotsen.yaml").read_text()))
    kinds = [doc["kind"] for doc in docs]
    assert "Secret" not in kinds  # created by the operator, never shipped
    deployments = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Deployment"}
    assert deployments["lotsen-rasa"]["spec"]["replicas"] == 2
    assert deployments["lotsen-actions"]["spec"]["replicas"] == 2
    for deployment in deployments.values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {"secretRef": {"name": "lotsen-secrets"}} in container["envFrom"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_production_endpoints_use_the_durable_stores() -> None:
    endpoints = yaml.safe_load((DEPLOY / "endpoints.prod.yml").read_text())
    assert endpoints["tracker_store"]["type"] == "bot.tracker_store.DurableSQLTrackerStore"
    assert endpoints["lock_store"]["type"] == "bot.lock_store.DurableRedisLockStore"
    assert endpoints["lock_store"]["password"] == "${REDIS_PASSWORD}"
    credentials = yaml.safe_load((DEPLOY / "credentials.prod.yml").read_text())
    assert set(credentials) == {
        "bot.health.DurableRestInput",
        "bot.health.DurableSocketIOInput",
        "bot.health.HealthInput",
    }


def test_committed_nginx_conf_is_rendered_from_the_template() -> None:
    # Regenerate with: .venv/bin/python -m bot.stack render-nginx > deploy/nginx.conf
    assert (DEPLOY / "nginx.conf").read_text() == compose_nginx_conf()


def test_load_client_recognises_the_apology() -> None:
    assert UNAVAILABLE_MARK in UNAVAILABLE_TEXT
