"""intake's HTTP endpoints under ``/v1``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue
from shared.auth import Principal, current_principal, decode_token, require_roles
from shared.events import OPEN_STATES
from shared.problems import Problem
from shared.signing import link_is_valid
from shared.validation import Instant
from shared.web import DbSession

from . import access, attachments, ledger, listing, read_model, submissions, timeline, wechat
from .catalogue_forms import form_for
from .models import Attachment
from .schemas import (
    AttachmentOut,
    RatingIn,
    RequestCreate,
    RequestCreated,
    RequestOut,
    RequestPage,
    RequestSummary,
    SupplementIn,
    TimelineEntryOut,
    TokenOut,
    WechatLogin,
    WithdrawIn,
    WorkItemOut,
)

router = APIRouter(prefix="/v1")


Session = DbSession
Caller = Annotated[Principal, Depends(current_principal)]
Submitter = Annotated[Principal, Depends(require_roles("enterprise", "liaison"))]


@router.get("/catalogue", tags=["catalogue"], summary="Request types, their items and the form fields of each")
async def get_catalogue(request: Request) -> dict:
    settings = request.app.state.settings
    return {
        "request_types": [
            {
                "code": t.code,
                "zh": t.zh,
                "en": t.en,
                "items": [i.as_dict() for i in t.items],
                "multiple_items": t.multiple_items,
                "form": form_for(t, settings),
            }
            for t in catalogue.REQUEST_TYPES.values()
        ],
        "purposes": [p.as_dict() for p in catalogue.PURPOSES],
    }


# --- requests -----------------------------------------------------------------------------------------
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
    access.authorize_submission(principal, body)
    try:
        async with session.begin():
            created, is_new = await submissions.create_request(session, principal, body, idempotency_key)
    except IntegrityError:
        if not idempotency_key:
            raise
        # A concurrent retry with the same key won the race: answer as it did.
        async with session.begin():
            created, is_new = await submissions.create_request(session, principal, body, idempotency_key)
    if is_new:
        request.app.state.runtime.relay.notify()
    response.headers["Location"] = f"/v1/requests/{created.id}"
    return RequestCreated(
        # A replay answers as the first POST did, even if the request has moved on since.
        id=created.id,
        reference_no=created.reference_no,
        status=submissions.SUBMITTED,
        created_at=created.created_at,
    )


@router.get("/requests", tags=["requests"], response_model=RequestPage, summary="The caller's requests, newest first")
async def list_requests(
    session: Session,
    principal: Caller,
    status: Annotated[str | None, Query(max_length=30)] = None,
    type: Annotated[str | None, Query(max_length=40)] = None,
    created_from: Annotated[Instant | None, Query(alias="from")] = None,
    created_to: Annotated[Instant | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RequestPage:
    if not access.may_keep_ledger(principal):
        raise Problem(403, "forbidden", "部门请使用工单接口", "Departments use the work-item API")
    rows, next_cursor = await listing.list_requests(
        session,
        principal,
        status=status,
        type_=type,
        created_from=created_from,
        created_to=created_to,
        cursor=cursor,
        limit=limit,
    )
    return RequestPage(
        items=[RequestSummary.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=next_cursor,
    )


@router.get("/requests/{request_id}", tags=["requests"], response_model=RequestOut, summary="One request's progress")
async def get_request(request_id: str, session: Session, principal: Caller) -> RequestOut:
    req = await access.load_request(session, principal, request_id)
    items = await read_model.work_items_of(session, req.id)
    entries = await timeline.timeline_of(session, req.id)
    body = req.body
    open_dues = [i.due_at for i in items if i.status in OPEN_STATES and i.due_at is not None]
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
        contact=body.get("contact") if access.is_owner(principal, req) else None,
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
            for t in entries
        ],
    )


async def _act(request: Request, session: AsyncSession, principal: Principal, request_id: str, action, body) -> None:
    async with session.begin():
        req = await access.load_request(session, principal, request_id)
        await action(session, principal, req, body)
    request.app.state.runtime.relay.notify()


@router.post(
    "/requests/{request_id}/supplements",
    status_code=202,
    tags=["requests"],
    summary="Answer a department's 补正 request; it restarts that department's clock",
)
async def post_supplement(
    request_id: str, body: SupplementIn, request: Request, session: Session, principal: Submitter
):
    await _act(request, session, principal, request_id, submissions.supplement, body)
    return {"status": "sent"}


@router.post(
    "/requests/{request_id}/rating",
    status_code=201,
    tags=["requests"],
    summary="Rate the result once all items are resolved; 1 or 2 reopens the named items (重办)",
)
async def post_rating(request_id: str, body: RatingIn, request: Request, session: Session, principal: Submitter):
    await _act(request, session, principal, request_id, submissions.rate, body)
    return {"score": body.score, "reopened": body.reopen}


@router.post(
    "/requests/{request_id}/withdraw",
    status_code=202,
    tags=["requests"],
    summary="Withdraw before resolution; every department with an open item is told",
)
async def post_withdraw(
    request_id: str, request: Request, session: Session, principal: Submitter, body: WithdrawIn | None = None
):
    await _act(request, session, principal, request_id, submissions.withdraw, body or WithdrawIn())
    return {"status": "withdrawn"}


# --- attachments ------------------------------------------------------------------------------------
@router.post(
    "/attachments",
    status_code=201,
    tags=["attachments"],
    response_model=AttachmentOut,
    summary="Upload a PDF, OFD, JPEG or PNG file (20 MB at most)",
)
async def upload_attachment(
    request: Request, session: Session, principal: Submitter, file: Annotated[UploadFile, File()]
) -> AttachmentOut:
    settings = request.app.state.settings
    async with session.begin():
        stored = await attachments.store(settings, session, principal, file)
    return AttachmentOut.model_validate(stored, from_attributes=True)


def _attachment_not_found() -> Problem:
    return Problem(404, "attachment_not_found", "附件不存在", "Attachment not found")


@router.get("/attachments/{attachment_id}", tags=["attachments"], summary="Download your own upload")
async def download_own(attachment_id: str, request: Request, session: Session, principal: Caller) -> FileResponse:
    found = await session.get(Attachment, attachment_id)
    if found is None or found.uploaded_by != principal.sub:
        raise _attachment_not_found()
    return _file(request, found)


@router.get(
    "/attachments/{attachment_id}/download",
    tags=["attachments"],
    summary="Download by a signed, time-limited link (what departments receive)",
)
async def download_signed(
    attachment_id: str,
    request: Request,
    session: Session,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> FileResponse:
    if not link_is_valid(request.app.state.settings.signing_key, attachment_id, expires, signature):
        raise Problem(403, "link_invalid", "下载链接无效或已过期", "The download link is invalid or has expired")
    found = await session.get(Attachment, attachment_id)
    if found is None:
        raise _attachment_not_found()
    return _file(request, found)


def _file(request: Request, found: Attachment) -> FileResponse:
    path = attachments.content_path(request.app.state.settings, found.sha256)
    return FileResponse(path, media_type=found.content_type, filename=found.filename)


# --- ledger -----------------------------------------------------------------------------------------------
@router.get("/ledger", tags=["ledger"], summary="问题台账: every request and work item in your scope")
async def get_ledger(
    session: Session,
    principal: Caller,
    format: Literal["json", "csv", "xlsx"] = "json",
    status: Annotated[str | None, Query(max_length=30)] = None,
    type: Annotated[str | None, Query(max_length=40)] = None,
    created_from: Annotated[Instant | None, Query(alias="from")] = None,
    created_to: Annotated[Instant | None, Query(alias="to")] = None,
    unit_code: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    if not access.may_keep_ledger(principal):
        raise Problem(
            403,
            "forbidden",
            "台账仅供联络员、协调办和督办查看",
            "The ledger is for liaison, coordinators and supervisors",
        )
    data = await ledger.rows(
        session,
        principal,
        status=status,
        type_=type,
        created_from=created_from,
        created_to=created_to,
        unit_code=unit_code,
    )
    if format == "csv":
        return Response(
            ledger.to_csv(data),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="ledger.csv"'},
        )
    if format == "xlsx":
        return Response(
            ledger.to_xlsx(data),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="ledger.xlsx"'},
        )
    return JSONResponse({"rows": data, "count": len(data)})


# --- WeChat login -------------------------------------------------------------------------------------
_optional_bearer = HTTPBearer(auto_error=False)


@router.post(
    "/auth/wechat",
    tags=["auth"],
    response_model=TokenOut,
    summary="Log in from the WeChat mini-program; the first time, also send your account's token to bind",
)
async def wechat_login(
    body: WechatLogin,
    request: Request,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)] = None,
) -> TokenOut:
    settings = request.app.state.settings
    binder = None
    if credentials is not None:
        try:
            binder = decode_token(settings, credentials.credentials)
        except Exception as exc:
            raise Problem(401, "invalid_token", "登录凭证无效或已过期", "Invalid or expired token") from exc
    async with session.begin():
        token, binding = await wechat.login(settings, session, body.code, binder)
    request.app.state.runtime.relay.notify()
    return TokenOut(access_token=token, role=binding.role, usccs=binding.usccs)
