"""Reliability run: simulated entrepreneurs complete the contact form while services fail.

Starts the production topology on this machine (bot/stack.py: PostgreSQL, Redis, 2 Rasa
processes, 2 action servers, nginx), lets N concurrent simulated entrepreneurs (an asyncio
client on 127.0.0.1, bounded in count and time) ask a permit question and complete the contact
form through nginx's REST endpoint, and meanwhile:

* kills one Rasa process with SIGKILL (then starts it again, as a supervisor would),
* kills one action server with SIGKILL (then starts it again),
* restarts PostgreSQL (immediate stop: a crash, recovered on start).

Then it checks: every completed form is exactly one case with the reference the user was
shown, no other cases exist, every conversation's events are stored in order and once, and no
request got a 5xx. It prints a table of load held and fault results.

    .venv/bin/python bench/reliability.py --users 200          # the long run
    .venv/bin/python bench/reliability.py --users 24 --no-faults

The short run is tests/reliability/test_reliability.py (CI).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.stack import Stack, running_stack

OPENING = "Behöver jag bygglov för att bygga ut min verkstad?"
DESCRIPTION = "Vi vill bygga ut verkstaden med 150 kvm mot gatan"
FIRST_NAMES = ["Anna", "Erik", "Maria", "Johan", "Sara", "Karl", "Lena", "Omar", "Fatima", "Nils"]
LAST_NAMES = ["Svensson", "Lindqvist", "Berg", "Nilsson", "Khalil", "Holm", "Ek", "Sandberg"]
REFERENCE = re.compile(r"NL-\d{4}-\d{4,}")
UNAVAILABLE_MARK = "kan inte ta emot ditt meddelande just nu"
"""Part of bot.health.UNAVAILABLE_TEXT (a test checks it), kept here so the client stays light."""
MAX_UNEXPECTED = 6


@dataclasses.dataclass
class Conversation:
    """One simulated entrepreneur's outcome."""

    sender: str
    reference: str | None = None
    messages: int = 0
    resent: int = 0
    apologies: int = 0
    save_retries: int = 0
    unexpected: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None


@dataclasses.dataclass
class LoadStats:
    """What the client measured."""

    latencies: list[float] = dataclasses.field(default_factory=list)
    statuses: dict[int, int] = dataclasses.field(default_factory=dict)
    transport_errors: int = 0
    started: float = 0.0
    finished: float = 0.0
    sent: int = 0


@dataclasses.dataclass
class FaultResult:
    """One injected fault."""

    name: str
    at: float
    recovered_after: float | None = None
    error: str | None = None


def next_message(text: str, answers: dict[str, str]) -> tuple[str, str | None]:
    """Choose what the entrepreneur says next from the bot's last replies.

    Args:
        text: The bot's replies, joined.
        answers: The entrepreneur's form answers.

    Returns:
        (kind, message): kind is ``done``, ``resend``, ``retry_save``, ``answer`` or
        ``unexpected``; message is what to send (None to resend the last one).
    """
    if "registrerat" in text and REFERENCE.search(text):
        return "done", None
    if UNAVAILABLE_MARK in text:
        return "resend", None
    if "försöker igen" in text:
        return "retry_save", "/affirm"
    for prompt, key in (
        ("Godkänner du", "consent"),
        ("Beskriv kort", "description"),
        ("Hur når vi dig", "contact"),
        ("Vilket organisationsnummer", "org_number"),
        ("Vad heter företaget", "company_name"),
        ("Vad heter du", "contact_name"),
        ("registrerar jag ett ärende", "offer"),
    ):
        if prompt in text:
            return "answer", answers[key]
    return "unexpected", None


async def issued_sender(session: aiohttp.ClientSession, url: str, deadline: float) -> str:
    """A sender id issued by the Rasa servers (``POST /webhooks/rest/session``), with retries."""
    while True:
        try:
            async with session.post(f"{url}/webhooks/rest/session") as response:
                if response.status == 200:
                    return str((await response.json())["sender"])
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        if time.monotonic() > deadline:
            return ""
        await asyncio.sleep(1)


async def entrepreneur(
    session: aiohttp.ClientSession,
    url: str,
    number: int,
    stats: LoadStats,
    deadline: float,
) -> Conversation:
    """Ask a permit question and complete the contact form, resuming after failures."""
    sender = await issued_sender(session, url, deadline)
    rng = random.Random(number)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    answers = {
        "offer": "ja",
        "contact_name": f"{first} {last}",
        "company_name": f"{last}s Verkstad AB",
        "org_number": "556016-0680",
        "contact": f"kontakt{number}@exempel.se",
        "description": DESCRIPTION,
        "consent": "/affirm",
    }
    conversation = Conversation(sender)
    message = OPENING
    unexpected_in_row = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        stats.sent += 1
        conversation.messages += 1
        try:
            async with session.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": sender, "message": message},
            ) as response:
                status = response.status
                body = await response.text()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            stats.transport_errors += 1
            conversation.resent += 1
            conversation.unexpected.append(f"transport: {type(error).__name__}")
            await asyncio.sleep(1)
            continue
        stats.latencies.append(time.monotonic() - started)
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        if status != 200:
            conversation.resent += 1
            await asyncio.sleep(1)
            continue
        text = "\n".join(str(m.get("text", "")) for m in json.loads(body))
        kind, reply = next_message(text, answers)
        if kind == "done":
            found = REFERENCE.search(text)
            conversation.reference = found.group(0) if found else None
            return conversation
        if kind == "resend":
            conversation.apologies += 1
            conversation.resent += 1
            await asyncio.sleep(1 + rng.random())
            continue
        if kind == "unexpected":
            unexpected_in_row += 1
            conversation.unexpected.append(text[:120])
            if unexpected_in_row >= MAX_UNEXPECTED:
                conversation.error = "the bot's replies did not lead on"
                return conversation
            conversation.resent += 1
            await asyncio.sleep(0.5)
            continue
        unexpected_in_row = 0
        if kind == "retry_save":
            conversation.save_retries += 1
            await asyncio.sleep(1 + rng.random())
        assert reply is not None
        message = reply
    conversation.error = "time limit"
    return conversation


async def run_load(
    url: str,
    users: int,
    time_limit: float,
    ramp_seconds: float,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Conversation], LoadStats]:
    """Run ``users`` concurrent entrepreneurs against a Rasa REST endpoint.

    Args:
        url: Base URL (nginx).
        users: Concurrent conversations.
        time_limit: Seconds after which unfinished conversations give up.
        ramp_seconds: Starts are spread over this many seconds.
        on_progress: Called with the number of messages sent so far, every 0.5 s.

    Returns:
        The conversations and the client's measurements.
    """
    stats = LoadStats(started=time.monotonic())
    deadline = stats.started + time_limit
    timeout = aiohttp.ClientTimeout(total=180)
    connector = aiohttp.TCPConnector(limit=users, limit_per_host=users)

    async def delayed(session: aiohttp.ClientSession, number: int) -> Conversation:
        await asyncio.sleep(ramp_seconds * number / max(users, 1))
        return await entrepreneur(session, url, number, stats, deadline)

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks = [asyncio.create_task(delayed(session, n)) for n in range(users)]
        while not all(task.done() for task in tasks):
            if on_progress is not None:
                on_progress(stats.sent)
            await asyncio.sleep(0.5)
        conversations = [task.result() for task in tasks]
    stats.finished = time.monotonic()
    return conversations, stats


class FaultInjector:
    """Injects the faults when the load reaches given shares of the expected messages."""

    def __init__(self, stack: Stack, expected_messages: int, enabled: bool = True) -> None:
        """Plan the faults.

        Args:
            stack: The running stack.
            expected_messages: Messages a fault-free run sends (to place the faults).
            enabled: False for a run without faults.
        """
        self.stack = stack
        self.started = time.monotonic()
        self.results: list[FaultResult] = []
        self.plan: list[tuple[float, str, Callable[[], None]]] = (
            [
                (0.15, "kill -9 rasa-1", lambda: self._kill_and_restart("rasa-1")),
                (0.35, "kill -9 actions-1", lambda: self._kill_and_restart("actions-1")),
                (0.55, "restart PostgreSQL", self._restart_postgres),
            ]
            if enabled
            else []
        )
        self.expected = expected_messages
        self.threads: list[asyncio.Task[None]] = []

    def _kill_and_restart(self, name: str) -> None:
        self.stack.kill(name)
        time.sleep(2)
        self.stack.restart(name, wait=True)

    def _restart_postgres(self) -> None:
        assert self.stack.postgres is not None
        self.stack.postgres.restart(mode="immediate")

    def progress(self, sent: int) -> None:
        """Start the faults whose point of the load was reached."""
        while self.plan and sent >= self.plan[0][0] * self.expected:
            _share, name, action = self.plan.pop(0)
            self.threads.append(asyncio.create_task(self._inject(name, action)))

    async def _inject(self, name: str, action: Callable[[], None]) -> None:
        result = FaultResult(name, at=time.monotonic() - self.started)
        self.results.append(result)
        began = time.monotonic()
        try:
            await asyncio.to_thread(action)
            result.recovered_after = time.monotonic() - began
        except Exception as error:
            result.error = f"{type(error).__name__}: {str(error)[:200]}"

    async def finish(self) -> None:
        """Wait for faults still recovering."""
        if self.threads:
            await asyncio.gather(*self.threads)


@dataclasses.dataclass
class Verification:
    """What the databases hold after the run."""

    expected_cases: int
    stored_cases: int
    missing: list[str]
    duplicated: list[str]
    wrong_reference: list[str]
    unexpected_cases: int
    conversations_out_of_order: list[str]
    duplicated_events: list[str]

    @property
    def ok(self) -> bool:
        """Whether nothing was lost, doubled or reordered."""
        return not (
            self.missing
            or self.duplicated
            or self.wrong_reference
            or self.unexpected_cases
            or self.conversations_out_of_order
            or self.duplicated_events
        )


def verify(stack: Stack, conversations: list[Conversation]) -> Verification:
    """Compare what the users were shown with the case log and the tracker store."""
    from sqlalchemy import bindparam, create_engine, text

    completed = {c.sender: c.reference for c in conversations if c.reference}
    # The run's conversations: sender ids are issued by the server, so they are listed.
    senders = [c.sender for c in conversations if c.sender] or [""]
    cases_engine = create_engine(stack.database_url, future=True)
    tracker_engine = create_engine(stack.tracker_url, future=True)
    try:
        with cases_engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT conversation_id, reference FROM cases WHERE conversation_id IN :s"
                ).bindparams(bindparam("s", expanding=True)),
                {"s": senders},
            ).all()
        by_sender: dict[str, list[str]] = {}
        for sender, reference in rows:
            by_sender.setdefault(sender, []).append(reference)
        missing = sorted(s for s in completed if s not in by_sender)
        duplicated = sorted(s for s, refs in by_sender.items() if len(refs) > 1)
        wrong = sorted(
            s for s, ref in completed.items() if s in by_sender and by_sender[s] != [ref]
        )
        unexpected = sum(len(refs) for s, refs in by_sender.items() if s not in completed)
        out_of_order: list[str] = []
        duplicated_events: list[str] = []
        with tracker_engine.connect() as connection:
            events = connection.execute(
                text(
                    "SELECT sender_id, timestamp, type_name, data FROM events "
                    "WHERE sender_id IN :s ORDER BY sender_id, id"
                ).bindparams(bindparam("s", expanding=True)),
                {"s": senders},
            ).all()
        last: dict[str, float] = {}
        seen: dict[str, set[tuple[float, str, str]]] = {}
        for sender, timestamp, type_name, data in events:
            if timestamp is not None and timestamp + 1e-6 < last.get(sender, 0.0):
                out_of_order.append(sender)
            last[sender] = max(last.get(sender, 0.0), timestamp or 0.0)
            key = (timestamp or 0.0, type_name, data)
            if key in seen.setdefault(sender, set()):
                duplicated_events.append(sender)
            seen[sender].add(key)
        for sender in completed:
            if sender not in last:
                out_of_order.append(f"{sender} (no events)")
    finally:
        cases_engine.dispose()
        tracker_engine.dispose()
    return Verification(
        expected_cases=len(completed),
        stored_cases=sum(len(refs) for refs in by_sender.values()),
        missing=missing,
        duplicated=duplicated,
        wrong_reference=wrong,
        unexpected_cases=unexpected,
        conversations_out_of_order=sorted(set(out_of_order)),
        duplicated_events=sorted(set(duplicated_events)),
    )


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclasses.dataclass
class Report:
    """Everything a reliability run found."""

    users: int
    conversations: list[Conversation]
    stats: LoadStats
    faults: list[FaultResult]
    verification: Verification

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(n for status, n in self.stats.statuses.items() if status >= 500)

    @property
    def completed(self) -> int:
        """Conversations that ended with a case reference."""
        return sum(1 for c in self.conversations if c.reference)

    @property
    def ok(self) -> bool:
        """Every conversation completed, nothing lost or doubled, no 5xx, faults recovered."""
        return (
            self.completed == self.users
            and self.server_errors == 0
            and self.verification.ok
            and self.verification.expected_cases == self.verification.stored_cases
            and all(f.error is None for f in self.faults)
        )

    def table(self) -> str:
        """The result as Markdown tables."""
        duration = max(self.stats.finished - self.stats.started, 1e-9)
        lat = self.stats.latencies
        v = self.verification
        lines = [
            "| load held | value |",
            "|---|---|",
            f"| concurrent conversations | {self.users} |",
            f"| completed (case reference shown) | {self.completed} |",
            f"| messages sent | {self.stats.sent} |",
            f"| duration | {duration:.1f} s |",
            f"| messages/s | {self.stats.sent / duration:.1f} |",
            f"| latency p50 / p95 / max | {statistics.median(lat) if lat else 0:.2f} s / "
            f"{percentile(lat, 0.95):.2f} s / {max(lat, default=0):.2f} s |",
            f"| HTTP statuses | {dict(sorted(self.stats.statuses.items()))} |",
            f"| 5xx responses | {self.server_errors} |",
            f"| transport errors | {self.stats.transport_errors} |",
            f"| 'try again' apologies (message resent) | "
            f"{sum(c.apologies for c in self.conversations)} |",
            f"| case save retried by the user | "
            f"{sum(c.save_retries for c in self.conversations)} |",
            f"| unexpected replies (resent) | "
            f"{sum(len(c.unexpected) for c in self.conversations)} |",
            "",
            "| fault | at | back after | result |",
            "|---|---|---|---|",
        ]
        for fault in self.faults:
            back = f"{fault.recovered_after:.1f} s" if fault.recovered_after is not None else "-"
            lines.append(f"| {fault.name} | {fault.at:.1f} s | {back} | {fault.error or 'ok'} |")
        if not self.faults:
            lines.append("| (none) | | | |")
        lines += [
            "",
            "| check | result |",
            "|---|---|",
            f"| cases expected (forms completed) | {v.expected_cases} |",
            f"| cases stored | {v.stored_cases} |",
            f"| missing / duplicated / wrong reference | {len(v.missing)} / "
            f"{len(v.duplicated)} / {len(v.wrong_reference)} |",
            f"| cases without a completed form | {v.unexpected_cases} |",
            f"| conversations with events out of order / stored twice | "
            f"{len(v.conversations_out_of_order)} / {len(v.duplicated_events)} |",
            f"| verdict | {'PASS' if self.ok else 'FAIL'} |",
        ]
        return "\n".join(lines)


async def reliability_run(
    stack: Stack, users: int, faults: bool = True, time_limit: float = 900, ramp: float = 5
) -> Report:
    """Run the load with faults against a running stack and verify the result."""
    injector = FaultInjector(stack, expected_messages=users * 8, enabled=faults)
    conversations, stats = await run_load(
        stack.public_url, users, time_limit, ramp, on_progress=injector.progress
    )
    await injector.finish()
    return Report(users, conversations, stats, injector.results, verify(stack, conversations))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200, help="concurrent entrepreneurs")
    parser.add_argument("--no-faults", action="store_true", help="load only")
    parser.add_argument("--time-limit", type=float, default=1200, help="seconds for the load")
    parser.add_argument("--ramp", type=float, default=10, help="seconds over which users start")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--keep-logs", type=Path, default=None, help="directory for the logs")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 1000:
        parser.error("--users must be between 1 and 1000")
    print("Starting the stack (PostgreSQL, Redis, 2 Rasa, 2 action servers, nginx) ...", flush=True)
    # Every simulated user comes from 127.0.0.1: the per-address limit would stop the load.
    with running_stack(
        workdir=args.keep_logs, model=args.model, with_web=False, rate_limit_ip="off"
    ) as stack:
        print(f"Stack up; {args.users} entrepreneurs on {stack.public_url}", flush=True)
        report = asyncio.run(
            reliability_run(stack, args.users, not args.no_faults, args.time_limit, args.ramp)
        )
    print()
    print(report.table())
    failed = [c for c in report.conversations if not c.reference]
    for conversation in failed[:10]:
        print(
            f"not completed: {conversation.sender}: {conversation.error} "
            f"{conversation.unexpected[-2:]}"
        )
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
