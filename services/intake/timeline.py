"""The enterprise's timeline of a request: one entry per thing that happened, in words a person
reads (Chinese first), with the unit and subject it concerns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, events, regions
from shared.vocabulary import (
    FOLLOW_UP_RESULTS,
    OUTCOMES,
    RETURN_REASONS,
    REVOCATION_REASONS,
    WORK_ITEM_STATES,
    rating_name,
)

from .models import TimelineEntry, WorkItemView


@dataclass(frozen=True)
class Words:
    """What a timeline entry says, in Chinese and in English (unit and subject names, and the
    notes people typed, stay as written)."""

    zh: str
    en: str

    def __add__(self, note: str | None) -> Words:
        """The entry with a unit's note after it (：in Chinese, ": " in English)."""
        return Words(f"{self.zh}：{note}", f"{self.en}: {note}") if note else self


def entry(
    request_id: str,
    at: datetime,
    event: str,
    summary: Words,
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
        "summary": summary.zh,
        "summary_en": summary.en,
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


def summary(event: events.WorkItemEvent) -> Words:
    words = _what_happened(event)
    return words + event.note if isinstance(event, PUBLIC_NOTES) else words


def _kind(item: str) -> tuple[str, str]:
    term = catalogue.DEPARTMENT_KINDS.get(item)
    return (term.zh, term.en) if term else (item, item)


def _what_happened(event: events.WorkItemEvent) -> Words:
    found = _handling(event) or _decisions(event) or _credit_reports(event)
    if found:
        return found
    state = WORK_ITEM_STATES.get(event.state)
    unit, subject = event.unit_name, event.subject_name
    return Words(
        f"{unit}：{state.zh if state else event.state}（{subject}）",
        f"{unit}: {state.en if state else event.state} ({subject})",
    )


def _handling(event: events.WorkItemEvent) -> Words | None:
    """The unit's moves on the item."""
    unit, subject = event.unit_name, event.subject_name
    match event:
        case events.WorkItemDispatched(previous_unit_code=str()):
            return Words(f"已转派至{unit}（{subject}）", f"Passed on to {unit} ({subject})")
        case events.WorkItemDispatched():
            return Words(f"已派单至{unit}（{subject}）", f"Dispatched to {unit} ({subject})")
        case events.WorkItemAcknowledged():
            return Words(f"{unit}已签收（{subject}）", f"{unit} acknowledged it ({subject})")
        case events.WorkItemProgressed():
            return Words(f"{unit}办理中（{subject}）", f"{unit} is working on it ({subject})")
        case events.WorkItemSupplementRequested():
            return Words(f"{unit}要求补正材料（{subject}）", f"{unit} asks for a supplement ({subject})")
        case events.WorkItemSupplemented():
            return Words(f"{unit}已收到补正材料（{subject}）", f"{unit} received the supplement ({subject})")
        case events.WorkItemResolved(resolution=resolution):
            outcome = OUTCOMES[resolution.outcome]
            number = resolution.document_no
            return Words(
                f"{unit}已办结：{outcome.zh}" + (f"，文号 {number}" if number else "") + f"（{subject}）",
                f"{unit} resolved it: {outcome.en}" + (f", document no. {number}" if number else "") + f" ({subject})",
            )
        case events.WorkItemReturned():
            return Words(
                f"部门退回，由{unit}重新分拨（{subject}）",
                f"Returned by the unit; {unit} dispatches it again ({subject})",
            )
        case events.WorkItemReturnedToEnterprise(reason_class=reason):
            why = RETURN_REASONS[reason]
            return Words(f"{unit}退回：{why.zh}（{subject}）", f"{unit} returned it to you: {why.en} ({subject})")
    return None


def _decisions(event: events.WorkItemEvent) -> Words | None:
    """Co-handling, extensions, ratings and the end of an item."""
    unit, subject = event.unit_name, event.subject_name
    match event:
        case events.WorkItemAssisted(contribution_by=str(by)):
            return Words(
                f"协办单位 {by} 提交协办意见（{subject}）", f"Assisting unit {by} gave its opinion ({subject})"
            )
        case events.WorkItemAssisted(assisting_units=units):
            return Words(
                f"{unit}邀请协办：{'、'.join(units)}（{subject}）",
                f"{unit} invited {', '.join(units)} to assist ({subject})",
            )
        case events.WorkItemExtensionRequested(days=days):
            return Words(
                f"{unit}申请延期 {days} 个工作日（{subject}）",
                f"{unit} asked for {days} more working day{'s' if days != 1 else ''} ({subject})",
            )
        case events.WorkItemExtensionDecided(approved=True, days=days):
            return Words(
                f"延期 {days} 个工作日已批准（{unit}，{subject}）",
                f"An extension of {days} working day{'s' if days != 1 else ''} was approved ({unit}, {subject})",
            )
        case events.WorkItemExtensionDecided():
            return Words(
                f"延期申请未获批准（{unit}，{subject}）", f"The extension was not approved ({unit}, {subject})"
            )
        case events.WorkItemDocumentRevoked(document_number=number, reason_class=reason_class, reopen=reopen):
            reason = REVOCATION_REASONS[reason_class] if reason_class in REVOCATION_REASONS else None
            zh, en = (reason.zh, reason.en) if reason else (reason_class, reason_class)
            again = ("，将重新办理", "; it will be handled again") if reopen else ("", "")
            return Words(
                f"{unit}撤销了证明 {number}（{zh}）{again[0]}（{subject}）",
                f"{unit} revoked certificate {number} ({en}){again[1]} ({subject})",
            )
        case events.WorkItemReopened():
            return Words(f"{unit}重新办理（{subject}）", f"{unit} handles it again ({subject})")
        case events.WorkItemClosed(score=int(score)):
            return Words(
                f"{unit}事项已评价：{rating_name(score)}（{subject}）",
                f"{unit}'s item was rated: {rating_name(score, 'en')} ({subject})",
            )
        case events.WorkItemClosed():
            return Words(f"{unit}事项已关闭（{subject}）", f"{unit}'s item was closed ({subject})")
        case events.WorkItemFollowedUp(result=result):
            solved = FOLLOW_UP_RESULTS[result]
            return Words(
                f"{unit}事项已回访：{solved.zh}（{subject}）", f"{unit}'s item was followed up: {solved.en} ({subject})"
            )
    return None


def _credit_reports(event: events.WorkItemEvent) -> Words | None:
    """信用代证: items a 专项信用报告 covers."""
    subject = event.subject_name
    match event:
        case events.WorkItemCancelled() if events.is_credit_report_unit(event.unit_code):
            zh, en = _kind(event.item)
            return Words(
                f"{zh}证明（由专项信用报告替代）已撤销（{subject}）",
                f"The {en} certificate (replaced by the credit report) was cancelled ({subject})",
            )
        case events.WorkItemCovered(item=item, coverage_version=version, report_site_name=site):
            zh, en = _kind(item)
            place = regions.full_name(event.coverage_region)
            return Words(
                f"{zh}证明可由专项信用报告替代（{place}覆盖数据第{version}版），无需部门出具：请从{site}下载后上传（{subject}）",
                f"The {en} certificate can be replaced by the credit report ({place}, coverage version {version}); "
                f"no unit issues it: download it from {site} and upload it ({subject})",
            )
        case events.WorkItemCreditReportUploaded(item=item):
            zh, en = _kind(item)
            return Words(
                f"{zh}证明已由专项信用报告替代（{subject}）",
                f"The {en} certificate is replaced by the credit report ({subject})",
            )
        case events.WorkItemCancelled():
            unit = event.unit_name
            return Words(f"{unit}事项已撤销（{subject}）", f"{unit}'s item was cancelled ({subject})")
    return None
