"""router's HTTP endpoints under ``/v1``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, require_roles

from .models import DepartmentUnit

router = APIRouter(prefix="/v1")


async def db_session(request: Request):
    async with request.app.state.runtime.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(db_session)]


@router.get("/units", tags=["departments"], summary="The department registry")
async def list_units(
    session: Session, _principal: Annotated[Principal, Depends(require_roles("admin", "supervisor", "department"))]
) -> list[dict]:
    units = await session.scalars(select(DepartmentUnit).order_by(DepartmentUnit.unit_code))
    return [
        {
            "unit_code": u.unit_code,
            "name": u.name,
            "kind": u.kind,
            "region_code": u.region_code,
            "inbox_topic": u.inbox_topic,
            "supervising_office": u.supervising_office,
            "active": u.active,
        }
        for u in units
    ]
