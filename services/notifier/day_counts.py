"""The unit statistics' counts per Chinese day (``unit_day_counts``), so the figures of a year add
up some hundred thousand rows instead of reading millions of SLA records.

A day's rows hold the counts (stats.counts_of) of the items dispatched that day that are settled
— no longer open, so nothing in their counts moves with the clock — and the handling hours of
those resolved, per unit that held them, its region and the request type. Each record keeps what
it added (``sla_records.counted_as``). A record that changes is uncounted (models._count_again);
the worker counts the uncounted records again (``count_records``): what each added before is taken
off its rows and what it adds now put on. Until then the statistics take it off themselves and
read the record as it is; open items are always read as they are (their figures move with the
clock: 当前超期, past a limit). The figures are the same whether a record is counted or not
(tests/notifier/test_unit_stats.py, tests/unit/test_stats_total.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import structlog
from sqlalchemy import Text, cast, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from shared import regions
from shared.clock import day_of, day_start, utcnow
from shared.vocabulary import OPEN_STATES

from . import calendar as work_calendar
from . import stats, urging
from .models import SlaRecord, UnitDayCounts, open_state
from .workcal import WorkingCalendar

# What a day's row keeps: every count but those of open items, which are never in it.
KEPT = tuple(field for field in stats.COUNTS if field not in ("open_now", "overdue_now"))
log = structlog.get_logger()
COUNTING_LOCK = 0x78696165_72646179  # pg_advisory_xact_lock key of the counting (b"xiaerday")
RECORDS_PER_ROUND = 2000  # records counted again per transaction, so a backlog never holds the worker long
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


def _key(record: SlaRecord, added: dict) -> tuple:
    return (day_of(record.dispatched_at), added["unit_code"], added["region_code"], added["request_type"])


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
    uncounted = select(SlaRecord).where(~SlaRecord.counted).order_by(SlaRecord.dispatched_at)
    records = list(await session.scalars(uncounted.limit(RECORDS_PER_ROUND).with_for_update()))
    if not records:
        return 0
    await work_calendar.refresh(session, calendar)  # a schedule loaded since the tick began counts
    settled = [r for r in records if r.state not in OPEN_STATES]
    urged = await urging.counts_by_holder(session, [r.work_item_id for r in settled])
    adds = {r.work_item_id: [] for r in records}  # an open record adds nothing
    for r in settled:
        adds[r.work_item_id] = _added(stats.parts_of(stats.holdings_in([r], None), calendar, now, urged))
    changes = [(r, -1, added) for r in records for added in r.counted_as or []]
    changes += [(r, 1, added) for r in records for added in adds[r.work_item_id]]
    rows = await _rows_for(session, {_key(r, added) for r, _, added in changes})
    for record, sign, added in changes:
        _apply(rows, _key(record, added), sign, added)
    for row in rows.values():
        if row in session and row.received <= 0:
            await session.delete(row)  # nothing of the day's items left with the unit
        elif row not in session and row.received > 0:
            session.add(row)
    for record in records:
        record.counted_as, record.counted = adds[record.work_item_id], True
    return len(records)


async def _rows_for(session: AsyncSession, keys: set[tuple]) -> dict[tuple, UnitDayCounts]:
    rows: dict[tuple, UnitDayCounts] = {}
    key = tuple_(UnitDayCounts.day, UnitDayCounts.unit_code, UnitDayCounts.region_code, UnitDayCounts.request_type)
    wanted = sorted(keys)
    for start in range(0, len(wanted), 500):  # IN lists of a bounded size
        chunk = select(UnitDayCounts).where(key.in_(wanted[start : start + 500])).with_for_update()
        for row in await session.scalars(chunk):
            rows[(row.day, row.unit_code, row.region_code, row.request_type)] = row
    return rows


def _apply(rows: dict[tuple, UnitDayCounts], key: tuple, sign: int, added: dict) -> None:
    row = rows.get(key)
    if row is None and sign < 0:  # the row was removed by hand (a restore?): nothing to take off
        log.warning("day_counts.row_missing", key=[str(k) for k in key])
        return
    if row is None:
        day, unit_code, region_code, request_type = key
        row = rows[key] = UnitDayCounts(
            day=day,
            unit_code=unit_code,
            region_code=region_code,
            request_type=request_type,
            unit_name=added["unit_name"],
            named_at=datetime.fromisoformat(added["named_at"]),
            hours=[],
            **dict.fromkeys(KEPT, 0),
        )
    for field in KEPT:
        setattr(row, field, getattr(row, field) + sign * added["counts"][field])
    # A new list each time (SQLAlchemy sees a JSON column change only when it is assigned); in no
    # order: the statistics pick the percentiles out of them (stats.median_and_p90).
    if sign < 0:
        row.hours = _taken_off(np.asarray(row.hours, dtype=np.float64), added["hours"]).tolist()
    else:
        row.hours = [*row.hours, *added["hours"]]
    named_at = datetime.fromisoformat(added["named_at"])
    if sign > 0 and (named_at, added["unit_name"]) >= (row.named_at, row.unit_name):
        row.unit_name, row.named_at = added["unit_name"], named_at


Period = tuple[date | None, date | None]  # [start, end) in Chinese days; None: open-ended


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
) -> dict[Period, list[stats.Part]]:
    """The statistics' parts of each of ``periods`` (apart from one another): the day rows added
    up, less what the records read as they are had added to them, and those records — the open
    ones and the uncounted — as they are, read once for all the periods. ``hours=False``: the
    counts only (a trend). Read in one snapshot (``snapshot``), or a count committed between two
    reads would be seen half."""
    kept = {period: await _kept(session, *period, region, hours) for period in periods}
    starts, ends = [s for s, _ in periods], [e for _, e in periods]
    span = []
    if None not in starts:
        span.append(SlaRecord.dispatched_at >= day_start(min(starts)))
    if None not in ends:
        span.append(SlaRecord.dispatched_at < day_start(max(ends)))
    # Every region's: a unit in ``region`` may have held an item now elsewhere (转办); holdings_in
    # keeps the holdings in the region. The open ones with their states in the SQL (open_state), so
    # PostgreSQL sees the partial index serves them.
    live = (*span, or_(open_state(SlaRecord.state), ~SlaRecord.counted))
    read = select(SlaRecord).where(*live)
    read = read.options(*(defer(unused, raiseload=True) for unused in (SlaRecord.policy, SlaRecord.returned_by)))
    records = list(await session.scalars(read))
    urged = await urging.counts_by_holder(session, select(SlaRecord.work_item_id).where(*live))
    days = [(day_of(r.dispatched_at), r) for r in records]
    out = {}
    for period in periods:
        mine = [r for day, r in days if _within(day, period)]
        live = stats.parts_of(stats.holdings_in(mine, region), calendar, now, urged)
        out[period] = _less(kept[period], mine, hours) + live
        if not hours:
            for part in out[period]:
                part.hours = NO_HOURS
    return out


def _within(day: date, period: Period) -> bool:
    start, end = period
    return (start is None or day >= start) and (end is None or day < end)


def _less(kept: dict[tuple, stats.Part], records: list[SlaRecord], hours: bool) -> list[stats.Part]:
    """The summed day rows less what ``records`` (read as they are) had added to them."""
    gone: dict[tuple, list[float]] = defaultdict(list)
    for record in records:
        for added in record.counted_as or []:
            part = kept.get(_group(added))
            if part is not None:
                part.counts = {f: n - added["counts"].get(f, 0) for f, n in part.counts.items()}
                gone[_group(added)].extend(added["hours"])
    for group, hours_gone in gone.items():
        kept[group].hours = _taken_off(kept[group].hours, hours_gone) if hours else NO_HOURS
    return [part for part in kept.values() if part.counts["received"] > 0]


async def snapshot(session: AsyncSession) -> None:
    """The session's reads from now on see one moment of the database (PostgreSQL's REPEATABLE
    READ, read only): the first thing a session does. SQLite's transactions see one already."""
    if session.bind.dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})


def _group(added: dict) -> tuple[str, str, str]:
    """The unit, region and request type of what a record added (its day aside)."""
    return (added["unit_code"], added["region_code"], added["request_type"])


async def _kept(
    session: AsyncSession, start: date | None, end: date | None, region: str | None, hours: bool
) -> dict[tuple[str, str, str], stats.Part]:
    """The day rows of the period added up by the database, per unit, region and request type;
    their handling hours put together (when asked); each unit named as it was last."""
    days = []
    if start:
        days.append(UnitDayCounts.day >= start)
    if end:
        days.append(UnitDayCounts.day < end)
    if region:
        days.append(regions.within(UnitDayCounts.region_code, region))
    key = (UnitDayCounts.unit_code, UnitDayCounts.region_code, UnitDayCounts.request_type)
    names: dict[str, tuple[datetime, str]] = {}
    named = select(UnitDayCounts.unit_code, UnitDayCounts.unit_name, func.max(UnitDayCounts.named_at))
    for unit_code, unit_name, named_at in await session.execute(
        named.where(*days).group_by(UnitDayCounts.unit_code, UnitDayCounts.unit_name)
    ):
        names[unit_code] = max(names.get(unit_code, (named_at, unit_name)), (named_at, unit_name))
    sums = [func.sum(getattr(UnitDayCounts, field)) for field in KEPT]
    kept = {}
    for unit_code, region_code, request_type, *counts in await session.execute(
        select(*key, *sums).where(*days).group_by(*key)
    ):
        named_at, unit_name = names[unit_code]  # same snapshot: every unit summed was named
        counted = {**dict(zip(KEPT, map(int, counts), strict=True)), "open_now": 0, "overdue_now": 0}
        kept[(unit_code, region_code, request_type)] = stats.Part(
            unit_code, unit_name, region_code, request_type, counted, NO_HOURS, named_at
        )
    if hours:
        # The days' lists of one group joined by the database (string_agg, group_concat) and
        # parsed at once by numpy: a year has half a million rows of them, millions of numbers.
        lists = func.aggregate_strings(cast(UnitDayCounts.hours, Text), ",")
        has_hours = cast(UnitDayCounts.hours, Text) != "[]"
        query = select(*key, lists).where(*days, UnitDayCounts.resolved > 0, has_hours).group_by(*key)
        for unit_code, region_code, request_type, joined in await session.execute(query):
            kept[(unit_code, region_code, request_type)].hours = _numbers(joined)
    return kept


NO_HOURS = np.empty(0)
_BRACKETS = str.maketrans("[]", "  ")


def _numbers(joined: str) -> np.ndarray:
    """The numbers of JSON lists joined by commas (``[1.5, 2],[3]``), none of them empty."""
    return np.fromstring(joined.translate(_BRACKETS), sep=",")


def _taken_off(hours: np.ndarray, gone: list[float]) -> np.ndarray:
    """``hours`` less ``gone``, each value as often as it is in ``gone`` (a multiset difference):
    in the sorted hours, the k-th of equal values gone removes the k-th of them there."""
    ordered, gone_sorted = np.sort(hours), np.sort(np.asarray(gone, dtype=np.float64))
    nth_of_its_value = np.arange(len(gone_sorted)) - np.searchsorted(gone_sorted, gone_sorted, side="left")
    at = np.searchsorted(ordered, gone_sorted, side="left") + nth_of_its_value
    there = at < len(ordered)
    there[there] = ordered[at[there]] == gone_sorted[there]
    return np.delete(ordered, at[there])
