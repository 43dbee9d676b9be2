"""The enterprise H5 pages (phone first, 375 px): an enterprise's own requests, and a liaison
officer's for the enterprises they serve. Every list and object comes from intake's API with
the person's token, so intake's scope decides what they see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from .apis import Api
from .i18n import N_
from .pages import NavItem, render
from .session import viewer_of

router = APIRouter(prefix="/enterprise")
Submitter = viewer_of("enterprise", "liaison")
NAV = [NavItem(N_("我的诉求"), "/enterprise/", ("enterprise", "liaison"))]


@router.get("/", name="enterprise.requests")
async def my_requests(
    request: Request, viewer: Submitter, api: Api, cursor: Annotated[str | None, Query(max_length=200)] = None
):
    page = await api.get("intake", "/v1/requests", params={"limit": 20, **({"cursor": cursor} if cursor else {})})
    return render(request, "enterprise/requests.html", {"page": page})
