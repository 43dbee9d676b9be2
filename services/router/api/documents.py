"""The enterprise's certificate wallet (我的证明) and what staff do with issued documents (issue 27):
the documents of an enterprise and its subjects with their validity, their files, and revocation by
the issuing unit or a supervisor over its region. Someone else's document answers 404, exactly as
a missing one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db, files
from shared.auth import Anyone, ForEnterprise, Principal, Staff
from shared.clock import SHANGHAI, reading_now
from shared.problems import Problem
from shared.vocabulary import LOOKUP_CHANNELS
from shared.web import DbSession

from ..access import may_revoke_document, may_see_document, wallet_documents
from ..document_models import IssuedDocumentRow, VerificationLookup
from ..document_schemas import RevocationIn, WalletRowOut
from ..document_views import public_json
from ..documents import codes
from ..lifecycle import Lifecycle
from ..models import FileDownload, ItemFile, WorkItem

router = APIRouter(prefix="/v1", tags=["documents"])

EXPIRING_DAYS = 14  # the wallet marks a document 即将到期 this many days before its advised period ends


def document_not_found() -> Problem:
    return Problem(404, "document_not_found", "证明不存在", "Document not found")


async def visible_document(session: AsyncSession, code: str, principal: Principal) -> IssuedDocumentRow:
    try:
        doc = await session.get(IssuedDocumentRow, codes.normalise(code))
    except codes.MalformedCode:
        doc = None
    if doc is None or not may_see_document(principal, doc):
        raise document_not_found()
    return doc


def wallet_row(doc: IssuedDocumentRow, request: Request) -> dict[str, Any]:
    """A wallet row: the verification JSON, with what only the enterprise may see."""
    today = reading_now().astimezone(SHANGHAI).date()
    expired = today > doc.valid_until
    return {
        **public_json(doc, request.app.state.settings, reading_now()),
        "item_id": doc.item_id,
        "request_id": doc.request_id,
        "subject_uscc": doc.subject_uscc,
        "file_name": doc.file_name,
        "download": f"/v1/documents/{doc.code}/file",
        "slip_download": f"/v1/documents/{doc.code}/slip" if doc.slip_file_id else None,
        "expired": expired,
        "expiring_soon": not expired and today > doc.valid_until - timedelta(days=EXPIRING_DAYS),
    }


@router.get(
    "/documents",
    summary="我的证明: the documents issued to the enterprise and its subjects",
    response_model=list[WalletRowOut],
)
async def wallet(
    request: Request,
    session: DbSession,
    principal: ForEnterprise,
    subject: str | None = Query(None, description="one subject's USCC"),
    status: Literal["valid", "revoked"] | None = Query(None),
) -> list[dict[str, Any]]:
    query = select(IssuedDocumentRow).where(wallet_documents(principal))
    if subject:
        query = query.where(IssuedDocumentRow.subject_uscc == subject.strip().upper())
    if status:
        query = query.where(IssuedDocumentRow.status == status)
    rows = await session.scalars(query.order_by(IssuedDocumentRow.subject_name, IssuedDocumentRow.issued_at.desc()))
    return [wallet_row(doc, request) for doc in rows]


@router.get(
    "/documents/{code}",
    summary="One document as its enterprise, issuing unit or overseers see it",
    response_model=WalletRowOut,
)
async def document(code: str, request: Request, session: DbSession, principal: Anyone) -> dict[str, Any]:
    return wallet_row(await visible_document(session, code, principal), request)


async def _download(request: Request, session: AsyncSession, doc: IssuedDocumentRow, file_id: str, principal):
    row = await session.get(ItemFile, file_id)
    if row is None:
        raise document_not_found()
    session.add(FileDownload(file_id=row.id, work_item_id=doc.item_id, downloaded_by=principal.as_actor().ref))
    await session.commit()
    return files.download(request.app.state.files, row.sha256, row.name, row.content_type, row.size)


@router.get(
    "/documents/{code}/file",
    summary="The registered file: the certificate xiaoer signed, or the unit's own PDF",
    responses=files.DOWNLOAD_RESPONSES,
)
async def document_file(code: str, request: Request, session: DbSession, principal: Anyone):
    doc = await visible_document(session, code, principal)
    return await _download(request, session, doc, doc.file_id, principal)


@router.get("/documents/{code}/slip", summary="The 核验单 beside a unit's own PDF", responses=files.DOWNLOAD_RESPONSES)
async def document_slip(code: str, request: Request, session: DbSession, principal: Anyone):
    doc = await visible_document(session, code, principal)
    if doc.slip_file_id is None:
        raise document_not_found()
    return await _download(request, session, doc, doc.slip_file_id, principal)


@router.get(
    "/documents/{code}/lookups",
    summary="How often and how a document was verified: for its issuing unit and overseers (newest 50 shown)",
)
async def document_lookups(code: str, session: DbSession, principal: Staff) -> dict[str, Any]:
    doc = await visible_document(session, code, principal)
    rows = await session.execute(
        select(VerificationLookup.channel, func.count())
        .where(VerificationLookup.code == doc.code)
        .group_by(VerificationLookup.channel)
    )
    counts = {channel: count for channel, count in rows}
    recent = await session.scalars(
        select(VerificationLookup)
        .where(VerificationLookup.code == doc.code)
        .order_by(VerificationLookup.at.desc(), VerificationLookup.id.desc())
        .limit(50)
    )
    return {
        "code": codes.group(doc.code),
        "count": sum(counts.values()),
        "by_channel": {channel: counts.get(channel, 0) for channel in LOOKUP_CHANNELS},
        "recent": [
            {
                "at": r.at.isoformat(),
                "channel": r.channel,
                "channel_name": LOOKUP_CHANNELS.zh(r.channel),
                "match": r.match,
            }
            for r in recent
        ],
    }


@router.post(
    "/documents/{code}/revocations",
    summary="撤销: the issuing unit or a supervisor over its region revokes a document (verification: 已撤销)",
    responses={404: {"description": "unknown, or not the caller's to see"}, 409: {"description": "already revoked"}},
)
async def revoke(code: str, body: RevocationIn, request: Request, session: DbSession, principal: Staff):
    doc = await visible_document(session, code, principal)
    if not may_revoke_document(principal, doc):
        raise Problem(
            403, "forbidden", "只有出具单位或其所在地区的督办人员可以撤销", "Only the issuing unit or its supervisor"
        )
    # The item locked, then the document read again: a revocation sent twice at once is made
    # once, the second seeing the first (item before document, as the item's actions lock them).
    item = await db.get_to_change(session, WorkItem, doc.item_id)
    doc = await db.get_to_change(session, IssuedDocumentRow, doc.code)
    if doc.status == "revoked":
        raise Problem(409, "document_revoked", "该证明已撤销", "This document is already revoked")
    if body.reopen and item.state != "resolved":
        raise Problem(
            409,
            "item_not_reopenable",
            "工单已评价办结或已在办理中，不能重办；证明未撤销",
            "The item is not resolved (closed or in progress): it cannot reopen; nothing was revoked",
            extra={"current_state": item.state},
        )
    async with Lifecycle(session, request.app.state.settings) as lifecycle:
        await lifecycle.revoke_document(item, doc, principal.as_actor(), body.reason_class, body.reason, body.reopen)
    await session.commit()
    request.app.state.runtime.relay.notify()
    return wallet_row(doc, request)
