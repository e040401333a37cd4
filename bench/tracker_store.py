"""Tracker store round trips: what saving and loading a conversation costs per message.

Usage:
    nice -n 10 .venv/bin/python bench/tracker_store.py [--conversations 20] [--turns 8]

Replays synthetic conversations shaped like bench/load.py's project conversation (a user
message with Rasa's parse data, slots, a form, bot messages: about 11 events per turn) and, after
every turn, does what the Rasa server does per message: ``retrieve`` then ``save``. Each store
writes to its own temporary SQLite file:

* ``rasa_sql``: Rasa's ``SQLTrackerStore`` (what the stock assistant uses; no masking);
* ``masking_before``: the project's store as it was before issue 7 (the whole tracker masked and
  rebuilt on every save, Rasa's engine: a new SQLite connection per session, rollback journal);
* ``masking``: :class:`bot.tracker_store.MaskingSQLTrackerStore` now (pooled WAL connections,
  only the new events turned back into events);
* ``masking+launcher``: the same with the launcher's cached event-type look-up
  (:func:`bot.rasa_server.install_cached_event_types`), as the Rasa server runs it.

Prints wall-clock and CPU milliseconds per message and the ratio to ``rasa_sql``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def conversation_turns(number: int, turns: int) -> list[list[Any]]:
    """Events of one synthetic conversation, grouped by turn."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActiveLoop,
        BotUttered,
        SlotSet,
        UserUttered,
    )

    intents = ["ask_permit", "affirm", "inform", "deny", "thank", "greet", "goodbye", "cancel"]
    result = []
    for turn in range(turns):
        text = (
            f"meddelande {turn} i samtal {number}: vi vill bygga till 150 kvm, ring 070-123 45 67"
        )
        ranking = [{"name": name, "confidence": 0.9 / (i + 1)} for i, name in enumerate(intents)]
        parse_data = {
            "intent": ranking[0],
            "entities": [{"entity": "plot_size", "value": "150 kvm", "start": 30, "end": 37}],
            "intent_ranking": ranking,
            "text": text,
        }
        result.append(
            [
                UserUttered(text, intent=ranking[0], parse_data=parse_data),
                SlotSet("description", text),
                ActionExecuted("validate_contact_form"),
                SlotSet("requested_slot", "contact"),
                ActiveLoop("contact_form"),
                ActionExecuted("contact_form"),
                BotUttered(f"Tack! Fråga {turn}", data={"buttons": []}),
                SlotSet("topic", "permit"),
                ActionExecuted("action_answer_permit"),
                BotUttered("Vill du att en handläggare kontaktar dig?"),
                ActionExecuted("action_listen"),
            ]
        )
    return result


def stores(directory: Path) -> dict[str, Any]:
    """The stores to compare, each on its own SQLite file."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.tracker_store import MaskingSQLTrackerStore, masked_tracker

    class MaskingBefore(SQLTrackerStore):  # type: ignore[misc]
        """The project's store before issue 7: mask and rebuild the whole tracker per save."""

        async def save(self, tracker: DialogueStateTracker) -> None:
            await super().save(masked_tracker(tracker))

    return {
        "rasa_sql": SQLTrackerStore(dialect="sqlite", db=str(directory / "rasa.db")),
        "masking_before": MaskingBefore(dialect="sqlite", db=str(directory / "before.db")),
        "masking": MaskingSQLTrackerStore(dialect="sqlite", db=str(directory / "masking.db")),
        "masking+launcher": MaskingSQLTrackerStore(
            dialect="sqlite", db=str(directory / "launcher.db")
        ),
    }


async def replay(store: Any, conversations: int, turns: int) -> tuple[float, float, int]:
    """Retrieve and save after every turn; wall and CPU seconds, and the number of messages."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    store.domain = Domain.load(str(Path(__file__).resolve().parents[1] / "domain.yml"))
    wall = cpu = 0.0
    messages = 0
    for number in range(conversations):
        sender = f"bench-{number}"
        tracker = DialogueStateTracker(sender, store.domain.slots)
        for events in conversation_turns(number, turns):
            started, started_cpu = time.perf_counter(), time.process_time()
            await store.retrieve(sender)
            for event in events:
                tracker.update(event)
            await store.save(tracker)
            wall += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
            messages += 1
    return wall, cpu, messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=8)
    args = parser.parse_args()
    from bot.rasa_server import install_cached_event_types

    rows = []
    with tempfile.TemporaryDirectory(prefix="tracker-store-") as tmp:
        for name, store in stores(Path(tmp)).items():
            if name == "masking+launcher":
                install_cached_event_types()
            wall, cpu, messages = asyncio.run(replay(store, args.conversations, args.turns))
            rows.append((name, 1000 * wall / messages, 1000 * cpu / messages))
    base = rows[0]
    print("| store | ms per message (retrieve + save) | CPU ms | vs rasa_sql (wall) |")
    print("|---|---|---|---|")
    for name, wall_ms, cpu_ms in rows:
        print(f"| {name} | {wall_ms:.1f} | {cpu_ms:.1f} | {wall_ms / base[1]:.2f} |")


if __name__ == "__main__":
    main()
