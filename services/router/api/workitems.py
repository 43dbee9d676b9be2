"""Work items over HTTP: a unit's queue (a supervisor's: the region's), one item with its history
and extensions, its files, and the department's moves. Who sees which item is ``access.py``'s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import files
from shared.auth import Department, Principal, Staff
from shared.logging import mask_mobile, mask_name
from shared.problems import Problem
from shared.validation import Instant
from shared.vocabulary import WORK_ITEM_STATES
from shared.web import DbSession

from .. import item_files, transitions
from ..access import VisibleItem, visible_items
from ..lifecycle import ActionInput, Lifecycle, dispatch_candidates, item_not_found
from ..models import DepartmentUnit, Extension, ItemFile, RoutedRequest, WorkItem, WorkItemLog
from ..routing import COORDINATOR
from ..schemas import (
    ActionIn,
    ContactOut,
    DispatchCandidateOut,
    DispatchIn,
    ExtensionOut,
    FileOut,
    HistoryEntryOut,
    ReturnOut,
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
        history=[history_entry_out(entry) for entry in log],
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


def history_entry_out(entry: WorkItemLog) -> HistoryEntryOut:
    return HistoryEntryOut(
        action=entry.action,
        from_state=entry.from_state,
        to=entry.to_state,
        to_name=WORK_ITEM_STATES.zh(entry.to_state),
        unit_code=entry.unit_code,
        actor=entry.actor,
        actor_name=entry.actor_name,
        note=entry.note,
        at=entry.at.isoformat(),
    )


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


# --- work items as the API shows them ----------------------------------------------------------------------
async def items_out(session: AsyncSession, items: Sequence[WorkItem], principal: Principal) -> list[WorkItemOut]:
    """Work items as the API shows them; what they need besides themselves (their requests, files
    and why a returned one came back) is read in one query each, however many items."""
    if not items:
        return []
    requests = {
        r.request_id: r
        for r in await session.scalars(
            select(RoutedRequest).where(RoutedRequest.request_id.in_({i.request_id for i in items}))
        )
    }
    files = await item_files.of_items(session, items)
    returns = {  # the latest return of each returned item (ascending ids: the last one wins)
        entry.work_item_id: entry
        for entry in await session.scalars(
            select(WorkItemLog)
            .where(WorkItemLog.work_item_id.in_([i.id for i in items if i.state == "returned"]))
            .where(WorkItemLog.action == "return")
            .order_by(WorkItemLog.id)
        )
    }
    return [item_out(i, principal, requests[i.request_id], files[i.id], returns.get(i.id)) for i in items]


def item_out(
    item: WorkItem,
    principal: Principal,
    request: RoutedRequest,
    files: list[ItemFile],
    last_return: WorkItemLog | None,
) -> WorkItemOut:
    body = request.body
    returned = None
    if last_return is not None:
        returned = ReturnOut(
            by_unit=last_return.unit_code, reason=last_return.note, at=last_return.at, by=last_return.actor_name
        )
    return WorkItemOut(
        id=item.id,
        request_id=item.request_id,
        reference_no=request.reference_no,
        request_type=request.request_type,
        item=item.item,
        department_kind=item.department_kind,
        unit_code=item.unit_code,
        subject_uscc=item.subject_uscc,
        subject_name=item.subject_name,
        subject_region=item.subject_region,
        state=item.state,
        state_name=WORK_ITEM_STATES.zh(item.state),
        allowed_actions=transitions.allowed_actions(item.state),
        assisting_units=item.assisting_units or [],
        resolution=item.resolution,
        acknowledge_due_at=item.acknowledge_due_at,
        resolve_due_at=item.resolve_due_at,
        rule_id=item.rule_id,
        rule_version=item.rule_version,
        routing_reason=item.routing_reason,
        description=body.get("description"),
        period_months=body.get("period_months"),
        purpose=body.get("purpose"),
        contact=contact_for(principal, item, body),
        attachments=[file_out(item, f) for f in files],
        returned=returned,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def contact_for(principal: Principal, item: WorkItem, body: dict) -> ContactOut | None:
    """The enterprise's contact: in full for the clerks of the item's unit, masked for others."""
    name, mobile = body.get("contact_name"), body.get("contact_mobile")
    if not (name or mobile):
        return None
    if principal.role == "department" and principal.unit == item.unit_code:
        return ContactOut(name=name, mobile=mobile, masked=False)
    return ContactOut(
        name=mask_name(name) if name else None, mobile=mask_mobile(mobile) if mobile else None, masked=True
    )


def file_out(item: WorkItem, row: ItemFile) -> FileOut:
    return FileOut(
        id=row.id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        origin=row.origin,
        purpose=row.purpose,
        used_in=row.used_in,
        download_url=f"/v1/workitems/{item.id}/files/{row.id}",
    )
