"""The case log: creating cases exactly once and reading them back as plain dataclasses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import random
import time
from collections.abc import Callable, Iterator

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from bot.clock import ServiceClock
from bot.models import Case, CaseEvent, User, utcnow
from bot.privacy import mask_personnummer
from bot.worktime import STOCKHOLM

logger = logging.getLogger(__name__)

REFERENCE_PREFIX = "NL"
_MAX_SEQUENCE_RETRIES = 50

STATUSES: tuple[str, ...] = ("open", "assigned", "answered", "closed")
"""Case statuses: new, given to an official, first response given, closed."""

RESPONSE_CHANNELS: tuple[str, ...] = ("phone", "email", "meeting")
"""How an official gave the first response."""

SORTS: dict[str, tuple[str, bool]] = {
    "newest": ("created_at", True),
    "oldest": ("created_at", False),
    "due": ("first_response_due_at", False),
    "reference": ("reference", False),
    "company": ("company_name", False),
}
"""Sort keys of the case list: column and whether descending."""

MAX_PER_PAGE = 200


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
    created_date: dt.date | None = None
    assigned_to: int | None = None
    first_response_due_at: dt.datetime | None = None
    resolution_due_at: dt.datetime | None = None
    first_response_at: dt.datetime | None = None
    first_response_channel: str | None = None
    first_response_seconds: int | None = None
    closed_at: dt.datetime | None = None
    resolution_seconds: int | None = None

    def first_response_breached(self, now: dt.datetime) -> bool:
        """Tell whether the first-response promise is broken (late answer, or none in time).

        Args:
            now: The current time (UTC).

        Returns:
            True when the first response came, or is still missing, after its due time.
        """
        return _breached(self.first_response_due_at, self.first_response_at, now)

    def resolution_breached(self, now: dt.datetime) -> bool:
        """Tell whether the resolution promise is broken (closed late, or still open too late).

        Args:
            now: The current time (UTC).

        Returns:
            True when the case was, or still is not, closed after its due time.
        """
        return _breached(self.resolution_due_at, self.closed_at, now)

    def is_overdue(self, now: dt.datetime) -> bool:
        """Tell whether an open case has passed a due time that is still to be met.

        Args:
            now: The current time (UTC).

        Returns:
            True when the first response or the resolution is late now.
        """
        if self.status == "closed":
            return False
        late_answer = self.first_response_at is None and _breached(
            self.first_response_due_at, None, now
        )
        return late_answer or _breached(self.resolution_due_at, None, now)


def _breached(due: dt.datetime | None, done: dt.datetime | None, now: dt.datetime) -> bool:
    if due is None:
        return False
    return (done if done is not None else now) > due


@dataclasses.dataclass(frozen=True)
class CaseEventRecord:
    """One entry of a case's audit trail."""

    id: int
    case_id: int
    kind: str
    actor: str
    note: str | None
    created_at: dt.datetime


class CaseNotFoundError(LookupError):
    """The case does not exist or the user may not see it (the same to the user)."""


class CaseActionError(ValueError):
    """An action that does not fit the case's state; the message is Swedish, for officials."""


@dataclasses.dataclass(frozen=True)
class CaseScope:
    """Which cases a user may see.

    Attributes:
        units: Unit ids the user may see; None means every unit (admins).
    """

    units: frozenset[str] | None = None

    def clause(self) -> ColumnElement[bool]:
        """Return the SQL condition limiting cases to the scope."""
        if self.units is None:
            return Case.id.isnot(None)
        if not self.units:
            return false()
        return Case.unit.in_(sorted(self.units))


ALL_CASES = CaseScope()


@dataclasses.dataclass(frozen=True)
class CaseQuery:
    """Filters, search, sorting and paging of the case list (all optional).

    Attributes:
        unit: Unit id.
        topic: Topic id.
        permit_type: Permit type.
        status: One of :data:`STATUSES`.
        overdue: Only open cases past a due time.
        date_from: First day (Stockholm date of creation).
        date_to: Last day, inclusive.
        search: Part of a reference or company name.
        sort: A key of :data:`SORTS`.
        page: Page number from 1.
        per_page: Cases per page.
    """

    unit: str | None = None
    topic: str | None = None
    permit_type: str | None = None
    status: str | None = None
    overdue: bool = False
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    search: str | None = None
    sort: str = "newest"
    page: int = 1
    per_page: int = 25

    def conditions(self, now: dt.datetime) -> list[ColumnElement[bool]]:
        """Translate the filters to SQL conditions.

        Args:
            now: The current time (UTC).

        Returns:
            Conditions to AND together.
        """
        conditions: list[ColumnElement[bool]] = []
        for column, value in (
            (Case.unit, self.unit),
            (Case.topic, self.topic),
            (Case.permit_type, self.permit_type),
            (Case.status, self.status),
        ):
            if value:
                conditions.append(column == value)
        if self.overdue:
            conditions.append(overdue_clause(now))
        if self.date_from:
            conditions.append(Case.created_date >= self.date_from)
        if self.date_to:
            conditions.append(Case.created_date <= self.date_to)
        if self.search and self.search.strip():
            term = self.search.strip()
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(
                or_(
                    Case.reference == term.upper(),
                    func.lower(Case.company_name).like(f"%{escaped.lower()}%", escape="\\"),
                )
            )
        return conditions


def overdue_clause(now: dt.datetime) -> ColumnElement[bool]:
    """SQL twin of :meth:`CaseRecord.is_overdue`: open and past a due time still to be met.

    Args:
        now: The current time (UTC).

    Returns:
        The condition.
    """
    return and_(
        Case.status != "closed",
        or_(
            and_(Case.first_response_at.is_(None), Case.first_response_due_at < now),
            Case.resolution_due_at < now,
        ),
    )


@dataclasses.dataclass(frozen=True)
class CasePage:
    """One page of the case list."""

    items: list[CaseRecord]
    total: int
    page: int
    pages: int
    per_page: int


@dataclasses.dataclass(frozen=True)
class DueSoon:
    """A due time of an open case that falls within the look-ahead window.

    Attributes:
        case: The case.
        what: ``first_response`` or ``resolution``.
        due_at: When it falls due (UTC).
    """

    case: CaseRecord
    what: str
    due_at: dt.datetime


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

    def __init__(self, engine: Engine, clock: ServiceClock | None = None) -> None:
        """Create a repository on an engine.

        Args:
            engine: A SQLAlchemy engine created with ``future=True``.
            clock: Service-promise clock; built from the knowledge files on first use if None.
        """
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)
        self._clock = clock

    @property
    def clock(self) -> ServiceClock:
        """ServiceClock: The service-promise clock (knowledge loaded on first use)."""
        if self._clock is None:
            from bot.knowledge import get_knowledge

            self._clock = ServiceClock(get_knowledge())
        return self._clock

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
            self._set_due_times(case)
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

    # --- officials' app ------------------------------------------------------------------

    def _set_due_times(self, case: Case) -> None:
        case.created_date = case.created_at.astimezone(STOCKHOLM).date()
        due = self.clock.due_times(case.topic, case.unit, case.created_at)
        if due is not None:
            case.first_response_due_at = due.first_response
            case.resolution_due_at = due.resolution

    def backfill_due_times(self, batch: int = 500) -> int:
        """Compute the date and due times of cases stored before the service clock existed.

        Args:
            batch: Cases per transaction.

        Returns:
            How many cases were updated.
        """
        updated = 0
        while True:
            with self._sessions.begin() as session:
                cases = (
                    session.execute(select(Case).where(Case.created_date.is_(None)).limit(batch))
                    .scalars()
                    .all()
                )
                for case in cases:
                    self._set_due_times(case)
                updated += len(cases)
            if len(cases) < batch:
                return updated

    def get(self, case_id: int, scope: CaseScope) -> CaseRecord | None:
        """Read a case the viewer may see.

        Args:
            case_id: Database id.
            scope: What the viewer may see.

        Returns:
            The case, or None if it does not exist or is outside the scope (same answer).
        """
        return self._one(select(Case).where(Case.id == case_id, scope.clause()))

    def find(self, query: CaseQuery, scope: CaseScope, now: dt.datetime) -> CasePage:
        """List cases with filters, search, sorting and paging.

        Args:
            query: Filters and paging.
            scope: What the viewer may see.
            now: The current time (for the overdue filter).

        Returns:
            One page of cases and the total count.
        """
        conditions = [scope.clause(), *query.conditions(now)]
        column_name, descending = SORTS.get(query.sort, SORTS["newest"])
        column = getattr(Case, column_name)
        order = column.desc() if descending else column.asc()
        per_page = max(1, min(query.per_page, MAX_PER_PAGE))
        with self._sessions() as session:
            total = session.execute(
                select(func.count()).select_from(Case).where(*conditions)
            ).scalar_one()
            pages = max(1, math.ceil(total / per_page))
            page = max(1, min(query.page, pages))
            rows = session.execute(
                select(Case)
                .where(*conditions)
                .order_by(order, Case.id.desc())
                .offset((page - 1) * per_page)
                .limit(per_page)
            ).scalars()
            items = [_record(row) for row in rows]
        return CasePage(items=items, total=int(total), page=page, pages=pages, per_page=per_page)

    def stream(
        self, query: CaseQuery, scope: CaseScope, now: dt.datetime, batch: int = 1000
    ) -> Iterator[CaseRecord]:
        """Yield every case matching the filters (for exports), oldest first, unpaged.

        Args:
            query: Filters (sorting and paging are ignored).
            scope: What the viewer may see.
            now: The current time.
            batch: Rows fetched at a time.

        Yields:
            The cases.
        """
        statement = (
            select(Case)
            .where(scope.clause(), *query.conditions(now))
            .order_by(Case.id)
            .execution_options(yield_per=batch)
        )
        with self._sessions() as session:
            for row in session.execute(statement).scalars():
                yield _record(row)

    def due_soon(self, now: dt.datetime, hours: float) -> list[DueSoon]:
        """List open cases whose first response or resolution falls due within some hours.

        Args:
            now: The current time (UTC).
            hours: How far ahead to look.

        Returns:
            One entry per due time in the window, earliest first.
        """
        until = now + dt.timedelta(hours=hours)
        first = and_(
            Case.first_response_at.is_(None),
            Case.first_response_due_at > now,
            Case.first_response_due_at <= until,
        )
        resolution = and_(Case.resolution_due_at > now, Case.resolution_due_at <= until)
        with self._sessions() as session:
            rows = session.execute(
                select(Case).where(Case.status != "closed", or_(first, resolution))
            ).scalars()
            records = [_record(row) for row in rows]
        found: list[DueSoon] = []
        for record in records:
            for what, due, done in (
                ("first_response", record.first_response_due_at, record.first_response_at),
                ("resolution", record.resolution_due_at, None),
            ):
                if done is None and due is not None and now < due <= until:
                    found.append(DueSoon(case=record, what=what, due_at=due))
        return sorted(found, key=lambda item: (item.due_at, item.case.id))

    def assignee_name(self, case: CaseRecord) -> str | None:
        """Return the name of the official a case is assigned to.

        Args:
            case: The case.

        Returns:
            The official's full name, or None when the case is not assigned.
        """
        if case.assigned_to is None:
            return None
        with self._sessions() as session:
            name = session.execute(
                select(User.name).where(User.id == case.assigned_to)
            ).scalar_one_or_none()
            return str(name) if name is not None else None

    def assign(
        self,
        case_id: int,
        scope: CaseScope,
        assignee_id: int,
        actor: str,
        now: dt.datetime | None = None,
    ) -> CaseRecord:
        """Assign a case to an active official of its unit (or an admin).

        Args:
            case_id: Database id.
            scope: What the actor may see.
            assignee_id: User id of the official.
            actor: Who assigns (e-mail of the logged-in user).
            now: Time of the action.

        Returns:
            The updated case.

        Raises:
            CaseNotFoundError: If the case is not in the scope.
            CaseActionError: If the official cannot take the case.
        """

        def change(session: Session, case: Case, _at: dt.datetime) -> str:
            user = session.get(User, assignee_id)
            if user is None or not user.active or user.role not in ("official", "admin"):
                raise CaseActionError("Välj en aktiv handläggare.")
            if user.role == "official" and user.unit != case.unit:
                raise CaseActionError("Handläggaren hör till en annan enhet.")
            case.assigned_to = user.id
            if case.status == "open":
                case.status = "assigned"
            return f"Tilldelat {user.name}"

        return self._act(case_id, scope, "assigned", actor, now, change)

    def record_first_response(
        self,
        case_id: int,
        scope: CaseScope,
        channel: str,
        note: str,
        actor: str,
        now: dt.datetime | None = None,
    ) -> CaseRecord:
        """Record that the company got its first response.

        Args:
            case_id: Database id.
            scope: What the actor may see.
            channel: One of :data:`RESPONSE_CHANNELS`.
            note: What was said (personnummer are masked).
            actor: Who answered.
            now: When the answer was given.

        Returns:
            The updated case.

        Raises:
            CaseNotFoundError: If the case is not in the scope.
            CaseActionError: If the channel is unknown or the case already has a first response.
        """
        if channel not in RESPONSE_CHANNELS:
            raise CaseActionError("Välj hur du svarade: telefon, e-post eller möte.")

        def change(_session: Session, case: Case, at: dt.datetime) -> str:
            if case.first_response_at is not None:
                raise CaseActionError("Ärendet har redan ett första svar.")
            if case.status == "closed":
                raise CaseActionError("Ärendet är avslutat. Öppna det igen först.")
            case.first_response_at = at
            case.first_response_channel = channel
            case.first_response_seconds = self.clock.elapsed(case.unit, case.created_at, at)
            case.status = "answered"
            return f"{channel}: {note}".rstrip(": ")

        return self._act(case_id, scope, "answered", actor, now, change)

    def add_note(
        self,
        case_id: int,
        scope: CaseScope,
        note: str,
        actor: str,
        now: dt.datetime | None = None,
    ) -> CaseRecord:
        """Add a note to a case's history.

        Args:
            case_id: Database id.
            scope: What the actor may see.
            note: The note (personnummer are masked).
            actor: Who writes it.
            now: Time of the note.

        Returns:
            The case.

        Raises:
            CaseNotFoundError: If the case is not in the scope.
            CaseActionError: If the note is empty.
        """
        if not note.strip():
            raise CaseActionError("Skriv en anteckning.")
        return self._act(case_id, scope, "noted", actor, now, lambda _s, _c, _a: note)

    def close(
        self,
        case_id: int,
        scope: CaseScope,
        actor: str,
        note: str = "",
        now: dt.datetime | None = None,
    ) -> CaseRecord:
        """Close a case and stop its resolution clock.

        Args:
            case_id: Database id.
            scope: What the actor may see.
            actor: Who closes it.
            note: Optional closing note.
            now: When it was closed.

        Returns:
            The updated case.

        Raises:
            CaseNotFoundError: If the case is not in the scope.
            CaseActionError: If the case is already closed.
        """

        def change(_session: Session, case: Case, at: dt.datetime) -> str:
            if case.status == "closed":
                raise CaseActionError("Ärendet är redan avslutat.")
            case.status = "closed"
            case.closed_at = at
            case.resolution_seconds = self.clock.elapsed(case.unit, case.created_at, at)
            return note

        return self._act(case_id, scope, "closed", actor, now, change)

    def reopen(
        self,
        case_id: int,
        scope: CaseScope,
        actor: str,
        note: str = "",
        now: dt.datetime | None = None,
    ) -> CaseRecord:
        """Reopen a closed case; the resolution clock runs again from the original due time.

        Args:
            case_id: Database id.
            scope: What the actor may see.
            actor: Who reopens it.
            note: Optional reason.
            now: When it was reopened.

        Returns:
            The updated case.

        Raises:
            CaseNotFoundError: If the case is not in the scope.
            CaseActionError: If the case is not closed.
        """

        def change(_session: Session, case: Case, _at: dt.datetime) -> str:
            if case.status != "closed":
                raise CaseActionError("Bara avslutade ärenden kan öppnas igen.")
            case.closed_at = None
            case.resolution_seconds = None
            if case.first_response_at is not None:
                case.status = "answered"
            else:
                case.status = "assigned" if case.assigned_to is not None else "open"
            return note

        return self._act(case_id, scope, "reopened", actor, now, change)

    def _act(
        self,
        case_id: int,
        scope: CaseScope,
        kind: str,
        actor: str,
        now: dt.datetime | None,
        change: Callable[[Session, Case, dt.datetime], str],
    ) -> CaseRecord:
        """Apply one action to a case and append its event, in one transaction."""
        at = now or utcnow()
        with self._sessions.begin() as session:
            case = session.execute(
                select(Case).where(Case.id == case_id, scope.clause()).with_for_update()
            ).scalar_one_or_none()
            if case is None:
                raise CaseNotFoundError(case_id)
            note = change(session, case, at)
            session.add(
                CaseEvent(
                    case_id=case.id,
                    kind=kind,
                    actor=actor,
                    note=mask_personnummer(note) if note else None,
                    created_at=at,
                )
            )
            return _record(case)

    def _one(self, statement: object) -> CaseRecord | None:
        with self._sessions() as session:
            case = session.execute(statement).scalar_one_or_none()  # type: ignore[call-overload]
            return _record(case) if case is not None else None
