"""The notifier's working calendar: chinese-calendar, overridden by operator-loaded schedules
kept in the notifier's database, with a visible fallback for years that have neither."""

from __future__ import annotations

from datetime import date

from prometheus_client import Gauge
from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import day_start, utcnow
from shared.validation import bilingual_error

from .models import CalendarYear, SlaRecord
from .settings import NotifierSettings
from .workcal import WorkingCalendar, YearSchedule, parse_windows

SCHEDULE_MISSING = Gauge(
    "xiaoer_calendar_schedule_missing",
    "1 for a year the SLA clocks needed with no official schedule (weekends and fixed holidays only)",
    ["year"],
)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holidays: list[date]
    workdays: list[date] = []

    @field_validator("holidays", "workdays")
    @classmethod
    def _distinct(cls, days: list[date]) -> list[date]:
        if len(set(days)) != len(days):
            raise bilingual_error("date_duplicate", "日期重复", "Dates are repeated")
        return sorted(days)


def check_year(year: int, schedule: ScheduleIn) -> None:
    wrong = [d for d in schedule.holidays + schedule.workdays if d.year != year]
    if wrong:
        raise ValueError(f"dates outside {year}: {', '.join(map(str, wrong))}")
    both = set(schedule.holidays) & set(schedule.workdays)
    if both:
        raise ValueError(f"both holiday and working day: {', '.join(map(str, sorted(both)))}")


def new_calendar(settings: NotifierSettings) -> WorkingCalendar:
    return WorkingCalendar(windows=parse_windows(settings.business_hours))


async def load_schedules(session: AsyncSession, calendar: WorkingCalendar) -> None:
    """Puts the operator-loaded schedules into ``calendar`` (replacing what it had)."""
    rows = await session.scalars(select(CalendarYear))
    calendar.schedules = {
        row.year: YearSchedule(
            frozenset(date.fromisoformat(d) for d in row.holidays),
            frozenset(date.fromisoformat(d) for d in row.workdays),
        )
        for row in rows
    }
    calendar.fallback_years -= set(calendar.schedules)


_REFRESHED = "calendar.refreshed"  # session.info key: the calendar this session refreshed already


async def refresh(session: AsyncSession, calendar: WorkingCalendar) -> None:
    """Reloads the operator-loaded schedules when they changed since this process last read them,
    so a schedule loaded through the API, the CLI or another replica takes effect in every process
    that computes deadlines, without a restart. One small query per session (a request, a tick, or
    a consumer's batch of events applied together); called before deadlines are due."""
    if session.info.get(_REFRESHED) is calendar:
        return
    session.info[_REFRESHED] = calendar
    count, latest = (await session.execute(select(func.count(), func.max(CalendarYear.loaded_at)))).one()
    version = (count, latest)
    if version != calendar.loaded_version:
        await load_schedules(session, calendar)
        calendar.loaded_version = version


async def store_schedule(session: AsyncSession, year: int, schedule: ScheduleIn, loaded_by: str) -> CalendarYear:
    check_year(year, schedule)
    row = await session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year)
        session.add(row)
    row.holidays = [d.isoformat() for d in schedule.holidays]
    row.workdays = [d.isoformat() for d in schedule.workdays]
    row.loaded_by = loaded_by
    row.loaded_at = utcnow()
    await _count_again_handled_in(session, year)
    return row


async def _count_again_handled_in(session: AsyncSession, year: int) -> None:
    """A new schedule for ``year`` changes the working hours of the items resolved in it: the
    statistics' day counts take them again (day_counts.py)."""
    first, after = day_start(date(year, 1, 1)), day_start(date(year + 1, 1, 1))
    handled = and_(SlaRecord.counted, SlaRecord.dispatched_at < after, SlaRecord.resolved_at >= first)
    await session.execute(
        update(SlaRecord).where(handled).values(counted=False), execution_options={"synchronize_session": False}
    )


def warnings(calendar: WorkingCalendar, today: date) -> list[str]:
    """Years the clocks use or soon will (this year and next) that have no official schedule."""
    missing = set(calendar.fallback_years)
    missing |= {y for y in (today.year, today.year + 1) if calendar.schedule_source(y) == "fallback"}
    for year in missing:
        SCHEDULE_MISSING.labels(str(year)).set(1)
    return [
        f"no official holiday schedule for {year}: deadlines use weekends and fixed-date holidays only; "
        f"load it with PUT /v1/calendar/{year} or `xiaoer calendar load`"
        for year in sorted(missing)
    ]
