"""Statistics units are judged on: 响应率 (acknowledged in time), 解决率 (resolved), 按时办结率
(resolved in time), handling time in working hours, open and overdue now, and 满意率."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import regions
from shared.events import OPEN_STATES

from .models import SlaRecord
from .workcal import WorkingCalendar

FIELDS = (
    "received",
    "acknowledged_on_time",
    "acknowledged_late",
    "response_rate",
    "resolved",
    "resolution_rate",
    "resolved_on_time",
    "on_time_rate",
    "median_handling_hours",
    "p90_handling_hours",
    "open_now",
    "overdue_now",
    "rated",
    "satisfied",
    "satisfaction_rate",
)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(records: list[SlaRecord], calendar: WorkingCalendar, now: datetime) -> dict:
    acknowledged = sum(1 for r in records if r.acknowledged_at and r.acknowledged_at <= r.acknowledge_due_at)
    resolved = [r for r in records if r.resolved_at is not None or r.state == "closed"]
    hours = sorted(
        calendar.working_time_between(r.dispatched_at, r.resolved_at).total_seconds() / 3600
        for r in resolved
        if r.resolved_at
    )
    rated = [r for r in records if r.score is not None]
    satisfied = sum(1 for r in rated if r.score >= 4)
    on_time = sum(1 for r in resolved if r.resolved_on_time)
    return {
        "received": len(records),
        "acknowledged_on_time": acknowledged,
        # 签收 after its deadline: recorded as late (签收及时率 counts it out), never as more time.
        "acknowledged_late": sum(1 for r in records if r.acknowledged_at and r.acknowledged_at > r.acknowledge_due_at),
        "response_rate": _rate(acknowledged, len(records)),
        "resolved": len(resolved),
        "resolution_rate": _rate(len(resolved), len(records)),
        "resolved_on_time": on_time,
        "on_time_rate": _rate(on_time, len(resolved)),
        "median_handling_hours": round(statistics.median(hours), 2) if hours else None,
        "p90_handling_hours": round(statistics.quantiles(hours, n=10, method="inclusive")[-1], 2)
        if len(hours) >= 2
        else (round(hours[0], 2) if hours else None),
        "open_now": sum(1 for r in records if r.state in OPEN_STATES),
        "overdue_now": sum(1 for r in records if r.is_overdue(now)),
        "rated": len(rated),
        "satisfied": satisfied,
        "satisfaction_rate": _rate(satisfied, len(rated)),
    }


async def records_in(
    session: AsyncSession, start: datetime | None, end: datetime | None, region: str | None
) -> list[SlaRecord]:
    query = select(SlaRecord)
    if start:
        query = query.where(SlaRecord.dispatched_at >= start)
    if end:
        query = query.where(SlaRecord.dispatched_at < end)
    if region:
        query = query.where(regions.within(SlaRecord.region_code, region))
    return list(await session.scalars(query))


def grouped(records: list[SlaRecord], calendar: WorkingCalendar, now: datetime) -> dict:
    groups: dict[str, dict[str, list[SlaRecord]]] = {
        "units": defaultdict(list),
        "regions": defaultdict(list),
        "request_types": defaultdict(list),
    }
    names = {}
    for r in records:
        groups["units"][r.unit_code].append(r)
        names[r.unit_code] = r.unit_name
        groups["regions"][r.region_code].append(r)
        groups["request_types"][r.request_type].append(r)
    return {
        "units": [
            {"unit_code": k, "unit_name": names[k], **summarize(v, calendar, now)}
            for k, v in sorted(groups["units"].items())
        ],
        "regions": [{"region_code": k, **summarize(v, calendar, now)} for k, v in sorted(groups["regions"].items())],
        "request_types": [
            {"request_type": k, **summarize(v, calendar, now)} for k, v in sorted(groups["request_types"].items())
        ],
        "total": summarize(records, calendar, now),
    }


def units_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["unit_code", "unit_name", *FIELDS])
    for row in rows:
        writer.writerow([row["unit_code"], row["unit_name"], *("" if row[f] is None else row[f] for f in FIELDS)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
