"""intake's HTTP endpoints under ``/v1``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue
from shared.auth import Principal, current_principal
from shared.problems import Problem

from . import service
from .schemas import RequestCreate, RequestCreated, RequestOut, TimelineEntryOut, WorkItemOut

router = APIRouter(prefix="/v1")


async def db_session(request: Request):
    async with request.app.state.runtime.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(db_session)]
Caller = Annotated[Principal, Depends(current_principal)]


@router.get("/catalogue", tags=["catalogue"], summary="Request types, their items and purposes")
async def get_catalogue() -> dict:
    def term(t: catalogue.Term) -> dict:
        return {"code": t.code, "zh": t.zh, "en": t.en}

    return {
        "request_types": [
            {
                "code": t.code,
                "zh": t.zh,
                "en": t.en,
                "items": [term(i) for i in t.items],
                "multiple_items": t.multiple_items,
            }
            for t in catalogue.REQUEST_TYPES.values()
        ],
        "purposes": [term(p) for p in catalogue.PURPOSES],
    }


@router.post(
    "/requests",
    status_code=201,
    tags=["requests"],
    response_model=RequestCreated,
    summary="Submit a request (one submission for many departments)",
)
async def submit_request(
    body: RequestCreate,
    request: Request,
    response: Response,
    session: Session,
    principal: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> RequestCreated:
    service.authorize_submission(principal, body)
    async with session.begin():
        created, is_new = await service.create_request(session, principal, body, idempotency_key)
    if is_new:
        request.app.state.runtime.relay.notify()
    response.headers["Location"] = f"/v1/requests/{created.id}"
    return RequestCreated(
        id=created.id, reference_no=created.reference_no, status=created.status, created_at=created.created_at
    )


@router.get("/requests/{request_id}", tags=["requests"], response_model=RequestOut, summary="One request's progress")
async def get_request(request_id: str, session: Session, principal: Caller) -> RequestOut:
    req = await service.load_request(session, principal, request_id)
    items = await service.work_items_of(session, req.id)
    timeline = await service.timeline_of(session, req.id)
    body = req.body
    open_dues = [i.due_at for i in items if i.status in service.OPEN_STATES and i.due_at is not None]
    return RequestOut(
        id=req.id,
        reference_no=req.reference_no,
        type=req.type,
        status=req.status,
        enterprise=body["enterprise"],
        subjects=[body["enterprise"], *body.get("subjects", [])],
        items=body["items"],
        period_months=body.get("period_months"),
        purpose=body.get("purpose"),
        description=body.get("description"),
        contact=body.get("contact") if service.is_owner(principal, req) else None,
        attachments=body.get("attachments", []),
        submitted_by_role=req.submitted_by_role,
        created_at=req.created_at,
        expected_at=max(open_dues) if open_dues else None,
        work_items=[WorkItemOut.model_validate(i, from_attributes=True) for i in items],
        timeline=[
            TimelineEntryOut(
                at=t.occurred_at,
                event=t.event,
                work_item_id=t.work_item_id,
                unit_code=t.unit_code,
                unit_name=t.unit_name,
                summary=t.summary,
            )
            for t in timeline
        ],
    )


__all__ = ["Problem", "router"]
