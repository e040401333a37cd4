"""SQLAlchemy models of the case log. The schema changes only through Alembic migrations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

Base = declarative_base()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Convert aware datetimes to UTC; refuse naive ones."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; store timezone-aware UTC times")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        """Attach UTC to naive values read back from SQLite."""
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    """Current time in UTC, timezone-aware."""
    return dt.datetime.now(dt.timezone.utc)


class Case(Base):  # type: ignore[misc,valid-type]
    """One enquiry from a company, routed to a unit."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("year", "sequence", name="uq_cases_year_sequence"),
        Index("ix_cases_unit_status_created", "unit", "status", "created_at"),
        Index("ix_cases_unit_created_date", "unit", "created_date"),
        Index("ix_cases_status_first_due", "status", "first_response_due_at"),
        Index("ix_cases_status_resolution_due", "status", "resolution_due_at"),
        # Covers the dashboard's GROUP BY (revision 0003): no table reads, no sort.
        Index(
            "ix_cases_dashboard",
            "unit",
            "topic",
            "created_date",
            "status",
            "first_response_at",
            "first_response_due_at",
            "first_response_seconds",
            "resolution_due_at",
        ),
    )

    id = Column(Integer, primary_key=True)
    reference = Column(String(20), nullable=False, unique=True)
    year = Column(Integer, nullable=False)
    sequence = Column(Integer, nullable=False)
    idempotency_key = Column(String(200), nullable=False, unique=True)
    topic = Column(String(32), nullable=False, index=True)
    permit_type = Column(String(40), nullable=True)
    unit = Column(String(40), nullable=False)
    contact_name = Column(String(200), nullable=False)
    company_name = Column(String(200), nullable=False)
    org_number = Column(String(11), nullable=True)
    contact_email = Column(String(200), nullable=True)
    contact_phone = Column(String(20), nullable=True)
    description = Column(Text, nullable=False)
    conversation_id = Column(String(100), nullable=False, index=True)
    status = Column(String(20), nullable=False, default="open")
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    # Added by revision 0002 (officials' app, response times).
    created_date = Column(Date, nullable=True)  # Stockholm date, for weeks and months
    assigned_to = Column(Integer, ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)
    first_response_due_at = Column(UTCDateTime(), nullable=True)
    resolution_due_at = Column(UTCDateTime(), nullable=True)
    first_response_at = Column(UTCDateTime(), nullable=True)
    first_response_channel = Column(String(16), nullable=True)
    first_response_seconds = Column(Integer, nullable=True)  # working time
    closed_at = Column(UTCDateTime(), nullable=True)
    resolution_seconds = Column(Integer, nullable=True)  # working time


class CaseEvent(Base):  # type: ignore[misc,valid-type]
    """Append-only history of a case: created, assigned, answered, noted, closed, reopened."""

    __tablename__ = "case_events"

    id = Column(Integer, primary_key=True)
    case_id = Column(
        Integer, ForeignKey("cases.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    kind = Column(String(32), nullable=False)
    actor = Column(String(100), nullable=False)
    note = Column(Text, nullable=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)


class User(Base):  # type: ignore[misc,valid-type]
    """An account in the officials' app: official, trainer or admin."""

    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    email = Column(String(200), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    role = Column(String(16), nullable=False)
    unit = Column(String(40), nullable=True)
    password_hash = Column(String(200), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    # Raised at logout: every session cookie issued before becomes invalid (revision 0004).
    session_version = Column(Integer, nullable=False, default=0, server_default="0")


class LoginThrottle(Base):  # type: ignore[misc,valid-type]
    """Failed logins per account or per client address, so lockouts survive restarts."""

    __tablename__ = "login_throttle"

    key = Column(String(250), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    first_failure_at = Column(UTCDateTime(), nullable=False)
    locked_until = Column(UTCDateTime(), nullable=True)


# --- Issue 5: NLU inbox (revision 0005) ---


class InboxMessage(Base):  # type: ignore[misc,valid-type]
    """A user message the bot misunderstood (or an official flagged), and its annotation.

    The text is masked (personnummer, e-mail, phone) before it is stored. ``shape`` groups
    near-duplicates; ``status`` is ``open`` (in the inbox), ``annotated`` (a training example),
    ``irrelevant`` (dismissed), ``conflict`` (held: the same shape has two labels) or
    ``heldout`` (the text is in the held-out test file and never becomes training data).
    """

    __tablename__ = "inbox_messages"
    __table_args__ = (
        Index("ix_inbox_messages_status_shape", "status", "shape_key"),
        Index("ix_inbox_messages_shape_status", "shape_key", "status"),
    )

    id = Column(Integer, primary_key=True)
    message_key = Column(String(64), nullable=False, unique=True)  # conversation + time
    sender_id = Column(String(255), nullable=False, index=True)
    text = Column(Text, nullable=False)
    shape = Column(Text, nullable=False)
    shape_key = Column(String(32), nullable=False)
    reason = Column(String(16), nullable=False)
    predicted_intent = Column(String(64), nullable=True)
    confidence = Column(Float, nullable=True)
    predicted_permit_type = Column(String(40), nullable=True)
    predicted_permit_span = Column(String(200), nullable=True)
    received_at = Column(UTCDateTime(), nullable=False)
    collected_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    flagged_by = Column(String(200), nullable=True)
    status = Column(String(16), nullable=False, default="open")
    intent = Column(String(64), nullable=True)
    permit_type = Column(String(40), nullable=True)
    permit_start = Column(Integer, nullable=True)
    permit_end = Column(Integer, nullable=True)
    annotated_by = Column(String(200), nullable=True)
    annotated_at = Column(UTCDateTime(), nullable=True)


class InboxCursor(Base):  # type: ignore[misc,valid-type]
    """How far the inbox has read a source (the tracker store's ``events.id``)."""

    __tablename__ = "inbox_cursor"

    source = Column(String(32), primary_key=True)
    last_event_id = Column(Integer, nullable=False, default=0)
    updated_at = Column(UTCDateTime(), nullable=False, default=utcnow)


# --- Issue 5: model registry and trainings (revision 0006) ---


TRAINING_STATUSES: tuple[str, ...] = ("queued", "training", "trained", "failed")
"""Life of a registry model: waiting for its worker, training, trained (usable) or failed."""


class NluModel(Base):  # type: ignore[misc,valid-type]
    """A model of the registry: one training run and the archive it produced under models/."""

    __tablename__ = "nlu_models"

    id = Column(Integer, primary_key=True)
    file_name = Column(String(200), nullable=True, unique=True)
    status = Column(String(16), nullable=False, default="queued")
    # 1 while queued or training, NULL otherwise: the unique constraint lets one run at a time.
    running_slot = Column(Integer, nullable=True, unique=True)
    started_by = Column(String(200), nullable=False)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    started_at = Column(UTCDateTime(), nullable=True)
    finished_at = Column(UTCDateTime(), nullable=True)
    worker_pid = Column(Integer, nullable=True)
    phase = Column(String(80), nullable=True)
    epoch = Column(Integer, nullable=True)
    epochs = Column(Integer, nullable=True)
    epochs_started_at = Column(UTCDateTime(), nullable=True)
    failure_reason = Column(Text, nullable=True)
    git_commit = Column(String(64), nullable=True)
    data_hash = Column(String(64), nullable=True)
    rasa_model_id = Column(String(64), nullable=True, index=True)
    size_bytes = Column(Integer, nullable=True)


class NluModelEvaluation(Base):  # type: ignore[misc,valid-type]
    """Scores and predictions of a registry model on one data set (held-out file or inbox)."""

    __tablename__ = "nlu_model_evaluations"
    __table_args__ = (Index("ix_nlu_model_evaluations_model_dataset", "model_id", "dataset"),)

    id = Column(Integer, primary_key=True)
    model_id = Column(Integer, ForeignKey("nlu_models.id", ondelete="CASCADE"), nullable=False)
    dataset = Column(String(16), nullable=False)
    dataset_hash = Column(String(64), nullable=False)
    examples = Column(Integer, nullable=False)
    intent_accuracy = Column(Float, nullable=False)
    macro_f1 = Column(Float, nullable=False)
    report = Column(Text, nullable=False)  # JSON: the predictions, see bot.nlu_eval.NluReport
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)


class NluModelActivation(Base):  # type: ignore[misc,valid-type]
    """Append-only history of which model the Rasa servers serve: who switched, when, why."""

    __tablename__ = "nlu_model_activations"

    id = Column(Integer, primary_key=True)
    model_id = Column(
        Integer, ForeignKey("nlu_models.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    previous_model_id = Column(
        Integer, ForeignKey("nlu_models.id", ondelete="RESTRICT"), nullable=True
    )
    kind = Column(String(16), nullable=False)  # activate, rollback
    actor = Column(String(200), nullable=False)
    override_reason = Column(Text, nullable=True)
    servers = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)



# --- Issue 8: audit of one person's export and erasure (revision 0007) ---


class PersonRequest(Base):  # type: ignore[misc,valid-type]
    """Audit of an export or erasure of one person's data (GDPR art. 15/17).

    The person's e-mail or phone number is never stored in clear: only a keyed hash (to see
    that two requests concern the same person) and a masked form for the admin.
    """

    __tablename__ = "person_requests"

    id = Column(Integer, primary_key=True)
    kind = Column(String(16), nullable=False)  # export | erase
    actor = Column(String(200), nullable=False)
    subject_hash = Column(String(64), nullable=False, index=True)
    subject_masked = Column(String(200), nullable=False)
    cases = Column(Integer, nullable=False, default=0)
    conversations = Column(Integer, nullable=False, default=0)
    tracker_events = Column(Integer, nullable=False, default=0)
    inbox_items = Column(Integer, nullable=False, default=0)
    case_references = Column(Text, nullable=False, default="")
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow, index=True)
