"""intake's domain logic: accepting requests, numbering them, answering retries, deciding who
may see what, and folding work-item events into the read model."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.auth import Principal
from shared.db import utcnow
from shared.kafka import add_to_outbox, encode
from shared.logging import mask_mobile, mask_name
from shared.problems import FieldError, Problem, invalid_field

from .models import (
    Attachment,
    IdempotencyRecord,
    Rating,
    ReferenceCounter,
    Request,
    TimelineEntry,
    WorkItemDeadline,
    WorkItemView,
    outbox,
)
from .schemas import RatingIn, RequestCreate, SupplementIn, WithdrawIn

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN_STATES = {"dispatched", "acknowledged", "in_progress", "awaiting_supplement", "returned"}
DONE_STATES = {"resolved", "closed", "cancelled"}


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

    await check_attachments(session, principal, body.attachments, "attachments")
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


def owner_only(principal: Principal, request: Request) -> None:
    """Acting on a request (supplement, rating, withdrawal) is for its enterprise and liaison
    officers; supervisors may read it but answer for nobody."""
    if not is_owner(principal, request):
        raise not_found()


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
    session.add(
        TimelineEntry(
            request_id=request.id,
            occurred_at=now,
            event="request.supplement_provided",
            work_item_id=item.id,
            unit_code=item.unit_code,
            unit_name=item.unit_name,
            summary=f"已向{item.unit_name}补正材料",
        )
    )
    await add_to_outbox(session, outbox, [update_message(event, request.id, now)])


async def rate(session: AsyncSession, principal: Principal, request: Request, body: RatingIn) -> Rating:
    owner_only(principal, request)
    if await session.get(Rating, request.id) is not None:
        raise conflict("already_rated", "该诉求已评价", "This request has already been rated")
    items = await work_items_of(session, request.id)
    open_items = [i for i in items if i.status not in DONE_STATES]
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
    session.add(TimelineEntry(request_id=request.id, occurred_at=now, event="request.rated", summary=summary))
    await add_to_outbox(session, outbox, [update_message(event, request.id, now)])
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
    session.add(
        TimelineEntry(
            request_id=request.id,
            occurred_at=now,
            event="request.withdrawn",
            summary="企业已撤回诉求" + (f"：{body.reason}" if body.reason else ""),
        )
    )
    await add_to_outbox(session, outbox, [update_message(event, request.id, now)])


def update_message(event: events.Event, request_id: str, now: datetime):
    return encode(
        event, topic=events.REQUESTS_UPDATES, source=events.SOURCE_INTAKE, subject=request_id, key=request_id, time=now
    )


# --- listing --------------------------------------------------------------------------------------
def scope(principal: Principal, query: Select) -> Select:
    """Only the requests this caller may see."""
    if principal.role in ("enterprise", "liaison"):
        return query.where(Request.enterprise_uscc.in_(principal.usccs))
    if principal.role in ("supervisor", "admin"):
        if principal.region is None:
            return query if principal.role == "admin" else query.where(False)
        return query.where(Request.enterprise_region.startswith(principal.region.rstrip("0")))
    if principal.role == "department" and principal.unit and principal.unit.endswith(".coordinator"):
        # A region's coordinating office keeps the ledger of its region.
        region = principal.unit.split(".")[0]
        return query.where(Request.enterprise_region.startswith(region.rstrip("0")))
    return query.where(False)


def filtered(
    query: Select, status: str | None, type_: str | None, created_from: datetime | None, created_to: datetime | None
) -> Select:
    """The filters the request list and the ledger share."""
    if status:
        query = query.where(Request.status == status)
    if type_:
        query = query.where(Request.type == type_)
    if created_from:
        query = query.where(Request.created_at >= created_from)
    if created_to:
        query = query.where(Request.created_at < created_to)
    return query


def encode_cursor(request: Request) -> str:
    return base64.urlsafe_b64encode(f"{request.created_at.isoformat()}|{request.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, request_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), request_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_field("cursor", "cursor_invalid", "翻页游标无效", "Invalid cursor") from exc


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    type_: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Request], str | None]:
    query = filtered(scope(principal, select(Request)), status, type_, created_from, created_to)
    if cursor:
        created, request_id = decode_cursor(cursor)
        query = query.where(
            or_(Request.created_at < created, and_(Request.created_at == created, Request.id < request_id))
        )
    rows = list(await session.scalars(query.order_by(Request.created_at.desc(), Request.id.desc()).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    return page, encode_cursor(page[-1]) if more else None


# --- read model -----------------------------------------------------------------------------------
async def apply_work_item_event(session: AsyncSession, event: events.WorkItemEvent) -> None:
    request = await session.get(Request, event.request_id)
    if request is None:
        # Not ours (another intake's database) or not yet known: nothing to show it on.
        return
    view = await session.get(WorkItemView, event.work_item_id)
    if view is None:
        deadline = await session.get(WorkItemDeadline, event.work_item_id)
        view = WorkItemView(
            id=event.work_item_id,
            request_id=event.request_id,
            kind=event.department_kind,
            item=event.item,
            subject_uscc=event.subject_uscc,
            subject_name=event.subject_name,
            result=None,
            acknowledge_due_at=deadline.acknowledge_due_at if deadline else None,
            due_at=deadline.resolve_due_at if deadline else None,
        )
        session.add(view)
    view.unit_code, view.unit_name, view.kind, view.status = (
        event.unit_code,
        event.unit_name,
        event.department_kind,
        event.state,
    )
    if isinstance(event, events.WorkItemResolved):
        view.result = event.resolution.model_dump(mode="json")
    elif isinstance(event, events.WorkItemReopened):
        view.result = None
    view.updated_at = utcnow()
    session.add(
        TimelineEntry(
            request_id=event.request_id,
            occurred_at=event.occurred_at,
            event=event.ce_type.removeprefix("cn.xiaoer."),
            work_item_id=event.work_item_id,
            unit_code=event.unit_code,
            unit_name=event.unit_name,
            summary=timeline_summary(event),
        )
    )
    await session.flush()
    if request.status != "withdrawn":
        request.status = overall_status(request, await work_items_of(session, request.id))
    request.updated_at = utcnow()


async def apply_sla_update(session: AsyncSession, event: events.SlaUpdated) -> None:
    deadline = await session.get(WorkItemDeadline, event.work_item_id)
    if deadline is None:
        deadline = WorkItemDeadline(work_item_id=event.work_item_id, request_id=event.request_id)
        session.add(deadline)
    deadline.acknowledge_due_at = event.acknowledge_due_at
    deadline.resolve_due_at = event.resolve_due_at
    deadline.paused = event.paused
    view = await session.get(WorkItemView, event.work_item_id)
    if view is not None:  # else the dispatch event, when it comes, picks the deadlines up
        view.acknowledge_due_at = event.acknowledge_due_at
        view.due_at = event.resolve_due_at


OUTCOMES = {"issued": "出具证明", "not_issued": "不予出具", "answered": "已答复"}


def timeline_summary(event: events.WorkItemEvent) -> str:
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
            text = f"{unit}已办结：{OUTCOMES[resolution.outcome]}{number}（{subject}）"
        case events.WorkItemReturned():
            text = f"部门退回，由{unit}重新分拨（{subject}）"
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
        case events.WorkItemClosed():
            text = f"{unit}事项已关闭（{subject}）"
        case events.WorkItemCancelled():
            text = f"{unit}事项已撤销（{subject}）"
        case _:
            text = f"{unit}：{event.state}（{subject}）"
    return f"{text}：{event.note}" if event.note else text
