"""Work items over HTTP: a unit's queue (a supervisor's: the region's), one item with its history
and extensions, its files, and the department's moves. Who sees which item is ``access.py``'s."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import files
from shared.auth import Department, Principal, Staff
from shared.problems import Problem
from shared.validation import Instant
from shared.web import DbSession

from .. import item_files, transitions
from ..access import VisibleItem, visible_items
from ..item_views import file_out, history_out, items_out
from ..lifecycle import ActionInput, Lifecycle, dispatch_candidates, item_not_found
from ..models import DepartmentUnit, Extension, RoutedRequest, WorkItem, WorkItemLog
from ..routing import COORDINATOR
from ..schemas import (
    ActionIn,
    DispatchCandidateOut,
    DispatchIn,
    ExtensionOut,
    FileOut,
    WorkItemDetailOut,
    WorkItemOut,
    compact_uscc,
)

router = APIRouter(prefix="/v1", tags=["work items"])


@router.get(
    "/workitems",
    response_model=list[WorkItemOut],
    summary="The caller's unit's queue (a supervisor's: the region's), oldest first",
)
async def list_work_items(
    session: DbSession,
    principal: Staff,
    state: Annotated[list[str] | None, Query(max_length=30, description="repeat for several states")] = None,
    due_before: Instant | None = None,
    q: Annotated[str | None, Query(max_length=100, description="reference number, enterprise name or USCC")] = None,
    unit: Annotated[str | None, Query(max_length=100, description="one unit (supervisors)")] = None,
    extension: Annotated[Literal["pending"] | None, Query(description="only items awaiting an extension")] = None,
    order: Annotated[Literal["created", "deadline"], Query(description="deadline: nearest 办结期限 first")] = "created",
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WorkItemOut]:
    query = select(WorkItem).where(visible_items(principal))
    if state:
        query = query.where(WorkItem.state.in_(state))
    if due_before:
        query = query.where(WorkItem.resolve_due_at < due_before)
    if unit:
        query = query.where(WorkItem.unit_code == unit)
    if extension:
        query = query.where(WorkItem.id.in_(select(Extension.work_item_id).where(Extension.state == "pending")))
    if q:
        by_reference = select(RoutedRequest.request_id).where(RoutedRequest.reference_no.contains(q, autoescape=True))
        query = query.where(
            or_(
                WorkItem.subject_name.contains(q, autoescape=True),
                WorkItem.subject_uscc == compact_uscc(q),
                WorkItem.request_id.in_(by_reference),
            )
        )
    if order == "deadline":  # no deadline (a covered item) last
        ordering = (WorkItem.resolve_due_at.is_(None), WorkItem.resolve_due_at, WorkItem.id)
    else:
        ordering = (WorkItem.created_at, WorkItem.id)
    items = list(await session.scalars(query.order_by(*ordering).offset(offset).limit(limit)))
    return await items_out(session, items, principal)


@router.get(
    "/workitems/{item_id}",
    response_model=WorkItemDetailOut,
    response_model_exclude_unset=True,  # dispatch_candidates only where they apply
    summary="One work item, its history and extensions",
)
async def get_work_item(item: VisibleItem, session: DbSession, principal: Staff) -> WorkItemDetailOut:
    [out] = await items_out(session, [item], principal)
    log = await session.scalars(select(WorkItemLog).where(WorkItemLog.work_item_id == item.id).order_by(WorkItemLog.id))
    extensions = await session.scalars(select(Extension).where(Extension.work_item_id == item.id))
    detail = WorkItemDetailOut(
        **out.model_dump(),
        history=await history_out(session, list(log)),
        extensions=[ExtensionOut.model_validate(x) for x in extensions],
    )
    holder = await session.get(DepartmentUnit, item.unit_code)
    coordinating = holder is not None and holder.kind == COORDINATOR and principal.unit == item.unit_code
    if coordinating and item.state in transitions.MOVES["dispatch"].starts:
        returned_by = detail.returned.by_unit if detail.returned else None
        detail.dispatch_candidates = [
            DispatchCandidateOut(
                unit_code=u.unit_code,
                name=u.name,
                kind=u.kind,
                region_code=u.region_code,
                returned_it=u.unit_code == returned_by,
            )
            # The unit that sent it back is still offered (a return may be unfounded), but last.
            for u in sorted(await dispatch_candidates(session, item), key=lambda u: u.unit_code == returned_by)
        ]
    return detail


@router.post(
    "/workitems/{item_id}/files",
    status_code=201,
    response_model=FileOut,
    summary="Upload a file for this item (a certificate PDF/OFD, a form); then name its id in resolve or "
    "request-supplement",
)
async def upload_item_file(
    request: Request,
    session: DbSession,
    principal: Department,
    item: VisibleItem,
    file: Annotated[UploadFile, File()],
) -> FileOut:
    if item.unit_code != principal.unit:
        raise item_not_found()  # assisting units contribute opinions, not the item's documents
    row = await item_files.upload(
        request.app.state.settings, request.app.state.files, session, item, principal.as_actor().ref, file
    )
    out = file_out(item, row)
    await session.commit()
    return out


@router.get(
    "/workitems/{item_id}/files/{file_id}",
    summary="Download a file of this item (the enterprise's attachments, its 补正 answers, your uploads); logged",
    responses=files.DOWNLOAD_RESPONSES,
)
async def download_item_file(
    item_id: str,  # read by VisibleItem; named here too so the document lists the path's parameters in order
    file_id: str,
    request: Request,
    session: DbSession,
    principal: Staff,
    item: VisibleItem,
):
    download = await item_files.download(session, request.app.state.files, item, file_id, principal.as_actor().ref)
    await session.commit()  # the download is logged before the file goes out
    return download


@router.post(
    "/workitems/{item_id}/dispatch",
    response_model=WorkItemOut,
    summary="A coordinating office dispatches an item it holds to a unit of its choice",
)
async def dispatch(body: DispatchIn, request: Request, session: DbSession, principal: Department, item: VisibleItem):
    return await apply_move(request, session, principal, item, "dispatch", ActionInput(to_unit=body.to_unit))


@router.post(
    "/workitems/{item_id}/{action}",
    response_model=WorkItemOut,
    summary="acknowledge · progress · request-supplement · resolve · return · transfer · assist · extension",
)
async def act(
    item_id: str,  # read by VisibleItem; named here too so the document lists the path's parameters in order
    action: str,
    body: ActionIn,
    request: Request,
    session: DbSession,
    principal: Department,
    item: VisibleItem,
):
    if action not in transitions.UNIT_ACTIONS:
        raise Problem(404, "unknown_action", f"未知操作：{action}", f"Unknown action: {action}")
    return await apply_move(request, session, principal, item, action, ActionInput(**body.model_dump()))


async def apply_move(
    request: Request, session: AsyncSession, principal: Principal, item: WorkItem, action: str, data: ActionInput
) -> WorkItemOut:
    """One department move on one item, committed with its events; the relay is woken for them."""
    async with Lifecycle(session, request.app.state.settings) as lifecycle:
        await lifecycle.act(item, action, principal.unit, principal.as_actor(), data)
    [out] = await items_out(session, [item], principal)
    await session.commit()
    request.app.state.runtime.relay.notify()
    return out
