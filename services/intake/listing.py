"""Listing requests: the filters the request list and the ledger share, and cursor pages."""

from __future__ import annotations

import base64
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.problems import invalid_field
from shared.vocabulary import AWAITING_ENTERPRISE

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


# The enterprise's own list puts what waits for it first (待您处理), then the newest.
WAITING = case((Request.status.in_(AWAITING_ENTERPRISE), 1), else_=0)


def turn_first(principal: Principal) -> bool:
    return principal.role in ("enterprise", "liaison")


def encode_cursor(request: Request, turns: bool) -> str:
    waiting = int(request.status in AWAITING_ENTERPRISE) if turns else 0
    return base64.urlsafe_b64encode(f"{waiting}|{request.created_at.isoformat()}|{request.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    try:
        waiting, created, request_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 2)
        return int(waiting), datetime.fromisoformat(created), request_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_field("cursor", "cursor_invalid", "翻页游标无效", "Invalid cursor") from exc


def _after(waiting: int, created: datetime, request_id: str, turns: bool) -> ColumnElement[bool]:
    """The rows after the cursor's, in the list's order."""
    later = or_(Request.created_at < created, and_(Request.created_at == created, Request.id < request_id))
    if not turns:
        return later
    return or_(WAITING < waiting, and_(WAITING == waiting, later))


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
    uscc: str | None = None,
) -> tuple[list[Request], str | None]:
    """A page of the caller's requests, newest first; the enterprise's (and its liaison's) with
    those waiting for it first; only one enterprise's with ``uscc`` (in SQL, before the page is
    cut, so a page never comes back empty while that enterprise's requests wait behind it)."""
    turns = turn_first(principal)
    query = filtered(visible(principal, select(Request)), status, type_, created_from, created_to)
    if uscc:
        query = query.where(Request.enterprise_uscc == uscc)
    if cursor:
        query = query.where(_after(*decode_cursor(cursor), turns))
    ordering = [Request.created_at.desc(), Request.id.desc()]
    if turns:
        ordering.insert(0, WAITING.desc())
    rows = list(await session.scalars(query.order_by(*ordering).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    return page, encode_cursor(page[-1], turns) if more else None
