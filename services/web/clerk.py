"""The clerk workbench (desktop, tablet): a unit's queue and its items, worked through the
router's API with the clerk's token; a coordinator's view of returned items. The router's
life cycle decides which moves an item allows (``allowed_actions``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from .apis import Api
from .i18n import N_
from .pages import NavItem, render
from .session import viewer_of

router = APIRouter(prefix="/clerk")
Clerk = viewer_of("department", "coordinator")
NAV = [NavItem(N_("工作台"), "/clerk/", ("department", "coordinator"))]


@router.get("/", name="clerk.queue")
async def queue(request: Request, viewer: Clerk, api: Api):
    items = await api.get("router", "/v1/workitems", params={"limit": 100})
    items.sort(key=lambda item: item["resolve_due_at"] or "9999")  # nearest deadline first
    return render(request, "clerk/queue.html", {"items": items})
