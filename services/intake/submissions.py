"""What an enterprise (or its liaison officer) does with a request: submit it, answer a 补正,
rate the result, withdraw it. Each stores its change and its event in the caller's transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.auth import Principal
from shared.clock import SHANGHAI, utcnow
from shared.logging import mask_mobile, mask_name
from shared.problems import Problem, invalid_field

from . import messages, timeline
from .access import owner_only
from .models import Attachment, IdempotencyRecord, Rating, ReferenceCounter, Request, WorkItemView
from .read_model import work_items_of
from .schemas import RatingIn, RequestCreate, SupplementIn, WithdrawIn

SUBMITTED = "submitted"  # a new request's status, until the departments' work moves it


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

    await check_attachments(session, principal, body.attachments, "attachments")
    now = utcnow()
    request = Request(
        id=str(uuid.uuid4()),
        reference_no=await next_reference_no(session, now),
        type=body.type,
        status=SUBMITTED,
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
    timeline.record(session, request.id, now, "request.submitted", f"诉求已提交，受理编号 {request.reference_no}")
    await messages.request_submitted(session, submitted_event(request, body, principal, now))
    return request, True


def submitted_event(
    request: Request, body: RequestCreate, principal: Principal, now: datetime
) -> events.RequestSubmitted:
    enterprise = events.Subject(**body.enterprise.model_dump())
    return events.RequestSubmitted(
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
        submitted_by=actor_of(principal),
        submitted_at=now,
    )


async def check_attachments(session: AsyncSession, principal: Principal, ids: Sequence[str], field: str) -> None:
    if not ids:
        return
    found = set(
        await session.scalars(
            select(Attachment.id).where(Attachment.id.in_(ids), Attachment.uploaded_by == principal.sub)
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise invalid_field(
            field,
            "attachment_unknown",
            f"附件不存在或不是您上传的：{', '.join(missing)}",
            f"No such attachment of yours: {', '.join(missing)}",
        )


def actor_of(principal: Principal) -> events.Actor:
    return events.Actor(role=principal.role, id=principal.sub, name=principal.name)


def conflict(code: str, zh: str, en: str, **extra) -> Problem:
    return Problem(409, code, zh, en, extra=extra)


async def supplement(session: AsyncSession, principal: Principal, request: Request, body: SupplementIn) -> None:
    owner_only(principal, request)
    item = await session.get(WorkItemView, body.work_item_id)
    if item is None or item.request_id != request.id:
        raise invalid_field(
            "work_item_id", "work_item_unknown", "该诉求下没有这个工单", "No such work item in this request"
        )
    if item.status != "awaiting_supplement":
        raise conflict(
            "no_supplement_requested",
            "该部门没有要求补正材料",
            "This department has not asked for a supplement",
            current_status=item.status,
        )
    await check_attachments(session, principal, body.attachments, "attachments")
    now = utcnow()
    event = events.SupplementProvided(
        request_id=request.id,
        work_item_id=item.id,
        text=body.text,
        attachments=body.attachments,
        actor=actor_of(principal),
        occurred_at=now,
    )
    timeline.record(session, request.id, now, "request.supplement_provided", f"已向{item.unit_name}补正材料", item)
    await messages.request_updated(session, event, now)


async def rate(session: AsyncSession, principal: Principal, request: Request, body: RatingIn) -> Rating:
    owner_only(principal, request)
    if await session.get(Rating, request.id) is not None:
        raise conflict("already_rated", "该诉求已评价", "This request has already been rated")
    items = await work_items_of(session, request.id)
    open_items = [i for i in items if i.status not in events.FINISHED_STATES]
    if not items or open_items:
        raise conflict(
            "not_resolved",
            "所有事项办结后才能评价",
            "A request is rated once all its items are resolved",
            open_work_items=[i.id for i in open_items],
        )
    resolved = {i.id for i in items if i.status == "resolved"}
    unknown = [i for i in body.reopen if i not in resolved]
    if unknown:
        raise invalid_field(
            "reopen",
            "work_item_not_resolved",
            f"这些工单不属于该诉求或未办结：{', '.join(unknown)}",
            f"Not resolved work items of this request: {', '.join(unknown)}",
        )
    now = utcnow()
    rating = Rating(
        request_id=request.id,
        score=body.score,
        comment=body.comment,
        reopened=body.reopen,
        rated_by=principal.sub,
        created_at=now,
    )
    session.add(rating)
    event = events.RequestRated(
        request_id=request.id,
        score=body.score,
        comment=body.comment,
        reopen_work_item_ids=body.reopen,
        actor=actor_of(principal),
        occurred_at=now,
    )
    summary = f"企业评价 {body.score} 分" + (f"，申请重办 {len(body.reopen)} 项" if body.reopen else "")
    timeline.record(session, request.id, now, "request.rated", summary)
    await messages.request_updated(session, event, now)
    return rating


async def withdraw(session: AsyncSession, principal: Principal, request: Request, body: WithdrawIn) -> None:
    owner_only(principal, request)
    if request.status in ("withdrawn", "resolved", "closed"):
        raise conflict(
            "cannot_withdraw",
            "该诉求已办结或已撤回，不能撤回",
            "A resolved or withdrawn request cannot be withdrawn",
            current_status=request.status,
        )
    now = utcnow()
    request.status = "withdrawn"
    request.updated_at = now
    event = events.RequestWithdrawn(
        request_id=request.id, reason=body.reason, actor=actor_of(principal), occurred_at=now
    )
    summary = "企业已撤回诉求" + (f"：{body.reason}" if body.reason else "")
    timeline.record(session, request.id, now, "request.withdrawn", summary)
    await messages.request_updated(session, event, now)
