"""Time the NLU inbox on a generated tracker store (not a test).

Writes N synthetic conversations (four turns each: user, action, bot, action_listen; every
fifth user message unsure) into a temporary SQLite tracker store with Rasa's ``events`` table,
then times a first collection (the whole backlog), a second one (nothing new) and the inbox's
first page:

    .venv/bin/python bench/inbox.py                         # 10 000 conversations
    .venv/bin/python bench/inbox.py --conversations 100000

Times are wall-clock on this machine, in seconds or milliseconds.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import create_db_engine, migrate
from bot.inbox import Inbox
from bot.settings import Settings
from tests.nlu_project import copy_project

WORDS = (
    "tillstånd tomt lokal personal kaffe glass skylt tält loppis båt hund parkering avgift "
    "ansökan kontor lager verkstad sommar kväll helg musik grill buss el vatten sopor"
).split()


def write_tracker(path: Path, conversations: int, seed: int = 1) -> int:
    """Write the synthetic conversations; return the number of events."""
    rng = random.Random(seed)
    vague = [" ".join(rng.sample(WORDS, 3)) for _ in range(3000)]
    rows = []
    at = 1.79e9
    for number in range(conversations):
        sender = f"conv-{number}"
        for _turn in range(4):
            at += 1
            confidence = rng.random()
            text = rng.choice(vague) if confidence < 0.2 else "bygglov för carport"
            parse = {
                "text": text,
                "intent": {"name": "ask_permit", "confidence": confidence},
                "entities": [],
            }
            for kind, data in (
                ("user", {"text": text, "parse_data": parse}),
                ("action", {"name": "action_answer_permit", "confidence": 1.0}),
                ("bot", {"text": "svar"}),
                ("action", {"name": "action_listen", "confidence": 1.0}),
            ):
                rows.append((sender, kind, at, json.dumps({"event": kind, **data})))
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"
        )
        connection.execute("CREATE INDEX ix_events_sender_id ON events (sender_id)")
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)", rows
        )
    return len(rows)


def main() -> None:
    """Run the benchmark and print the times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lotsen-inbox-bench-") as directory:
        base = Path(directory)
        events = write_tracker(base / "tracker.db", args.conversations)
        url = f"sqlite:///{base / 'cases.db'}"
        migrate(url)
        engine = create_db_engine(url)
        project = copy_project(base / "project")
        inbox = Inbox(
            Settings(
                database_url=url,
                tracker_store_url=f"sqlite:///{base / 'tracker.db'}",
                var_dir=base,
                models_dir=base,
                project_dir=project,
                heldout_file=project / "tests" / "nlu" / "heldout.yml",
            ),
            engine,
        )
        started = time.perf_counter()
        added = inbox.collect()
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = inbox.collect()
        second = time.perf_counter() - started
        started = time.perf_counter()
        page = inbox.groups()
        listing = time.perf_counter() - started
        engine.dispose()
    print(f"tracker store: {events} events in {args.conversations} conversations")
    print(f"first collection: {added} messages in {first:.1f} s ({events / first:,.0f} events/s)")
    print(f"second collection (nothing new): {again} messages in {1000 * second:.0f} ms")
    print(
        f"inbox page 1 ({page.total_messages} open messages in {page.total_groups} groups): "
        f"{1000 * listing:.0f} ms"
    )


if __name__ == "__main__":
    main()
