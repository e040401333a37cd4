"""Time the dashboard queries on many generated cases (not a test).

Seeds N synthetic cases into a temporary, migrated SQLite case log and compares each dashboard
query with a plain ``SELECT count(*) FROM cases`` on the same database:

    .venv/bin/python bench/dashboard.py                    # 100 000 cases
    .venv/bin/python bench/dashboard.py --cases 1000000    # the issue's 1 000 000 cases
    .venv/bin/python bench/dashboard.py --database-url postgresql://...  # an empty database

Times are the best of ``--repeat`` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from bot.cases import ALL_CASES, CaseQuery, CaseRepository, CaseScope
from bot.dashboard import FigureQuery, FigureRepository
from bot.db import create_db_engine, migrate
from bot.models import Case

UTC = dt.timezone.utc
ROUTES = (
    ("permit", "bygglov"), ("permit", "miljo"), ("permit", "tillstand"), ("permit", "raddning"),
    ("industrial_land", "naringsliv"), ("skills_supply", "kompetens"),
    ("start_business", "naringsliv"), ("other", "kontaktcenter"),
)  # fmt: skip
BATCH = 20_000


def seed(engine: Engine, count: int, now: dt.datetime, rng: random.Random) -> None:
    """Insert synthetic cases spread over the last year (bulk insert, no events)."""
    start = now - dt.timedelta(days=365)
    rows: list[dict[str, Any]] = []
    for index in range(count):
        topic, unit = rng.choice(ROUTES)
        created = start + dt.timedelta(seconds=rng.randrange(365 * 86400))
        first_due = created + dt.timedelta(hours=rng.choice((24, 48, 72, 96)))
        answered = rng.random() < 0.85 and created + dt.timedelta(hours=1) < now
        first_at = created + dt.timedelta(hours=rng.expovariate(1 / 20)) if answered else None
        closed = answered and rng.random() < 0.7
        rows.append(
            {
                "reference": f"NL-{created.year}-{index + 1:07d}",
                "year": created.year,
                "sequence": index + 1,
                "idempotency_key": f"bench:{index}",
                "topic": topic,
                "permit_type": "bygglov" if topic == "permit" else None,
                "unit": unit,
                "contact_name": "Bench",
                "company_name": f"Företag {index % 5000} AB",
                "description": "bench",
                "conversation_id": f"bench-{index}",
                "status": "closed" if closed else ("answered" if answered else "open"),
                "created_at": created,
                "created_date": created.date(),
                "first_response_due_at": first_due,
                "resolution_due_at": created + dt.timedelta(days=14),
                "first_response_at": first_at,
                "first_response_seconds": int(rng.expovariate(1 / 20) * 3600) if answered else None,
                "closed_at": created + dt.timedelta(days=rng.randrange(1, 20)) if closed else None,
            }
        )
        if len(rows) == BATCH:
            _insert(engine, rows)
            rows = []
    if rows:
        _insert(engine, rows)


def _insert(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Case), rows)


def best_ms(work: Callable[[], object], repeat: int) -> float:
    """Run work ``repeat`` times and return the fastest run in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--cases", type=int, default=100_000, help="cases to generate (default 100 000)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: temp SQLite)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        engine = create_db_engine(url)
        now = dt.datetime.now(UTC)
        started = time.perf_counter()
        seed(engine, args.cases, now, random.Random(args.seed))
        seconds = time.perf_counter() - started
        print(f"Seeded {args.cases:,} cases in {seconds:.1f} s ({url.split(':')[0]})")
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")

        figures = FigureRepository(engine)
        cases = CaseRepository(engine)
        one_unit = CaseScope(frozenset({"bygglov"}))
        last_quarter = now.date() - dt.timedelta(days=90)
        overdue, search = CaseQuery(overdue=True), CaseQuery(search="Företag 42 ")

        def count() -> object:
            with engine.connect() as connection:
                return connection.execute(select(func.count()).select_from(Case)).scalar_one()

        baseline = best_ms(count, args.repeat)
        month, week = FigureQuery(period="month"), FigureQuery(period="week", grouping="unit_topic")
        quarter = FigureQuery(date_from=last_quarter)
        queries: list[tuple[str, Callable[[], object]]] = [
            ("dashboard, all units, per month", lambda: figures.figures(month, ALL_CASES, now)),
            ("dashboard, unit x topic, per week", lambda: figures.figures(week, ALL_CASES, now)),
            ("dashboard, one unit, last 90 days", lambda: figures.figures(quarter, one_unit, now)),
            ("case list, overdue, page 1", lambda: cases.find(overdue, ALL_CASES, now)),
            ("case list, one unit, search company", lambda: cases.find(search, one_unit, now)),
        ]
        print(f"\n{'query':40} {'ms':>10} {'x count(*)':>11}")
        print(f"{'SELECT count(*) FROM cases':40} {baseline:10.1f} {1.0:11.1f}")
        for name, work in queries:
            elapsed = best_ms(work, args.repeat)
            print(f"{name:40} {elapsed:10.1f} {elapsed / baseline:11.1f}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
