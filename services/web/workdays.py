"""Deadlines counted in working days for people ("还剩 3 个工作日", "超期 2 天"), from the
notifier's working calendar (``GET /v1/calendar/{year}``: the official holidays and make-up
working days). The pages never hold a calendar of their own: they ask the service that owns it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from fastapi import Request

from shared.clock import SHANGHAI, utcnow

from .apis import ServiceClient
from .i18n import _

CACHE_SECONDS = 600  # a schedule changes a few times a year; a page need not ask every time
SOON_DAYS = 2  # this many working days left, or fewer: amber


@dataclass(frozen=True)
class Countdown:
    """How a deadline stands now: ``tone`` ok (green), soon (amber) or late (red)."""

    tone: Literal["ok", "soon", "late"]
    text: str


@dataclass(frozen=True)
class YearSchedule:
    holidays: frozenset[date]  # weekdays off
    workdays: frozenset[date]  # weekend days worked (调休)


class WorkingDays:
    def __init__(self, years: dict[int, YearSchedule]) -> None:
        self._years = years

    def is_working_day(self, day: date) -> bool:
        schedule = self._years.get(day.year)
        if schedule and day in schedule.workdays:
            return True
        return day.weekday() < 5 and not (schedule and day in schedule.holidays)

    def between(self, after: date, until: date) -> int:
        """Working days in (after, until]."""
        return sum(1 for n in range(1, (until - after).days + 1) if self.is_working_day(after + timedelta(days=n)))

    def countdown(self, due: datetime | str | None, now: datetime) -> Countdown | None:
        if due in (None, ""):
            return None
        due_at = datetime.fromisoformat(due) if isinstance(due, str) else due
        due_day, today = due_at.astimezone(SHANGHAI).date(), now.astimezone(SHANGHAI).date()
        if due_at <= now:
            # Late by part of a day is late by a day: the person needs to see it at once.
            days = max(1, self.between(due_day, today))
            return Countdown("late", _("超期 %(n)d 天") % {"n": days})
        left = self.between(today, due_day)
        if left == 0:
            return Countdown("soon", _("今天到期"))
        return Countdown("soon" if left <= SOON_DAYS else "ok", _("还剩 %(n)d 个工作日") % {"n": left})


async def working_days(request: Request, api: ServiceClient, *dues: datetime | str | None) -> WorkingDays:
    """The calendar for the years of ``dues`` and of today, from the notifier (cached briefly)."""
    now = utcnow()
    years = {now.astimezone(SHANGHAI).year}
    for due in dues:
        if due:
            years.add((datetime.fromisoformat(due) if isinstance(due, str) else due).astimezone(SHANGHAI).year)
    cache: dict[int, tuple[float, YearSchedule]] | None = getattr(request.app.state, "working_calendar", None)
    if cache is None:
        cache = request.app.state.working_calendar = {}
    schedules = {}
    for year in sorted(years):
        cached = cache.get(year)
        if cached is None or time.monotonic() - cached[0] > CACHE_SECONDS:
            found = await api.get("notifier", f"/v1/calendar/{year}")
            schedule = YearSchedule(
                frozenset(date.fromisoformat(d) for d in found["holidays"]),
                frozenset(date.fromisoformat(d) for d in found["workdays"]),
            )
            cached = cache[year] = (time.monotonic(), schedule)
        schedules[year] = cached[1]
    return WorkingDays(schedules)
