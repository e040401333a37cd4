"""The NLU inbox: messages the bot misunderstood, grouped, annotated and turned into training data.

Flow (issue 5, part A)::

    Rasa tracker store (events)            case transcript (official clicks "Flagga")
          |  collect(): nlu_fallback,              |  flag()
          |  low confidence, fallback action       |
          v                                        v
    inbox_messages (masked text, shape, prediction)  -- status "open" = in the inbox
          |  annotate(): intent / irrelevant, permit_type span; one group or many
          v
    held-out text?  -> "heldout" (never training data)
    two labels for one shape (annotations or data/nlu/*.yml)? -> "conflict" until resolved
    otherwise       -> "annotated" -> data/nlu/inbox.yml (generated, versioned with git)

Collection reads Rasa's SQL tracker store read-only from a cursor (the last ``events.id``
read) and stores each message once (unique key: conversation + event time), so it can run on
every visit of the inbox and from cron. Form answers (names, phone numbers) and button payloads
are not NLU failures and are skipped. Nothing is read at import; paths come from
:class:`bot.settings.Settings`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from bot.knowledge import PERMIT_TYPES, fold
from bot.models import InboxCursor, InboxMessage, utcnow
from bot.permit_matcher import canonical as canonical_permit_type
from bot.permit_matcher import fold_keep_length
from bot.privacy import mask_all, mask_personnummer
from bot.settings import Settings
from bot.transcripts import EVENTS, create_tracker_engine

logger = logging.getLogger(__name__)

REASONS: tuple[str, ...] = ("nlu_fallback", "low_confidence", "fallback_action", "flagged")
"""Why a message is in the inbox: the FallbackClassifier fired, the top intent's confidence was
below the threshold, the dialogue fell back, or an official flagged it."""

STATUSES: tuple[str, ...] = ("open", "annotated", "irrelevant", "conflict", "heldout")
"""Life of an inbox message (see :class:`bot.models.InboxMessage`)."""

IRRELEVANT = "irrelevant"
"""The label that dismisses a message without a training example."""

INTERNAL_INTENTS = frozenset({"inform", "cancel"})
"""Intents not offered to trainers: form answers and "avbryt" only make sense inside a form,
and the inbox never holds form answers."""

INBOX_FILE = "inbox.yml"
"""The generated training file under ``data/nlu/``."""

NLU_FALLBACK = "nlu_fallback"
DEFAULT_FALLBACK_ACTION = "action_default_fallback"
_CURSOR_SOURCE = "tracker"
_MAX_TEXT = 2000
_MAX_SPAN = 100
_LOOP_EVENTS = ("active_loop", "restart", "session_started")
_SCANNED = ("user", "action", *_LOOP_EVENTS)
_MISSING = (OperationalError, ProgrammingError)
_ENTITY_MARKUP = re.compile(
    r"\[(?P<text>[^\]]+?)\](?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|\{(?P<dict>[^}]+?)\}|\[(?P<list>.*?)\])"
)
_DIGITS = re.compile(r"\d+")


class InboxError(ValueError):
    """An annotation or flag that cannot be saved; the message is Swedish, for the trainer."""


# --------------------------------------------------------------------------------------
# Text: masking, shape, training-data files
# --------------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Mask personal data and keep one line of printable text (what the inbox stores).

    Args:
        text: A user message as the tracker store has it.

    Returns:
        The text with personnummer, e-mail addresses and phone numbers masked, whitespace
        collapsed and control characters removed, at most 2,000 characters.
    """
    masked = mask_all(text)
    printable = "".join(char if char.isprintable() else " " for char in masked)
    return " ".join(printable.split())[:_MAX_TEXT]


def shape(text: str) -> str:
    """Normalise a message so near-duplicates share one shape.

    Lower case, å/ä/ö and other diacritics folded, punctuation removed, every run of digits
    replaced by ``0``, whitespace collapsed: ``"Bygglov för 2 st. Carportar?"`` and
    ``"bygglov for 3 st carportar"`` have the same shape. Texts without Latin letters or digits
    keep their case-folded form.

    Args:
        text: Any text.

    Returns:
        The shape.
    """
    folded = _DIGITS.sub("0", fold(text))
    return folded or " ".join(text.casefold().split())


def shape_key(text_shape: str) -> str:
    """Return a short stable key of a shape (for URLs and the database index).

    Args:
        text_shape: A shape from :func:`shape`.

    Returns:
        32 hexadecimal characters.
    """
    return hashlib.sha256(text_shape.encode("utf-8")).hexdigest()[:32]


def message_key(sender_id: str, timestamp: float) -> str:
    """Return the unique key of a user message: its conversation and time.

    Args:
        sender_id: The conversation id.
        timestamp: The event's Unix time as the tracker store has it.

    Returns:
        64 hexadecimal characters.
    """
    return hashlib.sha256(f"{sender_id}\x1f{timestamp:.6f}".encode()).hexdigest()


def plain_example(example: str) -> str:
    """Remove Rasa's entity markup from a training example.

    Args:
        example: For example ``behöver jag [bygglov](permit_type)``.

    Returns:
        ``behöver jag bygglov``.
    """
    return _ENTITY_MARKUP.sub(lambda match: match.group("text"), example)


@dataclasses.dataclass(frozen=True)
class NluExample:
    """One intent example of a Rasa NLU YAML file.

    Attributes:
        text: The plain text (entity markup removed).
        intent: The intent.
        synonyms: Entity spellings annotated with another value (spelling, value); Rasa
            turns them into synonyms.
    """

    text: str
    intent: str
    synonyms: tuple[tuple[str, str], ...] = ()


def read_nlu_file(path: Path) -> tuple[list[NluExample], dict[str, str]]:
    """Read the intent examples and ``permit_type`` synonyms of a Rasa 3 NLU YAML file.

    Args:
        path: A file such as ``data/nlu/ask_permit.yml``.

    Returns:
        The examples, and synonym spellings (as written) mapped to their values.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples: list[NluExample] = []
    synonyms: dict[str, str] = {}
    for block in data.get("nlu") or []:
        if not isinstance(block, dict):
            continue
        if "synonym" in block:
            for line in _example_lines(block.get("examples")):
                synonyms[line] = str(block["synonym"])
        elif "intent" in block:
            for line in _example_lines(block.get("examples")):
                annotated = tuple(
                    (match.group("text"), value)
                    for match in _ENTITY_MARKUP.finditer(line)
                    if (value := _markup_value(match)) is not None
                )
                examples.append(NluExample(plain_example(line), str(block["intent"]), annotated))
    return examples, synonyms


def _example_lines(examples: object) -> Iterator[str]:
    if isinstance(examples, str):
        for line in examples.splitlines():
            line = line.strip()
            if line.startswith("-"):
                line = line[1:].strip()
            if line:
                yield line
    elif isinstance(examples, list):
        for item in examples:
            text = item.get("text") if isinstance(item, dict) else item
            if isinstance(text, str) and text.strip():
                yield text.strip()


def _markup_value(match: re.Match[str]) -> str | None:
    """The value an entity annotation maps its text to (a synonym), when it differs."""
    value: object = match.group("value")
    if match.group("dict"):
        try:
            attributes = json.loads("{" + match.group("dict") + "}")
        except ValueError:
            return None
        value = attributes.get("value") if isinstance(attributes, dict) else None
    return str(value) if value and value != match.group("text") else None


@dataclasses.dataclass(frozen=True)
class DataIndex:
    """What the project's training and held-out data already say, by shape.

    Attributes:
        intents: Shape -> intent -> the data file holding such an example (without the inbox's
            own file, which the database regenerates).
        heldout: Shapes of the held-out test file's examples.
        synonyms: Case-folded entity spellings -> value (Rasa's synonyms hold for every
            entity, so a ``permit_type`` span must not give a spelling a second meaning).
    """

    intents: Mapping[str, Mapping[str, str]]
    heldout: frozenset[str]
    synonyms: Mapping[str, str]

    def other_intents(self, text_shape: str, intent: str) -> dict[str, str]:
        """Intents other than ``intent`` the data gives this shape, with their files."""
        return {
            other: path
            for other, path in self.intents.get(text_shape, {}).items()
            if other != intent
        }


def load_data_index(data_dir: Path, heldout_file: Path) -> DataIndex:
    """Index the training data (``data_dir/nlu/*.yml`` except the inbox file) and held-out file.

    Cached while the files are unchanged (modification times and sizes).

    Args:
        data_dir: The project's ``data/`` directory.
        heldout_file: The held-out NLU test file.

    Returns:
        The index.
    """
    files = sorted(path for path in (data_dir / "nlu").glob("*.yml") if path.name != INBOX_FILE)
    stamp = tuple((str(path), *_stat(path)) for path in (*files, heldout_file))
    return _cached_index(stamp, str(data_dir), str(heldout_file))


def _stat(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except FileNotFoundError:
        return (0, -1)
    return (status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=4)
def _cached_index(
    stamp: tuple[tuple[str, int, int], ...], data_dir: str, heldout_file: str
) -> DataIndex:
    intents: dict[str, dict[str, str]] = defaultdict(dict)
    synonyms: dict[str, str] = {}
    for path_text, _mtime, size in stamp:
        path = Path(path_text)
        if size < 0 or path_text == heldout_file:
            continue
        examples, file_synonyms = read_nlu_file(path)
        label = path.relative_to(Path(data_dir).parent).as_posix()
        for example in examples:
            intents[shape(example.text)].setdefault(example.intent, label)
            synonyms.update({text.casefold(): value for text, value in example.synonyms})
        synonyms.update({text.casefold(): value for text, value in file_synonyms.items()})
    heldout: set[str] = set()
    if Path(heldout_file).is_file():
        heldout = {shape(example.text) for example in read_nlu_file(Path(heldout_file))[0]}
    return DataIndex(
        intents={key: dict(value) for key, value in intents.items()},
        heldout=frozenset(heldout),
        synonyms=synonyms,
    )


def domain_intents(domain_file: Path) -> tuple[str, ...]:
    """Return the intents a trainer may choose: the domain's, without the internal ones.

    Args:
        domain_file: The project's ``domain.yml``.

    Returns:
        Intent names in the domain's order.
    """
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    names = []
    for entry in domain.get("intents") or []:
        name = next(iter(entry)) if isinstance(entry, dict) else entry
        if isinstance(name, str) and name not in INTERNAL_INTENTS:
            names.append(name)
    return tuple(names)


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AnnotatedExample:
    """A recent annotated inbox message, for comparing models (part B of issue 5)."""

    text: str
    intent: str
    permit_type: str | None


@dataclasses.dataclass(frozen=True)
class NewInboxMessage:
    """A message about to enter the inbox (text already masked)."""

    message_key: str
    sender_id: str
    text: str
    reason: str
    received_at: dt.datetime
    predicted_intent: str | None = None
    confidence: float | None = None
    predicted_permit_type: str | None = None
    predicted_permit_span: str | None = None
    flagged_by: str | None = None


@dataclasses.dataclass(frozen=True)
class InboxItem:
    """One stored inbox message, as pages show it."""

    id: int
    text: str
    shape_key: str
    reason: str
    predicted_intent: str | None
    confidence: float | None
    predicted_permit_type: str | None
    predicted_permit_span: str | None
    received_at: dt.datetime
    flagged_by: str | None
    status: str
    intent: str | None
    permit_type: str | None
    annotated_by: str | None
    annotated_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class InboxGroup:
    """Open messages sharing one shape.

    Attributes:
        key: The shape key.
        count: How many open messages share the shape.
        newest: When the newest arrived.
        text: The newest message's text.
        texts: Up to five distinct texts, newest first.
        predicted_intent: The most frequent predicted intent.
        confidence: Mean confidence of the predictions, or None.
        reasons: Why they are in the inbox.
        flagged_by: Who flagged some of them.
        predicted_permit_type: A permit type the model found in the newest message.
        predicted_permit_span: ... and the words that gave it away.
        known_intents: Labels this shape already has (annotations and data files).
        in_heldout: The shape is in the held-out test file: it cannot become training data.
        items: The newest messages (five in the list, up to 50 on a group's page).
    """

    key: str
    count: int
    newest: dt.datetime
    text: str
    texts: tuple[str, ...]
    predicted_intent: str | None
    confidence: float | None
    reasons: tuple[str, ...]
    flagged_by: tuple[str, ...]
    predicted_permit_type: str | None
    predicted_permit_span: str | None
    known_intents: tuple[str, ...] = ()
    in_heldout: bool = False
    items: tuple[InboxItem, ...] = ()


@dataclasses.dataclass(frozen=True)
class GroupPage:
    """One page of the inbox."""

    groups: tuple[InboxGroup, ...]
    page: int
    per_page: int
    total_groups: int
    total_messages: int
    conflicts: int

    @property
    def pages(self) -> int:
        """int: Number of pages (at least one)."""
        return max(1, -(-self.total_groups // self.per_page))


@dataclasses.dataclass(frozen=True)
class ConflictGroup:
    """Messages of one shape held because the shape has two labels.

    Attributes:
        key: The shape key.
        texts: Distinct texts, newest first.
        labels: Intent -> how many held messages carry it.
        data_intents: Intent -> data file, when the project's data already has the shape.
        annotated_by: Who labelled the held messages.
    """

    key: str
    texts: tuple[str, ...]
    labels: Mapping[str, int]
    data_intents: Mapping[str, str]
    annotated_by: tuple[str, ...]

    @property
    def choices(self) -> tuple[str, ...]:
        """tuple[str, ...]: The labels a trainer may keep (the data file's, when it has one)."""
        if self.data_intents:
            return tuple(sorted(self.data_intents))
        return tuple(sorted(set(self.labels)))


@dataclasses.dataclass(frozen=True)
class Label:
    """What a trainer decided for one or more groups.

    Attributes:
        intent: An intent of the contract, or None for "irrelevant" (dismissed).
        permit_span: Words of the message that name the permit type (as written).
        permit_type: The canonical permit type of that span.
    """

    intent: str | None
    permit_span: str | None = None
    permit_type: str | None = None


@dataclasses.dataclass(frozen=True)
class AnnotationOutcome:
    """What a save did, message by message (for the trainer's confirmation)."""

    annotated: int = 0
    irrelevant: int = 0
    conflicts: int = 0
    heldout: int = 0
    without_example: int = 0

    def __add__(self, other: AnnotationOutcome) -> AnnotationOutcome:
        """Add two outcomes field by field."""
        return AnnotationOutcome(
            *(
                getattr(self, field.name) + getattr(other, field.name)
                for field in dataclasses.fields(self)
            )
        )


def _item(row: InboxMessage) -> InboxItem:
    return InboxItem(**{f.name: getattr(row, f.name) for f in dataclasses.fields(InboxItem)})


def find_span(text: str, span: str) -> tuple[int, int] | None:
    """Find words in a text, ignoring case and å/ä/ö.

    Args:
        text: The message.
        span: The words to find.

    Returns:
        Start and end offsets of the first occurrence, or None.
    """
    if not span:
        return None
    start = fold_keep_length(text).find(fold_keep_length(span))
    return (start, start + len(span)) if start >= 0 else None


# --------------------------------------------------------------------------------------
# Repository
# --------------------------------------------------------------------------------------


class InboxRepository:
    """Reads and writes the inbox tables; each call owns one short transaction."""

    def __init__(self, engine: Engine) -> None:
        """Create a repository on an engine.

        Args:
            engine: A SQLAlchemy engine created with ``future=True``.
        """
        self._engine = engine
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)

    # --- collection ----------------------------------------------------------------------

    def cursor(self) -> int:
        """Return the last tracker-store event id read (0 before the first collection)."""
        with self._sessions() as session:
            value = session.execute(
                select(InboxCursor.last_event_id).where(InboxCursor.source == _CURSOR_SOURCE)
            ).scalar_one_or_none()
        return int(value or 0)

    def set_cursor(self, event_id: int, reset: bool = False) -> None:
        """Move the cursor forward (never back, unless ``reset``: the tracker store was emptied).

        Args:
            event_id: The last event id read.
            reset: Allow moving back.
        """
        now = utcnow()
        with self._engine.begin() as connection:
            _insert_ignore(
                connection,
                InboxCursor.__table__,
                [{"source": _CURSOR_SOURCE, "last_event_id": 0, "updated_at": now}],
            )
            statement = update(InboxCursor).where(InboxCursor.source == _CURSOR_SOURCE)
            if not reset:
                statement = statement.where(InboxCursor.last_event_id < event_id)
            connection.execute(statement.values(last_event_id=event_id, updated_at=now))

    def add(self, messages: Sequence[NewInboxMessage]) -> int:
        """Store new messages; one that is already stored (same key) is left alone.

        Args:
            messages: Messages with masked text.

        Returns:
            How many were new.
        """
        if not messages:
            return 0
        now = utcnow()
        rows = [
            {
                **dataclasses.asdict(message),
                "shape": (text_shape := shape(message.text)),
                "shape_key": shape_key(text_shape),
                "collected_at": now,
                "status": "open",
            }
            for message in messages
        ]
        unique = list({row["message_key"]: row for row in rows}.values())
        added = 0
        with self._engine.begin() as connection:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                stored = set(
                    connection.execute(
                        select(InboxMessage.message_key).where(
                            InboxMessage.message_key.in_([row["message_key"] for row in chunk])
                        )
                    ).scalars()
                )
                fresh = [row for row in chunk if row["message_key"] not in stored]
                # A collector racing this one may store some of them first: skipped, not an error.
                _insert_ignore(connection, InboxMessage.__table__, fresh)
                added += len(fresh)
        return added

    def flag(self, message: NewInboxMessage) -> str:
        """Put a message an official flagged into the inbox.

        Args:
            message: The message, with ``reason="flagged"`` and ``flagged_by`` set.

        Returns:
            ``added`` (new in the inbox), ``updated`` (it was there; now marked as flagged) or
            ``handled`` (a trainer has already dealt with it).
        """
        with self._sessions.begin() as session:
            row = session.execute(
                select(InboxMessage).where(InboxMessage.message_key == message.message_key)
            ).scalar_one_or_none()
            if row is not None:
                if row.status != "open":
                    return "handled"
                row.reason = "flagged"
                row.flagged_by = message.flagged_by
                return "updated"
        return "added" if self.add([message]) else "updated"

    # --- the inbox -----------------------------------------------------------------------

    def groups(self, page: int = 1, per_page: int = 25) -> GroupPage:
        """List open messages grouped by shape, most frequent shapes first, then newest.

        Args:
            page: Page number (from 1).
            per_page: Groups per page.

        Returns:
            The page.
        """
        count = func.count(InboxMessage.id).label("n")
        newest = func.max(InboxMessage.received_at).label("newest")
        open_ = InboxMessage.status == "open"
        with self._sessions() as session:
            keys = [
                row.shape_key
                for row in session.execute(
                    select(InboxMessage.shape_key, count, newest)
                    .where(open_)
                    .group_by(InboxMessage.shape_key)
                    .order_by(count.desc(), newest.desc(), InboxMessage.shape_key)
                    .limit(per_page)
                    .offset((max(page, 1) - 1) * per_page)
                )
            ]
            total_groups, total_messages = session.execute(
                select(func.count(func.distinct(InboxMessage.shape_key)), func.count()).where(open_)
            ).one()
            conflicts = session.execute(
                select(func.count(func.distinct(InboxMessage.shape_key))).where(
                    InboxMessage.status == "conflict"
                )
            ).scalar_one()
            summaries = self._summaries(session, keys, newest_items=5)
        groups = tuple(summaries[key] for key in keys if key in summaries)
        return GroupPage(
            groups=groups,
            page=max(page, 1),
            per_page=per_page,
            total_groups=int(total_groups or 0),
            total_messages=int(total_messages or 0),
            conflicts=int(conflicts or 0),
        )

    def group(self, key: str, items: int = 50) -> InboxGroup | None:
        """Return one open group with its newest messages.

        Args:
            key: The shape key.
            items: Most messages to return (the label applies to all of the group).

        Returns:
            The group, or None when no open message has the shape.
        """
        with self._sessions() as session:
            return self._summaries(session, [key], newest_items=items).get(key)

    def _summaries(
        self, session: Session, keys: Sequence[str], newest_items: int
    ) -> dict[str, InboxGroup]:
        """Summarise open groups in SQL, loading only each group's newest messages."""
        if not keys:
            return {}
        open_ = (InboxMessage.status == "open", InboxMessage.shape_key.in_(keys))
        key_column = InboxMessage.shape_key
        stats = {
            key: (count, mean)
            for key, count, mean in session.execute(
                select(key_column, func.count(), func.avg(InboxMessage.confidence))
                .where(*open_)
                .group_by(key_column)
            )
        }
        reasons: dict[str, set[str]] = defaultdict(set)
        for key, reason in session.execute(
            select(key_column, InboxMessage.reason).where(*open_).distinct()
        ):
            reasons[key].add(reason)
        flaggers: dict[str, set[str]] = defaultdict(set)
        for key, who in session.execute(
            select(key_column, InboxMessage.flagged_by)
            .where(*open_, InboxMessage.flagged_by.is_not(None))
            .distinct()
        ):
            flaggers[key].add(who)
        predictions: dict[str, Counter[str]] = defaultdict(Counter)
        for key, intent, count in session.execute(
            select(key_column, InboxMessage.predicted_intent, func.count())
            .where(*open_, InboxMessage.predicted_intent.is_not(None))
            .group_by(key_column, InboxMessage.predicted_intent)
        ):
            predictions[key][intent] = count
        order = (InboxMessage.received_at.desc(), InboxMessage.id.desc())
        ranked = (
            select(
                InboxMessage.id,
                func.row_number().over(partition_by=key_column, order_by=order).label("rank"),
            )
            .where(*open_)
            .subquery()
        )
        newest: dict[str, list[InboxItem]] = defaultdict(list)
        for row in session.execute(
            select(InboxMessage)
            .join(ranked, ranked.c.id == InboxMessage.id)
            .where(ranked.c.rank <= newest_items)
            .order_by(*order)
        ).scalars():
            newest[row.shape_key].append(_item(row))
        summaries = {}
        for key, items in newest.items():
            count, mean = stats[key]
            first = items[0]
            summaries[key] = InboxGroup(
                key=key,
                count=int(count),
                newest=first.received_at,
                text=first.text,
                texts=tuple(dict.fromkeys(item.text for item in items))[:5],
                predicted_intent=(
                    predictions[key].most_common(1)[0][0] if predictions[key] else None
                ),
                confidence=float(mean) if mean is not None else None,
                reasons=tuple(reason for reason in REASONS if reason in reasons[key]),
                flagged_by=tuple(sorted(flaggers[key])),
                predicted_permit_type=first.predicted_permit_type,
                predicted_permit_span=first.predicted_permit_span,
                items=tuple(items),
            )
        return summaries

    def labels_for(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """Return the intents already given to shapes (annotated or held messages).

        Args:
            keys: Shape keys.

        Returns:
            Shape key -> intents.
        """
        keys = list(keys)
        labels: dict[str, set[str]] = defaultdict(set)
        if not keys:
            return labels
        with self._sessions() as session:
            rows = session.execute(
                select(InboxMessage.shape_key, InboxMessage.intent)
                .where(
                    InboxMessage.shape_key.in_(keys),
                    InboxMessage.status.in_(("annotated", "conflict")),
                    InboxMessage.intent.is_not(None),
                )
                .distinct()
            )
            for key, intent in rows:
                labels[key].add(intent)
        return labels

    # --- annotation ----------------------------------------------------------------------

    def annotate(
        self,
        keys: Sequence[str],
        label: Label,
        actor: str,
        index: DataIndex,
        now: dt.datetime | None = None,
    ) -> AnnotationOutcome:
        """Label every open message of some groups, in one transaction.

        A shape in the held-out file is stored as ``heldout`` (never training data). A shape
        that already has another label (an earlier annotation or an example in the data files)
        is held as ``conflict``, and so are the earlier annotations it contradicts. A
        ``permit_type`` span is looked up in each message (ignoring case and å/ä/ö); a message
        without it keeps the label but gives no training example.

        Args:
            keys: Shape keys of the groups.
            label: The decision.
            actor: Who decided (e-mail).
            index: The project's data, for conflicts and held-out texts.
            now: Time of the decision.

        Returns:
            What happened to the messages.
        """
        at = now or utcnow()
        outcome = AnnotationOutcome()
        with self._sessions.begin() as session:
            for key in dict.fromkeys(keys):
                outcome += self._annotate_group(session, key, label, actor, index, at)
        return outcome

    def _annotate_group(
        self,
        session: Session,
        key: str,
        label: Label,
        actor: str,
        index: DataIndex,
        at: dt.datetime,
    ) -> AnnotationOutcome:
        rows = (
            session.execute(
                select(InboxMessage).where(
                    InboxMessage.shape_key == key, InboxMessage.status == "open"
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return AnnotationOutcome()
        text_shape = rows[0].shape
        if label.intent is None:
            status = "irrelevant"
        elif text_shape in index.heldout:
            status = "heldout"
        else:
            others = (
                session.execute(
                    select(InboxMessage).where(
                        InboxMessage.shape_key == key,
                        InboxMessage.status.in_(("annotated", "conflict")),
                    )
                )
                .scalars()
                .all()
            )
            clash = bool(index.other_intents(text_shape, label.intent)) or any(
                other.status == "conflict" or other.intent != label.intent for other in others
            )
            status = "conflict" if clash else "annotated"
            if clash:
                for other in others:
                    other.status = "conflict"
        without_example = 0
        for row in rows:
            row.status = status
            row.intent = label.intent
            row.permit_type = label.permit_type if label.intent else None
            row.permit_start = row.permit_end = None
            if label.intent and label.permit_span:
                found = find_span(row.text, label.permit_span)
                if found is None:
                    without_example += status == "annotated"
                else:
                    row.permit_start, row.permit_end = found
            row.annotated_by = actor
            row.annotated_at = at
        count = len(rows)
        return AnnotationOutcome(
            annotated=count if status == "annotated" else 0,
            irrelevant=count if status == "irrelevant" else 0,
            conflicts=count if status == "conflict" else 0,
            heldout=count if status == "heldout" else 0,
            without_example=without_example,
        )

    def conflicts(self, index: DataIndex) -> list[ConflictGroup]:
        """List the shapes held as conflicts, oldest decision first.

        Args:
            index: The project's data (its labels take part in the conflict).

        Returns:
            The conflicts.
        """
        with self._sessions() as session:
            rows = (
                session.execute(
                    select(InboxMessage)
                    .where(InboxMessage.status == "conflict")
                    .order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
                )
                .scalars()
                .all()
            )
        by_key: dict[str, list[InboxMessage]] = defaultdict(list)
        for row in rows:
            by_key[row.shape_key].append(row)
        groups = [
            ConflictGroup(
                key=key,
                texts=tuple(dict.fromkeys(row.text for row in held)),
                labels=dict(Counter(row.intent for row in held if row.intent)),
                data_intents=dict(index.intents.get(held[0].shape, {})),
                annotated_by=tuple(sorted({row.annotated_by for row in held if row.annotated_by})),
            )
            for key, held in by_key.items()
        ]
        first_decision = {
            key: min(row.annotated_at or row.received_at for row in held)
            for key, held in by_key.items()
        }
        return sorted(groups, key=lambda group: first_decision[group.key])

    def resolve(
        self,
        key: str,
        choice: str,
        actor: str,
        index: DataIndex,
        now: dt.datetime | None = None,
    ) -> int:
        """Keep one label for a conflicting shape (or dismiss its messages).

        Args:
            key: The shape key.
            choice: One of the conflict's :attr:`ConflictGroup.choices`, or ``irrelevant``.
            actor: Who decided.
            index: The project's data.
            now: Time of the decision.

        Returns:
            How many messages were resolved.

        Raises:
            InboxError: The choice is not one of the conflict's labels.
        """
        at = now or utcnow()
        conflict = next((group for group in self.conflicts(index) if group.key == key), None)
        if conflict is None:
            return 0
        if choice != IRRELEVANT and choice not in conflict.choices:
            raise InboxError(
                "Välj en av etiketterna i konflikten."
                if not conflict.data_intents
                else "Texten finns redan i träningsdatan med en annan avsikt. Behåll den "
                "avsikten eller markera meddelandena som irrelevanta; datafilen ändras av en "
                "utvecklare."
            )
        with self._sessions.begin() as session:
            rows = (
                session.execute(
                    select(InboxMessage).where(
                        InboxMessage.shape_key == key, InboxMessage.status == "conflict"
                    )
                )
                .scalars()
                .all()
            )
            for row in rows:
                row.status = "irrelevant" if choice == IRRELEVANT else "annotated"
                row.intent = None if choice == IRRELEVANT else choice
                if choice == IRRELEVANT:
                    row.permit_type = row.permit_start = row.permit_end = None
                row.annotated_by = actor
                row.annotated_at = at
            return len(rows)

    def recheck(self, index: DataIndex) -> int:
        """Hold annotations the data files now contradict, or that became held-out texts.

        A developer may add an example to ``data/nlu`` or the held-out file after a trainer's
        annotation; the inbox then shows the clash instead of exporting both.

        Args:
            index: The project's data as it is now.

        Returns:
            How many annotations changed status.
        """
        changed = 0
        with self._sessions.begin() as session:
            rows = (
                session.execute(select(InboxMessage).where(InboxMessage.status == "annotated"))
                .scalars()
                .all()
            )
            for row in rows:
                if row.shape in index.heldout:
                    row.status = "heldout"
                elif index.other_intents(row.shape, row.intent):
                    row.status = "conflict"
                else:
                    continue
                changed += 1
        return changed

    # --- training data -------------------------------------------------------------------

    def annotated_rows(self) -> list[InboxItem]:
        """Return every annotated message (``annotated`` status), oldest decision first."""
        with self._sessions() as session:
            rows = session.execute(
                select(InboxMessage)
                .where(InboxMessage.status == "annotated")
                .order_by(InboxMessage.annotated_at, InboxMessage.id)
            ).scalars()
            return [_item(row) for row in rows]

    def training_examples(self) -> list[tuple[str, str, tuple[int, int, str] | None]]:
        """Return the training examples the annotations give: (text, intent, permit span).

        The span is (start, end, canonical value). A message labelled with a permit type whose
        words were not found gives no example.
        """
        with self._sessions() as session:
            rows = session.execute(
                select(
                    InboxMessage.text,
                    InboxMessage.intent,
                    InboxMessage.permit_type,
                    InboxMessage.permit_start,
                    InboxMessage.permit_end,
                )
                .where(InboxMessage.status == "annotated")
                .order_by(InboxMessage.annotated_at, InboxMessage.id)
            ).all()
        examples: list[tuple[str, str, tuple[int, int, str] | None]] = []
        for text, intent, permit_type, start, end in rows:
            if permit_type and (start is None or end is None):
                continue
            span = (start, end, permit_type) if permit_type else None
            examples.append((text, intent, span))
        return examples

    def annotated_synonyms(self) -> dict[str, str]:
        """Return the ``permit_type`` spellings annotated in the inbox (case-folded -> value)."""
        spellings: dict[str, str] = {}
        for text, _intent, span in self.training_examples():
            if span is not None:
                spellings[text[span[0] : span[1]].casefold()] = span[2]
        return spellings

    def annotated_examples(self, limit: int = 500) -> list[AnnotatedExample]:
        """Return recent annotated messages, newest first, for comparing models.

        Only messages with an intent that are neither held as conflicts, dismissed nor in the
        held-out file; each text once.

        Args:
            limit: Most examples to return.

        Returns:
            The examples.
        """
        with self._sessions() as session:
            rows = session.execute(
                select(InboxMessage.text, InboxMessage.intent, InboxMessage.permit_type)
                .where(InboxMessage.status == "annotated", InboxMessage.intent.is_not(None))
                .order_by(InboxMessage.annotated_at.desc(), InboxMessage.id.desc())
            )
            examples: dict[str, AnnotatedExample] = {}
            for text, intent, permit_type in rows:
                examples.setdefault(text, AnnotatedExample(text, intent, permit_type))
                if len(examples) >= limit:
                    break
        return list(examples.values())


def _insert_ignore(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows in one statement, skipping those whose unique key exists (SQLite, PostgreSQL)."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql_insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite_insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL only
        raise NotImplementedError(dialect)
    connection.execute(statement, rows)


# --------------------------------------------------------------------------------------
# Collection from the tracker store
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CollectionRules:
    """Which user messages count as misunderstood.

    Attributes:
        confidence: A top intent below this confidence is collected.
        fallback_actions: Actions that mean "the bot fell back" whatever their confidence.
        core_fallback_action: RulePolicy's ``core_fallback_action_name``: a fallback only
            when predicted with ``core_fallback_threshold`` (no rule matched); the same action
            may also answer rules (out of scope) with confidence 1.
        core_fallback_threshold: RulePolicy's ``core_fallback_threshold``.
    """

    confidence: float = 0.6
    fallback_actions: frozenset[str] = frozenset({DEFAULT_FALLBACK_ACTION})
    core_fallback_action: str = DEFAULT_FALLBACK_ACTION
    core_fallback_threshold: float = 0.3

    @classmethod
    def from_project(cls, settings: Settings) -> CollectionRules:
        """Read the thresholds from the settings and the project's ``config.yml``.

        Args:
            settings: The settings (inbox confidence, config path).

        Returns:
            The rules.
        """
        config: Mapping[str, Any] = {}
        if settings.config_file.is_file():
            config = yaml.safe_load(settings.config_file.read_text("utf-8"))
        rule_policy = next(
            (
                policy
                for policy in (config or {}).get("policies") or []
                if isinstance(policy, dict) and policy.get("name") == "RulePolicy"
            ),
            {},
        )
        return cls(
            confidence=settings.inbox_confidence,
            core_fallback_action=str(
                rule_policy.get("core_fallback_action_name", DEFAULT_FALLBACK_ACTION)
            ),
            core_fallback_threshold=float(rule_policy.get("core_fallback_threshold", 0.3)),
        )

    def is_fallback(self, action: Mapping[str, Any]) -> bool:
        """Tell whether an ``action`` event is the dialogue falling back.

        Args:
            action: The event's data (``name``, ``confidence``).

        Returns:
            True for a fallback.
        """
        name = action.get("name")
        if name in self.fallback_actions:
            return True
        confidence = action.get("confidence")
        return (
            name == self.core_fallback_action
            and isinstance(confidence, int | float)
            and abs(float(confidence) - self.core_fallback_threshold) < 1e-6
        )


@dataclasses.dataclass
class _Pending:
    event_id: int
    timestamp: float
    data: dict[str, Any]
    form_known: bool  # the batch showed whether a form was active (else: ask the database)


def _prediction(parse_data: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """The intent the model predicted and its confidence (behind ``nlu_fallback``, the original)."""
    intent = parse_data.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence")
    if name == NLU_FALLBACK:
        ranked = next(
            (
                entry
                for entry in parse_data.get("intent_ranking") or []
                if isinstance(entry, dict) and entry.get("name") != NLU_FALLBACK
            ),
            {},
        )
        name, confidence = ranked.get("name"), ranked.get("confidence")
    return (
        name if isinstance(name, str) else None,
        float(confidence) if isinstance(confidence, int | float) else None,
    )


def _predicted_permit(
    original: str, masked: str, parse_data: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    for entity in parse_data.get("entities") or []:
        if not isinstance(entity, dict) or entity.get("entity") != "permit_type":
            continue
        value = canonical_permit_type(str(entity.get("value") or ""))
        start, end = entity.get("start"), entity.get("end")
        span = original[start:end] if isinstance(start, int) and isinstance(end, int) else None
        if value and span and span.strip() and span.strip() in masked:
            return value, span.strip()[:200]
        if value:
            return value, None
    return None, None


def _has_words(text: str) -> bool:
    for mask in ("[personnummer]", "[e-post]", "[telefonnummer]"):
        text = text.replace(mask, " ")
    return any(char.isalpha() for char in text)


def inbox_message(
    sender_id: str,
    timestamp: float,
    data: Mapping[str, Any],
    reason: str,
    flagged_by: str | None = None,
) -> NewInboxMessage | None:
    """Build an inbox message from a tracker-store ``user`` event.

    Args:
        sender_id: The conversation.
        timestamp: The event's time.
        data: The event's data (``text``, ``parse_data``).
        reason: One of :data:`REASONS`.
        flagged_by: Who flagged it.

    Returns:
        The message with masked text, or None for button payloads (``/intent``) and texts
        without words.
    """
    original = data.get("text")
    if not isinstance(original, str) or original.lstrip().startswith("/"):
        return None
    text = clean_text(original)
    if not _has_words(text):
        return None
    parse_data = data.get("parse_data") if isinstance(data.get("parse_data"), dict) else {}
    intent, confidence = _prediction(parse_data or {})
    permit_type, permit_span = _predicted_permit(original, text, parse_data or {})
    return NewInboxMessage(
        message_key=message_key(sender_id, timestamp),
        sender_id=sender_id,
        text=text,
        reason=reason,
        received_at=dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc),
        predicted_intent=intent,
        confidence=confidence,
        predicted_permit_type=permit_type,
        predicted_permit_span=permit_span,
        flagged_by=flagged_by,
    )


class TrackerCollector:
    """Finds misunderstood user messages in Rasa's SQL tracker store (read-only)."""

    def __init__(self, tracker_url: str, rules: CollectionRules) -> None:
        """Create a collector; the tracker store is opened on first use.

        Args:
            tracker_url: SQLAlchemy URL of the tracker store.
            rules: What counts as misunderstood.
        """
        self._url = tracker_url
        self._opened: Engine | None = None
        self.rules = rules

    @property
    def _engine(self) -> Engine | None:
        if self._opened is None:
            self._opened = create_tracker_engine(self._url)
        return self._opened

    def last_event_id(self) -> int | None:
        """Return the newest event id, or None when the tracker store does not exist yet."""
        if self._engine is None:
            return None
        try:
            with self._engine.connect() as connection:
                return int(connection.execute(select(func.max(EVENTS.c.id))).scalar_one() or 0)
        except _MISSING as error:
            logger.warning("Tracker store not readable (%s)", type(error).__name__)
            return None

    def scan(self, after: int, batch: int = 2000) -> tuple[list[NewInboxMessage], int]:
        """Read the events after an id and return the misunderstood user messages among them.

        Args:
            after: The cursor (last event id read).
            batch: Most events to read.

        Returns:
            The messages (masked), and the last event id read (``after`` when none).
        """
        if self._engine is None:
            return [], after
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(
                    EVENTS.c.id,
                    EVENTS.c.sender_id,
                    EVENTS.c.type_name,
                    EVENTS.c.timestamp,
                    EVENTS.c.data,
                )
                .where(EVENTS.c.id > after, EVENTS.c.type_name.in_(_SCANNED))
                .order_by(EVENTS.c.id)
                .limit(batch)
            ).all()
            if not rows:
                return [], after
            loops: dict[str, str | None] = {}
            pending: dict[str, _Pending] = {}
            found: list[tuple[str, NewInboxMessage, bool]] = []
            for event_id, sender_id, type_name, timestamp, raw in rows:
                data = _json(raw)
                if type_name == "user":
                    if sender_id in pending:
                        self._finish(connection, sender_id, pending.pop(sender_id), None, found)
                    if loops.get(sender_id) is None:  # no form active (or not known yet)
                        pending[sender_id] = _Pending(
                            event_id, float(timestamp or 0), data, sender_id in loops
                        )
                elif type_name == "action":
                    if sender_id in pending and data.get("name") != "action_listen":
                        self._finish(connection, sender_id, pending.pop(sender_id), data, found)
                else:
                    name = data.get("name") if type_name == "active_loop" else None
                    loops[sender_id] = name if isinstance(name, str) else None
            for sender_id, waiting in pending.items():
                self._finish(connection, sender_id, waiting, _NOT_READ, found)
            # Conversations whose form state these events did not show: as it was at the cursor.
            unsure = {sender for sender, message, known in found if not known}
            in_form = _forms_active_at(connection, unsure, after)
        return [message for sender, message, known in found if known or sender not in in_form], int(
            rows[-1][0]
        )

    def _finish(
        self,
        connection: Connection,
        sender_id: str,
        waiting: _Pending,
        action: Mapping[str, Any] | None,
        found: list[tuple[str, NewInboxMessage, bool]],
    ) -> None:
        """Collect a user message when it was misunderstood (with whether its form state is known).

        ``action`` is the bot's next action, None when there was none, or :data:`_NOT_READ`
        when it lies beyond the events read (then read only if it decides).
        """
        parse_data = waiting.data.get("parse_data")
        parse_data = parse_data if isinstance(parse_data, dict) else {}
        top = (parse_data.get("intent") or {}) if parse_data else {}
        confidence = top.get("confidence")
        if top.get("name") == NLU_FALLBACK:
            reason = "nlu_fallback"
        elif isinstance(confidence, int | float) and confidence < self.rules.confidence:
            reason = "low_confidence"
        else:
            if action is _NOT_READ:
                action = _next_action(connection, sender_id, waiting.event_id)
            if action is None or not self.rules.is_fallback(action):
                return
            reason = "fallback_action"
        message = inbox_message(sender_id, waiting.timestamp, waiting.data, reason)
        if message is not None:
            found.append((sender_id, message, waiting.form_known))

    def find_user_event(
        self, sender_id: str, at: dt.datetime, text: str
    ) -> tuple[float, dict[str, Any]] | None:
        """Find a user message of a conversation by its time (and text).

        Args:
            sender_id: The conversation.
            at: When it was written (as a transcript shows it).
            text: Its text as the transcript shows it (personnummer masked).

        Returns:
            The event's timestamp and data, or None.
        """
        if self._engine is None:
            return None
        moment = at.timestamp()
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(EVENTS.c.timestamp, EVENTS.c.data)
                    .where(
                        EVENTS.c.sender_id == sender_id,
                        EVENTS.c.type_name == "user",
                        EVENTS.c.timestamp.between(moment - 0.001, moment + 0.001),
                    )
                    .order_by(EVENTS.c.id)
                ).all()
        except _MISSING as error:
            logger.warning("Tracker store not readable (%s)", type(error).__name__)
            return None
        for timestamp, raw in rows:
            data = _json(raw)
            if mask_personnummer(str(data.get("text") or "")) == text:
                return float(timestamp), data
        return None


_NOT_READ: Mapping[str, Any] = {"name": "(not read)"}


def _json(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _forms_active_at(connection: Connection, senders: set[str], event_id: int) -> set[str]:
    """The conversations among ``senders`` in which a form was active at an event id."""
    active: set[str] = set()
    ordered = sorted(senders)
    for start in range(0, len(ordered), 500):
        latest = (
            select(func.max(EVENTS.c.id))
            .where(
                EVENTS.c.sender_id.in_(ordered[start : start + 500]),
                EVENTS.c.id <= event_id,
                EVENTS.c.type_name.in_(_LOOP_EVENTS),
            )
            .group_by(EVENTS.c.sender_id)
        )
        for sender_id, type_name, raw in connection.execute(
            select(EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.data).where(
                EVENTS.c.id.in_(latest)
            )
        ):
            if type_name == "active_loop" and isinstance(_json(raw).get("name"), str):
                active.add(sender_id)
    return active


def _next_action(connection: Connection, sender_id: str, event_id: int) -> dict[str, Any] | None:
    """The first action the bot ran after a user message (None when not stored yet)."""
    raw = connection.execute(
        select(EVENTS.c.data)
        .where(
            EVENTS.c.sender_id == sender_id,
            EVENTS.c.id > event_id,
            EVENTS.c.type_name.in_(("action", "user")),
        )
        .order_by(EVENTS.c.id)
        .limit(3)
    ).all()
    for (data,) in raw:
        event = _json(data)
        if event.get("event") == "user":
            return None
        if event.get("name") != "action_listen":
            return event
    return None


# --------------------------------------------------------------------------------------
# Training file
# --------------------------------------------------------------------------------------

_HEADER = """\
# Generated by the NLU inbox (bot/inbox.py) from trainers' annotations in the officials' app
# (/handlaggare/inkorg). Do not edit by hand: every saved annotation rewrites this file.
# Texts are masked (personnummer, e-mail, phone) and never repeat an example of
# tests/nlu/heldout.yml. Commit it with git like the rest of data/nlu/.
"""


def _export_text(text: str) -> str:
    # User text must not carry Rasa's entity markup: brackets become parentheses.
    return text.replace("[", "(").replace("]", ")")


def example_markup(text: str, span: tuple[int, int, str] | None) -> str:
    """Write one training example in Rasa's YAML syntax, with a ``permit_type`` annotation.

    Args:
        text: The message text.
        span: Start, end and canonical value of the permit type, or None.

    Returns:
        For example ``vad kostar [bygglovet]{"entity": "permit_type", "value": "bygglov"}``.
    """
    if span is None:
        return _export_text(text)
    start, end, value = span
    words = _export_text(text[start:end])
    entity = (
        "(permit_type)"
        if words == value
        else json.dumps({"entity": "permit_type", "value": value}, ensure_ascii=False)
    )
    return f"{_export_text(text[:start])}[{words}]{entity}{_export_text(text[end:])}"


def render_training_file(
    examples: Iterable[tuple[str, str, tuple[int, int, str] | None]], index: DataIndex
) -> str | None:
    """Render the inbox's training examples as a Rasa 3.x NLU YAML file.

    Each text appears once (compared like the held-out test: case and spacing ignored); texts
    the data files already have with the same intent, and held-out texts, are left out.

    Args:
        examples: (text, intent, permit span) from :meth:`InboxRepository.training_examples`.
        index: The project's data.

    Returns:
        The file's content, or None when there is no example.
    """
    by_intent: dict[str, dict[str, str]] = defaultdict(dict)
    seen: set[str] = set()
    for text, intent, span in examples:
        normalised = " ".join(text.casefold().split())
        text_shape = shape(text)
        if normalised in seen or text_shape in index.heldout:
            continue
        if intent in index.intents.get(text_shape, {}):
            continue  # the data files already teach this
        seen.add(normalised)
        by_intent[intent][normalised] = example_markup(text, span)
    if not by_intent:
        return None
    lines = [_HEADER, 'version: "3.1"', "", "nlu:"]
    for intent in sorted(by_intent):
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {line}" for _key, line in sorted(by_intent[intent].items()))
        lines.append("")
    return "\n".join(lines)


def write_atomically(path: Path, content: str | None) -> None:
    """Replace a file's content in one step (or remove the file when content is None).

    Args:
        path: The file.
        content: The new content.
    """
    if content is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name of its own per writer (two trainers may save at once), not *.yml.
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as temporary:
            temporary.write(content)
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------
# The inbox as the web app and the CLI use it
# --------------------------------------------------------------------------------------


class Inbox:
    """The NLU inbox: collection, flagging, annotation and the generated training file."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        """Create the inbox; nothing is read until used.

        Args:
            settings: Paths (project, held-out file), tracker store URL, threshold.
            engine: The case-log database engine.
        """
        self.settings = settings
        self.repository = InboxRepository(engine)
        self._collector: TrackerCollector | None = None

    @property
    def training_file(self) -> Path:
        """Path: The generated ``data/nlu/inbox.yml``."""
        return self.settings.data_dir / "nlu" / INBOX_FILE

    @property
    def collector(self) -> TrackerCollector:
        """TrackerCollector: Reads the tracker store (rules from config.yml on first use)."""
        if self._collector is None:
            self._collector = TrackerCollector(
                self.settings.tracker_store_url, CollectionRules.from_project(self.settings)
            )
        return self._collector

    def data_index(self) -> DataIndex:
        """Return the index of the project's data (cached while the files are unchanged)."""
        return load_data_index(self.settings.data_dir, self.settings.heldout_file)

    def intents(self) -> tuple[str, ...]:
        """Return the intents a trainer may choose."""
        return domain_intents(self.settings.domain_file)

    def groups(self, page: int = 1, per_page: int = 25) -> GroupPage:
        """Return a page of the inbox, each group with what the data already says of its shape.

        Args:
            page: Page number (from 1).
            per_page: Groups per page.

        Returns:
            The page.
        """
        result = self.repository.groups(page, per_page)
        return dataclasses.replace(result, groups=self._with_hints(result.groups))

    def group(self, key: str) -> InboxGroup | None:
        """Return one open group with its messages and hints (None when not in the inbox).

        Args:
            key: The shape key.

        Returns:
            The group.
        """
        group = self.repository.group(key)
        return None if group is None else self._with_hints([group])[0]

    def _with_hints(self, groups: Sequence[InboxGroup]) -> tuple[InboxGroup, ...]:
        index = self.data_index()
        labels = self.repository.labels_for(group.key for group in groups)
        hinted = []
        for group in groups:
            text_shape = shape(group.text)
            known = labels.get(group.key, set()) | set(index.intents.get(text_shape, {}))
            hinted.append(
                dataclasses.replace(
                    group,
                    known_intents=tuple(sorted(known)),
                    in_heldout=text_shape in index.heldout,
                )
            )
        return tuple(hinted)

    def conflicts(self) -> list[ConflictGroup]:
        """Return the shapes held as conflicts (see :meth:`InboxRepository.conflicts`)."""
        return self.repository.conflicts(self.data_index())

    def collect(self, batch: int = 2000, max_batches: int | None = None) -> int:
        """Collect new misunderstood messages from the tracker store, from the cursor on.

        Args:
            batch: Events per read.
            max_batches: Stop after this many reads (None: until the end).

        Returns:
            How many messages entered the inbox.
        """
        collector = self.collector
        newest = collector.last_event_id()
        if newest is None:
            return 0
        cursor = self.repository.cursor()
        if newest < cursor:
            logger.warning("Tracker store has fewer events than the inbox read; reading again")
            self.repository.set_cursor(0, reset=True)
            cursor = 0
        added = 0
        reads = 0
        while cursor < newest and (max_batches is None or reads < max_batches):
            messages, last = collector.scan(cursor, batch)
            added += self.repository.add(messages)
            if last <= cursor:
                break
            self.repository.set_cursor(last)
            cursor = last
            reads += 1
        if added:
            logger.info("NLU inbox: %d new messages", added)
        return added

    def flag(self, sender_id: str, at: dt.datetime, text: str, actor: str) -> str:
        """Put a user message of a case's transcript into the inbox.

        Args:
            sender_id: The case's conversation.
            at: When the message was written (from the transcript).
            text: The text as the transcript shows it.
            actor: The official (e-mail).

        Returns:
            ``added``, ``updated`` or ``handled`` (see :meth:`InboxRepository.flag`).

        Raises:
            InboxError: The message is a button choice or has no words.
        """
        found = self.collector.find_user_event(sender_id, at, text)
        timestamp, data = found if found is not None else (at.timestamp(), {"text": text})
        message = inbox_message(sender_id, timestamp, data, "flagged", flagged_by=actor)
        if message is None:
            raise InboxError("Knappval och meddelanden utan ord kan inte flaggas för träning.")
        return self.repository.flag(message)

    def check_label(self, label: Label, text: str | None = None) -> Label:
        """Validate a trainer's label against the contract, the text and the known spellings.

        Args:
            label: The decision (intent None = irrelevant).
            text: The message the permit-type words were chosen in.

        Returns:
            The label with the span trimmed.

        Raises:
            InboxError: With a Swedish explanation.
        """
        if label.intent is not None and label.intent not in self.intents():
            raise InboxError("Välj en avsikt i listan.")
        span = (label.permit_span or "").strip()
        permit_type = label.permit_type or None
        if label.intent is None or (not span and not permit_type):
            return Label(label.intent)
        if not span or not permit_type:
            raise InboxError("Ange både orden i meddelandet och vilket tillstånd de gäller.")
        if permit_type not in PERMIT_TYPES:
            raise InboxError("Okänd tillståndstyp.")
        if len(span) > _MAX_SPAN:
            raise InboxError("Markera bara orden som anger tillståndet (högst 100 tecken).")
        if text is not None and find_span(text, span) is None:
            raise InboxError("Orden för tillståndet finns inte i meddelandet.")
        known = {**self.data_index().synonyms, **self.repository.annotated_synonyms()}
        meaning = known.get(span.casefold()) or canonical_permit_type(span)
        if meaning is not None and meaning != permit_type:
            raise InboxError(
                f"”{span}” betyder redan {meaning} i träningsdatan. Välj {meaning} eller "
                "markera andra ord."
            )
        return Label(label.intent, span, permit_type)

    def annotate(self, keys: Sequence[str], label: Label, actor: str) -> AnnotationOutcome:
        """Save a label for groups and rewrite the training file.

        Args:
            keys: Shape keys of the groups.
            label: A label checked with :meth:`check_label`.
            actor: The trainer (e-mail).

        Returns:
            What happened to the messages.
        """
        outcome = self.repository.annotate(keys, label, actor, self.data_index())
        self.write_training_file()
        return outcome

    def resolve(self, key: str, choice: str, actor: str) -> int:
        """Keep one label of a conflict and rewrite the training file.

        Args:
            key: The shape key.
            choice: The label to keep, or ``irrelevant``.
            actor: The trainer.

        Returns:
            How many messages were resolved.
        """
        resolved = self.repository.resolve(key, choice, actor, self.data_index())
        self.write_training_file()
        return resolved

    def write_training_file(self) -> Path:
        """Rewrite ``data/nlu/inbox.yml`` from the annotations (after re-checking them).

        Returns:
            The file's path (absent when there are no examples).
        """
        index = self.data_index()
        self.repository.recheck(index)
        content = render_training_file(self.repository.training_examples(), index)
        current = self.training_file.read_text("utf-8") if self.training_file.is_file() else None
        if content != current:
            write_atomically(self.training_file, content)
        return self.training_file
