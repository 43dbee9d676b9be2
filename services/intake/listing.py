"""Listing requests: the filters the request list and the ledger share, and cursor pages."""

from __future__ import annotations

import base64
from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.problems import invalid_field

from .access import visible
from .models import Request


def filtered(
    query: Select, status: str | None, type_: str | None, created_from: datetime | None, created_to: datetime | None
) -> Select:
    """The filters the request list and the ledger share."""
    if status:
        query = query.where(Request.status == status)
    if type_:
        query = query.where(Request.type == type_)
    if created_from:
        query = query.where(Request.created_at >= created_from)
    if created_to:
        query = query.where(Request.created_at < created_to)
    return query


def encode_cursor(request: Request) -> str:
    return base64.urlsafe_b64encode(f"{request.created_at.isoformat()}|{request.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, request_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), request_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_field("cursor", "cursor_invalid", "翻页游标无效", "Invalid cursor") from exc


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    type_: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Request], str | None]:
    query = filtered(visible(principal, select(Request)), status, type_, created_from, created_to)
    if cursor:
        created, request_id = decode_cursor(cursor)
        query = query.where(
            or_(Request.created_at < created, and_(Request.created_at == created, Request.id < request_id))
        )
    rows = list(await session.scalars(query.order_by(Request.created_at.desc(), Request.id.desc()).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    return page, encode_cursor(page[-1]) if more else None
