"""Work items as the API shows them: each with its request's details, its files, the names of the
units it names, and why it is where it is (a return to the coordinating office, a 转办 from
another unit). What they need besides themselves is read in one query each, however many items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.logging import mask_mobile, mask_name
from shared.vocabulary import WORK_ITEM_STATES, tab_of

from . import item_files, proofs, transitions
from .models import DepartmentUnit, Extension, ItemFile, RoutedRequest, WorkItem, WorkItemLog
from .schemas import ContactOut, ExtensionOut, FileOut, HistoryEntryOut, ReturnOut, TransferOut, WorkItemOut

# The moves that take an item from one unit to another: the latest says why it is where it is.
UNIT_MOVES = ("return", "transfer", "dispatch", "return-to-enterprise")


@dataclass
class Context:
    """What the items of one answer need besides themselves."""

    requests: dict[str, RoutedRequest]
    files: dict[str, list[ItemFile]]
    last_moves: dict[str, WorkItemLog]
    names: dict[str, str]
    pending: dict[str, Extension]  # each item's extension request awaiting a decision

    def name(self, unit_code: str) -> str:
        return self.names.get(unit_code, unit_code)


async def unit_names(session: AsyncSession, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = await session.execute(
        select(DepartmentUnit.unit_code, DepartmentUnit.name).where(DepartmentUnit.unit_code.in_(codes))
    )
    return dict(rows.all())


async def context_of(session: AsyncSession, items: Sequence[WorkItem]) -> Context:
    requests = {
        r.request_id: r
        for r in await session.scalars(
            select(RoutedRequest).where(RoutedRequest.request_id.in_({i.request_id for i in items}))
        )
    }
    last_moves = {  # ascending ids: the last one wins
        entry.work_item_id: entry
        for entry in await session.scalars(
            select(WorkItemLog)
            .where(WorkItemLog.work_item_id.in_([i.id for i in items]), WorkItemLog.action.in_(UNIT_MOVES))
            .order_by(WorkItemLog.id)
        )
    }
    codes = {i.unit_code for i in items} | {c for i in items for c in i.assisting_units or []}
    codes |= {entry.unit_code for entry in last_moves.values()}
    pending = {
        extension.work_item_id: extension
        for extension in await session.scalars(
            select(Extension).where(Extension.work_item_id.in_([i.id for i in items]), Extension.state == "pending")
        )
    }
    files = await item_files.of_items(session, items)
    return Context(requests, files, last_moves, await unit_names(session, codes), pending)


async def items_out(session: AsyncSession, items: Sequence[WorkItem], principal: Principal) -> list[WorkItemOut]:
    if not items:
        return []
    context = await context_of(session, items)
    return [item_out(i, principal, context) for i in items]


def item_out(item: WorkItem, principal: Principal, context: Context) -> WorkItemOut:
    request = context.requests[item.request_id]
    body = request.body
    move = context.last_moves.get(item.id)
    returned = transferred = None
    if move is not None and move.action == "return" and item.state == "returned":
        returned = ReturnOut(
            by_unit=move.unit_code,
            by_unit_name=context.name(move.unit_code),
            reason=move.note,
            at=move.at,
            by=move.actor_name,
        )
    if move is not None and move.action == "transfer":
        transferred = TransferOut(
            from_unit=move.unit_code,
            from_unit_name=context.name(move.unit_code),
            by=move.actor_name,
            reason=move.note,
            at=move.at,
        )
    return WorkItemOut(
        id=item.id,
        request_id=item.request_id,
        reference_no=request.reference_no,
        request_type=request.request_type,
        item=item.item,
        department_kind=item.department_kind,
        unit_code=item.unit_code,
        unit_name=context.name(item.unit_code),
        subject_uscc=item.subject_uscc,
        subject_name=item.subject_name,
        subject_region=item.subject_region,
        subject_proof=proofs.proof_out(body, item, context.files[item.id], file_out),
        state=item.state,
        state_name=WORK_ITEM_STATES.zh(item.state),
        tab=tab_of(item.state),
        allowed_actions=transitions.allowed_actions(item.state),
        assisting_units=item.assisting_units or [],
        assisting_unit_names=[context.name(c) for c in item.assisting_units or []],
        resolution=item.resolution,
        acknowledge_due_at=item.acknowledge_due_at,
        resolve_due_at=item.resolve_due_at,
        sla_paused=bool(item.sla_paused),
        rule_id=item.rule_id,
        rule_version=item.rule_version,
        routing_reason=item.routing_reason,
        description=body.get("description"),
        period_months=body.get("period_months"),
        purpose=body.get("purpose"),
        contact=contact_for(principal, item, body),
        attachments=[file_out(item, f) for f in context.files[item.id]],
        returned=returned,
        transferred=transferred,
        assignee_sub=item.assignee_sub,
        assignee_name=item.assignee_name,
        pending_extension=ExtensionOut.model_validate(context.pending[item.id]) if item.id in context.pending else None,
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


async def history_out(session: AsyncSession, entries: Sequence[WorkItemLog]) -> list[HistoryEntryOut]:
    names = await unit_names(session, {entry.unit_code for entry in entries})
    return [
        HistoryEntryOut(
            action=entry.action,
            from_state=entry.from_state,
            to=entry.to_state,
            to_name=WORK_ITEM_STATES.zh(entry.to_state),
            unit_code=entry.unit_code,
            unit_name=names.get(entry.unit_code, entry.unit_code),
            actor=entry.actor,
            actor_name=entry.actor_name,
            note=entry.note,
            at=entry.at.isoformat(),
        )
        for entry in entries
    ]
