"""The clerk workbench (desktop, tablet): a unit's queue and its items, worked through the
router's API with the clerk's token; a coordinator's view of returned items. The router's
life cycle decides which moves an item allows (``allowed_actions``): the page offers exactly
those, and shows the router's reason when it refuses one."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from shared import catalogue
from shared.vocabulary import DUE_WINDOWS, OPEN_STATES, QUEUE_TABS, SLA_STATES

from . import labels, workbench
from .apis import ApiError, ServiceClient, Services, download
from .board import add_comment
from .clocks import clock_rows, countdowns
from .i18n import N_, _, current
from .pages import NavItem, is_live_poll, render, render_live
from .queue_filters import QueueFilters
from .reply_templates import for_item
from .session import Viewer, flash, viewer_of
from .signin import local_path
from .units import unit_names

router = APIRouter(prefix="/clerk")
Clerk = viewer_of("department", "coordinator")
NAV = [NavItem(N_("工作台"), "/clerk/", ("department", "coordinator"))]
PAGE_SIZE = 20


# The queue's tabs (shared/vocabulary.py: QUEUE_TABS and the states of each); "all" is a search's
# view across every tab, each hit showing its tab.
ALL = "all"
DEFAULT_TAB = {"department": "new", "coordinator": "returned"}
PAGE_SIZES = (20, 50, 100)


DONE = {
    "acknowledge": N_("已签收"),
    "progress": N_("已记录办理进展"),
    "request-supplement": N_("已要求企业补正"),
    "resolve": N_("已办结"),
    "return": N_("已退回"),
    "transfer": N_("已转办"),
    "assist": N_("已发出会办邀请"),
    "extension": N_("已申请延期，等待督办人员审批"),
    "dispatch": N_("已分拨"),
}


@router.get("/", name="clerk.queue")
async def queue(
    request: Request,
    viewer: Clerk,
    api: Services,
    tab: Annotated[str | None, Query(max_length=20)] = None,
    view: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    page: Annotated[int, Query(ge=1, le=5000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZES[0],
):
    """A unit's queue by tab, with each tab's count; a search or a filter covers every tab (the
    view "all", each hit showing its tab) unless a tab is chosen with it. The filters and the sort
    are ``QueueFilters``' (the query's other parameters); the router filters and sorts."""
    filters = QueueFilters.read(dict(request.query_params))
    if tab not in (*QUEUE_TABS, ALL):
        tab = ALL if filters.active else DEFAULT_TAB.get(viewer.role, "new")
    size = size if size in PAGE_SIZES else PAGE_SIZES[0]
    params = {
        **filters.api_params(),
        "offset": (page - 1) * size,
        "limit": size + 1,  # one more: is there a next page?
        **({"tab": tab} if tab != ALL else {}),
    }
    items, counts, open_orders, answered_orders, views, people = await asyncio.gather(
        api.get("router", "/v1/workitems", params=params),
        api.get("router", "/v1/workitems/counts", params=filters.api_params()),
        # 督办单 to the unit: every one still to answer, and the five last answered
        api.get("notifier", "/v1/supervisions", params={"state": "open", "limit": 500}),
        api.get("notifier", "/v1/supervisions", params={"state": "answered", "limit": 5}),
        workbench.view_tabs(request, api, viewer, filters, view),
        workbench.colleagues(request, viewer),
    )
    rows = items[:size]
    clocks = await countdowns(api, items=[i["id"] for i in rows if i["state"] in OPEN_STATES])
    context = {
        "tabs": [(t["code"], t["en"] if current() == "en" else t["zh"], t["count"]) for t in counts["tabs"]],
        "total": counts["total"],
        "tab": tab,
        "view": view,
        "views": views,
        "filters": filters,
        "sla_options": labels.options(SLA_STATES),
        "due_options": labels.options(DUE_WINDOWS),
        "type_options": [(code, labels.request_type(code)) for code in catalogue.REQUEST_TYPES],
        "colleagues": people,
        "page": page,
        "size": size,
        "sizes": PAGE_SIZES,
        "has_next": len(items) > size,
        "rows": [{**item, "countdown": clocks.get(item["id"])} for item in rows],
        "unit_name": await unit_names(request, api),
        "orders": open_orders + answered_orders,
    }
    if is_live_poll(request, "queue") and not request.headers.get("HX-History-Restore-Request"):
        return render_live(request, "clerk/_queue.html", context)  # a tab, a search, or the queue asking for changes
    return render(request, "clerk/queue.html", context)


@router.post("/acknowledge", name="clerk.acknowledge_many")
async def acknowledge_many(request: Request, viewer: Clerk, api: Services):
    """签收 of the ticked items (or every item of the page: select all), in one call to the router;
    each signs or says why not, one refused does not stop the others."""
    form = await request.form()
    chosen = list(dict.fromkeys(str(v) for v in form.getlist("item")))[:500]
    back = local_path(str(form.get("back") or ""), "/clerk/?tab=new")
    if not chosen:
        flash(request, _("请先勾选要签收的工单"), "error")
        return RedirectResponse(back, status_code=303)
    answer = await api.post("router", "/v1/workitems/acknowledge", json={"ids": chosen})
    if answer["acknowledged"]:
        flash(request, _("已签收 %(n)d 件") % {"n": answer["acknowledged"]}, "success")
    refused = [r["message"] or r["code"] for r in answer["results"] if not r["ok"]]
    for message, n in Counter(refused).items():
        flash(request, _("%(n)d 件未能签收：%(reason)s") % {"n": n, "reason": message}, "error")
    return RedirectResponse(back, status_code=303)


async def _item_page(request: Request, api: ServiceClient, viewer: Viewer, item_id: str, **extra):
    item = await api.get("router", f"/v1/workitems/{item_id}")
    found = (await clock_rows(api, items=[item_id])).get(item_id) or {}
    clock = found.get("countdown")
    units = []
    if {"transfer", "assist"} & set(item["allowed_actions"]):
        region = (viewer.unit or "").split(".")[0]
        units = [u for u in await api.get("router", "/v1/units", params={"region": region}) if u["active"]]
        units = [u for u in units if u["unit_code"] != item["unit_code"]]
    context = {
        "item": item,
        # The unit's 补正 and 退回 texts, filled for this item (a coordinator's office keeps none).
        "reply_templates": await for_item(api, item) if viewer.role == "department" else {},
        "colleagues": await workbench.colleagues(request, viewer) if viewer.lead else [],
        "open": item["state"] in OPEN_STATES,  # 认领 and 指派 are for open items only (the router's rule)
        "countdown": clock if clock and (not clock["finished"] or item["state"] in ("resolved", "closed")) else None,
        "units": units,
        "urged": found.get("urge"),  # how often, and when last, the enterprise chased it (催办)
        "error": None,
        "failed": None,
        "form": {},
        **extra,
    }
    error = extra.get("error")
    # htmx swaps only 2xx answers: a refusal it asked for comes back as a page that says so.
    status = error.status if error and not request.headers.get("HX-Request") else 200
    return render(request, "clerk/item.html", context, status_code=status)


@router.get("/items/{item_id}", name="clerk.item")
async def one_item(request: Request, item_id: str, viewer: Clerk, api: Services):
    return await _item_page(request, api, viewer, item_id)


@router.get("/items/{item_id}/files/{file_id}", name="clerk.file")
async def item_file(item_id: str, file_id: str, viewer: Clerk, api: Services):
    return download(await api.call("router", "GET", f"/v1/workitems/{item_id}/files/{file_id}"))


def _text(form, name: str) -> str | None:
    value = form.get(name)
    return str(value).strip() or None if isinstance(value, str) else None


NOT_MOVE_FIELDS = {"csrftoken", "file", "units"}


def _body(form) -> dict:
    """The move's form as the router's ``ActionIn``: each move's form (templates/clerk/item.html)
    has only the fields that move takes, so the router alone says what is missing."""
    body: dict = {name: _text(form, name) for name in form if name not in NOT_MOVE_FIELDS}
    if "units" in form:
        body["units"] = [str(u) for u in form.getlist("units") if str(u).strip()]
    if body.get("days") and body["days"].isdigit():
        body["days"] = int(body["days"])  # anything else: the router's field error says why
    return body


@router.post("/supervisions/{supervision_id}/answer", name="clerk.answer")
async def answer(request: Request, supervision_id: str, viewer: Clerk, api: Services):
    """The unit answers a 督办单 (once): htmx gets the answered order in place, a plain form the workbench."""
    form = await request.form()
    path = f"/v1/supervisions/{supervision_id}"
    error = None
    try:
        order = await api.post("notifier", f"{path}/answer", json={"answer": str(form.get("answer") or "")})
    except ApiError as failed:
        if failed.status == 404:
            raise
        error, order = failed, await api.get("notifier", path)
    if not request.headers.get("HX-Request"):
        flash(
            request,
            (error.field("answer") or error.message) if error else _("已答复督办单"),
            "error" if error else "success",
        )
        return RedirectResponse("/clerk/", status_code=303)
    return render(request, "staff/_order.html", {"o": order, "answerable": True, "answer_error": error})


@router.post("/items/{item_id}/comments", name="clerk.comment")
async def comment(request: Request, item_id: str, viewer: Clerk, api: Services):
    """A 内部批注 on an item the unit holds (the router checks it); before ``act``, which would take it."""
    return await add_comment(request, api, item_id, f"/clerk/items/{item_id}")


@router.post("/items/{item_id}/{action}", name="clerk.act")
async def act(request: Request, item_id: str, action: str, viewer: Clerk, api: Services):
    form = await request.form()
    try:
        if action == "dispatch":  # a coordinator sends a (returned) item to a unit
            await api.post("router", f"/v1/workitems/{item_id}/dispatch", json={"to_unit": _text(form, "to_unit")})
        else:
            body = {k: v for k, v in _body(form).items() if v not in (None, [])}
            upload = form.get("file")
            if isinstance(upload, UploadFile) and upload.filename:
                stored = await api.post(
                    "router",
                    f"/v1/workitems/{item_id}/files",
                    files={"file": (upload.filename, await upload.read(), upload.content_type)},
                )
                body["attachments"] = [stored["id"]]
            await api.post("router", f"/v1/workitems/{item_id}/{action}", json=body)
    except ApiError as error:
        if error.status == 404 and error.code != "unknown_action":
            raise  # not this clerk's item: the 404 page, nothing changed
        fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrftoken"}
        return await _item_page(request, api, viewer, item_id, error=error, failed=action, form=fields)
    flash(request, _(DONE.get(action, N_("已提交"))), "success")
    if action in ("transfer", "dispatch", "return"):  # the item has left this unit
        return RedirectResponse("/clerk/", status_code=303)
    return RedirectResponse(f"/clerk/items/{item_id}", status_code=303)
