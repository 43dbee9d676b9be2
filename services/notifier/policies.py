"""SLA policies: the defaults from practice (DOMAIN.md), and computing a work item's deadlines."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import regions

from .models import SlaPolicy
from .workcal import WorkingCalendar

TimeUnit = Literal["working_days", "working_hours", "minutes"]


@dataclass(frozen=True)
class Limits:
    acknowledge_amount: int
    acknowledge_unit: TimeUnit
    resolve_amount: int
    resolve_unit: TimeUnit


# Acknowledge (签收) within 1 working day; resolve certificates in 5 working days, consultations in
# 3, other categories in 15; emergencies are acknowledged within 30 calendar minutes.
DEFAULT_LIMITS: dict[str, Limits] = {
    "compliance_certificate": Limits(1, "working_days", 5, "working_days"),
    "consultation": Limits(1, "working_days", 3, "working_days"),
    "problem": Limits(1, "working_days", 15, "working_days"),
    "emergency": Limits(30, "minutes", 1, "working_days"),
}
FALLBACK_LIMITS = Limits(1, "working_days", 15, "working_days")


NATIONWIDE = "*"


async def limits_for(session: AsyncSession, request_type: str, department_kind: str, region_code: str) -> Limits:
    """The most specific policy for an item of ``department_kind`` handled in ``region_code``: the
    nearest region's (district, then city, then province, then nationwide), and within one region
    the kind's own before the type's (``*``); the built-in defaults when none is stored."""
    places = [*regions.lineage(region_code), NATIONWIDE]
    rows = list(
        await session.scalars(
            select(SlaPolicy).where(
                SlaPolicy.request_type == request_type,
                SlaPolicy.department_kind.in_([department_kind, "*"]),
                SlaPolicy.region_code.in_(places),
            )
        )
    )
    rows.sort(key=lambda p: (places.index(p.region_code), p.department_kind == "*"))
    if rows:
        p = rows[0]
        return Limits(p.acknowledge_amount, p.acknowledge_unit, p.resolve_amount, p.resolve_unit)
    return DEFAULT_LIMITS.get(request_type, FALLBACK_LIMITS)


def due(calendar: WorkingCalendar, start: datetime, amount: int, unit: str) -> datetime:
    if unit == "working_days":
        return calendar.add_working_days(start, amount)
    if unit == "working_hours":
        return calendar.add_working_hours(start, amount)
    if unit == "minutes":
        return calendar.add_minutes(start, amount)
    raise ValueError(f"unknown time unit {unit!r}")


def as_dict(limits: Limits) -> dict:
    return asdict(limits)
