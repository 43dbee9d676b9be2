"""A supervisor's 督办单 to a unit (issue 29, 12345 督办 practice): a note and the last day for the
unit's answer. Only a supervisor (or admin) over the unit's region sends one; only that unit's clerks
read and answer it, once. The unit is told on the notifier's usual channels (kind
``unit_supervision``), the supervisors of its region when it answers (``supervision_answered``).

The notifier owns it, not the router: it already keeps the units' regions (``known_units``), their
recipients, the escalation 督办 timers and the units' figures; a 督办单 is about a unit, not one
work item, and moves no item."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.clock import SHANGHAI
from shared.problems import Problem
from shared.vocabulary import SUPERVISION_STATES, SUPERVISION_TIMELINESS

from .models import KnownUnit, UnitSupervision

KIND = "unit_supervision"  # notification kinds (shared.vocabulary.TIMER_KINDS names them)
ANSWERED_KIND = "supervision_answered"


def not_found() -> Problem:
    return Problem(404, "supervision_not_found", "督办单不存在", "No such supervision order")


def day_end(day: date) -> datetime:
    """The first instant after ``day`` in Asia/Shanghai: an answer before it is in time."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI).astimezone(UTC)


async def supervised_unit(session: AsyncSession, principal: Principal, unit_code: str) -> KnownUnit:
    """The unit, if it lies in the caller's region (404 otherwise: nothing of another region's units)."""
    unit = await session.get(KnownUnit, unit_code)
    if unit is None or not unit.active or not principal.covers_region(unit.region_code):
        raise Problem(404, "unit_not_found", "单位不存在或不在您的督办范围内", "No such unit in your region")
    return unit


def may_read(principal: Principal, order: UnitSupervision) -> bool:
    if principal.role == "department":
        return principal.unit == order.unit_code
    return principal.role in ("supervisor", "admin") and principal.covers_region(order.region_code)


def visible(principal: Principal) -> ColumnElement[bool]:
    """``may_read`` in SQL, for lists."""
    if principal.role == "department":
        return UnitSupervision.unit_code == (principal.unit or "")
    return principal.region_clause(UnitSupervision.region_code)


def timeliness(order: UnitSupervision, now: datetime) -> str:
    if order.answered_at is not None:
        return "on_time" if order.answered_at < order.due_at else "late"
    return "overdue" if now >= order.due_at else "pending"


def out(order: UnitSupervision, now: datetime, notified: int | None = None) -> dict:
    state = "answered" if order.answered_at is not None else "open"
    timely = timeliness(order, now)
    return {
        "id": order.id,
        "unit_code": order.unit_code,
        "unit_name": order.unit_name,
        "region_code": order.region_code,
        "note": order.note,
        "due_on": order.due_on,
        "due_at": order.due_at,
        "created_at": order.created_at,
        "created_by_name": order.created_by_name,
        "state": state,
        "state_name": SUPERVISION_STATES.zh(state),
        "timeliness": timely,
        "timeliness_name": SUPERVISION_TIMELINESS.zh(timely),
        "answer": order.answer,
        "answered_at": order.answered_at,
        "answered_by_name": order.answered_by_name,
        "notified": notified,
    }


def order_messages(order: UnitSupervision) -> list[tuple[str, str, str]]:
    """The unit's clerks and its leadership are told what to answer and by when."""
    due = order.due_on.isoformat()
    body = f"督办单：{order.note}（请于 {due} 前在工作台答复）"
    told = f"{order.unit_name}收到督办单：{order.note}（{due} 前答复）"
    return [("unit", "督办单", body), ("leadership", "督办单", told)]


def answer_messages(order: UnitSupervision, on_time: bool) -> list[tuple[str, str, str]]:
    when = "按时" if on_time else "逾期"
    return [("supervisor", "督办答复", f"{order.unit_name}{when}答复了督办单（{order.note[:40]}）：{order.answer}")]
