"""Everything stored about one person: export (GDPR art. 15) and erasure (art. 17).

An admin names the person by e-mail address and/or phone number (normalised like the contact
form does, :func:`bot.validation.parse_email` / :func:`bot.validation.parse_phone`). What is
found:

* **cases** whose contact is the person, with their case events;
* **conversations** in Rasa's tracker store: those of the cases, and any other conversation in
  which the person gave the e-mail or phone number in a form (a slot event holds it: a
  cancelled contact form, a case-status check);
* **NLU inbox items** (``inbox_messages``, issue 5) from those conversations. Their texts are
  masked already; an annotated item that a trainer has already written into the training data
  (``data/nlu``) stays there as a masked example.

Not touched: an officials' account with the same e-mail. That is staff data (the municipality
as employer), handled outside this tool; the export and the preview say so.

Erasure reuses retention (:mod:`bot.retention`): the cases are anonymised the same way, so
reports and response-time figures keep working, and the conversations are deleted from the
tracker store. Each export and erasure writes a :class:`bot.models.PersonRequest` audit row
with who, when and what was matched (counts, case references); the person's e-mail and phone
are stored only as a keyed hash and a masked form.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from bot.cases import ALL_CASES, CaseEventRecord, CaseRecord, CaseRepository
from bot.models import Case, InboxMessage, PersonRequest, User, utcnow
from bot.retention import anonymise_cases, delete_conversations, open_tracker_for_deletion
from bot.transcripts import EVENTS, TranscriptReader, create_tracker_engine
from bot.validation import clean_text, parse_email, parse_phone

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "foretagslotsen-person-export/1"
ERASURE_NOTE = "Anonymiserat på begäran av den registrerade (GDPR art. 17)"
STAFF_NOTE = (
    "Ett konto i handläggarappen har samma e-postadress. Det är personaluppgifter och ingår "
    "varken i exporten eller i raderingen; de hanteras av kommunen som arbetsgivare."
)
KINDS = ("export", "erase")
_AUDIT_LIMIT = 100
_MAX_EMAIL = 320


class PersonDataError(ValueError):
    """The e-mail address or phone number cannot be used; the message is Swedish, for admins."""


@dataclasses.dataclass(frozen=True)
class Subject:
    """The person, by normalised e-mail address and/or phone number.

    Attributes:
        email: Lower-case e-mail address, or None.
        phone: Digits with a leading ``0`` (``0701234567``), or None.
    """

    email: str | None
    phone: str | None

    @classmethod
    def parse(cls, email: str | None, phone: str | None) -> Subject:
        """Read the person from what an admin typed.

        Args:
            email: An e-mail address, or empty.
            phone: A Swedish phone number in any usual spelling, or empty.

        Returns:
            The subject.

        Raises:
            PersonDataError: When neither is given, or one is given but not valid.
        """
        email_text = clean_text(email, _MAX_EMAIL)  # not cut to a different valid address
        phone_text = clean_text(phone)
        found_email = parse_email(email_text) if email_text else None
        found_phone = parse_phone(phone_text) if phone_text else None
        if email_text and (found_email is None or found_email != email_text.lower()):
            raise PersonDataError("Ange en giltig e-postadress, t.ex. namn@foretag.se.")
        if phone_text and found_phone is None:
            raise PersonDataError("Ange ett giltigt telefonnummer, t.ex. 070-123 45 67.")
        if found_email is None and found_phone is None:
            raise PersonDataError("Ange personens e-postadress eller telefonnummer.")
        return cls(email=found_email, phone=found_phone)

    def masked(self) -> str:
        """Return a form an admin recognises but that does not reveal the person.

        Returns:
            E.g. ``k***@foretag.se, 070*****67``.
        """
        parts = []
        if self.email:
            local, _, domain = self.email.partition("@")
            parts.append(f"{local[:1]}***@{domain}")
        if self.phone:
            parts.append(f"{self.phone[:3]}{'*' * (len(self.phone) - 5)}{self.phone[-2:]}")
        return ", ".join(parts)

    def digest(self, key: bytes) -> str:
        """Return a keyed hash (HMAC-SHA256): the same person gives the same hash.

        Args:
            key: A secret key of the installation.

        Returns:
            64 hex digits.
        """
        message = f"person-request\x00{self.email or ''}\x00{self.phone or ''}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def matches_email(self, value: object) -> bool:
        """Tell whether a stored value is the person's e-mail address."""
        return bool(self.email) and isinstance(value, str) and parse_email(value) == self.email

    def matches_phone(self, value: object) -> bool:
        """Tell whether a stored value is the person's phone number."""
        return bool(self.phone) and isinstance(value, str) and parse_phone(value) == self.phone


@dataclasses.dataclass(frozen=True)
class PersonMatch:
    """What is stored about a person.

    Attributes:
        subject: The person.
        cases: Cases whose contact is the person, oldest first.
        conversation_ids: Their conversations in the tracker store (of the cases and others).
        inbox_items: NLU inbox items of those conversations.
        staff_account: Whether an officials' account has the same e-mail (not touched).
    """

    subject: Subject
    cases: tuple[CaseRecord, ...]
    conversation_ids: tuple[str, ...]
    inbox_items: int
    staff_account: bool

    @property
    def references(self) -> list[str]:
        """list[str]: The cases' references."""
        return [case.reference for case in self.cases]

    @property
    def empty(self) -> bool:
        """bool: Nothing is stored about the person."""
        return not self.cases and not self.conversation_ids and not self.inbox_items


@dataclasses.dataclass(frozen=True)
class ErasureResult:
    """What an erasure did.

    Attributes:
        cases_anonymised: Cases anonymised.
        conversations: Conversations deleted from the tracker store.
        tracker_events: Tracker events deleted.
        inbox_items: Inbox items deleted.
        references: References of the anonymised cases.
        staff_account: An officials' account with the same e-mail exists (kept).
    """

    cases_anonymised: int
    conversations: int
    tracker_events: int
    inbox_items: int
    references: tuple[str, ...]
    staff_account: bool


@dataclasses.dataclass(frozen=True)
class PersonRequestRecord:
    """One audited export or erasure."""

    id: int
    kind: str
    actor: str
    subject_hash: str
    subject_masked: str
    cases: int
    conversations: int
    tracker_events: int
    inbox_items: int
    case_references: str
    created_at: dt.datetime

    @property
    def references(self) -> list[str]:
        """list[str]: The matched cases' references."""
        return [item for item in self.case_references.split(",") if item]


class PersonDataService:
    """Finds, exports and erases one person's data; each call owns short transactions."""

    def __init__(
        self,
        engine: Engine,
        tracker_store_url: str,
        key: bytes,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """Create the service.

        Args:
            engine: The case log (SQLAlchemy, ``future=True``).
            tracker_store_url: Rasa's SQL tracker store; opened when needed.
            key: Secret of the installation, for the audit's keyed hash.
            now: Clock (replaceable in tests).
        """
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)
        self._cases_repository = CaseRepository(engine)
        self._tracker_url = tracker_store_url
        self._transcripts = TranscriptReader(tracker_store_url)
        self._key = key
        self._now = now

    # --- finding ----------------------------------------------------------------------------

    def find(self, subject: Subject) -> PersonMatch:
        """Find everything stored about the person (changes nothing, writes no audit row).

        Args:
            subject: The person.

        Returns:
            The matching cases, conversations and inbox items.
        """
        with self._sessions() as session:
            cases = self._cases(session, subject)
            staff = (
                bool(subject.email)
                and (
                    session.scalar(select(func.count(User.id)).where(User.email == subject.email))
                    or 0
                )
                > 0
            )
        conversations = dict.fromkeys(case.conversation_id for case in cases)
        conversations.update(dict.fromkeys(self._conversations_with_contact(subject)))
        ids = tuple(conversations)
        inbox = len(self._inbox_items(ids))
        return PersonMatch(subject, tuple(cases), ids, inbox, staff)

    def _cases(self, session: Session, subject: Subject) -> list[CaseRecord]:
        conditions = []
        if subject.email:
            conditions.append(func.lower(Case.contact_email) == subject.email)
        if subject.phone:
            # Stored numbers are normalised digits, but older rows may have spaces or dashes:
            # narrow by the last two digits in SQL, then compare normalised in Python.
            conditions.append(Case.contact_phone.like(f"%{subject.phone[-2:]}"))
        rows = session.execute(
            select(Case.id, Case.contact_email, Case.contact_phone)
            .where(or_(*conditions))
            .order_by(Case.id)
        )
        ids = [
            case_id
            for case_id, email, phone in rows
            if subject.matches_email(email) or subject.matches_phone(phone)
        ]
        found = (self._cases_repository.get(case_id, ALL_CASES) for case_id in ids)
        return [case for case in found if case is not None]

    def _conversations_with_contact(self, subject: Subject) -> list[str]:
        """Conversations where a slot event holds the person's e-mail or phone number."""
        engine = create_tracker_engine(self._tracker_url)
        if engine is None:
            return []
        patterns = []
        if subject.email:
            patterns.append(EVENTS.c.data.like(f"%{_escape_like(subject.email)}%", escape="\\"))
        if subject.phone:
            # Digits in order with anything between: "070-123 45 67", "+46 70 123 45 67".
            patterns.append(EVENTS.c.data.like("%" + "%".join(subject.phone[1:]) + "%"))
        statement = select(EVENTS.c.sender_id, EVENTS.c.data).where(
            EVENTS.c.type_name == "slot", or_(*patterns)
        )
        found: dict[str, None] = {}
        try:
            with engine.connect() as connection:
                for sender_id, data in connection.execute(statement):
                    if sender_id not in found and _slot_holds(data, subject):
                        found[str(sender_id)] = None
        except (OperationalError, ProgrammingError) as error:
            logger.warning("Tracker store not readable (%s)", type(error).__name__)
        finally:
            engine.dispose()
        return list(found)

    def _inbox_items(self, conversation_ids: Sequence[str]) -> list[InboxMessage]:
        items: list[InboxMessage] = []
        with self._sessions() as session:
            for start in range(0, len(conversation_ids), 500):
                batch = list(conversation_ids[start : start + 500])
                items.extend(
                    session.scalars(
                        select(InboxMessage)
                        .where(InboxMessage.sender_id.in_(batch))
                        .order_by(InboxMessage.id)
                    )
                )
        return items

    # --- export -----------------------------------------------------------------------------

    def export(self, subject: Subject, actor: str) -> dict[str, Any]:
        """Build the export document and audit it.

        Args:
            subject: The person.
            actor: Who asked (an admin's e-mail, or ``cli:<user>``).

        Returns:
            A JSON-ready document with the cases, their events, the conversations and the inbox
            items; staff data is named but not included.
        """
        match = self.find(subject)
        now = self._now()
        events = {case.id: self._cases_repository.events(case.id) for case in match.cases}
        inbox = [_inbox_export(item) for item in self._inbox_items(match.conversation_ids)]
        document: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "generated_at": now.isoformat(),
            "subject": {"email": subject.email, "phone": subject.phone},
            "cases": [_case_export(case, events.get(case.id, [])) for case in match.cases],
            "conversations": [
                {
                    "conversation_id": conversation_id,
                    "messages": [
                        {
                            "speaker": message.speaker,
                            "text": message.text,
                            "at": message.at.isoformat(),
                        }
                        for message in self._transcripts.transcript(conversation_id)
                    ],
                }
                for conversation_id in match.conversation_ids
            ],
            "inbox_items": inbox,
            "notes": [
                "Personnummer maskeras innan något sparas och finns därför inte i exporten.",
                "Handläggarnas namn och e-post i ärendenas historik är personaluppgifter och "
                "ingår inte.",
                *([STAFF_NOTE] if match.staff_account else []),
            ],
        }
        self._audit("export", actor, subject, match, tracker_events=0, now=now)
        logger.info(
            "Person export by %s: %d cases, %d conversations",
            actor,
            len(match.cases),
            len(match.conversation_ids),
        )
        return document

    # --- erasure ----------------------------------------------------------------------------

    def erase(self, subject: Subject, actor: str) -> ErasureResult:
        """Anonymise the person's cases, delete their conversations and inbox items; audit it.

        The conversations are deleted first: if anonymising then fails, running the erasure
        again finds the same cases and finishes the work.

        Args:
            subject: The person.
            actor: Who erases (an admin's e-mail, or ``cli:<user>``).

        Returns:
            What was done.
        """
        match = self.find(subject)
        now = self._now()
        tracker_events = 0
        if match.conversation_ids:
            tracker = open_tracker_for_deletion(self._tracker_url)
            if tracker is not None:
                try:
                    tracker_events = delete_conversations(tracker, match.conversation_ids)
                finally:
                    tracker.dispose()
        with self._sessions() as session, session.begin():
            inbox = 0
            for start in range(0, len(match.conversation_ids), 500):
                batch = list(match.conversation_ids[start : start + 500])
                result = session.execute(
                    delete(InboxMessage).where(InboxMessage.sender_id.in_(batch))
                )
                inbox += int(result.rowcount or 0)
            anonymise_cases(
                session, [case.id for case in match.cases], actor, ERASURE_NOTE, now=now
            )
            session.add(
                _audit_row("erase", actor, subject, match, tracker_events, inbox, self._key, now)
            )
        logger.info(
            "Person erasure by %s: %d cases anonymised, %d conversations (%d events) deleted",
            actor,
            len(match.cases),
            len(match.conversation_ids),
            tracker_events,
        )
        return ErasureResult(
            cases_anonymised=len(match.cases),
            conversations=len(match.conversation_ids),
            tracker_events=tracker_events,
            inbox_items=inbox,
            references=tuple(match.references),
            staff_account=match.staff_account,
        )

    # --- audit ------------------------------------------------------------------------------

    def _audit(
        self,
        kind: str,
        actor: str,
        subject: Subject,
        match: PersonMatch,
        tracker_events: int,
        now: dt.datetime,
    ) -> None:
        with self._sessions() as session, session.begin():
            session.add(
                _audit_row(
                    kind, actor, subject, match, tracker_events, match.inbox_items, self._key, now
                )
            )

    def audit_log(
        self, limit: int = _AUDIT_LIMIT, subject: Subject | None = None
    ) -> list[PersonRequestRecord]:
        """List the latest exports and erasures, newest first.

        Args:
            limit: Most rows.
            subject: Only those about this person (matched by the keyed hash).

        Returns:
            The audit records.
        """
        statement = select(PersonRequest)
        if subject is not None:
            statement = statement.where(PersonRequest.subject_hash == subject.digest(self._key))
        statement = statement.order_by(
            PersonRequest.created_at.desc(), PersonRequest.id.desc()
        ).limit(limit)
        with self._sessions() as session:
            return [
                PersonRequestRecord(
                    **{
                        f.name: getattr(row, f.name)
                        for f in dataclasses.fields(PersonRequestRecord)
                    }
                )
                for row in session.scalars(statement)
            ]


def export_json(document: dict[str, Any]) -> str:
    """Serialise an export document (UTF-8 text, readable indentation).

    Args:
        document: What :meth:`PersonDataService.export` returned.

    Returns:
        JSON text.
    """
    return json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"


def _audit_row(
    kind: str,
    actor: str,
    subject: Subject,
    match: PersonMatch,
    tracker_events: int,
    inbox_items: int,
    key: bytes,
    now: dt.datetime,
) -> PersonRequest:
    return PersonRequest(
        kind=kind,
        actor=actor[:200],
        subject_hash=subject.digest(key),
        subject_masked=subject.masked(),
        cases=len(match.cases),
        conversations=len(match.conversation_ids),
        tracker_events=tracker_events,
        inbox_items=inbox_items,
        case_references=",".join(match.references),
        created_at=now,
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _slot_holds(data: str | None, subject: Subject) -> bool:
    try:
        event = json.loads(data or "{}")
    except ValueError:
        return False
    value = event.get("value") if isinstance(event, dict) else None
    return subject.matches_email(value) or subject.matches_phone(value)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _inbox_export(item: InboxMessage) -> dict[str, Any]:
    return {
        "conversation_id": item.sender_id,
        "text": item.text,
        "received_at": _iso(item.received_at),
        "status": item.status,
        "predicted_intent": item.predicted_intent,
        "intent": item.intent,
    }


def _case_export(case: CaseRecord, events: list[CaseEventRecord]) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "created_at": _iso(case.created_at),
        "topic": case.topic,
        "permit_type": case.permit_type,
        "unit": case.unit,
        "status": case.status,
        "contact_name": case.contact_name,
        "company_name": case.company_name,
        "org_number": case.org_number,
        "contact_email": case.contact_email,
        "contact_phone": case.contact_phone,
        "description": case.description,
        "conversation_id": case.conversation_id,
        "first_response_at": _iso(case.first_response_at),
        "first_response_channel": case.first_response_channel,
        "closed_at": _iso(case.closed_at),
        "events": [
            {"kind": event.kind, "at": _iso(event.created_at), "note": event.note}
            for event in events
        ],
    }
