"""内部批注 on a work item (comments.py): staff who may see the item read and add them; enterprises
have no route here at all (they follow their requests in intake, which never learns of them)."""

from __future__ import annotations

from fastapi import APIRouter

from shared.auth import Staff
from shared.web import DbSession

from .. import comments
from ..access import VisibleItem
from ..comment_schemas import CommentIn, CommentOut

router = APIRouter(prefix="/v1", tags=["work items"])


@router.get(
    "/workitems/{item_id}/comments",
    response_model=list[CommentOut],
    summary="内部批注 on this item, oldest first (supervisors over it and the units holding it)",
)
async def list_comments(item: VisibleItem, session: DbSession, principal: Staff) -> list[CommentOut]:
    return await comments.of_item(session, item.id)


@router.post(
    "/workitems/{item_id}/comments",
    status_code=201,
    response_model=CommentOut,
    summary="Add a 内部批注 to this item: never shown to the enterprise",
)
async def add_comment(body: CommentIn, item: VisibleItem, session: DbSession, principal: Staff) -> CommentOut:
    row = await comments.add(session, item, principal, body.body)
    [out] = await comments.out(session, [row])
    await session.commit()
    return out
