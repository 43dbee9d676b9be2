"""The supervisor board: what is overdue, per-unit figures, extension requests, notification
logs — from the notifier's and the router's APIs with the supervisor's token (their region)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from .apis import Api
from .i18n import N_
from .pages import NavItem, render
from .session import viewer_of

router = APIRouter(prefix="/board")
Overseer = viewer_of("supervisor", "admin")
NAV = [NavItem(N_("超期督办"), "/board/", ("supervisor", "admin"))]


@router.get("/", name="board.overdue")
async def overdue(request: Request, viewer: Overseer, api: Api):
    rows = await api.get("notifier", "/v1/overdue")  # oldest deadline first
    return render(request, "board/overdue.html", {"rows": rows})
