"""The case log: creating cases exactly once and reading them back as plain dataclasses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import time

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.models import Case, CaseEvent, utcnow
from bot.privacy import mask_personnummer
from bot.worktime import STOCKHOLM

logger = logging.getLogger(__name__)

REFERENCE_PREFIX = "NL"
_MAX_SEQUENCE_RETRIES = 50


@dataclasses.dataclass(frozen=True)
class NewCase:
    """What the bot collected for a case (validated before it gets here)."""

    idempotency_key: str
    topic: str
    unit: str
    contact_name: str
    company_name: str
    description: str
    conversation_id: str
    permit_type: str | None = None
    org_number: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


@dataclasses.dataclass(frozen=True)
class CaseRecord:
    """A stored case."""

    id: int
    reference: str
    topic: str
    permit_type: str | None
    unit: str
    contact_name: str
    company_name: str
    org_number: str | None
    contact_email: str | None
    contact_phone: str | None
    description: str
    conversation_id: str
    status: str
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class CaseEventRecord:
    """One entry of a case's audit trail."""

    id: int
    case_id: int
    kind: str
    actor: str
    note: str | None
    created_at: dt.datetime


def format_reference(year: int, sequence: int) -> str:
    """Format a case reference as shown to the entrepreneur.

    Args:
        year: Year the case was created.
        sequence: Sequence number within that year.

    Returns:
        For example ``NL-2026-0042``.
    """
    return f"{REFERENCE_PREFIX}-{year}-{sequence:04d}"


def _record(case: Case) -> CaseRecord:
    return CaseRecord(**{f.name: getattr(case, f.name) for f in dataclasses.fields(CaseRecord)})


def _event_record(event: CaseEvent) -> CaseEventRecord:
    return CaseEventRecord(
        **{f.name: getattr(event, f.name) for f in dataclasses.fields(CaseEventRecord)}
    )


class CaseRepository:
    """Reads and writes cases; each call owns one short transaction."""

    def __init__(self, engine: Engine) -> None:
        """Create a repository on an engine.

        Args:
            engine: A SQLAlchemy engine created with ``future=True``.
        """
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)

    def create(self, new: NewCase, now: dt.datetime | None = None) -> tuple[CaseRecord, bool]:
        """Store a case once per idempotency key, with its ``created`` event.

        A retried action or a racing replica with the same key gets the existing case back.
        Personnummer in free text are masked before storing.

        Args:
            new: The collected case data.
            now: Creation time (UTC); defaults to the current time.

        Returns:
            The stored case and whether this call created it.
        """
        created_at = now or utcnow()
        conflict: IntegrityError | None = None
        for _attempt in range(_MAX_SEQUENCE_RETRIES):
            existing = self.get_by_idempotency_key(new.idempotency_key)
            if existing is not None:
                return existing, False
            try:
                return self._insert(new, created_at), True
            except IntegrityError as error:
                # Either the same key raced us (found on the next loop) or the sequence number
                # was taken by a concurrent insert (retried with the next number, after a
                # short random pause so racing writers spread out).
                conflict = error
                logger.info("Case insert conflicted; retrying")
                time.sleep(random.uniform(0, 0.02))  # noqa: S311 - jitter, not security
        assert conflict is not None
        raise conflict

    def _insert(self, new: NewCase, created_at: dt.datetime) -> CaseRecord:
        year = created_at.astimezone(STOCKHOLM).year
        with self._sessions.begin() as session:
            last = session.execute(
                select(func.max(Case.sequence)).where(Case.year == year)
            ).scalar_one()
            sequence = (last or 0) + 1
            case = Case(
                reference=format_reference(year, sequence),
                year=year,
                sequence=sequence,
                idempotency_key=new.idempotency_key,
                topic=new.topic,
                permit_type=new.permit_type,
                unit=new.unit,
                contact_name=new.contact_name,
                company_name=new.company_name,
                org_number=new.org_number,
                contact_email=new.contact_email,
                contact_phone=new.contact_phone,
                description=mask_personnummer(new.description),
                conversation_id=new.conversation_id,
                status="open",
                created_at=created_at,
            )
            session.add(case)
            session.flush()
            session.add(
                CaseEvent(case_id=case.id, kind="created", actor="bot", created_at=created_at)
            )
            return _record(case)

    def get_by_idempotency_key(self, key: str) -> CaseRecord | None:
        """Find the case created for an idempotency key.

        Args:
            key: The key given at creation.

        Returns:
            The case, or None.
        """
        return self._one(select(Case).where(Case.idempotency_key == key))

    def get_by_reference(self, reference: str) -> CaseRecord | None:
        """Find a case by its reference (case-insensitive).

        Args:
            reference: For example ``NL-2026-0042`` or ``nl-2026-0042``.

        Returns:
            The case, or None.
        """
        return self._one(select(Case).where(Case.reference == reference.strip().upper()))

    def events(self, case_id: int) -> list[CaseEventRecord]:
        """List a case's events, oldest first.

        Args:
            case_id: Database id of the case.

        Returns:
            The events in order.
        """
        with self._sessions() as session:
            rows = session.execute(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            ).scalars()
            return [_event_record(row) for row in rows]

    def _one(self, statement: object) -> CaseRecord | None:
        with self._sessions() as session:
            case = session.execute(statement).scalar_one_or_none()  # type: ignore[call-overload]
            return _record(case) if case is not None else None
