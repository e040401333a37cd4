"""Retention: delete old conversations without a case, anonymise old closed cases.

How long personal data is kept is the municipality's decision (its records management plan,
*dokumenthanteringsplan*, and the GDPR storage limitation principle), so both periods are
arguments of ``lotsen retention``; run it daily from cron or a Kubernetes CronJob.

* A conversation (all tracker-store events of one sender id) whose latest event is older than
  ``conversation_days`` and that did not lead to a case is deleted.
* A case closed more than ``case_months`` months ago is anonymised: name, company, organisation
  number, e-mail, phone and description are replaced or cleared, notes of its events cleared,
  and its chat transcript deleted. Topic, unit, dates and response times stay for statistics.
  An ``anonymised`` case event (actor ``retention``) records it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.future import create_engine
from sqlalchemy.orm import Session

from bot.models import Case, CaseEvent, utcnow
from bot.transcripts import EVENTS, create_tracker_engine

logger = logging.getLogger(__name__)

ANONYMISED = "[anonymiserad]"
ACTOR = "retention"


@dataclasses.dataclass(frozen=True)
class RetentionResult:
    """What a retention run did (or would do, in a dry run).

    Attributes:
        conversations_deleted: Conversations without a case deleted from the tracker store.
        events_deleted: Tracker events deleted (those conversations and anonymised cases').
        cases_anonymised: Closed cases anonymised.
        dry_run: Whether nothing was changed.
    """

    conversations_deleted: int
    events_deleted: int
    cases_anonymised: int
    dry_run: bool


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """Go back whole calendar months (the day is clamped to the month's length).

    Args:
        moment: A time.
        months: How many months back (0 or more).

    Returns:
        The same time of day ``months`` months earlier.
    """
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def run_retention(
    cases_engine: Engine,
    tracker_engine: Engine | None,
    conversation_days: int,
    case_months: int,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> RetentionResult:
    """Delete old conversations without a case and anonymise old closed cases.

    Args:
        cases_engine: The case log.
        tracker_engine: Rasa's SQL tracker store, or None when there is none yet.
        conversation_days: Keep conversations without a case this many days after their last
            message.
        case_months: Keep closed cases this many months after closing.
        dry_run: Count only, change nothing.
        now: The current time (UTC); for tests.

    Returns:
        What was (or would be) done.

    Raises:
        ValueError: When a period is negative.
    """
    if conversation_days < 0 or case_months < 0:
        raise ValueError("retention periods must not be negative")
    now = now or utcnow()
    conversation_cutoff = (now - dt.timedelta(days=conversation_days)).timestamp()
    case_cutoff = months_before(now, case_months)

    with Session(cases_engine) as session:
        with_case = set(session.scalars(select(Case.conversation_id)))
        old_cases = list(
            session.scalars(
                select(Case).where(
                    Case.status == "closed",
                    Case.closed_at < case_cutoff,
                    Case.contact_name != ANONYMISED,
                )
            )
        )
    old_conversations: list[str] = []
    transcripts_of_cases = [case.conversation_id for case in old_cases]
    if tracker_engine is not None:
        try:
            with tracker_engine.connect() as connection:
                rows = connection.execute(
                    select(EVENTS.c.sender_id)
                    .group_by(EVENTS.c.sender_id)
                    .having(func.max(EVENTS.c.timestamp) < conversation_cutoff)
                ).all()
        except (OperationalError, ProgrammingError):  # no tracker table yet
            rows = []
        old_conversations = [row[0] for row in rows if row[0] not in with_case]

    events_deleted = 0
    if not dry_run:
        if tracker_engine is not None:
            events_deleted = delete_conversations(
                tracker_engine, old_conversations + transcripts_of_cases
            )
        with Session(cases_engine) as session, session.begin():
            anonymise_cases(
                session,
                [case.id for case in old_cases],
                actor=ACTOR,
                note=f"Anonymiserat efter {case_months} månader (gallringsbeslut)",
                now=now,
            )
    result = RetentionResult(
        conversations_deleted=len(old_conversations),
        events_deleted=events_deleted,
        cases_anonymised=len(old_cases),
        dry_run=dry_run,
    )
    logger.info(
        "Retention%s: %d conversations without a case deleted (%d events), %d closed cases "
        "anonymised (conversations after %d days, cases after %d months)",
        " (dry run)" if dry_run else "",
        result.conversations_deleted,
        result.events_deleted,
        result.cases_anonymised,
        conversation_days,
        case_months,
    )
    return result


def open_tracker_for_deletion(url: str) -> Engine | None:
    """Open Rasa's tracker store for deleting conversations.

    Args:
        url: SQLAlchemy URL of the tracker store.

    Returns:
        A writable engine, or None when the SQLite file does not exist (yet).
    """
    if make_url(url).get_backend_name() == "sqlite":
        # create_tracker_engine opens SQLite read-only; here we delete.
        reader = create_tracker_engine(url)
        if reader is None:
            return None
        reader.dispose()
        return create_engine(url)
    return create_tracker_engine(url)


def delete_conversations(tracker_engine: Engine, sender_ids: Sequence[str]) -> int:
    """Delete every tracker-store event of some conversations.

    Args:
        tracker_engine: Rasa's SQL tracker store, opened writable.
        sender_ids: The conversations.

    Returns:
        How many events were deleted (0 when the store has no events table yet).
    """
    deleted = 0
    with tracker_engine.begin() as connection:
        for start in range(0, len(sender_ids), 500):
            batch = list(sender_ids[start : start + 500])
            try:
                result = connection.execute(delete(EVENTS).where(EVENTS.c.sender_id.in_(batch)))
            except (OperationalError, ProgrammingError):
                break
            deleted += int(result.rowcount or 0)
    return deleted


def anonymise_cases(
    session: Session, case_ids: Sequence[int], actor: str, note: str, now: dt.datetime
) -> None:
    """Anonymise cases inside the caller's transaction, keeping what statistics need.

    Name, company and description become :data:`ANONYMISED`; organisation number, e-mail and
    phone are cleared; the notes of the case's events are cleared; an ``anonymised`` event
    records who did it and why. Topic, unit, dates and response times stay.

    Args:
        session: A session with an open transaction.
        case_ids: Database ids of the cases.
        actor: Who anonymises (``retention``, or an admin's e-mail).
        note: Why, for the case history.
        now: The time of the ``anonymised`` event.
    """
    for case_id in case_ids:
        session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(
                contact_name=ANONYMISED,
                company_name=ANONYMISED,
                org_number=None,
                contact_email=None,
                contact_phone=None,
                description=ANONYMISED,
            )
        )
        session.execute(update(CaseEvent).where(CaseEvent.case_id == case_id).values(note=None))
        session.add(
            CaseEvent(case_id=case_id, kind="anonymised", actor=actor, note=note, created_at=now)
        )
