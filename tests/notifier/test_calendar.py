"""The working-day rules, pinned on dates around the 2025 National Day holiday, the 2026 Spring
Festival and its make-up Saturdays, lunch breaks, and a year with no published schedule."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from services.notifier.workcal import WorkingCalendar, YearSchedule
from shared.clock import SHANGHAI
from tests.support import first_year_without_official_schedule

ROOT = Path(__file__).resolve().parents[2]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def local(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).isoformat()


@pytest.fixture
def calendar():
    return WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2025-09-28", True),  # a Sunday, make-up working day for National Day
        ("2025-10-01", False),
        ("2025-10-08", False),  # a Wednesday inside the holiday
        ("2025-10-11", True),  # a Saturday, make-up working day
        ("2026-01-04", True),  # a Sunday, make-up working day for New Year
        ("2026-02-14", True),  # a Saturday, make-up working day for the Spring Festival
        ("2026-02-16", False),  # a Monday inside the Spring Festival
        ("2026-02-28", True),  # a Saturday, make-up working day
        ("2026-03-01", False),  # an ordinary Sunday
    ],
)
def test_working_days_include_make_up_days_and_exclude_holidays(calendar, day, working):
    assert calendar.is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # National Day: the days after 09-30 are 10-09, 10-10, 10-11 (Sat, make-up), 10-13, 10-14.
        ("2025-09-30T16:00:00+08:00", 5, "2025-10-14T18:00:00+08:00"),
        ("2025-09-30T23:30:00+08:00", 1, "2025-10-09T18:00:00+08:00"),
        # 2026-02-13 is a Friday; 02-14 a make-up Saturday; then the festival until 02-23.
        ("2026-02-13T10:00:00+08:00", 1, "2026-02-14T18:00:00+08:00"),
        ("2026-02-13T10:00:00+08:00", 2, "2026-02-24T18:00:00+08:00"),
        # A UTC instant late on the 12th is already the 13th in Shanghai.
        ("2026-02-12T20:00:00+00:00", 1, "2026-02-14T18:00:00+08:00"),
    ],
)
def test_n_working_days_end_at_close_of_business_of_the_nth_working_day(calendar, start, days, due):
    assert local(calendar.add_working_days(at(start), days)) == due


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        ("2025-11-03T11:30:00+08:00", 1, "2025-11-03T13:30:00+08:00"),  # across the lunch break
        ("2025-11-03T09:00:00+08:00", 3, "2025-11-03T12:00:00+08:00"),  # exactly a window's end
        ("2025-11-03T07:00:00+08:00", 1, "2025-11-03T10:00:00+08:00"),  # counted from the opening
        ("2025-11-03T12:30:00+08:00", 2, "2025-11-03T15:00:00+08:00"),  # starts inside lunch
        ("2025-11-08T10:00:00+08:00", 1, "2025-11-10T10:00:00+08:00"),  # a Saturday
        ("2025-09-30T16:00:00+08:00", 3, "2025-10-09T10:00:00+08:00"),  # into National Day
        ("2026-02-13T17:00:00+08:00", 2, "2026-02-14T10:00:00+08:00"),  # onto a make-up Saturday
        ("2025-11-03T17:00:00+08:00", 1, "2025-11-03T18:00:00+08:00"),  # the day's last hour
    ],
)
def test_working_hours(calendar, start, hours, due):
    assert local(calendar.add_working_hours(at(start), hours)) == due


def test_calendar_minutes_count_every_minute(calendar):
    assert local(calendar.add_minutes(at("2025-10-01T23:50:00+08:00"), 30)) == "2025-10-02T00:20:00+08:00"


def test_pause_over_the_national_day_keeps_the_working_time_left(calendar):
    due = at("2025-09-30T18:00:00+08:00")
    paused = at("2025-09-29T10:00:00+08:00")  # the make-up Sunday was the 28th; the 29th is Monday
    left = calendar.working_time_between(paused, due)
    assert left == timedelta(hours=15)  # 29th: 10–12, 13–18 (7 h); 30th: 8 h
    resumed = at("2025-10-09T09:00:00+08:00")
    assert local(calendar.add_working_time(resumed, left)) == "2025-10-10T17:00:00+08:00"


def test_extension_counts_from_the_old_due_date(calendar):
    old_due = at("2025-09-30T18:00:00+08:00")
    assert local(calendar.extend(old_due, 2)) == "2025-10-10T18:00:00+08:00"


UNSCHEDULED = first_year_without_official_schedule()


def close_of_day(day: date) -> str:
    return datetime(day.year, day.month, day.day, 18, tzinfo=SHANGHAI).isoformat()


def test_a_deadline_crossing_into_a_year_without_a_schedule_falls_back_and_says_so(calendar):
    start = datetime(UNSCHEDULED - 1, 12, 31, 10, tzinfo=SHANGHAI)
    # The fallback: Monday to Friday, minus the fixed-date holidays (01-01 among them).
    fallback_days = [
        d
        for d in (date(UNSCHEDULED, 1, 1) + timedelta(days=n) for n in range(14))
        if d.weekday() < 5 and (d.month, d.day) != (1, 1)
    ]
    assert local(calendar.add_working_days(start, 3)) == close_of_day(fallback_days[2])
    assert calendar.fallback_years == {UNSCHEDULED}
    assert calendar.schedule_source(UNSCHEDULED) == "fallback"


def test_a_loaded_schedule_overrides_the_fallback(calendar):
    first_week = [date(UNSCHEDULED, 1, 1) + timedelta(days=n) for n in range(7)]
    saturday = next(d for d in first_week if d.weekday() == 5)
    weekdays = [d for d in first_week if d.weekday() < 5]
    # Every weekday of the first week but the last is a holiday; its Saturday is a make-up day.
    schedule = YearSchedule(holidays=frozenset(weekdays[:-1]), workdays=frozenset({saturday}))
    calendar.schedules = {**calendar.schedules, UNSCHEDULED: schedule}  # replaced whole, as loading does
    due = calendar.add_working_days(datetime(UNSCHEDULED - 1, 12, 31, 10, tzinfo=SHANGHAI), 2)
    assert local(due) == close_of_day(max(saturday, weekdays[-1]))
    assert calendar.schedule_source(UNSCHEDULED) == "loaded" and UNSCHEDULED not in calendar.fallback_years


def test_a_sum_worked_out_before_a_schedule_was_loaded_is_worked_out_again(calendar):
    # The calendar remembers sums of working time (a request's items ask for the same ones);
    # loading a schedule must not leave a deadline counted by the old days.
    first_week = [date(UNSCHEDULED, 1, 1) + timedelta(days=n) for n in range(7)]
    first_weekday = next(d for d in first_week if d.weekday() < 5 and (d.month, d.day) != (1, 1))
    start = datetime.combine(first_weekday, datetime.min.time(), SHANGHAI).replace(hour=10)
    before = calendar.add_working_hours(start, 2)
    assert local(before) == start.replace(hour=12).isoformat()
    assert calendar.add_working_hours(start, 2) == before  # the same answer, remembered
    assert calendar.working_time_between(start, before) == timedelta(hours=2)
    calendar.schedules = {
        **calendar.schedules,
        UNSCHEDULED: YearSchedule(holidays=frozenset({first_weekday}), workdays=frozenset()),
    }
    after = calendar.add_working_hours(start, 2)
    assert after.astimezone(SHANGHAI).date() > first_weekday, "the day is a holiday now"
    assert calendar.working_time_between(start, before) == timedelta(0)


def test_several_windows_are_settings():
    from services.notifier.workcal import parse_windows

    short = WorkingCalendar(windows=parse_windows(["08:30-12:00", "14:30-17:30"]))
    assert short.working_day_length == timedelta(hours=6, minutes=30)
    assert local(short.add_working_hours(at("2025-11-03T11:00:00+08:00"), 2)) == "2025-11-03T15:30:00+08:00"
    with pytest.raises(ValueError):
        WorkingCalendar(windows=parse_windows(["13:00-18:00", "09:00-14:00"]))


def test_naive_datetimes_are_refused(calendar):
    with pytest.raises(ValueError, match="naive"):
        calendar.add_working_days(datetime(2025, 10, 9, 9), 1)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Tokyo"])
@pytest.mark.parametrize(
    ("flag", "amount", "expected"),
    [
        ("--working-days", "5", "2025-10-14T18:00:00+08:00"),
        ("--working-hours", "3", "2025-10-09T10:00:00+08:00"),
        ("--minutes", "30", "2025-09-30T16:30:00+08:00"),
    ],
)
def test_sla_due_command_is_the_same_in_any_machine_time_zone(tz, flag, amount, expected, tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path}/notifier.db"  # empty: no loaded schedules to read
    out = subprocess.run(
        [sys.executable, "-m", "cli", "sla", "due", "--from", "2025-09-30T16:00:00+08:00", flag, amount],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "TZ": tz, "XIAOER_NOTIFIER_DATABASE_URL": database},
    )
    assert out.stdout.strip() == expected
