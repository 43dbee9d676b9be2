"""intake's HTTP endpoints under ``/v1``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import catalogue, db, files
from shared.auth import Anyone, ForEnterprise, Principal, decode_token
from shared.problems import Problem, refusals
from shared.signing import link_is_valid
from shared.validation import Instant
from shared.vocabulary import (
    AWAITING_ENTERPRISE,
    REQUEST_STATUSES,
    WORK_ITEM_STATES,
)
from shared.web import DbSession, exports

from . import access, attachments, ledger, listing, messages, read_model, submissions, views, wechat
from .catalogue_forms import form_for
from .models import Attachment
from .schemas import (
    AttachmentOut,
    CreditReportIn,
    CreditReportOut,
    RatableItem,
    RatingIn,
    RatingOut,
    RequestCreate,
    RequestCreated,
    RequestOut,
    RequestPage,
    RequestSummary,
    SupplementIn,
    TokenOut,
    WechatLogin,
    WithdrawIn,
)
from .views import credit_report_out, rating_out

router = APIRouter(prefix="/v1")


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
    responses=refusals(409),  # an Idempotency-Key reused with another body
)
async def submit_request(
    body: RequestCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: Anyone,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> RequestCreated:
    access.authorize_submission(principal, body)
    async with session.begin():
        receipt = await submissions.create_request(session, principal, body, idempotency_key)
    if receipt.new:
        request.app.state.runtime.relay.notify()
    response.headers["Location"] = f"/v1/requests/{receipt.id}"
    return RequestCreated(
        # A replay answers as the first POST did, even if the request has moved on since.
        id=receipt.id,
        reference_no=receipt.reference_no,
        status=submissions.SUBMITTED,
        created_at=receipt.created_at,
    )


@router.get("/requests", tags=["requests"], response_model=RequestPage, summary="The caller's requests, newest first")
async def list_requests(
    session: DbSession,
    principal: Anyone,
    status: Annotated[str | None, Query(max_length=30)] = None,
    type: Annotated[str | None, Query(max_length=40)] = None,
    created_from: Annotated[Instant | None, Query(alias="from")] = None,
    created_to: Annotated[Instant | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    uscc: Annotated[
        str | None, Query(pattern=r"^[0-9A-Z]{18}$", description="only this enterprise's requests (one you serve)")
    ] = None,
) -> RequestPage:
    if not access.may_keep_ledger(principal):
        raise Problem(403, "forbidden", "部门请使用工单接口", "Departments use the work-item API")
    if uscc:
        access.may_filter_by(principal, uscc)
    rows, next_cursor = await listing.list_requests(
        session,
        principal,
        status=status,
        type_=type,
        created_from=created_from,
        created_to=created_to,
        cursor=cursor,
        limit=limit,
        uscc=uscc,
    )
    return RequestPage(
        items=[
            RequestSummary(
                id=r.id,
                reference_no=r.reference_no,
                type=r.type,
                status=r.status,
                status_name=REQUEST_STATUSES.zh(r.status),
                your_turn=r.status in AWAITING_ENTERPRISE,
                enterprise_uscc=r.enterprise_uscc,
                enterprise_name=r.enterprise_name,
                created_at=r.created_at,
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


@router.get("/requests/{request_id}", tags=["requests"], response_model=RequestOut, summary="One request's progress")
async def get_request(request_id: str, session: DbSession, principal: Anyone) -> RequestOut:
    # One moment: the request's status and its items' states are read apart, and a status
    # written with an item's news must not be shown beside the news before it (or after).
    await db.snapshot(session)
    req = await access.load_request(session, principal, request_id)
    return await views.request_out(session, principal, req)


@router.get(
    "/requests/{request_id}/files/{file_id}",
    tags=["attachments"],
    summary="Download a file of a request (yours, or what a unit issued); every download is logged",
    responses=files.DOWNLOAD_RESPONSES,
)
async def download_request_file(request_id: str, file_id: str, request: Request, session: DbSession, principal: Anyone):
    async with session.begin():
        req = await access.load_request(session, principal, request_id)
        found = await session.get(Attachment, file_id)
        if found is None or found.request_id != req.id:
            raise attachments.not_found()
        return attachments.download(session, request.app.state.files, found, principal.as_actor().ref)


async def _act(request: Request, session: AsyncSession, principal: Principal, request_id: str, action, body) -> None:
    async with session.begin():
        req = await access.load_request_to_change(session, principal, request_id)
        await action(session, principal, req, body)
    request.app.state.runtime.relay.notify()


@router.post(
    "/requests/{request_id}/supplements",
    status_code=202,
    tags=["requests"],
    summary="Answer a department's 补正 request; it restarts that department's clock",
)
async def post_supplement(
    request_id: str, body: SupplementIn, request: Request, session: DbSession, principal: ForEnterprise
):
    await _act(request, session, principal, request_id, submissions.supplement, body)
    return {"status": "sent"}


@router.post(
    "/requests/{request_id}/credit-reports",
    status_code=201,
    tags=["requests"],
    response_model=CreditReportOut,
    summary="信用代证: upload a subject's 专项信用报告 (PDF from POST /v1/attachments); the items it covers "
    "count as fulfilled",
)
async def post_credit_report(
    request_id: str, body: CreditReportIn, request: Request, session: DbSession, principal: ForEnterprise
) -> CreditReportOut:
    async with session.begin():
        req = await access.load_request_to_change(session, principal, request_id)
        report = await submissions.upload_credit_report(session, principal, req, body)
        items = await read_model.work_items_of(session, req.id)
        files = {f.id: f for f in await session.scalars(select(Attachment).where(Attachment.request_id == req.id))}
        # The router and the statistics learn of it too: the covered items are fulfilled everywhere.
        await messages.credit_report_uploaded(session, report, files[report.attachment_id], principal.as_actor())
    request.app.state.runtime.relay.notify()
    return credit_report_out(report, items, files)


@router.get(
    "/requests/{request_id}/ratings",
    tags=["requests"],
    response_model=list[RatableItem],
    summary="好差评: every work item of the request, which may be rated now, and the ratings given",
)
async def get_ratings(request_id: str, session: DbSession, principal: Anyone) -> list[RatableItem]:
    req = await access.load_request(session, principal, request_id)
    given = await read_model.ratings_of(session, req.id)
    owner = access.is_owner(principal, req)
    return [
        RatableItem(
            work_item_id=item.id,
            unit_name=item.unit_name,
            item=item.item,
            subject_name=item.subject_name,
            status=item.status,
            status_name=WORK_ITEM_STATES.zh(item.status),
            may_rate=owner and submissions.next_attempt(item, given.get(item.id, [])) is not None,
            ratings=[rating_out(r) for r in given.get(item.id, [])],
        )
        for item in await read_model.work_items_of(session, req.id)
    ]


@router.post(
    "/requests/{request_id}/ratings",
    status_code=201,
    tags=["requests"],
    response_model=RatingOut,
    summary="Rate one finished work item (好差评, five levels); 不满意 or worse reopens that item alone (重办)",
)
async def post_rating(request_id: str, body: RatingIn, request: Request, session: DbSession, principal: ForEnterprise):
    async with session.begin():
        req = await access.load_request_to_change(session, principal, request_id)
        rating = await submissions.rate(session, principal, req, body)
        out = rating_out(rating)
    request.app.state.runtime.relay.notify()
    return out


@router.post(
    "/requests/{request_id}/withdraw",
    status_code=202,
    tags=["requests"],
    summary="Withdraw before resolution; every department with an open item is told",
)
async def post_withdraw(
    request_id: str, request: Request, session: DbSession, principal: ForEnterprise, body: WithdrawIn | None = None
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
    request: Request, session: DbSession, principal: ForEnterprise, file: Annotated[UploadFile, File()]
) -> AttachmentOut:
    settings = request.app.state.settings
    async with session.begin():
        stored = await attachments.store(settings, request.app.state.files, session, principal, file)
    return AttachmentOut.model_validate(stored, from_attributes=True)


@router.get(
    "/attachments/{attachment_id}",
    tags=["attachments"],
    summary="Download your own upload",
    responses=files.DOWNLOAD_RESPONSES,
)
async def download_own(attachment_id: str, request: Request, session: DbSession, principal: Anyone):
    async with session.begin():
        found = await session.get(Attachment, attachment_id)
        if found is None or found.uploaded_by != principal.sub:
            raise attachments.not_found()
        return attachments.download(session, request.app.state.files, found, principal.as_actor().ref)


@router.get(
    "/attachments/{attachment_id}/download",
    tags=["attachments"],
    summary="Download by a signed, time-limited link (what department systems receive over Kafka)",
    responses={**files.DOWNLOAD_RESPONSES, **refusals(403)},
)
async def download_signed(
    attachment_id: str,
    request: Request,
    session: DbSession,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
):
    if not link_is_valid(request.app.state.settings.signing_key, attachment_id, expires, signature):
        raise Problem(403, "link_invalid", "下载链接无效或已过期", "The download link is invalid or has expired")
    async with session.begin():
        found = await session.get(Attachment, attachment_id)
        if found is None:
            raise attachments.not_found()
        return attachments.download(session, request.app.state.files, found, "signed-link")


# --- ledger -----------------------------------------------------------------------------------------------
@router.get(
    "/ledger",
    tags=["ledger"],
    summary="问题台账: every request and work item in your scope",
    responses=exports("json", "csv", "xlsx"),
)
async def get_ledger(
    request: Request,
    principal: Anyone,
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
    selected = ledger.query(
        principal,
        status=status,
        type_=type,
        created_from=created_from,
        created_to=created_to,
        unit_code=unit_code,
    )
    data = ledger.rows(request.app.state.runtime.sessions, selected)
    if format == "csv":
        return StreamingResponse(
            ledger.csv_chunks(data),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="ledger.csv"'},
        )
    if format == "xlsx":
        return StreamingResponse(
            ledger.xlsx_chunks(data),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="ledger.xlsx"'},
        )
    rows = [row async for row in data]
    return JSONResponse({"rows": rows, "count": len(rows)})


# --- WeChat login -------------------------------------------------------------------------------------
_optional_bearer = HTTPBearer(auto_error=False)


@router.post(
    "/auth/wechat",
    tags=["auth"],
    response_model=TokenOut,
    summary="Log in from the WeChat mini-program; the first time, also send your account's token to bind",
    responses=refusals(503),
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},  # the token is optional: only to bind
)
async def wechat_login(
    body: WechatLogin,
    request: Request,
    session: DbSession,
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
