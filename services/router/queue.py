"""A unit's queue as its clerks search it: one set of filters for the list and for the counts per
tab, so a search covers every tab (each hit says its tab) and the tabs' counts add up to what the
filters find; and 签收 of many items at once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db
from shared.auth import Principal
from shared.clock import reading_now
from shared.problems import Problem
from shared.vocabulary import OPEN_STATES, QUEUE_TABS, TAB_STATES

from .access import visible_items, visible_parts
from .keyset import Order
from .lifecycle import ActionInput, Lifecycle
from .models import Extension, RoutedRequest, WorkItem
from .schemas import compact_uscc
from .settings import RouterSettings


@dataclass
class Filters:
    """What a clerk narrows the queue by; every field optional."""

    states: list[str] | None = None
    q: str | None = None  # reference number, subject name or USCC
    enterprise: str | None = None  # the applying enterprise or the subject: USCC or part of a name
    unit: str | None = None
    due_from: datetime | None = None  # the deadline that counts now (签收 until signed, then 办结)
    due_to: datetime | None = None
    due_before: datetime | None = None  # the 办结 deadline (kept for earlier callers)
    sla: str | None = None  # overdue · paused · running
    extension: str | None = None
    assignee: str | None = None  # 承办人: me · none · a clerk's token subject
    open: bool | None = None  # true: only what is still open (我的待办); false: only what is finished
    request_type: str | None = None


# A search's parts are each found by an index (router 0020: trigrams of names and 受理编号, the USCC),
# and the request ids as db.InSubquery, so PostgreSQL ORs the three lookups (a BitmapOr).
def _matches_text(text: str) -> ColumnElement[bool]:
    by_reference = select(RoutedRequest.request_id).where(RoutedRequest.reference_no.contains(text, autoescape=True))
    return or_(
        WorkItem.subject_name.contains(text, autoescape=True),
        WorkItem.subject_uscc == compact_uscc(text),
        db.InSubquery(WorkItem.request_id, by_reference),
    )


def _of_enterprise(text: str) -> ColumnElement[bool]:
    """Items whose subject, or whose applying enterprise, is ``text`` (a USCC) or has it in its name."""
    uscc = compact_uscc(text)
    applicant = select(RoutedRequest.request_id).where(RoutedRequest.enterprise_uscc == uscc)
    return or_(
        WorkItem.subject_uscc == uscc,
        WorkItem.subject_name.contains(text, autoescape=True),
        db.InSubquery(WorkItem.request_id, applicant),
    )


def _in_sla_state(sla: str, now: datetime) -> ColumnElement[bool]:
    if sla == "overdue":
        return WorkItem.is_overdue(now)
    if sla == "paused":
        return WorkItem.is_open() & WorkItem.sla_paused.is_(True)
    return (  # running: open, counting and not past its deadline
        WorkItem.is_open()
        & WorkItem.sla_paused.is_(False)
        & or_(WorkItem.current_due_at.is_(None), WorkItem.current_due_at >= now)
    )


def narrowed(
    query: Select, principal: Principal, filters: Filters, now: datetime, visible: ColumnElement[bool] | None = None
) -> Select:
    """``query`` on work_items narrowed to what ``principal`` sees (``visible``: a part of it) and
    ``filters`` ask for."""
    query = query.where(visible_items(principal) if visible is None else visible)
    if filters.states:
        query = query.where(WorkItem.state.in_(filters.states))
    if filters.q:
        query = query.where(_matches_text(filters.q))
    if filters.enterprise:
        query = query.where(_of_enterprise(filters.enterprise))
    if filters.unit:
        query = query.where(WorkItem.unit_code == filters.unit)
    if filters.due_from:
        query = query.where(WorkItem.current_due_at >= filters.due_from)
    if filters.due_to:
        query = query.where(WorkItem.current_due_at < filters.due_to)
    if filters.due_before:
        query = query.where(WorkItem.resolve_due_at < filters.due_before)
    if filters.sla:
        query = query.where(_in_sla_state(filters.sla, now))
    if filters.extension:
        query = query.where(WorkItem.id.in_(select(Extension.work_item_id).where(Extension.state == "pending")))
    if filters.assignee:
        query = query.where(_assigned_to(filters.assignee, principal))
    if filters.open is not None:
        query = query.where(WorkItem.is_open() if filters.open else WorkItem.state.not_in(OPEN_STATES))
    if filters.request_type:
        of_type = select(RoutedRequest.request_id).where(RoutedRequest.request_type == filters.request_type)
        query = query.where(WorkItem.request_id.in_(of_type))
    return query


def _assigned_to(assignee: str, principal: Principal) -> ColumnElement[bool]:
    if assignee == "none":
        return WorkItem.assignee_sub.is_(None)
    return WorkItem.assignee_sub == (principal.sub if assignee == "me" else assignee)


async def find(
    session: AsyncSession, principal: Principal, filters: Filters, order: Order, offset: int, limit: int
) -> list[WorkItem]:
    """A page of the queue in ``order``: after ``order.after`` (keyset) when given, else from ``offset``.
    A unit sees its own items and those it assists (access.visible_parts): each part is read in the
    order up to the page's end, and the page taken from both. Asked as one condition (an OR),
    PostgreSQL sorted every item of the unit's tab for each page; a part alone it reads in the
    order of an index (ix_work_items_unit_deadline)."""
    now, parts = reading_now(), visible_parts(principal)

    def ordered(query: Select, part: ColumnElement[bool]) -> Select:
        query = narrowed(query, principal, filters, now, visible=part)
        return (query if order.after is None else query.where(order.after_clause())).order_by(*order.clauses())

    if len(parts) == 1:
        return list(await session.scalars(ordered(select(WorkItem), parts[0]).offset(offset).limit(limit)))
    page_ends = union_all(
        *(select(ordered(select(WorkItem.id), part).limit(offset + limit).subquery().c.id) for part in parts)
    )
    query = select(WorkItem).where(WorkItem.id.in_(page_ends)).order_by(*order.clauses())
    return list(await session.scalars(query.offset(offset).limit(limit)))


async def tab_counts(session: AsyncSession, principal: Principal, filters: Filters) -> dict[str, int]:
    """How many items each tab holds under ``filters`` (their states aside), every tab named."""
    per_state: Counter[str] = Counter()
    for part in visible_parts(principal):  # a unit's own items, then those it assists: indexes apart
        query = narrowed(select(WorkItem.state, func.count()), principal, filters, reading_now(), visible=part)
        per_state.update(dict((await session.execute(query.group_by(WorkItem.state))).all()))
    return {tab: sum(per_state.get(state, 0) for state in TAB_STATES[tab]) for tab in QUEUE_TABS}


@dataclass
class Outcome:
    id: str
    ok: bool
    state: str | None = None
    code: str | None = None
    message_zh: str | None = None
    message_en: str | None = None


async def acknowledge_all(
    session: AsyncSession, settings: RouterSettings, principal: Principal, ids: list[str]
) -> list[Outcome]:
    """签收 of each of ``ids`` by the caller's unit, in one transaction: each item signs or says
    why not (another unit's or a missing one: not found; one already signed: its state)."""
    wanted = db.to_change(select(WorkItem).where(WorkItem.id.in_(ids)).order_by(WorkItem.id))
    items = {i.id: i for i in await session.scalars(wanted)}
    outcomes = []
    async with Lifecycle(session, settings) as lifecycle:
        for item_id in dict.fromkeys(ids):  # once each, in the order asked
            item = items.get(item_id)
            try:
                if item is None:
                    raise Problem(404, "work_item_not_found", "工单不存在", "Work item not found")
                await lifecycle.act(item, "acknowledge", principal.unit, principal.as_actor(), ActionInput())
                outcomes.append(Outcome(item_id, True, item.state))
            except Problem as refused:
                outcomes.append(Outcome(item_id, False, None, refused.code, refused.zh, refused.en))
    return outcomes
