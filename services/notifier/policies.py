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


Key = tuple[str, str, str]  # (request type, department kind, region code) of an item


async def limits_for(session: AsyncSession, keys: set[Key]) -> dict[Key, Limits]:
    """The most specific policy for each item of ``department_kind`` handled in ``region_code``: the
    nearest region's (district, then city, then province, then nationwide), and within one region
    the kind's own before the type's (``*``); the built-in defaults when none is stored. Every
    key's candidates are read with one query (a batch of new items asks for a handful of keys)."""
    if not keys:
        return {}
    places = {key: [*regions.lineage(key[2]), NATIONWIDE] for key in keys}
    stored = list(
        await session.scalars(
            select(SlaPolicy).where(
                SlaPolicy.request_type.in_({request_type for request_type, _, _ in keys}),
                SlaPolicy.department_kind.in_({kind for _, kind, _ in keys} | {"*"}),
                SlaPolicy.region_code.in_({place for lineage in places.values() for place in lineage}),
            )
        )
    )
    found = {}
    for key in keys:
        request_type, kind, _ = key
        lineage = places[key]
        rows = [
            p
            for p in stored
            if p.request_type == request_type and p.department_kind in (kind, "*") and p.region_code in lineage
        ]
        rows.sort(key=lambda p: (lineage.index(p.region_code), p.department_kind == "*"))
        found[key] = (
            Limits(rows[0].acknowledge_amount, rows[0].acknowledge_unit, rows[0].resolve_amount, rows[0].resolve_unit)
            if rows
            else DEFAULT_LIMITS.get(request_type, FALLBACK_LIMITS)
        )
    return found


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
