"""Extension requests over HTTP: a supervisor (or admin) of the item's region approves or denies
what a unit asked for with its ``extension`` move."""

from __future__ import annotations

from fastapi import APIRouter, Request

from shared import db
from shared.auth import Overseer
from shared.problems import Problem
from shared.web import DbSession

from ..access import may_see
from ..lifecycle import Lifecycle
from ..models import Extension, WorkItem
from ..schemas import DecisionIn, ExtensionDecisionOut

router = APIRouter(prefix="/v1", tags=["work items"])


@router.post(
    "/extensions/{extension_id}/{decision}",
    response_model=ExtensionDecisionOut,
    summary="A supervisor approves or denies an extension request",
)
async def decide_extension(
    extension_id: str,
    decision: str,
    request: Request,
    session: DbSession,
    principal: Overseer,
    body: DecisionIn | None = None,
) -> ExtensionDecisionOut:
    if decision not in ("approve", "deny"):
        raise Problem(404, "unknown_action", f"未知操作：{decision}", f"Unknown decision: {decision}")
    async with session.begin():
        extension = await session.get(Extension, extension_id)
        item = await db.get_to_change(session, WorkItem, extension.work_item_id) if extension else None
        if item is not None:  # read again under the item's lock: two decisions at once are made once
            extension = await db.get_to_change(session, Extension, extension_id)
        if item is None or not may_see(principal, item):
            raise Problem(404, "extension_not_found", "延期申请不存在", "Extension request not found")
        reason = body.reason if body else None
        async with Lifecycle(session, request.app.state.settings) as lifecycle:
            await lifecycle.decide_extension(extension, item, decision == "approve", principal.as_actor(), reason)
        decided = ExtensionDecisionOut(
            id=extension.id,
            state=extension.state,
            days=extension.days,
            work_item_id=item.id,
            decision_reason=extension.decision_reason,
        )
    request.app.state.runtime.relay.notify()
    return decided
