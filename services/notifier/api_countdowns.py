"""``POST /v1/countdowns`` (a read by POST: a page's items may be many): the countdown of each
item a page shows, for whoever may see the item — its enterprise and liaison officers, its unit,
the supervisors of its unit's or its subject's region. Every page reads its items' clocks here,
so all of them show the same words."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
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
# Work items and requests are named by UUIDs.
Id = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


def may_see(principal: Principal, record: SlaRecord) -> bool:
    if principal.role in ("enterprise", "liaison"):
        return record.enterprise_uscc is not None and principal.may_act_for(record.enterprise_uscc)
    if principal.role == "department":
        return principal.unit == record.unit_code
    return principal.covers_region(record.region_code) or (
        record.subject_region is not None and principal.covers_region(record.subject_region)
    )


class CountdownsIn(BaseModel):
    """The items a page shows: by id, or every item of some requests (at least one of the two)."""

    model_config = ConfigDict(extra="forbid")
    work_item_ids: list[Id] = Field(default=[], max_length=500)
    request_ids: list[Id] = Field(default=[], max_length=50)


@router.post(
    "/countdowns",
    response_model=list[ItemCountdownOut],
    summary="What each item's clock means now (which deadline, working days left or overdue, paused), "
    "for the items named or every item of the requests named; those the caller may not see are left out",
)
async def get_countdowns(
    body: CountdownsIn, request: Request, session: DbSession, principal: Anyone
) -> list[ItemCountdownOut]:
    if not body.work_item_ids and not body.request_ids:
        raise invalid_field(
            "work_item_ids", "missing", "请指定工单或诉求", "Name work items (work_item_ids) or requests (request_ids)"
        )
    conditions = []
    if body.work_item_ids:
        conditions.append(SlaRecord.work_item_id.in_(body.work_item_ids))
    if body.request_ids:
        conditions.append(SlaRecord.request_id.in_(body.request_ids))
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
