"""A unit's reply templates over HTTP (issue 29): every clerk of the unit reads them, its lead
(科长, the token's ``lead`` claim) writes them; another unit's answer 404 as if there were none.
An item's clerks get them filled for that item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Department, Principal
from shared.problems import Problem
from shared.web import DbSession

from ..access import VisibleItem
from ..models import DepartmentUnit, RoutedRequest
from ..reply_templates import (
    FilledTemplateOut,
    ReplyTemplate,
    TemplateIn,
    TemplateKind,
    TemplateOut,
    fill,
    placeholder_values,
)

router = APIRouter(prefix="/v1", tags=["reply templates"])
# A template id as its column holds it (int4): a bigger number names nothing (422), never a 500.
TemplateId = Annotated[int, Path(ge=1, le=2**31 - 1)]
UNIT_NOT_FOUND = Problem(404, "unit_not_found", "单位不存在", "Unit not found")
TEMPLATE_NOT_FOUND = Problem(404, "template_not_found", "模板不存在", "Template not found")


async def _own_unit(session: AsyncSession, principal: Principal, unit_code: str) -> None:
    """The caller's own unit, or 404: another unit's templates are not there for them."""
    if principal.unit != unit_code or await session.get(DepartmentUnit, unit_code) is None:
        raise UNIT_NOT_FOUND


async def _kept_by_lead(session: AsyncSession, principal: Principal, unit_code: str) -> None:
    await _own_unit(session, principal, unit_code)
    if not principal.leads(unit_code):
        raise Problem(
            403,
            "lead_only",
            "只有本单位科长可以维护回复模板",
            "Only the unit's lead (科长) keeps its reply templates",
        )


async def _template(session: AsyncSession, unit_code: str, template_id: int) -> ReplyTemplate:
    row = await session.get(ReplyTemplate, template_id)
    if row is None or row.unit_code != unit_code:
        raise TEMPLATE_NOT_FOUND
    return row


def _ordered(query):
    return query.order_by(ReplyTemplate.kind, ReplyTemplate.title, ReplyTemplate.id)


@router.get("/units/{unit_code}/templates", response_model=list[TemplateOut], summary="The unit's reply templates")
async def list_templates(
    unit_code: str,
    session: DbSession,
    principal: Department,
    kind: Annotated[TemplateKind | None, Query(description="supplement 补正 · return 退回")] = None,  # type: ignore[valid-type]
) -> list[TemplateOut]:
    await _own_unit(session, principal, unit_code)
    query = select(ReplyTemplate).where(ReplyTemplate.unit_code == unit_code)
    if kind:
        query = query.where(ReplyTemplate.kind == kind)
    return [TemplateOut.of(row) for row in await session.scalars(_ordered(query))]


@router.post(
    "/units/{unit_code}/templates",
    status_code=201,
    response_model=TemplateOut,
    summary="Add a reply template (the unit's lead)",
)
async def add_template(unit_code: str, body: TemplateIn, session: DbSession, principal: Department) -> TemplateOut:
    await _kept_by_lead(session, principal, unit_code)
    row = ReplyTemplate(unit_code=unit_code, updated_by=principal.sub, **body.model_dump())
    session.add(row)
    await session.flush()
    out = TemplateOut.of(row)
    await session.commit()
    return out


@router.put(
    "/units/{unit_code}/templates/{template_id}",
    response_model=TemplateOut,
    summary="Change a reply template (the unit's lead)",
)
async def change_template(
    unit_code: str, template_id: TemplateId, body: TemplateIn, session: DbSession, principal: Department
) -> TemplateOut:
    await _kept_by_lead(session, principal, unit_code)
    row = await _template(session, unit_code, template_id)
    for name, value in body.model_dump().items():
        setattr(row, name, value)
    row.updated_by = principal.sub
    await session.flush()
    out = TemplateOut.of(row)
    await session.commit()
    return out


@router.delete(
    "/units/{unit_code}/templates/{template_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a reply template (the unit's lead)",
)
async def delete_template(
    unit_code: str, template_id: TemplateId, session: DbSession, principal: Department
) -> Response:
    await _kept_by_lead(session, principal, unit_code)
    await session.delete(await _template(session, unit_code, template_id))
    await session.commit()
    return Response(status_code=204)


@router.get(
    "/workitems/{item_id}/templates",
    response_model=list[FilledTemplateOut],
    summary="The caller's unit's reply templates, each filled for this item",
)
async def templates_for_item(item: VisibleItem, session: DbSession, principal: Department) -> list[FilledTemplateOut]:
    request = await session.get(RoutedRequest, item.request_id)
    values = placeholder_values(item, request)
    rows = await session.scalars(_ordered(select(ReplyTemplate).where(ReplyTemplate.unit_code == principal.unit)))
    return [FilledTemplateOut(id=r.id, kind=r.kind, title=r.title, text=fill(r.body, values)) for r in rows]
