"""The enterprise's 催办 (issue 29): an enterprise, or its liaison officer, chases its own item when
the deadline that counts now (签收, then 办结) has passed or 80 % of it has elapsed — at most once
per item per Chinese working day. A 催办 pressed on a rest day counts for the next working day (the
day the unit reads it), so a weekend cannot chase an item three times before Monday.

The unit and the supervisors of its region are told through the notifier's own notifications (the
notification log shows them, the ``topic`` channel publishes them), and the unit that held the item
then counts it as 被催办次数 (stats.py). Whether an item may be chased now, and when next, is
``state_of``: the endpoint refuses with it and every page shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import SHANGHAI
from shared.problems import FieldError, Problem
from shared.vocabulary import OPEN_STATES, ROLES

from .countdown import countdown
from .models import SlaRecord, Urging
from .workcal import WorkingCalendar

KIND = "enterprise_urge"  # the notification kind (shared.vocabulary.TIMER_KINDS names it)
THRESHOLD = 0.8  # the share of the current deadline that must have elapsed


@dataclass(frozen=True)
class UrgeState:
    allowed: bool
    reason: str | None  # None when allowed: finished | paused | too_early | already_today
    next_allowed_at: datetime | None  # when it may be chased (None: not while finished or paused)
    last_urged_at: datetime | None
    count: int

    def as_dict(self) -> dict:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "next_allowed_at": self.next_allowed_at,
            "last_urged_at": self.last_urged_at,
            "count": self.count,
        }


def counted_day(calendar: WorkingCalendar, now: datetime) -> date:
    """The working day a 催办 at ``now`` counts for: today if it is one, else the next."""
    today = now.astimezone(SHANGHAI).date()
    return today if calendar.is_working_day(today) else calendar.next_working_day(today)


def day_after(calendar: WorkingCalendar, day: date) -> datetime:
    """The first instant of the working day after ``day`` (Asia/Shanghai)."""
    return datetime.combine(calendar.next_working_day(day), datetime.min.time(), SHANGHAI).astimezone(UTC)


def eligible_from(record: SlaRecord, calendar: WorkingCalendar) -> datetime | None:
    """The instant 80 % of the deadline that counts now has elapsed (working time; plain time for a
    policy in calendar minutes), measured from where that clock started."""
    signing = record.acknowledged_at is None
    due = record.acknowledge_due_at if signing else record.resolve_due_at
    if due is None:
        return None
    start = record.dispatched_at if signing else (record.resolve_started_at or record.dispatched_at)
    if record.policy.get("acknowledge_unit" if signing else "resolve_unit") == "minutes":
        return start + (due - start) * THRESHOLD
    total = calendar.working_time_between(start, due)
    return calendar.add_working_time(start, total * THRESHOLD) if total else due


def state_of(
    record: SlaRecord, urged: list[datetime], latest_day: date | None, now: datetime, calendar: WorkingCalendar
) -> UrgeState:
    """Whether ``record`` may be chased at ``now``, given its past 催办 (their instants, and the
    working day the latest counted for)."""
    last = max(urged) if urged else None

    def refused(reason: str, at: datetime | None) -> UrgeState:
        return UrgeState(False, reason, at, last, len(urged))

    if record.state not in OPEN_STATES:
        return refused("finished", None)
    if record.paused_at is not None:
        return refused("paused", None)
    if latest_day is not None and latest_day >= counted_day(calendar, now):
        return refused("already_today", day_after(calendar, latest_day))
    shown = countdown(record, now, calendar)
    start = eligible_from(record, calendar)
    if not shown.overdue and start is not None and start > now:
        return refused("too_early", start)
    return UrgeState(True, None, None, last, len(urged))


async def states_for(
    session: AsyncSession, records: list[SlaRecord], now: datetime, calendar: WorkingCalendar
) -> dict[str, UrgeState]:
    """``state_of`` for each of ``records``, with one query for their past 催办."""
    ids = [r.work_item_id for r in records]
    past: dict[str, list[tuple[datetime, date]]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(Urging.work_item_id, Urging.urged_at, Urging.working_day).where(Urging.work_item_id.in_(ids))
        )
        for work_item_id, urged_at, day in rows:
            past[work_item_id].append((urged_at, day))
    return {
        r.work_item_id: state_of(
            r,
            [at for at, _ in past[r.work_item_id]],
            max((day for _, day in past[r.work_item_id]), default=None),
            now,
            calendar,
        )
        for r in records
    }


async def counts_by_holder(session: AsyncSession, work_items: list[str] | Select) -> dict[tuple[str, str], int]:
    """被催办次数 per (item, unit that held it when chased), for the statistics. ``work_items``:
    the items' ids, or a query of them (one statement however many: the statistics' live records
    are tens of thousands on a province's year)."""
    counts: dict[tuple[str, str], int] = {}
    if isinstance(work_items, Select):
        chunks: list = [work_items]
    else:  # IN lists of a bounded size
        chunks = [work_items[start : start + 500] for start in range(0, len(work_items), 500)]
    for chunk in chunks:
        rows = await session.execute(
            select(Urging.work_item_id, Urging.unit_code, func.count())
            .where(Urging.work_item_id.in_(chunk))
            .group_by(Urging.work_item_id, Urging.unit_code)
        )
        counts.update({(item, unit): n for item, unit, n in rows})
    return counts


def _shown(instant: datetime | None) -> tuple[str, str]:
    if instant is None:
        return "", ""
    local = instant.astimezone(SHANGHAI)
    return local.strftime("%m月%d日 %H:%M"), local.strftime("%Y-%m-%d %H:%M (Beijing time)")


def refusal(state: UrgeState) -> Problem:
    """409, in both languages, saying when the item may be chased next (where that is known)."""
    at_zh, at_en = _shown(state.next_allowed_at)
    zh, en = {
        "finished": ("该事项已办结或已结束，无需催办", "This item is finished; there is nothing to chase"),
        "paused": (
            "计时已暂停（待补正），补正后方可催办",
            "The clock is paused awaiting your supplement; chase once you have supplied it",
        ),
        "too_early": (
            f"尚未超期，也未用去 80% 时限，{at_zh} 起可催办",
            f"Neither overdue nor 80 % of the deadline elapsed; you may chase from {at_en}",
        ),
        "already_today": (
            f"本工作日已催办过该事项，下次可催办时间：{at_zh}",
            f"Already chased this working day; next allowed at {at_en}",
        ),
    }[state.reason or "finished"]
    return Problem(
        409,
        f"urge_{state.reason}",
        zh,
        en,
        errors=[FieldError("work_item_id", f"urge_{state.reason}", zh, en)],
        extra={"next_allowed_at": state.next_allowed_at.isoformat() if state.next_allowed_at else None},
    )


def messages(record: SlaRecord, role: str, now: datetime, calendar: WorkingCalendar) -> list[tuple[str, str, str]]:
    """(audience, title, body): the unit is asked to act, its region's supervisors are told."""
    item = f"{record.reference_no}（{record.subject_name}）"
    clock = countdown(record, now, calendar).zh
    who = ROLES.zh(role)
    return [
        ("unit", "企业催办", f"{who}催办工单 {item}：{clock}，请尽快办理并与企业联系"),
        ("supervisor", "企业催办", f"{who}催办{record.unit_name}的工单 {item}：{clock}"),
    ]
