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
# Told only in the message centre: news a unit's queue shows anyway, which would flood its inboxes
# and WeChat if it went out on every channel.
IN_APP_ONLY = {events.WorkItemDispatched.ce_type, events.WorkItemSupplemented.ce_type}


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
    """What the enterprise hears about its item as it moves, and the unit of a new item or a 补正."""
    item = f"{record.reference_no}（{record.subject_name}）"
    match event:
        case events.WorkItemDispatched():
            due = _local(record.acknowledge_due_at)
            return [("unit", "新工单待签收", f"{record.unit_name}收到新工单 {item}，请在 {due} 前签收")]
        case events.WorkItemSupplemented():
            return [("unit", "企业已补正", f"企业已补充材料（{item}），计时恢复，请继续办理")]
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


async def recipients(
    session: AsyncSession, record: SlaRecord, audience: str, known: dict | None = None
) -> list[Recipient]:
    """The audience's recipients; with ``known`` (a dict kept for one batch of events, in which no
    recipient changes) each audience of each key is looked up once."""
    if audience in ("unit", "leadership"):
        keys = [record.unit_code]
    elif audience == "supervisor":
        keys = regions.lineage(record.region_code) or [record.region_code]
    else:
        keys = [record.enterprise_uscc] if record.enterprise_uscc else []
    if not keys:
        return []
    cache = known if known is not None else {}
    if (audience, *keys) not in cache:
        query = select(Recipient).where(Recipient.kind == audience, Recipient.key.in_(keys)).order_by(Recipient.id)
        cache[(audience, *keys)] = list(await session.scalars(query))
    return cache[(audience, *keys)]


def sending_time(audience: str, urgent: bool, calendar: WorkingCalendar | None, now: datetime) -> datetime:
    """When a message goes out: officials are not disturbed outside business hours unless it is urgent."""
    if audience in OFFICIALS and not urgent and calendar is not None and not calendar.is_business_time(now):
        return calendar.next_business_instant(now)
    return now


async def to_unit(
    session: AsyncSession,
    calendar: WorkingCalendar,
    unit_code: str,
    region_code: str,
    kind: str,
    messages: list[tuple[str, str, str]],
    cause: str,
    now: datetime,
) -> int:
    """Messages about a unit rather than one of its items (a 督办单): to its clerks and leadership,
    or its region's supervisors, on every channel they have, on the notifications topic and in
    their message centre (which leads to the reader's desk: the 督办单 stands on it)."""
    rows = []
    for audience, title, body in messages:
        keys = (regions.lineage(region_code) or [region_code]) if audience == "supervisor" else [unit_code]
        found = await session.scalars(
            select(Recipient).where(Recipient.kind == audience, Recipient.key.in_(keys)).order_by(Recipient.id)
        )
        key = region_code if audience == "supervisor" else unit_code
        targets = [(r.channel, r.address) for r in found] + [("topic", f"{audience}:{key}")]
        send_at = sending_time(audience, False, calendar, now)
        about = {
            "work_item_id": None,
            "request_id": None,
            "kind": kind,
            "recipient_kind": audience,
            "title": title,
            "body": body,
            "urgent": False,
            "created_at": utcnow(),
        }
        rows += [
            to_send(about, f"{cause}:{audience}:{channel}:{address}", channel, address, send_at)
            for channel, address in targets
        ]
        rows.append(in_app(about, f"{cause}:{audience}:inbox:{key}", key))
    return await insert(session, rows)


def audience_key(record: SlaRecord, audience: str) -> str | None:
    """Whom an audience is, as its messages are addressed: the enterprise's USCC, the region of the
    supervising office (the handling unit's), or the unit's code."""
    if audience == "enterprise":
        return record.enterprise_uscc
    return record.region_code if audience == "supervisor" else record.unit_code


async def insert(session: AsyncSession, rows: list[dict]) -> int:
    """Stores notifications (of one event or of a whole batch of them) with one INSERT; one whose
    ``dedupe_key`` is stored already is left out. How many went in."""
    return len(await db.insert_new(session, Notification.__table__, rows, ["dedupe_key"])) if rows else 0


async def rows(
    session: AsyncSession,
    calendar: WorkingCalendar | None,
    record: SlaRecord,
    kind: str,
    messages: list[tuple[str, str, str]],
    cause: str,
    now: datetime,
    known: dict | None = None,
) -> list[dict]:
    """Each message for every recipient of its audience, plus one on the notifications topic and
    one in the audience's message centre, as rows to ``insert``. Officials are not disturbed
    outside business hours unless the item is urgent; the message centre disturbs no one, so it
    has it at once. ``known``: recipients already looked up in this batch (``recipients``)."""
    urgent = record.request_type == "emergency"
    made = []
    for audience, title, body in messages:
        send_at = sending_time(audience, urgent, calendar, now)
        key = audience_key(record, audience)
        targets = []
        if kind not in IN_APP_ONLY:
            targets = [(r.channel, r.address) for r in await recipients(session, record, audience, known)]
            targets.append(("topic", f"{audience}:{key}"))
        about = {
            "work_item_id": record.work_item_id,
            "request_id": record.request_id,
            "kind": kind,
            "recipient_kind": audience,
            "title": title,
            "body": body,
            "urgent": urgent,
            "created_at": utcnow(),
        }
        made += [
            to_send(about, f"{cause}:{audience}:{channel}:{address}", channel, address, send_at)
            for channel, address in targets
        ]
        if key:
            made.append(in_app(about, f"{cause}:{audience}:inbox:{key}", key))
    return made


def to_send(about: dict, dedupe_key: str, channel: str, address: str, send_at: datetime) -> dict:
    """A copy for one recipient on one channel, waiting for its sending time. Every row of one
    INSERT carries the same keys (``in_app``'s too): SQLAlchemy takes the first row's as the columns."""
    return {
        **about,
        "dedupe_key": dedupe_key,
        "channel": channel,
        "address": address,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": send_at,
        "sent_at": None,
    }


def in_app(about: dict, dedupe_key: str, key: str) -> dict:
    """The message-centre copy, addressed to the audience's key: storing it is its delivery, so it
    is logged as sent at once (``inbox.py`` reads it for every person of the audience)."""
    created = about["created_at"]
    return {
        **about,
        "dedupe_key": dedupe_key,
        "channel": "inbox",
        "address": key,
        "status": "sent",
        "attempts": 1,
        "next_attempt_at": created,
        "sent_at": created,
    }


async def for_event(
    session: AsyncSession, record: SlaRecord, event: events.WorkItemEvent, event_id: str, known: dict
) -> list[dict]:
    """The notifications of a work-item event, as rows to ``insert`` with the rest of its batch."""
    messages = event_messages(record, event)
    if not messages:
        return []
    # Event news goes out at any hour: the enterprise is no official being chased, and what the
    # units get of it (新工单待签收, 企业已补正) goes to their message centre only.
    return await rows(session, None, record, event.ce_type, messages, f"event:{event_id}", event.occurred_at, known)
