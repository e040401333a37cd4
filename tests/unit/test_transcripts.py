"""Tests for bot.transcripts: reading chats from Rasa's tracker store, read-only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.privacy import MASK
from bot.transcripts import TranscriptReader, create_tracker_engine


def tracker(path: Path, rows: list[tuple[str, str, float, str]]) -> str:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), "
            "type_name VARCHAR(255), timestamp FLOAT, data TEXT)"
        )
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)", rows
        )
    return f"sqlite:///{path}"


def test_transcript_has_user_and_bot_texts_in_order_with_personnummer_masked(
    tmp_path: Path,
) -> None:
    url = tracker(
        tmp_path / "t.db",
        [
            ("c1", "bot", 2.0, json.dumps({"text": "Hej! Vad gäller det?"})),
            ("c1", "user", 1.0, json.dumps({"text": "Mitt pnr är 19900101-0017"})),
            ("c1", "slot", 1.5, json.dumps({"name": "x", "value": "y"})),
            ("c1", "bot", 3.0, json.dumps({"custom": {"buttons": []}})),  # no text
            ("c1", "user", 4.0, "not json"),
            ("c2", "user", 1.0, json.dumps({"text": "annan"})),
        ],
    )
    messages = TranscriptReader(url).transcript("c1")
    assert [(m.speaker, m.text) for m in messages] == [
        ("user", f"Mitt pnr är {MASK}"),
        ("bot", "Hej! Vad gäller det?"),
    ]
    assert messages[0].speaker_sv == "Företagare"
    assert messages[0].at.timestamp() == 1.0


def test_missing_file_or_table_gives_empty_results(tmp_path: Path) -> None:
    missing = TranscriptReader(f"sqlite:///{tmp_path / 'missing.db'}")
    assert missing.transcript("c1") == []
    assert list(missing.sender_ids()) == []
    assert not (tmp_path / "missing.db").exists()  # never created by reading
    sqlite3.connect(tmp_path / "empty.db").close()
    empty = TranscriptReader(f"sqlite:///{tmp_path / 'empty.db'}")
    assert empty.transcript("c1") == []
    assert list(empty.sender_ids()) == []


def test_the_tracker_store_is_opened_read_only(tmp_path: Path) -> None:
    url = tracker(tmp_path / "t.db", [])
    engine = create_tracker_engine(url)
    assert engine is not None
    with engine.connect() as connection, pytest.raises(OperationalError, match="readonly"):
        connection.exec_driver_sql("DELETE FROM events")
    engine.dispose()
