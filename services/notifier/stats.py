"""Statistics units are judged on: 响应率 (acknowledged in time), 解决率 (resolved), 按时办结率
(resolved in time), handling time in working hours, open and overdue now, and 满意率. They count
department work only: an item a 专项信用报告 covered (信用代证) has no clock and no unit. What the
report absorbed is its own figure per province and city, 证明替代率 (``substitution_in``), kept
from the covered items' own events (``credit_item_event``)."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, events, regions
from shared.vocabulary import OPEN_STATES

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
    "median_handling_days",
    "p90_handling_days",
    "extended",
    "extension_rate",
    "returned",
    "return_rate",
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
    day = calendar.working_day_length.total_seconds() / 3600  # hours in one working day
    median = statistics.median(hours) if hours else None
    p90 = None
    if hours:
        p90 = statistics.quantiles(hours, n=10, method="inclusive")[-1] if len(hours) >= 2 else hours[0]
    extended = sum(1 for r in records if r.extended)
    returned = sum(1 for r in records if r.returned_by)
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
        "median_handling_hours": None if median is None else round(median, 2),
        "p90_handling_hours": None if p90 is None else round(p90, 2),
        # The same in working days (a working day: the business hours of one day, 8 h by default).
        "median_handling_days": None if median is None else round(median / day, 2),
        "p90_handling_days": None if p90 is None else round(p90 / day, 2),
        "extended": extended,  # items granted an extension (延期率)
        "extension_rate": _rate(extended, len(records)),
        "returned": returned,  # items returned to the coordinator at least once (退回率)
        "return_rate": _rate(returned, len(records)),
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
    returns: defaultdict[str, set[str]] = defaultdict(set)  # unit → items it gave back
    for r in records:
        for unit in r.returned_by or []:
            returns[unit].add(r.work_item_id)
    return {
        "units": [
            {"unit_code": k, "unit_name": names[k], **summarize(v, calendar, now), **unit_returns(v, returns[k])}
            for k, v in sorted(groups["units"].items())
        ],
        "regions": [{"region_code": k, **summarize(v, calendar, now)} for k, v in sorted(groups["regions"].items())],
        "request_types": [
            {"request_type": k, **summarize(v, calendar, now)} for k, v in sorted(groups["request_types"].items())
        ],
        "total": summarize(records, calendar, now),
    }


def unit_returns(at_unit: list[SlaRecord], returned: set[str]) -> dict:
    """退回率 of one unit: the items it returned to the coordinator among all it was given. An item
    it returned has moved on to another unit, so it counts here by ``returned_by``, not by where
    the item is now."""
    given = {r.work_item_id for r in at_unit} | returned
    return {"returned": len(returned), "return_rate": _rate(len(returned), len(given))}


def units_csv(rows: list[dict], substitution: dict | None = None) -> bytes:
    """The units' figures; then, after an empty line, the 证明替代率 table (``substitution``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["unit_code", "unit_name", *FIELDS])
    for row in rows:
        writer.writerow([row["unit_code"], row["unit_name"], *("" if row[f] is None else row[f] for f in FIELDS)])
    if substitution is not None:
        writer.writerow([])
        writer.writerow([substitution["label"]])
        writer.writerows(substitution_rows(substitution))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- 信用代证: 证明替代率 ---------------------------------------------------------------------------------
CREDIT_STATES = ("credit_report", "credit_report_uploaded", "cancelled")


async def credit_item_event(session: AsyncSession, event: events.WorkItemEvent) -> None:
    """Keeps each covered item as its events say: covered, then fulfilled by the uploaded report
    or cancelled by a withdrawal (each once, whatever arrives again)."""
    item = await session.get(CoveredItem, event.work_item_id)
    if isinstance(event, events.WorkItemCovered):
        if item is None:
            session.add(
                CoveredItem(
                    work_item_id=event.work_item_id,
                    request_id=event.request_id,
                    request_type=event.request_type,
                    item=event.item,
                    subject_region=event.subject_region,
                    coverage_region=event.coverage_region,
                    coverage_version=event.coverage_version,
                    covered_at=event.occurred_at,
                    state="credit_report",
                )
            )
    elif item is not None and item.state == "credit_report" and event.state in CREDIT_STATES:
        item.state, item.changed_at = event.state, event.occurred_at


def _counted_in(code: str) -> list[str]:
    """The province and, where there is one, the prefecture-level city a subject's region lies
    in (GB/T 2260): the rows its items count in. A district of 北京 or 上海 counts in the province."""
    return [c for c in regions.lineage(code) if regions.get(c).level in ("province", "city")]


async def substitution_in(
    session: AsyncSession, start: datetime | None, end: datetime | None, region: str | None
) -> dict:
    """证明替代率 per province and city (``region``: only rows within it): of the certificate items
    requested — department items of compliance-certificate requests plus covered ones, each
    counted where its subject is, withdrawn ones left out — the share the 专项信用报告 absorbed."""
    where = func.coalesce(SlaRecord.subject_region, SlaRecord.region_code)  # records from before subject_region
    query = select(where).where(
        SlaRecord.request_type == catalogue.COMPLIANCE_CERTIFICATE, SlaRecord.state != "cancelled"
    )
    covered = select(CoveredItem.subject_region, CoveredItem.state).where(CoveredItem.state != "cancelled")
    if start:
        query, covered = query.where(SlaRecord.dispatched_at >= start), covered.where(CoveredItem.covered_at >= start)
    if end:
        query, covered = query.where(SlaRecord.dispatched_at < end), covered.where(CoveredItem.covered_at < end)
    if region:
        query, covered = (
            query.where(regions.within(where, region)),
            covered.where(regions.within(CoveredItem.subject_region, region)),
        )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for subject_region in await session.scalars(query):
        for code in ["", *_counted_in(subject_region)]:  # "": the total
            counts[code]["dept"] += 1
    for subject_region, state in (await session.execute(covered)).all():
        for code in ["", *_counted_in(subject_region)]:
            counts[code]["report"] += 1
            counts[code]["uploaded"] += state == "credit_report_uploaded"
    shown = sorted(c for c in counts if c and (not region or regions.covers(region, c)))
    return {
        "label": "证明替代率",
        "regions": [{"region_code": c, **_region(c), **_figures(counts[c])} for c in shown],
        "total": _figures(counts[""]),
    }


def _region(code: str) -> dict:
    level = regions.get(code).level
    return {"region_name": regions.full_name(code), "level": level, "level_name": LEVEL_NAMES[level]}


LEVEL_NAMES = {"province": "省级", "city": "地市级"}


def _figures(counts: dict[str, int]) -> dict:
    dept, report, uploaded = counts["dept"], counts["report"], counts["uploaded"]
    return {
        "certificate_items": dept + report,
        "by_departments": dept,
        "covered_by_credit_report": report,
        "fulfilled_by_credit_report": uploaded,
        "awaiting_credit_report": report - uploaded,
        "substitution_rate": _rate(report, dept + report),
    }


SUBSTITUTION_COLUMNS = (
    ("region_code", "地区代码"),
    ("region_name", "地区"),
    ("level_name", "层级"),
    ("certificate_items", "证明事项数"),
    ("by_departments", "部门出具"),
    ("covered_by_credit_report", "专项信用报告替代"),
    ("fulfilled_by_credit_report", "其中已上传报告"),
    ("awaiting_credit_report", "其中待上传报告"),
    ("substitution_rate", "证明替代率"),
)


def substitution_rows(substitution: dict) -> list[list]:
    """The 证明替代率 as a table: a header, one row per region, and the total."""
    total = {"region_code": "合计", "region_name": "", "level_name": "", **substitution["total"]}
    rows = [*substitution["regions"], total]
    return [
        [zh for _, zh in SUBSTITUTION_COLUMNS],
        *[["" if row[key] is None else row[key] for key, _ in SUBSTITUTION_COLUMNS] for row in rows],
    ]


def substitution_csv(substitution: dict) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(substitution_rows(substitution))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
