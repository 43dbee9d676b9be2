"""Statistics units are judged on: 响应率 (acknowledged in time), 解决率 (resolved), 按时办结率
(resolved in time), handling time in working hours, open and overdue now, and 满意率. They count
department work only: an item a 专项信用报告 covered (信用代证) has no clock and no unit. What the
report absorbed is its own figure per province, 证明替代率 (``substitution``)."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, regions
from shared.events import OPEN_STATES

from .models import CoveredItem, SlaRecord
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


async def _between(session, model, at, region_column, start, end, region) -> list:
    """Rows of ``model`` whose ``at`` lies in [start, end) and whose region lies under ``region``."""
    query = select(model)
    if start:
        query = query.where(at >= start)
    if end:
        query = query.where(at < end)
    if region:
        query = query.where(regions.within(region_column, region))
    return list(await session.scalars(query))


async def records_in(
    session: AsyncSession, start: datetime | None, end: datetime | None, region: str | None
) -> list[SlaRecord]:
    return await _between(session, SlaRecord, SlaRecord.dispatched_at, SlaRecord.region_code, start, end, region)


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


async def covered_in(
    session: AsyncSession, start: datetime | None, end: datetime | None, region: str | None
) -> list[CoveredItem]:
    return await _between(session, CoveredItem, CoveredItem.covered_at, CoveredItem.subject_region, start, end, region)


def _province(code: str) -> str:
    chain = regions.lineage(code)
    return chain[-1] if chain else code


def substitution(records: list[SlaRecord], covered: list[CoveredItem]) -> dict:
    """证明替代率 per province: of the certificate items requested (department items of
    compliance-certificate requests, by the unit's province, plus covered ones, by the subject's),
    the share the province's 专项信用报告 absorbed."""
    by_dept: dict[str, int] = defaultdict(int)
    by_report: dict[str, int] = defaultdict(int)
    for r in records:
        if r.request_type == catalogue.COMPLIANCE_CERTIFICATE:
            by_dept[_province(r.region_code)] += 1
    for c in covered:
        by_report[_province(c.subject_region)] += 1

    def row(dept: int, report: int) -> dict:
        return {
            "certificate_items": dept + report,
            "by_departments": dept,
            "covered_by_credit_report": report,
            "substitution_rate": _rate(report, dept + report),
        }

    return {
        "label": "证明替代率",
        "regions": [
            {"region_code": code, "region_name": regions.full_name(code), **row(by_dept[code], by_report[code])}
            for code in sorted(set(by_dept) | set(by_report))
        ],
        "total": row(sum(by_dept.values()), sum(by_report.values())),
    }
