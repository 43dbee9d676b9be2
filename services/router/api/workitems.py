"""Work items over HTTP: a unit's queue (a supervisor's: the region's), one item with its history
and extensions, its files, and the department's moves. Who sees which item is ``access.py``'s."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import files
from shared.auth import Department, Principal, Staff
from shared.problems import Problem, wants_english
from shared.validation import Instant, RequestTypeCode
from shared.vocabulary import QUEUE_ORDERS, QUEUE_TABS, TAB_STATES
from shared.web import DbSession

from .. import comments, item_files, queue, transitions
from ..access import VisibleItem
from ..document_views import issued_by
from ..item_views import file_out, history_out, items_out
from ..keyset import Order
from ..lifecycle import ActionInput, Lifecycle, dispatch_candidates, item_not_found
from ..models import DepartmentUnit, Extension, WorkItem, WorkItemLog
from ..routing import COORDINATOR
from ..schemas import (
    ActionIn,
    BulkAcknowledgeIn,
    BulkAcknowledgeOut,
    BulkOutcomeOut,
    DispatchCandidateOut,
    DispatchIn,
    ExtensionOut,
    FileOut,
    QueueCountsOut,
    TabCountOut,
    WorkItemDetailOut,
    WorkItemOut,
)

router = APIRouter(prefix="/v1", tags=["work items"])


async def queue_filters(
    q: Annotated[
        str | None, Query(max_length=100, description="reference number, subject name or USCC, across every tab")
    ] = None,
    enterprise: Annotated[
        str | None, Query(max_length=100, description="the applying enterprise or the subject: USCC or part of a name")
    ] = None,
    unit: Annotated[str | None, Query(max_length=100, description="one unit (supervisors)")] = None,
    due_from: Annotated[Instant | None, Query(description="the deadline that counts now (签收, 办结) from")] = None,
    due_to: Annotated[Instant | None, Query(description="… before this instant")] = None,
    due_before: Annotated[Instant | None, Query(description="the 办结 deadline before this instant")] = None,
    sla: Annotated[
        Literal["overdue", "paused", "running"] | None,
        Query(description="已超期 · 暂停计时 (补正) · 正常计时"),
    ] = None,
    extension: Annotated[Literal["pending"] | None, Query(description="only items awaiting an extension")] = None,
    assignee: Annotated[
        str | None, Query(max_length=120, description="承办人: me · none (unassigned) · a clerk's token subject")
    ] = None,
    open: Annotated[bool | None, Query(description="true: only open items (我的待办 with assignee=me)")] = None,
    request_type: Annotated[RequestTypeCode | None, Query(description="one kind of request")] = None,
) -> queue.Filters:
    return queue.Filters(
        q=q,
        enterprise=enterprise,
        unit=unit,
        due_from=due_from,
        due_to=due_to,
        due_before=due_before,
        sla=sla,
        extension=extension,
        assignee=assignee,
        open=open,
        request_type=request_type,
    )


QueueFilters = Annotated[queue.Filters, Depends(queue_filters)]


@router.get(
    "/workitems",
    response_model=list[WorkItemOut],
    summary="The caller's unit's queue (a supervisor's: the region's), oldest first; every item says its tab",
)
async def list_work_items(
    response: Response,
    session: DbSession,
    principal: Staff,
    filters: QueueFilters,
    state: Annotated[list[str] | None, Query(max_length=30, description="repeat for several states")] = None,
    tab: Annotated[
        Literal[tuple(QUEUE_TABS)] | None,  # type: ignore[valid-type]
        Query(description="one tab's states (new · working · supplement · done · returned)"),
    ] = None,
    order: Annotated[
        Literal[tuple(QUEUE_ORDERS)],  # type: ignore[valid-type]
        Query(description="deadline (the one that counts now) · created (received) · enterprise · state"),
    ] = "created",
    desc: Annotated[bool, Query(description="the order reversed")] = False,
    after: Annotated[
        str | None, Query(max_length=1000, description="the previous page's X-Next-Cursor: the page after it")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WorkItemOut]:
    """A full page says where the next one starts in its ``X-Next-Cursor`` header (keyset paging)."""
    filters.states = [*(state or []), *(TAB_STATES[tab] if tab else [])] or None
    ordering = Order(order, desc)
    if after:
        ordering.read_cursor(after)
    items = await queue.find(session, principal, filters, ordering, offset, limit)
    if len(items) == limit:
        response.headers["X-Next-Cursor"] = ordering.cursor_of(items[-1])
    return await items_out(session, items, principal)


@router.get(
    "/workitems/counts",
    response_model=QueueCountsOut,
    summary="How many items each tab holds under the same filters as the list (a search across all tabs)",
)
async def count_work_items(session: DbSession, principal: Staff, filters: QueueFilters) -> QueueCountsOut:
    counts = await queue.tab_counts(session, principal, filters)
    return QueueCountsOut(
        tabs=[TabCountOut(**QUEUE_TABS[tab].as_dict(), count=n) for tab, n in counts.items()],
        total=sum(counts.values()),
    )


@router.post(
    "/workitems/acknowledge",
    response_model=BulkAcknowledgeOut,
    summary="签收 of many items at once (select all): each signs or says why not",
)
async def acknowledge_many(
    body: BulkAcknowledgeIn, request: Request, session: DbSession, principal: Department
) -> BulkAcknowledgeOut:
    outcomes = await queue.acknowledge_all(session, request.app.state.settings, principal, body.ids)
    await session.commit()
    request.app.state.runtime.relay.notify()
    english = wants_english(request)
    return BulkAcknowledgeOut(
        acknowledged=sum(o.ok for o in outcomes),
        results=[
            BulkOutcomeOut(
                id=o.id,
                ok=o.ok,
                state=o.state,
                code=o.code,
                message=(o.message_en if english else o.message_zh) if not o.ok else None,
            )
            for o in outcomes
        ],
    )


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
        documents=await issued_by(session, item.id),
        comments=await comments.of_item(session, item.id),  # staff only: this route is Staff's
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
