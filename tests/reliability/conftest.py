"""Fixtures of the reliability suite: real PostgreSQL, Redis and nginx from Debian's packages.

The services are started by the tests on free ports in temporary directories (bot/stack.py)
and stopped afterwards. Without the packages the suite is skipped locally and fails in CI
(``CI=true``), where .ci/services installs them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.stack import Postgres, StackError, free_port, postgres_bin


def _require_packages() -> None:
    missing = []
    try:
        postgres_bin("pg_ctl")
    except StackError:
        missing.append("postgresql")
    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        missing.append("redis-server")
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        missing.append("nginx")
    if missing:
        message = f"reliability suite needs: apt-get install {' '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def packages() -> None:
    """Skip (or fail in CI) without PostgreSQL, Redis and nginx."""
    _require_packages()


@pytest.fixture(scope="module")
def postgres(packages: None) -> Iterator[Postgres]:
    """A PostgreSQL cluster with password authentication, for this test module."""
    base = Path(tempfile.mkdtemp(prefix="lotsen-pg-"))
    server = Postgres(base, free_port(), os.urandom(12).hex())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
