"""The production topology on one machine, without Docker (``make run-prod``, tests, benches).

PostgreSQL (tracker store and case log), Redis (lock store), two Rasa processes, two action
servers, the web app and nginx in front, from Debian's ``postgresql``, ``redis-server`` and
``nginx`` packages. Every service listens on 127.0.0.1; ports are free ones unless given.
PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user in a data
directory owned by it. Passwords are random per stack (or read from the environment), written
only to files of mode 0600, and never printed.

``python -m bot.stack run`` starts everything and waits (Ctrl-C stops all);
``python -m bot.stack render-nginx`` prints ``deploy/nginx.conf`` for docker compose.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bot.settings import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
RASA = str(Path(sys.executable).with_name("rasa"))
BASE_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


EXIT_NOT_DURABLE = 78
"""Exit code of a Rasa server that refuses to run without durable stores (bot/health.py)."""


class StackError(RuntimeError):
    """A service of the stack could not be started."""


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin(name: str) -> str:
    """Find a PostgreSQL server program (Debian keeps them out of PATH).

    Args:
        name: ``initdb``, ``pg_ctl``, ``pg_dump``, ...

    Returns:
        Its path.

    Raises:
        StackError: If PostgreSQL is not installed.
    """
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
    )
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise StackError(f"{name} not found: apt-get install postgresql")


def _as_postgres_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _owner_ids() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _secret_file(path: Path, value: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)


def _read_or_create_secret(directory: Path, name: str, env: str) -> str:
    if os.environ.get(env):
        return os.environ[env]
    path = directory / name
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    _secret_file(path, value)
    return value


@dataclasses.dataclass
class Postgres:
    """A PostgreSQL cluster in its own directory, on a TCP port of 127.0.0.1."""

    base: Path
    port: int
    password: str
    user: str = "lotsen"

    @property
    def data(self) -> Path:
        """Path: The cluster's data directory."""
        return self.base / "data"

    def url(self, database: str) -> str:
        """SQLAlchemy URL of a database of this cluster.

        Args:
            database: Database name.

        Returns:
            The URL (with the password: keep it out of logs).
        """
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        result = subprocess.run(  # noqa: S603 - fixed programs, no shell
            [*_as_postgres_user(), *args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise StackError(f"{Path(args[0]).name} failed: {result.stderr[-2000:]}")

    def init(self) -> None:
        """Create the cluster (once) with password authentication for every connection."""
        self.base.mkdir(parents=True, exist_ok=True)
        ids = _owner_ids()
        if ids is not None:
            os.chown(self.base, *ids)
        if (self.data / "PG_VERSION").exists():
            return
        pwfile = self.base / "pwfile"
        _secret_file(pwfile, self.password)
        if ids is not None:
            os.chown(pwfile, *ids)
        try:
            self._run(
                postgres_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink()

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c max_connections=300"
        )
        self._run(
            postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.base / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server.

        Args:
            mode: ``smart``, ``fast`` or ``immediate`` (a crash, recovered on next start).
        """
        with contextlib.suppress(StackError):
            self._run(postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again (the connections of every client drop).

        Args:
            mode: Stop mode, see :meth:`stop`.
        """
        self.stop(mode)
        self.start()

    def create_database(self, name: str) -> None:
        """Create a database unless it exists.

        Args:
            name: Database name (letters, digits, underscores).
        """
        import psycopg2

        if not name.replace("_", "").isalnum():
            raise ValueError(name)
        connection = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def client_env(self) -> dict[str, str]:
        """Environment for ``pg_dump``/``pg_restore``/``psql`` against this cluster."""
        return {
            **os.environ,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
        }


@dataclasses.dataclass
class Service:
    """A process of the stack that can be killed and started again."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    health_url: str | None = None
    process: subprocess.Popen[bytes] | None = None
    _log_handle: IO[bytes] | None = None

    def start(self) -> None:
        """Start the process, appending to its log."""
        self._log_handle = self.log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - fixed programs, no shell
            self.command,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Kill the process with SIGKILL (a crash: no clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 20) -> None:
        """Stop the process with SIGTERM, then SIGKILL after a timeout."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def wait_healthy(self, timeout: float = 240) -> None:
        """Wait until the health URL answers 200.

        Args:
            timeout: Seconds.

        Raises:
            StackError: If the process exits or stays unhealthy.
        """
        if self.health_url is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise StackError(f"{self.name} exited:\n{tail(self.log)}")
            if http_status(self.health_url) == 200:
                return
            time.sleep(0.5)
        raise StackError(f"{self.name} not healthy in {timeout} s:\n{tail(self.log)}")


def tail(path: Path, size: int = 4000) -> str:
    """Return the end of a log file."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def http_status(url: str, timeout: float = 3) -> int | None:
    """GET a loopback URL and return its status, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


def newest_model(models_dir: Path = REPO_ROOT / "models") -> Path:
    """Return the model to serve: the registry's active one, else the newest trained one.

    Raises:
        StackError: If there is none (run ``make model``).
    """
    active = models_dir / "active.tar.gz"
    if active.is_file():
        return active
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise StackError("no trained model in models/: run make model")
    return models[-1]


def render_nginx(
    listen: str,
    actions_listen: str,
    rasa: list[str],
    actions: list[str],
    web: list[str],
    main: str = "",
    http: str = "",
) -> str:
    """Fill in deploy/nginx.conf.template.

    Args:
        listen: Public ``host:port``.
        actions_listen: Internal ``host:port`` for the action servers.
        rasa: Rasa servers ``host:port``.
        actions: Action servers ``host:port``.
        web: Web app servers ``host:port``.
        main: Extra directives in nginx's main context.
        http: Extra directives in the http context.

    Returns:
        The nginx configuration.
    """

    def servers(addresses: list[str], extra: str = "") -> str:
        return "\n        ".join(f"server {a}{extra};" for a in addresses)

    template = string.Template((DEPLOY / "nginx.conf.template").read_text())
    return template.safe_substitute(
        NGINX_MAIN=main,
        NGINX_HTTP=http,
        LISTEN=listen,
        ACTIONS_LISTEN=actions_listen,
        RASA_SERVERS=servers(rasa, " max_fails=0"),
        ACTION_SERVERS=servers(actions, " max_fails=0"),
        WEB_SERVERS=servers(web),
    )


def compose_nginx_conf() -> str:
    """The nginx configuration of deploy/docker-compose.yml (service names, fixed ports)."""
    return render_nginx(
        listen="80",
        actions_listen="5056",
        rasa=["rasa-1:5005", "rasa-2:5005"],
        actions=["actions-1:5055", "actions-2:5055"],
        web=["web:8000"],
        main="pid /tmp/nginx.pid;",
        http="resolver 127.0.0.11 valid=10s;",
    )


@dataclasses.dataclass
class Stack:
    """The whole production topology on this machine."""

    workdir: Path
    pg_base: Path
    model: Path
    rasa_replicas: int = 2
    action_replicas: int = 2
    with_web: bool = True
    public_port: int = dataclasses.field(default_factory=free_port)
    actions_port: int = dataclasses.field(default_factory=free_port)
    tracker_retry_seconds: float = 30.0
    lock_lifetime: int = 20
    services: dict[str, Service] = dataclasses.field(default_factory=dict)
    postgres: Postgres | None = None
    redis_port: int = 0
    redis_password: str = ""
    rasa_token: str = ""
    sender_key: str = ""
    rate_limit_ip: str = ""
    """``LOTSEN_RATE_LIMIT_IP`` of the chat (``off`` for load runs, which come from one address)."""

    @property
    def public_url(self) -> str:
        """str: nginx's public address."""
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def database_url(self) -> str:
        """str: The case log's URL."""
        assert self.postgres is not None
        return self.postgres.url("lotsen_cases")

    @property
    def tracker_url(self) -> str:
        """str: The tracker store's URL."""
        assert self.postgres is not None
        return self.postgres.url("lotsen_tracker")

    def rasa_names(self) -> list[str]:
        """Names of the Rasa services."""
        return [f"rasa-{i + 1}" for i in range(self.rasa_replicas)]

    def action_names(self) -> list[str]:
        """Names of the action services."""
        return [f"actions-{i + 1}" for i in range(self.action_replicas)]

    def service_env(self) -> dict[str, str]:
        """Environment shared by the Python services (holds secrets: never log it)."""
        return {
            **os.environ,
            **BASE_ENV,
            "DATABASE_URL": self.database_url,
            "TRACKER_STORE_URL": self.tracker_url,
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_port),
            "REDIS_PASSWORD": self.redis_password,
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.actions_port}/webhook",
            "TICKET_LOCK_LIFETIME": str(self.lock_lifetime),
            "LOTSEN_TRACKER_RETRY_SECONDS": str(self.tracker_retry_seconds),
            "SANIC_HOST": "127.0.0.1",
            # A Rasa process busy with NLU accepts new connections late; a deep accept queue
            # keeps them waiting instead of dropping them (Sanic's default is 100).
            "SANIC_BACKLOG": "1024",
            # Behind nginx: login throttling and the chat's rate limits (shared by the Rasa
            # processes through REDIS_HOST) use the forwarded client address.
            "LOTSEN_PROXIES_COUNT": "1",
            # Every Rasa process and the web app check the same signed sender ids.
            "LOTSEN_SENDER_KEY": self.sender_key,
            **({"LOTSEN_RATE_LIMIT_IP": self.rate_limit_ip} if self.rate_limit_ip else {}),
        }

    # --- infrastructure -------------------------------------------------------------------

    def start_postgres(self) -> Postgres:
        """Initialise (once) and start PostgreSQL, create the databases, migrate the case log."""
        secrets_dir = self.workdir / "secrets"
        password = _read_or_create_secret(secrets_dir, "postgres-password", "POSTGRES_PASSWORD")
        self.postgres = Postgres(self.pg_base, free_port(), password)
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database("lotsen_cases")
        self.postgres.create_database("lotsen_tracker")
        from bot.db import migrate

        migrate(self.database_url)
        return self.postgres

    def start_redis(self) -> None:
        """Start Redis with a password from a 0600 config file, without persistence."""
        self.redis_password = _read_or_create_secret(
            self.workdir / "secrets", "redis-password", "REDIS_PASSWORD"
        )
        self.redis_port = free_port()
        redis_dir = self.workdir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        config = redis_dir / "redis.conf"
        _secret_file(
            config,
            f"port {self.redis_port}\nbind 127.0.0.1\nprotected-mode yes\n"
            f'requirepass {self.redis_password}\nsave ""\nappendonly no\n'
            f"dir {redis_dir}\n",
        )
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        service = Service("redis", [server, str(config)], dict(os.environ), redis_dir / "log")
        self.services["redis"] = service
        service.start()
        deadline = time.monotonic() + 30
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.redis_port, password=self.redis_password)
        while True:
            try:
                client.ping()
                break
            except redis.RedisError as error:
                if time.monotonic() > deadline or not service.running():
                    raise StackError(f"redis did not start: {tail(service.log)}") from error
                time.sleep(0.2)
        client.close()

    def _nginx_conf(self, rasa_ports: list[int], action_ports: list[int], web_port: int) -> Path:
        ngx = self.workdir / "nginx"
        for sub in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
            (ngx / sub).mkdir(parents=True, exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        main = f"{user}daemon off;\npid {ngx}/nginx.pid;\nerror_log {ngx}/error.log warn;"
        http = (
            f"client_body_temp_path {ngx}/client;\nproxy_temp_path {ngx}/proxy;\n"
            f"    fastcgi_temp_path {ngx}/fastcgi;\n    uwsgi_temp_path {ngx}/uwsgi;\n"
            f"    scgi_temp_path {ngx}/scgi;"
        )
        conf = ngx / "nginx.conf"
        conf.write_text(
            render_nginx(
                listen=f"127.0.0.1:{self.public_port}",
                actions_listen=f"127.0.0.1:{self.actions_port}",
                rasa=[f"127.0.0.1:{p}" for p in rasa_ports],
                actions=[f"127.0.0.1:{p}" for p in action_ports],
                web=[f"127.0.0.1:{web_port}"],
                main=main,
                http=http,
            ).replace("worker_processes auto;", "worker_processes 2;")
        )
        return conf

    # --- application ----------------------------------------------------------------------

    def _add(self, name: str, command: list[str], health: str | None) -> Service:
        service = Service(name, command, self.service_env(), self.workdir / f"{name}.log", health)
        self.services[name] = service
        return service

    def start(self) -> None:
        """Start everything and wait until every service is healthy."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rasa_token = _read_or_create_secret(
            self.workdir / "secrets", "rasa-api-token", "RASA_API_TOKEN"
        )
        self.sender_key = _read_or_create_secret(
            self.workdir / "secrets", "sender-key", "LOTSEN_SENDER_KEY"
        )
        self.start_postgres()
        self.start_redis()
        action_ports = [free_port() for _ in range(self.action_replicas)]
        rasa_ports = [free_port() for _ in range(self.rasa_replicas)]
        web_port = free_port()
        for name, port in zip(self.action_names(), action_ports, strict=True):
            self._add(
                name,
                [sys.executable, "-m", "bot.action_server", "--port", str(port)],
                f"http://127.0.0.1:{port}/health",
            )
        for name, port in zip(self.rasa_names(), rasa_ports, strict=True):
            self._add(
                name,
                [
                    # Rasa's CLI with the project's speed-ups installed (bot/rasa_server.py).
                    sys.executable,
                    "-m",
                    "bot.rasa_server",
                    "run",
                    "-m",
                    str(self.model),
                    "--endpoints",
                    str(DEPLOY / "endpoints.prod.yml"),
                    "--credentials",
                    str(DEPLOY / "credentials.prod.yml"),
                    "--logging-config-file",
                    str(DEPLOY / "logging.yml"),
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "--enable-api",
                    "--auth-token",
                    self.rasa_token,
                    "--cors",
                    f"http://127.0.0.1:{self.public_port}",
                    f"http://localhost:{self.public_port}",
                ],
                f"http://127.0.0.1:{port}/health",
            )
        if self.with_web:
            web = self._add(
                "web",
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "web",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(web_port),
                ],
                f"http://127.0.0.1:{web_port}/health",
            )
            # The model registry (officials' app) switches the model of every Rasa process.
            web.env["LOTSEN_RASA_URLS"] = ",".join(f"http://127.0.0.1:{p}" for p in rasa_ports)
            web.env["RASA_API_TOKEN"] = self.rasa_token
        conf = self._nginx_conf(rasa_ports, action_ports, web_port)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        ngx = Service(
            "nginx",
            [nginx, "-c", str(conf), "-p", str(conf.parent), "-e", str(conf.parent / "error.log")],
            dict(os.environ),
            self.workdir / "nginx.log",
        )
        self.services["nginx"] = ngx
        for service in self.services.values():
            if service.process is None:
                service.start()
        for service in self.services.values():
            service.wait_healthy()
        deadline = time.monotonic() + 30
        while http_status(f"{self.public_url}/webhooks/rest/") is None:
            if time.monotonic() > deadline or not ngx.running():
                raise StackError(f"nginx did not start: {tail(conf.parent / 'error.log')}")
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        """Kill a service with SIGKILL."""
        self.services[name].kill()

    def restart(self, name: str, wait: bool = True) -> None:
        """Start a killed or stopped service again (as a supervisor would).

        Args:
            name: Service name.
            wait: Wait until it is healthy.
        """
        service = self.services[name]
        service.stop()
        service.start()
        if wait:
            service.wait_healthy()

    def stop(self) -> None:
        """Stop every service and PostgreSQL."""
        for service in reversed(list(self.services.values())):
            service.stop()
        if self.postgres is not None:
            self.postgres.stop()


@contextlib.contextmanager
def running_stack(
    workdir: Path | None = None, model: Path | None = None, **options: object
) -> Iterator[Stack]:
    """Start a throwaway stack in temporary directories and stop it afterwards.

    Args:
        workdir: Directory for logs, configs and secrets (a new temporary one if None).
        model: Trained model (the newest in models/ if None).
        **options: Further :class:`Stack` fields.

    Yields:
        The running stack.
    """
    own_workdir = workdir is None
    work = workdir or Path(tempfile.mkdtemp(prefix="lotsen-stack-"))
    # PostgreSQL (as the postgres user) needs a directory it can reach: not under /root.
    pg_base = Path(tempfile.mkdtemp(prefix="lotsen-pg-"))
    os.chmod(pg_base, 0o700)
    stack = Stack(
        workdir=work,
        pg_base=pg_base,
        model=model or newest_model(),
        **options,  # type: ignore[arg-type]
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(pg_base, ignore_errors=True)
        if own_workdir:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir).resolve()
    if os.geteuid() == 0:
        pg_base = Path(args.pg_dir or "/var/lib/foretagslotsen/postgres")
    else:
        pg_base = Path(args.pg_dir or workdir / "postgres")
    stack = Stack(
        workdir=workdir,
        pg_base=pg_base,
        model=Path(args.model) if args.model else newest_model(),
        public_port=args.port,
    )
    stopping = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start()
        print(f"\n  Production profile on {stack.public_url} (chat, web app)")
        print(f"  REST: {stack.public_url}/webhooks/rest/webhook   health of each service:")
        for name, service in stack.services.items():
            if service.health_url:
                print(f"    {name:10} {service.health_url}")
        print(f"  Logs: {workdir}   Secrets: {workdir / 'secrets'} (mode 0600)")
        print("  Ctrl-C stops all.\n")
        while not stopping:
            for name, service in stack.services.items():
                if service.running() or stopping:
                    continue
                assert service.process is not None
                if service.process.returncode == EXIT_NOT_DURABLE:
                    print(f"  {name} refuses to run (see {service.log})", file=sys.stderr)
                    return 1
                print(f"  {name} exited; restarting it", file=sys.stderr)
                stack.restart(name, wait=False)
            time.sleep(1)
    except StackError as error:
        print(f"run-prod: {error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: ``run`` or ``render-nginx``."""
    parser = argparse.ArgumentParser(prog="python -m bot.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the production topology and wait")
    run.add_argument("--workdir", default=str(REPO_ROOT / "var" / "prod"))
    run.add_argument("--pg-dir", default=None, help="PostgreSQL data parent directory")
    run.add_argument("--model", default=None)
    run.add_argument("--port", type=int, default=8080, help="nginx's public port")
    run.set_defaults(func=_run)
    render = sub.add_parser("render-nginx", help="print deploy/nginx.conf for docker compose")
    render.set_defaults(func=lambda _a: print(compose_nginx_conf(), end="") or 0)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
