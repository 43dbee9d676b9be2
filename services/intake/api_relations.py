"""The enterprise-group registry over HTTP (``/v1/relations``): admins keep the relations of the
parents in their region, liaison officers those of the enterprises they serve; enterprises and
supervisors read their part. Someone else's relation answers 404, as a missing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import select

from shared.auth import Anyone
from shared.problems import Problem, refusals
from shared.validation import USCC
from shared.vocabulary import RELATION_KINDS
from shared.web import DbSession

from . import relations
from .models import EnterpriseRelation
from .schemas import RelationIn, RelationOut, Uscc

router = APIRouter(prefix="/v1", tags=["relations"])

PathUscc = Annotated[USCC, Path(max_length=40, description="a USCC (spaces and lower case are taken)")]


def relation_out(row: EnterpriseRelation) -> RelationOut:
    return RelationOut(
        parent_uscc=row.parent_uscc,
        parent_name=row.parent_name,
        parent_region=row.parent_region,
        subject_uscc=row.subject_uscc,
        subject_name=row.subject_name,
        subject_region=row.subject_region,
        kind=row.kind,
        kind_name=RELATION_KINDS.zh(row.kind),
        source=row.source,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def forbidden() -> Problem:
    return Problem(
        403,
        "relation_forbidden",
        "集团关系由驻企联络员（所服务的企业）或管理员（本地区的企业）维护",
        "Relations are kept by liaison officers (of the enterprises they serve) and admins (of their region)",
    )


@router.get(
    "/relations", response_model=list[RelationOut], summary="The enterprise-group registry, as far as you may read it"
)
async def list_relations(
    session: DbSession,
    principal: Anyone,
    parent_uscc: Annotated[Uscc | None, Query(max_length=40)] = None,
    subject_uscc: Annotated[Uscc | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[RelationOut]:
    if principal.role == "department":
        raise forbidden()
    query = relations.visible(principal, select(EnterpriseRelation))
    if parent_uscc:
        query = query.where(EnterpriseRelation.parent_uscc == parent_uscc)
    if subject_uscc:
        query = query.where(EnterpriseRelation.subject_uscc == subject_uscc)
    rows = await session.scalars(
        query.order_by(EnterpriseRelation.parent_uscc, EnterpriseRelation.subject_uscc).limit(limit)
    )
    return [relation_out(r) for r in rows]


async def _found(session, principal, parent_uscc: str, subject_uscc: str) -> EnterpriseRelation:
    row = await session.get(EnterpriseRelation, (parent_uscc, subject_uscc))
    if row is None or not relations.may_read(principal, row):
        raise relations.not_found()
    return row


@router.get(
    "/relations/{parent_uscc}/{subject_uscc}",
    response_model=RelationOut,
    summary="One relation of the registry",
)
async def get_relation(
    parent_uscc: PathUscc, subject_uscc: PathUscc, session: DbSession, principal: Anyone
) -> RelationOut:
    return relation_out(await _found(session, principal, parent_uscc, subject_uscc))


@router.put(
    "/relations/{parent_uscc}/{subject_uscc}",
    response_model=RelationOut,
    summary="Register (or change) that a parent may ask about its subsidiary or branch without a 授权委托书",
    responses=refusals(409),
)
async def put_relation(
    parent_uscc: PathUscc, subject_uscc: PathUscc, body: RelationIn, session: DbSession, principal: Anyone
) -> RelationOut:
    if not relations.may_keep(principal, parent_uscc, body.parent_region):
        raise forbidden()
    if parent_uscc == subject_uscc:
        raise Problem(
            409, "relation_to_itself", "企业不能登记为自己的子公司", "An enterprise is not its own subsidiary"
        )
    async with session.begin():
        existing = await session.get(EnterpriseRelation, (parent_uscc, subject_uscc))
        if existing is not None and not relations.may_keep(principal, parent_uscc, existing.parent_region):
            raise forbidden()  # another region's admin may not move it into theirs
        await relations.put(session, [relations.row(parent_uscc, subject_uscc, body, "api", principal.as_actor().ref)])
    async with session.begin():
        return relation_out(await session.get(EnterpriseRelation, (parent_uscc, subject_uscc), populate_existing=True))


@router.delete(
    "/relations/{parent_uscc}/{subject_uscc}",
    status_code=204,
    summary="Remove a relation: the parent needs the subject's 授权委托书 again",
)
async def delete_relation(
    parent_uscc: PathUscc, subject_uscc: PathUscc, session: DbSession, principal: Anyone
) -> Response:
    async with session.begin():
        row = await _found(session, principal, parent_uscc, subject_uscc)
        if not relations.may_keep(principal, row.parent_uscc, row.parent_region):
            raise forbidden()
        await relations.remove(session, parent_uscc, subject_uscc)
    return Response(status_code=204)
