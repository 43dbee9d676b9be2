"""Row 6 of issue 25: one function turns an SLA record into what people read. Pinned instants of
November 2025 (a week with no holiday), business hours 09:00–12:00 and 13:00–18:00."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.notifier.countdown import countdown
from services.notifier.models import SlaRecord
from services.notifier.workcal import WorkingCalendar

CALENDAR = WorkingCalendar()
DAYS = {
    "acknowledge_amount": 1,
    "acknowledge_unit": "working_days",
    "resolve_amount": 5,
    "resolve_unit": "working_days",
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2025-11-{text}+08:00")


def record(**fields) -> SlaRecord:
    base = dict(
        state="dispatched",
        dispatched_at=at("03T10:00"),  # a Monday
        acknowledge_due_at=at("04T18:00"),
        acknowledged_at=None,
        resolve_due_at=at("10T18:00"),
        paused_at=None,
        remaining_seconds=None,
        resolved_on_time=None,
        policy=DAYS,
    )
    return SlaRecord(**{**base, **fields})


@pytest.mark.parametrize(
    ("now", "fields", "zh", "en", "tone"),
    [
        ("03T11:00", {}, "签收剩余 1 个工作日", "1 working day left to acknowledge", "ok"),
        ("04T14:00", {}, "签收剩余 4 小时", "4 hours left to acknowledge", "soon"),
        ("04T17:30", {}, "签收剩余不足 1 小时", "under 1 hour left to acknowledge", "soon"),
        ("06T10:00", {}, "签收超期 1 个工作日", "Acknowledgement overdue by 1 working day", "late"),
        ("05T09:30", {}, "签收已超期", "Acknowledgement overdue", "late"),
        (
            "08T10:00",
            {"acknowledged_at": at("04T10:00"), "state": "in_progress"},
            "办结剩余 1 个工作日",
            "1 working day left to resolve",
            "ok",
        ),
        (
            "12T12:00",
            {"acknowledged_at": at("04T10:00"), "state": "in_progress"},
            "办结超期 1 个工作日",
            "Resolution overdue by 1 working day",
            "late",
        ),
        (
            "12T12:00",
            {
                "acknowledged_at": at("04T10:00"),
                "state": "awaiting_supplement",
                "paused_at": at("06T15:00"),
                "remaining_seconds": 19 * 3600,
            },
            "暂停计时（待补正），办结剩余 2 个工作日",
            "Paused (awaiting supplement): 2 working days left to resolve",
            "ok",
        ),
        ("12T12:00", {"state": "resolved", "resolved_on_time": True}, "按时办结", "Resolved on time", "ok"),
        ("12T12:00", {"state": "closed", "resolved_on_time": False}, "超期办结", "Resolved late", "ok"),
        ("12T12:00", {"state": "cancelled"}, "已撤销", "Cancelled", "ok"),
    ],
)
def test_what_a_record_means_at_an_instant(now, fields, zh, en, tone):
    shown = countdown(record(**fields), at(now), CALENDAR)
    assert (shown.zh, shown.en, shown.tone) == (zh, en, tone)


def test_an_emergency_counts_calendar_minutes():
    emergency = {
        "acknowledge_amount": 30,
        "acknowledge_unit": "minutes",
        "resolve_amount": 4,
        "resolve_unit": "minutes",
    }
    item = record(policy=emergency, dispatched_at=at("08T22:00"), acknowledge_due_at=at("08T22:30"))
    assert countdown(item, at("08T22:10"), CALENDAR).zh == "签收剩余 20 分钟"  # a Saturday night counts
    late = countdown(item, at("08T23:45"), CALENDAR)
    assert (late.zh, late.tone, late.overdue) == ("签收超期 1 小时", "late", True)


def test_overdue_agrees_with_the_records_own_rule_at_every_hour_of_two_weeks():
    signed = record(acknowledged_at=at("04T10:00"), state="in_progress")
    for item in (record(), signed, record(state="awaiting_supplement", paused_at=at("05T10:00"), remaining_seconds=1)):
        now = at("03T00:00")
        while now < at("17T00:00"):
            assert countdown(item, now, CALENDAR).overdue == item.is_overdue(now), now
            now += timedelta(minutes=37)


def test_the_working_days_and_hours_add_up():
    shown = countdown(record(), at("03T11:00"), CALENDAR)
    assert (shown.deadline, shown.working_days, shown.working_hours) == ("acknowledge", 1, 14.0)
    assert shown.due_at == at("04T18:00")
