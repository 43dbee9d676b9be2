"""The enterprise is told when it is its turn: a 补正 (notify.event_messages), a result to rate
(the 回访 and the 已办结 message), and — here — a 专项信用报告 to download and upload, once per
request and subject however many covered items it stands for (信用代证 items have no clock and
no SLA record, so this is said from their own event)."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events

from . import notify


async def credit_report_awaited(session: AsyncSession, event: events.WorkItemEvent) -> None:
    if not isinstance(event, events.WorkItemCovered) or not event.enterprise_uscc:
        return
    about = SimpleNamespace(  # what notify.rows reads of an item, for an item with no SLA record
        request_type=event.request_type,
        enterprise_uscc=event.enterprise_uscc,
        region_code=event.region_code,
        unit_code=event.unit_code,
        work_item_id=event.work_item_id,
        request_id=event.request_id,  # where its message leads
    )
    text = (
        f"您的诉求 {event.reference_no} 中{event.subject_name}的部分证明可由{event.report_name}替代："
        f"请从{event.report_site_name}下载后上传"
    )
    message = ("enterprise", "请上传专项信用报告", text)
    cause = f"credit_report:{event.request_id}:{event.subject_uscc}"
    made = await notify.rows(session, None, about, "credit_report_awaited", [message], cause, event.occurred_at)
    await notify.insert(session, made)
