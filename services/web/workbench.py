"""The workbench's people and views (issue 29): a clerk takes an item (认领), the unit's lead
(科长) assigns it to a colleague and reads the figures per person; each person's saved views of
the queue and 我的待办, as tabs with their counts. The router decides who may do what; the
colleagues a lead chooses from are the unit's staff accounts here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import saved_views
from .apis import ApiError, ServiceClient, Services
from .i18n import _
from .models import StaffAccount
from .pages import error_page, render
from .queue_filters import MY_TODO, QueueFilters
from .session import STAFF_SUB, Viewer, flash, viewer_of
from .units import unit_names

router = APIRouter(prefix="/clerk")
Clerk = viewer_of("department", "coordinator")


async def colleagues(request: Request, viewer: Viewer) -> list[StaffAccount]:
    """The active clerks of the viewer's unit (the people its items are assigned to), by name."""
    async with request.app.state.runtime.sessions() as session:
        found = await session.scalars(
            select(StaffAccount)
            .where(StaffAccount.unit_code == viewer.unit, StaffAccount.active, StaffAccount.role == "department")
            .order_by(StaffAccount.display_name, StaffAccount.username)
        )
        return list(found)


@dataclass(frozen=True)
class ViewTab:
    id: int | None  # None: 我的待办, everyone's own
    name: str
    href: str
    count: int
    current: bool


async def view_tabs(
    request: Request, api: ServiceClient, viewer: Viewer, filters: QueueFilters, chosen: int | None
) -> list[ViewTab]:
    """我的待办 and the viewer's saved views, each with how many items it holds now."""
    views: list[tuple[int | None, str, QueueFilters]] = [(None, _("我的待办"), MY_TODO)]
    if viewer.username:
        async with request.app.state.runtime.sessions() as session:
            saved = await saved_views.views_of(session, viewer.username)
        views += [(v.id, v.name, QueueFilters.read(v.filters)) for v in saved]
    counts = await asyncio.gather(
        *(api.get("router", "/v1/workitems/counts", params=view.api_params()) for _id, _name, view in views)
    )
    return [
        ViewTab(
            view_id,
            name,
            view.query(tab="all", **({"view": view_id} if view_id else {})),
            count["total"],
            view_id == chosen if chosen is not None else view_id is None and filters == MY_TODO,
        )
        for (view_id, name, view), count in zip(views, counts, strict=True)
    ]


async def _save(request: Request, username: str, name: str, filters: QueueFilters) -> int:
    async with request.app.state.runtime.sessions() as session, session.begin():
        return (await saved_views.save(session, username, name, filters)).id


@router.post("/views", name="clerk.save_view")
async def save_view(request: Request, viewer: Clerk, name: Annotated[str, Form(max_length=100)] = ""):
    """Saves the queue's current filters and sort (the form's hidden fields) under ``name``."""
    form = await request.form()
    filters = QueueFilters.read({k: v for k, v in form.items() if isinstance(v, str)})
    if not viewer.username:
        return error_page(request, 403, _("只有员工账号可以保存视图"))
    try:
        try:
            view_id = await _save(request, viewer.username, name, filters)
        except IntegrityError:  # the same name saved twice at once (a double click): now it replaces
            view_id = await _save(request, viewer.username, name, filters)
    except saved_views.ViewRefused as refused:
        flash(request, _(str(refused)), "error")
        return RedirectResponse(filters.query(tab="all"), status_code=303)
    flash(request, _("已保存视图“%(name)s”") % {"name": " ".join(name.split())}, "success")
    return RedirectResponse(filters.query(tab="all", view=view_id), status_code=303)


@router.post("/views/{view_id}/delete", name="clerk.delete_view")
async def delete_view(request: Request, view_id: Annotated[int, Path(ge=1, le=2**31 - 1)], viewer: Clerk):
    async with request.app.state.runtime.sessions() as session, session.begin():
        gone = await saved_views.remove(session, viewer.username or "", view_id)
    if not gone:
        return error_page(request, 404, _("没有这个视图"))
    flash(request, _("已删除视图"), "success")
    return RedirectResponse("/clerk/", status_code=303)


@router.post("/items/{item_id}/claim", name="clerk.claim")
async def claim(request: Request, item_id: str, viewer: Clerk, api: Services):
    try:
        await api.post("router", f"/v1/workitems/{item_id}/claim")
    except ApiError as refused:
        if refused.status == 404:
            raise
        flash(request, refused.message, "error")
        return RedirectResponse(f"/clerk/items/{item_id}", status_code=303)
    flash(request, _("已认领，由您承办"), "success")
    return RedirectResponse(f"/clerk/items/{item_id}", status_code=303)


@router.post("/items/{item_id}/assign", name="clerk.assign")
async def assign(
    request: Request, item_id: str, viewer: Clerk, api: Services, assignee: Annotated[str, Form(max_length=64)] = ""
):
    """The lead names a colleague of the unit (the router refuses anyone who is not the lead)."""
    chosen = next((a for a in await colleagues(request, viewer) if a.username == assignee), None)
    if chosen is None:
        flash(request, _("请选择本单位的一位办事员"), "error")
        return RedirectResponse(f"/clerk/items/{item_id}", status_code=303)
    body = {"assignee_sub": STAFF_SUB + chosen.username, "assignee_name": chosen.display_name}
    try:
        await api.post("router", f"/v1/workitems/{item_id}/assign", json=body)
    except ApiError as refused:
        if refused.status == 404:
            raise
        flash(request, refused.message, "error")
        return RedirectResponse(f"/clerk/items/{item_id}", status_code=303)
    flash(request, _("已指派给 %(name)s") % {"name": chosen.display_name}, "success")
    return RedirectResponse(f"/clerk/items/{item_id}", status_code=303)


@router.get("/people", name="clerk.people")
async def people(request: Request, viewer: Clerk, api: Services):
    """The lead's figures per person: open, finished, finished on time (the router's 403 for others)."""
    rows = await api.get("router", "/v1/workitems/assignees")
    return render(request, "clerk/people.html", {"rows": rows, "unit_name": await unit_names(request, api)})
