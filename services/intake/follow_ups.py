"""回访 after 办结 (12345 practice): the enterprise answers whether its problem was solved (已解决 ·
部分解决 · 未解决) on its request page, or a liaison officer who serves it records the answer of a
call. Once per finished work item, beside its rating; the event goes to the router, which logs it
on the item and tells the notifier, whose statistics count it (解决率)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.auth import Principal
from shared.clock import utcnow
from shared.problems import Problem, invalid_field
from shared.vocabulary import FOLLOW_UP_METHODS, FOLLOW_UP_RESULTS, RESOLVED_STATES, WORK_ITEM_STATES

from . import messages, timeline
from .access import is_owner, owner_only
from .models import ItemFollowUp, Request, WorkItemView
from .schemas import FollowUpIn, FollowUpItem, FollowUpOut
from .timeline import Words

# Followed up once the unit gave its result: 办结, whether rated (closed) or not yet.
FOLLOWED_UP_STATES = RESOLVED_STATES
# How each role may follow up, the first being its default: the enterprise answers online; a
# liaison officer records a call or a visit.
METHODS_BY_ROLE = {"enterprise": ("online",), "liaison": ("phone", "visit")}


# One 回访 per item (its primary key): a second is refused, whoever sends it.
def already_given() -> Problem:
    return Problem(409, "already_followed_up", "该事项已回访", "This item has already been followed up")


def out(row: ItemFollowUp) -> FollowUpOut:
    return FollowUpOut(
        work_item_id=row.work_item_id,
        result=row.result,
        result_name=FOLLOW_UP_RESULTS.zh(row.result),
        result_name_en=FOLLOW_UP_RESULTS.name(row.result, "en"),
        method=row.method,
        method_name=FOLLOW_UP_METHODS.zh(row.method),
        method_name_en=FOLLOW_UP_METHODS.name(row.method, "en"),
        comment=row.comment,
        recorded_by_role=row.recorded_by_role,
        recorded_by_name=row.recorded_by_name,
        created_at=row.created_at,
    )


async def of_request(session: AsyncSession, request_id: str) -> dict[str, ItemFollowUp]:
    rows = await session.scalars(select(ItemFollowUp).where(ItemFollowUp.request_id == request_id))
    return {row.work_item_id: row for row in rows}


async def items(session: AsyncSession, principal: Principal, request: Request) -> list[FollowUpItem]:
    """Every work item of ``request``, whether the caller may follow it up now, and its 回访."""
    given = await of_request(session, request.id)
    owner = is_owner(principal, request)
    views = await session.scalars(
        select(WorkItemView).where(WorkItemView.request_id == request.id).order_by(WorkItemView.unit_code)
    )
    return [
        FollowUpItem(
            work_item_id=item.id,
            unit_name=item.unit_name,
            item=item.item,
            subject_name=item.subject_name,
            status=item.status,
            status_name=WORK_ITEM_STATES.zh(item.status),
            may_follow_up=owner and item.status in FOLLOWED_UP_STATES and item.id not in given,
            follow_up=out(given[item.id]) if item.id in given else None,
        )
        for item in views
    ]


def _method(principal: Principal, asked: str | None) -> str:
    allowed = METHODS_BY_ROLE[principal.role]
    if asked is None:
        return allowed[0]
    if asked not in allowed:
        raise invalid_field(
            "method",
            "method_not_yours",
            "企业在线回访；电话或上门回访由驻企联络员记录",
            "Enterprises answer online; liaison officers record calls and visits",
        )
    return asked


async def record(session: AsyncSession, principal: Principal, request: Request, body: FollowUpIn) -> ItemFollowUp:
    """Stores the 回访 of one item and adds its event; refuses before 办结 and a second time."""
    owner_only(principal, request)
    method = _method(principal, body.method)
    item = await session.get(WorkItemView, body.work_item_id)
    if item is None or item.request_id != request.id:
        raise invalid_field(
            "work_item_id", "work_item_unknown", "该诉求下没有这个工单", "No such work item in this request"
        )
    if await session.get(ItemFollowUp, item.id) is not None:
        raise already_given()
    if item.status not in FOLLOWED_UP_STATES:
        raise Problem(
            409,
            "not_resolved",
            "该事项办结后才能回访",
            "An item is followed up once it is resolved",
            extra={"current_status": item.status},
        )
    now = utcnow()
    row = ItemFollowUp(
        work_item_id=item.id,
        request_id=request.id,
        result=body.result,
        method=method,
        comment=body.comment,
        recorded_by=principal.sub,
        recorded_by_role=principal.role,
        recorded_by_name=principal.name,
        created_at=now,
    )
    session.add(row)
    result, how = FOLLOW_UP_RESULTS[body.result], FOLLOW_UP_METHODS[method]
    summary = Words(
        f"{how.zh}（{item.unit_name}，{item.subject_name}）：{result.zh}",
        f"Follow-up {how.en.lower()} ({item.unit_name}, {item.subject_name}): {result.en}",
    )
    timeline.record(session, request.id, now, "request.followed_up", summary, item)
    event = events.WorkItemFollowUpGiven(
        request_id=request.id,
        work_item_id=item.id,
        result=body.result,
        method=method,
        comment=body.comment,
        actor=principal.as_actor(),
        occurred_at=now,
    )
    await messages.request_updated(session, event, now)
    return row
