"""notifier's HTTP endpoints under ``/v1``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, current_principal
from shared.problems import Problem

from .models import SlaRecord

router = APIRouter(prefix="/v1")


async def db_session(request: Request):
    async with request.app.state.runtime.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(db_session)]


@router.get("/sla/{work_item_id}", tags=["sla"], summary="One work item's SLA clocks")
async def get_sla(
    work_item_id: str, session: Session, principal: Annotated[Principal, Depends(current_principal)]
) -> dict:
    record = await session.get(SlaRecord, work_item_id)
    visible = record is not None and (
        (principal.role == "department" and principal.unit == record.unit_code)
        or principal.covers_region(record.region_code)
    )
    if not visible:
        raise Problem(404, "sla_not_found", "没有该工单的时限记录", "No SLA record for this work item")
    return {
        "work_item_id": record.work_item_id,
        "unit_code": record.unit_code,
        "state": record.state,
        "dispatched_at": record.dispatched_at,
        "acknowledge_due_at": record.acknowledge_due_at,
        "resolve_due_at": record.resolve_due_at,
        "policy": record.policy,
    }
