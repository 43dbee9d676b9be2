"""证明替代率 (信用代证): of the certificate items requested — department items of
compliance-certificate requests plus those a 专项信用报告 covered, each counted where its subject is,
withdrawn ones left out — the share the report absorbed, per province and prefecture-level city.
Kept from the covered items' own events (``credit_item_event``): a covered item has no clock and no
unit, so the unit statistics (stats.py) do not count it. The department items are counted per day
as their SLA records change (models.CertificateDayCounts)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events, regions
from shared.clock import day_start

from .models import CertificateDayCounts, CoveredItem
from .stats import rate

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


async def figures_in(session: AsyncSession, start: date | None, end: date | None, region: str | None) -> dict:
    """证明替代率 per province and city (``region``: only rows within it) for items dispatched or
    covered in the Chinese days [start, end): of the certificate items requested — department
    items of compliance-certificate requests plus covered ones, each counted where its subject is,
    withdrawn ones left out — the share the 专项信用报告 absorbed."""
    query = select(CertificateDayCounts.subject_region, func.sum(CertificateDayCounts.items))
    covered = select(CoveredItem.subject_region, CoveredItem.state, func.count())
    covered = covered.where(CoveredItem.state != "cancelled")
    if start:
        query = query.where(CertificateDayCounts.day >= start)
        covered = covered.where(CoveredItem.covered_at >= day_start(start))
    if end:
        query = query.where(CertificateDayCounts.day < end)
        covered = covered.where(CoveredItem.covered_at < day_start(end))
    if region:
        query, covered = (
            query.where(regions.within(CertificateDayCounts.subject_region, region)),
            covered.where(regions.within(CoveredItem.subject_region, region)),
        )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # The department items counted per day as their records change (models.CertificateDayCounts).
    for subject_region, n in await session.execute(query.group_by(CertificateDayCounts.subject_region)):
        if not n:
            continue  # every item of the region withdrawn: shown as before, not at all
        for code in ["", *_counted_in(subject_region)]:  # "": the total
            counts[code]["dept"] += n
    for subject_region, state, n in await session.execute(
        covered.group_by(CoveredItem.subject_region, CoveredItem.state)
    ):
        for code in ["", *_counted_in(subject_region)]:
            counts[code]["report"] += n
            counts[code]["uploaded"] += n if state == "credit_report_uploaded" else 0
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
        "substitution_rate": rate(report, dept + report),
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


def rows(substitution: dict) -> list[list]:
    """The 证明替代率 as a table: a header, one row per region, and the total."""
    total = {"region_code": "合计", "region_name": "", "level_name": "", **substitution["total"]}
    rows = [*substitution["regions"], total]
    return [
        [zh for _, zh in SUBSTITUTION_COLUMNS],
        *[["" if row[key] is None else row[key] for key, _ in SUBSTITUTION_COLUMNS] for row in rows],
    ]


def as_csv(substitution: dict) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows(substitution))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
