"""The case log on real PostgreSQL: exactly one case per form under racing processes and a
restarted server, and a backup restored with pg_dump/pg_restore (docs/operations.md)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cases import CaseRepository, NewCase
from bot.db import create_db_engine, migrate
from bot.models import Case
from bot.stack import Postgres, postgres_bin

REPO = Path(__file__).resolve().parents[2]

WORKER = """
import json, sys
from bot.cases import CaseRepository, NewCase
from bot.db import create_db_engine
url, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
repository = CaseRepository(create_db_engine(url))
results = []
for number in range(count):
    # Every worker submits the same forms: replicas racing on one retried action.
    new = NewCase(
        idempotency_key=f"conv-{number}:1700000000.000000", topic="permit",
        permit_type="bygglov", unit="bygglov", contact_name="Anna Andersson",
        company_name="Lotsby Bygg AB", description="Vi vill bygga en lagerhall.",
        conversation_id=f"conv-{number}",
    )
    case, created = repository.create(new)
    results.append([new.idempotency_key, case.reference, created])
print(json.dumps(results))
"""


def new_case(number: int) -> NewCase:
    return NewCase(
        idempotency_key=f"solo-{number}:1.000000",
        topic="permit",
        permit_type="bygglov",
        unit="bygglov",
        contact_name="Anna Andersson",
        company_name="Lotsby Bygg AB",
        description="Vi vill bygga en lagerhall på 500 m².",
        conversation_id=f"solo-{number}",
    )


@pytest.fixture
def database(postgres: Postgres, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"cases_{request.node.name.lower()[:40]}".replace("-", "_")
    name = "".join(ch for ch in name if ch.isalnum() or ch == "_")
    postgres.create_database(name)
    url = postgres.url(name)
    migrate(url)
    yield url


def test_racing_processes_store_each_form_exactly_once(database: str) -> None:
    workers, forms = 4, 30
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, database, str(worker), str(forms)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(workers)
    ]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-3000:]
        outputs.append(json.loads(stdout))

    created = Counter(key for output in outputs for key, _ref, was_created in output if was_created)
    assert sorted(created.values()) == [1] * forms  # one creator per form
    references = {
        key: {ref for output in outputs for k, ref, _ in output if k == key} for key in created
    }
    assert all(len(refs) == 1 for refs in references.values())  # everyone saw the same case

    engine = create_db_engine(database)
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Case)).scalar_one()
        sequences = (
            connection.execute(select(Case.sequence).order_by(Case.sequence)).scalars().all()
        )
    engine.dispose()
    assert stored == forms
    assert len(set(sequences)) == forms


def test_case_is_stored_once_across_a_database_restart(database: str, postgres: Postgres) -> None:
    engine = create_db_engine(database)
    repository = CaseRepository(engine)
    first, created = repository.create(new_case(1))
    assert created
    postgres.restart(mode="immediate")  # every pooled connection is now dead
    again, created_again = repository.create(new_case(1))  # the retried action
    assert not created_again
    assert again.reference == first.reference
    second, created = repository.create(new_case(2))
    assert created
    assert second.reference != first.reference
    engine.dispose()


def test_backup_and_restore_with_pg_dump_and_pg_restore(
    database: str, postgres: Postgres, tmp_path: Path
) -> None:
    engine = create_db_engine(database)
    repository = CaseRepository(engine)
    stored = [repository.create(new_case(n))[0] for n in range(5)]
    engine.dispose()
    source = database.rsplit("/", 1)[1]
    backup = tmp_path / "cases.dump"
    env = postgres.client_env()
    # The commands of docs/operations.md.
    subprocess.run(
        [postgres_bin("pg_dump"), "--format=custom", f"--file={backup}", source],
        env=env,
        check=True,
        capture_output=True,
    )
    postgres.create_database("restored")
    subprocess.run(
        [
            postgres_bin("pg_restore"),
            "--dbname=restored",
            "--no-owner",
            "--exit-on-error",
            str(backup),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    restored_engine = create_db_engine(postgres.url("restored"))
    restored = CaseRepository(restored_engine)
    for case in stored:
        found = restored.get_by_reference(case.reference)
        assert found is not None
        assert dataclasses.asdict(found) == dataclasses.asdict(case)
    # The restored log goes on numbering after the restored cases, and migrations are current.
    migrate(postgres.url("restored"))
    new, created = restored.create(new_case(99))
    assert created
    assert new.reference not in {case.reference for case in stored}
    restored_engine.dispose()
