"""Conversation throughput and latency: Företagslotsen beside the stock ``rasa init`` assistant.

Usage:
    .venv/bin/python bench/load.py [--levels 1,20,100] [--duration 30 | --conversations N]
        [--systems stock,project[,project_plain,project_workers,production]] [--model M]
        [--profile DIR]

For each system it starts, on free ports of 127.0.0.1 only, an action server
(``rasa run actions``) and a Rasa server (``rasa run``, REST channel, SQL tracker store on a
temporary SQLite file), then for each level holds that many concurrent conversations with a
bounded asyncio client (aiohttp) and stops all servers itself.

* project: an entrepreneur asks the permit question, says yes to a case, answers the contact
  form (name, company, org. number, contact, description, consent) and gets a case reference:
  every message goes through NLU, the form's validation actions run on the action server and
  the last one writes the case to a temporary SQLite case log (migrated with bot.db.migrate).
* project_plain (only when asked for with ``--systems``): the same, served by the bare
  ``rasa run`` instead of the project's launcher (``python -m bot.rasa_server``);
* project_workers (when asked for): the project with two Sanic workers in one Rasa server
  (``SANIC_WORKERS=2``) sharing Rasa's Redis lock store (a ``redis-server`` on a free port),
  stores on SQLite as for project: the issue's "Sanic workers with the Redis lock store";
* production (when asked for): the production profile of :mod:`bot.stack` (``make run-prod``):
  nginx in front of two Rasa processes (one per core) and two action servers, the Redis lock
  store, PostgreSQL for the tracker store and the case log; the load goes through nginx;
* stock: the assistant ``rasa init --no-prompt`` creates and trains in a temporary directory
  (hello, I am sad, yes, bye: NLU and responses, no custom action), served the same way.

Each level runs until ``--duration`` seconds have passed (no new message is sent after it) or
``--conversations`` conversations have been started. It reports messages/s, p50/p95/p99 latency,
errors (non-200, transport errors, empty or off-script replies) and the peak RSS (VmHWM) of each
server process so far. Times are wall clock on this machine: compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    RASA,
    REPO,
    bench_env,
    peak_rss_mib,
    percentile,
    stop,
    wait_for,
)
from bench.reliability import DESCRIPTION, OPENING, next_message
from bot.stack import free_port

STOCK_SCRIPT = ("hello", "I am sad", "yes", "bye")
WORKERS = 2
"""Sanic workers of the project_workers system: one per core of the development machine."""
REQUEST_TIMEOUT = 120.0


@dataclasses.dataclass
class LevelStats:
    """What the client measured at one level."""

    latencies: list[float] = dataclasses.field(default_factory=list)
    errors: dict[str, int] = dataclasses.field(default_factory=dict)
    conversations_started: int = 0
    conversations_answered: int = 0
    """Conversations whose first message was answered (a conversation started just before the
    level's deadline may send nothing: it has nothing to store)."""
    conversations_done: int = 0
    started: float = 0.0
    finished: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclasses.dataclass(frozen=True)
class Servers:
    """A running system: its REST URL and server processes."""

    name: str
    url: str
    processes: dict[str, subprocess.Popen[bytes]]
    cases_url: str | None
    """The case log's database (None for the stock assistant, which has none)."""
    tracker_url: str = ""
    """The SQL tracker store's database."""
    rss_pids: dict[str, int] = dataclasses.field(default_factory=dict)
    """The processes whose peak RSS is reported (Sanic's workers rather than their parent)."""


# --- Conversations ----------------------------------------------------------------------------


async def _send(
    session: aiohttp.ClientSession, url: str, sender: str, message: str, stats: LevelStats
) -> list[dict[str, object]] | None:
    started = time.monotonic()
    try:
        async with session.post(
            f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}
        ) as response:
            body = await response.text()
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        stats.error(f"transport {type(error).__name__}")
        return None
    stats.latencies.append(time.monotonic() - started)
    if status != 200:
        stats.error(f"HTTP {status}")
        return None
    replies = json.loads(body)
    if not replies:
        stats.error("empty reply")
        return None
    return list(replies)


async def _issued_sender(session: aiohttp.ClientSession, url: str, stats: LevelStats) -> str | None:
    """The project's REST channel takes only sender ids it issued (bot/sender_ids.py)."""
    try:
        async with session.post(f"{url}/webhooks/rest/session") as response:
            if response.status == 200:
                return str((await response.json())["sender"])
            stats.error(f"session HTTP {response.status}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        stats.error(f"transport {type(error).__name__}")
    return None


async def project_conversation(
    session: aiohttp.ClientSession, url: str, sender: str, number: int, stats: LevelStats,
    deadline: float,
) -> None:  # fmt: skip
    """Permit question, yes to a case, the contact form, consent: a case is created."""
    issued = await _issued_sender(session, url, stats)
    if issued is None:
        return
    sender = issued
    rng = random.Random(number)
    answers = {
        "offer": "ja",
        "contact_name": rng.choice(["Anna Svensson", "Erik Berg", "Omar Khalil", "Lena Holm"]),
        "company_name": rng.choice(["Bergs Verkstad AB", "Holms Bygg AB", "Khalils Kök AB"]),
        "org_number": "556016-0680",
        "contact": f"kontakt{number}@exempel.se",
        "description": DESCRIPTION,
        "consent": "/affirm",
    }
    message: str | None = OPENING
    while message is not None and time.monotonic() < deadline:
        replies = await _send(session, url, sender, message, stats)
        if replies is None:
            return
        if message == OPENING:
            stats.conversations_answered += 1
        kind, message = next_message("\n".join(str(r.get("text", "")) for r in replies), answers)
        if kind == "done":
            stats.conversations_done += 1
            return
        if kind != "answer":
            stats.error(f"off-script reply ({kind})")
            return


async def stock_conversation(
    session: aiohttp.ClientSession, url: str, sender: str, number: int, stats: LevelStats,
    deadline: float,
) -> None:  # fmt: skip
    """The rasa init assistant's happy path: hello, I am sad, yes, bye."""
    for message in STOCK_SCRIPT:
        if time.monotonic() >= deadline:
            return
        if await _send(session, url, sender, message, stats) is None:
            return
        if message == STOCK_SCRIPT[0]:
            stats.conversations_answered += 1
    stats.conversations_done += 1


CONVERSATIONS = {
    "project": project_conversation,
    "project_plain": project_conversation,
    "project_workers": project_conversation,
    "production": project_conversation,
    "stock": stock_conversation,
}
# How each system's Rasa server starts: the project through its launcher (bot/rasa_server.py,
# as the Procfile and the production profile do), project_plain with the bare ``rasa run`` to
# show what the launcher's speed-ups bring, stock as ``rasa init`` made it.
RASA_SERVER = {
    "project": [sys.executable, "-m", "bot.rasa_server"],
    "project_workers": [sys.executable, "-m", "bot.rasa_server"],
    "project_plain": [RASA],
    "stock": [RASA],
}


async def run_level(
    system: str, url: str, users: int, duration: float, conversations: int | None
) -> LevelStats:
    """Hold ``users`` concurrent conversations until the time or the conversation count is up."""
    run_id = uuid.uuid4().hex[:8]
    stats = LevelStats(started=time.monotonic())
    deadline = stats.started + duration
    conversation = CONVERSATIONS[system]
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=users, limit_per_host=users)

    async def user(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline and (
            conversations is None or stats.conversations_started < conversations
        ):
            number = stats.conversations_started
            stats.conversations_started += 1
            sender = f"load-{run_id}-{number:06d}"
            await conversation(session, url, sender, number, stats, deadline)

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(user(session) for _ in range(users)))
    stats.finished = time.monotonic()
    return stats


# --- Servers ----------------------------------------------------------------------------------


def _project_model(model: Path | None) -> Path:
    if model is not None:
        return model
    # Like the test suite: Rasa retrains only when config, domain or data changed.
    subprocess.run([RASA, "train", "--out", "models", "--quiet"], cwd=REPO, env=bench_env(),
                   check=True, capture_output=True)  # fmt: skip
    return max((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)


def _stock_project(workdir: Path) -> Path:
    project = workdir / "stock-assistant"
    project.mkdir()  # rasa init --no-prompt wants an existing directory
    subprocess.run([RASA, "init", "--no-prompt", "--init-dir", str(project)], cwd=workdir,
                   env=bench_env(), check=True, capture_output=True)  # fmt: skip
    return project


def endpoints_for(
    system: str, action_port: int, tracker_db: Path, redis_port: int | None = None
) -> dict[str, Any]:
    """Endpoints of a system: its action server port and a temporary SQLite tracker store.

    The project keeps its own tracker store class from endpoints.yml (it masks personal data);
    the stock assistant gets Rasa's SQLTrackerStore. With ``redis_port``, Rasa's Redis lock
    store on that port (what lets Rasa run several Sanic workers).
    """
    store: dict[str, Any] = {"type": "SQL"}
    if system != "stock":
        store = dict(yaml.safe_load((REPO / "endpoints.yml").read_text())["tracker_store"])
    store.update({"dialect": "sqlite", "db": str(tracker_db)})
    endpoints: dict[str, Any] = {
        "action_endpoint": {"url": f"http://127.0.0.1:{action_port}/webhook"},
        "tracker_store": store,
    }
    if redis_port is not None:
        endpoints["lock_store"] = {"type": "redis", "url": "127.0.0.1", "port": redis_port}
    return endpoints


@contextmanager
def serving(
    system: str, workdir: Path, model: Path | None, project_env: dict[str, str] | None = None
) -> Iterator[Servers]:
    """Start one system's action server and Rasa server on free loopback ports; stop them.

    ``project_env`` is added to the environment of the project's servers (not the stock one's).
    """
    from bot.db import migrate

    run_dir = workdir / system
    run_dir.mkdir()
    if system == "production":
        with serving_production(run_dir, model) as servers:
            yield servers
        return
    action_port, rasa_port = free_port(), free_port()
    redis_port = free_port() if system == "project_workers" else None
    endpoints = run_dir / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump(
            endpoints_for(system, action_port, run_dir / "tracker.db", redis_port),
            sort_keys=False,
        )
    )
    # The load comes from one address: no per-address limit (bot/rate_limit.py).
    env = bench_env(SANIC_HOST="127.0.0.1", LOTSEN_VAR_DIR=str(run_dir), LOTSEN_RATE_LIMIT_IP="off")
    if redis_port is not None:
        env["SANIC_WORKERS"] = str(WORKERS)
    cases_url: str | None = None
    if system != "stock":
        env.update(project_env or {})
        cwd, model_path, credentials = REPO, _project_model(model), REPO / "credentials.yml"
        cases_url = env["DATABASE_URL"] = f"sqlite:///{run_dir / 'cases.db'}"
        migrate(cases_url)
    else:
        cwd = _stock_project(workdir)
        model_path, credentials = cwd / "models", cwd / "credentials.yml"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    action_log, rasa_log = run_dir / "actions.log", run_dir / "rasa.log"
    with action_log.open("wb") as alog, rasa_log.open("wb") as rlog:
        try:
            if redis_port is not None:
                processes["redis"] = subprocess.Popen(
                    ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port),
                     "--save", "", "--appendonly", "no"],
                    stdout=alog, stderr=subprocess.STDOUT,
                )  # fmt: skip
            processes["actions"] = subprocess.Popen(
                [RASA, "run", "actions", "-p", str(action_port), "--actions", "actions"],
                cwd=cwd, env=env, stdout=alog, stderr=subprocess.STDOUT,
            )  # fmt: skip
            processes["rasa"] = subprocess.Popen(
                [*RASA_SERVER[system], "run", "-m", str(model_path), "--endpoints", str(endpoints),
                 "--credentials", str(credentials), "-i", "127.0.0.1", "-p", str(rasa_port)],
                cwd=cwd, env=env, stdout=rlog, stderr=subprocess.STDOUT,
            )  # fmt: skip
            wait_for(f"http://127.0.0.1:{action_port}/health", processes["actions"], action_log)
            # The REST channel answers once the model is loaded.
            wait_for(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", processes["rasa"], rasa_log)
            rss_pids = {"rasa": processes["rasa"].pid, "actions": processes["actions"].pid}
            if redis_port is not None:  # Sanic's workers are the Rasa server's children
                del rss_pids["rasa"]
                for number, pid in enumerate(_children(processes["rasa"].pid), start=1):
                    rss_pids[f"rasa-{number}"] = pid
            yield Servers(system, f"http://127.0.0.1:{rasa_port}", processes, cases_url,
                          f"sqlite:///{run_dir / 'tracker.db'}", rss_pids)  # fmt: skip
        finally:
            for process in reversed(processes.values()):
                stop(process)


def _children(pid: int) -> list[int]:
    """Child process ids of a process (Linux /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.extend(int(c) for c in (task / "children").read_text().split())
    return sorted(children)


@contextmanager
def serving_production(run_dir: Path, model: Path | None) -> Iterator[Servers]:
    """Start the production profile (bot.stack) on free loopback ports; stop it afterwards."""
    from bot.stack import running_stack

    # Every simulated user comes from 127.0.0.1: no per-address limit (as bench/reliability.py).
    with running_stack(workdir=run_dir, model=_project_model(model), with_web=False,
                       rate_limit_ip="off") as stack:  # fmt: skip
        processes = {}
        for name in [*stack.rasa_names(), *stack.action_names()]:
            process = stack.services[name].process
            assert process is not None
            processes[name] = process
        rss = {name: process.pid for name, process in processes.items()}
        yield Servers("production", stack.public_url, processes, stack.database_url,
                      stack.tracker_url, rss)  # fmt: skip


def _count(url: str, query: str) -> int:
    import sqlalchemy as sa

    from bot.db import create_db_engine

    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(query)).scalar_one())
    except sa.exc.OperationalError:  # SQLite file never written, or no such table yet
        return 0
    finally:
        engine.dispose()


def count_cases(cases_url: str | None) -> int | None:
    """Cases in the system's case log (None for the stock assistant)."""
    return None if cases_url is None else _count(cases_url, "SELECT COUNT(*) FROM cases")


def count_tracker_senders(tracker_url: str) -> int:
    """Conversations the Rasa server stored in its SQL tracker store (0 if it never wrote one).

    Rasa falls back to an in-memory tracker store when the configured one fails; this count
    shows that every system really wrote every conversation to its database.
    """
    return _count(tracker_url, "SELECT COUNT(DISTINCT sender_id) FROM events")


def profile(system: str, servers: Servers, directory: Path, duration: float) -> None:
    """Record every server with py-spy during one extra 20-user level (not in the table)."""
    directory.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    recorders = [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(process.pid),
                "--duration",
                str(int(duration)),
                "--rate",
                "50",
                "--format",
                "raw",
                "--output",
                str(directory / f"{system}-{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, process in servers.processes.items()
    ]
    asyncio.run(run_level(system, servers.url, 20, duration, None))
    for recorder in recorders:
        recorder.wait(timeout=duration + 60)


# --- Report -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One system at one level."""

    system: str
    users: int
    messages: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    conversations_started: int
    conversations_done: int
    peak_rss_mib: dict[str, float]
    conversations_answered: int = 0


def summarize(system: str, users: int, stats: LevelStats, servers: Servers) -> Row:
    """Figures of one level, with the servers' peak RSS so far."""
    seconds = stats.finished - stats.started
    ms = [s * 1000 for s in stats.latencies]
    return Row(
        system=system,
        users=users,
        messages=len(stats.latencies),
        seconds=seconds,
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        errors=sum(stats.errors.values()),
        conversations_started=stats.conversations_started,
        conversations_answered=stats.conversations_answered,
        conversations_done=stats.conversations_done,
        peak_rss_mib={name: peak_rss_mib(pid) for name, pid in servers.rss_pids.items()},
    )


def _rss(row: Row, kind: str) -> str:
    """Peak RSS of the system's processes of one kind: the largest, times their number."""
    sizes = [mib for name, mib in row.peak_rss_mib.items() if name.split("-")[0] == kind]
    if not sizes:
        return "0"
    return f"{max(sizes):.0f}" + (f" x{len(sizes)}" if len(sizes) > 1 else "")


def table(rows: list[Row]) -> str:
    """The results as a Markdown table, with throughput relative to the stock assistant."""
    lines = [
        "| system | users | messages | msg/s | vs stock | p50 ms | p95 ms | p99 ms | errors "
        "| conversations done | peak RSS rasa MiB | peak RSS actions MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rate = row.messages / row.seconds if row.seconds else 0.0
        stock = next((r for r in rows if r.system == "stock" and r.users == row.users), None)
        stock_rate = stock.messages / stock.seconds if stock and stock.seconds else 0.0
        ratio = f"{rate / stock_rate:.2f}" if stock_rate else "-"
        lines.append(
            f"| {row.system} | {row.users} | {row.messages} | {rate:.1f} | {ratio} | "
            f"{row.p50_ms:.0f} | {row.p95_ms:.0f} | {row.p99_ms:.0f} | {row.errors} | "
            f"{row.conversations_done} | {_rss(row, 'rasa')} | {_rss(row, 'actions')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,20,100")
    parser.add_argument("--systems", default="stock,project")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    parser.add_argument(
        "--conversations",
        type=int,
        default=None,
        help="conversations per level (the duration still bounds it)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="after the levels, one extra unreported 20-user level with py-spy recording "
        "every server into this directory (collapsed stacks)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="the project's model (default: rasa train --out models, cached)",
    )
    parser.add_argument(
        "--project-env",
        default="",
        help="KEY=VALUE[,KEY=VALUE] for the project's servers only, e.g. "
        "TF_INTRA_OP_PARALLELISM_THREADS=1 (to measure a setting beside the stock assistant)",
    )
    args = parser.parse_args()  # fmt: skip
    project_env = dict(item.split("=", 1) for item in filter(None, args.project_env.split(",")))
    levels = [int(n) for n in args.levels.split(",")]
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        for system in args.systems.split(","):
            if system not in CONVERSATIONS:
                parser.error(f"unknown system {system!r}")
            print(f"[{time.strftime('%H:%M:%S')}] {system}: starting servers ...", flush=True)
            with serving(system, Path(tmp), args.model, project_env) as servers:
                # One conversation to warm up (model loading, first tracker, first action call).
                asyncio.run(run_level(system, servers.url, 1, 60, 1))
                warmup_cases = count_cases(servers.cases_url)
                for users in levels:
                    stats = asyncio.run(run_level(system, servers.url, users, args.duration,
                                                  args.conversations))  # fmt: skip
                    rows.append(summarize(system, users, stats, servers))
                    print(f"    {rows[-1]} errors={stats.errors}", flush=True)
                cases = count_cases(servers.cases_url)
                senders = count_tracker_senders(servers.tracker_url)
                answered = sum(r.conversations_answered for r in rows if r.system == system) + 1
                notes.append(f"{system}: {senders} of {answered} answered conversations (warm-up "
                             "included) stored in the SQL tracker store")  # fmt: skip
                if args.profile is not None:
                    profile(system, servers, args.profile, args.duration)
                if cases is not None and warmup_cases is not None:
                    done = sum(r.conversations_done for r in rows if r.system == system)
                    notes.append(f"{system}: {cases - warmup_cases} cases written to the case "
                                 f"log for {done} completed conversations")  # fmt: skip
    print()
    print(table(rows))
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
