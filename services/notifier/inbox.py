"""The message centre (消息中心): the in-app messages ``notify.insert`` stores for an audience —
notifications on the ``inbox`` channel, addressed to an enterprise's USCC, a unit's code (its
clerks; its lead also reads the unit's ``leadership`` messages) or the handling unit's region
(every supervisor whose region covers it, GB/T 2260) — and each person's read marks on them.

Whose messages a caller reads is :func:`addressed_to`, the one place for the message centre's
scope; a message outside it does not exist for the caller (404)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db
from shared.auth import Principal
from shared.clock import utcnow
from shared.problems import Problem, invalid_field
from shared.vocabulary import MESSAGE_KINDS

from .models import MessageRead, Notification

IN_APP = "inbox"


def addressed_to(principal: Principal) -> ColumnElement[bool]:
    """The in-app messages meant for ``principal``, as an SQL condition on notifications."""
    kind, address = Notification.recipient_kind, Notification.address
    if principal.role in ("enterprise", "liaison"):
        mine = and_(kind == "enterprise", address.in_(principal.usccs)) if principal.usccs else false()
    elif principal.role == "department" and principal.unit:
        audiences = ["unit", "leadership"] if principal.lead else ["unit"]
        mine = and_(kind.in_(audiences), address == principal.unit)
    elif principal.role in ("supervisor", "admin"):
        mine = and_(kind == "supervisor", principal.region_clause(address))
    else:
        mine = false()
    return and_(Notification.channel == IN_APP, mine)


def _read_by(reader: str) -> ColumnElement[bool]:
    return exists().where(MessageRead.notification_id == Notification.id, MessageRead.reader == reader)


def parse_cursor(cursor: str | None) -> int | None:
    """The cursor is the id of the last message of the page before (ids only grow)."""
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 19:
        raise invalid_field("cursor", "cursor_invalid", "翻页游标无效", "Invalid cursor")
    return int(cursor)


async def page(
    session: AsyncSession, principal: Principal, *, unread_only: bool, cursor: str | None, limit: int
) -> tuple[list[dict], str | None]:
    """One page of the caller's messages, newest first, and the cursor of the next (None: the last)."""
    after = parse_cursor(cursor)
    query = _with_mark(principal.sub).where(addressed_to(principal)).order_by(Notification.id.desc()).limit(limit + 1)
    if unread_only:
        query = query.where(MessageRead.read_at.is_(None))
    if after is not None:
        query = query.where(Notification.id < after)
    rows = list(await session.execute(query))
    more = len(rows) > limit
    shown = [message_out(n, read_at) for n, read_at in rows[:limit]]
    return shown, str(shown[-1]["id"]) if more else None


async def unread_count(session: AsyncSession, principal: Principal) -> int:
    query = select(func.count()).select_from(Notification).where(addressed_to(principal), ~_read_by(principal.sub))
    return await session.scalar(query) or 0


def _with_mark(reader: str):
    """Messages with the reader's own mark beside each (None: unread)."""
    mark = and_(MessageRead.notification_id == Notification.id, MessageRead.reader == reader)
    return select(Notification, MessageRead.read_at).outerjoin(MessageRead, mark)


async def _find(session: AsyncSession, principal: Principal, message_id: int) -> tuple[Notification, datetime | None]:
    found = (
        await session.execute(_with_mark(principal.sub).where(Notification.id == message_id, addressed_to(principal)))
    ).first()
    if found is None:  # someone else's message is no message at all
        raise Problem(404, "message_not_found", "没有这条消息", "No such message")
    return found[0], found[1]


async def one(session: AsyncSession, principal: Principal, message_id: int) -> dict:
    return message_out(*await _find(session, principal, message_id))


async def mark_read(session: AsyncSession, principal: Principal, message_id: int) -> dict:
    """Marks one of the caller's messages read (again: no change) and answers it."""
    notification, read_at = await _find(session, principal, message_id)
    if read_at is None:
        read_at = utcnow()
        row = {"notification_id": notification.id, "reader": principal.sub, "read_at": read_at}
        await db.insert_new(session, MessageRead.__table__, [row], ["notification_id", "reader"])
    return message_out(notification, read_at)


async def mark_all_read(session: AsyncSession, principal: Principal, now: datetime | None = None) -> int:
    """全部已读: one INSERT … SELECT of a mark for every unread message of the caller's."""
    now = now or utcnow()
    unread = select(Notification.id, literal(principal.sub), literal(now, MessageRead.read_at.type)).where(
        addressed_to(principal), ~_read_by(principal.sub)
    )
    statement = (
        db.insert_for(session.bind.dialect.name)(MessageRead)
        .from_select(["notification_id", "reader", "read_at"], unread)
        .on_conflict_do_nothing(index_elements=["notification_id", "reader"])
    )
    return (await session.execute(statement)).rowcount or 0


def message_out(n: Notification, read_at: datetime | None) -> dict:
    """A message as its reader sees it (``MessageOut``): what it is about, where it leads, whether
    this reader has read it."""
    return {
        "id": n.id,
        "kind": n.kind,
        "kind_name": MESSAGE_KINDS.zh(n.kind),
        "kind_name_en": MESSAGE_KINDS.name(n.kind, "en"),
        "title": n.title,
        "body": n.body,
        "audience": n.recipient_kind,
        "target": "request" if n.recipient_kind == "enterprise" else "work_item",
        "request_id": n.request_id,
        "work_item_id": n.work_item_id,
        "urgent": n.urgent,
        "created_at": n.created_at,
        "read": read_at is not None,
        "read_at": read_at,
    }
