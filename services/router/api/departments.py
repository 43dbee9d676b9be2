"""The department registry over HTTP: units (each with its inbox topic) and which unit of a kind
serves a region (e.g. a customs district)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from shared.auth import Admin, Staff
from shared.messaging.broker import BrokerAccess
from shared.messaging.topics import ensure_topics
from shared.problems import invalid_field
from shared.web import DbSession

from ..models import DepartmentUnit, UnitCoverage
from ..registry import load_registry
from ..schemas import CoverageIn, UnitCoverageOut, UnitIn, UnitOut

router = APIRouter(prefix="/v1", tags=["departments"])


@router.get("/units", response_model=list[UnitOut], summary="The department registry")
async def list_units(
    session: DbSession, _principal: Staff, region: str | None = None, kind: str | None = None
) -> list[UnitOut]:
    query = select(DepartmentUnit).order_by(DepartmentUnit.unit_code)
    if region:
        query = query.where(DepartmentUnit.region_code == region)
    if kind:
        query = query.where(DepartmentUnit.kind == kind)
    return [UnitOut.model_validate(unit) for unit in await session.scalars(query)]


@router.put("/units/{unit_code}", response_model=UnitOut, summary="Create or update a unit; its inbox topic is created")
async def put_unit(unit_code: str, body: UnitIn, request: Request, session: DbSession, _principal: Admin) -> UnitOut:
    if body.unit_code != unit_code:
        raise invalid_field(
            "unit_code", "unit_code_mismatch", "路径与内容中的单位代码不一致", "unit_code differs from the path"
        )
    async with session.begin():
        await load_registry(session, {"units": [body.model_dump()]})
        unit = UnitOut.model_validate(await session.get(DepartmentUnit, unit_code))
    settings = request.app.state.settings
    await ensure_topics(
        BrokerAccess.from_settings(settings),
        [unit.inbox_topic],
        settings.kafka_topic_partitions,
        settings.kafka_replication_factor,
    )
    return unit


@router.put(
    "/coverage",
    response_model=UnitCoverageOut,
    summary="Which unit of a kind serves a region (e.g. a customs district)",
)
async def put_coverage(body: CoverageIn, session: DbSession, _principal: Admin) -> UnitCoverageOut:
    async with session.begin():
        unit = await session.get(DepartmentUnit, body.unit_code)
        if unit is None:
            raise invalid_field(
                "unit_code", "unit_unknown", f"单位不存在：{body.unit_code}", f"Unknown unit: {body.unit_code}"
            )
        await load_registry(session, {"coverage": [body.model_dump()]})
    return UnitCoverageOut(**body.model_dump(), unit_name=unit.name)


@router.get("/coverage", response_model=list[UnitCoverageOut], summary="Configured coverage")
async def list_coverage(session: DbSession, _principal: Staff) -> list[UnitCoverageOut]:
    rows = await session.execute(
        select(UnitCoverage, DepartmentUnit.name)
        .join(DepartmentUnit, DepartmentUnit.unit_code == UnitCoverage.unit_code)
        .order_by(UnitCoverage.kind, UnitCoverage.region_code)
    )
    return [
        UnitCoverageOut(kind=c.kind, region_code=c.region_code, unit_code=c.unit_code, unit_name=name)
        for c, name in rows
    ]
