"""The message centre's routes (消息中心, issue 29): the caller's own in-app messages, newest first
with a cursor, the unread count every page's header shows, and read marks — one message, or all.
Every role has one; whose messages they are is ``inbox.addressed_to``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from shared.auth import Anyone
from shared.problems import refusals
from shared.web import DbSession

from . import inbox
from .schemas import MessageOut, MessagesOut, ReadAllOut, UnreadOut

router = APIRouter(prefix="/v1/messages", tags=["messages"])
MessageId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=MessagesOut, summary="My messages, newest first", responses=refusals(422))
async def list_messages(
    session: DbSession,
    principal: Anyone,
    unread: Annotated[bool, Query(description="only those I have not read")] = False,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> MessagesOut:
    items, next_cursor = await inbox.page(session, principal, unread_only=unread, cursor=cursor, limit=limit)
    count = await inbox.unread_count(session, principal)
    return MessagesOut(items=items, next_cursor=next_cursor, unread=count)


@router.get("/unread-count", response_model=UnreadOut, summary="How many of my messages I have not read")
async def unread_count(session: DbSession, principal: Anyone) -> UnreadOut:
    return UnreadOut(unread=await inbox.unread_count(session, principal))


@router.get("/{message_id:int}", response_model=MessageOut, summary="One of my messages", responses=refusals(404))
async def get_message(message_id: MessageId, session: DbSession, principal: Anyone) -> MessageOut:
    return MessageOut(**await inbox.one(session, principal, message_id))


@router.post(
    "/{message_id:int}/read", response_model=MessageOut, summary="Mark one of my messages read", responses=refusals(404)
)
async def read_message(message_id: MessageId, session: DbSession, principal: Anyone) -> MessageOut:
    async with session.begin():
        message = await inbox.mark_read(session, principal, message_id)
    return MessageOut(**message)


@router.post("/read-all", response_model=ReadAllOut, summary="Mark all my messages read (全部已读)")
async def read_all(session: DbSession, principal: Anyone) -> ReadAllOut:
    async with session.begin():
        marked = await inbox.mark_all_read(session, principal)
    return ReadAllOut(marked=marked, unread=await inbox.unread_count(session, principal))
