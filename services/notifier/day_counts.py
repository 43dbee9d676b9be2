"""The unit statistics' counts per Chinese day (``unit_day_counts``), so the figures of a year add
up some hundred thousand rows instead of reading millions of SLA records.

A day's rows hold the counts (stats.counts_of) of the items dispatched that day that are settled
— no longer open, so nothing in their counts moves with the clock — and the handling hours of
those resolved, per unit that held them, its region and the request type. Open items are counted
as they are read: their figures move with the clock (当前超期, past a limit). A record that changes
is uncounted (models._count_again) and its day counted again by the worker (``count_days``);
until then the statistics read that day's records themselves. The figures are the same whether a
day is counted or not (tests/notifier/test_day_counts.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import regions
from shared.clock import SHANGHAI, utcnow
from shared.vocabulary import OPEN_STATES

from . import stats, urging
from .models import SlaRecord, UnitDayCounts
from .workcal import WorkingCalendar

# What a day's row keeps: every count but those of open items, which are never in it.
KEPT = tuple(field for field in stats.COUNTS if field not in ("open_now", "overdue_now"))
DAYS_PER_ROUND = 20  # days counted again per call of count_days, so a backlog never holds the worker long


def day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), SHANGHAI)


def day_of(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


async def count_days(sessions: Callable, calendar: WorkingCalendar, days: int = DAYS_PER_ROUND) -> int:
    """Counts again, oldest first, up to ``days`` days that hold an uncounted record; how many."""
    done = 0
    while done < days:
        async with sessions() as session, session.begin():
            first = await session.scalar(select(func.min(SlaRecord.dispatched_at)).where(SlaRecord.counted.is_(False)))
            if first is None:
                break
            await count_day(session, calendar, day_of(first), utcnow())
        done += 1
    return done


async def count_day(session: AsyncSession, calendar: WorkingCalendar, day: date, now: datetime) -> None:
    """The day's rows made anew from its settled records, and every record of the day counted.
    The records are locked while they are read (PostgreSQL; SQLite's transactions take the
    database), so a change made meanwhile waits and uncounts its record again after."""
    in_day = and_(SlaRecord.dispatched_at >= day_start(day), SlaRecord.dispatched_at < day_start(day + timedelta(1)))
    records = list(await session.scalars(select(SlaRecord).where(in_day).with_for_update()))
    settled = [r for r in records if r.state not in OPEN_STATES]
    urged = await urging.counts_by_holder(session, [r.work_item_id for r in settled])
    await session.execute(delete(UnitDayCounts).where(UnitDayCounts.day == day))
    for part in stats.parts_of(stats.holdings_in(settled, None), calendar, now, urged):
        session.add(
            UnitDayCounts(
                day=day,
                unit_code=part.unit_code,
                unit_name=part.unit_name,
                named_at=part.named_at,
                region_code=part.region_code,
                request_type=part.request_type,
                hours=[round(hours, 6) for hours in part.hours],
                **{field: part.counts[field] for field in KEPT},
            )
        )
    await session.execute(
        update(SlaRecord).where(in_day, SlaRecord.counted.is_(False)).values(counted=True),
        execution_options={"synchronize_session": False},
    )


async def uncount_year(session: AsyncSession, year: int) -> None:
    """A new schedule for ``year`` changes the working hours of every item handled in it: their
    days are counted again."""
    first, after = day_start(date(year, 1, 1)), day_start(date(year + 1, 1, 1))
    await session.execute(
        update(SlaRecord)
        .where(
            SlaRecord.counted,
            SlaRecord.dispatched_at < after,
            or_(SlaRecord.resolved_at.is_(None), SlaRecord.resolved_at >= first),
        )
        .values(counted=False),
        execution_options={"synchronize_session": False},
    )


async def parts_in(
    session: AsyncSession,
    calendar: WorkingCalendar,
    start: date | None,
    end: date | None,
    region: str | None,
    now: datetime,
) -> list[stats.Part]:
    """The statistics' parts for items dispatched in [start, end) (Chinese days) that units in
    ``region`` held: the counted days' rows, and the open items and the days not yet counted again
    read from their records."""
    period = []
    if start:
        period.append(SlaRecord.dispatched_at >= day_start(start))
    if end:
        period.append(SlaRecord.dispatched_at < day_start(end))
    uncounted = sorted(
        {day_of(at) for at in await session.scalars(select(SlaRecord.dispatched_at).where(~SlaRecord.counted, *period))}
    )
    rows = select(UnitDayCounts).where(UnitDayCounts.day.not_in(uncounted))
    if start:
        rows = rows.where(UnitDayCounts.day >= start)
    if end:
        rows = rows.where(UnitDayCounts.day < end)
    if region:
        rows = rows.where(regions.within(UnitDayCounts.region_code, region))
    parts = [
        stats.Part(r.unit_code, r.unit_name, r.region_code, r.request_type, _counts(r), r.hours, r.named_at)
        for r in await session.scalars(rows)
    ]
    read = select(SlaRecord).where(*period, or_(SlaRecord.state.in_(OPEN_STATES), *_days(uncounted)))
    if region:
        read = read.where(
            or_(regions.within(SlaRecord.region_code, region), regions.within(SlaRecord.subject_region, region))
        )
    records = list(await session.scalars(read))
    urged = await urging.counts_by_holder(session, [r.work_item_id for r in records])
    return parts + stats.parts_of(stats.holdings_in(records, region), calendar, now, urged)


def _counts(row: UnitDayCounts) -> dict[str, int]:
    return {**{field: getattr(row, field) for field in KEPT}, "open_now": 0, "overdue_now": 0}


def _days(days: list[date]) -> list:
    """Conditions for the records of ``days``, one per run of consecutive days."""
    runs: list[list[date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(1) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [
        and_(SlaRecord.dispatched_at >= day_start(first), SlaRecord.dispatched_at < day_start(last + timedelta(1)))
        for first, last in runs
    ]
