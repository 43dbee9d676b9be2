"""intake's domain logic: accepting requests, numbering them, answering retries, deciding who
may see what, and folding work-item events into the read model."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.auth import Principal
from shared.db import utcnow
from shared.kafka import add_to_outbox, encode
from shared.logging import mask_mobile, mask_name
from shared.problems import FieldError, Problem

from .models import IdempotencyRecord, ReferenceCounter, Request, TimelineEntry, WorkItemView, outbox
from .schemas import RequestCreate

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN_STATES = {"dispatched", "acknowledged", "in_progress", "awaiting_supplement", "returned"}


def not_found() -> Problem:
    # Someone else's request answers exactly like a missing one, so ids reveal nothing.
    return Problem(404, "request_not_found", "诉求不存在", "Request not found")


async def next_reference_no(session: AsyncSession, now: datetime) -> str:
    """``XE-YYYYMMDD-NNNNNN``: unique, and increasing within a (Shanghai) day."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    result = await session.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.day == day)
        .values(last=ReferenceCounter.last + 1)
        .returning(ReferenceCounter.last)
    )
    number = result.scalar_one_or_none()
    if number is None:
        try:
            async with session.begin_nested():
                session.add(ReferenceCounter(day=day, last=1))
            number = 1
        except IntegrityError:  # another transaction opened the day first
            return await next_reference_no(session, now)
    return f"XE-{day}-{number:06d}"


def body_hash(body: RequestCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def authorize_submission(principal: Principal, body: RequestCreate) -> None:
    if principal.role not in ("enterprise", "liaison"):
        raise Problem(
            403, "forbidden", "只有企业或驻企联络员可以提交诉求", "Only enterprises and liaison officers submit"
        )
    if not principal.may_act_for(body.enterprise.uscc):
        raise Problem(
            403,
            "not_your_enterprise",
            "无权代表该企业提交诉求",
            "You may not submit for this enterprise",
            errors=[
                FieldError(
                    "enterprise.uscc",
                    "not_your_enterprise",
                    "登录凭证未绑定该统一社会信用代码",
                    "Your token is not bound to this USCC",
                )
            ],
        )


async def find_replay(session: AsyncSession, principal: Principal, key: str, digest: str) -> Request | None:
    record = await session.get(IdempotencyRecord, (principal.sub, key))
    if record is None:
        return None
    if record.body_hash != digest:
        raise Problem(
            409,
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于不同的请求内容",
            "This Idempotency-Key was used with a different body",
        )
    return await session.get(Request, record.request_id)


async def create_request(
    session: AsyncSession, principal: Principal, body: RequestCreate, idempotency_key: str | None
) -> tuple[Request, bool]:
    """Stores the request and its ``requests.submitted`` event in the caller's transaction.
    Returns the request and whether it is new (False: a replay of an earlier identical POST)."""
    digest = body_hash(body)
    if idempotency_key:
        earlier = await find_replay(session, principal, idempotency_key, digest)
        if earlier is not None:
            return earlier, False

    now = utcnow()
    request = Request(
        id=str(uuid.uuid4()),
        reference_no=await next_reference_no(session, now),
        type=body.type,
        status="submitted",
        enterprise_uscc=body.enterprise.uscc,
        enterprise_name=body.enterprise.name,
        enterprise_region=body.enterprise.region_code,
        body=body.model_dump(mode="json"),
        submitted_by_role=principal.role,
        submitted_by=principal.sub,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    if idempotency_key:
        session.add(
            IdempotencyRecord(owner=principal.sub, key=idempotency_key, body_hash=digest, request_id=request.id)
        )
    session.add(
        TimelineEntry(
            request_id=request.id,
            occurred_at=now,
            event="request.submitted",
            summary=f"诉求已提交，受理编号 {request.reference_no}",
        )
    )
    await session.flush()
    await add_to_outbox(session, outbox, [submitted_event(request, body, principal, now)])
    return request, True


def submitted_event(request: Request, body: RequestCreate, principal: Principal, now: datetime):
    enterprise = events.Subject(**body.enterprise.model_dump())
    event = events.RequestSubmitted(
        request_id=request.id,
        reference_no=request.reference_no,
        request_type=body.type,
        enterprise=enterprise,
        subjects=[enterprise] + [events.Subject(**s.model_dump()) for s in body.subjects],
        items=body.items,
        period_months=body.period_months,
        purpose=body.purpose,
        description=body.description,
        # Departments need to know who to call back, not the person's full identity.
        contact_name=mask_name(body.contact.name),
        contact_mobile=mask_mobile(body.contact.mobile),
        attachments=body.attachments,
        submitted_by=events.Actor(role=principal.role, id=principal.sub, name=principal.name),
        submitted_at=now,
    )
    return encode(
        event,
        topic=events.REQUESTS_SUBMITTED,
        source=events.SOURCE_INTAKE,
        subject=request.id,
        key=request.id,
        time=now,
    )


def may_read(principal: Principal, request: Request) -> bool:
    if principal.role in ("enterprise", "liaison"):
        return principal.may_act_for(request.enterprise_uscc)
    if principal.role in ("supervisor", "admin"):
        return principal.covers_region(request.enterprise_region)
    return False


def is_owner(principal: Principal, request: Request) -> bool:
    return principal.role in ("enterprise", "liaison") and principal.may_act_for(request.enterprise_uscc)


async def load_request(session: AsyncSession, principal: Principal, request_id: str) -> Request:
    request = await session.get(Request, request_id)
    if request is None or not may_read(principal, request):
        raise not_found()
    return request


async def work_items_of(session: AsyncSession, request_id: str) -> list[WorkItemView]:
    rows = await session.scalars(
        select(WorkItemView).where(WorkItemView.request_id == request_id).order_by(WorkItemView.unit_code)
    )
    return list(rows)


async def timeline_of(session: AsyncSession, request_id: str) -> list[TimelineEntry]:
    rows = await session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.request_id == request_id)
        .order_by(TimelineEntry.occurred_at, TimelineEntry.id)
    )
    return list(rows)


def overall_status(request: Request, items: list[WorkItemView]) -> str:
    """A request's status as its work items show it."""
    if request.status == "withdrawn" or not items:
        return request.status
    states = {item.status for item in items}
    if states <= {"closed", "cancelled"}:
        return "closed"
    if states <= {"resolved", "closed", "cancelled"}:
        return "resolved"
    if states <= {"dispatched", "returned"}:
        return "dispatched"
    return "in_progress"


# --- read model -----------------------------------------------------------------------------------
async def apply_work_item_event(session: AsyncSession, event: events.WorkItemEvent, ce_type: str) -> None:
    request = await session.get(Request, event.request_id)
    if request is None:
        # Not ours (another intake's database) or not yet known: nothing to show it on.
        return
    view = await session.get(WorkItemView, event.work_item_id)
    if view is None:
        view = WorkItemView(
            id=event.work_item_id,
            request_id=event.request_id,
            unit_code=event.unit_code,
            unit_name=event.unit_name,
            kind=event.department_kind,
            item=event.item,
            subject_uscc=event.subject_uscc,
            subject_name=event.subject_name,
            status=event.state,
            due_at=None,
            result=None,
        )
        session.add(view)
    else:
        view.unit_code, view.unit_name, view.status = event.unit_code, event.unit_name, event.state
    view.updated_at = utcnow()
    session.add(
        TimelineEntry(
            request_id=event.request_id,
            occurred_at=event.occurred_at,
            event=ce_type.removeprefix("cn.xiaoer."),
            work_item_id=event.work_item_id,
            unit_code=event.unit_code,
            unit_name=event.unit_name,
            summary=timeline_summary(event),
        )
    )
    await session.flush()
    request.status = overall_status(request, await work_items_of(session, request.id))
    request.updated_at = utcnow()


def timeline_summary(event: events.WorkItemEvent) -> str:
    subject = event.subject_name
    texts = {
        "dispatched": f"已派单至{event.unit_name}（{subject}）",
    }
    text = texts.get(event.state, f"{event.unit_name}：{event.state}（{subject}）")
    return f"{text}：{event.note}" if event.note else text
