"""The unit statistics' counts per Chinese day (``unit_day_counts``) and per month
(``unit_month_counts``, each the sum of its days' rows, kept with them), so the figures of a year
add up some ten thousand rows instead of reading millions of SLA records: its whole months' rows
and the day rows of the days around them (``_rows_in``).

A day's rows hold the counts (stats.counts_of) of the items dispatched that day and the handling
hours of those resolved, per unit that held them, its region and the request type. Of an open item
they hold what does not move with the clock; what does (stats.MOVING: its 签收 or 办结 limit
passing, being overdue) is counted in SQL at each reading, from the record's own columns and what
counting noted on it (``counted_holder_unit``, ``counted_sign_due_at``). Each record keeps what it
added (``sla_records.counted_as``). A record that changes is uncounted (models._count_again); the
worker counts the uncounted records again (``count_records``): what each added before is taken off
its rows and what it adds now put on. Until then the statistics take it off themselves and read the
record as it is. The figures are the same whether a record is counted or not
(tests/notifier/test_unit_stats.py, tests/unit/test_stats_total.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import structlog
from sqlalchemy import LargeBinary, Subquery, case, func, literal_column, select, text, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from shared import regions
from shared.clock import day_of, day_start, utcnow
from shared.vocabulary import OPEN_STATES

from . import calendar as work_calendar
from . import stats, urging
from .models import SlaRecord, UnitCounts, UnitDayCounts, UnitMonthCounts, open_state
from .workcal import WorkingCalendar

# What a day's row keeps: every count; of the MOVING ones, what an open item's current holding does
# not add to them (moving_apart).
KEPT = tuple(field for field in stats.COUNTS if field != "overdue_now")
HOURS_PACKED = np.dtype(">f8")  # a day row's hours: float64 in network order, as PostgreSQL's float8send
log = structlog.get_logger()
COUNTING_LOCK = 0x78696165_72646179  # pg_advisory_xact_lock key of the counting (b"xiaerday")
RECORDS_PER_ROUND = 2000  # records counted again per transaction, so a backlog never holds the worker long
# A record is counted once it was dispatched this long ago. A new item changes in its first hour
# (signed, transferred, worked on), and each change uncounts it: counting it at once was work done
# again and again, beside the consumers, under a burst of dispatches (docs/benchmarks.md). The
# statistics read the fresh ones as they are: a province's hour is a few hundred items.
FRESH = timedelta(hours=1)
ROUNDS = 5
BACKLOG = RECORDS_PER_ROUND * ROUNDS  # count_records counted all it may: there are more


def _added(parts: list[stats.Part]) -> list[dict]:
    """What a record adds to its day's rows, as kept on it (JSON)."""
    return [
        {
            "unit_code": p.unit_code,
            "unit_name": p.unit_name,
            "region_code": p.region_code,
            "request_type": p.request_type,
            "counts": {field: p.counts[field] for field in KEPT},
            "hours": p.hours.tolist(),
            "named_at": p.named_at.isoformat(),
        }
        for p in parts
    ]


def _keys(record: SlaRecord, added: dict) -> list[tuple]:
    """The rows ``added`` is on: its day's and its month's (table, period, unit, region, request type)."""
    day, group = day_of(record.dispatched_at), (added["unit_code"], added["region_code"], added["request_type"])
    return [(table, _period(table, day), *group) for table in TABLES]


async def count_records(sessions: Callable, calendar: WorkingCalendar, rounds: int = ROUNDS) -> int:
    """Counts again up to ``rounds`` × RECORDS_PER_ROUND uncounted records; how many."""
    done = 0
    for _ in range(rounds):
        async with sessions() as session, session.begin():
            counted = await count_some(session, calendar, utcnow())
        done += counted
        if counted < RECORDS_PER_ROUND:
            break
    return done


async def count_some(session: AsyncSession, calendar: WorkingCalendar, now: datetime) -> int:
    """Takes what some uncounted records added off their rows and puts on what they add now. They
    are locked while counted (PostgreSQL; SQLite's transactions take the database), so a change
    made meanwhile waits and uncounts its record again after."""
    if session.bind.dialect.name == "postgresql" and not await session.scalar(
        select(func.pg_try_advisory_xact_lock(COUNTING_LOCK))
    ):
        return 0  # another replica is counting: two would make the same new rows and one would fail
    uncounted = select(SlaRecord).where(~SlaRecord.counted, SlaRecord.dispatched_at < now - FRESH)
    uncounted = uncounted.order_by(SlaRecord.dispatched_at)
    records = list(await session.scalars(uncounted.limit(RECORDS_PER_ROUND).with_for_update()))
    if not records:
        return 0
    await work_calendar.refresh(session, calendar)  # a schedule loaded since the tick began counts
    urged = await urging.counts_by_holder(session, [r.work_item_id for r in records])
    adds = {r.work_item_id: _added(moving_apart(r, calendar, now, urged)) for r in records}
    changes = [(r, -1, added) for r in records for added in r.counted_as or []]
    changes += [(r, 1, added) for r in records for added in adds[r.work_item_id]]
    keys = [(key, sign, added) for r, sign, added in changes for key in _keys(r, added)]
    rows = await _rows_for(session, {key for key, _, _ in keys})
    hours: dict[tuple, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for key, sign, added in keys:
        if _apply(rows, key, sign, added) and added["hours"]:  # a row whose hours stay as they were: left alone
            hours[key][sign > 0].extend(added["hours"])
    for key, (gone, more) in hours.items():  # each row's bytes made once: a month row holds thousands
        kept = _taken_off(_unpacked(rows[key].hours), gone) if gone else _unpacked(rows[key].hours)
        rows[key].hours = np.concatenate([kept, more]).astype(HOURS_PACKED).tobytes()
    for row in rows.values():
        if row in session and row.received <= 0:
            await session.delete(row)  # nothing of the day's items left with the unit
        elif row not in session and row.received > 0:
            session.add(row)
    for record in records:
        record.counted_as, record.counted = adds[record.work_item_id], True
    return len(records)


def moving_apart(record: SlaRecord, calendar: WorkingCalendar, now: datetime, urged: dict) -> list[stats.Part]:
    """What ``record`` adds to its day's rows: its parts, less what its current holding adds to the
    MOVING counts if it is open — noted on the record instead (``counted_holder_*``), for
    ``_add_moving`` to count at each reading. holders.follow keeps one current holding."""
    holdings = stats.holdings_in([record], None)
    parts = stats.parts_of(holdings, calendar, now, urged)
    live = [h for h in holdings if h.current][-1:] if record.state in OPEN_STATES else []
    for holding in live:
        part = next(p for p in parts if (p.unit_code, p.region_code) == (holding.unit_code, holding.region_code))
        moving = stats.moving_of(holding, now)
        part.counts = {field: n - moving.get(field, 0) for field, n in part.counts.items()}
    holding = live[0] if live else None
    record.counted_holder_unit = holding.unit_code if holding else None
    record.counted_holder_region = holding.region_code if holding else None
    signing = holding is not None and holding.acknowledged_at is None and holding.ended_at is None
    record.counted_sign_due_at = holding.acknowledge_due_at if signing else None
    return parts


# The rows counting keeps: a day's, and its month's (the sum of the month's days).
TABLES: tuple[type[UnitCounts], ...] = (UnitDayCounts, UnitMonthCounts)


def _period(table: type[UnitCounts], day: date) -> date:
    return day if table is UnitDayCounts else day.replace(day=1)


async def _rows_for(session: AsyncSession, keys: set[tuple]) -> dict[tuple, UnitCounts]:
    """The rows of ``keys`` (table, period, unit, region, request type) that exist, locked."""
    rows: dict[tuple, UnitCounts] = {}
    for table in TABLES:
        key = tuple_(getattr(table, table.PERIOD), table.unit_code, table.region_code, table.request_type)
        wanted = sorted(k[1:] for k in keys if k[0] is table)
        for start in range(0, len(wanted), 500):  # IN lists of a bounded size
            chunk = select(table).where(key.in_(wanted[start : start + 500])).with_for_update()
            for row in await session.scalars(chunk):
                rows[(table, getattr(row, table.PERIOD), row.unit_code, row.region_code, row.request_type)] = row
    return rows


def _apply(rows: dict[tuple, UnitCounts], key: tuple, sign: int, added: dict) -> bool:
    """``added``'s counts put on (or taken off) its row; whether there was a row (its hours are
    the caller's, once for all the changes)."""
    row = rows.get(key)
    if row is None and sign < 0:  # the row was removed by hand (a restore?): nothing to take off
        log.warning("day_counts.row_missing", key=[str(k) for k in key[1:]])
        return False
    if row is None:
        table, period, unit_code, region_code, request_type = key
        row = rows[key] = table(
            **{table.PERIOD: period},
            unit_code=unit_code,
            region_code=region_code,
            request_type=request_type,
            unit_name=added["unit_name"],
            named_at=datetime.fromisoformat(added["named_at"]),
            hours=b"",
            **dict.fromkeys(KEPT, 0),
        )
    for field in KEPT:
        setattr(row, field, getattr(row, field) + sign * added["counts"].get(field, 0))  # open_now: none before 0019
    named_at = datetime.fromisoformat(added["named_at"])
    if sign > 0 and (named_at, added["unit_name"]) >= (row.named_at, row.unit_name):
        row.unit_name, row.named_at = added["unit_name"], named_at
    return True


Period = tuple[date | None, date | None]  # [start, end) in Chinese days; None: open-ended
# How the day rows are added up: per unit, region and request type (the table), or per region only
# (a trend's totals: a few hundred groups a week instead of thousands, and no names).
BY_UNIT = ("unit_code", "region_code", "request_type")
BY_REGION = ("region_code",)
# The same groups on an SLA record as counted (the MOVING counts go to the unit holding it then).
_COUNTED_AS = {
    "unit_code": "counted_holder_unit",
    "region_code": "counted_holder_region",
    "request_type": "request_type",
}


async def parts_in(
    session: AsyncSession,
    calendar: WorkingCalendar,
    start: date | None,
    end: date | None,
    region: str | None,
    now: datetime,
    *,
    hours: bool = True,
) -> list[stats.Part]:
    """The statistics' parts for items dispatched in [start, end) that units in ``region`` held."""
    return (await parts_by_period(session, calendar, [(start, end)], region, now, hours=hours))[(start, end)]


async def parts_by_period(
    session: AsyncSession,
    calendar: WorkingCalendar,
    periods: list[Period],
    region: str | None,
    now: datetime,
    *,
    hours: bool = True,
    by: tuple[str, ...] = BY_UNIT,
) -> dict[Period, list[stats.Part]]:
    """The statistics' parts of each of ``periods`` (apart from one another): the day rows added
    up (``by`` BY_UNIT or BY_REGION) with the open items' MOVING counts at ``now``, less what the
    uncounted records had added to them, and those records as they are, read once for all the
    periods. ``hours=False``: the counts only (a trend). Read in one snapshot (``snapshot``), or a
    count committed between two reads would be seen half."""
    if session.bind.dialect.name == "postgresql":  # for this transaction only, once for every period
        await session.execute(READ_SETTINGS)
    kept = {}
    for period in periods:
        kept[period] = await _kept(session, *period, region, hours, by)
        await _add_moving(session, kept[period], *period, region, now, by)
    starts, ends = [s for s, _ in periods], [e for _, e in periods]
    earliest, latest = None if None in starts else min(starts), None if None in ends else max(ends)
    # Every region's: a unit in ``region`` may have held an item now elsewhere (转办); holdings_in
    # keeps the holdings in the region.
    uncounted = (*_dispatched_within(earliest, latest), ~SlaRecord.counted)
    read = select(SlaRecord).where(*uncounted)
    read = read.options(*(defer(unused, raiseload=True) for unused in (SlaRecord.policy, SlaRecord.returned_by)))
    records = list(await session.scalars(read))
    urged = await urging.counts_by_holder(session, select(SlaRecord.work_item_id).where(*uncounted))
    days = [(day_of(r.dispatched_at), r) for r in records]
    out = {}
    for period in periods:
        mine = [r for day, r in days if _within(day, period)]
        live = stats.parts_of(stats.holdings_in(mine, region), calendar, now, urged)
        out[period] = _less(kept[period], mine, hours, by) + live
        if not hours:
            for part in out[period]:
                part.hours = NO_HOURS
    return out


def _dispatched_within(start: date | None, end: date | None) -> list:
    span = []
    if start is not None:
        span.append(SlaRecord.dispatched_at >= day_start(start))
    if end is not None:
        span.append(SlaRecord.dispatched_at < day_start(end))
    return span


async def _add_moving(
    session: AsyncSession,
    kept: dict[tuple[str, str, str], stats.Part],
    start: date | None,
    end: date | None,
    region: str | None,
    now: datetime,
    by: tuple[str, ...],
) -> None:
    """The MOVING counts of the counted open items of the period at ``now``, added to the summed day
    rows of the units that held them when counted (stats.moving_of, in SQL)."""
    for row in await session.execute(moving_read(start, end, region, now, by)):
        group, counts = tuple(row[: len(by)]), row[len(by) :]
        part = kept.get(group)
        if part is None:  # the day row was removed by hand (a restore?)
            log.warning("day_counts.row_missing", key=list(group))
            continue
        for field, n in zip(stats.MOVING, counts, strict=True):
            part.counts[field] += int(n)


def moving_read(start: date | None, end: date | None, region: str | None, now: datetime, by: tuple[str, ...]):
    """The read of ``_add_moving``: each group's stats.MOVING counts, in that order. The open states
    are written into the SQL (open_state), so PostgreSQL reads the records by
    ``ix_sla_records_open_dispatched``, from the index alone: it carries every column read here
    (models.MOVING_READS)."""
    counted_open = [*_dispatched_within(start, end), open_state(SlaRecord.state), SlaRecord.counted]
    if region:
        counted_open.append(regions.within(SlaRecord.counted_holder_region, region))
    moving = {
        "acknowledge_counted": SlaRecord.counted_sign_due_at < now,
        "resolve_counted": SlaRecord.past_resolve_limit(now),
        "overdue_now": SlaRecord.is_overdue(now),
    }
    key = [getattr(SlaRecord, _COUNTED_AS[field]) for field in by]
    sums = [func.sum(case((moving[field], 1), else_=0)) for field in stats.MOVING]
    return select(*key, *sums).where(*counted_open).group_by(*key)


def _within(day: date, period: Period) -> bool:
    start, end = period
    return (start is None or day >= start) and (end is None or day < end)


def _less(
    kept: dict[tuple, stats.Part], records: list[SlaRecord], hours: bool, by: tuple[str, ...]
) -> list[stats.Part]:
    """The summed day rows less what ``records`` (read as they are) had added to them (a group
    not among ``kept`` is outside the region asked)."""
    gone: dict[tuple, list[float]] = defaultdict(list)
    for record in records:
        for added in record.counted_as or []:
            group = tuple(added[field] for field in by)
            part = kept.get(group)
            if part is not None:
                part.counts = {f: n - added["counts"].get(f, 0) for f, n in part.counts.items()}
                gone[group].extend(added["hours"])
    for group, hours_gone in gone.items():
        kept[group].hours = _taken_off(kept[group].hours, hours_gone) if hours else NO_HOURS
    return [part for part in kept.values() if part.counts["received"] > 0]


def _whole_months(start: date | None, end: date | None) -> tuple[date | None, date | None] | None:
    """The months wholly within [start, end), as [first, last) (None: open-ended), or None."""
    first = start if start is None or start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    last = None if end is None else end.replace(day=1)
    return None if first and last and first >= last else (first, last)


def _rows_in(start: date | None, end: date | None, region: str | None) -> Subquery:
    """The period's rows: its whole months' month rows and the day rows of the days around them."""

    def rows_of(table: type[UnitCounts], since: date | None, until: date | None):
        period = getattr(table, table.PERIOD)
        within = [period >= since] if since else []
        within += [period < until] if until else []
        if region:
            within.append(regions.within(table.region_code, region))
        return select(*(getattr(table, c) for c in ROW_COLUMNS)).where(*within)

    months = _whole_months(start, end)
    if months is None:
        return rows_of(UnitDayCounts, start, end).subquery()
    first, last = months
    parts = [rows_of(UnitMonthCounts, first, last)]
    if first is not None and first != start:
        parts.append(rows_of(UnitDayCounts, start, first))
    if last is not None and last != end:
        parts.append(rows_of(UnitDayCounts, last, end))
    return union_all(*parts).subquery()


# A year's rows are grouped with their hours' bytes (string_agg): with PostgreSQL's default 4 MB the
# grouping sorted on disk (external merge), 0.41 s; in memory it is hashed, 0.26 s (docs/benchmarks.md).
SUMS_WORK_MEM = "64MB"
# Each statement planned for its own values: a supervisor's region is an IN list of its codes (a
# province has 144), and the plan PostgreSQL may keep for a statement run again and again (the trend
# runs each of its reads eight times a call) holds them as parameters, matched one by one against
# every row: the province's 8-week trend took 0.67–0.82 s so, 0.20–0.29 s planned each time.
READ_SETTINGS = text(
    f"SELECT set_config('work_mem', '{SUMS_WORK_MEM}', true), set_config('plan_cache_mode', 'force_custom_plan', true)"
)
ROW_COLUMNS = ("unit_code", "region_code", "request_type", "unit_name", "named_at", *KEPT, "hours")


async def _kept(
    session: AsyncSession, start: date | None, end: date | None, region: str | None, hours: bool, by: tuple[str, ...]
) -> dict[tuple, stats.Part]:
    """The period's rows (``_rows_in``) added up by the database per ``by`` (BY_UNIT: each unit
    named as it was last; BY_REGION: no names); their handling hours put together (when asked), in
    the same read on PostgreSQL."""
    rows = _rows_in(start, end, region)
    key = [rows.c[field] for field in by]
    sums = [func.sum(rows.c[field]) for field in KEPT]
    joined = hours and session.bind.dialect.name == "postgresql"
    if joined:  # the rows' bytes joined by the database (string_agg): a year has millions of hours
        hours_of = func.string_agg(rows.c.hours, literal_column("''::bytea"), type_=LargeBinary)
        sums.append(hours_of.filter(rows.c.resolved > 0))  # NULL for a group that resolved none
    kept: dict[tuple, stats.Part] = {}
    packed: dict[tuple, list[bytes]] = defaultdict(list)
    if by == BY_UNIT:
        # One read for the sums and the names: grouped by the name too (a unit renamed in the period
        # has a row per name), the groups' counts added up here, each unit named as it was last.
        named = (rows.c.unit_name, func.max(rows.c.named_at))
        query = select(*key, *named, *sums).group_by(*key, rows.c.unit_name)
        counted: dict[tuple, list[int]] = {}
        names: dict[str, tuple[datetime, str]] = {}
        for unit_code, region_code, request_type, unit_name, named_at, *counts in await session.execute(query):
            group = (unit_code, region_code, request_type)
            if joined:
                packed[group].append(counts.pop())
            so_far = counted.get(group, [0] * len(KEPT))
            counted[group] = [n + int(more) for n, more in zip(so_far, counts, strict=True)]
            names[unit_code] = max(names.get(unit_code, (named_at, unit_name)), (named_at, unit_name))
        for group, counts in counted.items():
            named_at, unit_name = names[group[0]]
            kept[group] = _part(dict(zip(by, group, strict=True)), counts, unit_name, named_at)
    else:
        for row in await session.execute(select(*key, *sums).group_by(*key)):
            group, counts = tuple(row[: len(by)]), list(row[len(by) :])
            if joined:
                packed[group].append(counts.pop())
            kept[group] = _part(dict(zip(by, group, strict=True)), counts, "", UNNAMED)
    if hours and not joined:
        packed = await _hours_read(session, key, rows)
    for group, parts in packed.items():
        kept[group].hours = _unpacked(b"".join(filter(None, parts)))
    return kept


UNNAMED = datetime.min.replace(tzinfo=UTC)  # a part per region has no unit, so no name


def _part(group: dict[str, str], counts, unit_name: str, named_at: datetime) -> stats.Part:
    """A part of the summed day rows; ``group`` its unit, region and request type, or some of them."""
    return stats.Part(
        group.get("unit_code", ""),
        unit_name,
        group.get("region_code", ""),
        group.get("request_type", ""),
        {**dict(zip(KEPT, map(int, counts), strict=True)), "overdue_now": 0},
        NO_HOURS,
        named_at,
    )


async def _hours_read(session: AsyncSession, key: list, rows: Subquery) -> dict[tuple, list[bytes]]:
    """The period's handling hours per group, each row's bytes, on SQLite: its group_concat makes
    text (PostgreSQL joins them in the sums' read, _kept)."""
    groups: dict[tuple, list[bytes]] = defaultdict(list)
    for *group, hours in await session.execute(select(*key, rows.c.hours).where(rows.c.resolved > 0)):
        groups[tuple(group)].append(hours)
    return groups


NO_HOURS = np.empty(0)


def _unpacked(packed: bytes) -> np.ndarray:
    """A day row's hours (HOURS_PACKED) as an array of this machine's float64."""
    return np.frombuffer(packed, dtype=HOURS_PACKED).astype(np.float64)


def _taken_off(hours: np.ndarray, gone: list[float]) -> np.ndarray:
    """``hours`` less ``gone``, each value as often as it is in ``gone`` (a multiset difference):
    in the sorted hours, the k-th of equal values gone removes the k-th of them there."""
    ordered, gone_sorted = np.sort(hours), np.sort(np.asarray(gone, dtype=np.float64))
    nth_of_its_value = np.arange(len(gone_sorted)) - np.searchsorted(gone_sorted, gone_sorted, side="left")
    at = np.searchsorted(ordered, gone_sorted, side="left") + nth_of_its_value
    there = at < len(ordered)
    there[there] = ordered[at[there]] == gone_sorted[there]
    return np.delete(ordered, at[there])
