"""Who is told what: notifications created by timers and by work-item events, one row per
recipient and channel, each created once (``dedupe_key``) however often its cause is seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db, events, regions
from shared.clock import SHANGHAI, utcnow
from shared.vocabulary import OUTCOMES, RETURN_REASONS

from .models import Notification, Recipient, SlaRecord
from .workcal import WorkingCalendar

OFFICIALS = ("unit", "leadership", "supervisor")


def _local(t: datetime | None) -> str:
    return t.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M") if t else "—"


def timer_messages(record: SlaRecord, kind: str) -> list[tuple[str, str, str]]:
    """(audience, title, body) for a timer that fired."""
    item = f"{record.reference_no}（{record.subject_name}）"
    due = _local(record.resolve_due_at)
    return {
        "acknowledge_due": [
            ("unit", "签收催办", f"工单 {item} 未在时限 {_local(record.acknowledge_due_at)} 前签收，请立即签收"),
            (
                "supervisor",
                "签收催办",
                f"{record.unit_name}的工单 {item} 未在时限 {_local(record.acknowledge_due_at)} 前签收",
            ),
        ],
        "acknowledge_escalate": [
            ("unit", "签收督办", f"工单 {item} 超过签收时限一个工作日仍未签收，已督办"),
            ("leadership", "签收督办", f"{record.unit_name}的工单 {item} 超过签收时限一个工作日仍未签收，请督促签收"),
            ("supervisor", "签收督办", f"{record.unit_name}的工单 {item} 超过签收时限一个工作日仍未签收"),
        ],
        "acknowledge_public_notice": [
            ("unit", "签收通报", f"工单 {item} 超过签收时限五个工作日仍未签收，已通报"),
            ("supervisor", "通报", f"{record.unit_name}的工单 {item} 超过签收时限五个工作日仍未签收，建议通报"),
        ],
        "remind_50": [("unit", "办理预警（50%）", f"工单 {item} 已用去一半办理时间，办理时限 {due}")],
        "remind_80": [("unit", "办理预警（80%）", f"工单 {item} 已用去 80% 办理时间，办理时限 {due}")],
        "due": [
            ("unit", "催办", f"工单 {item} 已到办理时限 {due}，请尽快办结或申请延期"),
            ("enterprise", "办理超时", f"您的诉求 {item} 在{record.unit_name}已超过办理时限，已催办"),
        ],
        "escalate": [
            ("leadership", "督办", f"{record.unit_name}的工单 {item} 已超时一个工作日（时限 {due}），请督促办理"),
            ("supervisor", "督办", f"{record.unit_name}的工单 {item} 已超时一个工作日（时限 {due}）"),
        ],
        "public_notice": [
            ("supervisor", "通报", f"{record.unit_name}的工单 {item} 已超时五个工作日（时限 {due}），建议通报")
        ],
        "follow_up": [
            (
                "enterprise",
                "回访",
                f"您的诉求 {item} 已由{record.unit_name}办结，请对办理结果进行评价，并告诉我们问题是否已解决",
            )
        ],
    }[kind]


def timer_still_applies(record: SlaRecord, kind: str) -> bool:
    """A timer fires only while its cause lasts: the chase for 签收 while nobody has signed, the
    handling reminders and escalations once someone has (an unsigned item is chased for its 签收)."""
    if kind.startswith("acknowledge_"):
        return record.state in ("dispatched", "returned")
    if kind == "follow_up":
        return record.state == "resolved"
    return record.state in ("acknowledged", "in_progress") and record.paused_at is None


def event_messages(record: SlaRecord, event: events.WorkItemEvent) -> list[tuple[str, str, str]]:
    """What the enterprise hears about its item as it moves."""
    item = f"{record.reference_no}（{record.subject_name}）"
    match event:
        case events.WorkItemAcknowledged():
            return [
                (
                    "enterprise",
                    "已签收",
                    f"{record.unit_name}已签收您的诉求 {item}，办理时限 {_local(record.resolve_due_at)}",
                )
            ]
        case events.WorkItemSupplementRequested():
            return [("enterprise", "请补正材料", f"{record.unit_name}需要您补充材料（{item}）：{event.note or ''}")]
        case events.WorkItemResolved(resolution=resolution):
            outcome = OUTCOMES.zh(resolution.outcome)
            return [("enterprise", "已办结", f"{record.unit_name}已办结您的诉求 {item}：{outcome}，请查看并评价")]
        case events.WorkItemDocumentRevoked(document_number=number, reason_name=why, reopen=reopen):
            again = "，该事项将重新办理" if reopen else ""
            return [
                (
                    "enterprise",
                    "证明已撤销",
                    f"{record.unit_name}撤销了为您出具的证明 {number}（{item}）：{why}{again}。核验时将显示已撤销",
                )
            ]
        case events.WorkItemReturnedToEnterprise(reason_class=reason):
            why = RETURN_REASONS.zh(reason)
            return [
                ("enterprise", f"退回：{why}", f"{record.unit_name}退回了您的诉求 {item}（{why}）：{event.note or ''}")
            ]
    return []


async def recipients(session: AsyncSession, record: SlaRecord, audience: str) -> list[Recipient]:
    if audience in ("unit", "leadership"):
        keys = [record.unit_code]
    elif audience == "supervisor":
        keys = regions.lineage(record.region_code) or [record.region_code]
    else:
        keys = [record.enterprise_uscc] if record.enterprise_uscc else []
    if not keys:
        return []
    rows = await session.scalars(
        select(Recipient).where(Recipient.kind == audience, Recipient.key.in_(keys)).order_by(Recipient.id)
    )
    return list(rows)


async def create(
    session: AsyncSession,
    calendar: WorkingCalendar | None,
    record: SlaRecord,
    kind: str,
    messages: list[tuple[str, str, str]],
    cause: str,
    now: datetime,
) -> int:
    """Creates each message for every recipient of its audience, plus one on the notifications
    topic. Officials are not disturbed outside business hours unless the item is urgent."""
    urgent = record.request_type == "emergency"
    rows = []
    for audience, title, body in messages:
        send_at = now
        if audience in OFFICIALS and not urgent and calendar is not None and not calendar.is_business_time(now):
            send_at = calendar.next_business_instant(now)
        targets = [(r.channel, r.address) for r in await recipients(session, record, audience)]
        key = (
            record.enterprise_uscc
            if audience == "enterprise"
            else (record.region_code if audience == "supervisor" else record.unit_code)
        )
        targets.append(("topic", f"{audience}:{key}"))
        for channel, address in targets:
            rows.append(
                {
                    "dedupe_key": f"{cause}:{audience}:{channel}:{address}",
                    "work_item_id": record.work_item_id,
                    "kind": kind,
                    "recipient_kind": audience,
                    "channel": channel,
                    "address": address,
                    "title": title,
                    "body": body,
                    "urgent": urgent,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": send_at,
                    "created_at": utcnow(),
                }
            )
    if not rows:
        return 0
    return len(await db.insert_new(session, Notification.__table__, rows, ["dedupe_key"]))


async def for_event(session: AsyncSession, record: SlaRecord, event: events.WorkItemEvent, event_id: str) -> None:
    messages = event_messages(record, event)
    if messages:
        # Enterprise news goes out at any hour: it is no official being chased.
        await create(session, None, record, event.ce_type, messages, f"event:{event_id}", event.occurred_at)
