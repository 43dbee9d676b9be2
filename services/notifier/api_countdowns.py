"""``POST /v1/countdowns`` (a read by POST: a page's items may be many): the countdown of each
item a page shows, for whoever may see the item — its enterprise and liaison officers, its unit,
the supervisors of its unit's or its subject's region. Every page reads its items' clocks here,
so all of them show the same words; with each, whether its enterprise may 催办 it now (and when
next) and its unit's public telephone and office hours.

``POST /v1/sla/{work_item_id}/urge``: the enterprise's 催办 (urging.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from shared.auth import Anyone, ForEnterprise, Principal
from shared.clock import reading_now
from shared.problems import Problem, invalid_field, refusals
from shared.web import DbSession

from . import notify, urging
from .api import calendar_of
from .countdown import countdown
from .models import KnownUnit, SlaRecord, Urging, count_again
from .schemas import ItemCountdownOut, UrgeOut

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
    urges = await urging.states_for(session, records, now, calendar)
    units = {r.unit_code for r in records}
    contacts = (
        {u.unit_code: u for u in await session.scalars(select(KnownUnit).where(KnownUnit.unit_code.in_(units)))}
        if units
        else {}
    )
    return [
        ItemCountdownOut(
            work_item_id=r.work_item_id,
            request_id=r.request_id,
            reference_no=r.reference_no,
            unit_code=r.unit_code,
            unit_name=r.unit_name,
            state=r.state,
            countdown=countdown(r, now, calendar).as_dict(),
            urge=urges[r.work_item_id].as_dict(),
            unit_contact=contact_of(contacts.get(r.unit_code)),
        )
        for r in records
    ]


def contact_of(unit: KnownUnit | None) -> dict:
    """The unit's public telephone and office hours (none known: both null)."""
    return {"phone": unit.phone if unit else None, "office_hours": unit.office_hours if unit else None}


@router.post(
    "/sla/{work_item_id}/urge",
    status_code=201,
    response_model=UrgeOut,
    summary="催办: the enterprise (or its liaison officer) chases its overdue or ≥ 80 % elapsed item, once per "
    "Chinese working day; the unit and its region's supervisors are told",
    responses=refusals(409),  # finished, paused, too early, or already chased this working day
)
async def urge(work_item_id: Id, request: Request, session: DbSession, principal: ForEnterprise) -> UrgeOut:
    calendar = request.app.state.runtime.calendar
    now = reading_now()
    try:
        async with session.begin():
            calendar = await calendar_of(request, session)
            record = await session.get(SlaRecord, work_item_id)
            if record is None or not may_see(principal, record):
                raise Problem(404, "sla_not_found", "没有该事项", "No such item of yours")
            state = (await urging.states_for(session, [record], now, calendar))[work_item_id]
            if not state.allowed:
                raise urging.refusal(state)
            day = urging.counted_day(calendar, now)
            chase = Urging(
                work_item_id=work_item_id,
                unit_code=record.unit_code,
                deadline="acknowledge" if record.acknowledged_at is None else "resolve",
                working_day=day,
                urged_at=now,
                urged_by=principal.sub,
            )
            session.add(chase)
            count_again(record)  # 被催办次数 is the record's figure: not as counted before this
            await session.flush()
            made = await notify.rows(
                session,
                calendar,
                record,
                urging.KIND,
                urging.messages(record, principal.role, now, calendar),
                f"urge:{chase.id}",
                now,
            )
            notified = await notify.insert(session, made)
    except IntegrityError:  # a second 催办 of the same working day, pressed at the same moment
        day = urging.counted_day(calendar, now)
        raise urging.refusal(
            urging.UrgeState(False, "already_today", urging.day_after(calendar, day), None, 0)
        ) from None
    return UrgeOut(
        work_item_id=work_item_id,
        urged_at=now,
        working_day=day,
        next_allowed_at=urging.day_after(calendar, day),
        notified=notified,
    )
