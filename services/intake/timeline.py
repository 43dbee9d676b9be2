"""The enterprise's timeline of a request: one entry per thing that happened, in words a person
reads (Chinese first), with the unit and subject it concerns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, events, regions
from shared.vocabulary import OUTCOMES, RETURN_REASONS, rating_name

from .models import TimelineEntry, WorkItemView


def entry(
    request_id: str,
    at: datetime,
    event: str,
    summary: str,
    item: WorkItemView | None = None,
    file_ids: list[str] | None = None,
) -> dict[str, Any]:
    """One entry of a request's timeline, about ``item`` when it concerns one unit's work, with
    the files it brought (``file_ids``), as the row's values."""
    return {
        "request_id": request_id,
        "occurred_at": at,
        "event": event,
        "work_item_id": item.id if item else None,
        "unit_code": item.unit_code if item else None,
        "unit_name": item.unit_name if item else None,
        "summary": summary,
        "file_ids": file_ids or [],
    }


def record(session: AsyncSession, *args: Any, **kwargs: Any) -> None:
    """Adds ``entry(*args, **kwargs)`` to the session, written with its other changes."""
    session.add(TimelineEntry(**entry(*args, **kwargs)))


async def timeline_of(session: AsyncSession, request_id: str) -> list[TimelineEntry]:
    rows = await session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.request_id == request_id)
        .order_by(TimelineEntry.occurred_at, TimelineEntry.id)
    )
    return list(rows)


# Notes the enterprise reads: what a unit tells it. Reasons between departments and supervisors
# (a return, a transfer, an extension, a co-handling opinion) stay off its timeline.
PUBLIC_NOTES = (
    events.WorkItemProgressed,
    events.WorkItemSupplementRequested,
    events.WorkItemResolved,
    events.WorkItemCancelled,
    events.WorkItemReturnedToEnterprise,
)


def summary(event: events.WorkItemEvent) -> str:
    unit, subject = event.unit_name, event.subject_name
    match event:
        case events.WorkItemDispatched(previous_unit_code=str()):
            text = f"已转派至{unit}（{subject}）"
        case events.WorkItemDispatched():
            text = f"已派单至{unit}（{subject}）"
        case events.WorkItemAcknowledged():
            text = f"{unit}已签收（{subject}）"
        case events.WorkItemProgressed():
            text = f"{unit}办理中（{subject}）"
        case events.WorkItemSupplementRequested():
            text = f"{unit}要求补正材料（{subject}）"
        case events.WorkItemSupplemented():
            text = f"{unit}已收到补正材料（{subject}）"
        case events.WorkItemResolved(resolution=resolution):
            number = f"，文号 {resolution.document_no}" if resolution.document_no else ""
            text = f"{unit}已办结：{OUTCOMES.zh(resolution.outcome)}{number}（{subject}）"
        case events.WorkItemReturned():
            text = f"部门退回，由{unit}重新分拨（{subject}）"
        case events.WorkItemReturnedToEnterprise(reason_class=reason):
            text = f"{unit}退回：{RETURN_REASONS.zh(reason)}（{subject}）"
        case events.WorkItemAssisted(contribution_by=str(by)):
            text = f"协办单位 {by} 提交协办意见（{subject}）"
        case events.WorkItemAssisted(assisting_units=units):
            text = f"{unit}邀请协办：{', '.join(units)}（{subject}）"
        case events.WorkItemExtensionRequested(days=days):
            text = f"{unit}申请延期 {days} 个工作日（{subject}）"
        case events.WorkItemExtensionDecided(approved=True, days=days):
            text = f"延期 {days} 个工作日已批准（{unit}，{subject}）"
        case events.WorkItemExtensionDecided():
            text = f"延期申请未获批准（{unit}，{subject}）"
        case events.WorkItemReopened():
            text = f"{unit}重新办理（{subject}）"
        case events.WorkItemClosed(score=int(score)):
            text = f"{unit}事项已评价：{rating_name(score)}（{subject}）"
        case events.WorkItemClosed():
            text = f"{unit}事项已关闭（{subject}）"
        case events.WorkItemCancelled() if events.is_credit_report_unit(event.unit_code):
            text = f"{catalogue.DEPARTMENT_KINDS.zh(event.item)}证明（由专项信用报告替代）已撤销（{subject}）"
        case events.WorkItemCancelled():
            text = f"{unit}事项已撤销（{subject}）"
        case events.WorkItemCovered(item=item, coverage_version=version, report_site_name=site):
            kind = catalogue.DEPARTMENT_KINDS.zh(item)
            place = regions.full_name(event.coverage_region)
            text = (
                f"{kind}证明可由专项信用报告替代（{place}覆盖数据第{version}版），"
                f"无需部门出具：请从{site}下载后上传（{subject}）"
            )
        case events.WorkItemCreditReportUploaded(item=item):
            text = f"{catalogue.DEPARTMENT_KINDS.zh(item)}证明已由专项信用报告替代（{subject}）"
        case _:
            text = f"{unit}：{event.state}（{subject}）"
    return f"{text}：{event.note}" if event.note and isinstance(event, PUBLIC_NOTES) else text
