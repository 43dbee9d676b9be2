"""Share links (issue 27): an enterprise lists chosen documents for a 保荐机构 at a link that
works until it expires or the enterprise revokes it (410 after either). The token is the link:
only its SHA-256 is stored, and a link's ``id`` (that hash) names it in the owner's list."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import ForEnterprise
from shared.clock import reading_now
from shared.problems import Problem, invalid_field
from shared.web import DbSession

from ..access import may_see_document
from ..document_models import DocumentShare, IssuedDocumentRow
from ..document_schemas import ShareIn
from ..document_views import public_json
from ..documents import codes
from .verifications import admit, log_lookups

router = APIRouter(prefix="/v1", tags=["share links"])


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_not_found() -> Problem:
    return Problem(404, "share_not_found", "分享链接不存在", "Share link not found")


def share_json(share: DocumentShare, token: str | None = None) -> dict[str, Any]:
    now = reading_now()
    return {
        "id": share.token_hash,
        "token": token,  # only when created: it is not kept
        "url": f"/share/{token}" if token else None,
        "prefix": share.token_prefix,
        "codes": [codes.group(c) for c in share.codes],
        "note": share.note,
        "created_at": share.created_at.isoformat(),
        "expires_at": share.expires_at.isoformat(),
        "revoked_at": share.revoked_at.isoformat() if share.revoked_at else None,
        "active": share.revoked_at is None and share.expires_at > now,
    }


async def _documents(session: AsyncSession, wanted: list[str], principal) -> list[IssuedDocumentRow]:
    try:
        canonical = list(dict.fromkeys(codes.normalise(c) for c in wanted))
    except codes.MalformedCode as error:
        raise invalid_field("codes", "code_malformed", error.zh, error.en) from error
    found = {
        d.code: d for d in await session.scalars(select(IssuedDocumentRow).where(IssuedDocumentRow.code.in_(canonical)))
    }
    missing = [codes.group(c) for c in canonical if c not in found or not may_see_document(principal, found[c])]
    if missing:
        raise invalid_field(
            "codes",
            "document_unknown",
            f"不是您的证明：{'、'.join(missing)}",
            f"Not your documents: {', '.join(missing)}",
        )
    return [found[c] for c in canonical]


@router.post("/shares", status_code=201, summary="生成分享链接: chosen documents, for a number of days")
async def create_share(body: ShareIn, session: DbSession, principal: ForEnterprise) -> dict[str, Any]:
    docs = await _documents(session, body.codes, principal)
    token = secrets.token_urlsafe(24)  # 192 bits
    now = reading_now()
    owner = next(
        (u for u in principal.usccs if u in {docs[0].enterprise_uscc, docs[0].subject_uscc}), principal.usccs[0]
    )
    share = DocumentShare(
        token_hash=_hash(token),
        token_prefix=token[:8],
        owner_uscc=owner,
        created_by=principal.as_actor().ref,
        codes=[d.code for d in docs],
        note=body.note,
        created_at=now,
        expires_at=now + timedelta(days=body.expires_in_days),
    )
    session.add(share)
    await session.commit()
    return share_json(share, token)


@router.get("/shares", summary="The enterprise's share links, newest first")
async def list_shares(session: DbSession, principal: ForEnterprise) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(DocumentShare)
        .where(DocumentShare.owner_uscc.in_(principal.usccs))
        .order_by(DocumentShare.created_at.desc())
    )
    return [share_json(s) for s in rows]


@router.delete("/shares/{ref}", status_code=204, summary="撤销分享链接 (by its token or its id)")
async def revoke_share(ref: str, session: DbSession, principal: ForEnterprise) -> Response:
    share = await session.get(DocumentShare, _hash(ref)) or await session.get(DocumentShare, ref)
    if share is None or share.owner_uscc not in principal.usccs:
        raise share_not_found()
    if share.revoked_at is None:
        share.revoked_at = reading_now()
        await session.commit()
    return Response(status_code=204)


@router.get(
    "/shares/{token}",
    summary="Public: the shared documents, each as its verification shows it (410 after expiry or revocation)",
    responses={
        404: {"description": "unknown link"},
        410: {"description": "expired or revoked"},
        429: {"description": "稍后再试: too many lookups from this client (Retry-After)"},
    },
)
async def open_share(token: str, request: Request, session: DbSession) -> dict[str, Any]:
    client = await admit(request)
    share = await session.get(DocumentShare, _hash(token))
    if share is None:
        raise share_not_found()
    if share.revoked_at is not None or share.expires_at <= reading_now():
        raise Problem(410, "share_gone", "分享链接已过期或已被撤销", "This share link has expired or was revoked")
    docs = list(await session.scalars(select(IssuedDocumentRow).where(IssuedDocumentRow.code.in_(share.codes))))
    docs.sort(key=lambda d: share.codes.index(d.code))
    settings, now = request.app.state.settings, reading_now()
    body = {
        "documents": [public_json(d, settings, now) for d in docs],
        "expires_at": share.expires_at.isoformat(),
        "note": share.note,
    }
    await log_lookups(request, session, docs, client, "share")
    return body
