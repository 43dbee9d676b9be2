"""承办人 over HTTP (issue 29): a clerk takes an item (认领), the unit's lead (科长) assigns it, and
the lead reads the unit's figures per person. The rules are ``assignment.py``'s."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shared.auth import Department
from shared.problems import Problem
from shared.web import DbSession

from .. import assignment
from ..access import VisibleItem
from ..item_views import items_out
from ..schemas import Strict, WorkItemOut

router = APIRouter(prefix="/v1", tags=["work items"])


class AssignIn(Strict):
    assignee_sub: str = Field(min_length=1, max_length=120, description="the clerk's token subject, e.g. staff:李四")
    assignee_name: str = Field(min_length=1, max_length=100, description="the clerk's name as people read it")


class PersonFiguresOut(BaseModel):
    assignee_sub: str
    assignee_name: str
    open: int = Field(description="items they handle that are still open")
    finished: int = Field(description="items they handled that are 办结")
    finished_on_time: int = Field(description="of those, finished within the 办结 deadline")


@router.get(
    "/workitems/assignees",
    response_model=list[PersonFiguresOut],
    summary="The unit's 承办人, each with their open, finished and on-time items (the unit's lead only)",
)
async def figures_per_person(session: DbSession, principal: Department) -> list[PersonFiguresOut]:
    if not principal.leads(principal.unit or ""):
        raise Problem(
            403, "lead_only", "只有科长可以查看每人的办理情况", "Only the unit's lead reads per-person figures"
        )
    rows = await assignment.per_person(session, principal.unit or "")
    return [PersonFiguresOut(**row.__dict__) for row in rows]


@router.post(
    "/workitems/{item_id}/claim",
    response_model=WorkItemOut,
    summary="认领: the caller becomes the item's 承办人 (an unassigned item, or their own; the lead takes any)",
)
async def claim(item_id: str, session: DbSession, principal: Department, item: VisibleItem) -> WorkItemOut:
    assignment.claim(session, principal, item)
    [out] = await items_out(session, [item], principal)
    await session.commit()
    return out


@router.post(
    "/workitems/{item_id}/assign",
    response_model=WorkItemOut,
    summary="The unit's lead (科长) names the item's 承办人, a clerk of the unit; recorded in its history",
)
async def assign(
    item_id: str, body: AssignIn, session: DbSession, principal: Department, item: VisibleItem
) -> WorkItemOut:
    assignment.assign(session, principal, item, body.assignee_sub, body.assignee_name)
    [out] = await items_out(session, [item], principal)
    await session.commit()
    return out
