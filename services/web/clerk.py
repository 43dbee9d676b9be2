"""The clerk workbench (desktop, tablet): a unit's queue and its items, worked through the
router's API with the clerk's token; a coordinator's view of returned items. The router's
life cycle decides which moves an item allows (``allowed_actions``): the page offers exactly
those, and shows the router's reason when it refuses one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from shared.clock import utcnow
from shared.vocabulary import OPEN_STATES

from . import labels
from .apis import ApiError, ServiceClient, Services, download
from .i18n import N_, _
from .pages import NavItem, is_live_poll, render, render_live
from .session import Viewer, flash, viewer_of
from .units import unit_names
from .workdays import working_days

router = APIRouter(prefix="/clerk")
Clerk = viewer_of("department", "coordinator")
NAV = [NavItem(N_("工作台"), "/clerk/", ("department", "coordinator"))]
PAGE_SIZE = 20


@dataclass(frozen=True)
class Tab:
    code: str
    states: tuple[str, ...]  # the tab is named after the last of them

    @property
    def label(self) -> str:
        return labels.work_item_state(self.states[-1])


TABS = (
    Tab("new", ("dispatched",)),
    Tab("working", ("acknowledged", "in_progress")),
    Tab("supplement", ("awaiting_supplement",)),
    Tab("done", ("closed", "resolved")),
    Tab("returned", ("returned",)),
)
TABS_BY_CODE = {tab.code: tab for tab in TABS}

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
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=5000)] = 1,
):
    chosen = TABS_BY_CODE.get(tab or "") or (TABS_BY_CODE["returned"] if viewer.role == "coordinator" else TABS[0])
    params: dict = {
        "state": list(chosen.states),
        "order": "deadline",
        "offset": (page - 1) * PAGE_SIZE,
        "limit": PAGE_SIZE + 1,  # one more: is there a next page?
    }
    if q.strip():
        params["q"] = q.strip()
    items = await api.get("router", "/v1/workitems", params=params)
    calendar = await working_days(request, api, *(item["resolve_due_at"] for item in items))
    now = utcnow()
    rows = [
        {**item, "countdown": calendar.countdown(item["resolve_due_at"], now) if item["state"] in OPEN_STATES else None}
        for item in items[:PAGE_SIZE]
    ]
    context = {
        "tabs": TABS,
        "tab": chosen,
        "q": q.strip(),
        "page": page,
        "has_next": len(items) > PAGE_SIZE,
        "rows": rows,
        "unit_name": await unit_names(request, api),
    }
    if is_live_poll(request, "queue") and not request.headers.get("HX-History-Restore-Request"):
        return render_live(request, "clerk/_queue.html", context)  # a tab, a search, or the queue asking for changes
    return render(request, "clerk/queue.html", context)


@router.post("/acknowledge", name="clerk.acknowledge_many")
async def acknowledge_many(request: Request, viewer: Clerk, api: Services):
    """Bulk 签收: each item is its own move; one refused does not stop the others."""
    form = await request.form()
    chosen = [str(v) for v in form.getlist("item")][:PAGE_SIZE]
    if not chosen:
        flash(request, _("请先勾选要签收的工单"), "error")
        return RedirectResponse("/clerk/?tab=new", status_code=303)
    done, refused = 0, []
    for item_id in chosen:
        try:
            await api.post("router", f"/v1/workitems/{item_id}/acknowledge", json={})
            done += 1
        except ApiError as error:
            refused.append(error.message)
    if done:
        flash(request, _("已签收 %(n)d 件") % {"n": done}, "success")
    for message in dict.fromkeys(refused):
        flash(request, _("未能签收：%(reason)s") % {"reason": message}, "error")
    return RedirectResponse("/clerk/?tab=new", status_code=303)


async def _item_page(request: Request, api: ServiceClient, viewer: Viewer, item_id: str, **extra):
    item = await api.get("router", f"/v1/workitems/{item_id}")
    calendar = await working_days(request, api, item["resolve_due_at"], item["acknowledge_due_at"])
    now = utcnow()
    units = []
    if {"transfer", "assist"} & set(item["allowed_actions"]):
        region = (viewer.unit or "").split(".")[0]
        units = [u for u in await api.get("router", "/v1/units", params={"region": region}) if u["active"]]
        units = [u for u in units if u["unit_code"] != item["unit_code"]]
    context = {
        "item": item,
        "countdown": calendar.countdown(item["resolve_due_at"], now) if item["state"] in OPEN_STATES else None,
        "ack_countdown": calendar.countdown(item["acknowledge_due_at"], now) if item["state"] == "dispatched" else None,
        "units": units,
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
