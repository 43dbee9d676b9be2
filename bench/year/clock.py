"""Working time for the simulation, fast: the notifier's calendar (``services.notifier.workcal``:
chinese-calendar's working days, business hours 09–12 and 13–18 Asia/Shanghai) laid out once
as a table of business-hour intervals over the year, so that adding working time to an instant
and measuring the working time between two instants are a binary search each, not a walk over
days. Deadlines are the notifier's own rules (``policies.due``), from the same table."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta

from services.notifier.workcal import WorkingCalendar
from shared.clock import SHANGHAI


class BusinessTime:
    def __init__(self, first: date, last: date, calendar: WorkingCalendar | None = None) -> None:
        self.calendar = calendar or WorkingCalendar()
        self.begins: list[float] = []
        self.ends: list[float] = []
        self.before: list[float] = []  # working seconds before each interval
        self.closes: dict[date, float] = {}  # close of business of each working day
        self.working_days: list[date] = []
        total = 0.0
        day = first
        while day <= last:
            if self.calendar.is_working_day(day):
                self.working_days.append(day)
                for opens, shuts in self.calendar.windows:
                    begin = datetime.combine(day, opens, SHANGHAI).timestamp()
                    end = datetime.combine(day, shuts, SHANGHAI).timestamp()
                    self.begins.append(begin)
                    self.ends.append(end)
                    self.before.append(total)
                    total += end - begin
                self.closes[day] = datetime.combine(day, self.calendar.windows[-1][1], SHANGHAI).timestamp()
            day += timedelta(days=1)
        self.day_seconds = self.calendar.working_day_length.total_seconds()
        self._index = {d: n for n, d in enumerate(self.working_days)}

    # --- working seconds on a line ---------------------------------------------------------------
    def worked(self, t: float) -> float:
        """Working seconds from the table's start to ``t``."""
        i = bisect_right(self.begins, t) - 1
        if i < 0:
            return 0.0
        return self.before[i] + min(t, self.ends[i]) - self.begins[i]

    def instant(self, w: float) -> float:
        """The first instant by which ``w`` working seconds have passed (a window's end, not the
        next opening, when it falls exactly there)."""
        i = bisect_right(self.before, w) - 1
        if i > 0 and self.before[i] == w:
            return self.ends[i - 1]
        return self.begins[i] + (w - self.before[i])

    def add(self, t: float, seconds: float) -> float:
        return self.instant(self.worked(t) + seconds)

    def between(self, start: float, end: float) -> float:
        return max(0.0, self.worked(end) - self.worked(start)) if end > start else 0.0

    # --- the notifier's deadline rules -------------------------------------------------------------
    def add_working_days(self, t: float, days: int) -> float:
        """Close of business of the Nth working day after ``t``'s local date (workcal's rule)."""
        local = datetime.fromtimestamp(t, SHANGHAI).date()
        i = bisect_right(self.working_days, local)  # the first working day after it
        return self.closes[self.working_days[i + days - 1]]

    def due(self, t: float, amount: int, unit: str) -> float:
        if unit == "working_days":
            return self.add_working_days(t, amount)
        if unit == "working_hours":
            return self.add(t, amount * 3600)
        return t + amount * 60  # minutes: calendar time

    def is_business_time(self, t: float) -> bool:
        i = bisect_right(self.begins, t) - 1
        return i >= 0 and t < self.ends[i]

    def next_business_instant(self, t: float) -> float:
        if self.is_business_time(t):
            return t
        return self.begins[bisect_right(self.begins, t)]

    def next_morning(self, t: float) -> float:
        """The next working day's opening (the notifier's 回访 time)."""
        local = datetime.fromtimestamp(t, SHANGHAI).date()
        day = self.working_days[bisect_right(self.working_days, local)]
        return datetime.combine(day, self.calendar.windows[0][0], SHANGHAI).timestamp()


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
