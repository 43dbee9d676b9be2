"""Public verification of issued documents, no account (issue 27): by 核验码, by the PDF a reader
holds, the QR code, and a batch for a 保荐机构. Every lookup is rate-limited per client
(``LookupLimiter``: 429 with Retry-After; misses count more strictly, so nobody enumerates codes)
and every lookup of an existing code is logged for the issuing unit. A malformed code answers
exactly as an unknown one (404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.clock import reading_now
from shared.problems import Problem, invalid_field
from shared.web import DbSession

from .. import messages
from ..document_models import IssuedDocumentRow, VerificationLookup
from ..document_schemas import FileCheckOut, VerificationOut
from ..document_views import not_found, public_json
from ..documents import codes, qr, verification
from ..issuance import client_key, document_fields, document_message
from . import verification_batch

router = APIRouter(prefix="/v1", tags=["verification"])

PUBLIC = {404: {"description": "未找到该核验码 (unknown or malformed code)"}, 429: {"description": "稍后再试"}}


def limiter(request: Request) -> verification.LookupLimiter:
    """One limiter per app (in memory, or the storage the settings name, shared by replicas)."""
    state = request.app.state
    if getattr(state, "verification_limiter", None) is None:
        state.verification_limiter = verification.LookupLimiter.from_settings(state.settings)
    return state.verification_limiter


def client_of(request: Request) -> str:
    """The reader's address: the one the server saw, or, when that is a trusted proxy (the pages'
    server), the nearest address in X-Forwarded-For that is not one."""
    seen = request.client.host if request.client else "unknown"
    trusted = set(request.app.state.settings.verification_trusted_proxies)
    if seen not in trusted:
        return seen
    chain = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
    return next((a for a in reversed(chain) if a not in trusted), seen)


async def admit(request: Request) -> str:
    """Counts one lookup for the caller, or refuses it (429 with Retry-After)."""
    client = client_of(request)
    decision = await limiter(request).lookup(client)
    if not decision.allowed:
        raise Problem(
            429,
            "too_many_lookups",
            f"查询过于频繁，请 {decision.retry_after} 秒后再试",
            f"Too many lookups: try again in {decision.retry_after} s",
            extra={"retry_after": decision.retry_after},
            headers=decision.headers,
        )
    return client


async def find(request: Request, session: AsyncSession, code: str, client: str) -> IssuedDocumentRow:
    """The document of ``code`` in any form a person types; a miss counts against the caller."""
    try:
        doc = await session.get(IssuedDocumentRow, codes.normalise(code))
    except codes.MalformedCode:
        doc = None
    if doc is None:
        await limiter(request).miss(client)
        raise not_found()
    return doc


async def log_lookups(
    request: Request, session: AsyncSession, docs: list[IssuedDocumentRow], client: str, channel: str, match=None
) -> None:
    """Logs each lookup for the issuing unit and announces it (cn.xiaoer.document.verified), committed."""
    settings, now = request.app.state.settings, reading_now()
    who = client_key(settings, client)
    outgoing = []
    for doc in docs:
        session.add(VerificationLookup(code=doc.code, channel=channel, client=who, match=match, at=now))
        event = events.DocumentVerified(
            **document_fields(doc), occurred_at=now, channel=channel, status=doc.status, match=match
        )
        outgoing.append(document_message(event, doc))
    await messages.emit(session, outgoing)
    await session.commit()
    request.app.state.runtime.relay.notify()


@router.get(
    "/verifications/{code}",
    summary="核验: the public record of a document by its 核验码",
    responses=PUBLIC,
    response_model=VerificationOut,
)
async def verify(code: str, request: Request, session: DbSession) -> dict[str, Any]:
    client = await admit(request)
    doc = await find(request, session, code, client)
    body = public_json(doc, request.app.state.settings, reading_now())
    await log_lookups(request, session, [doc], client, "code")
    return body


@router.get(
    "/verifications/{code}/qr.svg",
    summary="The QR code that opens the verification page (SVG)",
    responses={**PUBLIC, 200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
)
async def verification_qr(code: str, request: Request, session: DbSession) -> Response:
    client = await admit(request)
    doc = await find(request, session, code, client)
    url = public_json(doc, request.app.state.settings, reading_now())["verify_url"]
    return Response(qr.svg(url), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


async def read_pdf(upload: UploadFile, max_bytes: int) -> bytes:
    """At most ``max_bytes`` + 1 bytes of the upload, refused (422 on ``file``) unless a PDF within the limit."""
    data = await upload.read(max_bytes + 1)
    try:
        verification.check_pdf_upload(data, max_bytes)
    except verification.UploadRefused as refused:
        raise invalid_field("file", refused.code, refused.zh, refused.en) from refused
    return data


@router.post(
    "/verifications/{code}/file",
    summary="Whether a PDF is byte for byte the registered file (与登记的文件一致 / 不一致)",
    responses={**PUBLIC, 422: {"description": "not a PDF, empty, or over the size limit (field file)"}},
    response_model=FileCheckOut,
)
async def verify_file(
    code: str, request: Request, session: DbSession, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    client = await admit(request)
    doc = await find(request, session, code, client)
    data = await read_pdf(file, request.app.state.settings.verification_pdf_max_bytes)
    check = verification.compare_upload(doc.sha256, data)
    await log_lookups(request, session, [doc], client, "file", match=check.identical)
    return {
        "match": check.identical,
        "message": check.result.zh,
        "message_en": check.result.en,
        "sha256": check.sha256,
        "registered_sha256": doc.sha256,
    }


@router.post(
    "/verifications/batch",
    summary="Batch verification: JSON {codes: [...]} or multipart file (CSV of codes, ZIP of PDFs); Accept text/csv",
    responses={**PUBLIC, 200: {"content": {"application/json": {}, "text/csv": {}}}},
    openapi_extra=verification_batch.OPENAPI_BODY,
)
async def verify_batch(request: Request, session: DbSession) -> Response:
    client = await admit(request)
    entries = await verification_batch.read_entries(request)
    rows = await verification_batch.results(request, session, entries, client)
    found = [r.doc for r in rows if r.doc is not None]
    misses = sum(1 for r in rows if r.doc is None and r.by_code)
    for _ in range(misses):
        await limiter(request).miss(client)
    await log_lookups(request, session, found, client, "batch")
    return verification_batch.respond(request, rows)
