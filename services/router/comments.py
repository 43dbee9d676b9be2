"""内部批注 (issue 29): notes on one work item between the supervisors over it and the units that
hold or assist it — whoever may see the item (access.py) reads and writes them. They are rows of
their own, not history entries: no event carries them, so the enterprise's timeline (intake) and
department systems never see them, and the item's version does not move."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.clock import utcnow
from shared.vocabulary import ROLES

from .comment_schemas import CommentOut
from .item_views import unit_names
from .models import WorkItem, WorkItemComment


async def add(session: AsyncSession, item: WorkItem, principal: Principal, body: str) -> WorkItemComment:
    comment = WorkItemComment(
        work_item_id=item.id,
        body=body,
        author=f"{principal.role}:{principal.sub}",
        author_name=principal.name,
        author_role=principal.role,
        author_unit=principal.unit if principal.role == "department" else None,
        at=utcnow(),
    )
    session.add(comment)
    await session.flush()
    return comment


async def of_item(session: AsyncSession, work_item_id: str) -> list[CommentOut]:
    rows = list(
        await session.scalars(
            select(WorkItemComment).where(WorkItemComment.work_item_id == work_item_id).order_by(WorkItemComment.id)
        )
    )
    return await out(session, rows)


async def out(session: AsyncSession, rows: list[WorkItemComment]) -> list[CommentOut]:
    names = await unit_names(session, {r.author_unit for r in rows if r.author_unit})
    return [
        CommentOut(
            id=r.id,
            work_item_id=r.work_item_id,
            body=r.body,
            author_name=r.author_name,
            author_role=r.author_role,
            author_role_name=ROLES.zh(r.author_role),
            author_unit=r.author_unit,
            author_unit_name=names.get(r.author_unit) if r.author_unit else None,
            at=r.at,
        )
        for r in rows
    ]
