"""``GET /v1/countdowns``: the countdown of each item a page shows, for whoever may see the item —
its enterprise and liaison officers, its unit, the supervisors of its unit's or its subject's
region. Every page reads its items' clocks here, so all of them show the same words."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import or_, select

from shared.auth import Anyone, Principal
from shared.clock import reading_now
from shared.problems import invalid_field
from shared.web import DbSession

from .api import calendar_of
from .countdown import countdown
from .models import SlaRecord
from .schemas import ItemCountdownOut

router = APIRouter(prefix="/v1", tags=["sla"])


def may_see(principal: Principal, record: SlaRecord) -> bool:
    if principal.role in ("enterprise", "liaison"):
        return record.enterprise_uscc is not None and principal.may_act_for(record.enterprise_uscc)
    if principal.role == "department":
        return principal.unit == record.unit_code
    return principal.covers_region(record.region_code) or (
        record.subject_region is not None and principal.covers_region(record.subject_region)
    )


@router.get(
    "/countdowns",
    response_model=list[ItemCountdownOut],
    summary="What each item's clock means now (which deadline, working days left or overdue, paused), "
    "for the items of a request or the items named; those the caller may not see are left out",
)
async def get_countdowns(
    request: Request,
    session: DbSession,
    principal: Anyone,
    work_item_id: Annotated[list[str] | None, Query(max_length=200, description="repeat for several items")] = None,
    request_id: Annotated[str | None, Query(max_length=36, description="every item of one request")] = None,
) -> list[ItemCountdownOut]:
    if not work_item_id and not request_id:
        raise invalid_field(
            "work_item_id", "missing", "请指定工单或诉求", "Name work items (work_item_id) or a request (request_id)"
        )
    conditions = []
    if work_item_id:
        conditions.append(SlaRecord.work_item_id.in_(work_item_id))
    if request_id:
        conditions.append(SlaRecord.request_id == request_id)
    records = [
        r
        for r in await session.scalars(select(SlaRecord).where(or_(*conditions)).order_by(SlaRecord.work_item_id))
        if may_see(principal, r)
    ]
    calendar = await calendar_of(request, session)
    now = reading_now()
    return [
        ItemCountdownOut(
            work_item_id=r.work_item_id,
            request_id=r.request_id,
            reference_no=r.reference_no,
            unit_code=r.unit_code,
            unit_name=r.unit_name,
            state=r.state,
            countdown=countdown(r, now, calendar).as_dict(),
        )
        for r in records
    ]
