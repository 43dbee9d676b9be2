"""Chinese working time: working days (Monday–Friday, minus official holidays, plus 调休 make-up
days), business hours, and the deadline arithmetic of SLA clocks.

Holidays and make-up days come from ``chinese-calendar`` (2004–2026), overridden by schedules an
operator loads. For a year with neither, the calendar falls back to weekends plus the fixed-date
holidays (01-01, 05-01, 10-01..03), remembers that it did, and never raises.

Every computation happens in Asia/Shanghai whatever the machine's time zone; instants come in
and go out as aware datetimes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import structlog

from shared.clock import SHANGHAI

FIXED_DATE_HOLIDAYS = {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}
DEFAULT_WINDOWS = ((time(9), time(12)), (time(13), time(18)))
# How many sums of working time a calendar remembers, the most recently used (``__post_init__``).
SUMS_REMEMBERED = 4096

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: holidays and make-up working days (调休)."""

    holidays: frozenset[date]
    workdays: frozenset[date]


def parse_windows(specs: list[str]) -> tuple[tuple[time, time], ...]:
    """["09:00-12:00", "13:00-18:00"] → ((09:00, 12:00), (13:00, 18:00))."""
    windows = []
    for spec in specs:
        start, _, end = spec.partition("-")
        windows.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
    return tuple(windows)


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("naive datetime: give instants with a time zone")
    return t


@dataclass
class WorkingCalendar:
    windows: tuple[tuple[time, time], ...] = DEFAULT_WINDOWS
    schedules: dict[int, YearSchedule] = field(default_factory=dict)  # replaced whole, never edited in place
    fallback_years: set[int] = field(default_factory=set)  # years answered without a schedule
    loaded_version: tuple | None = None  # which operator-loaded schedules it holds (calendar.refresh)
    # Each day's answer, for the schedules it was computed with: deadline arithmetic asks about
    # the same few dozen days thousands of times, and chinese-calendar validates every date it
    # is asked (most of the notifier's CPU before this cache).
    _days: dict[date, bool] = field(default_factory=dict, init=False, repr=False, compare=False)
    _days_for: object = field(default=None, init=False, repr=False, compare=False)
    # Each day's business hours as instants, for the same schedules: a new item's deadlines and
    # timers walk the same days' windows seven times (combining a date and a time in a time zone
    # was most of that walk).
    _hours: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def working_day_length(self) -> timedelta:
        """Business time in one working day (8 h by default): the unit of "N working days late"."""
        return sum(
            (datetime.combine(date.min, end) - datetime.combine(date.min, start) for start, end in self.windows),
            timedelta(0),
        )

    def __post_init__(self) -> None:
        if not self.windows or any(start >= end for start, end in self.windows):
            raise ValueError("business hours need at least one window, each starting before it ends")
        if any(a[1] > b[0] for a, b in zip(self.windows, self.windows[1:], strict=False)):
            raise ValueError("business-hour windows must be in order and must not overlap")
        # Sums of working time already worked out, for the same schedules (forgotten with the
        # days): a request's items are dispatched at one instant, mostly under one policy, so its
        # eight items ask for the same timers (seven walks an item).
        self._add_remembered = functools.lru_cache(maxsize=SUMS_REMEMBERED)(self._add_working_time)
        self._between_remembered = functools.lru_cache(maxsize=SUMS_REMEMBERED)(self._working_time_between)

    # --- days --------------------------------------------------------------------------------
    def schedule_source(self, year: int) -> str:
        if year in self.schedules:
            return "loaded"
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
            return "chinese_calendar"
        except NotImplementedError:
            return "fallback"

    def is_working_day(self, day: date) -> bool:
        self._forget_if_reloaded()
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._working_day(day)
        return known

    def _forget_if_reloaded(self) -> None:
        if self._days_for is not self.schedules:  # new schedules loaded (calendar.load_schedules)
            self._days, self._hours, self._days_for = {}, {}, self.schedules
            self._add_remembered.cache_clear()
            self._between_remembered.cache_clear()

    def _working_day(self, day: date) -> bool:
        schedule = self.schedules.get(day.year)
        if schedule is not None:
            if day in schedule.workdays:
                return True
            return day.weekday() < 5 and day not in schedule.holidays
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if day.year not in self.fallback_years:
                self.fallback_years.add(day.year)
                log.warning(
                    "calendar.fallback",
                    year=day.year,
                    detail="no official schedule loaded: weekends and fixed-date holidays only",
                )
            return day.weekday() < 5 and (day.month, day.day) not in FIXED_DATE_HOLIDAYS

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def close_of(self, day: date) -> datetime:
        return datetime.combine(day, self.windows[-1][1], SHANGHAI).astimezone(UTC)

    # --- deadline rules ------------------------------------------------------------------------
    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Close of business of the Nth working day after ``start``'s local date."""
        if days < 1:
            raise ValueError("working days must be at least 1")
        day = _aware(start).astimezone(SHANGHAI).date()
        for _ in range(days):
            day = self.next_working_day(day)
        return self.close_of(day)

    def extend(self, due: datetime, days: int) -> datetime:
        """An extension of E working days: close of the Eth working day after the old due date."""
        return self.add_working_days(due, days)

    def add_minutes(self, start: datetime, minutes: float) -> datetime:
        """Calendar time (emergencies): every minute of every day counts."""
        return (_aware(start) + timedelta(minutes=minutes)).astimezone(UTC)

    def _intervals_from(self, start: datetime):
        """Business-hour intervals (local, aware) from ``start`` onwards, clipped to start."""
        local = _aware(start).astimezone(SHANGHAI)
        day = local.date()
        while True:
            for begin, end in self._business_hours(day):
                if end > local:
                    yield max(begin, local), end
            day += timedelta(days=1)

    def _business_hours(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's windows as local instants; none on a day off."""
        working = self.is_working_day(day)  # first: it forgets every day when schedules change
        hours = self._hours.get(day)
        if hours is None:
            windows = self.windows if working else ()
            hours = self._hours[day] = tuple(
                (datetime.combine(day, opens, SHANGHAI), datetime.combine(day, closes, SHANGHAI))
                for opens, closes in windows
            )
        return hours

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The first instant at which ``amount`` of business time has passed since ``start``.
        Outside business hours counting starts at the next opening; a deadline falling exactly
        on a window's end is that end, not the next opening."""
        if amount <= timedelta(0):
            raise ValueError("working time must be positive")
        self._forget_if_reloaded()
        return self._add_remembered(start, amount)

    def _add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        remaining = amount
        for begin, end in self._intervals_from(start):
            if end - begin >= remaining:
                return (begin + remaining).astimezone(UTC)
            remaining -= end - begin
        raise AssertionError("unreachable: the calendar has no end")

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        return self.add_working_time(start, timedelta(hours=hours))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time inside [start, end); zero when end is not after start."""
        if end <= start:
            return timedelta(0)
        self._forget_if_reloaded()
        return self._between_remembered(start, end)

    def _working_time_between(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        local_end = _aware(end).astimezone(SHANGHAI)
        for begin, close in self._intervals_from(start):
            if begin >= local_end:
                break
            total += min(close, local_end) - begin
        return total

    def is_business_time(self, instant: datetime) -> bool:
        local = _aware(instant).astimezone(SHANGHAI)
        if not self.is_working_day(local.date()):
            return False
        return any(opens <= local.time() < closes for opens, closes in self.windows)

    def next_business_instant(self, instant: datetime) -> datetime:
        """``instant`` itself inside business hours, else the next opening."""
        begin, _ = next(self._intervals_from(instant))
        return begin.astimezone(UTC)
