"""承办人 (issue 29): who in a unit handles its item. A clerk takes (认领) an item of their own unit
that nobody holds, or holds already; the unit's lead (科长) assigns it to a clerk of the unit, and
only the lead takes over an item someone else holds. Each change is a line of the item's history
(``claim``, ``assign``); it changes no state and announces nothing on Kafka: who in the unit does
the work is the unit's own affair (the enterprise follows the unit, not the person).

The lead's figures per person (open, finished, finished on time) are read here too."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.clock import utcnow
from shared.problems import Problem
from shared.vocabulary import FINISHED_STATES, OPEN_STATES

from .models import WorkItem, WorkItemLog


def _holder_only(principal: Principal, item: WorkItem) -> None:
    """Only the unit holding the item has a 承办人 for it: an assisting unit (会办) sees the item
    but does not handle it; anyone else was refused by ``VisibleItem`` already."""
    if principal.unit != item.unit_code:
        raise Problem(
            403,
            "not_handling_unit",
            "只有承办单位的人员可以认领或指派",
            "Only the handling unit takes or assigns its items",
        )
    if item.state not in OPEN_STATES:
        raise Problem(
            409,
            "item_finished",
            "工单已办结，不能再认领或指派",
            "A finished item is not taken or assigned",
            extra={"current_state": item.state},
        )


def _record(session: AsyncSession, item: WorkItem, action: str, principal: Principal, sub: str, name: str) -> None:
    before = item.assignee_name
    now = utcnow()
    session.add(
        WorkItemLog(
            work_item_id=item.id,
            action=action,
            from_state=item.state,
            to_state=item.state,
            unit_code=item.unit_code,
            actor=principal.as_actor().ref,
            actor_name=principal.name,
            note=f"承办人：{before} → {name}" if before else f"承办人：{name}",
            at=now,
        )
    )
    item.assignee_sub, item.assignee_name, item.assigned_at = sub, name, now


def claim(session: AsyncSession, principal: Principal, item: WorkItem) -> None:
    """认领: the caller becomes the item's 承办人 (nothing changes when they are already)."""
    _holder_only(principal, item)
    if item.assignee_sub == principal.sub:
        return
    if item.assignee_sub is not None and not principal.leads(item.unit_code):
        raise Problem(
            403,
            "assigned_to_another",
            f"该工单已由{item.assignee_name}承办，改由他人承办须科长指派",
            f"{item.assignee_name} handles this item; only the unit's lead reassigns it",
        )
    _record(session, item, "claim", principal, principal.sub, principal.name or principal.sub)


def assign(session: AsyncSession, principal: Principal, item: WorkItem, sub: str, name: str) -> None:
    """The lead (科长) names the item's 承办人 (nothing changes when it is them already)."""
    if not principal.leads(principal.unit or ""):
        raise Problem(403, "lead_only", "只有科长可以指派承办人", "Only the unit's lead (科长) assigns items")
    _holder_only(principal, item)
    if item.assignee_sub == sub:
        return
    _record(session, item, "assign", principal, sub, name)


@dataclass
class PersonFigures:
    assignee_sub: str
    assignee_name: str
    open: int
    finished: int
    finished_on_time: int


async def per_person(session: AsyncSession, unit_code: str) -> list[PersonFigures]:
    """The unit's 承办人 with their open items, the items they finished (办结), and of those the ones
    finished within the 办结 deadline (the last 办结 in time: a reopened item counts when done again)."""
    resolved_at = (
        select(WorkItemLog.work_item_id, func.max(WorkItemLog.at).label("at"))
        .where(WorkItemLog.action == "resolve")
        .group_by(WorkItemLog.work_item_id)
        .subquery()
    )
    finished = WorkItem.state.in_(FINISHED_STATES) & resolved_at.c.at.is_not(None)
    on_time = finished & (WorkItem.resolve_due_at.is_(None) | (resolved_at.c.at <= WorkItem.resolve_due_at))
    query = (
        select(
            WorkItem.assignee_sub,
            func.max(WorkItem.assignee_name),
            func.count().filter(WorkItem.state.in_(OPEN_STATES)),
            func.count().filter(finished),
            func.count().filter(on_time),
        )
        .outerjoin(resolved_at, resolved_at.c.work_item_id == WorkItem.id)
        .where(and_(WorkItem.unit_code == unit_code, WorkItem.assignee_sub.is_not(None)))
        .group_by(WorkItem.assignee_sub)
        .order_by(WorkItem.assignee_sub)
    )
    return [PersonFigures(*row) for row in (await session.execute(query)).all()]
