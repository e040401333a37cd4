"""Response-time figures for the dashboard, computed in SQL.

Counts and shares come from one ``GROUP BY`` query. Median and 90th percentile of the time to
first response (working seconds, stored when the response is recorded) come from a second query
with window functions (``ROW_NUMBER``/``COUNT`` over each group), which SQLite (3.25+) and
PostgreSQL both run; only the two percentile rows per group leave the database. Percentiles use
the nearest-rank method: the value at rank ``ceil(p * n)`` of the sorted times.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, case, func, literal, or_, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from bot.cases import CaseScope, overdue_clause
from bot.models import Case
from bot.transcripts import TranscriptReader
from bot.worktime import STOCKHOLM

PERIODS = ("week", "month")
GROUPINGS: dict[str, tuple[str, ...]] = {
    "unit": ("unit",),
    "topic": ("topic",),
    "unit_topic": ("unit", "topic"),
}
_IN_CHUNK = 500


class week_start(FunctionElement[str]):  # noqa: N801 - SQL function naming
    """Monday of the week of a date column, as ``YYYY-MM-DD`` text.

    One class per period kind: the kind changes the SQL text, so it must be part of the
    statement's cache key, not a bound value.
    """

    type = String()
    inherit_cache = True
    name = "week_start"


class month_start(FunctionElement[str]):  # noqa: N801 - SQL function naming
    """First day of the month of a date column, as ``YYYY-MM-DD`` text."""

    type = String()
    inherit_cache = True
    name = "month_start"


@compiles(week_start, "sqlite")
def _week_start_sqlite(element: week_start, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(month_start, "sqlite")
def _month_start_sqlite(element: month_start, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@compiles(week_start)
def _week_start_default(element: week_start, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('week', {column}), 'YYYY-MM-DD')"


@compiles(month_start)
def _month_start_default(element: month_start, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('month', {column}), 'YYYY-MM-DD')"


@dataclasses.dataclass(frozen=True)
class FigureQuery:
    """What the dashboard shows.

    Attributes:
        period: ``week`` or ``month``.
        grouping: A key of :data:`GROUPINGS`.
        date_from: First day (Stockholm date of creation).
        date_to: Last day, inclusive.
    """

    period: str = "month"
    grouping: str = "unit"
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclasses.dataclass(frozen=True)
class FigureRow:
    """Figures of one group (unit and/or topic) in one period (or all periods).

    Attributes:
        period: First day of the week or month, ``YYYY-MM-DD``; empty for all periods.
        unit: Unit id, empty when not grouped by unit.
        topic: Topic id, empty when not grouped by topic.
        cases: Number of cases.
        answered: Cases with a first response.
        within_promise: Cases answered by the first-response due time.
        open: Cases not closed.
        overdue: Open cases past a due time.
        median_seconds: Median working time to first response.
        p90_seconds: 90th percentile of the working time to first response.
    """

    period: str
    unit: str
    topic: str
    cases: int
    answered: int
    within_promise: int
    open: int
    overdue: int
    median_seconds: int | None = None
    p90_seconds: int | None = None

    @property
    def share_within_promise(self) -> float | None:
        """Float | None: Share of all cases answered within the promise (None without cases)."""
        return self.within_promise / self.cases if self.cases else None


@dataclasses.dataclass(frozen=True)
class Figures:
    """Everything on the dashboard.

    Attributes:
        rows: Per group and period, newest period first.
        totals: Per group over the whole date range.
        per_period: All groups together, per period, oldest first (for the charts).
        overall: All cases in the range.
        bot_only_conversations: Conversations with a user message and no case (None if the
            tracker store cannot be read).
    """

    rows: list[FigureRow]
    totals: list[FigureRow]
    per_period: list[FigureRow]
    overall: FigureRow
    bot_only_conversations: int | None


class FigureRepository:
    """Computes dashboard figures from the case log."""

    def __init__(self, engine: Engine) -> None:
        """Create a repository.

        Args:
            engine: A SQLAlchemy engine on the case log.
        """
        self._engine = engine

    def figures(
        self,
        query: FigureQuery,
        scope: CaseScope,
        now: dt.datetime,
        transcripts: TranscriptReader | None = None,
    ) -> Figures:
        """Compute every figure of the dashboard.

        Args:
            query: Period, grouping and date range.
            scope: Which units the viewer may see.
            now: The current time (for open and overdue counts).
            transcripts: Tracker-store reader for the bot-only count.

        Returns:
            The figures.
        """
        groups = GROUPINGS.get(query.grouping, GROUPINGS["unit"])
        finest = (*groups, "period")
        conditions = self._conditions(query, scope)
        with self._engine.connect() as connection:
            # One scan for the counts at the finest level; coarser levels are sums of it.
            counts = self._counts(connection, query, finest, conditions, now)
            # One scan, one window per level, for the percentiles.
            levels = (finest, groups, ())
            sizes = [_timed(_roll_up(counts, finest, level)) for level in levels]
            medians = self._percentiles(connection, query, levels, conditions, sizes)
        return Figures(
            rows=_rows(finest, counts, medians[0]),
            totals=_rows(groups, _roll_up(counts, finest, groups), medians[1]),
            per_period=sorted(
                _rows(("period",), _roll_up(counts, finest, ("period",)), {}),
                key=lambda r: r.period,
            ),
            overall=(_rows((), _roll_up(counts, finest, ()), medians[2]) or [_empty_row()])[0],
            bot_only_conversations=(
                self.bot_only_conversations(transcripts, query) if transcripts else None
            ),
        )

    def grouped(
        self, query: FigureQuery, scope: CaseScope, now: dt.datetime, keys: Sequence[str]
    ) -> list[FigureRow]:
        """Compute figures grouped by some of ``unit``, ``topic`` and ``period``.

        Args:
            query: Period kind and date range.
            scope: Which units the viewer may see.
            now: The current time.
            keys: Grouping keys.

        Returns:
            One row per group, newest period first, then by unit and topic.
        """
        conditions = self._conditions(query, scope)
        with self._engine.connect() as connection:
            counts = self._counts(connection, query, keys, conditions, now)
            medians = self._percentiles(
                connection, query, (tuple(keys),), conditions, [_timed(counts)]
            )
        return _rows(keys, counts, medians[0])

    def _counts(
        self,
        connection: Any,
        query: FigureQuery,
        keys: Sequence[str],
        conditions: Sequence[ColumnElement[bool]],
        now: dt.datetime,
    ) -> dict[tuple[str, ...], tuple[int, ...]]:
        key_columns = self._key_columns(query, keys)
        within = Case.first_response_at <= Case.first_response_due_at
        statement = (
            select(
                *key_columns,
                func.count(),
                _count_if(Case.first_response_at.isnot(None)),
                _count_if(within),
                _count_if(Case.status != "closed"),
                _count_if(overdue_clause(now)),
                _count_if(Case.first_response_seconds.isnot(None)),
            )
            .where(*conditions)
            .group_by(*key_columns)
        )
        width = len(key_columns)
        return {
            tuple(str(value or "") for value in row[:width]): tuple(
                int(value or 0) for value in row[width:]
            )
            for row in connection.execute(statement)
        }

    @staticmethod
    def _key_columns(query: FigureQuery, keys: Sequence[str]) -> list[ColumnElement[Any]]:
        available: dict[str, ColumnElement[Any]] = {
            "unit": Case.unit.label("unit"),
            "topic": Case.topic.label("topic"),
            "period": (week_start if query.period == "week" else month_start)(
                Case.created_date
            ).label("period"),
        }
        return [available[key] for key in keys]

    @staticmethod
    def _conditions(query: FigureQuery, scope: CaseScope) -> list[ColumnElement[bool]]:
        conditions = [scope.clause()]
        if query.date_from:
            conditions.append(Case.created_date >= query.date_from)
        if query.date_to:
            conditions.append(Case.created_date <= query.date_to)
        return conditions

    def _percentiles(
        self,
        connection: Any,
        query: FigureQuery,
        levels: Sequence[Sequence[str]],
        conditions: Sequence[ColumnElement[bool]],
        sizes: Sequence[dict[tuple[str, ...], int]],
    ) -> list[dict[tuple[str, ...], tuple[int | None, int | None]]]:
        """Median and 90th percentile per group for several groupings in one query.

        ``sizes`` (timed cases per group, from the counting query) give each group's target
        ranks ``ceil(0.5 n)`` and ``ceil(0.9 n)``. One ``ROW_NUMBER`` window per level ranks the
        times, and only rows whose group and rank are a target leave the database.
        PostgreSQL has ``percentile_disc`` (the same nearest-rank definition) and grouping
        sets, which it runs about three times faster.
        """
        if connection.dialect.name == "postgresql":
            return self._percentiles_postgresql(connection, query, levels, conditions)
        keys = sorted({key for level in levels for key in level})
        seconds = Case.first_response_seconds
        key_columns = self._key_columns(query, keys)
        by_name = {column.key: column for column in key_columns}
        ranks = [
            func.row_number()
            .over(partition_by=[by_name[key] for key in level] or None, order_by=seconds)
            .label(f"r{index}")
            for index, level in enumerate(levels)
        ]
        ranked = (
            select(*key_columns, seconds.label("seconds"), *ranks)
            .where(*conditions, seconds.isnot(None))
            .subquery()
        )
        targets: list[dict[tuple[object, ...], frozenset[str]]] = [
            {
                (*key, rank): which
                for key, n in level_sizes.items()
                for rank, which in _targets(n).items()
            }
            for level_sizes in sizes
        ]
        wanted = [
            _target_key([ranked.c[key] for key in level], ranked.c[f"r{index}"]).in_(
                bindparam(
                    f"t{index}",
                    [_SEP.join(map(str, t)) for t in targets[index]],
                    expanding=True,
                    literal_execute=True,
                )
            )
            for index, level in enumerate(levels)
            if targets[index]
        ]
        found: list[dict[tuple[str, ...], tuple[int | None, int | None]]] = [{} for _ in levels]
        if not wanted:
            return found
        for row in connection.execute(select(ranked).where(or_(*wanted))).mappings():
            for index, level in enumerate(levels):
                key = tuple(str(row[name] or "") for name in level)
                which = targets[index].get((*key, int(row[f"r{index}"])))
                if which is None:
                    continue
                median, p90 = found[index].get(key, (None, None))
                value = int(row["seconds"])
                found[index][key] = (
                    value if "median" in which else median,
                    value if "p90" in which else p90,
                )
        return found

    def _percentiles_postgresql(
        self,
        connection: Any,
        query: FigureQuery,
        levels: Sequence[Sequence[str]],
        conditions: Sequence[ColumnElement[bool]],
    ) -> list[dict[tuple[str, ...], tuple[int | None, int | None]]]:
        keys = sorted({key for level in levels for key in level})
        seconds = Case.first_response_seconds
        inner = (
            select(*self._key_columns(query, keys), seconds.label("seconds"))
            .where(*conditions, seconds.isnot(None))
            .subquery()
        )
        statement = select(
            *[inner.c[key] for key in keys],
            *[func.grouping(inner.c[key]).label(f"g_{key}") for key in keys],
            func.percentile_disc(0.5).within_group(inner.c.seconds).label("median"),
            func.percentile_disc(0.9).within_group(inner.c.seconds).label("p90"),
        )
        if keys:
            sets = [tuple_(*[inner.c[key] for key in level]) for level in levels]
            statement = statement.group_by(func.grouping_sets(*sets))
        found: list[dict[tuple[str, ...], tuple[int | None, int | None]]] = [{} for _ in levels]
        by_keys = {frozenset(level): index for index, level in enumerate(levels)}
        for row in connection.execute(statement).mappings():
            if row["median"] is None:
                continue
            grouped = frozenset(key for key in keys if row[f"g_{key}"] == 0)
            index = by_keys[grouped]
            key = tuple(str(row[name] or "") for name in levels[index])
            found[index][key] = (int(row["median"]), int(row["p90"]))
        return found

    def bot_only_conversations(self, transcripts: TranscriptReader, query: FigureQuery) -> int:
        """Count conversations in the tracker store that did not lead to a case.

        The tracker store may be another database, so its sender ids are checked against the
        case log in chunks rather than joined.

        Args:
            transcripts: Tracker-store reader.
            query: The date range (Stockholm dates of the user messages).

        Returns:
            The number of conversations without a case.
        """
        since = _start_of(query.date_from)
        until = _start_of(query.date_to + dt.timedelta(days=1)) if query.date_to else None
        total = 0
        chunk: list[str] = []
        with self._engine.connect() as connection:
            for sender_id in transcripts.sender_ids(since, until):
                chunk.append(sender_id)
                if len(chunk) >= _IN_CHUNK:
                    total += _without_case(connection, chunk)
                    chunk = []
            if chunk:
                total += _without_case(connection, chunk)
        return total


Counts = tuple[int, ...]
"""cases, answered, within promise, open, overdue, timed (with a working time to answer)."""
_SEP = "\x1f"  # unit separator: never in unit ids, topic ids or dates


def _targets(n: int) -> dict[int, frozenset[str]]:
    """Nearest-rank positions of the median and the 90th percentile among n sorted values."""
    found: dict[int, set[str]] = {}
    for name, percent in (("median", 50), ("p90", 90)):
        found.setdefault((n * percent + 99) // 100, set()).add(name)
    return {rank: frozenset(names) for rank, names in found.items()}


def _target_key(columns: Sequence[ColumnElement[Any]], rank: ColumnElement[Any]) -> Any:
    """SQL text ``key1<SEP>key2<SEP>rank`` to match against the wanted targets."""
    text: Any = rank.cast(String)
    for column in reversed(columns):
        text = column + literal(_SEP) + text
    return text


def _timed(counts: dict[tuple[str, ...], Counts]) -> dict[tuple[str, ...], int]:
    return {key: values[5] for key, values in counts.items() if values[5]}


def _roll_up(
    counts: dict[tuple[str, ...], Counts], keys: Sequence[str], to: Sequence[str]
) -> dict[tuple[str, ...], Counts]:
    """Sum counts of a finer grouping into a coarser one (``to`` is a subset of ``keys``)."""
    positions = [list(keys).index(key) for key in to]
    summed: dict[tuple[str, ...], list[int]] = {}
    for key, values in counts.items():
        target = summed.setdefault(tuple(key[i] for i in positions), [0] * len(values))
        for index, value in enumerate(values):
            target[index] += value
    return {key: tuple(values) for key, values in summed.items()}


def _rows(
    keys: Sequence[str],
    counts: dict[tuple[str, ...], Counts],
    percentiles: dict[tuple[str, ...], tuple[int | None, int | None]],
) -> list[FigureRow]:
    """Turn counts and percentiles into rows: newest period first, then unit and topic."""
    rows = []
    for key, (cases, answered, within, still_open, overdue, _timed) in counts.items():
        named = dict(zip(keys, key, strict=True))
        median, p90 = percentiles.get(key, (None, None))
        rows.append(
            FigureRow(
                period=named.get("period", ""),
                unit=named.get("unit", ""),
                topic=named.get("topic", ""),
                cases=cases,
                answered=answered,
                within_promise=within,
                open=still_open,
                overdue=overdue,
                median_seconds=median,
                p90_seconds=p90,
            )
        )
    rows.sort(key=lambda r: (r.unit, r.topic))
    rows.sort(key=lambda r: r.period, reverse=True)
    return rows


def _without_case(connection: Any, sender_ids: list[str]) -> int:
    with_case = connection.execute(
        select(func.count(func.distinct(Case.conversation_id))).where(
            Case.conversation_id.in_(sender_ids)
        )
    ).scalar_one()
    return len(sender_ids) - int(with_case)


def _start_of(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=STOCKHOLM)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _empty_row() -> FigureRow:
    return FigureRow(
        period="", unit="", topic="", cases=0, answered=0, within_promise=0, open=0, overdue=0
    )
