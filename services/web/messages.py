"""消息中心 (issue 29): every signed-in person's in-app messages — the header's bell with their
unread count on every page, the list (phone-sized for the enterprise and liaison officers, the same
page on a desk for staff), each message opening the page it is about and marked read as it opens,
and 全部已读. The notifier stores the messages for their audience and keeps each person's read
marks (``/v1/messages``); this module only turns a message's target into a page of ours."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from .apis import ApiError, Services
from .i18n import _, current
from .pages import render
from .session import Viewer, flash, viewer_of

router = APIRouter(prefix="/messages")
Reader = viewer_of("enterprise", "liaison", "department", "coordinator", "supervisor", "admin")
PAGE_SIZE = 20
# Where a work item opens for each staff role: the clerk's item page, or the board's.
ITEM_PAGES = {"department": "/clerk/items/", "coordinator": "/clerk/items/", "supervisor": "/board/items/"}


def page_of(message: dict, viewer: Viewer) -> str:
    """The page a message leads its reader to: the enterprise's request, or the work item on the
    reader's own desk (an admin reads items on the board); the reader's home if it names none."""
    if message["target"] == "request" and message.get("request_id"):
        return f"/enterprise/requests/{quote(message['request_id'], safe='')}"
    if message["target"] == "work_item" and message.get("work_item_id"):
        return ITEM_PAGES.get(viewer.role, "/board/items/") + quote(message["work_item_id"], safe="")
    return viewer.home


def shown(message: dict) -> dict:
    """A message with its tag in the page's language (the notifier names it in both)."""
    return {**message, "tag": message["kind_name_en"] if current() == "en" else message["kind_name"]}


@router.get("/", name="messages.list")
async def my_messages(
    request: Request,
    viewer: Reader,
    api: Services,
    unread: Annotated[bool, Query()] = False,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
):
    params = {"limit": PAGE_SIZE, "unread": "true" if unread else "false", **({"cursor": cursor} if cursor else {})}
    found = await api.get("notifier", "/v1/messages", params=params)
    context = {
        "messages": [shown(m) for m in found["items"]],
        "next_cursor": found["next_cursor"],
        "unread_count": found["unread"],
        "unread_only": unread,
        "paged": cursor is not None,
    }
    return render(request, "messages/list.html", context)


@router.get("/unread", name="messages.unread")
async def unread_badge(request: Request, viewer: Reader, api: Services):
    """The bell's count (htmx, on every page's load): a page never fails for want of it."""
    try:
        count = (await api.get("notifier", "/v1/messages/unread-count"))["unread"]
    except ApiError as error:
        if error.status == 401:
            raise  # the session is over: sign in again, as on any page
        count = 0
    return render(request, "messages/_unread.html", {"unread": count})


@router.get("/{message_id:int}", name="messages.open")
async def open_message(message_id: int, viewer: Reader, api: Services):
    """Opening a message marks it read (as a mail is) and goes to its page."""
    message = await api.post("notifier", f"/v1/messages/{message_id}/read")
    return RedirectResponse(page_of(message, viewer), status_code=303)


@router.post("/read-all", name="messages.read_all")
async def read_all(request: Request, viewer: Reader, api: Services):
    marked = (await api.post("notifier", "/v1/messages/read-all"))["marked"]
    flash(request, _("已将 %(n)d 条消息标为已读") % {"n": marked}, "success")
    return RedirectResponse("/messages/", status_code=303)
