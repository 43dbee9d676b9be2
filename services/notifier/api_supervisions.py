"""督办单 over HTTP (supervision.py): a supervisor 督办s a unit of their region; the unit's clerks
read and answer it; both read the answer and whether it came in time."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Department, Overseer, Staff
from shared.clock import SHANGHAI, reading_now
from shared.problems import Problem, invalid_field, refusals
from shared.web import DbSession

from . import notify, supervision
from .api import calendar_of
from .models import UnitSupervision
from .schemas import SupervisionAnswerIn, SupervisionIn, SupervisionOut

router = APIRouter(prefix="/v1", tags=["supervision"])


@router.post(
    "/supervisions",
    status_code=201,
    response_model=SupervisionOut,
    summary="督办 a unit of your region: a note and the last day of its answer; the unit is told",
    responses=refusals(404),  # a unit that does not exist or lies outside the supervisor's region
)
async def create_supervision(
    body: SupervisionIn, request: Request, session: DbSession, principal: Overseer
) -> SupervisionOut:
    now = reading_now()
    if body.due_on < now.astimezone(SHANGHAI).date():
        raise invalid_field("due_on", "due_in_past", "答复期限不能早于今天", "The deadline cannot be in the past")
    async with session.begin():
        calendar = await calendar_of(request, session)
        unit = await supervision.supervised_unit(session, principal, body.unit_code)
        order = UnitSupervision(
            id=str(uuid.uuid4()),
            unit_code=unit.unit_code,
            unit_name=unit.name,
            region_code=unit.region_code,
            note=body.note,
            due_on=body.due_on,
            due_at=supervision.day_end(body.due_on),
            created_at=now,
            created_by=principal.sub,
            created_by_name=principal.name,
        )
        session.add(order)
        await session.flush()
        notified = await notify.to_unit(
            session,
            calendar,
            unit.unit_code,
            unit.region_code,
            supervision.KIND,
            supervision.order_messages(order),
            f"supervision:{order.id}",
            now,
        )
    return SupervisionOut(**supervision.out(order, now, notified))


@router.get(
    "/supervisions",
    response_model=list[SupervisionOut],
    summary="督办单: a unit's own (its clerks), or those of your region's units (supervisors), newest first",
)
async def list_supervisions(
    session: DbSession,
    principal: Staff,
    unit: Annotated[str | None, Query(max_length=100)] = None,
    state: Literal["open", "answered"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SupervisionOut]:
    query = select(UnitSupervision).where(supervision.visible(principal))
    if unit:
        query = query.where(UnitSupervision.unit_code == unit)
    if state:
        answered = UnitSupervision.answered_at.is_not(None)
        query = query.where(answered if state == "answered" else ~answered)
    query = query.order_by(UnitSupervision.created_at.desc(), UnitSupervision.id).limit(limit)
    now = reading_now()
    return [SupervisionOut(**supervision.out(o, now)) for o in await session.scalars(query)]


@router.get("/supervisions/{supervision_id}", response_model=SupervisionOut, summary="One 督办单")
async def get_supervision(supervision_id: str, session: DbSession, principal: Staff) -> SupervisionOut:
    order = await session.get(UnitSupervision, supervision_id) if len(supervision_id) <= 36 else None
    if order is None or not supervision.may_read(principal, order):
        raise supervision.not_found()
    return SupervisionOut(**supervision.out(order, reading_now()))


async def found_for_update(session: AsyncSession, supervision_id: str) -> UnitSupervision | None:
    if len(supervision_id) > 36:  # ids are UUIDs: a longer one names nothing
        return None
    return await session.get(UnitSupervision, supervision_id, with_for_update=True)


@router.post(
    "/supervisions/{supervision_id}/answer",
    response_model=SupervisionOut,
    summary="The unit answers its 督办单 (once); its region's supervisors are told",
    responses=refusals(409),  # already answered
)
async def answer_supervision(
    supervision_id: str, body: SupervisionAnswerIn, request: Request, session: DbSession, principal: Department
) -> SupervisionOut:
    now = reading_now()
    async with session.begin():
        calendar = await calendar_of(request, session)
        order = await found_for_update(session, supervision_id)
        if order is None or not supervision.may_read(principal, order):
            raise supervision.not_found()
        if order.answered_at is not None:
            raise Problem(409, "supervision_answered", "该督办单已答复", "This supervision order is already answered")
        order.answer, order.answered_at = body.answer, now
        order.answered_by, order.answered_by_name = principal.sub, principal.name
        notified = await notify.to_unit(
            session,
            calendar,
            order.unit_code,
            order.region_code,
            supervision.ANSWERED_KIND,
            supervision.answer_messages(order, now < order.due_at),
            f"supervision-answer:{order.id}",
            now,
        )
    return SupervisionOut(**supervision.out(order, now, notified))
