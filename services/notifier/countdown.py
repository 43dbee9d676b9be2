"""One clock for everyone: what an item's SLA record means at an instant, in the words every page
shows — which deadline counts (签收 until someone signs, then 办结), how much working time is left
or overdue (in working days, in hours under one day; in calendar time for a policy counted in
minutes), whether the clock is paused (补正), and a tone (ok · soon · late).

This is the only place that turns an SLA record into what people read: the notifier's answers
carry it (``/v1/sla/{id}``, ``/v1/overdue``, ``/v1/countdowns`` for the items a page shows), and
no page computes working days itself. "Overdue" agrees with ``SlaRecord.is_overdue``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.vocabulary import OPEN_STATES, WORK_ITEM_STATES

from .models import SlaRecord
from .workcal import WorkingCalendar

Tone = Literal["ok", "soon", "late"]
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
VERB = {"acknowledge": ("签收", "acknowledge"), "resolve": ("办结", "resolve")}
NOUN = {"acknowledge": ("签收", "Acknowledgement"), "resolve": ("办结", "Resolution")}


@dataclass(frozen=True)
class Countdown:
    deadline: Literal["acknowledge", "resolve"] | None  # None: the item is finished
    due_at: datetime | None
    paused: bool
    finished: bool
    overdue: bool
    working_days: int  # whole working days left (or overdue); 0 under one day
    working_hours: float  # the working time left (or overdue) in hours; calendar hours for a minutes policy
    tone: Tone
    zh: str
    en: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Amount:
    """A stretch of time as people read it: whole days, or hours under one day, or minutes."""

    zh: str
    en: str
    days: int


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def amount(span: timedelta, day: timedelta, calendar_time: bool) -> Amount:
    """``span`` in working days (``day`` long) and, under one day, hours; a calendar-time policy
    (emergencies) reads in days, hours or minutes of the clock."""
    unit_zh, unit_en = ("天", "day") if calendar_time else ("个工作日", "working day")
    if span >= day:
        days = span // day
        return Amount(f"{days} {unit_zh}", _plural(days, unit_en), days)
    if span >= HOUR:
        hours = span // HOUR
        return Amount(f"{hours} 小时", _plural(hours, "hour"), 0)
    if calendar_time and span >= MINUTE:
        minutes = span // MINUTE
        return Amount(f"{minutes} 分钟", _plural(minutes, "minute"), 0)
    if calendar_time:
        return Amount("不足 1 分钟", "under 1 minute", 0)
    return Amount("不足 1 小时", "under 1 hour", 0)


def _then(words: str, shown: Amount) -> str:
    """Chinese words and an amount: a space before a number (签收剩余 4 小时), none before 不足."""
    return f"{words} {shown.zh}" if shown.zh[0].isdigit() else f"{words}{shown.zh}"


def _finished(record: SlaRecord) -> Countdown:
    state = WORK_ITEM_STATES.get(record.state)
    zh, en = (state.zh, state.en) if state else (record.state, record.state)
    if record.state in ("resolved", "closed") and record.resolved_on_time is not None:
        zh, en = ("按时办结", "Resolved on time") if record.resolved_on_time else ("超期办结", "Resolved late")
    return Countdown(None, None, False, True, False, 0, 0.0, "ok", zh, en)


def countdown(record: SlaRecord, now: datetime, calendar: WorkingCalendar) -> Countdown:
    """What ``record`` means at ``now``: the one function every reader's answer comes from."""
    if record.state not in OPEN_STATES:
        return _finished(record)
    day = calendar.working_day_length
    if record.paused_at is not None:
        left = timedelta(seconds=record.remaining_seconds or 0)
        shown = amount(left, day, record.policy.get("resolve_unit") == "minutes")
        return Countdown(
            "resolve",
            None,
            True,
            False,
            False,
            shown.days,
            round(left / HOUR, 2),
            "ok",
            _then("暂停计时（待补正），办结剩余", shown),
            f"Paused (awaiting supplement): {shown.en} left to resolve",
        )
    deadline = "acknowledge" if record.acknowledged_at is None else "resolve"
    due = record.acknowledge_due_at if deadline == "acknowledge" else record.resolve_due_at
    if due is None:
        return Countdown(deadline, None, False, False, False, 0, 0.0, "ok", "暂无时限", "No deadline")
    calendar_time = record.policy.get(f"{deadline}_unit") == "minutes"
    overdue = due < now
    start, end = (due, now) if overdue else (now, due)
    span = end - start if calendar_time else calendar.working_time_between(start, end)
    shown = amount(span, day, calendar_time)
    verb_zh, verb_en = VERB[deadline]
    noun_zh, noun_en = NOUN[deadline]
    if overdue:
        zh = f"{noun_zh}已超期" if span < HOUR else _then(f"{noun_zh}超期", shown)
        en = f"{noun_en} overdue" if span < HOUR else f"{noun_en} overdue by {shown.en}"
        tone: Tone = "late"
    else:
        zh, en = _then(f"{verb_zh}剩余", shown), f"{shown.en} left to {verb_en}"
        tone = "soon" if span < (HOUR if calendar_time else day) else "ok"
    return Countdown(deadline, due, False, False, overdue, shown.days, round(span / HOUR, 2), tone, zh, en)
